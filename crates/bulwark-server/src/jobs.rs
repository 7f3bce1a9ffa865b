//! Server-side pull-and-scan jobs: the request checks, the workers that claim jobs from
//! the store and run them with the scanning engine (the library `bulwark scan` uses), and
//! the engine's layer-result cache kept in the store so every worker shares it.
//!
//! A worker loops: claim the oldest due job (see `store/jobs.rs`: a lease, `FOR UPDATE
//! SKIP LOCKED` on PostgreSQL), pull and scan its image with [`bulwark_engine::Engine`]
//! while a task renews the lease, then store the report **through the upload path**
//! (`ingest::report_upload`, the server's matcher, `inventory::store_upload`) and mark
//! the job done in the same write transaction. That transaction first checks the worker
//! still holds the job on the attempt it claimed, so a worker whose lease ran out (it
//! stalled; another worker took the job over) stores nothing: a job is completed once.
//! A worker killed mid-job leaves a `running` row whose lease runs out; the next claim
//! takes it again (a new attempt). Failures are retried with back-off until
//! `max_attempts`; a request the engine refuses outright (a bad reference) fails at once.
//!
//! The same loop runs inside `bulwark server` (`--workers N`) and as `bulwark worker`
//! (a process on the same database). See docs/server.md, "Jobs and workers".

use crate::authz::Scope;
use crate::error::ApiError;
use crate::ingest::{self, ImageHints};
use crate::metrics::Metrics;
use crate::store::jobs::{self as q, Job};
use crate::store::{inventory, Store, StoreError};
use bulwark_engine::cache::SharedLayerResults;
use bulwark_engine::{Cancel, Engine, EngineConfig, ScanRequest, Scanners, TargetRequest};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Longest image reference accepted.
pub const MAX_IMAGE_REF: usize = 512;

/// The request of a `scan` job, as stored in `jobs.payload`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScanJob {
    /// `registry/repository:tag` or `registry/repository@sha256:…`.
    pub image: String,
    /// Team the image is filed under.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    /// Owner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// The requester's team scope (`None`: every team), applied when the result is stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope_teams: Option<Vec<String>>,
}

/// Checks an image reference of a job: a registry reference only (`docker://` may be
/// written), never a path, another transport or a daemon — the server reads nothing
/// local on a caller's behalf. Returns the reference without `docker://`.
pub fn check_image(image: &str) -> Result<String, ApiError> {
    let bad = |why: &str| {
        ApiError::unprocessable(
            "invalid_image",
            format!("image {image:?}: {why} (expected registry/repository:tag or registry/repository@sha256:…)"),
        )
    };
    let s = image.strip_prefix("docker://").unwrap_or(image);
    if s.is_empty() || s.len() > MAX_IMAGE_REF {
        return Err(bad("empty or too long"));
    }
    if s.starts_with(['/', '.', '~']) || s.contains("://") || s.contains("..") {
        return Err(bad("a registry reference, not a path or another transport"));
    }
    if !s
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'/' | b':' | b'@'))
    {
        return Err(bad("unexpected characters"));
    }
    let first = s.split('/').next().unwrap_or("");
    for transport in [
        "oci",
        "oci-archive",
        "docker-archive",
        "docker-daemon",
        "dir",
        "sbom",
    ] {
        if first
            .strip_prefix(transport)
            .is_some_and(|r| r.starts_with(':'))
        {
            return Err(bad("a registry reference, not another transport"));
        }
    }
    bulwark_image::registry::Reference::parse(s).map_err(|e| bad(&e.to_string()))?;
    Ok(s.to_string())
}

