//! The event fields rules can test (`proc.name`, `fd.name`, `container.image`, ...),
//! their types, and how each is read from an enriched [`Event`].
//!
//! Names follow Falco's where the meaning is the same, so rules carry over; the table
//! in docs/sensor.md lists them all.

use std::sync::Arc;
use std::time::SystemTime;

use crate::attrib::Origin;
use crate::event::{cap_names, Kind, RawEvent, SockAddr};
use crate::podman::ContainerMeta;

/// A field's value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Str(String),
    Num(i64),
    Bool(bool),
    /// Several values (mount destinations, added capabilities): an operator holds when
    /// it holds for any element.
    List(Vec<String>),
}

impl Value {
    /// The value as text (for output templates and string operators).
    pub fn text(&self) -> String {
        match self {
            Value::Str(s) => s.clone(),
            Value::Num(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::List(v) => v.join(","),
        }
    }

    /// As JSON.
    pub fn json(&self) -> serde_json::Value {
        match self {
            Value::Str(s) => serde_json::Value::from(s.as_str()),
            Value::Num(n) => serde_json::Value::from(*n),
            Value::Bool(b) => serde_json::Value::from(*b),
            Value::List(v) => serde_json::Value::from(v.clone()),
        }
    }
}

/// The type of a field, checked against rule values at load time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    Str,
    Num,
    Bool,
    List,
}

/// Every field: name, type, description.
pub const FIELDS: &[(&str, FieldType, &str)] = &[
    ("evt.type", FieldType::Str, "event name: execve, procexit, clone, openat, openat2, connect, accept, accept4, accepted (accept's exit, the connection made), mount, umount2, setns, unshare, ptrace, init_module, finit_module, bpf, memfd_create, chmod, fchmod, fchmodat, capset, setuid, setgid"),
    ("evt.time", FieldType::Str, "event time, RFC 3339"),
    ("evt.is_open_write", FieldType::Bool, "an open for writing (O_WRONLY, O_RDWR, O_CREAT or O_TRUNC)"),
    ("evt.is_open_read", FieldType::Bool, "an open for reading (O_RDONLY or O_RDWR)"),
    ("evt.arg.flags", FieldType::Num, "open flags, mount flags, unshare flags, memfd flags, finit_module flags"),
    ("evt.arg.mode", FieldType::Num, "open mode, chmod mode"),
    ("evt.arg.request", FieldType::Num, "ptrace request"),
    ("evt.arg.pid", FieldType::Num, "ptrace target pid"),
    ("evt.arg.cmd", FieldType::Num, "bpf command (5 = BPF_PROG_LOAD)"),
    ("evt.arg.nstype", FieldType::Num, "setns namespace type"),
    ("evt.arg.fd", FieldType::Num, "file descriptor argument (connect, accept, setns, fchmod, finit_module)"),
    ("evt.arg.uid", FieldType::Num, "setuid argument"),
    ("evt.arg.gid", FieldType::Num, "setgid argument"),
    ("evt.arg.name", FieldType::Str, "memfd_create name"),
    ("evt.arg.source", FieldType::Str, "mount source"),
    ("evt.arg.fstype", FieldType::Str, "mount filesystem type"),
    ("evt.arg.cap_effective", FieldType::Str, "capset: requested effective capabilities (names)"),
    ("fd.name", FieldType::Str, "path (open, chmod, mount/umount target), socket peer ip:port or unix path (connect)"),
    ("fd.directory", FieldType::Str, "directory part of fd.name"),
    ("fd.filename", FieldType::Str, "file name part of fd.name"),
    ("fd.sip", FieldType::Str, "connect: peer IP address"),
    ("fd.sport", FieldType::Num, "connect: peer port"),
    ("fd.sockfamily", FieldType::Str, "connect: ip or unix"),
    ("fd.sip.is_loopback", FieldType::Bool, "connect: peer is a loopback address"),
    ("proc.name", FieldType::Str, "process name (comm)"),
    ("proc.exe", FieldType::Str, "executable path as exec'd"),
    ("proc.exepath", FieldType::Str, "executable path as exec'd"),
    ("proc.cmdline", FieldType::Str, "name and arguments"),
    ("proc.args", FieldType::Str, "arguments without argv[0]"),
    ("proc.pid", FieldType::Num, "process id (host)"),
    ("proc.vpid", FieldType::Num, "process id in its pid namespace (1 = the container's first process)"),
    ("proc.ppid", FieldType::Num, "parent process id (host)"),
    ("proc.pname", FieldType::Str, "parent process name"),
    ("proc.tty", FieldType::Num, "1 when the process has a controlling terminal, else 0"),
    ("proc.is_exe_from_memfd", FieldType::Bool, "the executable is a memfd (fileless)"),
    ("proc.is_exe_upper_layer", FieldType::Bool, "exec of a file in the container's overlay upper layer: not in the image, or written or changed after the container started (drift)"),
    ("proc.exe_file", FieldType::Str, "name of the executable's file in the kernel (memfd:NAME for memfd)"),
    ("user.uid", FieldType::Num, "user id"),
    ("user.gid", FieldType::Num, "group id"),
    ("thread.cap_effective", FieldType::Str, "effective capabilities (names, space-separated)"),
    ("container.id", FieldType::Str, "container id (64 hex), `host` for host processes; absent when unknown"),
    ("container.name", FieldType::Str, "container name"),
    ("container.image", FieldType::Str, "image reference the container runs"),
    ("container.image.repository", FieldType::Str, "image reference without tag or digest"),
    ("container.image.tag", FieldType::Str, "image tag"),
    ("container.image.id", FieldType::Str, "image id"),
    ("container.image.digest", FieldType::Str, "image repo digest (or id when it has none)"),
    ("container.privileged", FieldType::Bool, "the container is privileged"),
    ("container.user", FieldType::Str, "the container's configured user"),
    ("container.mount.dest", FieldType::List, "mount destinations"),
    ("container.mount.source", FieldType::List, "mount sources on the host"),
    ("container.cap_add", FieldType::List, "capabilities added to the container"),
    ("container.network_mode", FieldType::Str, "network mode (host, none, bridge, ...)"),
];

