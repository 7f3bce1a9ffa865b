//! Placement reports: which images run on this node, from the container runtime's list
//! of running containers, for the bulwark server's `PUT /v1/placements` (the sender is
//! a [`Report`] the caller supplies; `bulwark sensor --server` gives the server client).
//!
//! Every report is the whole picture of the node (`complete: true` with the node set),
//! so containers that stopped disappear from the server. A report is sent at start,
//! every period (`every`, refreshing `last_seen` even when nothing changed), and soon
//! after the sensor sees a container's first process exec or exit ([`Reporter::nudger`]):
//! the list is read again 1 s and 5 s later (the runtime records a start or exit a
//! moment after the kernel) and sent when it changed. Nudges cost a `try_send` on a
//! channel of one: the event loop never waits on any of it.
//!
//! Mapping of a container (see [`workload_of`]):
//! - Kubernetes pods run by a CRI runtime carry `io.kubernetes.pod.namespace`,
//!   `io.kubernetes.pod.name` and `io.kubernetes.container.name`: the namespace, kind
//!   `Pod` and the pod's name (the runtime does not say which controller owns the pod,
//!   and a name is no proof of it), the container's name. Sandbox (pause) containers —
//!   no container-name label, the name `POD`, or `io.kubernetes.docker.type=podsandbox`
//!   — are not placements.
//! - Other containers: the namespace is the `bulwark.namespace` label, else `podman`
//!   (what the sensor's flow export uses too); a container in a podman pod is kind `Pod`
//!   with the pod's name, any other kind `Container` with the container's name; the
//!   container is the container's name. Podman pods' infra containers are left out.
//!
//! The digest is the image's repo digest (`RepoDigests`, the one of the container's
//! image repository when there are several): a container whose image has none (built
//! locally and never pushed or pulled by digest) is left out and counted
//! ([`Counters::no_digest`]). Fail closed: when the runtime cannot be listed (or an
//! image cannot be inspected) nothing is sent — an empty complete report would wipe the
//! node — and the read is retried with backoff (1 s doubling to 30 s), as is a send the
//! server did not take (transport error, 5xx, 429). A refusal a retry cannot fix (other
//! 4xx) is logged and counted; the next period tries again.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::podman::{repo_digest, ApiError, Client, Running};

/// Most placements in one report (the server's limit); more are left out and counted.
pub const MAX_PLACEMENTS: usize = 10_000;
/// When the list is read again after a container start or exit.
pub const SETTLE: [Duration; 2] = [Duration::from_secs(1), Duration::from_secs(5)];
const BACKOFF_MIN: Duration = Duration::from_secs(1);
const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// Most image digests remembered between reads.
const MAX_IMAGES: usize = 4096;
/// Longest field the server takes.
const MAX_FIELD: usize = 253;

/// One running container as the server's placement (the node is the report's).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Placement {
    pub namespace: String,
    pub workload_kind: String,
    pub workload: String,
    pub container: String,
    /// The image's repo digest (`sha256:...`).
    pub image_digest: String,
    /// The image reference the container was created from.
    pub image_ref: Option<String>,
}

/// Why a report was not taken.
#[derive(Debug)]
pub enum SendError {
    /// Worth retrying (transport error, 5xx, 429).
    Retry(String),
    /// A retry would not fix it (another 4xx).
    Refused(String),
}

/// Sends a node's whole picture (`complete: true`); returns how many the server stored.
pub trait Report: Send {
    fn send(&mut self, node: &str, placements: &[Placement]) -> Result<u64, SendError>;
}

