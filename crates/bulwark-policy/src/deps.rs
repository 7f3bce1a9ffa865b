//! The outside world a policy may need: tag → digest resolution, signature and
//! attestation verification, and vulnerability findings. [`Dependencies`] is the seam:
//! [`Live`] answers from registries (through `bulwark-cosign`'s verification cache)
//! and from an on-demand `bulwark-engine` scan; the server's inventory will be another
//! implementation of [`Dependencies::vulnerabilities`] (keep the engine as fallback).
//!
//! Every call runs within a time budget ([`within`]): a registry that hangs makes the
//! call fail with [`DepError::Timeout`] when the budget ends, and the rule then decides
//! by its `onError` direction. The worker thread left behind is bounded by the registry
//! client's own timeouts, which [`Live::new`] caps to the longest budget.
//!
//! An optional [`Observer`] set with [`Live::observe`] hears of every signature or
//! attestation verification that actually ran against a registry (a cache miss filled,
//! verified or not — never a cache hit); the webhook reports them to the server.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use bulwark_core::VulnFinding;
use bulwark_cosign::location::Image;
use bulwark_cosign::verify::{Report, Requirements};
use bulwark_image::registry::{Reference, RegistryConfig, Repository};
use bulwark_sign::cache::{Config as CacheConfig, Key, VerificationCache};
use bulwark_sign::simple_signing::ReferenceMatch;

use crate::schema::{Settings, VerifyEntry};

/// A dependency that could not answer.
#[derive(Debug, Clone, thiserror::Error)]
pub enum DepError {
    /// The budget ran out.
    #[error("{what}: no answer within {} ms", budget.as_millis())]
    Timeout {
        /// What was asked.
        what: String,
        /// The budget.
        budget: Duration,
    },
    /// The dependency failed (unreachable, 5xx, auth, not configured).
    #[error("{0}")]
    Unavailable(String),
}

/// An image named by a container, parsed.
#[derive(Debug, Clone)]
pub struct ImageRef {
    /// As written in the pod.
    pub original: String,
    /// Parsed and normalised.
    pub reference: Reference,
}

impl ImageRef {
    /// Parses a container's image.
    pub fn parse(s: &str) -> Result<ImageRef, String> {
        Reference::parse(s)
            .map(|reference| ImageRef {
                original: s.to_string(),
                reference,
            })
            .map_err(|e| e.to_string())
    }

    /// `registry/repository` (what registry globs match).
    pub fn name(&self) -> String {
        self.reference.name()
    }

    /// The digest when the reference is pinned.
    pub fn digest(&self) -> Option<&str> {
        self.reference.digest.as_deref()
    }
}

/// What a rule may ask of the world.
pub trait Dependencies: Send + Sync {
    /// The manifest digest a tag points to.
    fn resolve(&self, image: &ImageRef, budget: Duration) -> Result<String, DepError>;
    /// Whether the image at `digest` carries a signature (and the attestations) that
    /// `entry` requires: `Ok(Ok(()))` verified, `Ok(Err(reason))` not verified.
    fn verify(
        &self,
        image: &ImageRef,
        digest: &str,
        entry: &VerifyEntry,
        budget: Duration,
    ) -> Result<Result<(), String>, DepError>;
    /// The (unsuppressed) vulnerability findings of the image at `digest`. `needs` says
    /// which of their facts the asking gate decides on: a source that cannot vouch for
    /// one of them (no KEV or EPSS data) must fail with [`DepError::Unavailable`], not
    /// answer "not in KEV".
    fn vulnerabilities(
        &self,
        image: &ImageRef,
        digest: &str,
        budget: Duration,
        needs: VulnNeeds,
    ) -> Result<Arc<Vec<VulnFinding>>, DepError>;

    /// [`Dependencies::resolve`] from memory alone: `None` when the answer needs the
    /// network. Lets a warm request be decided without a worker thread ([`CachedOnly`]).
    fn resolve_cached(&self, _image: &ImageRef) -> Option<Result<String, DepError>> {
        None
    }

