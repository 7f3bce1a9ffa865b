//! Learned behaviour profiles: during a learning window per image the sensor records
//! the processes a container runs, the directories it opens files in (reads and writes
//! apart) and the outbound peers it connects to; after the window anything not in the
//! profile raises an "Anomaly: ..." alert.
//!
//! One JSON file per image in the profiles directory, keyed by the image digest (the
//! image name when there is none), written atomically (temp file + rename) when the
//! window closes and at shutdown, loaded at start. A user may edit a profile (add a
//! process, a directory, a peer); a malformed one is refused at start, naming the file
//! and the field. The schema and the directory rule are in docs/sensor.md.
//!
//! The hot path is hash lookups: an event's image key, its exe, its directory (and the
//! directory's ancestors for `DIR/**` entries, through one reused buffer) and its peer
//! are looked up in hash sets; nothing is allocated for an event that is known.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::event::{Kind, SockAddr};
use crate::fields::Event;
use crate::rules::Priority;

/// The profile file format version.
pub const PROFILE_VERSION: u32 = 1;
/// Above this many directories directly below one directory (per access mode), they are
/// replaced by `DIR/**` when a profile is compacted.
pub const DIR_FANOUT: usize = 16;
/// Largest profile file read.
const MAX_PROFILE_BYTES: u64 = 16 << 20;
/// Bound on what one profile learns per kind (processes, directories per mode, peers):
/// beyond it a directory set is compacted at once, and what still does not fit is not
/// learned (it is an anomaly after the window).
pub const MAX_ENTRIES: usize = 4096;
/// Bound on remembered (container, anomaly) pairs (cleared when reached).
const MAX_REPORTED: usize = 65536;

/// A profile file as stored (docs/sensor.md, "Learned profiles").
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ProfileFile {
    /// Format version: 1.
    pub version: u32,
    /// The image reference the profile was learned from.
    pub image: String,
    /// The image digest (`sha256:...`), empty when the image has none.
    #[serde(default)]
    pub digest: String,
    /// The learning window.
    pub learned: Learned,
    /// Executables run.
    #[serde(default)]
    pub processes: Vec<ProcessEntry>,
    /// Directories files were opened in.
    #[serde(default)]
    pub files: Files,
    /// Outbound peers connected to.
    #[serde(default)]
    pub outbound: Vec<Peer>,
}

/// The learning window.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Learned {
    /// RFC 3339 time of the first event of the image (the window's start).
    #[serde(default)]
    pub start: Option<String>,
    /// RFC 3339 time the window closed.
    #[serde(default)]
    pub end: Option<String>,
    /// The window has closed: the profile is enforced. A profile saved at shutdown
    /// before its window closed has `false` and goes on learning at the next start.
    pub complete: bool,
}

/// One executable.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(deny_unknown_fields)]
pub struct ProcessEntry {
    /// The path as exec'd. When empty, `name` alone matches.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub exe: String,
    /// The process name (comm, 15 characters at most).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
}

/// Directories files were opened in, by access mode.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Files {
    /// Opened for reading (a read is also covered by a `write` entry).
    #[serde(default)]
    pub read: Vec<String>,
    /// Opened for writing (O_WRONLY, O_RDWR, O_CREAT or O_TRUNC).
    #[serde(default)]
    pub write: Vec<String>,
}

/// One outbound peer.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(deny_unknown_fields)]
pub struct Peer {
    /// An address (`192.0.2.1`, a `/32` or `/128`) or a range (`10.0.0.0/8`).
    pub cidr: String,
    /// Destination port; 0 = any.
    #[serde(default)]
    pub port: u16,
    /// `TCP`, `UDP` or `SCTP`.
    pub protocol: String,
}

/// Why the profiles cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("profiles directory {path}")]
    Dir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("profile {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("profile {path}: field '{field}': {message}")]
    Invalid {
        path: PathBuf,
        field: String,
        message: String,
    },
    #[error("profile {path}: larger than {MAX_PROFILE_BYTES} bytes")]
    TooLarge { path: PathBuf },
    #[error("profiles {first} and {second} are both for image {key}")]
    Duplicate {
        first: PathBuf,
        second: PathBuf,
        key: String,
    },
    #[error("writing profile {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// An IP protocol as the kernel numbers it (IPPROTO_*).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Proto {
    Tcp,
    Udp,
    Sctp,
}

impl Proto {
    /// From the socket's `sk_protocol` (the BPF side reads it at connect). Unknown (0)
    /// is taken as TCP: a connect on a socket whose protocol could not be read.
    pub fn from_ipproto(n: u64) -> Proto {
        match n {
            17 | 136 => Proto::Udp,
            132 => Proto::Sctp,
            _ => Proto::Tcp,
        }
    }

