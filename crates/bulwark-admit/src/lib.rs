//! `bulwark admit`: the Kubernetes admission webhook. It answers AdmissionReview v1
//! requests over HTTPS — validating at `/validate`, mutating at `/mutate` — with the
//! rules of one policy file, evaluated by `bulwark-policy` (the same engine as
//! `bulwark policy test`).
//!
//! - TLS with rustls (ring); certificate and key re-read when they change ([`tls`]).
//! - The policy file is re-read when it changes; a new policy that does not load is
//!   logged and the last good one stays in service.
//! - Bounded: request bodies over [`Config::max_body`] get 413; evaluation runs on the
//!   blocking pool under an overall [`Config::deadline`] (past it the request is
//!   denied: fail closed); warnings are capped in number and length.
//! - A body that is not an AdmissionReview with a `request.uid` gets 400 (there is no uid
//!   to answer); a readable review whose request is malformed, or whose kind carries no
//!   pod, gets a well-formed denial echoing the uid.
//! - Every decision is one structured log line (target `bulwark_admit::decision`).
//! - With a server ([`Config::server`]): vulnerability findings from its inventory and
//!   decisions to its audit log ([`inventory`]); placements of admitted pods and the
//!   signature verifications that ran, to its inventory ([`report`]).
//! - Prometheus metrics over plain HTTP on their own address when asked for
//!   ([`Config::metrics_listen`], [`metrics`]); the review path adds a few atomic
//!   increments.
//!
//! HTTP is axum on hyper (hyper-util's auto builder for HTTP/1.1 and HTTP/2) over
//! tokio-rustls; the accept loop is written out because axum's `serve` has no TLS.

pub mod inventory;
pub mod manifests;
pub mod metrics;
pub mod report;
pub mod tls;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime};

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use base64::Engine as _;
use bulwark_policy::input::ReviewRead;
use bulwark_policy::{Dependencies, Live, Phase, Policy, Request};
use serde_json::Value;

/// Default largest request body (the API server caps objects near 3 MiB; a review
/// carries the object and the old object).
pub const DEFAULT_MAX_BODY: usize = 8 * 1024 * 1024;
/// Most warnings returned (the API server truncates long lists anyway).
pub const MAX_WARNINGS: usize = 20;
/// Longest warning returned, in bytes (the API server's own guidance).
pub const MAX_WARNING_LEN: usize = 256;

/// What the webhook needs.
#[derive(Clone)]
pub struct Config {
    /// The policy file.
    pub policy: PathBuf,
    /// PEM certificate chain.
    pub cert: PathBuf,
    /// PEM private key.
    pub key: PathBuf,
    /// Where to listen (default 127.0.0.1:8443).
    pub listen: SocketAddr,
    /// Registry access for signature checks and digest pinning.
    pub registry: bulwark_image::registry::RegistryConfig,
    /// Engine for on-demand vulnerability scans (none: vulnerability gates decide by
    /// their `onError`).
    pub engine: Option<bulwark_engine::Engine>,
    /// Largest request body.
    pub max_body: usize,
    /// Overall budget of one decision (keep it under the webhook's `timeoutSeconds`).
    pub deadline: Duration,
    /// How often the certificate, key and policy files are checked for changes.
    pub reload_interval: Duration,
    /// The bulwark server: vulnerability findings from its inventory, decisions to its
    /// audit log, placements and signature verifications to its inventory.
    pub server: Option<inventory::ServerLink>,
    /// Where to serve Prometheus metrics (`GET /metrics`, plain HTTP); none: not served.
    pub metrics_listen: Option<SocketAddr>,
}

impl Config {
    /// Defaults around the three files.
    pub fn new(policy: PathBuf, cert: PathBuf, key: PathBuf) -> Config {
        Config {
            policy,
            cert,
            key,
            listen: SocketAddr::from(([127, 0, 0, 1], 8443)),
            registry: Default::default(),
            engine: None,
            max_body: DEFAULT_MAX_BODY,
            deadline: Duration::from_secs(8),
            reload_interval: Duration::from_secs(1),
            server: None,
            metrics_listen: None,
        }
    }
}