    /// [`Dependencies::verify`] from memory alone: `None` when not cached.
    fn verify_cached(
        &self,
        _image: &ImageRef,
        _digest: &str,
        _entry: &VerifyEntry,
    ) -> Option<Result<Result<(), String>, DepError>> {
        None
    }

    /// [`Dependencies::vulnerabilities`] from memory alone: `None` when not cached.
    fn vulnerabilities_cached(
        &self,
        _image: &ImageRef,
        _digest: &str,
        _needs: VulnNeeds,
    ) -> Option<Result<Arc<Vec<VulnFinding>>, DepError>> {
        None
    }
}

/// A view of some [`Dependencies`] that answers only from memory and remembers whether
/// it had to refuse. The webhook evaluates a request through it on its async thread
/// first: when nothing [`missed`](CachedOnly::missed), that decision stands (it is the
/// decision the full dependencies would give, from the same caches); otherwise it is
/// thrown away and the request is evaluated again where blocking is allowed.
pub struct CachedOnly<'a> {
    deps: &'a dyn Dependencies,
    missed: std::sync::atomic::AtomicBool,
}

impl<'a> CachedOnly<'a> {
    /// Wraps `deps`.
    pub fn new(deps: &'a dyn Dependencies) -> CachedOnly<'a> {
        CachedOnly {
            deps,
            missed: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Whether some answer needed more than memory.
    pub fn missed(&self) -> bool {
        self.missed.load(Ordering::Relaxed)
    }

    fn miss<T>(&self, v: Option<Result<T, DepError>>) -> Result<T, DepError> {
        v.unwrap_or_else(|| {
            self.missed.store(true, Ordering::Relaxed);
            Err(DepError::Unavailable("not cached".into()))
        })
    }
}

impl Dependencies for CachedOnly<'_> {
    fn resolve(&self, image: &ImageRef, _: Duration) -> Result<String, DepError> {
        self.miss(self.deps.resolve_cached(image))
    }

    fn verify(
        &self,
        image: &ImageRef,
        digest: &str,
        entry: &VerifyEntry,
        _: Duration,
    ) -> Result<Result<(), String>, DepError> {
        self.miss(self.deps.verify_cached(image, digest, entry))
    }

    fn vulnerabilities(
        &self,
        image: &ImageRef,
        digest: &str,
        _: Duration,
        needs: VulnNeeds,
    ) -> Result<Arc<Vec<VulnFinding>>, DepError> {
        self.miss(self.deps.vulnerabilities_cached(image, digest, needs))
    }
}

/// Which facts of the findings a vulnerability gate decides on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VulnNeeds {
    /// Whether each finding is in CISA KEV.
    pub kev: bool,
    /// Each finding's EPSS probability.
    pub epss: bool,
}

/// Dependencies that are never available (`bulwark policy test --offline`): every
/// rule that needs one decides by its `onError` direction.
#[derive(Debug, Default, Clone, Copy)]
pub struct Offline;

impl Dependencies for Offline {
    fn resolve(&self, _: &ImageRef, _: Duration) -> Result<String, DepError> {
        Err(DepError::Unavailable(
            "offline: registries are not consulted".into(),
        ))
    }
    fn verify(
        &self,
        _: &ImageRef,
        _: &str,
        _: &VerifyEntry,
        _: Duration,
    ) -> Result<Result<(), String>, DepError> {
        Err(DepError::Unavailable(
            "offline: signatures are not verified".into(),
        ))
    }
    fn vulnerabilities(
        &self,
        _: &ImageRef,
        _: &str,
        _: Duration,
        _: VulnNeeds,
    ) -> Result<Arc<Vec<VulnFinding>>, DepError> {
        Err(DepError::Unavailable(
            "offline: images are not scanned".into(),
        ))
    }
}

/// Most dependency worker threads alive at once. Past it, calls fail at once (and the
/// rule's `onError` decides) instead of piling up threads behind a registry that hangs
/// — errors are not cached, so every request for such an image is a cold call.
pub const MAX_WORKERS: usize = 256;

static WORKERS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Decrements the worker count when a worker ends, however it ends.
struct WorkerSlot;

impl Drop for WorkerSlot {
    fn drop(&mut self) {
        WORKERS.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Runs `f` on its own thread and waits at most `budget` for it.
pub fn within<T: Send + 'static>(
    what: &str,
    budget: Duration,
    f: impl FnOnce() -> Result<T, DepError> + Send + 'static,
) -> Result<T, DepError> {
    if WORKERS.fetch_add(1, Ordering::AcqRel) >= MAX_WORKERS {
        WORKERS.fetch_sub(1, Ordering::AcqRel);
        return Err(DepError::Unavailable(format!(
            "{what}: {MAX_WORKERS} dependency calls already in flight"
        )));
    }
    let slot = WorkerSlot;
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    std::thread::Builder::new()
        .name("bulwark-policy-dep".into())
        .spawn(move || {
            let _slot = slot;
            let _ = tx.send(f());
        })
        .map_err(|e| DepError::Unavailable(format!("{what}: cannot start a worker: {e}")))?;
    match rx.recv_timeout(budget) {
        Ok(r) => r,
        Err(_) => Err(DepError::Timeout {
            what: what.to_string(),
            budget,
        }),
    }
}

/// Counters of work done on cache misses (for tests, logs and the benchmark).
#[derive(Debug, Default)]
pub struct Stats {
    /// Tag resolutions sent to a registry.
    pub resolves: AtomicU64,
    /// Signature / attestation verifications that went to a registry.
    pub verifications: AtomicU64,
    /// Verification answers served from the cache.
    pub cache_hits: AtomicU64,
    /// On-demand scans started.
    pub scans: AtomicU64,
}

/// A small TTL map (tag resolutions, scan results), bounded: when full, expired
/// entries go first, then the oldest.
struct TtlMap<V> {
    ttl: Duration,
    capacity: usize,
    map: Mutex<HashMap<String, (V, Instant)>>,
}

impl<V: Clone> TtlMap<V> {
    fn new(ttl: Duration, capacity: usize) -> Self {
        TtlMap {
            ttl,
            capacity: capacity.max(1),
            map: Mutex::new(HashMap::new()),
        }
    }