    /// `TCP`, `UDP`, `SCTP`.
    pub fn name(self) -> &'static str {
        match self {
            Proto::Tcp => "TCP",
            Proto::Udp => "UDP",
            Proto::Sctp => "SCTP",
        }
    }

    fn parse(s: &str) -> Option<Proto> {
        match s.to_ascii_uppercase().as_str() {
            "TCP" => Some(Proto::Tcp),
            "UDP" => Some(Proto::Udp),
            "SCTP" => Some(Proto::Sctp),
            _ => None,
        }
    }
}

/// The outbound IP peer of a connect event (`None` for other events, unix sockets,
/// loopback and unspecified addresses, port 0).
pub fn outbound_peer(ev: &Event) -> Option<(IpAddr, u16, Proto)> {
    if ev.raw.kind != Kind::Connect {
        return None;
    }
    match ev.raw.sockaddr()? {
        SockAddr::Inet(ip, port) => {
            let ip = match ip {
                IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
                v4 => v4,
            };
            if ip.is_loopback() || ip.is_unspecified() || port == 0 {
                return None;
            }
            Some((ip, port, Proto::from_ipproto(ev.raw.args[2])))
        }
        _ => None,
    }
}

/// The directory an opened path is recorded under: its parent directory with every
/// all-digit component replaced by `*` (`/proc/4242/status` → `/proc/*`). `None` for
/// a path that is not absolute.
pub fn dir_key(path: &str) -> Option<Cow<'_, str>> {
    if !path.starts_with('/') {
        return None;
    }
    if path.contains("/./") || path.contains("/../") || path.contains("//") {
        // Lexically normalised first (`/etc/apt/../x` → `/etc/x`), then keyed.
        let mut parts: Vec<&str> = Vec::new();
        for c in path.split('/') {
            match c {
                "" | "." => {}
                ".." => {
                    parts.pop();
                }
                c => parts.push(c),
            }
        }
        let norm = format!("/{}", parts.join("/"));
        return dir_key(&norm).map(|c| Cow::Owned(c.into_owned()));
    }
    let dir = match path.rfind('/') {
        Some(0) => "/",
        Some(i) => &path[..i],
        None => return None,
    };
    let numeric = |c: &str| !c.is_empty() && c.bytes().all(|b| b.is_ascii_digit());
    if !dir.split('/').any(numeric) {
        return Some(Cow::Borrowed(dir));
    }
    let mut out = String::with_capacity(dir.len());
    for (i, c) in dir.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        out.push_str(if numeric(c) { "*" } else { c });
    }
    Some(Cow::Owned(out))
}

/// A set of directory entries (`/a/b`, or `/a/**` for a whole tree).
#[derive(Debug, Default, Clone)]
struct DirSet {
    set: HashSet<String>,
}

impl DirSet {
    /// Whether `dir` (a [`dir_key`]) is covered, using `scratch` for the ancestors'
    /// `/**` forms.
    fn covers(&self, dir: &str, scratch: &mut String) -> bool {
        if self.set.contains(dir) {
            return true;
        }
        if self.set.is_empty() {
            return false;
        }
        let mut d = dir;
        loop {
            scratch.clear();
            scratch.push_str(d.trim_end_matches('/'));
            scratch.push_str("/**");
            if self.set.contains(scratch.as_str()) {
                return true;
            }
            match d.rfind('/') {
                Some(0) if d.len() > 1 => d = "/",
                Some(i) if i > 0 => d = &d[..i],
                _ => return false,
            }
        }
    }

    /// Replaces the entries below any directory with more than [`DIR_FANOUT`] entries
    /// directly below it by `DIR/**`, and drops entries a `/**` entry covers.
    fn compact(&mut self) {
        loop {
            let mut children: HashMap<String, usize> = HashMap::new();
            for e in &self.set {
                if let Some(p) = parent(e) {
                    *children.entry(p.to_string()).or_default() += 1;
                }
            }
            let wide: Vec<String> = children
                .into_iter()
                .filter(|(_, n)| *n > DIR_FANOUT)
                .map(|(p, _)| p)
                .collect();
            if wide.is_empty() {
                break;
            }
            for p in wide {
                let glob = format!("{}/**", p.trim_end_matches('/'));
                self.set.insert(glob);
            }
            self.drop_covered();
        }
        self.drop_covered();
    }

    fn drop_covered(&mut self) {
        let globs: Vec<String> = self
            .set
            .iter()
            .filter_map(|e| e.strip_suffix("/**").map(str::to_string))
            .collect();
        if globs.is_empty() {
            return;
        }
        self.set.retain(|e| {
            !globs.iter().any(|g| {
                let below = |x: &str| x == g || x.starts_with(&format!("{g}/")) || g.is_empty();
                match e.strip_suffix("/**") {
                    Some(inner) => inner != g && below(inner),
                    None => below(e),
                }
            })
        });
    }

