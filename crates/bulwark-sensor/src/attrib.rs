//! Container attribution: which container an event came from, and that container's
//! metadata.
//!
//! The BPF side reports each event's mount-namespace inode. A namespace equal to the
//! host's is the host. Otherwise the container id comes from `/proc/PID/cgroup`
//! (`libpod-<id>`, `docker-<id>`, `cri-containerd-<id>`, `crio-<id>`, with or without
//! `.scope`, or `...:cri-containerd:<id>`), falling back to the parent's file when the
//! process is already gone; the answer is cached per mount namespace. Metadata comes
//! from the Docker-compatible API ([`crate::podman`]) and is cached per container id.
//!
//! No stale attribution: when a container's first process (pid 1 inside it) execs, its
//! namespace and metadata entries are dropped and looked up afresh (a new container or
//! a restart); when that process exits, both are dropped (namespace inodes are reused
//! by the kernel). When the cgroup file cannot be read at all the container is
//! *unknown* (no `container.id` field), never a guess. A failed API lookup leaves the
//! metadata empty and is retried after 5 s; it never panics or stops the sensor.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::event::{Kind, RawEvent};
use crate::podman::{Client, ContainerMeta};

/// Where an event came from.
#[derive(Debug, Clone, PartialEq)]
pub enum Origin {
    /// A host process.
    Host,
    /// A container, by full id.
    Container(String),
    /// Could not be told (the process and its parent were gone before their cgroup
    /// was read).
    Unknown,
}

/// The container id in a `/proc/PID/cgroup` text, if the process is in a container.
pub fn container_id_from_cgroup(text: &str) -> Option<String> {
    for line in text.lines() {
        // hierarchy-id:controllers:path
        let path = line.splitn(3, ':').nth(2).unwrap_or("");
        for seg in path.split('/') {
            if let Some(id) = id_in_segment(seg) {
                return Some(id);
            }
        }
    }
    None
}

fn is_id(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|c| c.is_ascii_hexdigit())
}

fn id_in_segment(seg: &str) -> Option<String> {
    let seg = seg.strip_suffix(".scope").unwrap_or(seg);
    // kubepods-...slice:cri-containerd:<id> (systemd cgroup driver)
    if let Some((_, last)) = seg.rsplit_once(':') {
        if is_id(last) {
            return Some(last.to_string());
        }
    }
    for p in [
        "libpod-",
        "docker-",
        "cri-containerd-",
        "crio-",
        "containerd-",
    ] {
        if let Some(rest) = seg.strip_prefix(p) {
            if is_id(rest) {
                return Some(rest.to_string());
            }
        }
    }
    None
}

struct MetaEntry {
    meta: Option<Arc<ContainerMeta>>,
    fetched: Instant,
}

/// The attribution state of one sensor.
pub struct Attributor {
    host_mntns: u32,
    proc_root: std::path::PathBuf,
    by_ns: HashMap<u32, Origin>,
    meta: HashMap<String, MetaEntry>,
    /// Namespaces scanned for in /proc without an answer, and when.
    scanned: HashMap<u32, Instant>,
    /// Namespaces (not the host's) whose cached verdict is "host", and since when.
    provisional: HashMap<u32, Instant>,
    api: Option<Client>,
    /// API lookups that failed (for the final statistics).
    pub api_errors: u64,
}

/// How long a failed metadata lookup is remembered before retrying.
const RETRY: Duration = Duration::from_secs(5);
/// How often an unknown namespace may be looked for in /proc.
const SCAN_RETRY: Duration = Duration::from_secs(1);
/// Bound on cached namespaces and containers (a storm of short-lived containers must
/// not grow memory without limit; the cache is cleared when it is reached).
const MAX_CACHE: usize = 4096;

impl Attributor {
    /// `host_mntns` is the sensor's own (the host's) mount namespace inode.
    pub fn new(host_mntns: u32, api: Option<Client>) -> Attributor {
        Attributor {
            host_mntns,
            proc_root: "/proc".into(),
            by_ns: HashMap::new(),
            meta: HashMap::new(),
            scanned: HashMap::new(),
            provisional: HashMap::new(),
            api,
            api_errors: 0,
        }
    }

    /// Reads cgroup files below `root` instead of /proc (tests).
    pub fn with_proc_root(mut self, root: impl Into<std::path::PathBuf>) -> Attributor {
        self.proc_root = root.into();
        self
    }

    fn read_cgroup(&self, pid: u32) -> Option<String> {
        std::fs::read_to_string(self.proc_root.join(pid.to_string()).join("cgroup")).ok()
    }