/// Why the webhook could not start.
#[derive(Debug, thiserror::Error)]
pub enum AdmitError {
    /// The policy file is invalid or unreadable.
    #[error(transparent)]
    Policy(#[from] bulwark_policy::PolicyError),
    /// The certificate or key is unusable.
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    /// The listen address (or the metrics address) could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// Address.
        addr: SocketAddr,
        /// Cause.
        source: std::io::Error,
    },
}

struct AppState {
    policy: RwLock<Arc<Policy>>,
    deps: Arc<dyn Dependencies + Send + Sync>,
    sink: Option<inventory::DecisionSink>,
    reporter: Option<report::Reporter>,
    deadline: Duration,
    metrics: Arc<metrics::Metrics>,
    live: Live,
    inventory: Option<Arc<inventory::InventoryDeps>>,
}

impl AppState {
    fn policy(&self) -> Option<Arc<Policy>> {
        self.policy.read().ok().map(|p| p.clone())
    }
}

/// A running webhook; dropping it stops the server.
pub struct Running {
    /// The bound address.
    pub addr: SocketAddr,
    /// The dependencies (caches and their counters).
    pub deps: Live,
    /// What was reported to the server (with [`Config::server`]).
    pub reports: Option<Arc<report::Counters>>,
    /// The webhook's own counters (also served at `GET /metrics` with
    /// [`Config::metrics_listen`]).
    pub metrics: Arc<metrics::Metrics>,
    /// Where the metrics are served (with [`Config::metrics_listen`]).
    pub metrics_addr: Option<SocketAddr>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl Running {
    /// Waits until the server stops (it runs until dropped or the process ends).
    pub async fn wait(mut self) {
        if let Some(t) = self.tasks.pop() {
            let _ = t.await;
        }
    }
}

type FileStamp = Option<(SystemTime, u64)>;

fn file_stamp(p: &Path) -> FileStamp {
    let m = std::fs::metadata(p).ok()?;
    Some((m.modified().ok()?, m.len()))
}

/// Loads everything, binds, and serves in the background on the current tokio runtime.
pub async fn start(cfg: Config) -> Result<Running, AdmitError> {
    let policy_path = cfg.policy.clone();
    let policy = bulwark_policy::load(&policy_path)?;
    tracing::info!(policy = %policy_path.display(), rules = policy.rules.len(), "policy loaded");
    let certs = tls::CertStore::open(&cfg.cert, &cfg.key)?;
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(certs.server_config()?));
    let deps = Live::new(cfg.registry.clone(), &policy.settings, cfg.engine.clone());
    let (used, sink, reporter, inventory): (Arc<dyn Dependencies + Send + Sync>, _, _, _) =
        match &cfg.server {
            Some(link) => {
                tracing::info!(server = %link.client.base(), cluster = %link.cluster, "vulnerability findings from the server's inventory; decisions to its audit log; placements and signature verifications to its inventory");
                let reporter = report::Reporter::start(link.clone(), deps.clone());
                deps.observe(reporter.observer());
                let inventory = Arc::new(inventory::InventoryDeps::new(
                    deps.clone(),
                    link.client.clone(),
                ));
                (
                    inventory.clone(),
                    Some(inventory::DecisionSink::start(link.clone())),
                    Some(reporter),
                    Some(inventory),
                )
            }
            None => (Arc::new(deps.clone()), None, None, None),
        };
    let metrics = Arc::new(metrics::Metrics::default());
    let reports = reporter.as_ref().map(report::Reporter::counters);
    let state = Arc::new(AppState {
        policy: RwLock::new(Arc::new(policy)),
        deps: used,
        sink,
        reporter,
        deadline: cfg.deadline,
        metrics: metrics.clone(),
        live: deps.clone(),
        inventory,
    });
    let app = Router::new()
        .route("/validate", post(validate))
        .route("/mutate", post(mutate))
        .route("/healthz", get(|| async { "ok" }))
        .layer(DefaultBodyLimit::max(cfg.max_body))
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind(cfg.listen)
        .await
        .map_err(|source| AdmitError::Bind {
            addr: cfg.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| AdmitError::Bind {
        addr: cfg.listen,
        source,
    })?;
    tracing::info!(%addr, "admission webhook listening (HTTPS)");
    // Bound before anything is spawned: a metrics address that cannot be bound refuses
    // to start, like the webhook's own.
    let metrics_server = match cfg.metrics_listen {
        None => None,
        Some(want) => {
            let l = tokio::net::TcpListener::bind(want)
                .await
                .map_err(|source| AdmitError::Bind { addr: want, source })?;
            let bound = l
                .local_addr()
                .map_err(|source| AdmitError::Bind { addr: want, source })?;
            tracing::info!(addr = %bound, "metrics listening (HTTP, GET /metrics)");
            Some((l, bound))
        }
    };
    let metrics_addr = metrics_server.as_ref().map(|(_, a)| *a);

    let mut tasks = Vec::new();
    if let Some((l, _)) = metrics_server {
        let app = Router::new()
            .route("/metrics", get(scrape))
            .with_state(state.clone());
        tasks.push(tokio::spawn(async move {
            if let Err(e) = axum::serve(l, app).await {
                tracing::error!("metrics server stopped: {e}");
            }
        }));
    }
    tasks.push(tokio::spawn(watch(
        state,
        certs,
        policy_path,
        cfg.reload_interval,
    )));
    // Last: `Running::wait` waits on it.
    tasks.push(tokio::spawn(accept_loop(listener, acceptor, app)));
    Ok(Running {
        addr,
        deps,
        reports,
        metrics,
        metrics_addr,
        tasks,
    })
}

/// Re-reads the certificate pair and the policy when they change.
async fn watch(
    state: Arc<AppState>,
    certs: Arc<tls::CertStore>,
    policy_path: PathBuf,
    every: Duration,
) {
    let mut seen = file_stamp(&policy_path);
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        let c = certs.clone();
        match tokio::task::spawn_blocking(move || c.reload()).await {
            Ok(Some(r)) => state.metrics.cert_reload(r),
            Ok(None) => {}
            Err(e) => {
                tracing::error!("keeping the previous certificate: reload task failed: {e}");
                state.metrics.cert_reload(metrics::Reload::Failed);
            }
        }
        let now = file_stamp(&policy_path);
        if now == seen {
            continue;
        }
        seen = now;
        let p = policy_path.clone();
        match tokio::task::spawn_blocking(move || bulwark_policy::load(&p)).await {
            Ok(Ok(policy)) => {
                tracing::info!(policy = %policy_path.display(), rules = policy.rules.len(), "policy reloaded");
                if let Ok(mut cur) = state.policy.write() {
                    *cur = Arc::new(policy);
                }
                state.metrics.policy_reload(metrics::Reload::Ok);
            }
            Ok(Err(e)) => {
                tracing::error!("keeping the last good policy: {e}");
                state.metrics.policy_reload(metrics::Reload::Failed);
            }
            Err(e) => {
                tracing::error!("keeping the last good policy: reload task failed: {e}");
                state.metrics.policy_reload(metrics::Reload::Failed);
            }
        }
    }
}