    fn sorted(&self) -> Vec<String> {
        let mut v: Vec<String> = self.set.iter().cloned().collect();
        v.sort();
        v
    }
}

/// The parent of a directory entry (`/a/b` → `/a`; `/a/**` → `/a`'s parent is `/`).
fn parent(e: &str) -> Option<&str> {
    let e = e.strip_suffix("/**").unwrap_or(e);
    match e.rfind('/') {
        Some(0) if e.len() > 1 => Some("/"),
        Some(i) if i > 0 => Some(&e[..i]),
        _ => None,
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Net {
    ip: IpAddr,
    prefix: u8,
}

impl Net {
    fn parse(s: &str) -> Option<Net> {
        let (ip, prefix) = match s.split_once('/') {
            Some((ip, p)) => (ip.parse::<IpAddr>().ok()?, p.parse::<u8>().ok()?),
            None => {
                let ip = s.parse::<IpAddr>().ok()?;
                (ip, if ip.is_ipv4() { 32 } else { 128 })
            }
        };
        let max = if ip.is_ipv4() { 32 } else { 128 };
        (prefix <= max).then_some(Net { ip, prefix })
    }

    fn contains(&self, ip: IpAddr) -> bool {
        match (self.ip, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }

    fn is_host(&self) -> bool {
        self.prefix == if self.ip.is_ipv4() { 32 } else { 128 }
    }

    fn text(&self) -> String {
        if self.is_host() {
            self.ip.to_string()
        } else {
            format!("{}/{}", self.ip, self.prefix)
        }
    }
}

/// One image's profile in memory.
#[derive(Debug)]
struct Profile {
    path: PathBuf,
    image: String,
    digest: String,
    /// Monotonic time the window started in this run (first event seen).
    start_ns: Option<u64>,
    start: Option<String>,
    end: Option<String>,
    complete: bool,
    dirty: bool,
    /// exe path → name
    exes: HashMap<String, String>,
    /// name-only entries
    names: HashSet<String>,
    read: DirSet,
    write: DirSet,
    /// exact peers (address, port, protocol); port 0 = any
    hosts: HashSet<(IpAddr, u16, Proto)>,
    /// ranges (user-edited)
    nets: Vec<(Net, u16, Proto)>,
}

impl Profile {
    fn from_file(path: PathBuf, f: ProfileFile) -> Result<Profile, ProfileError> {
        let bad = |field: String, message: String| ProfileError::Invalid {
            path: path.clone(),
            field,
            message,
        };
        if f.version != PROFILE_VERSION {
            return Err(bad(
                "version".into(),
                format!("{} is not a supported version (1)", f.version),
            ));
        }
        if f.image.is_empty() && f.digest.is_empty() {
            return Err(bad(
                "image".into(),
                "image and digest are both empty".into(),
            ));
        }
        let mut p = Profile::empty(path.clone(), f.image, f.digest);
        p.start = f.learned.start;
        p.end = f.learned.end;
        p.complete = f.learned.complete;
        for (i, e) in f.processes.into_iter().enumerate() {
            if e.exe.is_empty() && e.name.is_empty() {
                return Err(bad(format!("processes[{i}]"), "needs exe or name".into()));
            }
            if e.exe.is_empty() {
                p.names.insert(e.name);
            } else {
                p.exes.insert(e.exe, e.name);
            }
        }
        for (mode, list, set) in [
            ("read", f.files.read, &mut p.read),
            ("write", f.files.write, &mut p.write),
        ] {
            for (i, d) in list.into_iter().enumerate() {
                if !d.starts_with('/') {
                    return Err(bad(
                        format!("files.{mode}[{i}]"),
                        format!("{d:?} is not an absolute directory"),
                    ));
                }
                let d = if d.len() > 1 && d.ends_with('/') && !d.ends_with("/**") {
                    d.trim_end_matches('/').to_string()
                } else {
                    d
                };
                set.set.insert(d);
            }
        }
        for (i, peer) in f.outbound.into_iter().enumerate() {
            let net = Net::parse(&peer.cidr).ok_or_else(|| {
                bad(
                    format!("outbound[{i}].cidr"),
                    format!("{:?} is not an address or CIDR range", peer.cidr),
                )
            })?;
            let proto = Proto::parse(&peer.protocol).ok_or_else(|| {
                bad(
                    format!("outbound[{i}].protocol"),
                    format!("{:?} is not TCP, UDP or SCTP", peer.protocol),
                )
            })?;
            if net.is_host() {
                p.hosts.insert((net.ip, peer.port, proto));
            } else {
                p.nets.push((net, peer.port, proto));
            }
        }
        Ok(p)
    }

    fn empty(path: PathBuf, image: String, digest: String) -> Profile {
        Profile {
            path,
            image,
            digest,
            start_ns: None,
            start: None,
            end: None,
            complete: false,
            dirty: false,
            exes: HashMap::new(),
            names: HashSet::new(),
            read: DirSet::default(),
            write: DirSet::default(),
            hosts: HashSet::new(),
            nets: Vec::new(),
        }
    }

    fn to_file(&self) -> ProfileFile {
        let mut processes: BTreeSet<ProcessEntry> = self
            .exes
            .iter()
            .map(|(exe, name)| ProcessEntry {
                exe: exe.clone(),
                name: name.clone(),
            })
            .collect();
        processes.extend(self.names.iter().map(|n| ProcessEntry {
            exe: String::new(),
            name: n.clone(),
        }));
        let mut outbound: BTreeSet<Peer> = self
            .hosts
            .iter()
            .map(|(ip, port, proto)| Peer {
                cidr: ip.to_string(),
                port: *port,
                protocol: proto.name().into(),
            })
            .collect();
        outbound.extend(self.nets.iter().map(|(n, port, proto)| Peer {
            cidr: n.text(),
            port: *port,
            protocol: proto.name().into(),
        }));
        ProfileFile {
            version: PROFILE_VERSION,
            image: self.image.clone(),
            digest: self.digest.clone(),
            learned: Learned {
                start: self.start.clone(),
                end: self.end.clone(),
                complete: self.complete,
            },
            processes: processes.into_iter().collect(),
            files: Files {
                read: self.read.sorted(),
                write: self.write.sorted(),
            },
            outbound: outbound.into_iter().collect(),
        }
    }

    fn knows_exe(&self, exe: &str, name: &str) -> bool {
        self.exes.contains_key(exe) || self.names.contains(name)
    }

    fn knows_peer(&self, ip: IpAddr, port: u16, proto: Proto) -> bool {
        self.hosts.contains(&(ip, port, proto))
            || self.hosts.contains(&(ip, 0, proto))
            || self
                .nets
                .iter()
                .any(|(n, p, pr)| *pr == proto && (*p == 0 || *p == port) && n.contains(ip))
    }
}

/// What an event adds to a profile (or what is new about it).
#[derive(Debug, Clone, PartialEq)]
pub enum Observation {
    Process { exe: String, name: String },
    File { dir: String, write: bool },
    Peer { ip: IpAddr, port: u16, proto: Proto },
}

/// An anomaly found after a profile's window: the alert to raise.
#[derive(Debug, Clone, PartialEq)]
pub struct Anomaly {
    /// `Anomaly: new process`, `Anomaly: file opened in a new directory`,
    /// `Anomaly: new outbound connection`.
    pub rule: &'static str,
    pub priority: Priority,
    pub output: String,
    pub tags: Vec<String>,
}

/// The profiles of every image, learning or enforcing.
pub struct Profiles {
    dir: PathBuf,
    learn: Duration,
    by_key: HashMap<String, Profile>,
    /// (container id, observation text) already reported.
    reported: HashSet<(String, String)>,
    scratch: String,
    /// Anomaly alerts raised.
    pub anomalies: u64,
    /// Profile files written.
    pub writes: u64,
}

/// Keeps a file name safe: the key's characters other than `[A-Za-z0-9._-]` become `_`.
fn file_name(key: &str) -> String {
    let mut s: String = key
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    s.truncate(200);
    format!("{s}.json")
}

/// Writes `bytes` to `path` atomically: a temporary file in the same directory, synced,
/// then renamed over `path`.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp.{}", std::process::id()));
    let res = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if res.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    res
}

/// Parses one profile file's text; errors name the file and the field.
pub fn parse_profile(path: &Path, bytes: &[u8]) -> Result<ProfileFile, ProfileError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let field = e.path().to_string();
        ProfileError::Invalid {
            path: path.to_path_buf(),
            field: if field == "." {
                "(top level)".into()
            } else {
                field
            },
            message: e.into_inner().to_string(),
        }
    })
}