/// What the reporter did (for logs, the exit summary and tests).
#[derive(Debug, Default)]
pub struct Counters {
    /// Reports the server took.
    pub reports: AtomicU64,
    /// Placements in the last report taken.
    pub placed: AtomicU64,
    /// Containers left out of the last report read: no sha256 repo digest.
    pub no_digest: AtomicU64,
    /// Containers left out of the last report read: a field the server would refuse
    /// (empty, longer than 253 characters, control characters) or past
    /// [`MAX_PLACEMENTS`].
    pub unusable: AtomicU64,
    /// Container starts and exits heard of.
    pub nudges: AtomicU64,
    /// Reads of the runtime that failed (retried).
    pub list_errors: AtomicU64,
    /// Sends that failed and were retried.
    pub send_errors: AtomicU64,
    /// Reports the server refused (not retried until the next period).
    pub refused: AtomicU64,
}

/// Where a container runs: (namespace, kind, workload, container), or `None` for a
/// container that is not a workload's (a pod's sandbox or infra container).
pub fn workload_of(c: &Running) -> Option<(String, String, String, String)> {
    let label = |k: &str| c.labels.get(k).filter(|v| !v.is_empty());
    if let Some(ns) = label("io.kubernetes.pod.namespace") {
        let pod = label("io.kubernetes.pod.name")?;
        let container = label("io.kubernetes.container.name")?;
        if container == "POD"
            || label("io.kubernetes.docker.type").is_some_and(|t| t == "podsandbox")
        {
            return None;
        }
        return Some((ns.clone(), "Pod".into(), pod.clone(), container.clone()));
    }
    if c.infra {
        return None;
    }
    let name = if c.name.is_empty() {
        c.id.chars().take(12).collect()
    } else {
        c.name.clone()
    };
    let ns = label("bulwark.namespace")
        .cloned()
        .unwrap_or_else(|| "podman".into());
    if c.pod.is_empty() {
        Some((ns, "Container".into(), name.clone(), name))
    } else {
        Some((ns, "Pod".into(), c.pod.clone(), name))
    }
}

fn usable(s: &str) -> bool {
    !s.is_empty() && s.len() <= MAX_FIELD && !s.chars().any(char::is_control)
}

/// What one read of the runtime gave.
#[derive(Debug, Default, PartialEq)]
pub struct Picture {
    /// Sorted by key, one per key.
    pub placements: Vec<Placement>,
    pub no_digest: u64,
    pub unusable: u64,
}

/// The node's placements from the running containers; `digest` gives an image's repo
/// digest (`None`: it has none).
pub fn picture(
    running: &[Running],
    mut digest: impl FnMut(&Running) -> Result<Option<String>, ApiError>,
) -> Result<Picture, ApiError> {
    let mut by_key: BTreeMap<(String, String, String, String), Placement> = BTreeMap::new();
    let mut pic = Picture::default();
    let mut sorted: Vec<&Running> = running.iter().collect();
    sorted.sort_by(|a, b| a.id.cmp(&b.id));
    for c in sorted {
        let Some((namespace, workload_kind, workload, container)) = workload_of(c) else {
            continue;
        };
        let Some(d) = digest(c)? else {
            pic.no_digest += 1;
            tracing::debug!(container = %c.name, image = %c.image, "no repo digest: not placed");
            continue;
        };
        if ![&namespace, &workload_kind, &workload, &container]
            .iter()
            .all(|f| usable(f))
        {
            pic.unusable += 1;
            continue;
        }
        let image_ref = Some(c.image.clone()).filter(|r| usable(r) && r.len() <= 2048);
        by_key
            .entry((
                namespace.clone(),
                workload_kind.clone(),
                workload.clone(),
                container.clone(),
            ))
            .or_insert(Placement {
                namespace,
                workload_kind,
                workload,
                container,
                image_digest: d,
                image_ref,
            });
    }
    pic.placements = by_key.into_values().collect();
    if pic.placements.len() > MAX_PLACEMENTS {
        pic.unusable += (pic.placements.len() - MAX_PLACEMENTS) as u64;
        pic.placements.truncate(MAX_PLACEMENTS);
    }
    Ok(pic)
}

/// The reporter's thread: started by [`Reporter::start`], stopped when every nudger
/// (and the reporter) is dropped.
pub struct Reporter {
    nudge: SyncSender<()>,
    counters: Arc<Counters>,
}

