//! The bulwark server as the webhook's second source: vulnerability verdicts from its
//! inventory, and its audit log as the home of every decision.
//!
//! - [`InventoryDeps`] answers [`Dependencies::vulnerabilities`] from the findings the
//!   server holds for the image's digest (the scans CI uploaded, kept current by the
//!   server's re-match), and falls back to the on-demand scan when the server does not
//!   know the image, cannot vouch for a fact the gate needs (KEV/EPSS of findings from
//!   an SBOM upload), or does not answer. Tag resolution and signatures stay with
//!   [`Live`]. Answers are kept for [`FINDINGS_TTL`].
//! - [`DecisionSink`] ships decisions to `POST /v1/admission/decisions` from a
//!   background thread, in batches, retrying with backoff while the server is down. The
//!   queue is bounded ([`QUEUE`]); past it decisions are counted as dropped and logged
//!   (they are always in the local decision log too). Admission never waits on it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bulwark_core::{FixStatus, Severity, VulnFinding};
use bulwark_policy::deps::{within, DepError, ImageRef};
use bulwark_policy::schema::VerifyEntry;
use bulwark_policy::{Dependencies, Live, VulnNeeds};
use bulwark_server::client::{ClientError, ServerClient};
use bulwark_server::store::inventory::FindingOut;
use serde_json::Value;

/// How long the server's findings for a digest are reused.
pub const FINDINGS_TTL: Duration = Duration::from_secs(30);
/// Most digests whose findings are kept.
const CACHE_MAX: usize = 10_000;
/// Most decisions waiting to be sent.
pub const QUEUE: usize = 10_000;
/// Most decisions per request.
const BATCH: usize = 500;

/// Where the webhook reports to.
#[derive(Debug, Clone)]
pub struct ServerLink {
    /// The server, with an admission-role token.
    pub client: ServerClient,
    /// This cluster's name in the server (placements and decisions).
    pub cluster: String,
}

/// The server's answer for a digest (`None`: not in the inventory) and when it came.
type Cached = (Instant, Option<Arc<Vec<FindingOut>>>);

/// [`Live`] with vulnerability findings from the server first.
pub struct InventoryDeps {
    live: Live,
    client: ServerClient,
    cache: Mutex<HashMap<String, Cached>>,
    /// Answers from the server, and fallbacks to the scan.
    pub from_server: AtomicU64,
    /// Fallbacks to the on-demand scan.
    pub fallbacks: AtomicU64,
}

impl InventoryDeps {
    /// The server's findings, then `live`.
    pub fn new(live: Live, client: ServerClient) -> InventoryDeps {
        InventoryDeps {
            live,
            client,
            cache: Mutex::new(HashMap::new()),
            from_server: AtomicU64::new(0),
            fallbacks: AtomicU64::new(0),
        }
    }