impl Profiles {
    /// Loads every `*.json` profile in `dir` (created when missing). `learn` is the
    /// learning window per image.
    pub fn load(dir: &Path, learn: Duration) -> Result<Profiles, ProfileError> {
        let derr = |source| ProfileError::Dir {
            path: dir.to_path_buf(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(derr)?;
        let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(derr)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.extension().is_some_and(|x| x == "json")
                    && !p
                        .file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with('.'))
            })
            .collect();
        paths.sort();
        let mut by_key: HashMap<String, Profile> = HashMap::new();
        for path in paths {
            use std::io::Read;
            let rerr = |source| ProfileError::Read {
                path: path.clone(),
                source,
            };
            let f = std::fs::File::open(&path).map_err(rerr)?;
            let mut bytes = Vec::new();
            f.take(MAX_PROFILE_BYTES + 1)
                .read_to_end(&mut bytes)
                .map_err(rerr)?;
            if bytes.len() as u64 > MAX_PROFILE_BYTES {
                return Err(ProfileError::TooLarge { path });
            }
            let file = parse_profile(&path, &bytes)?;
            let p = Profile::from_file(path.clone(), file)?;
            let key = if p.digest.is_empty() {
                p.image.clone()
            } else {
                p.digest.clone()
            };
            if let Some(other) = by_key.get(&key) {
                return Err(ProfileError::Duplicate {
                    first: other.path.clone(),
                    second: path,
                    key,
                });
            }
            by_key.insert(key, p);
        }
        tracing::info!(
            dir = %dir.display(),
            profiles = by_key.len(),
            enforced = by_key.values().filter(|p| p.complete).count(),
            "profiles loaded"
        );
        Ok(Profiles {
            dir: dir.to_path_buf(),
            learn,
            by_key,
            reported: HashSet::new(),
            scratch: String::new(),
            anomalies: 0,
            writes: 0,
        })
    }

    /// Whether the profile for `image_key` is being enforced.
    pub fn is_enforced(&self, image_key: &str) -> bool {
        self.by_key.get(image_key).is_some_and(|p| p.complete)
    }

    /// Handles one event: learns from it during the window, or returns the anomaly it
    /// is after the window. Events without image metadata are ignored, as are the
    /// container runtime's own helpers (`runc:[...]`, before the user's process runs).
    pub fn observe(&mut self, ev: &Event) -> Option<Anomaly> {
        let meta = ev.meta.as_deref()?;
        if ev.raw.comm.starts_with("runc:[") {
            return None;
        }
        let key: &str = if meta.image_digest.is_empty() {
            &meta.image
        } else {
            &meta.image_digest
        };
        if key.is_empty() {
            return None;
        }
        if !self.by_key.contains_key(key) {
            let path = self.dir.join(file_name(key));
            let p = Profile::empty(path, meta.image.clone(), meta.image_digest.clone());
            self.by_key.insert(key.to_string(), p);
        }
        let learn = self.learn;
        let p = self.by_key.get_mut(key)?;
        if !p.complete {
            let start = *p.start_ns.get_or_insert(ev.raw.ts_ns);
            if p.start.is_none() {
                p.start = Some(crate::output::rfc3339(ev.time));
                p.dirty = true;
            }
            if ev.raw.ts_ns.saturating_sub(start) < learn.as_nanos() as u64 {
                learn_event(p, ev);
                return None;
            }
            close(p, ev.time);
        }
        let obs = {
            let scratch = &mut self.scratch;
            new_in(p, ev, scratch)?
        };
        let id = ev.field("container.id").map(|v| v.text())?;
        let text = obs_text(&obs);
        if self.reported.len() >= MAX_REPORTED {
            self.reported.clear();
        }
        if !self.reported.insert((id, text.clone())) {
            return None;
        }
        self.anomalies += 1;
        Some(anomaly(&obs, &meta.image))
    }

    /// Closes windows that have run out (called about once a second) and writes the
    /// profiles that changed. Returns the write errors (logged by the caller).
    pub fn tick(&mut self, now_ns: u64) -> Vec<ProfileError> {
        let learn = self.learn.as_nanos() as u64;
        for p in self.by_key.values_mut() {
            if let (false, Some(s)) = (p.complete, p.start_ns) {
                if now_ns.saturating_sub(s) >= learn {
                    close(p, SystemTime::now());
                }
            }
        }
        self.save(false)
    }

    /// Writes every changed profile (`all`: also those still learning — at shutdown).
    pub fn save(&mut self, all: bool) -> Vec<ProfileError> {
        let mut errs = Vec::new();
        for p in self.by_key.values_mut() {
            if !p.dirty || (!all && !p.complete) {
                continue;
            }
            p.read.compact();
            p.write.compact();
            let file = p.to_file();
            let res = serde_json::to_vec_pretty(&file)
                .map_err(std::io::Error::other)
                .and_then(|mut b| {
                    b.push(b'\n');
                    write_atomic(&p.path, &b)
                });
            match res {
                Ok(()) => {
                    p.dirty = false;
                    self.writes += 1;
                    tracing::info!(path = %p.path.display(), complete = p.complete, "profile written");
                }
                Err(source) => errs.push(ProfileError::Write {
                    path: p.path.clone(),
                    source,
                }),
            }
        }
        errs
    }
}