/// Whether `image` names a registry on a loopback address (`localhost`, `127.0.0.0/8`):
/// the only registries workers pull from over plain HTTP.
pub fn loopback_registry(image: &str) -> bool {
    let Ok(r) = bulwark_image::registry::Reference::parse(image) else {
        return false;
    };
    // Job references are checked by `check_image`, which has no room for IPv6 brackets.
    let host = r
        .registry
        .rsplit_once(':')
        .map_or(r.registry.as_str(), |(h, _)| h);
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// How workers run.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Concurrent jobs (worker loops) in this process.
    pub workers: usize,
    /// The engine (cache directory, registry access, limits). Its
    /// `shared_layer_results` is set by [`spawn`] to the store's table.
    pub engine: EngineConfig,
    /// The vulnerability DB results are matched against (`None`: stored unmatched).
    pub vulndb: Option<PathBuf>,
    /// Lease of a claimed job; renewed every third of it while the job runs.
    pub lease: Duration,
    /// How often an idle worker looks for a due job.
    pub poll: Duration,
    /// This process's name in `locked_by` (`host:pid` by default; each loop appends
    /// `/N`).
    pub name: String,
    /// Longest one job may run.
    pub job_timeout: Duration,
    /// Registries jobs may pull from ([`registry_allowed`]); empty: any.
    pub registries: Vec<String>,
}

impl WorkerConfig {
    /// One worker, a 60 s lease, a 1 s poll, a 30 minute job limit.
    pub fn new(engine: EngineConfig) -> WorkerConfig {
        WorkerConfig {
            workers: 1,
            engine,
            vulndb: None,
            lease: Duration::from_secs(60),
            poll: Duration::from_secs(1),
            name: default_name(),
            job_timeout: Duration::from_secs(1800),
            registries: Vec::new(),
        }
    }
}

/// Whether the registry of `image` is one of `allowed` (`HOST[:PORT]` exactly, or
/// `*.DOMAIN` for any host below DOMAIN, on any port); an empty list allows every
/// registry. Docker Hub references count as `docker.io`.
pub fn registry_allowed(image: &str, allowed: &[String]) -> bool {
    if allowed.is_empty() {
        return true;
    }
    let Ok(r) = bulwark_image::registry::Reference::parse(image) else {
        return false;
    };
    let reg = r.registry.to_ascii_lowercase();
    let host = reg.rsplit_once(':').map_or(reg.as_str(), |(h, _)| h);
    allowed.iter().any(|a| {
        let a = a.to_ascii_lowercase();
        match a.strip_prefix("*.") {
            Some(domain) => host.len() > domain.len() && host.ends_with(&format!(".{domain}")),
            None => a == reg,
        }
    })
}

/// `hostname:pid` (the hostname from `HOSTNAME` or `/etc/hostname`; a pod's name on
/// Kubernetes).
pub fn default_name() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|h| h.trim().to_string())
        })
        .unwrap_or_else(|| "worker".into());
    format!("{host}:{}", std::process::id())
}

/// The engine's layer-result cache kept in the store (table `layer_results`), shared by
/// every worker on the database. Counts what it served.
pub struct StoreLayerResults {
    store: Store,
    /// Records served from the store.
    pub hits: AtomicU64,
    /// Records asked for and absent.
    pub misses: AtomicU64,
    /// Records written.
    pub stored: AtomicU64,
}

impl StoreLayerResults {
    /// A cache on `store`.
    pub fn new(store: Store) -> StoreLayerResults {
        StoreLayerResults {
            store,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            stored: AtomicU64::new(0),
        }
    }
}

impl std::fmt::Debug for StoreLayerResults {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreLayerResults")
            .field("store", &self.store.describe())
            .field("hits", &self.hits)
            .field("misses", &self.misses)
            .field("stored", &self.stored)
            .finish()
    }
}