    fn get(&self, k: &str) -> Option<V> {
        let m = self.map.lock().ok()?;
        m.get(k)
            .filter(|(_, at)| at.elapsed() < self.ttl)
            .map(|(v, _)| v.clone())
    }

    fn insert(&self, k: String, v: V) {
        let Ok(mut m) = self.map.lock() else { return };
        if m.len() >= self.capacity && !m.contains_key(&k) {
            let ttl = self.ttl;
            m.retain(|_, (_, at)| at.elapsed() < ttl);
            if m.len() >= self.capacity {
                if let Some(oldest) = m
                    .iter()
                    .min_by_key(|(_, (_, at))| *at)
                    .map(|(k, _)| k.clone())
                {
                    m.remove(&oldest);
                }
            }
        }
        m.insert(k, (v, Instant::now()));
    }
}

/// One signature or attestation verification that ran against a registry (a cache miss
/// filled), for an [`Observer`]: the outcome for one signer of a policy entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    /// The image's manifest digest.
    pub digest: String,
    /// `None` for a signature; the predicate type for an attestation.
    pub predicate_type: Option<String>,
    /// The signer as the policy entry names it: `key:sha256:<hex>` (SHA-256 of the
    /// public key's SubjectPublicKeyInfo), or the keyless certificate identity (the
    /// exact SAN, or `/regex/`). `None` when a key cannot be encoded.
    pub identity: Option<String>,
    /// The keyless OIDC issuer as the policy entry names it.
    pub issuer: Option<String>,
    /// Whether it verified.
    pub verified: bool,
    /// Where the verified signatures or attestations were found (`legacy-tag TAG layer
    /// N`, `referrer sha256:…`); empty when not verified.
    pub references: Vec<String>,
    /// Why not, when not verified.
    pub reason: Option<String>,
}

/// Hears of verifications as they complete, on the thread that ran them: it must not
/// block (queue and return).
pub type Observer = Arc<dyn Fn(&Verification) + Send + Sync>;

fn matcher(m: &bulwark_sign::verify::Matcher) -> String {
    match m {
        bulwark_sign::verify::Matcher::Exact(s) => s.clone(),
        // As written in the policy: without the anchors `Matcher::regex` adds.
        bulwark_sign::verify::Matcher::Regex(r) => {
            let re = r.as_str();
            let bare = re
                .strip_prefix("^(?:")
                .and_then(|x| x.strip_suffix(")$"))
                .unwrap_or(re);
            format!("/{bare}/")
        }
    }
}

impl Verification {
    fn new(
        req: &Requirements,
        digest: &str,
        predicate: &str,
        outcome: Result<&Report, &str>,
    ) -> Verification {
        let (identity, issuer) = match &req.signer {
            bulwark_cosign::verify::Signer::Key(k) => (
                k.fingerprint().ok().map(|f| format!("key:sha256:{f}")),
                None,
            ),
            bulwark_cosign::verify::Signer::Identity { san, issuer, .. } => {
                (Some(matcher(san)), Some(matcher(issuer)))
            }
        };
        let references = match outcome {
            Ok(r) => r
                .signatures
                .iter()
                .filter(|c| c.verified)
                .map(|c| format!("{} {}", c.source, c.location))
                .collect(),
            Err(_) => Vec::new(),
        };
        Verification {
            digest: digest.to_string(),
            predicate_type: (!predicate.is_empty()).then(|| predicate.to_string()),
            identity,
            issuer,
            verified: outcome.is_ok_and(|r| r.verified),
            references,
            reason: outcome.err().map(str::to_string),
        }
    }
}

struct Inner {
    registry: RegistryConfig,
    signatures: VerificationCache<Report>,
    attestations: VerificationCache<Report>,
    tags: TtlMap<String>,
    scans: TtlMap<Arc<Vec<VulnFinding>>>,
    engine: Option<bulwark_engine::Engine>,
    stats: Stats,
    /// One verification at a time per image digest: concurrent cold requests for the
    /// same new image (a Deployment scaled to 100 replicas) wait for the first and
    /// are answered from the cache it fills.
    inflight: Mutex<HashMap<String, Arc<Mutex<()>>>>,
    /// Told of every verification that ran ([`Live::observe`]).
    observer: OnceLock<Observer>,
}

/// Registries through `bulwark-cosign`'s verification cache, and on-demand scans.
#[derive(Clone)]
pub struct Live {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Live {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Live")
            .field("cached_signatures", &self.inner.signatures.len())
            .finish()
    }
}

impl Live {
    /// Dependencies reaching registries with `registry` (its timeouts capped to the
    /// policy's longest budget, one retry), caching per `settings`, scanning with
    /// `engine` when given (without one, vulnerability gates cannot be answered).
    pub fn new(
        mut registry: RegistryConfig,
        settings: &Settings,
        engine: Option<bulwark_engine::Engine>,
    ) -> Live {
        let cap = settings
            .resolve_timeout
            .max(settings.signature_timeout)
            .max(settings.vulnerability_timeout);
        registry.timeouts.connect = registry.timeouts.connect.min(cap);
        registry.timeouts.response = registry.timeouts.response.min(cap);
        registry.timeouts.io = registry.timeouts.io.min(cap);
        registry.retry.max_retries = registry.retry.max_retries.min(1);
        let cfg = CacheConfig {
            success_ttl: settings.success_ttl,
            failure_ttl: settings.failure_ttl,
            capacity: settings.capacity,
        };
        Live {
            inner: Arc::new(Inner {
                registry,
                signatures: VerificationCache::new(cfg),
                attestations: VerificationCache::new(cfg),
                tags: TtlMap::new(settings.tag_ttl, settings.capacity),
                scans: TtlMap::new(settings.scan_ttl, settings.capacity),
                engine,
                stats: Stats::default(),
                inflight: Mutex::new(HashMap::new()),
                observer: OnceLock::new(),
            }),
        }
    }

