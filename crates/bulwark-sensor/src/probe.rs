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
    #[error("the loaded BPF object has no writable global data (.bss) for the open filter")]
    NoBss,
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
    /// Paths read-only opens are kept for (`None`: every read-only open is kept).
    pub read_need: Option<crate::cond::PathNeed>,
    /// Watch module-load attempts on raw_syscalls:sys_enter when the module syscalls
    /// have no tracepoints of their own (a program run on every syscall).
    pub raw_module_hook: bool,
}

/// Bytes of a path the in-kernel filter looks at (`PATH_KEY` in sensor.bpf.c).
const PATH_KEY: usize = 256;
/// 64-bit words of each hash set (`SET_WORDS` in sensor.bpf.c).
const SET_WORDS: usize = 1024;
/// At most this many entries per set (one bit each in 65,536: a few hundred keep the
/// false-positive rate, opens kept for nothing, well under 1%).
const SET_ENTRIES: usize = 1024;

/// FNV-1a (64-bit), as sensor.bpf.c hashes path prefixes and components.
pub fn fnv1a(s: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s {
        h = (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// One hash set of the in-kernel filter (65,536 bits).
type HashSet64K = Box<[u64; SET_WORDS]>;

/// Sets the bit of a hash in a set, as `in_set` in sensor.bpf.c tests it.
fn set_bit(set: &mut [u64; SET_WORDS], h: u64) {
    set[((h >> 6) as usize) & (SET_WORDS - 1)] |= 1u64 << (h & 63);
}

/// The two hash sets of the in-kernel filter: prefixes (at most `PATH_KEY - 1` bytes: a
/// longer prefix can only match a longer path, and those are always kept) and
/// components; `None` when there are too many entries for the sets.
fn kernel_filter(need: &crate::cond::PathNeed) -> Option<(HashSet64K, HashSet64K)> {
    if need.prefixes.len() > SET_ENTRIES || need.components.len() > SET_ENTRIES {
        return None;
    }
    let mut prefixes = Box::new([0u64; SET_WORDS]);
    let mut components = Box::new([0u64; SET_WORDS]);
    for p in need.prefixes.iter().filter(|p| p.len() < PATH_KEY) {
        set_bit(&mut prefixes, fnv1a(p.as_bytes()));
    }
    for c in &need.components {
        set_bit(&mut components, fnv1a(c.as_bytes()));
    }
    Some((prefixes, components))
}

/// Programs whose tracepoint may be missing on older kernels: a warning, not an error.
const OPTIONAL: &[&str] = &["handle_fchmodat2", "handle_openat2"];
/// The module syscalls' own tracepoints (missing on kernels without module support).
const MODULE_PROGS: &[&str] = &["handle_init_module", "handle_finit_module"];
/// The fallback for them on raw_syscalls:sys_enter (runs on every syscall).
const RAW_MODULE_PROG: &str = "handle_raw_enter";

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
    let filter = opts.read_need.as_ref().and_then(|n| {
        let f = kernel_filter(n);
        if f.is_none() {
            tracing::warn!("the rules name too many paths for the in-kernel open filter: every read-only open goes to user space");
        }
        f
    });
    if let Some(ro) = open.maps.rodata_data.as_deref_mut() {
        ro.read_filter = u8::from(filter.is_some());
        ro.host_mntns = opts.host_mntns;
        ro.self_tgid = std::process::id();
        ro.containers_only = u8::from(opts.containers_only);
        ro.hold_urgent = u8::from(opts.hold_urgent);
    }
    open.maps
        .events
        .set_max_entries(opts.ringbuf_bytes)
        .map_err(StartError::Open)?;
    let mut skel = open.load().map_err(StartError::Load)?;
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
    if let (Some((prefixes, components)), Some(need)) = (&filter, &opts.read_need) {
        let bss = skel.maps.bss_data.as_deref_mut().ok_or(StartError::NoBss)?;
        bss.read_prefix_set.copy_from_slice(&prefixes[..]);
        bss.read_component_set.copy_from_slice(&components[..]);
        tracing::info!(
            prefixes = need.prefixes.len(),
            components = need.components.len(),
            "read-only opens filtered in the kernel by path"
        );
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
    let mut module_tps = 0;
    let mut raw = None;
    for p in libbpf_rs::skel::Skel::object(&skel).progs_mut() {
        let name = p.name().to_string_lossy().into_owned();
        if name == RAW_MODULE_PROG {
            raw = Some(p);
            continue;
        }
        // Not attempted where the kernel has no such tracepoint (libbpf would print
        // its own error for each).
        let tp = match name.as_str() {
            "handle_init_module" => Some("syscalls/sys_enter_init_module"),
            "handle_finit_module" => Some("syscalls/sys_enter_finit_module"),
            "handle_openat2" => Some("syscalls/sys_enter_openat2"),
            "handle_fchmodat2" => Some("syscalls/sys_enter_fchmodat2"),
            _ => None,
        };
        if tp.is_some_and(|tp| !Path::new("/sys/kernel/tracing/events").join(tp).is_dir()) {
            if OPTIONAL.contains(&name.as_str()) {
                tracing::warn!(program = %name, "no tracepoint for it on this kernel: not watched");
            }
            continue;
        }
        match p.attach() {
            Ok(l) => {
                module_tps += usize::from(MODULE_PROGS.contains(&name.as_str()));
                links.push(l);
            }
            Err(e) if OPTIONAL.contains(&name.as_str()) => {
                tracing::warn!(program = %name, error = %e, "optional tracepoint not attached");
            }
            Err(_) if MODULE_PROGS.contains(&name.as_str()) => {
                tracing::debug!(program = %name, "no tracepoint for this module syscall");
            }
            Err(source) => return Err(StartError::Attach { prog: name, source }),
        }
    }
    if module_tps < MODULE_PROGS.len() {
        match raw {
            Some(p) if opts.raw_module_hook => {
                links.push(p.attach().map_err(|source| StartError::Attach {
                    prog: RAW_MODULE_PROG.into(),
                    source,
                })?);
                tracing::info!("module-load attempts watched on raw_syscalls:sys_enter (a program run on every syscall)");
            }
            _ => tracing::info!(
                "the kernel has no init_module/finit_module tracepoints and no module support: module loads are impossible and attempts are not watched (--module-attempts watches them at a cost on every syscall)"
            ),
        }
    }
    Ok((skel, links))
}

/// Sums the per-CPU counters: (events submitted, events dropped, read-only opens
/// filtered out in the kernel).
pub fn counters(skel: &SensorSkel<'_>) -> (u64, u64, u64) {
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
    (read(1), read(0), read(2))
}