    fn server_findings(
        &self,
        digest: &str,
        budget: Duration,
    ) -> Result<Option<Arc<Vec<FindingOut>>>, DepError> {
        if let Ok(c) = self.cache.lock() {
            if let Some((at, v)) = c.get(digest) {
                if at.elapsed() < FINDINGS_TTL {
                    return Ok(v.clone());
                }
            }
        }
        let client = self.client.clone();
        let d = digest.to_string();
        let what = format!("asking {} for the findings of {digest}", self.client.base());
        let w = what.clone();
        let got = within(&what, budget, move || {
            client
                .image_findings(&d)
                .map_err(|e| DepError::Unavailable(format!("{w}: {}", chain(&e))))
        })?;
        let got = got.map(Arc::new);
        if let Ok(mut c) = self.cache.lock() {
            if c.len() >= CACHE_MAX {
                c.clear();
            }
            c.insert(digest.to_string(), (Instant::now(), got.clone()));
        }
        Ok(got)
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

/// The findings the gate may decide on: affected now, not suppressed.
fn to_vuln(f: &FindingOut) -> VulnFinding {
    VulnFinding {
        id: f.id.clone(),
        aliases: f.aliases.clone(),
        package: f.package.clone(),
        purl: f.purl.clone(),
        installed_version: f.installed_version.clone(),
        fixed_versions: f.fixed_version.iter().cloned().collect(),
        status: serde_json::from_value::<FixStatus>(Value::String(f.status.clone()))
            .unwrap_or_default(),
        severity: f.severity.parse().unwrap_or(Severity::Unknown),
        title: f.title.clone(),
        kev: f.kev.unwrap_or(false),
        epss: f.epss.map(|p| (p, 0.0)),
        layer: f.layer.clone(),
        severity_source: None,
        cvss: Vec::new(),
        description: String::new(),
        references: Vec::new(),
        path: None,
        suppressed: None,
    }
}

impl Dependencies for InventoryDeps {
    fn resolve_cached(&self, image: &ImageRef) -> Option<Result<String, DepError>> {
        self.live.resolve_cached(image)
    }

    fn verify_cached(
        &self,
        image: &ImageRef,
        digest: &str,
        entry: &VerifyEntry,
    ) -> Option<Result<Result<(), String>, DepError>> {
        self.live.verify_cached(image, digest, entry)
    }

    fn resolve(&self, image: &ImageRef, budget: Duration) -> Result<String, DepError> {
        self.live.resolve(image, budget)
    }

    fn verify(
        &self,
        image: &ImageRef,
        digest: &str,
        entry: &VerifyEntry,
        budget: Duration,
    ) -> Result<Result<(), String>, DepError> {
        self.live.verify(image, digest, entry, budget)
    }

    fn vulnerabilities(
        &self,
        image: &ImageRef,
        digest: &str,
        budget: Duration,
        needs: VulnNeeds,
    ) -> Result<Arc<Vec<VulnFinding>>, DepError> {
        let started = Instant::now();
        let why_not = match self.server_findings(digest, budget) {
            Ok(Some(items)) => {
                let current: Vec<&FindingOut> = items
                    .iter()
                    .filter(|f| f.state == "affected" && f.suppressed.is_none())
                    .collect();
                // KEV/EPSS are known for findings the server got from a scan (kev set);
                // an SBOM upload's findings carry neither, and "unknown" must not read
                // as "not exploited".
                let unknown = (needs.kev || needs.epss) && current.iter().any(|f| f.kev.is_none());
                if !unknown {
                    self.from_server.fetch_add(1, Ordering::Relaxed);
                    return Ok(Arc::new(current.into_iter().map(to_vuln).collect()));
                }
                format!(
                    "the server's findings for {digest} carry no KEV/EPSS data, which this gate needs"
                )
            }
            Ok(None) => format!("the server does not know {digest}"),
            Err(e) => e.to_string(),
        };
        self.fallbacks.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(image = %image.original, reason = %why_not, "falling back to an on-demand scan");
        let left = budget.saturating_sub(started.elapsed());
        self.live
            .vulnerabilities(image, digest, left, needs)
            .map_err(|e| DepError::Unavailable(format!("{why_not}; and {e}")))
    }
}

/// Ships decisions to the server's audit log (see the module doc).
pub struct DecisionSink {
    tx: SyncSender<DecisionRecord>,
    /// Decisions not queued because the queue was full.
    pub dropped: Arc<AtomicU64>,
    /// Decisions the server recorded.
    pub recorded: Arc<AtomicU64>,
}

impl DecisionSink {
    /// Starts the sender thread.
    pub fn start(link: ServerLink) -> DecisionSink {
        let (tx, rx) = std::sync::mpsc::sync_channel(QUEUE);
        let recorded = Arc::new(AtomicU64::new(0));
        let r = recorded.clone();
        let spawned = std::thread::Builder::new()
            .name("bulwark-admit-decisions".into())
            .spawn(move || send_loop(&link, &rx, &r));
        if let Err(e) = spawned {
            tracing::error!(
                "cannot start the decision sender: {e}; decisions stay in the local log only"
            );
        }
        DecisionSink {
            tx,
            dropped: Arc::new(AtomicU64::new(0)),
            recorded,
        }
    }

    /// Queues one decision (never blocks).
    pub fn record(&self, decision: DecisionRecord) {
        match self.tx.try_send(decision) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                let n = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
                if n.is_power_of_two() {
                    tracing::warn!(
                        dropped = n,
                        "the server's audit log is not keeping up; decisions dropped from its queue (they are in the local log)"
                    );
                }
            }
        }
    }
}

/// One decision as `POST /v1/admission/decisions` takes it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DecisionRecord {
    /// The review's uid.
    pub uid: String,
    /// When it was decided (epoch milliseconds; sent as RFC 3339).
    #[serde(rename = "time", serialize_with = "rfc3339")]
    pub time_ms: i64,
    /// `validate` or `mutate`.
    pub phase: &'static str,
    /// `CREATE`, `UPDATE`, ...
    pub operation: String,
    /// The object's kind.
    pub kind: String,
    /// Its namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// Who asked.
    pub user: String,
    /// The verdict.
    pub allowed: bool,
    /// The exemption that let it through, if one did.
    pub exempt: Option<String>,
    /// Why not.
    pub reasons: Vec<String>,
    /// Warnings returned.
    pub warnings: Vec<String>,
    /// Operations in the mutation patch.
    pub patch_ops: usize,
}

fn rfc3339<S: serde::Serializer>(ms: &i64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&bulwark_server::store::rfc3339(*ms))
}

fn send_loop(link: &ServerLink, rx: &Receiver<DecisionRecord>, recorded: &AtomicU64) {
    let mut batch: Vec<DecisionRecord> = Vec::new();
    let mut backoff = Duration::from_secs(1);
    loop {
        if batch.is_empty() {
            match rx.recv() {
                Ok(v) => batch.push(v),
                Err(_) => return,
            }
        }
        // Gather what arrives within a moment, up to a batch.
        let until = Instant::now() + Duration::from_millis(200);
        while batch.len() < BATCH {
            let left = until.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(v) => batch.push(v),
                Err(RecvTimeoutError::Timeout) => break,
                Err(RecvTimeoutError::Disconnected) => break,
            }
        }
        let body = serde_json::json!({"cluster": link.cluster, "decisions": batch});
        match link.client.record_decisions(&body) {
            Ok(n) => {
                recorded.fetch_add(n, Ordering::Relaxed);
                batch.clear();
                backoff = Duration::from_secs(1);
            }
            Err(ClientError::Refused {
                status,
                code,
                message,
            }) if status < 500 && status != 429 => {
                // Not something a retry fixes (a bad token, a refused body).
                tracing::error!(status, %code, %message, n = batch.len(), "the server refused admission decisions; dropped from its queue (they are in the local log)");
                batch.clear();
            }
            Err(e) => {
                tracing::warn!(error = %chain(&e), retry_in_s = backoff.as_secs(), n = batch.len(), "sending admission decisions to the server failed; will retry");
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(Duration::from_secs(30));
            }
        }
    }
}