    /// Work counters.
    pub fn stats(&self) -> &Stats {
        &self.inner.stats
    }

    /// Sets the observer told of every verification that runs against a registry (see
    /// [`Verification`]); `false` when one is already set (it stays).
    pub fn observe(&self, observer: Observer) -> bool {
        self.inner.observer.set(observer).is_ok()
    }

    /// Verdicts held by the signature cache.
    pub fn cached_verdicts(&self) -> usize {
        self.inner.signatures.len()
    }
}

fn requirements(
    entry: &VerifyEntry,
    signer: &bulwark_cosign::verify::Signer,
    repo: &str,
) -> Requirements {
    Requirements {
        signer: signer.clone(),
        reference: ReferenceMatch::Repository(repo.to_string()),
        annotations: Default::default(),
        require_tlog: entry.require_tlog,
        root: entry.root.clone(),
    }
}

fn unavailable(what: &str, e: impl std::fmt::Display) -> DepError {
    DepError::Unavailable(format!("{what}: {e}"))
}

/// Requirements for one signer of a policy entry, with the signer's id.
type Signed<'a> = (&'a Requirements, &'a str);

/// Opens the image on a cache miss, once.
type Opener<'a> = (
    &'a dyn Fn() -> Result<Image, DepError>,
    &'a mut Option<Image>,
);