impl Reporter {
    /// Starts the thread: reports `node`'s containers listed by `api` through `sink`
    /// at once and every `every`.
    pub fn start(
        api: Client,
        sink: Box<dyn Report>,
        node: String,
        every: Duration,
    ) -> std::io::Result<Reporter> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let counters = Arc::new(Counters::default());
        let mut worker = Worker {
            api,
            sink,
            node,
            every,
            counters: counters.clone(),
            digests: HashMap::new(),
            last_sent: None,
        };
        std::thread::Builder::new()
            .name("bulwark-placements".into())
            .spawn(move || worker.run(&rx))?;
        Ok(Reporter {
            nudge: tx,
            counters,
        })
    }

    /// What the sensor loop holds to say "a container started or exited" (never blocks).
    pub fn nudger(&self) -> SyncSender<()> {
        self.nudge.clone()
    }

    /// The counters.
    pub fn counters(&self) -> Arc<Counters> {
        self.counters.clone()
    }
}

/// How a round went.
enum Round {
    Done,
    Retry,
}

struct Worker {
    api: Client,
    sink: Box<dyn Report>,
    node: String,
    every: Duration,
    counters: Arc<Counters>,
    /// (image id, image reference) -> repo digest, for images that have one.
    digests: HashMap<(String, String), String>,
    last_sent: Option<Vec<Placement>>,
}

impl Worker {
    fn run(&mut self, rx: &Receiver<()>) {
        let mut next_full = Instant::now();
        let mut checks: Vec<Instant> = Vec::new();
        let mut backoff = BACKOFF_MIN;
        loop {
            let due = checks
                .iter()
                .copied()
                .chain([next_full])
                .min()
                .unwrap_or(next_full);
            let wait = due.saturating_duration_since(Instant::now());
            if !wait.is_zero() {
                match rx.recv_timeout(wait) {
                    Ok(()) => {
                        self.counters.nudges.fetch_add(1, Ordering::Relaxed);
                        let now = Instant::now();
                        if !checks.iter().any(|t| *t <= now + SETTLE[0]) {
                            checks.push(now + SETTLE[0]);
                        }
                        if !checks.iter().any(|t| *t + SETTLE[0] >= now + SETTLE[1]) {
                            checks.push(now + SETTLE[1]);
                        }
                        continue;
                    }
                    Err(RecvTimeoutError::Timeout) => {}
                    Err(RecvTimeoutError::Disconnected) => return,
                }
            }
            let now = Instant::now();
            let full = now >= next_full;
            checks.retain(|t| *t > now);
            match self.round(full) {
                Round::Done => {
                    backoff = BACKOFF_MIN;
                    if full {
                        next_full = now + self.every;
                    }
                }
                Round::Retry => {
                    // A failed periodic round is due again after the backoff (its time
                    // is past); a failed check brings the next full round forward.
                    next_full = if full {
                        now + backoff
                    } else {
                        next_full.min(now + backoff)
                    };
                    backoff = (backoff * 2).min(BACKOFF_MAX);
                }
            }
        }
    }