impl SharedLayerResults for StoreLayerResults {
    // Called from the engine's threads (never an async task): the store's blocking calls
    // are allowed there.
    fn load(&self, analyzer_key: &str, digest: &str, entry: &str) -> Option<Vec<u8>> {
        let got = self
            .store
            .read_blocking(|c| q::layer_result(c, analyzer_key, digest, entry));
        match got {
            Ok(Some(body)) => {
                self.hits.fetch_add(1, Ordering::Relaxed);
                Some(body)
            }
            Ok(None) => {
                self.misses.fetch_add(1, Ordering::Relaxed);
                None
            }
            Err(e) => {
                tracing::warn!(error = %e, digest, "layer-result cache read failed; analysing the layer");
                self.misses.fetch_add(1, Ordering::Relaxed);
                None
            }
        }
    }

    fn store(&self, analyzer_key: &str, digest: &str, entry: &str, body: &[u8]) {
        if body.len() > q::MAX_LAYER_RESULT_BYTES {
            return;
        }
        // Records are JSON (UTF-8); anything else is not kept.
        let Ok(text) = std::str::from_utf8(body) else {
            return;
        };
        let (k, d, e, t) = (
            analyzer_key.to_string(),
            digest.to_string(),
            entry.to_string(),
            text.to_string(),
        );
        match self
            .store
            .write_blocking(move |c| q::put_layer_result(c, &k, &d, &e, &t))
        {
            Ok(()) => {
                self.stored.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => tracing::warn!(error = %e, digest, "layer-result cache write failed"),
        }
    }
}

/// What a finished job stored (`jobs.result`, and `GET /v1/jobs/{id}`'s `result`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobResult {
    /// The image digest the reference resolved to.
    pub digest: String,
    /// The scan record.
    pub scan_id: String,
    /// Packages stored.
    pub packages: usize,
    /// Findings stored.
    pub findings: Option<usize>,
    /// Layers of the image.
    pub layers: usize,
    /// Layers whose analysis came from the layer-result cache (not analysed again).
    pub layers_cached: usize,
}

/// Running worker loops; [`Workers::stop`] ends them.
#[derive(Default)]
pub struct Workers {
    handles: Vec<tokio::task::JoinHandle<()>>,
    running: Running,
}

/// The cancellation tokens of the scans in progress, by worker.
type Running = Arc<std::sync::Mutex<std::collections::HashMap<String, Cancel>>>;

impl Workers {
    /// Stops the loops and cancels the scans in progress. A job cut off here keeps its
    /// lease until it runs out; then it is claimed again (nothing of it was stored).
    pub fn stop(self) {
        if let Ok(m) = self.running.lock() {
            for c in m.values() {
                c.cancel();
            }
        }
        for h in self.handles {
            h.abort();
        }
    }

    /// How many loops run.
    pub fn len(&self) -> usize {
        self.handles.len()
    }

    /// Whether none runs.
    pub fn is_empty(&self) -> bool {
        self.handles.is_empty()
    }
}

/// Starts `cfg.workers` worker loops on the current runtime; they run until
/// [`Workers::stop`] (or the runtime stops). `wake` is notified when a job is enqueued
/// in this process.
pub fn spawn(
    store: Store,
    mut cfg: WorkerConfig,
    metrics: Arc<Metrics>,
    wake: Arc<tokio::sync::Notify>,
) -> Result<Workers, bulwark_engine::EngineError> {
    if cfg.workers == 0 {
        return Ok(Workers::default());
    }
    let shared = Arc::new(StoreLayerResults::new(store.clone()));
    cfg.engine.shared_layer_results = Some(shared);
    let engine = Engine::new(cfg.engine.clone())?;
    let cfg = Arc::new(cfg);
    let running = Running::default();
    let mut handles = Vec::new();
    for n in 0..cfg.workers {
        let name = format!("{}/{n}", cfg.name);
        handles.push(tokio::spawn(worker_loop(
            Loop {
                store: store.clone(),
                engine: engine.clone(),
                cfg: cfg.clone(),
                metrics: metrics.clone(),
                wake: wake.clone(),
                running: running.clone(),
            },
            name,
        )));
    }
    tracing::info!(workers = cfg.workers, name = %cfg.name, "job workers started");
    Ok(Workers { handles, running })
}