impl Inner {
    /// The verdict of `entry` for the image at `digest`: signature by any signer,
    /// then every attestation. With `reg` `None`, only the caches are asked, and
    /// `None` means some answer is not cached.
    fn check(
        &self,
        mut reg: Option<Opener<'_>>,
        repo: &str,
        digest: &str,
        entry: &VerifyEntry,
    ) -> Option<Result<Result<(), String>, DepError>> {
        let mut reasons = Vec::new();
        let mut signed = false;
        for s in &entry.signers {
            let req = requirements(entry, &s.signer, repo);
            let v = match reg.as_mut() {
                None => self.cached(&self.signatures, (&req, &s.id), digest, "")?,
                Some((open, opened)) => self.signature(opened, *open, (&req, &s.id), digest),
            };
            match v {
                Err(e) => return Some(Err(e)),
                Ok(Ok(())) => {
                    signed = true;
                    break;
                }
                Ok(Err(r)) => reasons.push(r),
            }
        }
        if !signed {
            return Some(Ok(Err(format!(
                "no valid signature: {}",
                reasons.join("; ")
            ))));
        }
        for predicate in &entry.attestations {
            let mut ok = false;
            let mut why = Vec::new();
            for s in &entry.signers {
                let req = requirements(entry, &s.signer, repo);
                let v = match reg.as_mut() {
                    None => self.cached(&self.attestations, (&req, &s.id), digest, predicate)?,
                    Some((open, opened)) => {
                        self.attestation(opened, *open, (&req, &s.id), digest, predicate)
                    }
                };
                match v {
                    Err(e) => return Some(Err(e)),
                    Ok(Ok(())) => {
                        ok = true;
                        break;
                    }
                    Ok(Err(r)) => why.push(r),
                }
            }
            if !ok {
                return Some(Ok(Err(format!(
                    "attestation {predicate} missing or not verified: {}",
                    why.join("; ")
                ))));
            }
        }
        Some(Ok(Ok(())))
    }

    /// The cache key of a verdict: the digest and the requirements, the signer named by
    /// the id its policy computed when loaded — the same key
    /// `bulwark_cosign::verify::verify_cached` files a signature verdict under.
    fn key((req, signer_id): Signed<'_>, digest: &str, predicate: &str) -> Key {
        let describe = req.describe_as(signer_id);
        if predicate.is_empty() {
            Key::new(digest, describe.as_bytes())
        } else {
            Key::new(
                digest,
                format!("{describe}|attestation:{predicate}").as_bytes(),
            )
        }
    }

