//! What the webhook reports to the bulwark server besides its decisions: where the pods
//! it admits run (`PUT /v1/placements`), and the signature and attestation
//! verifications it ran (`PUT /v1/images/{digest}/signatures`). Only with `--server`.
//!
//! - **Placements**: a Pod CREATE allowed by the validating webhook (not a dry run)
//!   gives one placement per container (init containers too): the namespace, the
//!   workload (the pod's controlling owner — a ReplicaSet named
//!   `<deployment>-<pod-template-hash>` whose pod carries that `pod-template-hash` label
//!   is reported as its Deployment, which is how the Deployment controller names it;
//!   any other owner as itself; a pod without one as `Pod/<name>`), the container, the
//!   image as written and its digest: the one in the reference, else the one the
//!   dependencies' tag cache holds. No registry is asked for it: a container whose
//!   digest is not known from memory is skipped and counted. The node is unknown at
//!   admission (empty), and reports carry `complete: false` (admission sees pods start,
//!   never stop).
//! - **Signatures**: [`Live`]'s observer hears of every verification that ran against a
//!   registry (a cache miss filled, verified or not; cache hits are not reported). The
//!   reporter keeps the latest outcome per digest and (kind, predicate type, signer) and
//!   sends the digest's whole set, since a report replaces this token's earlier entries
//!   for the image. The server only keeps signatures of images in its inventory: for
//!   others it answers 404, counted as `unknown_images` and not retried.
//!
//! Admission never waits on any of it: a pod's placements are read from the request
//! the webhook already parsed (a few string copies and cache lookups, no registry
//! call), and events go through a bounded queue ([`QUEUE`] events) to one background
//! thread, which gathers them for a moment, sends in batches of at most [`BATCH`], and
//! retries with backoff (1 s doubling to 30 s) while the server is down or answers 5xx
//! or 429. Past the bounds events are dropped and counted ([`Counters`]); a 4xx other
//! than 404/429 is logged and dropped (a retry would not fix it).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use bulwark_policy::deps::{ImageRef, Observer, Verification};
use bulwark_policy::{Dependencies, Live, Phase, Request};
use bulwark_server::client::ClientError;
use bulwark_server::signatures::{SignatureIn, SignatureReport};
use bulwark_server::store::inventory::Placement;
use serde_json::Value;

use crate::inventory::ServerLink;

/// Most events waiting for the sender thread.
pub const QUEUE: usize = 10_000;
/// Most placements per request (the server takes 10,000).
pub const BATCH: usize = 500;
/// Most placements held while the server is down (distinct workload containers).
pub const MAX_PENDING_PLACEMENTS: usize = 10_000;
/// Most image digests whose signature outcomes are remembered (oldest forgotten first).
pub const MAX_DIGESTS: usize = 10_000;
/// Longest `reference` the server accepts.
const MAX_REFERENCE: usize = 2048;

/// What the reporter did (for tests, logs and operators).
#[derive(Debug, Default)]
pub struct Counters {
    /// Placements the server stored.
    pub placements_stored: AtomicU64,
    /// Signature entries the server stored.
    pub signatures_stored: AtomicU64,
    /// Verifications heard of (each a cache miss filled).
    pub verifications: AtomicU64,
    /// Containers not placed: their digest was not known without a registry call.
    pub no_digest: AtomicU64,
    /// Events not queued (queue full) or placements past
    /// [`MAX_PENDING_PLACEMENTS`].
    pub dropped: AtomicU64,
    /// Signature reports for images the server does not have (404).
    pub unknown_images: AtomicU64,
    /// Reports the server refused (4xx other than 404 and 429): logged, not retried.
    pub refused: AtomicU64,
    /// Sends that failed and were retried.
    pub retries: AtomicU64,
}

enum Event {
    Placed(Vec<Placement>),
    Verified(Verification),
}

struct Shared {
    tx: SyncSender<Event>,
    /// Answers digests of tags from memory (never a registry call).
    deps: Live,
    counters: Arc<Counters>,
}

impl Shared {
    fn dropped(&self, what: &str) {
        let n = self.counters.dropped.fetch_add(1, Ordering::Relaxed) + 1;
        if n.is_power_of_two() {
            tracing::warn!(
                dropped = n,
                "the server report queue is full; {what} not reported"
            );
        }
    }

