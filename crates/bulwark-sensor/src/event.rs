//! The sensor's event: the fixed-layout record the BPF programs write into the ring
//! buffer (src/bpf/sensor.h), decoded into typed Rust without `unsafe` (by offset,
//! little-endian), and the kinds of event.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Size of one record (`struct event` in sensor.h).
pub const RECORD_SIZE: usize = 704;

/// What happened. The names are the syscall (or scheduler event) names rules use in
/// `evt.type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Exec,
    Exit,
    Fork,
    Openat,
    Openat2,
    Connect,
    Accept,
    Accept4,
    Mount,
    Umount,
    Setns,
    Unshare,
    Ptrace,
    InitModule,
    FinitModule,
    Bpf,
    MemfdCreate,
    Chmod,
    Fchmod,
    Fchmodat,
    Capset,
    Setuid,
    Setgid,
    /// accept/accept4 returned a connection (taken at the syscall's exit, when the peer
    /// is known): `evt.type = accepted`.
    Accepted,
}

impl Kind {
    /// Every kind, for listing and validation.
    pub const ALL: [Kind; 24] = [
        Kind::Exec,
        Kind::Exit,
        Kind::Fork,
        Kind::Openat,
        Kind::Openat2,
        Kind::Connect,
        Kind::Accept,
        Kind::Accept4,
        Kind::Mount,
        Kind::Umount,
        Kind::Setns,
        Kind::Unshare,
        Kind::Ptrace,
        Kind::InitModule,
        Kind::FinitModule,
        Kind::Bpf,
        Kind::MemfdCreate,
        Kind::Chmod,
        Kind::Fchmod,
        Kind::Fchmodat,
        Kind::Capset,
        Kind::Setuid,
        Kind::Setgid,
        Kind::Accepted,
    ];

    /// The number the BPF side uses (`enum kind` in sensor.h).
    pub fn code(self) -> u32 {
        match self {
            Kind::Exec => 1,
            Kind::Exit => 2,
            Kind::Fork => 3,
            Kind::Openat => 4,
            Kind::Openat2 => 5,
            Kind::Connect => 6,
            Kind::Accept => 7,
            Kind::Mount => 8,
            Kind::Umount => 9,
            Kind::Setns => 10,
            Kind::Unshare => 11,
            Kind::Ptrace => 12,
            Kind::InitModule => 13,
            Kind::FinitModule => 14,
            Kind::Bpf => 15,
            Kind::MemfdCreate => 16,
            Kind::Chmod => 17,
            Kind::Fchmod => 18,
            Kind::Fchmodat => 19,
            Kind::Capset => 20,
            Kind::Setuid => 21,
            Kind::Setgid => 22,
            Kind::Accept4 => 23,
            Kind::Accepted => 24,
        }
    }

    /// The kind for a BPF code.
    pub fn from_code(c: u32) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.code() == c)
    }

    /// The `evt.type` name (Falco's names: `execve` for an exec, `procexit`, `clone`).
    pub fn name(self) -> &'static str {
        match self {
            Kind::Exec => "execve",
            Kind::Exit => "procexit",
            Kind::Fork => "clone",
            Kind::Openat => "openat",
            Kind::Openat2 => "openat2",
            Kind::Connect => "connect",
            Kind::Accept => "accept",
            Kind::Accept4 => "accept4",
            Kind::Mount => "mount",
            Kind::Umount => "umount2",
            Kind::Setns => "setns",
            Kind::Unshare => "unshare",
            Kind::Ptrace => "ptrace",
            Kind::InitModule => "init_module",
            Kind::FinitModule => "finit_module",
            Kind::Bpf => "bpf",
            Kind::MemfdCreate => "memfd_create",
            Kind::Chmod => "chmod",
            Kind::Fchmod => "fchmod",
            Kind::Fchmodat => "fchmodat",
            Kind::Capset => "capset",
            Kind::Setuid => "setuid",
            Kind::Setgid => "setgid",
            Kind::Accepted => "accepted",
        }
    }

    /// The kind for an `evt.type` name (also accepts `execveat`, `umount`, `open`).
    pub fn from_name(n: &str) -> Option<Kind> {
        match n {
            "execveat" => return Some(Kind::Exec),
            "umount" => return Some(Kind::Umount),
            "fchmodat2" => return Some(Kind::Fchmodat),
            _ => {}
        }
        Kind::ALL.into_iter().find(|k| k.name() == n)
    }
}

/// The process has a controlling terminal.
pub const FLAG_TTY: u32 = 1;
/// The kernel already sent SIGKILL (`bpf_send_signal`).
pub const FLAG_KILLED: u32 = 2;
/// The kernel stopped the process (SIGSTOP) until user space decides.
pub const FLAG_HELD: u32 = 4;

/// One decoded event.
#[derive(Debug, Clone)]
pub struct RawEvent {
    /// CLOCK_MONOTONIC nanoseconds when the hook ran.
    pub ts_ns: u64,
    pub cap_eff: u64,
    pub args: [u64; 4],
    pub kind: Kind,
    pub pid: u32,
    pub tid: u32,
    pub ppid: u32,
    pub vpid: u32,
    pub uid: u32,
    pub gid: u32,
    pub mntns: u32,
    pub pidns: u32,
    pub flags: u32,
    pub comm: String,
    pub pcomm: String,
    /// Path or file name (open, chmod, exec filename, mount target, memfd name).
    pub str1: String,
    /// Exec arguments (NUL-separated), raw sockaddr, mount source.
    pub str2: Vec<u8>,
    /// Exe dentry name (exec), filesystem type (mount).
    pub str3: String,
}

/// Why a record could not be decoded.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum DecodeError {
    #[error("event record of {0} bytes, expected at least {RECORD_SIZE}")]
    Short(usize),
    #[error("unknown event kind {0}")]
    Kind(u32),
}

