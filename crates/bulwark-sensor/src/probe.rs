//! Loading the BPF programs: checks that say exactly what is missing (privileges, BTF,
//! tracefs, the bpf syscall), RLIMIT_MEMLOCK, configuration through read-only data
//! (host mount namespace, containers-only, the sensor's own pid), attaching each
//! tracepoint, and reading the per-CPU counters (events submitted, events dropped).

use std::mem::MaybeUninit;
use std::path::Path;

use libbpf_rs::skel::{OpenSkel, SkelBuilder};
use libbpf_rs::MapCore;

#[allow(
    unsafe_code,
    clippy::all,
    clippy::pedantic,
    clippy::unwrap_used,
    clippy::expect_used,
    missing_docs
)]
mod skel {
    //! The skeleton libbpf-cargo generates for src/bpf/sensor.bpf.c (raw libbpf
    //! calls: this generated code is part of the crate's FFI edge).
    include!(concat!(env!("OUT_DIR"), "/sensor.skel.rs"));
}

pub use skel::{OpenSensorSkel, SensorSkel, SensorSkelBuilder};

/// Why the sensor cannot start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("the sensor needs root (or CAP_BPF and CAP_PERFMON, or CAP_SYS_ADMIN): effective uid {euid}, missing {missing}")]
    Privileges { euid: u32, missing: String },
    #[error("this kernel has no BTF ({0} is missing): the sensor's CO-RE programs need a kernel built with CONFIG_DEBUG_INFO_BTF=y")]
    NoBtf(String),
    #[error("tracefs is not mounted at /sys/kernel/tracing and mounting it failed (mount -t tracefs nodev /sys/kernel/tracing)")]
    Tracefs(#[source] std::io::Error),
    #[error("tracepoint {0} does not exist on this kernel (no /sys/kernel/tracing/events/{0})")]
    Tracepoint(String),
    #[error("raising RLIMIT_MEMLOCK")]
    Memlock(#[source] std::io::Error),
    #[error("the bpf() syscall is unavailable or refused (kernel without CONFIG_BPF_SYSCALL, or blocked by seccomp/lockdown)")]
    NoBpf(#[source] libbpf_rs::Error),
    #[error("opening the BPF object")]
    Open(#[source] libbpf_rs::Error),
    #[error("loading the BPF programs into the kernel (verifier or permissions)")]
    Load(#[source] libbpf_rs::Error),
    #[error("attaching BPF program {prog}")]
    Attach {
        prog: String,
        #[source]
        source: libbpf_rs::Error,
    },
    #[error("reading the sensor's own mount namespace (/proc/self/ns/mnt)")]
    SelfNs(#[source] std::io::Error),
    #[error("setting up the ring buffer")]
    RingBuf(#[source] libbpf_rs::Error),
}

const CAP_SYS_ADMIN: u32 = 21;
const CAP_PERFMON: u32 = 38;
const CAP_BPF: u32 = 39;

fn cap_eff_self() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("CapEff:"))
                .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        })
        .unwrap_or(0)
}

/// The mount-namespace inode of a `/proc/.../ns/mnt` link (`mnt:[4026531841]`).
pub fn ns_inode(link: &Path) -> std::io::Result<u32> {
    let t = std::fs::read_link(link)?;
    let t = t.to_string_lossy();
    t.split('[')
        .nth(1)
        .and_then(|x| x.trim_end_matches(']').parse().ok())
        .ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("unexpected namespace link {t}"),
            )
        })
}

/// Checks everything the sensor needs before touching BPF, naming what is missing.
pub fn preflight() -> Result<(), StartError> {
    let caps = cap_eff_self();
    let has = |c: u32| caps & (1u64 << c) != 0;
    if !(has(CAP_SYS_ADMIN) || (has(CAP_BPF) && has(CAP_PERFMON))) {
        let mut missing = Vec::new();
        if !has(CAP_BPF) {
            missing.push("CAP_BPF");
        }
        if !has(CAP_PERFMON) {
            missing.push("CAP_PERFMON");
        }
        return Err(StartError::Privileges {
            euid: crate::sys::euid(),
            missing: missing.join(" and "),
        });
    }
    let btf = "/sys/kernel/btf/vmlinux";
    if !Path::new(btf).exists() {
        return Err(StartError::NoBtf(btf.into()));
    }
    if !Path::new("/sys/kernel/tracing/events").is_dir() {
        crate::sys::mount_tracefs().map_err(StartError::Tracefs)?;
        tracing::info!("mounted tracefs at /sys/kernel/tracing");
    }
    for tp in [
        "sched/sched_process_exec",
        "sched/sched_process_exit",
        "syscalls/sys_enter_openat",
    ] {
        if !Path::new("/sys/kernel/tracing/events").join(tp).is_dir() {
            return Err(StartError::Tracepoint(tp.into()));
        }
    }
    if !crate::sys::raise_memlock().map_err(StartError::Memlock)? {
        tracing::debug!("RLIMIT_MEMLOCK raised to its hard limit only (no CAP_SYS_RESOURCE)");
    }
    Ok(())
}