    fn verified(&self, v: &Verification) {
        self.counters.verifications.fetch_add(1, Ordering::Relaxed);
        if self.tx.try_send(Event::Verified(v.clone())).is_err() {
            self.dropped("a signature verification");
        }
    }
}

/// Queues placements and verifications for the server (see the module doc).
pub struct Reporter {
    shared: Arc<Shared>,
}

impl Reporter {
    /// Starts the sender thread. `deps` answers digests of tags from memory only.
    pub fn start(link: ServerLink, deps: Live) -> Reporter {
        let (tx, rx) = std::sync::mpsc::sync_channel(QUEUE);
        let shared = Arc::new(Shared {
            tx,
            deps,
            counters: Arc::new(Counters::default()),
        });
        let counters = shared.counters.clone();
        let spawned = std::thread::Builder::new()
            .name("bulwark-admit-report".into())
            .spawn(move || {
                Sender {
                    link,
                    counters,
                    placements: HashMap::new(),
                    signatures: HashMap::new(),
                }
                .run(&rx)
            });
        if let Err(e) = spawned {
            tracing::error!("cannot start the server reporter: {e}; placements and signature verifications are not reported");
        }
        Reporter { shared }
    }

    /// The counters.
    pub fn counters(&self) -> Arc<Counters> {
        self.shared.counters.clone()
    }

    /// The observer to set on [`Live`]: queues each verification (never blocks). It
    /// holds the reporter weakly, so it goes quiet when the reporter is dropped.
    pub fn observer(&self) -> Observer {
        let weak: Weak<Shared> = Arc::downgrade(&self.shared);
        Arc::new(move |v: &Verification| {
            if let Some(s) = weak.upgrade() {
                s.verified(v);
            }
        })
    }

    /// After a decision: queues the placements of the pod it admitted (validating,
    /// allowed, a Pod CREATE, not a dry run), read from the parsed request. Never
    /// blocks.
    pub fn decided(&self, phase: Phase, req: &Request, allowed: bool) {
        if phase != Phase::Validate
            || !allowed
            || req.dry_run
            || req.kind != "Pod"
            || req.operation != "CREATE"
            || !req.sub_resource.is_empty()
        {
            return;
        }
        let s = &self.shared;
        let placed = placements(req, &s.deps, &s.counters.no_digest);
        if placed.is_empty() {
            return;
        }
        if let Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) =
            s.tx.try_send(Event::Placed(placed))
        {
            s.dropped("a placement");
        }
    }
}

/// The workload running the pod: its controlling owner (a Deployment's ReplicaSet
/// mapped to the Deployment when the names say so without doubt), else the pod.
fn workload(meta: &Value, request_name: &str) -> Option<(String, String)> {
    let str_at = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let owners = meta.get("ownerReferences").and_then(Value::as_array);
    if let Some(o) = owners.into_iter().flatten().find(|o| {
        o.get("controller").and_then(Value::as_bool) == Some(true)
            && !str_at(o, "kind").is_empty()
            && !str_at(o, "name").is_empty()
    }) {
        let (kind, name) = (str_at(o, "kind"), str_at(o, "name"));
        let hash = meta
            .pointer("/labels/pod-template-hash")
            .and_then(Value::as_str)
            .unwrap_or("");
        if kind == "ReplicaSet" && str_at(o, "apiVersion") == "apps/v1" && !hash.is_empty() {
            if let Some(dep) = name.strip_suffix(hash).and_then(|p| p.strip_suffix('-')) {
                if !dep.is_empty() {
                    return Some(("Deployment".into(), dep.to_string()));
                }
            }
        }
        return Some((kind, name));
    }
    let name = Some(str_at(meta, "name"))
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| request_name.to_string());
    (!name.is_empty()).then(|| ("Pod".to_string(), name))
}