async fn accept_loop(
    listener: tokio::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    app: Router,
) {
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!("accept: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let acceptor = acceptor.clone();
        let app = app.clone();
        tokio::spawn(async move {
            let tls =
                match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await {
                    Ok(Ok(s)) => s,
                    Ok(Err(e)) => {
                        tracing::debug!(%peer, "TLS handshake failed: {e}");
                        return;
                    }
                    Err(_) => {
                        tracing::debug!(%peer, "TLS handshake timed out");
                        return;
                    }
                };
            let svc = hyper_util::service::TowerToHyperService::new(app);
            let builder =
                hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new());
            if let Err(e) = builder
                .serve_connection(hyper_util::rt::TokioIo::new(tls), svc)
                .await
            {
                tracing::debug!(%peer, "connection: {e}");
            }
        });
    }
}

async fn validate(State(st): State<Arc<AppState>>, body: Bytes) -> Response {
    review(st, Phase::Validate, body).await
}

async fn mutate(State(st): State<Arc<AppState>>, body: Bytes) -> Response {
    review(st, Phase::Mutate, body).await
}

fn bad_request(msg: String) -> Response {
    tracing::warn!(target: "bulwark_admit::decision", "bad request: {msg}");
    (StatusCode::BAD_REQUEST, msg).into_response()
}

fn clip(s: &str) -> String {
    if s.len() <= MAX_WARNING_LEN {
        return s.to_string();
    }
    let mut end = MAX_WARNING_LEN - 3;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end])
}