/// Loader options.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    pub containers_only: bool,
    pub host_mntns: u32,
    /// Ring buffer size in bytes (a power of two, at least a page).
    pub ringbuf_bytes: u32,
    /// Event kinds to SIGKILL in the kernel when a container process does them.
    pub kernel_kill: Vec<u32>,
    /// (kind, process name) pairs to SIGKILL in the kernel in containers.
    pub kernel_kill_comm: Vec<(u32, String)>,
    /// Kinds whose every event wakes user space at once (kill and pause rules).
    pub wake_now: Vec<u32>,
    /// Stop container processes at those events until user space decides.
    pub hold_urgent: bool,
}

/// Programs whose tracepoint may be missing on older kernels: a warning, not an error.
const OPTIONAL: &[&str] = &["handle_fchmodat2", "handle_openat2", "handle_raw_enter"];

/// Opens, configures, loads and attaches the programs. The returned links keep them
/// attached; dropping them detaches.
pub fn load<'obj>(
    obj: &'obj mut MaybeUninit<libbpf_rs::OpenObject>,
    opts: &LoadOptions,
) -> Result<(SensorSkel<'obj>, Vec<libbpf_rs::Link>), StartError> {
    let builder = SensorSkelBuilder::default();
    let mut open = builder.open(obj).map_err(|e| match e.kind() {
        libbpf_rs::ErrorKind::PermissionDenied => StartError::NoBpf(e),
        _ => StartError::Open(e),
    })?;
    if let Some(ro) = open.maps.rodata_data.as_deref_mut() {
        ro.host_mntns = opts.host_mntns;
        ro.self_tgid = std::process::id();
        ro.containers_only = u8::from(opts.containers_only);
        ro.hold_urgent = u8::from(opts.hold_urgent);
    }
    open.maps
        .events
        .set_max_entries(opts.ringbuf_bytes)
        .map_err(StartError::Open)?;
    let skel = open.load().map_err(StartError::Load)?;
    for k in &opts.kernel_kill {
        skel.maps
            .kill_kinds
            .update(
                &k.to_ne_bytes(),
                &1u32.to_ne_bytes(),
                libbpf_rs::MapFlags::ANY,
            )
            .map_err(StartError::Load)?;
    }
    for k in &opts.wake_now {
        skel.maps
            .wake_kinds
            .update(
                &k.to_ne_bytes(),
                &1u32.to_ne_bytes(),
                libbpf_rs::MapFlags::ANY,
            )
            .map_err(StartError::Load)?;
    }
    for (k, name) in &opts.kernel_kill_comm {
        let mut key = [0u8; 20];
        key[..4].copy_from_slice(&k.to_ne_bytes());
        let n = name.as_bytes();
        let len = n.len().min(15);
        key[4..4 + len].copy_from_slice(&n[..len]);
        skel.maps
            .kill_comm
            .update(&key, &1u32.to_ne_bytes(), libbpf_rs::MapFlags::ANY)
            .map_err(StartError::Load)?;
    }
    let mut links = Vec::new();
    for p in libbpf_rs::skel::Skel::object(&skel).progs_mut() {
        let name = p.name().to_string_lossy().into_owned();
        match p.attach() {
            Ok(l) => links.push(l),
            Err(e) if OPTIONAL.contains(&name.as_str()) => {
                tracing::warn!(program = %name, error = %e, "optional tracepoint not attached");
            }
            Err(source) => return Err(StartError::Attach { prog: name, source }),
        }
    }
    Ok((skel, links))
}

/// Sums the per-CPU counters: (events submitted, events dropped).
pub fn counters(skel: &SensorSkel<'_>) -> (u64, u64) {
    let read = |idx: u32| -> u64 {
        skel.maps
            .counters
            .lookup_percpu(&idx.to_ne_bytes(), libbpf_rs::MapFlags::ANY)
            .ok()
            .flatten()
            .map(|per| {
                per.iter()
                    .map(|v| {
                        let mut a = [0u8; 8];
                        if v.len() >= 8 {
                            a.copy_from_slice(&v[..8]);
                        }
                        u64::from_ne_bytes(a)
                    })
                    .sum()
            })
            .unwrap_or(0)
    };
    (read(1), read(0))
}