/// The placements of an admitted Pod CREATE, read from the request the webhook already
/// parsed; containers whose digest is not known from memory are counted in
/// `no_digest` and left out.
fn placements(req: &Request, deps: &dyn Dependencies, no_digest: &AtomicU64) -> Vec<Placement> {
    let obj = &req.object;
    if !obj.is_object() {
        return Vec::new();
    }
    let meta = obj.get("metadata").unwrap_or(&Value::Null);
    let ns = req.namespace.clone();
    // `Request::name` falls back to the object's generateName (or `<unnamed>`) when
    // neither the request nor the object names the pod: that is no name to place.
    let derived = req.name == "<unnamed>"
        || meta.get("generateName").and_then(Value::as_str) == Some(req.name.as_str());
    let request_name = if derived { "" } else { req.name.as_str() };
    let Some((kind, name)) = workload(meta, request_name) else {
        tracing::debug!("an admitted pod without a name or owner: not placed");
        return Vec::new();
    };
    let Ok(Some(pod)) = bulwark_policy::input::pod_of("Pod", obj) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for c in pod.containers() {
        let Some(image) = c.image() else { continue };
        let digest = ImageRef::parse(image).ok().and_then(|r| match r.digest() {
            Some(d) => Some(d.to_string()),
            None => deps.resolve_cached(&r).and_then(Result::ok),
        });
        let Some(digest) = digest.filter(|d| bulwark_server::ingest::is_digest(d)) else {
            no_digest.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(%image, "digest not known without a registry call: not placed");
            continue;
        };
        out.push(Placement {
            namespace: ns.clone(),
            workload_kind: kind.clone(),
            workload: name.clone(),
            container: c.name().to_string(),
            node: String::new(),
            image_digest: digest,
            image_ref: Some(image.to_string()),
        });
    }
    out
}

/// What a signature entry is keyed by in the reporter's view of a digest.
type SigKey = (String, Option<String>, Option<String>, Option<String>);

fn entry(v: &Verification) -> SignatureIn {
    let mut reference = v.references.join(", ");
    if reference.len() > MAX_REFERENCE {
        let mut end = MAX_REFERENCE;
        while !reference.is_char_boundary(end) {
            end -= 1;
        }
        reference.truncate(end);
    }
    SignatureIn {
        kind: if v.predicate_type.is_some() {
            "attestation".into()
        } else {
            "signature".into()
        },
        verified: v.verified,
        predicate_type: v.predicate_type.clone(),
        identity: v.identity.clone(),
        issuer: v.issuer.clone(),
        reference: Some(reference).filter(|r| !r.is_empty()),
    }
}

/// A digest's latest outcomes, when they last changed, and whether the server has them.
struct Digest {
    at: Instant,
    entries: BTreeMap<SigKey, SignatureIn>,
    dirty: bool,
}

struct Sender {
    link: ServerLink,
    counters: Arc<Counters>,
    /// Placements not yet stored, keyed as the server keys them.
    placements: HashMap<(String, String, String, String), Placement>,
    signatures: HashMap<String, Digest>,
}

/// How one send went.
enum Sent {
    Done,
    /// Try again later.
    Retry,
}