    fn digest_of(&mut self, c: &Running) -> Result<Option<String>, ApiError> {
        let key = (c.image_id.clone(), c.image.clone());
        if let Some(d) = self.digests.get(&key) {
            return Ok(Some(d.clone()));
        }
        let all = match self.api.repo_digests(&c.image_id) {
            Ok(a) => a,
            // Removed since the list was read.
            Err(ApiError::Status { status: 404, .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        let d = repo_digest(&all, &c.image);
        if let Some(d) = &d {
            if self.digests.len() >= MAX_IMAGES {
                self.digests.clear();
            }
            self.digests.insert(key, d.clone());
        }
        Ok(d)
    }

    /// One read and, when due (`full`) or changed, one send.
    fn round(&mut self, full: bool) -> Round {
        let running = match self.api.running() {
            Ok(r) => r,
            Err(e) => {
                self.counters.list_errors.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(error = %chain(&e), "listing the running containers failed; placements not reported, will retry");
                return Round::Retry;
            }
        };
        let pic = match picture(&running, |c| self.digest_of(c)) {
            Ok(p) => p,
            Err(e) => {
                self.counters.list_errors.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(error = %chain(&e), "reading an image's digests failed; placements not reported, will retry");
                return Round::Retry;
            }
        };
        // Forget images no longer running.
        let live: std::collections::HashSet<(&str, &str)> = running
            .iter()
            .map(|c| (c.image_id.as_str(), c.image.as_str()))
            .collect();
        self.digests
            .retain(|(id, r), _| live.contains(&(id.as_str(), r.as_str())));
        let old_missing = self
            .counters
            .no_digest
            .swap(pic.no_digest, Ordering::Relaxed);
        if pic.no_digest > old_missing {
            tracing::info!(
                containers = pic.no_digest,
                "containers whose image has no repo digest are not reported as placements"
            );
        }
        if pic.unusable > 0 {
            tracing::warn!(
                containers = pic.unusable,
                "containers with names the server cannot take (or past {MAX_PLACEMENTS}) are not reported"
            );
        }
        self.counters
            .unusable
            .store(pic.unusable, Ordering::Relaxed);
        if !full && self.last_sent.as_ref() == Some(&pic.placements) {
            return Round::Done;
        }
        match self.sink.send(&self.node, &pic.placements) {
            Ok(n) => {
                self.counters.reports.fetch_add(1, Ordering::Relaxed);
                self.counters.placed.store(n, Ordering::Relaxed);
                tracing::debug!(placements = n, "placements reported");
                self.last_sent = Some(pic.placements);
                Round::Done
            }
            Err(SendError::Refused(m)) => {
                self.counters.refused.fetch_add(1, Ordering::Relaxed);
                tracing::error!(error = %m, "the server refused the placement report");
                self.last_sent = None;
                Round::Done
            }
            Err(SendError::Retry(m)) => {
                self.counters.send_errors.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(error = %m, "reporting placements to the server failed; will retry");
                Round::Retry
            }
        }
    }
}

fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn running(name: &str, labels: &[(&str, &str)]) -> Running {
        Running {
            id: format!("{name:0>64}"),
            name: name.into(),
            image: format!("r.example/a/{name}:1"),
            image_id: format!("id-{name}"),
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..Running::default()
        }
    }

    fn key(c: &Running) -> Option<(String, String, String, String)> {
        workload_of(c)
    }

    fn k(a: &str, b: &str, c: &str, d: &str) -> Option<(String, String, String, String)> {
        Some((a.into(), b.into(), c.into(), d.into()))
    }

    #[test]
    fn kubernetes_labels_give_the_pod_and_sandboxes_are_left_out() {
        let pod = [
            ("io.kubernetes.pod.namespace", "shop"),
            ("io.kubernetes.pod.name", "web-7d4b9c-x2"),
            ("io.kubernetes.container.name", "app"),
        ];
        assert_eq!(
            key(&running("k8s_app_web", &pod)),
            k("shop", "Pod", "web-7d4b9c-x2", "app")
        );
        // Sandboxes: no container label, named POD, or dockershim's type label.
        assert_eq!(key(&running("s", &pod[..2])), None);
        let mut named_pod = pod;
        named_pod[2].1 = "POD";
        assert_eq!(key(&running("s", &named_pod)), None);
        let mut docker = pod.to_vec();
        docker.push(("io.kubernetes.docker.type", "podsandbox"));
        assert_eq!(key(&running("s", &docker)), None);
        // A namespace label without a pod name is no pod.
        assert_eq!(
            key(&running("x", &[("io.kubernetes.pod.namespace", "shop")])),
            None
        );
    }

    #[test]
    fn plain_and_podman_pod_containers() {
        assert_eq!(
            key(&running("web", &[("app", "x")])),
            k("podman", "Container", "web", "web")
        );
        assert_eq!(
            key(&running("web", &[("bulwark.namespace", "shop")])),
            k("shop", "Container", "web", "web")
        );
        let mut in_pod = running("web", &[]);
        in_pod.pod = "front".into();
        assert_eq!(key(&in_pod), k("podman", "Pod", "front", "web"));
        in_pod.infra = true;
        assert_eq!(key(&in_pod), None);
        let mut unnamed = running("", &[]);
        unnamed.id = "abcdef0123456789".into();
        assert_eq!(
            key(&unnamed),
            k("podman", "Container", "abcdef012345", "abcdef012345")
        );
    }

    #[test]
    fn repo_digest_prefers_the_containers_repository() {
        let d1 = format!("sha256:{}", "1".repeat(64));
        let d2 = format!("sha256:{}", "2".repeat(64));
        let all = vec![
            format!("docker.io/library/other@{d1}"),
            format!("r.example:5000/a/web@{d2}"),
        ];
        assert_eq!(
            repo_digest(&all, "r.example:5000/a/web:1"),
            Some(d2.clone())
        );
        assert_eq!(
            repo_digest(&all, &format!("r.example:5000/a/web@{d2}")),
            Some(d2)
        );
        assert_eq!(repo_digest(&all, "elsewhere/x:2"), Some(d1.clone()));
        assert_eq!(repo_digest(&["a@sha512:00".to_string()], "a"), None);
        assert_eq!(repo_digest(&[], "a"), None);
        assert_eq!(repo_digest(&["nodigest".to_string()], "a"), None);
    }

    #[test]
    fn picture_skips_and_counts_and_fails_closed() {
        let d = format!("sha256:{}", "ab".repeat(32));
        let cs = vec![
            running("b", &[]),
            running("a", &[]),
            running("nodigest", &[]),
            running("bad\nname", &[]),
        ];
        let p = picture(&cs, |c| Ok((c.name != "nodigest").then(|| d.clone()))).unwrap();
        assert_eq!(p.no_digest, 1);
        assert_eq!(p.unusable, 1);
        let names: Vec<_> = p.placements.iter().map(|p| p.workload.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
        assert_eq!(
            p.placements[0].image_ref.as_deref(),
            Some("r.example/a/a:1")
        );
        assert_eq!(p.placements[0].image_digest, d);
        // An image that cannot be read fails the whole picture (nothing is sent).
        let e = picture(&cs, |_| {
            Err(ApiError::Malformed {
                path: "/x".into(),
                what: "test".into(),
            })
        });
        assert!(e.is_err());
    }

    #[test]
    fn running_containers_from_both_list_answers() {
        let libpod = serde_json::json!([
            {"Id": "c1", "Names": ["web"], "Image": "localhost/a:1", "ImageID": "d87b",
             "Labels": null, "State": "running", "PodName": "front", "IsInfra": false},
            {"Id": "c2", "Names": ["86ff-infra"], "Image": "localhost/podman-pause:4",
             "ImageID": "81db", "Labels": {"io.buildah.version": "1"}, "PodName": "front",
             "IsInfra": true},
            {"Names": ["no-id"]}
        ]);
        let r = crate::podman::parse_running(&libpod);
        assert_eq!(r.len(), 2);
        assert_eq!(
            (r[0].name.as_str(), r[0].pod.as_str(), r[0].infra),
            ("web", "front", false)
        );
        assert!(r[1].infra);
        let compat = serde_json::json!([
            {"Id": "c3", "Names": ["/db"], "Image": "r/db:2", "ImageID": "sha256:ee",
             "Labels": {"app": "db"}}
        ]);
        let r = crate::podman::parse_running(&compat);
        assert_eq!(r[0].name, "db");
        assert_eq!(r[0].image_id, "sha256:ee");
        assert_eq!(r[0].labels.get("app").map(String::as_str), Some("db"));
        assert!(crate::podman::parse_running(&serde_json::json!({"message": "x"})).is_empty());
    }
}