fn close(p: &mut Profile, at: SystemTime) {
    p.complete = true;
    p.end = Some(crate::output::rfc3339(at));
    p.dirty = true;
    tracing::info!(image = %p.image, digest = %p.digest, processes = p.exes.len(),
        "learning window closed: profile enforced");
}

fn exe_of(ev: &Event) -> &str {
    &ev.raw.str1
}

fn learn_event(p: &mut Profile, ev: &Event) {
    match ev.raw.kind {
        Kind::Exec => {
            let exe = exe_of(ev);
            if !exe.is_empty() && !p.exes.contains_key(exe) && p.exes.len() < MAX_ENTRIES {
                p.exes.insert(exe.to_string(), ev.raw.comm.clone());
                p.dirty = true;
            }
        }
        Kind::Openat | Kind::Openat2 => {
            let write = is_write(ev);
            if let Some(d) = dir_key(&ev.path) {
                let set = if write { &mut p.write } else { &mut p.read };
                if !set.set.contains(d.as_ref()) {
                    if set.set.len() >= MAX_ENTRIES {
                        set.compact();
                    }
                    if set.set.len() < MAX_ENTRIES {
                        set.set.insert(d.into_owned());
                        p.dirty = true;
                    }
                }
            }
        }
        Kind::Connect => {
            if let Some(peer) = outbound_peer(ev) {
                if p.hosts.len() < MAX_ENTRIES && p.hosts.insert(peer) {
                    p.dirty = true;
                }
            }
        }
        _ => {}
    }
}