    /// The origin of an event, updating the caches for container starts and exits.
    pub fn origin(&mut self, ev: &RawEvent) -> Origin {
        if ev.mntns == self.host_mntns {
            return Origin::Host;
        }
        let container_init = ev.vpid == 1 && ev.pid != 1;
        if container_init && ev.kind == Kind::Exec {
            // A (re)started container: forget what this namespace was.
            if let Some(Origin::Container(id)) = self.by_ns.remove(&ev.mntns) {
                self.meta.remove(&id);
            }
        }
        let cached = self.by_ns.get(&ev.mntns).cloned();
        // A host verdict for a namespace other than the host's is provisional: checked
        // again (at most once a second) in case it was a process not yet moved into its
        // container's cgroup (the runtime's helper of a `podman exec`).
        let stale = cached == Some(Origin::Host)
            && self
                .provisional
                .get(&ev.mntns)
                .is_some_and(|t| t.elapsed() >= SCAN_RETRY);
        let o = match cached {
            Some(o) if !stale => o,
            _ => {
                let o = match self.read_cgroup(ev.pid) {
                    Some(t) => match container_id_from_cgroup(&t) {
                        Some(id) => Origin::Container(id),
                        // Another live process of the namespace may be in a container.
                        None => match self.origin_by_ns_scan(ev.mntns) {
                            Origin::Container(id) => Origin::Container(id),
                            _ => Origin::Host,
                        },
                    },
                    // The process is gone (short-lived, read after its exit). Its parent
                    // tells only when it is in a container itself (a `podman exec`'s
                    // parent is the runtime, outside); else a live process of the same
                    // mount namespace does.
                    None => match self
                        .read_cgroup(ev.ppid)
                        .and_then(|t| container_id_from_cgroup(&t))
                    {
                        Some(id) => Origin::Container(id),
                        None => self.origin_by_ns_scan(ev.mntns),
                    },
                };
                if o != Origin::Unknown {
                    if self.by_ns.len() >= MAX_CACHE {
                        self.by_ns.clear();
                        self.provisional.clear();
                    }
                    self.by_ns.insert(ev.mntns, o.clone());
                    if o == Origin::Host {
                        self.provisional.insert(ev.mntns, Instant::now());
                    } else {
                        self.provisional.remove(&ev.mntns);
                    }
                }
                o
            }
        };
        if container_init && ev.kind == Kind::Exec {
            if let Origin::Container(id) = &o {
                self.meta.remove(id);
            }
        }
        o
    }

    /// The origin of a mount namespace from any live process in it (a scan of /proc,
    /// done at most once a second per namespace while it stays unknown).
    fn origin_by_ns_scan(&mut self, mntns: u32) -> Origin {
        if let Some(t) = self.scanned.get(&mntns) {
            if t.elapsed() < SCAN_RETRY {
                return Origin::Unknown;
            }
        }
        if self.scanned.len() >= MAX_CACHE {
            self.scanned.clear();
        }
        self.scanned.insert(mntns, Instant::now());
        let want = format!("mnt:[{mntns}]");
        let Ok(dir) = std::fs::read_dir(&self.proc_root) else {
            return Origin::Unknown;
        };
        // A process in a container wins over one that is not (yet) in its cgroup.
        let mut found = Origin::Unknown;
        for e in dir.flatten() {
            let name = e.file_name();
            let Some(pid) = name.to_str().and_then(|n| n.parse::<u32>().ok()) else {
                continue;
            };
            let ns = std::fs::read_link(e.path().join("ns/mnt"));
            if !ns.is_ok_and(|l| l.as_os_str() == want.as_str()) {
                continue;
            }
            if let Some(t) = self.read_cgroup(pid) {
                match container_id_from_cgroup(&t) {
                    Some(id) => {
                        self.scanned.remove(&mntns);
                        return Origin::Container(id);
                    }
                    None => found = Origin::Host,
                }
            }
        }
        if found != Origin::Unknown {
            self.scanned.remove(&mntns);
        }
        found
    }

    /// Call after the event was handled: forgets a container whose first process exited.
    pub fn after(&mut self, ev: &RawEvent, origin: &Origin) {
        if ev.kind == Kind::Exit && ev.vpid == 1 && ev.pid != 1 {
            self.by_ns.remove(&ev.mntns);
            if let Origin::Container(id) = origin {
                self.meta.remove(id);
            }
        }
    }

    /// The metadata of a container (cached; `None` without an API or when the lookup
    /// failed).
    pub fn meta(&mut self, id: &str) -> Option<Arc<ContainerMeta>> {
        if let Some(e) = self.meta.get(id) {
            if e.meta.is_some() || e.fetched.elapsed() < RETRY {
                return e.meta.clone();
            }
        }
        let api = self.api.as_ref()?;
        let meta = match api.inspect(id) {
            Ok(m) => Some(Arc::new(m)),
            Err(e) => {
                self.api_errors += 1;
                tracing::warn!(container = id, error = %e, "container metadata lookup failed");
                None
            }
        };
        if self.meta.len() >= MAX_CACHE {
            self.meta.clear();
        }
        self.meta.insert(
            id.to_string(),
            MetaEntry {
                meta: meta.clone(),
                fetched: Instant::now(),
            },
        );
        meta
    }