/// The AdmissionReview v1 response, as serialised.
#[derive(serde::Serialize)]
struct ReviewOut<'a> {
    #[serde(rename = "apiVersion")]
    api_version: &'static str,
    kind: &'static str,
    response: ResponseOut<'a>,
}

#[derive(serde::Serialize)]
struct ResponseOut<'a> {
    uid: &'a str,
    allowed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<StatusOut>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    warnings: Vec<String>,
    #[serde(rename = "patchType", skip_serializing_if = "Option::is_none")]
    patch_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    patch: Option<String>,
}

#[derive(serde::Serialize)]
struct StatusOut {
    code: u16,
    reason: &'static str,
    message: String,
}

fn review_out<'a>(uid: &'a str, d: &bulwark_policy::Decision) -> ReviewOut<'a> {
    let status = (!d.allowed).then(|| {
        let mut message = d.reasons.join("; ");
        if message.len() > 4096 {
            message = clip(&message);
        }
        StatusOut {
            code: 403,
            reason: "Forbidden",
            message,
        }
    });
    let mut warnings: Vec<String> = d
        .warnings
        .iter()
        .take(MAX_WARNINGS)
        .map(|s| clip(s))
        .collect();
    if d.warnings.len() > MAX_WARNINGS {
        warnings.push(format!(
            "... and {} more warnings",
            d.warnings.len() - MAX_WARNINGS
        ));
    }
    let patch = (d.allowed && !d.patch.is_empty()).then(|| {
        let patch = serde_json::to_string(&d.patch).unwrap_or_default();
        base64::engine::general_purpose::STANDARD.encode(patch)
    });
    ReviewOut {
        api_version: "admission.k8s.io/v1",
        kind: "AdmissionReview",
        response: ResponseOut {
            uid,
            allowed: d.allowed,
            status,
            warnings,
            patch_type: patch.as_ref().map(|_| "JSONPatch"),
            patch,
        },
    }
}

/// The AdmissionReview v1 response for `uid`.
pub fn response(uid: &str, d: &bulwark_policy::Decision) -> Value {
    serde_json::to_value(review_out(uid, d)).unwrap_or(Value::Null)
}

/// [`response`] serialised: the body the webhook answers with.
pub fn response_body(uid: &str, d: &bulwark_policy::Decision) -> String {
    serde_json::to_string(&review_out(uid, d)).unwrap_or_default()
}

/// Runs an evaluation on the blocking pool under `deadline`; past it, or if the task
/// fails, the request is denied (fail closed) and the flag is `true`.
async fn blocking<T: Send + 'static>(
    deadline: Duration,
    f: impl FnOnce() -> (bulwark_policy::Decision, T) + Send + 'static,
) -> (bulwark_policy::Decision, Option<T>) {
    let task = tokio::task::spawn_blocking(f);
    let why = match tokio::time::timeout(deadline, task).await {
        Ok(Ok((d, back))) => return (d, Some(back)),
        Ok(Err(e)) => format!("evaluation failed: {e}"),
        Err(_) => format!(
            "evaluation exceeded the webhook's {} ms deadline; denied (fail closed)",
            deadline.as_millis()
        ),
    };
    let denied = bulwark_policy::Decision {
        allowed: false,
        reasons: vec![why],
        ..Default::default()
    };
    (denied, None)
}

/// `GET /metrics` on the metrics address: the webhook's counters, then the ones read
/// from the dependencies and (with a server) the decision sink and the reporter.
async fn scrape(State(st): State<Arc<AppState>>) -> Response {
    (
        StatusCode::OK,
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        render_metrics(&st),
    )
        .into_response()
}