fn is_write(ev: &Event) -> bool {
    const W: u64 = 1 | 2 | 0o100 | 0o1000;
    ev.raw.args[1] & W != 0
}

/// What is new about `ev` for the enforced profile `p`.
fn new_in(p: &Profile, ev: &Event, scratch: &mut String) -> Option<Observation> {
    match ev.raw.kind {
        Kind::Exec => {
            let exe = exe_of(ev);
            (!p.knows_exe(exe, &ev.raw.comm)).then(|| Observation::Process {
                exe: exe.to_string(),
                name: ev.raw.comm.clone(),
            })
        }
        Kind::Openat | Kind::Openat2 => {
            let d = dir_key(&ev.path)?;
            let write = is_write(ev);
            let known = p.write.covers(&d, scratch) || (!write && p.read.covers(&d, scratch));
            (!known).then(|| Observation::File {
                dir: d.into_owned(),
                write,
            })
        }
        Kind::Connect => {
            let (ip, port, proto) = outbound_peer(ev)?;
            (!p.knows_peer(ip, port, proto)).then_some(Observation::Peer { ip, port, proto })
        }
        _ => None,
    }
}

fn obs_text(o: &Observation) -> String {
    match o {
        Observation::Process { exe, name } => format!("process {exe} ({name})"),
        Observation::File { dir, write } => {
            format!("{} {dir}", if *write { "write" } else { "read" })
        }
        Observation::Peer { ip, port, proto } => format!("peer {ip} {port}/{}", proto.name()),
    }
}

fn anomaly(o: &Observation, image: &str) -> Anomaly {
    let tags = |t: &[&str]| -> Vec<String> { t.iter().map(|s| s.to_string()).collect() };
    match o {
        Observation::Process { exe, name } => Anomaly {
            rule: "Anomaly: new process",
            priority: Priority::Warning,
            output: format!("Process not in the learned profile of {image} (exe={exe} name={name})"),
            tags: tags(&["container", "anomaly", "process"]),
        },
        Observation::File { dir, write } => Anomaly {
            rule: "Anomaly: file opened in a new directory",
            priority: Priority::Notice,
            output: format!(
                "File opened for {} in a directory not in the learned profile of {image} (directory={dir})",
                if *write { "writing" } else { "reading" }
            ),
            tags: tags(&["container", "anomaly", "filesystem"]),
        },
        Observation::Peer { ip, port, proto } => Anomaly {
            rule: "Anomaly: new outbound connection",
            priority: Priority::Warning,
            output: format!(
                "Outbound connection not in the learned profile of {image} (peer={ip} port={port} protocol={})",
                proto.name()
            ),
            tags: tags(&["container", "anomaly", "network"]),
        },
    }
}