    /// The API client, when one is configured.
    pub fn api(&self) -> Option<&Client> {
        self.api.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "3f1c2e5d8a9b0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d";

    #[test]
    fn finds_ids_in_each_runtime_layout() {
        for text in [
            format!("12:pids:/libpod_parent/libpod-{ID}\n0::/"),
            format!("0::/machine.slice/libpod-{ID}.scope/container"),
            format!("0::/system.slice/docker-{ID}.scope"),
            format!("5:cpu:/docker/x/docker-{ID}"),
            format!("0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1.slice/cri-containerd-{ID}.scope"),
            format!("0::/kubepods-besteffort-pod1.slice:cri-containerd:{ID}"),
            format!("0::/kubepods.slice/crio-{ID}.scope"),
        ] {
            assert_eq!(container_id_from_cgroup(&text).as_deref(), Some(ID), "{text}");
        }
        for text in [
            "0::/".to_string(),
            format!("0::/libpod_parent/libpod-conmon-{ID}"),
            "0::/system.slice/sshd.service".to_string(),
            "12:pids:/libpod_parent/libpod-abc".to_string(),
        ] {
            assert_eq!(container_id_from_cgroup(&text), None, "{text}");
        }
    }

    fn ev(kind: Kind, pid: u32, ppid: u32, vpid: u32, mntns: u32) -> RawEvent {
        RawEvent {
            ts_ns: 0,
            cap_eff: 0,
            args: [0; 4],
            kind,
            pid,
            tid: pid,
            ppid,
            vpid,
            uid: 0,
            gid: 0,
            mntns,
            pidns: 0,
            flags: 0,
            comm: String::new(),
            pcomm: String::new(),
            str1: String::new(),
            str2: Vec::new(),
            str3: String::new(),
        }
    }

    #[test]
    fn caches_per_namespace_and_forgets_on_container_exit() {
        let d = tempfile::tempdir().unwrap();
        let w = |pid: u32, text: &str| {
            std::fs::create_dir_all(d.path().join(pid.to_string())).unwrap();
            std::fs::write(d.path().join(pid.to_string()).join("cgroup"), text).unwrap();
        };
        w(100, &format!("1:pids:/libpod_parent/libpod-{ID}\n"));
        w(300, "0::/system.slice/x.service\n");
        let mut a = Attributor::new(1, None).with_proc_root(d.path());
        assert_eq!(a.origin(&ev(Kind::Openat, 5, 4, 5, 1)), Origin::Host);
        let start = ev(Kind::Exec, 100, 99, 1, 77);
        assert_eq!(a.origin(&start), Origin::Container(ID.into()));
        // a short-lived process whose /proc entry is gone: cached by namespace
        assert_eq!(
            a.origin(&ev(Kind::Openat, 101, 100, 2, 77)),
            Origin::Container(ID.into())
        );
        // a gone process with a gone parent in an unseen namespace: unknown, not a guess
        assert_eq!(
            a.origin(&ev(Kind::Openat, 201, 200, 2, 88)),
            Origin::Unknown
        );
        // a host process with a private mount namespace
        assert_eq!(a.origin(&ev(Kind::Openat, 300, 1, 300, 99)), Origin::Host);
        // a gone process of a `podman exec` (its parent, the runtime, is on the host) in a
        // container started before the sensor: a live process of the namespace tells
        let other = "4f1c2e5d8a9b0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d";
        w(
            400,
            &format!("0::/machine.slice/libpod-{other}.scope/container\n"),
        );
        std::fs::create_dir_all(d.path().join("400/ns")).unwrap();
        std::os::unix::fs::symlink("mnt:[55]", d.path().join("400/ns/mnt")).unwrap();
        assert_eq!(
            a.origin(&ev(Kind::Exec, 501, 300, 7, 55)),
            Origin::Container(other.into())
        );
        // the runtime's helper, in the container's namespace but not yet in its cgroup:
        // the live container process of that namespace decides
        w(600, "0::/system.slice/podman.service\n");
        w(
            601,
            &format!("0::/machine.slice/libpod-{other}.scope/container\n"),
        );
        for pid in [600, 601] {
            std::fs::create_dir_all(d.path().join(format!("{pid}/ns"))).unwrap();
            std::os::unix::fs::symlink("mnt:[66]", d.path().join(format!("{pid}/ns/mnt"))).unwrap();
        }
        assert_eq!(
            a.origin(&ev(Kind::Setns, 600, 300, 600, 66)),
            Origin::Container(other.into())
        );
        // the container's pid 1 exits: the namespace is forgotten
        let exit = ev(Kind::Exit, 100, 99, 1, 77);
        let o = a.origin(&exit);
        a.after(&exit, &o);
        std::fs::remove_dir_all(d.path().join("100")).unwrap();
        assert_eq!(
            a.origin(&ev(Kind::Openat, 101, 100, 2, 77)),
            Origin::Unknown
        );
    }
}