/// The type of a field by name.
pub fn field_type(name: &str) -> Option<FieldType> {
    FIELDS.iter().find(|f| f.0 == name).map(|f| f.1)
}

/// What the sensor knows about a process beyond one event (from its exec).
#[derive(Debug, Clone, Default)]
pub struct ProcInfo {
    pub exe: String,
    pub argv: Vec<String>,
    pub exe_file: String,
}

/// An event with its attribution and enrichment: what rules are evaluated against.
#[derive(Debug, Clone)]
pub struct Event {
    pub raw: RawEvent,
    pub time: SystemTime,
    pub origin: Origin,
    pub meta: Option<Arc<ContainerMeta>>,
    pub proc: Option<Arc<ProcInfo>>,
    /// fd.name after resolving a relative path against the process's cwd.
    pub path: String,
}

const O_WRONLY: u64 = 1;
const O_RDWR: u64 = 2;
const O_CREAT: u64 = 0o100;
const O_TRUNC: u64 = 0o1000;

fn is_open(k: Kind) -> bool {
    matches!(k, Kind::Openat | Kind::Openat2)
}

fn dir_of(p: &str) -> String {
    match p.rfind('/') {
        Some(0) => "/".into(),
        Some(i) => p[..i].to_string(),
        None => String::new(),
    }
}

impl Event {
    fn argv(&self) -> Vec<String> {
        if self.raw.kind == Kind::Exec {
            return self.raw.argv();
        }
        self.proc
            .as_ref()
            .map(|p| p.argv.clone())
            .unwrap_or_default()
    }

    fn exe(&self) -> Option<String> {
        if self.raw.kind == Kind::Exec {
            return Some(self.raw.str1.clone());
        }
        self.proc.as_ref().map(|p| p.exe.clone())
    }

    fn exe_file(&self) -> Option<String> {
        if self.raw.kind == Kind::Exec {
            return Some(self.raw.str3.clone());
        }
        self.proc.as_ref().map(|p| p.exe_file.clone())
    }

    /// Whether an exec'd file lives in the container's overlay upper layer. The path
    /// is the kernel's resolved one (`/proc/PID/exe`, symlinks such as Debian's
    /// `/bin -> usr/bin` followed) when the process is still there, else the exec'd
    /// name. `None` outside exec events, containers, or without the upper directory.
    fn exe_upper_layer(&self) -> Option<bool> {
        if self.raw.kind != Kind::Exec {
            return None;
        }
        let upper = self
            .meta
            .as_ref()
            .map(|m| m.upper_dir.as_str())
            .filter(|u| !u.is_empty())?;
        let exe = std::fs::read_link(format!("/proc/{}/exe", self.raw.pid))
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_else(|_| self.raw.str1.clone());
        if !exe.starts_with('/') || exe.starts_with("/memfd:") {
            return Some(false);
        }
        let p = std::path::Path::new(upper).join(exe.trim_start_matches('/'));
        Some(std::fs::symlink_metadata(p).is_ok_and(|m| m.is_file()))
    }