    /// Tells the observer, if any, of a verification that ran.
    fn notify(
        &self,
        req: &Requirements,
        digest: &str,
        predicate: &str,
        outcome: Result<&Report, &str>,
    ) {
        if let Some(o) = self.observer.get() {
            o(&Verification::new(req, digest, predicate, outcome));
        }
    }

    /// A cached verdict, `None` when not cached.
    fn cached(
        &self,
        cache: &VerificationCache<Report>,
        req: Signed<'_>,
        digest: &str,
        predicate: &str,
    ) -> Option<Result<Result<(), String>, DepError>> {
        let v = cache.get(&Self::key(req, digest, predicate))?;
        self.stats.cache_hits.fetch_add(1, Ordering::Relaxed);
        Some(Ok(v.map(|_| ())))
    }

    /// Signature verdict for one signer, from the cache when warm.
    fn signature(
        &self,
        image: &mut Option<Image>,
        open: &dyn Fn() -> Result<Image, DepError>,
        signed: Signed<'_>,
        digest: &str,
    ) -> Result<Result<(), String>, DepError> {
        if let Some(v) = self.cached(&self.signatures, signed, digest, "") {
            return v;
        }
        let req = signed.0;
        if image.is_none() {
            *image = Some(open()?);
        }
        let Some(img) = image.as_ref() else {
            return Err(DepError::Unavailable("image not opened".into()));
        };
        self.stats.verifications.fetch_add(1, Ordering::Relaxed);
        match bulwark_cosign::verify::verify_cached(&self.signatures, img, req) {
            Ok(v) => {
                self.notify(req, digest, "", v.as_ref().map_err(String::as_str));
                Ok(v.map(|_| ()))
            }
            Err(e) if e.is_unavailable() => Err(unavailable("reading signatures", e)),
            Err(e) => {
                let why = e.to_string();
                self.notify(req, digest, "", Err(&why));
                Ok(Err(why))
            }
        }
    }

    fn attestation(
        &self,
        image: &mut Option<Image>,
        open: &dyn Fn() -> Result<Image, DepError>,
        signed: Signed<'_>,
        digest: &str,
        predicate: &str,
    ) -> Result<Result<(), String>, DepError> {
        if let Some(v) = self.cached(&self.attestations, signed, digest, predicate) {
            return v;
        }
        let key = Self::key(signed, digest, predicate);
        let req = signed.0;
        if image.is_none() {
            *image = Some(open()?);
        }
        let Some(img) = image.as_ref() else {
            return Err(DepError::Unavailable("image not opened".into()));
        };
        self.stats.verifications.fetch_add(1, Ordering::Relaxed);
        match bulwark_cosign::verify::verify_attestations(img, req, Some(predicate)) {
            Ok(report) => {
                let verdict = if report.verified {
                    Ok(report)
                } else {
                    Err(format!("no verified {predicate} attestation"))
                };
                self.notify(
                    req,
                    digest,
                    predicate,
                    verdict.as_ref().map_err(String::as_str),
                );
                self.attestations.insert(key, verdict.clone());
                Ok(verdict.map(|_| ()))
            }
            Err(e) if e.is_unavailable() => Err(unavailable("reading attestations", e)),
            Err(e) => {
                let why = e.to_string();
                self.notify(req, digest, predicate, Err(&why));
                Ok(Err(why))
            }
        }
    }
}

impl Dependencies for Live {
    fn resolve_cached(&self, image: &ImageRef) -> Option<Result<String, DepError>> {
        if let Some(d) = image.digest() {
            return Some(Ok(d.to_string()));
        }
        self.inner.tags.get(&image.reference.to_string()).map(Ok)
    }

    fn verify_cached(
        &self,
        image: &ImageRef,
        digest: &str,
        entry: &VerifyEntry,
    ) -> Option<Result<Result<(), String>, DepError>> {
        self.inner.check(None, &image.name(), digest, entry)
    }