/// What every worker loop of a process shares.
struct Loop {
    store: Store,
    engine: Engine,
    cfg: Arc<WorkerConfig>,
    metrics: Arc<Metrics>,
    wake: Arc<tokio::sync::Notify>,
    running: Running,
}

async fn worker_loop(l: Loop, name: String) {
    let Loop {
        store,
        engine,
        cfg,
        metrics,
        wake,
        running,
    } = l;
    let lease_ms = i64::try_from(cfg.lease.as_millis()).unwrap_or(i64::MAX);
    loop {
        // Idle polls are reads; only a due job costs a write (the claim).
        let claimed = match store.read(q::due).await {
            Ok(false) => Ok(None),
            Ok(true) | Err(_) => {
                let who = name.clone();
                store.write(move |c| q::claim(c, &who, lease_ms)).await
            }
        };
        match claimed {
            Ok(Some(job)) => {
                let cancel = Cancel::new().with_timeout(cfg.job_timeout);
                if let Ok(mut m) = running.lock() {
                    m.insert(name.clone(), cancel.clone());
                }
                run_job(&store, &engine, &cfg, &metrics, &name, job, cancel).await;
                if let Ok(mut m) = running.lock() {
                    m.remove(&name);
                }
            }
            Ok(None) => {
                tokio::select! {
                    () = wake.notified() => {}
                    () = tokio::time::sleep(cfg.poll) => {}
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, worker = %name, "claiming a job failed; retrying");
                tokio::time::sleep(cfg.poll).await;
            }
        }
    }
}

/// Why a job attempt failed.
enum Failure {
    /// Try again later.
    Retry(String),
    /// Never succeeds (a refused request).
    Permanent(String),
}

#[allow(clippy::too_many_arguments)]
async fn run_job(
    store: &Store,
    engine: &Engine,
    cfg: &WorkerConfig,
    metrics: &Metrics,
    worker: &str,
    job: Job,
    cancel: Cancel,
) {
    let attempt = job.attempts;
    tracing::info!(job = %job.id, attempt, worker, "job claimed");
    // Renew the lease while the job runs; losing it cancels the scan.
    let renewer = {
        let store = store.clone();
        let cancel = cancel.clone();
        let (id, who) = (job.id.clone(), worker.to_string());
        let lease_ms = i64::try_from(cfg.lease.as_millis()).unwrap_or(i64::MAX);
        let every = (cfg.lease / 3).max(Duration::from_millis(50));
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let (id2, who2) = (id.clone(), who.clone());
                match store
                    .write(move |c| q::renew(c, &id2, &who2, attempt, lease_ms))
                    .await
                {
                    Ok(true) => {}
                    Ok(false) => {
                        tracing::warn!(job = %id, worker = %who, "lease lost; stopping the job");
                        cancel.cancel();
                        return;
                    }
                    // A transient store error: try again at the next tick (the lease
                    // still has two thirds left).
                    Err(e) => tracing::warn!(job = %id, error = %e, "renewing the lease failed"),
                }
            }
        })
    };
    let outcome = execute(store, engine, cfg, worker, &job, cancel).await;
    renewer.abort();
    match outcome {
        Ok(result) => {
            metrics.job("done");
            metrics.layer_cache(result.layers_cached, result.layers - result.layers_cached);
            tracing::info!(job = %job.id, digest = %result.digest, layers = result.layers, layers_cached = result.layers_cached, "job done");
        }
        Err(failure) => {
            let (msg, permanent) = match failure {
                Failure::Retry(m) => (m, false),
                Failure::Permanent(m) => (m, true),
            };
            let (id, who, m2) = (job.id.clone(), worker.to_string(), msg.clone());
            let state = store
                .write(move |c| q::fail(c, &id, &who, attempt, &m2, permanent))
                .await;
            match state {
                Ok(Some(s)) => {
                    metrics.job(if s == "failed" { "failed" } else { "retry" });
                    tracing::warn!(job = %job.id, attempt, state = s, error = %msg, "job attempt failed");
                }
                Ok(None) => {
                    metrics.job("lost");
                    tracing::warn!(job = %job.id, error = %msg, "job attempt ended after its lease was lost; left to its new holder");
                }
                Err(e) => {
                    tracing::error!(job = %job.id, error = %e, "recording the failure failed; the lease will run out and the job be retried")
                }
            }
        }
    }
}