fn render_metrics(st: &AppState) -> String {
    use std::fmt::Write as _;
    use std::sync::atomic::Ordering::Relaxed;
    let mut out = String::with_capacity(8 * 1024);
    st.metrics.render(&mut out);
    let rules = st.policy().map_or(0, |p| p.rules.len() as u64);
    metrics::single(
        &mut out,
        "bulwark_admit_policy_rules",
        "gauge",
        "Rules of the policy in service.",
        rules,
    );
    let stats = st.live.stats();
    for (name, help, c) in [
        (
            "bulwark_admit_signature_cache_hits_total",
            "Signature/attestation verdicts served from the cache.",
            &stats.cache_hits,
        ),
        (
            "bulwark_admit_signature_verifications_total",
            "Signature/attestation verifications that went to a registry.",
            &stats.verifications,
        ),
        (
            "bulwark_admit_tag_resolutions_total",
            "Tag-to-digest resolutions sent to a registry.",
            &stats.resolves,
        ),
        (
            "bulwark_admit_scans_total",
            "On-demand vulnerability scans started.",
            &stats.scans,
        ),
    ] {
        metrics::single(&mut out, name, "counter", help, c.load(Relaxed));
    }
    if let Some(inv) = &st.inventory {
        metrics::family(
            &mut out,
            "bulwark_admit_vulnerability_answers_total",
            "counter",
            "Vulnerability gate answers by source: the server's inventory (server) or the on-demand scan after it could not answer (fallback).",
        );
        for (source, c) in [("server", &inv.from_server), ("fallback", &inv.fallbacks)] {
            let _ = writeln!(
                out,
                "bulwark_admit_vulnerability_answers_total{{source=\"{source}\"}} {}",
                c.load(Relaxed)
            );
        }
    }
    if let Some(sink) = &st.sink {
        metrics::single(
            &mut out,
            "bulwark_admit_server_decisions_recorded_total",
            "counter",
            "Decisions the server's audit log recorded.",
            sink.recorded.load(Relaxed),
        );
        metrics::single(
            &mut out,
            "bulwark_admit_server_decisions_dropped_total",
            "counter",
            "Decisions not queued for the server's audit log (queue full); they are in the local log.",
            sink.dropped.load(Relaxed),
        );
    }
    if let Some(rep) = &st.reporter {
        let c = rep.counters();
        for (name, help, v) in [
            (
                "bulwark_admit_report_placements_stored_total",
                "Placements of admitted pods the server stored.",
                &c.placements_stored,
            ),
            (
                "bulwark_admit_report_signatures_stored_total",
                "Signature verification entries the server stored.",
                &c.signatures_stored,
            ),
            (
                "bulwark_admit_report_verifications_total",
                "Verifications the reporter heard of (each a signature cache miss filled).",
                &c.verifications,
            ),
            (
                "bulwark_admit_report_no_digest_total",
                "Containers not placed: their digest was not known without a registry call.",
                &c.no_digest,
            ),
            (
                "bulwark_admit_report_dropped_total",
                "Report events not queued (queue full) or placements past the pending bound.",
                &c.dropped,
            ),
            (
                "bulwark_admit_report_unknown_images_total",
                "Signature reports for images the server does not have (404).",
                &c.unknown_images,
            ),
            (
                "bulwark_admit_report_refused_total",
                "Reports the server refused (4xx other than 404 and 429): logged, not retried.",
                &c.refused,
            ),
            (
                "bulwark_admit_report_retries_total",
                "Report sends that failed and were retried.",
                &c.retries,
            ),
        ] {
            metrics::single(&mut out, name, "counter", help, v.load(Relaxed));
        }
    }
    out
}