    fn vulnerabilities_cached(
        &self,
        image: &ImageRef,
        digest: &str,
        _needs: VulnNeeds,
    ) -> Option<Result<Arc<Vec<VulnFinding>>, DepError>> {
        self.inner
            .scans
            .get(&format!("{}@{digest}", image.name()))
            .map(Ok)
    }

    fn resolve(&self, image: &ImageRef, budget: Duration) -> Result<String, DepError> {
        if let Some(d) = self.resolve_cached(image) {
            return d;
        }
        let key = image.reference.to_string();
        let inner = self.inner.clone();
        let r = image.reference.clone();
        let what = format!("resolving {key}");
        let digest = within(&what.clone(), budget, move || {
            inner.stats.resolves.fetch_add(1, Ordering::Relaxed);
            let repo = Repository::open(&r, &inner.registry).map_err(|e| unavailable(&what, e))?;
            repo.resolve(r.manifest_reference())
                .map(|d| d.digest)
                .map_err(|e| unavailable(&what, e))
        })?;
        self.inner.tags.insert(key, digest.clone());
        Ok(digest)
    }

    fn verify(
        &self,
        image: &ImageRef,
        digest: &str,
        entry: &VerifyEntry,
        budget: Duration,
    ) -> Result<Result<(), String>, DepError> {
        let repo = image.name();
        // A warm answer needs no registry and no worker thread.
        if let Some(v) = self.inner.check(None, &repo, digest, entry) {
            return v;
        }
        let inner = self.inner.clone();
        let entry = entry.clone();
        let digest = digest.to_string();
        let what = format!("verifying {}", image.original);
        within(&what, budget, move || {
            let gate = inner.inflight.lock().ok().map(|mut m| {
                m.entry(digest.clone())
                    .or_insert_with(|| Arc::new(Mutex::new(())))
                    .clone()
            });
            let _turn = gate.as_ref().map(|g| g.lock());
            // Whoever went first may have filled the cache meanwhile.
            if let Some(v) = inner.check(None, &repo, &digest, &entry) {
                return v;
            }
            let pinned = format!("{repo}@{digest}");
            let open = || {
                Image::open(&pinned, &inner.registry)
                    .map_err(|e| unavailable("opening the image", e))
            };
            let mut opened = None;
            let r = inner
                .check(Some((&open, &mut opened)), &repo, &digest, &entry)
                .unwrap_or_else(|| Err(DepError::Unavailable("verification did not run".into())));
            if let Ok(mut m) = inner.inflight.lock() {
                m.remove(&digest);
            }
            r
        })
    }