async fn execute(
    store: &Store,
    engine: &Engine,
    cfg: &WorkerConfig,
    worker: &str,
    job: &Job,
    cancel: Cancel,
) -> Result<JobResult, Failure> {
    if job.kind != "scan" {
        return Err(Failure::Permanent(format!(
            "unknown job kind {:?}",
            job.kind
        )));
    }
    let req: ScanJob = serde_json::from_str(&job.payload)
        .map_err(|e| Failure::Permanent(format!("unreadable job request: {e}")))?;
    let image = check_image(&req.image).map_err(|e| Failure::Permanent(e.message))?;
    if !registry_allowed(&image, &cfg.registries) {
        return Err(Failure::Permanent(format!(
            "{image}: registry not in this worker's allow-list (--job-registry)"
        )));
    }
    if cfg.engine.registry.insecure && !loopback_registry(&image) {
        return Err(Failure::Permanent(format!(
            "{image}: this worker pulls over plain HTTP (--registry-insecure), which is for loopback registries only"
        )));
    }
    // Pull and scan: packages (and the report's image metadata); the server matches
    // them itself, as it does every upload.
    let engine = engine.clone();
    let target = format!("docker://{image}");
    let scanned = tokio::task::spawn_blocking(move || {
        let request = ScanRequest {
            target: TargetRequest {
                target,
                platform: None,
                allow_unknown: false,
            },
            scanners: Scanners {
                vuln: false,
                secret: false,
                misconfig: false,
            },
            ..ScanRequest::default()
        };
        let outcome = engine.scan(&request, &cancel)?;
        let mut json = Vec::new();
        bulwark_report::write(&outcome.report, bulwark_report::Format::Json, &mut json)
            .map_err(|e| bulwark_engine::EngineError::Config(format!("writing the report: {e}")))?;
        Ok::<_, bulwark_engine::EngineError>((json, outcome.stats))
    })
    .await
    .map_err(|e| Failure::Retry(format!("scan task: {e}")))?;
    let (json, stats) = scanned.map_err(|e| match &e {
        bulwark_engine::EngineError::Image(bulwark_image::ImageError::Target { .. }) => {
            Failure::Permanent(e.to_string())
        }
        _ => Failure::Retry(e.to_string()),
    })?;
    let layers = stats.layers.len();
    let layers_cached = stats
        .layers
        .iter()
        .filter(|l| l.stats.cache.is_hit())
        .count();
    // The upload path: parse the report strictly, match it, store it.
    let hints = ImageHints {
        team: req.team.clone(),
        owner: req.owner.clone(),
        ..ImageHints::default()
    };
    let dir = cfg.vulndb.clone();
    let parsed = tokio::task::spawn_blocking(move || {
        let parsed = ingest::report_upload(&json, &hints)?;
        let mut up = parsed.clone();
        let matched = match &dir {
            Some(d) => crate::rematch::match_upload(d, &mut up)?,
            None => None,
        };
        Ok::<_, ApiError>((up, parsed, matched))
    })
    .await
    .map_err(|e| Failure::Retry(format!("matching task: {e}")))?;
    let (up, parsed, matched) = parsed.map_err(|e| Failure::Retry(e.to_string()))?;
    let scope = match &req.scope_teams {
        None => Scope::All,
        Some(ts) => Scope::Teams(ts.clone()),
    };
    let (id, who, dir) = (job.id.clone(), worker.to_string(), cfg.vulndb.clone());
    let attempt = job.attempts;
    let stored = store
        .write(move |c| {
            // Only the holder of this attempt stores anything (exactly once).
            if !q::holds(c, &id, &who, attempt)? {
                return Err(StoreError::Refused(ApiError::new(
                    axum::http::StatusCode::CONFLICT,
                    "lease_lost",
                    format!("job {id}: lease lost before the result was stored"),
                )));
            }
            let mut up = up;
            if let Some(d) = &dir {
                let at = crate::rematch::stored_generation(c)?;
                if at.is_some() && at != matched {
                    let mut again = parsed;
                    crate::rematch::match_upload(d, &mut again).map_err(StoreError::Refused)?;
                    up = again;
                }
            }
            let actor = format!("worker:{who}");
            let stored = inventory::store_upload(c, &up, &scope, (&actor, "worker"))?;
            let result = JobResult {
                digest: stored.digest.clone(),
                scan_id: stored.scan_id.clone(),
                packages: stored.packages,
                findings: stored.findings,
                layers,
                layers_cached,
            };
            let text = serde_json::to_string(&result)
                .map_err(|e| StoreError::Corrupt(format!("job result: {e}")))?;
            q::finish(c, &id, &who, attempt, &text)?;
            Ok(result)
        })
        .await;
    match stored {
        Ok(r) => Ok(r),
        Err(StoreError::Refused(e)) if e.code == "forbidden" => Err(Failure::Permanent(e.message)),
        Err(e) => Err(Failure::Retry(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_allow_list() {
        let allow = vec![
            "ghcr.io".to_string(),
            "*.corp.example".to_string(),
            "127.0.0.1:5000".to_string(),
        ];
        for ok in [
            "ghcr.io/acme/shop:1",
            "GHCR.io/acme/shop@sha256:0000000000000000000000000000000000000000000000000000000000000000",
            "reg.corp.example/a/b:1",
            "reg.corp.example:8443/a/b:1",
            "127.0.0.1:5000/a/b:1",
        ] {
            assert!(registry_allowed(ok, &allow), "{ok} refused");
        }
        for bad in [
            "docker.io/library/alpine:3",
            "alpine:3",
            "corp.example/a/b:1",
            "evilcorp.example/a/b:1",
            "ghcr.io.evil.test/a/b:1",
            "127.0.0.1:5001/a/b:1",
            "169.254.169.254/latest/meta:1",
        ] {
            assert!(!registry_allowed(bad, &allow), "{bad} allowed");
        }
        assert!(registry_allowed("alpine:3", &[]));
        assert!(registry_allowed("alpine:3", &["docker.io".to_string()]));
    }

    #[test]
    fn only_registry_references_are_jobs() {
        assert_eq!(
            check_image("docker://127.0.0.1:5000/a/b:1").unwrap(),
            "127.0.0.1:5000/a/b:1"
        );
        assert!(check_image("ghcr.io/acme/shop:1.4").is_ok());
        for bad in [
            "",
            "/etc/passwd",
            "./image.tar",
            "oci:/tmp/x",
            "docker-archive:/tmp/x.tar",
            "docker-daemon:alpine",
            "sbom:/x.json",
            "file:///etc",
            "a/../b",
            "a b",
        ] {
            assert!(check_image(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn plain_http_only_to_loopback_registries() {
        assert!(loopback_registry("127.0.0.1:5000/a/b:1"));
        assert!(loopback_registry("localhost:5000/a/b@sha256:0000000000000000000000000000000000000000000000000000000000000000"));
        assert!(!loopback_registry("ghcr.io/acme/shop:1.4"));
        assert!(!loopback_registry("10.0.0.1:5000/a/b:1"));
        assert!(!loopback_registry("alpine"));
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        assert_eq!(q::backoff_ms(1), 5_000);
        assert_eq!(q::backoff_ms(2), 10_000);
        assert_eq!(q::backoff_ms(50), 600_000);
    }
}