async fn review(st: Arc<AppState>, phase: Phase, body: Bytes) -> Response {
    let started = Instant::now();
    let (uid, read) = match Request::read_review_bytes(&body) {
        ReviewRead::NotJson(e) => {
            let r = bad_request(format!("not JSON: {e}"));
            st.metrics
                .reviewed(phase, metrics::Outcome::BadRequest, started.elapsed());
            return r;
        }
        ReviewRead::NoUid => {
            let r = bad_request("not an AdmissionReview with a request.uid".into());
            st.metrics
                .reviewed(phase, metrics::Outcome::BadRequest, started.elapsed());
            return r;
        }
        ReviewRead::Read { uid, request } => (uid, request),
    };
    // Set where the decision is made: invalid, failed, or (None) by the decision.
    let mut outcome = None;
    let (decision, req) = match read {
        Err(e) => {
            outcome = Some(metrics::Outcome::Invalid);
            (
                bulwark_policy::Decision {
                    allowed: false,
                    reasons: vec![e.to_string()],
                    ..Default::default()
                },
                None,
            )
        }
        Ok(req) => {
            let Some(policy) = st.policy() else {
                st.metrics
                    .reviewed(phase, metrics::Outcome::Failed, started.elapsed());
                return (StatusCode::INTERNAL_SERVER_ERROR, "policy lock poisoned").into_response();
            };
            let deps = st.deps.clone();
            // Warm (every tag, signature and scan it needs is cached): decided right
            // here, no worker thread and no thread hand-off. Otherwise on the blocking
            // pool under the deadline, the request moved there and what the log line
            // needs kept here.
            let warm = bulwark_policy::evaluate_warm(
                &policy,
                deps.as_ref() as &dyn Dependencies,
                &req,
                phase,
            );
            match warm {
                Some(d) => {
                    st.metrics.evaluated(phase, metrics::Path::Warm);
                    (d, Some(req))
                }
                None => {
                    st.metrics.evaluated(phase, metrics::Path::Blocking);
                    tracing::debug!(%uid, "not decidable from the caches: evaluating on the blocking pool");
                    let summary = Request {
                        uid: String::new(),
                        operation: req.operation.clone(),
                        kind: req.kind.clone(),
                        sub_resource: req.sub_resource.clone(),
                        namespace: req.namespace.clone(),
                        name: req.name.clone(),
                        user: req.user.clone(),
                        object: Value::Null,
                        dry_run: req.dry_run,
                    };
                    // The request comes back when the evaluation ends in time (the
                    // placement reporter reads its object); the summary is for the
                    // log line when it does not.
                    let (d, back) = blocking(st.deadline, move || {
                        let d = bulwark_policy::evaluate(
                            &policy,
                            deps.as_ref() as &dyn Dependencies,
                            &req,
                            phase,
                        );
                        (d, req)
                    })
                    .await;
                    if back.is_none() {
                        outcome = Some(metrics::Outcome::Failed);
                    }
                    (d, Some(back.unwrap_or(summary)))
                }
            }
        }
    };
    let (kind, ns, name, op, user) = match &req {
        Some(r) => (
            r.kind.as_str(),
            r.namespace.as_str(),
            r.name.as_str(),
            r.operation.as_str(),
            r.user.username.as_str(),
        ),
        None => ("", "", "", "", ""),
    };
    tracing::info!(
        target: "bulwark_admit::decision",
        phase = ?phase,
        uid = %uid,
        kind,
        namespace = ns,
        name,
        operation = op,
        user,
        allowed = decision.allowed,
        exempt = decision.exempt.as_deref().unwrap_or(""),
        reasons = ?decision.reasons,
        warnings = ?decision.warnings,
        patch_ops = decision.patch.len(),
        elapsed_us = started.elapsed().as_micros() as u64,
        "decision"
    );
    let out = response_body(&uid, &decision);
    let (allowed, exempt) = (decision.allowed, decision.exempt.is_some());
    if let (Some(rep), Some(r)) = (&st.reporter, &req) {
        rep.decided(phase, r, decision.allowed);
    }
    if let Some(sink) = &st.sink {
        // Typed and moved, not a JSON tree: serialised on the sender's thread.
        sink.record(inventory::DecisionRecord {
            uid,
            time_ms: bulwark_server::store::now_ms(),
            phase: match phase {
                Phase::Validate => "validate",
                Phase::Mutate => "mutate",
            },
            operation: op.to_string(),
            kind: kind.to_string(),
            namespace: ns.to_string(),
            name: name.to_string(),
            user: user.to_string(),
            allowed: decision.allowed,
            exempt: decision.exempt,
            reasons: decision.reasons,
            warnings: decision.warnings,
            patch_ops: decision.patch.len(),
        });
    }
    let outcome = outcome.unwrap_or(if exempt {
        metrics::Outcome::Exempt
    } else if allowed {
        metrics::Outcome::Allowed
    } else {
        metrics::Outcome::Denied
    });
    st.metrics.reviewed(phase, outcome, started.elapsed());
    (
        StatusCode::OK,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        out,
    )
        .into_response()
}

/// Why the webhook stopped.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// It could not start.
    #[error(transparent)]
    Start(#[from] AdmitError),
    /// The async runtime could not be built.
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
}

/// Starts the webhook on its own runtime and serves until SIGINT or SIGTERM.
pub fn run_blocking(cfg: Config) -> Result<(), RunError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(RunError::Runtime)?;
    rt.block_on(async move {
        let running = start(cfg).await?;
        let term = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut s) => {
                    s.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term => {}
        }
        tracing::info!("shutting down");
        drop(running);
        Ok(())
    })
}