    /// `proc.cmdline`: the process name and its arguments.
    pub fn cmdline(&self) -> String {
        let argv = self.argv();
        let mut s = self.raw.comm.clone();
        for a in argv.iter().skip(1) {
            s.push(' ');
            s.push_str(a);
        }
        s
    }

    /// Whether fd.name is a path (a file, or a unix socket's path).
    fn is_file_name(&self) -> bool {
        self.raw.kind != Kind::Connect || matches!(self.sock(), Some(SockAddr::Unix(_)))
    }

    fn sock(&self) -> Option<SockAddr> {
        (self.raw.kind == Kind::Connect)
            .then(|| self.raw.sockaddr())
            .flatten()
    }

    fn meta_str(&self, f: impl Fn(&ContainerMeta) -> String) -> Option<Value> {
        self.meta.as_ref().map(|m| Value::Str(f(m)))
    }

    /// The value of a field, `None` when the event does not have it.
    pub fn field(&self, name: &str) -> Option<Value> {
        let r = &self.raw;
        let k = r.kind;
        let num = |n: u64| Some(Value::Num(n as i64));
        let s = |v: &str| Some(Value::Str(v.to_string()));
        match name {
            "evt.type" => s(k.name()),
            "evt.time" => s(&crate::output::rfc3339(self.time)),
            "evt.is_open_write" => is_open(k)
                .then(|| Value::Bool(r.args[1] & (O_WRONLY | O_RDWR | O_CREAT | O_TRUNC) != 0)),
            "evt.is_open_read" => is_open(k).then(|| Value::Bool(r.args[1] & O_WRONLY == 0)),
            "evt.arg.flags" => match k {
                Kind::Openat | Kind::Openat2 => num(r.args[1]),
                Kind::Mount | Kind::Unshare | Kind::Umount | Kind::MemfdCreate => num(r.args[0]),
                Kind::FinitModule => num(r.args[1]),
                _ => None,
            },
            "evt.arg.mode" => match k {
                Kind::Openat | Kind::Openat2 => num(r.args[2]),
                Kind::Chmod | Kind::Fchmod | Kind::Fchmodat => num(r.args[0]),
                _ => None,
            },
            "evt.arg.request" => (k == Kind::Ptrace).then(|| Value::Num(r.args[0] as i64)),
            "evt.arg.pid" => (k == Kind::Ptrace).then(|| Value::Num(r.args[1] as i64)),
            "evt.arg.cmd" => (k == Kind::Bpf).then(|| Value::Num(r.args[0] as i64)),
            "evt.arg.nstype" => (k == Kind::Setns).then(|| Value::Num(r.args[1] as i64)),
            "evt.arg.fd" => match k {
                Kind::Connect
                | Kind::Accept
                | Kind::Accept4
                | Kind::Accepted
                | Kind::Setns
                | Kind::FinitModule => num(r.args[0]),
                Kind::Fchmod => num(r.args[1]),
                _ => None,
            },
            "evt.arg.uid" => (k == Kind::Setuid).then(|| Value::Num(r.args[0] as i64)),
            "evt.arg.gid" => (k == Kind::Setgid).then(|| Value::Num(r.args[0] as i64)),
            "evt.arg.name" => (k == Kind::MemfdCreate).then(|| Value::Str(r.str1.clone())),
            "evt.arg.source" => (k == Kind::Mount)
                .then(|| Value::Str(String::from_utf8_lossy(&r.str2).into_owned())),
            "evt.arg.fstype" => (k == Kind::Mount).then(|| Value::Str(r.str3.clone())),
            "evt.arg.cap_effective" => {
                (k == Kind::Capset).then(|| Value::Str(cap_names(r.args[0])))
            }
            "fd.name" => match k {
                Kind::Openat
                | Kind::Openat2
                | Kind::Chmod
                | Kind::Fchmodat
                | Kind::Mount
                | Kind::Umount => s(&self.path),
                Kind::Connect => match self.sock()? {
                    SockAddr::Inet(ip, port) => Some(Value::Str(if ip.is_ipv6() {
                        format!("[{ip}]:{port}")
                    } else {
                        format!("{ip}:{port}")
                    })),
                    SockAddr::Unix(p) => s(&p),
                    SockAddr::Other(_) => None,
                },
                _ => None,
            },
            "fd.directory" => match self.field("fd.name")? {
                Value::Str(p) if self.is_file_name() => Some(Value::Str(dir_of(&p))),
                _ => None,
            },
            "fd.filename" => match self.field("fd.name")? {
                Value::Str(p) if self.is_file_name() => {
                    Some(Value::Str(p.rsplit('/').next().unwrap_or("").to_string()))
                }
                _ => None,
            },
            "fd.sip" => match self.sock()? {
                SockAddr::Inet(ip, _) => Some(Value::Str(ip.to_string())),
                _ => None,
            },
            "fd.sport" => match self.sock()? {
                SockAddr::Inet(_, p) => Some(Value::Num(p as i64)),
                _ => None,
            },
            "fd.sip.is_loopback" => match self.sock()? {
                SockAddr::Inet(ip, _) => Some(Value::Bool(ip.is_loopback() || ip.is_unspecified())),
                _ => None,
            },
            "fd.sockfamily" => match self.sock()? {
                SockAddr::Inet(..) => s("ip"),
                SockAddr::Unix(_) => s("unix"),
                SockAddr::Other(_) => s("other"),
            },
            "proc.name" => s(&r.comm),
            "proc.exe" | "proc.exepath" => self.exe().map(Value::Str),
            "proc.cmdline" => Some(Value::Str(self.cmdline())),
            "proc.args" => Some(Value::Str(
                self.argv()
                    .iter()
                    .skip(1)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(" "),
            )),
            "proc.pid" => num(r.pid as u64),
            "proc.vpid" => num(r.vpid as u64),
            "proc.ppid" => num(r.ppid as u64),
            "proc.pname" => s(&r.pcomm),
            "proc.tty" => num(u64::from(r.flags & crate::event::FLAG_TTY != 0)),
            "proc.is_exe_from_memfd" => self
                .exe_file()
                .map(|f| Value::Bool(f.starts_with("memfd:"))),
            "proc.exe_file" => self.exe_file().map(Value::Str),
            "proc.is_exe_upper_layer" => self.exe_upper_layer().map(Value::Bool),
            "user.uid" => num(r.uid as u64),
            "user.gid" => num(r.gid as u64),
            "thread.cap_effective" => s(&cap_names(r.cap_eff)),
            "container.id" => match &self.origin {
                Origin::Host => s("host"),
                Origin::Container(id) => s(id),
                Origin::Unknown => None,
            },
            "container.name" => self.meta_str(|m| m.name.clone()),
            "container.image" => self.meta_str(|m| m.image.clone()),
            "container.image.repository" => self.meta_str(|m| split_ref(&m.image).0),
            "container.image.tag" => self.meta_str(|m| split_ref(&m.image).1),
            "container.image.id" => self.meta_str(|m| m.image_id.clone()),
            "container.image.digest" => self.meta_str(|m| m.image_digest.clone()),
            "container.privileged" => self.meta.as_ref().map(|m| Value::Bool(m.privileged)),
            "container.user" => self.meta_str(|m| m.user.clone()),
            "container.network_mode" => self.meta_str(|m| m.network_mode.clone()),
            "container.mount.dest" => self
                .meta
                .as_ref()
                .map(|m| Value::List(m.mounts.iter().map(|x| x.0.clone()).collect())),
            "container.mount.source" => self
                .meta
                .as_ref()
                .map(|m| Value::List(m.mounts.iter().map(|x| x.1.clone()).collect())),
            "container.cap_add" => self.meta.as_ref().map(|m| Value::List(m.cap_add.clone())),
            _ => None,
        }
    }
}

/// Splits `repo[:tag][@digest]` into repository and tag.
pub fn split_ref(r: &str) -> (String, String) {
    let r = r.split('@').next().unwrap_or(r);
    let slash = r.rfind('/').map(|i| i + 1).unwrap_or(0);
    match r[slash..].rfind(':') {
        Some(i) => (r[..slash + i].to_string(), r[slash + i + 1..].to_string()),
        None => (r.to_string(), String::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_references() {
        assert_eq!(
            split_ref("localhost:5000/a/b:1.2@sha256:ab"),
            ("localhost:5000/a/b".into(), "1.2".into())
        );
        assert_eq!(
            split_ref("localhost:5000/a"),
            ("localhost:5000/a".into(), "".into())
        );
    }

    #[test]
    fn every_field_is_unique() {
        let mut names: Vec<_> = FIELDS.iter().map(|f| f.0).collect();
        names.sort();
        let n = names.len();
        names.dedup();
        assert_eq!(n, names.len());
    }
}