    fn vulnerabilities(
        &self,
        image: &ImageRef,
        digest: &str,
        budget: Duration,
        _needs: VulnNeeds,
    ) -> Result<Arc<Vec<VulnFinding>>, DepError> {
        // A scan with the local DB knows KEV and EPSS as far as the DB does.
        let pinned = format!("{}@{digest}", image.name());
        if let Some(v) = self.inner.scans.get(&pinned) {
            return Ok(v);
        }
        let Some(engine) = self.inner.engine.clone() else {
            return Err(DepError::Unavailable(
                "no vulnerability source configured (give the server a vulnerability DB)".into(),
            ));
        };
        let inner = self.inner.clone();
        let target = format!("docker://{pinned}");
        let what = format!("scanning {}", image.original);
        let found = within(&what.clone(), budget, move || {
            inner.stats.scans.fetch_add(1, Ordering::Relaxed);
            let req = bulwark_engine::ScanRequest {
                target: bulwark_engine::TargetRequest {
                    target,
                    ..Default::default()
                },
                scanners: bulwark_engine::Scanners::default(),
                ..Default::default()
            };
            let cancel = bulwark_engine::Cancel::new().with_timeout(budget);
            let outcome = engine
                .scan(&req, &cancel)
                .map_err(|e| unavailable(&what, e))?;
            if outcome.report.is_incomplete() {
                return Err(DepError::Unavailable(format!(
                    "{what}: the scan is incomplete, so it cannot clear the image"
                )));
            }
            Ok(Arc::new(
                outcome
                    .report
                    .vulnerabilities
                    .into_iter()
                    .filter(|v| v.suppressed.is_none())
                    .collect::<Vec<_>>(),
            ))
        })?;
        self.inner.scans.insert(pinned, found.clone());
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verification_names_the_signer_and_where_it_was_found() {
        use bulwark_cosign::verify::{Checked, Signer};
        let key = bulwark_sign::PrivateKey::generate(bulwark_sign::Algorithm::EcdsaP256);
        let req = |signer| Requirements {
            signer,
            reference: ReferenceMatch::Repository("r.example/app".into()),
            annotations: Default::default(),
            require_tlog: false,
            root: None,
        };
        let checked = |location: &str, verified| Checked {
            source: "referrer",
            location: location.into(),
            verified,
            reason: None,
            docker_reference: None,
            annotations: None,
            predicate_type: None,
            predicate: None,
        };
        let report = Report {
            image: "r.example/app@sha256:00".into(),
            digest: "sha256:00".into(),
            verified: true,
            signatures: vec![checked("sha256:aa", false), checked("sha256:bb", true)],
        };
        let by_key = req(Signer::Key(key.public_key()));
        let v = Verification::new(&by_key, "sha256:00", "", Ok(&report));
        let fp = key.public_key().fingerprint().unwrap();
        assert_eq!(v.identity, Some(format!("key:sha256:{fp}")));
        assert_eq!((v.issuer, v.predicate_type), (None, None));
        assert!(v.verified);
        assert_eq!(v.references, ["referrer sha256:bb"], "only what verified");
        let keyless = req(Signer::Identity {
            san: bulwark_sign::verify::Matcher::Exact("ci@acme.example".into()),
            issuer: bulwark_sign::verify::Matcher::regex("https://.*").unwrap(),
            root: Box::default(),
        });
        let v = Verification::new(
            &keyless,
            "sha256:00",
            "https://slsa.dev/provenance/v1",
            Err("no signature"),
        );
        assert_eq!(v.identity.as_deref(), Some("ci@acme.example"));
        assert_eq!(v.issuer.as_deref(), Some("/https://.*/"));
        assert_eq!(
            v.predicate_type.as_deref(),
            Some("https://slsa.dev/provenance/v1")
        );
        assert!(!v.verified && v.references.is_empty());
        assert_eq!(v.reason.as_deref(), Some("no signature"));
    }

    #[test]
    fn budget_and_worker_bound() {
        // A call past its budget returns Timeout at the budget.
        let t = Instant::now();
        let r: Result<(), DepError> = within("slow", Duration::from_millis(100), || {
            std::thread::sleep(Duration::from_millis(2000));
            Ok(())
        });
        assert!(matches!(r, Err(DepError::Timeout { .. })));
        assert!(t.elapsed() < Duration::from_millis(1000));
        // Saturate the workers with hung calls: the next call fails at once.
        let release = Arc::new(std::sync::Barrier::new(MAX_WORKERS + 1));
        let mut started = 0;
        for _ in 0..MAX_WORKERS + 16 {
            let b = release.clone();
            if within("hang", Duration::from_millis(1), move || {
                b.wait();
                Ok(())
            })
            .is_err_and(|e| matches!(e, DepError::Timeout { .. }))
            {
                started += 1;
            }
        }
        let refused = within("one more", Duration::from_secs(1), || Ok(()));
        assert!(
            matches!(&refused, Err(DepError::Unavailable(m)) if m.contains("in flight")),
            "{refused:?}"
        );
        assert!(started <= MAX_WORKERS);
        // Let the hung workers go; the slots free up again.
        let b = release.clone();
        let _ = std::thread::spawn(move || b.wait());
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if within("after", Duration::from_secs(1), || Ok(())).is_ok() {
                break;
            }
            assert!(Instant::now() < deadline, "slots not released");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