/// The profile files in a directory, keyed by image key (for tests and tools).
pub fn read_dir_files(dir: &Path) -> Result<BTreeMap<String, ProfileFile>, ProfileError> {
    let mut out = BTreeMap::new();
    let derr = |source| ProfileError::Dir {
        path: dir.to_path_buf(),
        source,
    };
    for e in std::fs::read_dir(dir).map_err(derr)? {
        let path = e.map_err(derr)?.path();
        if path.extension().is_some_and(|x| x == "json") {
            let bytes = std::fs::read(&path).map_err(|source| ProfileError::Read {
                path: path.clone(),
                source,
            })?;
            let f = parse_profile(&path, &bytes)?;
            let key = if f.digest.is_empty() {
                f.image.clone()
            } else {
                f.digest.clone()
            };
            out.insert(key, f);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::podman::ContainerMeta;
    use std::sync::Arc;

    #[test]
    fn dir_keys_replace_numeric_components() {
        assert_eq!(dir_key("/proc/4242/status").as_deref(), Some("/proc/*"));
        assert_eq!(dir_key("/etc/passwd").as_deref(), Some("/etc"));
        assert_eq!(dir_key("/x").as_deref(), Some("/"));
        assert_eq!(
            dir_key("/usr/lib/python3.11/x.py").as_deref(),
            Some("/usr/lib/python3.11")
        );
        assert_eq!(dir_key("relative/x"), None);
        assert_eq!(dir_key("/etc/apt/../x").as_deref(), Some("/etc"));
        assert_eq!(dir_key("/a/./b//c").as_deref(), Some("/a/b"));
    }

    #[test]
    fn dirset_covers_exact_and_trees_and_compacts() {
        let mut s = DirSet::default();
        s.set.insert("/etc".into());
        s.set.insert("/usr/lib/**".into());
        let mut b = String::new();
        assert!(s.covers("/etc", &mut b));
        assert!(!s.covers("/etc/ssl", &mut b));
        assert!(s.covers("/usr/lib", &mut b));
        assert!(s.covers("/usr/lib/x86_64-linux-gnu/gconv", &mut b));
        assert!(!s.covers("/usr", &mut b));
        assert!(!s.covers("/", &mut b));
        let mut s = DirSet::default();
        for i in 0..=DIR_FANOUT {
            s.set.insert(format!("/tmp/job-{i}"));
            s.set.insert(format!("/tmp/job-{i}/sub"));
        }
        s.set.insert("/var/log".into());
        s.compact();
        assert_eq!(
            s.sorted(),
            vec!["/tmp/**".to_string(), "/var/log".to_string()]
        );
        let mut root = DirSet::default();
        root.set.insert("/**".into());
        assert!(root.covers("/anything/at/all", &mut b));
    }

    #[test]
    fn malformed_profiles_name_the_field() {
        let p = Path::new("img.json");
        let e = parse_profile(
            p,
            br#"{"version":1,"image":"x","learned":{"complete":true},"processes":[{"exe":3}]}"#,
        )
        .unwrap_err();
        assert!(
            e.to_string().contains("img.json: field 'processes[0].exe'"),
            "{e}"
        );
        let e = parse_profile(
            p,
            br#"{"version":1,"image":"x","learned":{"complete":true},"procs":[]}"#,
        )
        .unwrap_err();
        assert!(e.to_string().contains("procs"), "{e}");
        let f = parse_profile(
            p,
            br#"{"version":1,"image":"x","learned":{"complete":true},"outbound":[{"cidr":"10.0.0.0/33","protocol":"TCP"}]}"#,
        )
        .unwrap();
        let e = Profile::from_file(p.into(), f).unwrap_err();
        assert!(e.to_string().contains("field 'outbound[0].cidr'"), "{e}");
        let f = parse_profile(
            p,
            br#"{"version":2,"image":"x","learned":{"complete":true}}"#,
        )
        .unwrap();
        let e = Profile::from_file(p.into(), f).unwrap_err();
        assert!(e.to_string().contains("field 'version'"), "{e}");
    }

    fn open_event(path: &str, meta: &Arc<ContainerMeta>, ts_ns: u64) -> Event {
        Event {
            raw: crate::event::RawEvent {
                ts_ns,
                cap_eff: 0,
                args: [0; 4],
                kind: Kind::Openat,
                pid: 4242,
                tid: 4242,
                ppid: 1,
                vpid: 7,
                uid: 0,
                gid: 0,
                mntns: 9,
                pidns: 9,
                flags: 0,
                comm: "app".into(),
                pcomm: "sh".into(),
                str1: path.into(),
                str2: Vec::new(),
                str3: String::new(),
            },
            time: SystemTime::now(),
            origin: crate::attrib::Origin::Container(meta.id.clone()),
            meta: Some(meta.clone()),
            proc: None,
            path: path.into(),
        }
    }

    /// Learns a window of opens, then checks known and new ones; prints the cost of a
    /// known event (`cargo nextest run -p bulwark-sensor --lib profile --no-capture`).
    #[test]
    fn learns_then_flags_new_directories_cheaply() {
        let d = tempfile::tempdir().unwrap();
        let mut p = Profiles::load(d.path(), Duration::from_secs(1)).unwrap();
        let meta = Arc::new(ContainerMeta {
            id: "c".repeat(64),
            image: "localhost/app:1".into(),
            image_digest: "sha256:abc".into(),
            ..Default::default()
        });
        let known = [
            "/etc/passwd",
            "/usr/lib/x86_64-linux-gnu/libc.so.6",
            "/proc/17/status",
            "/usr/share/zoneinfo/Europe/Paris",
        ];
        for (i, f) in known.iter().enumerate() {
            assert_eq!(p.observe(&open_event(f, &meta, i as u64)), None);
        }
        // after the window (event clock): known paths are quiet, a new directory is not
        let after = 2_000_000_000;
        let events: Vec<Event> = [
            "/etc/group",
            "/usr/lib/x86_64-linux-gnu/libm.so.6",
            "/proc/99/stat",
            "/usr/share/zoneinfo/Europe/Oslo",
        ]
        .iter()
        .map(|f| open_event(f, &meta, after))
        .collect();
        let n = 200_000;
        let t0 = std::time::Instant::now();
        for i in 0..n {
            assert_eq!(p.observe(&events[i % events.len()]), None);
        }
        let per = t0.elapsed().as_nanos() as f64 / n as f64;
        eprintln!("profile lookup of a known open: {per:.0} ns/event");
        let a = p
            .observe(&open_event("/root/.ssh/id_rsa", &meta, after))
            .unwrap();
        assert_eq!(a.rule, "Anomaly: file opened in a new directory");
        assert!(a.output.contains("directory=/root/.ssh"), "{}", a.output);
        // reported once per container
        assert_eq!(
            p.observe(&open_event("/root/.ssh/id_rsa", &meta, after)),
            None
        );
        assert!(p.save(true).is_empty());
        let files = read_dir_files(d.path()).unwrap();
        let f = &files["sha256:abc"];
        assert!(f.learned.complete);
        assert_eq!(
            f.files.read,
            vec![
                "/etc",
                "/proc/*",
                "/usr/lib/x86_64-linux-gnu",
                "/usr/share/zoneinfo/Europe"
            ]
        );
    }

    #[test]
    fn a_profile_saved_while_learning_goes_on_learning_after_a_restart() {
        let d = tempfile::tempdir().unwrap();
        let meta = Arc::new(ContainerMeta {
            id: "c".repeat(64),
            image: "localhost/app:1".into(),
            ..Default::default()
        });
        let mut p = Profiles::load(d.path(), Duration::from_secs(60)).unwrap();
        assert_eq!(p.observe(&open_event("/etc/passwd", &meta, 0)), None);
        assert!(p.save(true).is_empty());
        let f = &read_dir_files(d.path()).unwrap()["localhost/app:1"];
        assert!(!f.learned.complete);
        assert_eq!(f.files.read, vec!["/etc"]);
        // restarted (a new monotonic clock): the window starts again at the next event
        let mut p = Profiles::load(d.path(), Duration::from_secs(60)).unwrap();
        assert!(!p.is_enforced("localhost/app:1"));
        let t = 500_000_000_000;
        assert_eq!(p.observe(&open_event("/var/log/app.log", &meta, t)), None);
        let after = t + 61_000_000_000;
        assert_eq!(p.observe(&open_event("/etc/hosts", &meta, after)), None);
        assert_eq!(p.observe(&open_event("/var/log/x", &meta, after)), None);
        assert!(p.is_enforced("localhost/app:1"));
        let a = p
            .observe(&open_event("/srv/new/file", &meta, after))
            .unwrap();
        assert!(a.output.contains("directory=/srv/new"), "{}", a.output);
    }

    #[test]
    fn peers_match_hosts_any_port_and_ranges() {
        let f = ProfileFile {
            version: 1,
            image: "i".into(),
            learned: Learned {
                complete: true,
                ..Default::default()
            },
            outbound: vec![
                Peer {
                    cidr: "192.0.2.1".into(),
                    port: 443,
                    protocol: "TCP".into(),
                },
                Peer {
                    cidr: "198.51.100.0/24".into(),
                    port: 0,
                    protocol: "udp".into(),
                },
            ],
            ..Default::default()
        };
        let p = Profile::from_file("p.json".into(), f).unwrap();
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(p.knows_peer(ip("192.0.2.1"), 443, Proto::Tcp));
        assert!(!p.knows_peer(ip("192.0.2.1"), 444, Proto::Tcp));
        assert!(!p.knows_peer(ip("192.0.2.1"), 443, Proto::Udp));
        assert!(p.knows_peer(ip("198.51.100.77"), 53, Proto::Udp));
        assert!(!p.knows_peer(ip("198.51.101.1"), 53, Proto::Udp));
        // round trip
        let back = p.to_file();
        assert_eq!(back.outbound.len(), 2);
        assert!(back
            .outbound
            .iter()
            .any(|x| x.cidr == "198.51.100.0/24" && x.protocol == "UDP"));
    }
}