fn u64_at(b: &[u8], o: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[o..o + 8]);
    u64::from_le_bytes(a)
}
fn u32_at(b: &[u8], o: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[o..o + 4]);
    u32::from_le_bytes(a)
}
fn cstr(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

impl RawEvent {
    /// Decodes one ring-buffer record.
    pub fn decode(b: &[u8]) -> Result<RawEvent, DecodeError> {
        if b.len() < RECORD_SIZE {
            return Err(DecodeError::Short(b.len()));
        }
        let code = u32_at(b, 48);
        let kind = Kind::from_code(code).ok_or(DecodeError::Kind(code))?;
        let str2_len = (u32_at(b, 88) as usize).min(256);
        Ok(RawEvent {
            ts_ns: u64_at(b, 0),
            cap_eff: u64_at(b, 8),
            args: [u64_at(b, 16), u64_at(b, 24), u64_at(b, 32), u64_at(b, 40)],
            kind,
            pid: u32_at(b, 52),
            tid: u32_at(b, 56),
            ppid: u32_at(b, 60),
            vpid: u32_at(b, 64),
            uid: u32_at(b, 68),
            gid: u32_at(b, 72),
            mntns: u32_at(b, 76),
            pidns: u32_at(b, 80),
            flags: u32_at(b, 84),
            comm: cstr(&b[96..112]),
            pcomm: cstr(&b[112..128]),
            str1: cstr(&b[128..384]),
            str2: b[384..384 + str2_len].to_vec(),
            str3: cstr(&b[640..704]),
        })
    }

    /// Exec arguments as a list (argv), from the NUL-separated argument area.
    pub fn argv(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .str2
            .split(|&c| c == 0)
            .map(|s| String::from_utf8_lossy(s).into_owned())
            .collect();
        while v.last().is_some_and(|s| s.is_empty()) {
            v.pop();
        }
        v
    }

    /// The socket address of a connect, when it is IPv4/IPv6 (`(ip, port)`) or a unix
    /// socket path.
    pub fn sockaddr(&self) -> Option<SockAddr> {
        parse_sockaddr(&self.str2)
    }
}

/// A decoded `struct sockaddr`.
#[derive(Debug, Clone, PartialEq)]
pub enum SockAddr {
    Inet(IpAddr, u16),
    Unix(String),
    Other(u16),
}

/// Decodes a raw sockaddr (family in host order, port in network order).
pub fn parse_sockaddr(b: &[u8]) -> Option<SockAddr> {
    if b.len() < 2 {
        return None;
    }
    let family = u16::from_le_bytes([b[0], b[1]]);
    match family {
        2 if b.len() >= 8 => {
            let port = u16::from_be_bytes([b[2], b[3]]);
            Some(SockAddr::Inet(
                IpAddr::V4(Ipv4Addr::new(b[4], b[5], b[6], b[7])),
                port,
            ))
        }
        10 if b.len() >= 24 => {
            let port = u16::from_be_bytes([b[2], b[3]]);
            let mut a = [0u8; 16];
            a.copy_from_slice(&b[8..24]);
            Some(SockAddr::Inet(IpAddr::V6(Ipv6Addr::from(a)), port))
        }
        1 => {
            let p = &b[2..];
            // Abstract sockets start with a NUL; show them as '@name'.
            if p.first() == Some(&0) {
                let rest = &p[1..];
                let end = rest.iter().position(|&c| c == 0).unwrap_or(rest.len());
                Some(SockAddr::Unix(format!(
                    "@{}",
                    String::from_utf8_lossy(&rest[..end])
                )))
            } else {
                Some(SockAddr::Unix(cstr(p)))
            }
        }
        f => Some(SockAddr::Other(f)),
    }
}

/// Linux capability names by bit number (capability.h).
pub const CAP_NAMES: [&str; 41] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// The capability names set in a mask, space-separated.
pub fn cap_names(mask: u64) -> String {
    let mut v = Vec::new();
    for (i, n) in CAP_NAMES.iter().enumerate() {
        if mask & (1u64 << i) != 0 {
            v.push(*n);
        }
    }
    v.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_a_record_by_offset() {
        let mut b = vec![0u8; RECORD_SIZE];
        b[0..8].copy_from_slice(&42u64.to_le_bytes());
        b[48..52].copy_from_slice(&Kind::Connect.code().to_le_bytes());
        b[52..56].copy_from_slice(&1234u32.to_le_bytes());
        b[96..99].copy_from_slice(b"cat");
        // sockaddr_in 10.1.2.3:3333
        b[384..386].copy_from_slice(&2u16.to_le_bytes());
        b[386..388].copy_from_slice(&3333u16.to_be_bytes());
        b[388..392].copy_from_slice(&[10, 1, 2, 3]);
        b[88..92].copy_from_slice(&16u32.to_le_bytes());
        let e = RawEvent::decode(&b).unwrap();
        assert_eq!(e.kind, Kind::Connect);
        assert_eq!(e.pid, 1234);
        assert_eq!(e.comm, "cat");
        assert_eq!(
            e.sockaddr(),
            Some(SockAddr::Inet("10.1.2.3".parse().unwrap(), 3333))
        );
        assert_eq!(
            RawEvent::decode(&b[..10]).unwrap_err(),
            DecodeError::Short(10)
        );
    }

    #[test]
    fn names_round_trip() {
        for k in Kind::ALL {
            assert_eq!(Kind::from_code(k.code()), Some(k));
            assert_eq!(Kind::from_name(k.name()), Some(k));
        }
        assert_eq!(
            cap_names((1 << 21) | (1 << 16)),
            "CAP_SYS_MODULE CAP_SYS_ADMIN"
        );
    }
}