impl Sender {
    fn take(&mut self, e: Event) {
        match e {
            Event::Placed(placed) => {
                for p in placed {
                    let key = (
                        p.namespace.clone(),
                        p.workload_kind.clone(),
                        p.workload.clone(),
                        p.container.clone(),
                    );
                    if self.placements.len() >= MAX_PENDING_PLACEMENTS
                        && !self.placements.contains_key(&key)
                    {
                        self.counters.dropped.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                    self.placements.insert(key, p);
                }
            }
            Event::Verified(v) => {
                if self.signatures.len() >= MAX_DIGESTS && !self.signatures.contains_key(&v.digest)
                {
                    if let Some(oldest) = self
                        .signatures
                        .iter()
                        .min_by_key(|(_, d)| d.at)
                        .map(|(k, _)| k.clone())
                    {
                        self.signatures.remove(&oldest);
                    }
                }
                let d = self
                    .signatures
                    .entry(v.digest.clone())
                    .or_insert_with(|| Digest {
                        at: Instant::now(),
                        entries: BTreeMap::new(),
                        dirty: true,
                    });
                let e = entry(&v);
                let key = (
                    e.kind.clone(),
                    e.predicate_type.clone(),
                    e.identity.clone(),
                    e.issuer.clone(),
                );
                d.entries.insert(key, e);
                d.at = Instant::now();
                d.dirty = true;
            }
        }
    }

    fn pending(&self) -> bool {
        !self.placements.is_empty() || self.signatures.values().any(|d| d.dirty)
    }

    /// A refusal a retry cannot fix: logged, counted, dropped.
    fn refused(&self, what: &str, status: u16, code: &str, message: &str) {
        self.counters.refused.fetch_add(1, Ordering::Relaxed);
        tracing::error!(status, %code, %message, "the server refused {what}; dropped");
    }

    fn send_placements(&mut self) -> Sent {
        while !self.placements.is_empty() {
            let keys: Vec<_> = self.placements.keys().take(BATCH).cloned().collect();
            let items: Vec<Placement> = keys
                .iter()
                .filter_map(|k| self.placements.get(k).cloned())
                .collect();
            match self
                .link
                .client
                .put_placements(&self.link.cluster, None, false, &items)
            {
                Ok(n) => {
                    self.counters
                        .placements_stored
                        .fetch_add(n, Ordering::Relaxed);
                    tracing::debug!(n, "placements reported");
                }
                Err(ClientError::Refused {
                    status,
                    code,
                    message,
                }) if status < 500 && status != 429 => {
                    self.refused("placements", status, &code, &message);
                }
                Err(e) => {
                    tracing::warn!(error = %chain(&e), n = items.len(), "reporting placements to the server failed; will retry");
                    return Sent::Retry;
                }
            }
            for k in &keys {
                self.placements.remove(k);
            }
        }
        Sent::Done
    }

    fn send_signatures(&mut self) -> Sent {
        let dirty: Vec<String> = self
            .signatures
            .iter()
            .filter(|(_, d)| d.dirty)
            .map(|(k, _)| k.clone())
            .collect();
        for digest in dirty {
            let Some(d) = self.signatures.get(&digest) else {
                continue;
            };
            let report = SignatureReport {
                signatures: d.entries.values().cloned().collect(),
            };
            match self.link.client.put_signatures(&digest, &report) {
                Ok(n) => {
                    self.counters
                        .signatures_stored
                        .fetch_add(n, Ordering::Relaxed);
                    tracing::debug!(%digest, n, "signature verifications reported");
                }
                Err(ClientError::Refused { status: 404, .. }) => {
                    self.counters.unknown_images.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(%digest, "the server does not know the image: its signature verifications are not reported");
                }
                Err(ClientError::Refused {
                    status,
                    code,
                    message,
                }) if status < 500 && status != 429 => {
                    self.refused("signature verifications", status, &code, &message);
                }
                Err(e) => {
                    tracing::warn!(error = %chain(&e), %digest, "reporting signature verifications to the server failed; will retry");
                    return Sent::Retry;
                }
            }
            if let Some(d) = self.signatures.get_mut(&digest) {
                d.dirty = false;
            }
        }
        Sent::Done
    }

    fn run(mut self, rx: &Receiver<Event>) {
        let mut backoff = Duration::from_secs(1);
        let mut closing = false;
        loop {
            if !self.pending() {
                if closing {
                    return;
                }
                match rx.recv() {
                    Ok(e) => self.take(e),
                    Err(_) => return,
                }
            }
            // Gather what arrives within a moment (pods of one rollout, the
            // verifications of one request), up to a batch.
            let until = Instant::now() + Duration::from_millis(200);
            for _ in 0..BATCH {
                match rx.recv_timeout(until.saturating_duration_since(Instant::now())) {
                    Ok(e) => self.take(e),
                    Err(RecvTimeoutError::Timeout) => break,
                    Err(RecvTimeoutError::Disconnected) => {
                        closing = true;
                        break;
                    }
                }
            }
            let sent = match self.send_placements() {
                Sent::Done => self.send_signatures(),
                Sent::Retry => Sent::Retry,
            };
            match sent {
                Sent::Done => backoff = Duration::from_secs(1),
                Sent::Retry if closing => return,
                Sent::Retry => {
                    self.counters.retries.fetch_add(1, Ordering::Relaxed);
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(Duration::from_secs(30));
                }
            }
        }
    }
}

fn chain(e: &ClientError) -> String {
    let mut s = e.to_string();
    let mut cur = std::error::Error::source(e);
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
    use serde_json::json;

    #[test]
    fn workload_from_the_controlling_owner() {
        let rs = |name: &str, api: &str| {
            json!({"name": "web-7d4b9c-x2", "labels": {"pod-template-hash": "7d4b9c"},
                "ownerReferences": [
                    {"apiVersion": "v1", "kind": "Other", "name": "x"},
                    {"apiVersion": api, "kind": "ReplicaSet", "name": name, "controller": true}]})
        };
        // The Deployment controller's naming: mapped.
        assert_eq!(
            workload(&rs("web-7d4b9c", "apps/v1"), ""),
            Some(("Deployment".into(), "web".into()))
        );
        // A ReplicaSet whose name does not end in the pod's hash: itself.
        assert_eq!(
            workload(&rs("batch-rs", "apps/v1"), ""),
            Some(("ReplicaSet".into(), "batch-rs".into()))
        );
        // Only the hash, nothing before it: itself.
        assert_eq!(
            workload(&rs("-7d4b9c", "apps/v1"), ""),
            Some(("ReplicaSet".into(), "-7d4b9c".into()))
        );
        // Without the label: itself.
        let mut m = rs("web-7d4b9c", "apps/v1");
        m["labels"] = json!({});
        assert_eq!(
            workload(&m, ""),
            Some(("ReplicaSet".into(), "web-7d4b9c".into()))
        );
        // Another controller kind: itself.
        let job = json!({"ownerReferences": [{"apiVersion": "batch/v1", "kind": "Job",
            "name": "nightly-2912", "controller": true}]});
        assert_eq!(
            workload(&job, ""),
            Some(("Job".into(), "nightly-2912".into()))
        );
        // No controlling owner: the pod; its name from the request when the object has none.
        let bare = json!({"name": "debug", "ownerReferences": [{"kind": "X", "name": "y"}]});
        assert_eq!(workload(&bare, ""), Some(("Pod".into(), "debug".into())));
        assert_eq!(
            workload(&json!({"generateName": "a-"}), "a-xyz"),
            Some(("Pod".into(), "a-xyz".into()))
        );
        assert_eq!(workload(&json!({"generateName": "a-"}), ""), None);
    }

    #[test]
    fn placements_of_a_pod_review_only_with_known_digests() {
        let d = format!("sha256:{}", "ab".repeat(32));
        let review = json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
            "request": {"uid": "u", "kind": {"kind": "Pod"}, "operation": "CREATE",
            "namespace": "shop", "name": "web-1",
            "object": {"metadata": {"name": "web-1"}, "spec": {
                "initContainers": [{"name": "init", "image": format!("r.example/a/init@{d}")}],
                "containers": [{"name": "app", "image": format!("r.example/a/app:1@{d}")},
                               {"name": "side", "image": "r.example/a/side:2"}]}}}});
        let req = Request::from_review_owned(review).unwrap();
        let missing = AtomicU64::new(0);
        let p = placements(&req, &bulwark_policy::Offline, &missing);
        assert_eq!(missing.load(Ordering::Relaxed), 1, "the tag-only container");
        let got: Vec<_> = p
            .iter()
            .map(|p| {
                (
                    p.namespace.as_str(),
                    p.workload_kind.as_str(),
                    p.workload.as_str(),
                    p.container.as_str(),
                    p.image_digest.as_str(),
                    p.node.as_str(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("shop", "Pod", "web-1", "init", d.as_str(), ""),
                ("shop", "Pod", "web-1", "app", d.as_str(), ""),
            ]
        );
        assert_eq!(
            p[1].image_ref.as_deref(),
            Some(format!("r.example/a/app:1@{d}").as_str())
        );
    }

    #[test]
    fn signature_entries_fit_the_server() {
        let v = Verification {
            digest: "sha256:00".into(),
            predicate_type: Some("https://slsa.dev/provenance/v1".into()),
            identity: Some("key:sha256:ff".into()),
            issuer: None,
            verified: true,
            references: vec!["referrer sha256:aa".into(); 200],
            reason: None,
        };
        let e = entry(&v);
        assert_eq!(e.kind, "attestation");
        assert!(e.reference.as_ref().unwrap().len() <= MAX_REFERENCE);
        let unsigned = Verification {
            predicate_type: None,
            verified: false,
            references: vec![],
            reason: Some("no signature found".into()),
            ..v
        };
        let e = entry(&unsigned);
        assert_eq!((e.kind.as_str(), e.verified), ("signature", false));
        assert_eq!(e.reference, None);
    }
}
