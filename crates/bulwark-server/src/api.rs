//! The HTTP API: the router (built from the endpoint table in `authz.rs`), the
//! authentication + authorization layer in front of every endpoint, and the handlers.
//!
//! Request bodies are bounded (uploads by `--max-upload`, everything else by
//! [`MAX_JSON`]); every rejection — a body too large, bad JSON, an unknown field or query
//! parameter, an unknown route — is a JSON error body (see `error.rs`).

use crate::auth::{parse_lifetime, Authenticator, Principal};
use crate::authz::{Endpoint, Method, Role, Scope};
use crate::error::ApiError;
use crate::ingest::{self, ImageHints};
use crate::store::inventory::{self, ImageFilter, Placement};
use crate::store::{audit, now_ms, rfc3339, tokens, Store};
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Extension, Path, Query, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::{from_fn_with_state, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{on, MethodFilter, MethodRouter};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Largest JSON body of the non-upload endpoints.
pub const MAX_JSON: usize = 1 << 20;
/// Default largest upload (SBOM or report).
pub const DEFAULT_MAX_UPLOAD: usize = 64 << 20;
/// Most placements in one report.
pub const MAX_PLACEMENTS: usize = 10_000;

/// The OpenAPI document served at `/openapi.json`.
pub const OPENAPI: &str = include_str!("openapi.json");

/// Shared state of the handlers.
pub struct App {
    /// The store.
    pub store: Store,
    /// How callers are authenticated.
    pub auth: Authenticator,
    /// Largest upload in bytes.
    pub max_upload: usize,
    /// Request, re-match and webhook metrics.
    pub metrics: Arc<crate::metrics::Metrics>,
    /// The vulnerability DB directory uploads are matched against and whose new
    /// generations are re-matched (`None`: no matching).
    pub vulndb: Option<std::path::PathBuf>,
    /// One re-match at a time.
    pub rematch_lock: tokio::sync::Mutex<()>,
    /// Wakes the webhook sender when a re-match queued deliveries.
    pub wake: Arc<tokio::sync::Notify>,
    /// VEX documents and ignore rules, parsed once per change.
    pub suppressions: crate::suppress::Cache,
    /// Wakes this process's job workers when a job is queued.
    pub jobs_wake: Arc<tokio::sync::Notify>,
}

pub(crate) type Shared = Arc<App>;

/// Builds the router: one route per [`Endpoint`], each behind the authorization layer.
pub fn router(app: Shared) -> Router {
    let mut r: Router<Shared> = Router::new();
    for ep in Endpoint::ALL {
        let (method, path) = ep.route();
        let filter = match method {
            Method::Get => MethodFilter::GET,
            Method::Post => MethodFilter::POST,
            Method::Put => MethodFilter::PUT,
            Method::Delete => MethodFilter::DELETE,
        };
        let limit = if matches!(
            ep,
            Endpoint::UploadSbom | Endpoint::UploadReport | Endpoint::ImportOsv
        ) {
            app.max_upload
        } else if ep == Endpoint::CreateVex {
            crate::suppress::MAX_VEX_BYTES
        } else {
            MAX_JSON
        };
        let mr: MethodRouter<Shared> = handler(ep, filter)
            .route_layer(from_fn_with_state((app.clone(), ep), authorize))
            .layer(DefaultBodyLimit::max(limit))
            .layer(from_fn_with_state(limit, refuse_announced_oversize));
        r = r.route(path, mr);
    }
    r.fallback(|| async { ApiError::not_found("no such route") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this route does not take that method",
            )
        })
        .layer(from_fn_with_state(app.clone(), log_request))
        .with_state(app)
}

fn handler(ep: Endpoint, f: MethodFilter) -> MethodRouter<Shared> {
    match ep {
        Endpoint::Healthz => on(f, healthz),
        Endpoint::Readyz => on(f, readyz),
        Endpoint::OpenApi => on(f, openapi),
        Endpoint::Metrics => on(f, metrics),
        Endpoint::Whoami => on(f, whoami),
        Endpoint::UploadSbom => on(f, upload_sbom),
        Endpoint::UploadReport => on(f, upload_report),
        Endpoint::ListImages => on(f, list_images),
        Endpoint::GetImage => on(f, get_image),
        Endpoint::ImagePackages => on(f, image_packages),
        Endpoint::ImageFindings => on(f, image_findings),
        Endpoint::ImagePlacements => on(f, image_placements),
        Endpoint::PutPlacements => on(f, put_placements),
        Endpoint::CreateToken => on(f, create_token),
        Endpoint::ListTokens => on(f, list_tokens),
        Endpoint::RevokeToken => on(f, revoke_token),
        Endpoint::ReadAudit => on(f, read_audit),
        Endpoint::AdmissionDecisions => on(f, admission_decisions),
        Endpoint::RuntimeAlerts => on(f, runtime_alerts),
        Endpoint::ImportOsv => on(f, crate::api_rematch::import_osv),
        Endpoint::CreateVex => on(f, crate::api_suppress::create_vex),
        Endpoint::ListVex => on(f, crate::api_suppress::list_vex),
        Endpoint::DeleteVex => on(f, crate::api_suppress::delete_vex),
        Endpoint::CreateIgnore => on(f, crate::api_suppress::create_ignore),
        Endpoint::ListIgnores => on(f, crate::api_suppress::list_ignores),
        Endpoint::DeleteIgnore => on(f, crate::api_suppress::delete_ignore),
        Endpoint::ListEvents => on(f, crate::api_rematch::list_events),
        Endpoint::RegisterBase => on(f, crate::api_rematch::register_base),
        Endpoint::CreateWebhook => on(f, crate::api_rematch::create_webhook),
        Endpoint::ListWebhooks => on(f, crate::api_rematch::list_webhooks),
        Endpoint::DeleteWebhook => on(f, crate::api_rematch::delete_webhook),
        Endpoint::DeadLetters => on(f, crate::api_rematch::dead_letters),
        Endpoint::CreateJob => on(f, crate::api_jobs::create_job),
        Endpoint::ListJobs => on(f, crate::api_jobs::list_jobs),
        Endpoint::GetJob => on(f, crate::api_jobs::get_job),
    }
}

async fn log_request(State(app): State<Shared>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    let route = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let resp = next.run(req).await;
    app.metrics.observe(
        &route,
        method.as_str(),
        resp.status().as_u16(),
        started.elapsed(),
    );
    // Never the Authorization header, never the query string.
    tracing::info!(
        method = %method,
        route = %route,
        status = resp.status().as_u16(),
        ms = started.elapsed().as_secs_f64() * 1000.0,
        "request"
    );
    resp
}

/// Appends an audit entry on its own (an authorization decision).
async fn audit_decision(store: &Store, entry: audit::NewEntry) -> Result<(), ApiError> {
    store
        .write(move |c| audit::append(c, entry, now_ms()).map(|_| ()))
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "cannot append to the audit log; refusing the request");
            ApiError::unavailable()
        })
}

async fn authorize(
    State((app, ep)): State<(Shared, Endpoint)>,
    mut req: Request,
    next: Next,
) -> Response {
    let Some(roles) = ep.allowed() else {
        return next.run(req).await;
    };
    let path = req.uri().path().to_string();
    let header = match req.headers().get(header::AUTHORIZATION) {
        None => None,
        Some(v) => match v.to_str() {
            Ok(s) => Some(s.to_string()),
            Err(_) => Some(String::new()),
        },
    };
    let client = req.extensions().get::<crate::auth::ClientCert>().cloned();
    let principal = match app
        .auth
        .authenticate(header.as_deref(), client.as_ref())
        .await
    {
        Ok(p) => p,
        Err(e) => {
            let code = e.code();
            let err = ApiError::from(e);
            if err.status == StatusCode::UNAUTHORIZED {
                let entry = audit::NewEntry {
                    actor: "anonymous".into(),
                    role: "-".into(),
                    action: ep.name(),
                    resource: path,
                    decision: "deny".into(),
                    detail: format!("{{\"code\":\"{code}\"}}"),
                };
                if let Err(a) = audit_decision(&app.store, entry).await {
                    return a.into_response();
                }
            }
            return err.into_response();
        }
    };
    let allowed = roles.contains(&principal.role);
    let entry = audit::NewEntry {
        actor: principal.id.clone(),
        role: principal.role.as_str().into(),
        action: ep.name(),
        resource: path,
        decision: if allowed { "allow" } else { "deny" }.into(),
        detail: "{}".into(),
    };
    if let Err(a) = audit_decision(&app.store, entry).await {
        return a.into_response();
    }
    if !allowed {
        return ApiError::forbidden(format!(
            "role {} may not call {}",
            principal.role,
            ep.name()
        ))
        .into_response();
    }
    req.extensions_mut().insert(principal);
    next.run(req).await
}

/// Most bytes of a refused oversize body read and discarded before the 413 is sent.
const LINGER_BYTES: u64 = 16 << 20;
/// Longest time spent discarding them.
const LINGER_TIME: Duration = Duration::from_secs(10);

/// Refuses a request whose `Content-Length` already exceeds the endpoint's limit,
/// without storing any of its body.
///
/// A client that asked `Expect: 100-continue` gets the 413 at once and never sends the
/// body. Any other client is already sending it: answering and closing at once would
/// reset the connection under it, and it would report "connection reset" instead of the
/// 413. So the body is read and discarded first — up to [`LINGER_BYTES`] and
/// [`LINGER_TIME`], after which the connection is closed regardless. Bodies without a
/// length are cut by [`DefaultBodyLimit`] as they arrive.
async fn refuse_announced_oversize(
    State(limit): State<usize>,
    req: Request,
    next: Next,
) -> Response {
    use http_body_util::BodyExt as _;
    let announced = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let Some(announced) = announced.filter(|n| *n > limit as u64) else {
        return next.run(req).await;
    };
    let refuse = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("the request body is over this endpoint's size limit ({limit} bytes)"),
        )
        .into_response()
    };
    let expects_continue = req
        .headers()
        .get(header::EXPECT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"));
    if expects_continue || announced > LINGER_BYTES {
        let mut r = refuse();
        r.headers_mut().insert(
            header::CONNECTION,
            axum::http::HeaderValue::from_static("close"),
        );
        return r;
    }
    let mut body = req.into_body();
    let drained = tokio::time::timeout(LINGER_TIME, async {
        let mut seen = 0u64;
        while let Some(frame) = body.frame().await {
            match frame {
                Ok(f) => {
                    if let Some(d) = f.data_ref() {
                        seen += d.len() as u64;
                    }
                    if seen > LINGER_BYTES {
                        break;
                    }
                }
                Err(_) => break,
            }
        }
    })
    .await;
    let mut r = refuse();
    if drained.is_err() {
        r.headers_mut().insert(
            header::CONNECTION,
            axum::http::HeaderValue::from_static("close"),
        );
    }
    r
}

// ---- extraction helpers -------------------------------------------------------------

pub(crate) fn body_bytes(b: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    b.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                "the request body is over this endpoint's size limit",
            )
        } else {
            ApiError::bad_request("bad_body", e.body_text())
        }
    })
}

/// Refuses a path id that is not 16 hex digits (token and webhook ids) with `code`.
pub(crate) fn check_hex_id(
    id: &str,
    code: &'static str,
    what: &'static str,
) -> Result<(), ApiError> {
    if id.len() != 16 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ApiError::bad_request(code, what));
    }
    Ok(())
}

pub(crate) fn query<T>(q: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    q.map(|Query(v)| v).map_err(|e| {
        let text = e.body_text();
        if text.contains("unknown field") {
            ApiError::bad_request("unknown_field", text)
        } else {
            ApiError::bad_request("invalid_query", text)
        }
    })
}

pub(crate) fn path_param(p: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    p.map(|Path(v)| v)
        .map_err(|e| ApiError::bad_request("invalid_path", e.body_text()))
}

pub(crate) fn json_body<T: DeserializeOwned>(
    headers: &HeaderMap,
    b: Result<Bytes, BytesRejection>,
) -> Result<T, ApiError> {
    check_json_type(headers)?;
    let bytes = body_bytes(b)?;
    serde_json::from_slice(&bytes).map_err(|e| {
        use serde_json::error::Category;
        let msg = e.to_string();
        match e.classify() {
            Category::Data if msg.starts_with("unknown field") => {
                ApiError::bad_request("unknown_field", msg)
            }
            Category::Data => ApiError::unprocessable("invalid_request", msg),
            _ => ApiError::bad_request("invalid_json", msg),
        }
    })
}

/// A body must be JSON when it says what it is (`application/json`,
/// `application/vnd.cyclonedx+json`, `application/spdx+json`, ...).
pub(crate) fn check_json_type(headers: &HeaderMap) -> Result<(), ApiError> {
    match headers.get(header::CONTENT_TYPE) {
        None => Ok(()),
        Some(v) => {
            let ct = v.to_str().unwrap_or("").to_ascii_lowercase();
            let essence = ct.split(';').next().unwrap_or("").trim();
            if essence == "application/json" || essence.ends_with("+json") {
                Ok(())
            } else {
                Err(ApiError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "unsupported_media_type",
                    format!("content type {essence:?}: send JSON"),
                ))
            }
        }
    }
}

pub(crate) fn check_digest_param(d: &str) -> Result<(), ApiError> {
    if ingest::is_digest(d) {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            "invalid_digest",
            "the image is named by its sha256 digest (sha256: and 64 lower-case hex digits)",
        ))
    }
}

pub(crate) fn actor(p: &Principal) -> (String, String) {
    (p.id.clone(), p.role.as_str().to_string())
}

// ---- handlers -----------------------------------------------------------------------

async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({"status": "ok"}))
}

async fn readyz(State(app): State<Shared>) -> Result<Json<serde_json::Value>, ApiError> {
    match tokio::time::timeout(Duration::from_secs(5), app.store.ping()).await {
        Ok(Ok(())) => Ok(Json(serde_json::json!({"status": "ready"}))),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "not ready: store");
            Err(ApiError::unavailable())
        }
        Err(_) => Err(ApiError::unavailable()),
    }
}

async fn metrics(State(app): State<Shared>) -> Response {
    let mut text = app.metrics.render();
    // The queue depth is the store's (every replica and worker shares it).
    match app.store.read(crate::store::jobs::counts).await {
        Ok(counts) => crate::metrics::Metrics::render_job_counts(&counts, &mut text),
        Err(e) => tracing::warn!(error = %e, "/metrics: job counts unavailable"),
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

#[derive(Serialize)]
struct WhoAmI {
    id: String,
    role: Role,
    teams: Vec<String>,
}

async fn whoami(Extension(p): Extension<Principal>) -> Json<WhoAmI> {
    Json(WhoAmI {
        id: p.id,
        role: p.role,
        teams: p.teams,
    })
}

/// Query parameters of `POST /v1/sboms`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SbomQuery {
    digest: Option<String>,
    repository: Option<String>,
    /// Comma-separated.
    tags: Option<String>,
    team: Option<String>,
    owner: Option<String>,
}

/// Query parameters of `POST /v1/reports`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReportQuery {
    digest: Option<String>,
    team: Option<String>,
    owner: Option<String>,
}

async fn store_upload(
    app: &App,
    p: &Principal,
    bytes: Bytes,
    hints: ImageHints,
    report: bool,
) -> Result<Response, ApiError> {
    let dir = app.vulndb.clone();
    let (up, parsed, matched) = tokio::task::spawn_blocking(move || {
        let parsed = if report {
            ingest::report_upload(&bytes, &hints)
        } else {
            ingest::sbom_upload(&bytes, &hints)
        }?;
        let mut up = parsed.clone();
        let matched = match &dir {
            Some(d) => crate::rematch::match_upload(d, &mut up)?,
            None => None,
        };
        Ok::<_, ApiError>((up, parsed, matched))
    })
    .await
    .map_err(|e| {
        tracing::error!(error = %e, "upload parser task failed");
        ApiError::internal()
    })??;
    if let Scope::Teams(ts) = &p.scope {
        if !up.team.as_ref().is_some_and(|t| ts.contains(t)) {
            return Err(ApiError::forbidden(format!(
                "this token uploads only for its teams ({}); name one with ?team= or the {} label",
                ts.join(", "),
                ingest::TEAM_LABEL
            )));
        }
    }
    let scope = p.scope.clone();
    let who = actor(p);
    let dir = app.vulndb.clone();
    let stored = app
        .store
        .write(move |c| {
            // A re-match to a newer generation committed since this upload was matched:
            // match again, so the stored findings are those of the generation the store
            // says it is at (the next re-match starts from there).
            let mut up = up;
            if let Some(d) = &dir {
                let at = crate::rematch::stored_generation(c)?;
                if at.is_some() && at != matched {
                    let mut again = parsed;
                    crate::rematch::match_upload(d, &mut again)
                        .map_err(crate::store::StoreError::Refused)?;
                    up = again;
                }
            }
            inventory::store_upload(c, &up, &scope, (&who.0, &who.1))
        })
        .await?;
    Ok((StatusCode::CREATED, Json(stored)).into_response())
}

async fn upload_sbom(
    State(app): State<Shared>,
    Extension(p): Extension<Principal>,
    q: Result<Query<SbomQuery>, QueryRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let q = query(q)?;
    check_json_type(&headers)?;
    let bytes = body_bytes(body)?;
    let hints = ImageHints {
        digest: q.digest,
        repository: q.repository,
        tags: q
            .tags
            .map(|t| {
                t.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default(),
        team: q.team,
        owner: q.owner,
    };
    store_upload(&app, &p, bytes, hints, false).await
}

async fn upload_report(
    State(app): State<Shared>,
    Extension(p): Extension<Principal>,
    q: Result<Query<ReportQuery>, QueryRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let q = query(q)?;
    check_json_type(&headers)?;
    let bytes = body_bytes(body)?;
    let hints = ImageHints {
        digest: q.digest,
        repository: None,
        tags: Vec::new(),
        team: q.team,
        owner: q.owner,
    };
    store_upload(&app, &p, bytes, hints, true).await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    team: Option<String>,
    repository: Option<String>,
    after: Option<String>,
    limit: Option<i64>,
}

#[derive(Serialize)]
pub(crate) struct Page<T> {
    pub(crate) items: Vec<T>,
    /// Pass as `after` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) next: Option<String>,
}

async fn list_images(
    State(app): State<Shared>,
    Extension(p): Extension<Principal>,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let q = query(q)?;
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let f = ImageFilter {
        team: q.team,
        // The filter names a repository the way users write it (`nginx`); stored ones
        // are fully qualified.
        repository: q
            .repository
            .map(|r| crate::ingest::canonical_repository(&r).1),
        after: q.after,
        limit,
    };
    let scope = p.scope.clone();
    let items = app
        .store
        .read(move |c| inventory::list_images(c, &scope, &f))
        .await?;
    let next = (items.len() as i64 == limit)
        .then(|| items.last().map(|i| i.digest.clone()))
        .flatten();
    Ok(Json(Page { items, next }).into_response())
}

/// Reads `f(digest)` for a visible image, or 404.
async fn with_image<T, F>(
    app: &App,
    p: &Principal,
    digest: Result<Path<String>, PathRejection>,
    f: F,
) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&crate::store::Conn<'_>, &str) -> Result<T, crate::store::StoreError>
        + Send
        + 'static,
{
    let digest = path_param(digest)?;
    check_digest_param(&digest)?;
    let scope = p.scope.clone();
    app.store
        .read(move |c| {
            if inventory::visible_image(c, &scope, &digest)?.is_none() {
                return Ok(None);
            }
            f(c, &digest).map(Some)
        })
        .await?
        .ok_or_else(|| ApiError::not_found("no such image (or not visible to this token)"))
}

async fn get_image(
    State(app): State<Shared>,
    Extension(p): Extension<Principal>,
    digest: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let scope = p.scope.clone();
    let d = with_image(&app, &p, digest, move |c, d| {
        inventory::image_detail(c, &scope, d)
    })
    .await?;
    Ok(Json(d).into_response())
}

async fn image_packages(
    State(app): State<Shared>,
    Extension(p): Extension<Principal>,
    digest: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let v = with_image(&app, &p, digest, inventory::image_packages).await?;
    Ok(Json(serde_json::json!({ "items": v })).into_response())
}

async fn image_findings(
    State(app): State<Shared>,
    Extension(p): Extension<Principal>,
    digest: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let app2 = app.clone();
    let v = with_image(&app, &p, digest, move |c, d| {
        let mut v = inventory::image_findings(c, d)?;
        let s = app2.suppressions.get(c)?;
        s.apply(d, &mut v, time::OffsetDateTime::now_utc().date());
        Ok(v)
    })
    .await?;
    Ok(Json(serde_json::json!({ "items": v })).into_response())
}

async fn image_placements(
    State(app): State<Shared>,
    Extension(p): Extension<Principal>,
    digest: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let v = with_image(&app, &p, digest, inventory::image_placements).await?;
    Ok(Json(serde_json::json!({ "items": v })).into_response())
}

/// Body of `PUT /v1/placements`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PlacementReport {
    cluster: String,
    #[serde(default)]
    reporter: Option<String>,
    #[serde(default)]
    node: Option<String>,
    #[serde(default)]
    complete: bool,
    placements: Vec<Placement>,
}

fn check_field(what: &str, s: &str, allow_empty: bool) -> Result<(), ApiError> {
    if (s.is_empty() && !allow_empty) || s.len() > 253 || s.chars().any(char::is_control) {
        return Err(ApiError::unprocessable(
            "invalid_request",
            format!("{what}: 1-253 characters without control characters"),
        ));
    }
    Ok(())
}

async fn put_placements(
    State(app): State<Shared>,
    Extension(p): Extension<Principal>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let r: PlacementReport = json_body(&headers, body)?;
    let reporter = match (p.role, r.reporter.as_deref()) {
        (Role::Sensor, None | Some("sensor")) => "sensor",
        (Role::Admission, None | Some("admission")) => "admission",
        (Role::Admin, Some("sensor")) => "sensor",
        (Role::Admin, Some("admission")) => "admission",
        (_, other) => {
            return Err(ApiError::unprocessable(
                "invalid_reporter",
                format!(
                    "reporter {other:?} does not fit role {} (sensor tokens report 'sensor', admission tokens 'admission'; admin must say which)",
                    p.role
                ),
            ))
        }
    };
    if r.placements.len() > MAX_PLACEMENTS {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("at most {MAX_PLACEMENTS} placements per report"),
        ));
    }
    check_field("cluster", &r.cluster, false)?;
    if let Some(n) = &r.node {
        check_field("node", n, false)?;
    }
    for (i, pl) in r.placements.iter().enumerate() {
        for (what, v, empty) in [
            ("namespace", &pl.namespace, false),
            ("workload_kind", &pl.workload_kind, false),
            ("workload", &pl.workload, false),
            ("container", &pl.container, false),
            ("node", &pl.node, true),
        ] {
            check_field(&format!("placements[{i}].{what}"), v, empty)?;
        }
        if !ingest::is_digest(&pl.image_digest) {
            return Err(ApiError::unprocessable(
                "invalid_digest",
                format!("placements[{i}].image_digest is not a sha256 digest"),
            ));
        }
        if let Some(n) = &r.node {
            if !pl.node.is_empty() && &pl.node != n {
                return Err(ApiError::unprocessable(
                    "invalid_request",
                    format!("placements[{i}].node differs from the report's node"),
                ));
            }
        }
    }
    let mut items = r.placements;
    if let Some(n) = &r.node {
        for pl in &mut items {
            pl.node = n.clone();
        }
    }
    let who = actor(&p);
    let (cluster, node, complete) = (r.cluster, r.node, r.complete);
    let (stored, removed) = app
        .store
        .write(move |c| {
            inventory::put_placements(
                c,
                &cluster,
                reporter,
                node.as_deref(),
                complete,
                &items,
                (&who.0, &who.1),
            )
        })
        .await?;
    Ok(Json(serde_json::json!({"stored": stored, "removed": removed})).into_response())
}

/// Body of `POST /v1/tokens`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateToken {
    name: String,
    role: String,
    #[serde(default)]
    teams: Vec<String>,
    /// `30d`, `12h`; absent: never expires.
    #[serde(default)]
    expires_in: Option<String>,
}

/// A token as listed (never the secret or its hash).
#[derive(Debug, Serialize)]
pub struct TokenOut {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// Teams.
    pub teams: Vec<String>,
    /// Created (RFC 3339).
    pub created_at: String,
    /// Expires (RFC 3339).
    pub expires_at: Option<String>,
    /// Revoked (RFC 3339).
    pub revoked_at: Option<String>,
    /// Creator.
    pub created_by: String,
}

impl From<tokens::TokenRow> for TokenOut {
    fn from(t: tokens::TokenRow) -> Self {
        TokenOut {
            id: t.id,
            name: t.name,
            role: t.role,
            teams: t.teams,
            created_at: rfc3339(t.created_at),
            expires_at: t.expires_at.map(rfc3339),
            revoked_at: t.revoked_at.map(rfc3339),
            created_by: t.created_by,
        }
    }
}

/// Validates a token request and makes the token (hashing included); shared by the
/// API and `bulwark server token create`.
pub fn make_token(
    name: &str,
    role: &str,
    teams: Vec<String>,
    expires_in: Option<&str>,
    created_by: &str,
) -> Result<crate::auth::NewToken, ApiError> {
    let role: Role = role
        .parse()
        .map_err(|e: String| ApiError::unprocessable("invalid_role", e))?;
    check_field("name", name, false)?;
    for t in &teams {
        ingest::check_name("team", t)?;
    }
    if role == Role::Developer && teams.is_empty() {
        return Err(ApiError::unprocessable(
            "team_required",
            "a developer token needs at least one team (it sees only its teams' images)",
        ));
    }
    let expires_at = match expires_in {
        None => None,
        Some(s) => {
            let d = parse_lifetime(s).map_err(|e| ApiError::unprocessable("invalid_expiry", e))?;
            let ms = i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
            Some(now_ms().saturating_add(ms))
        }
    };
    crate::auth::new_token(name, role, teams, expires_at, created_by).map_err(|e| {
        tracing::error!(error = %e, "token generation failed");
        ApiError::internal()
    })
}

/// Stores a new token and its audit entry in one transaction.
pub fn insert_token(
    c: &crate::store::Conn<'_>,
    row: &tokens::TokenRow,
    actor: (&str, &str),
) -> Result<(), crate::store::StoreError> {
    tokens::insert(c, row)?;
    let detail = serde_json::json!({"id": row.id, "role": row.role, "teams": row.teams,
        "expires_at": row.expires_at, "name": row.name})
    .to_string();
    audit::append_done(c, actor, "token.create", row.id.as_str(), detail, now_ms())?;
    Ok(())
}

async fn create_token(
    State(app): State<Shared>,
    Extension(p): Extension<Principal>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let req: CreateToken = json_body(&headers, body)?;
    let who = actor(&p);
    let created_by = who.0.clone();
    let new = tokio::task::spawn_blocking(move || {
        make_token(
            &req.name,
            &req.role,
            req.teams,
            req.expires_in.as_deref(),
            &created_by,
        )
    })
    .await
    .map_err(|_| ApiError::internal())??;
    let row = new.row.clone();
    app.store
        .write(move |c| insert_token(c, &row, (&who.0, &who.1)))
        .await?;
    let out = TokenOut::from(new.row);
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({ "token": new.token, "details": out })),
    )
        .into_response())
}

async fn list_tokens(State(app): State<Shared>) -> Result<Response, ApiError> {
    let rows = app.store.read(tokens::list).await?;
    let items: Vec<TokenOut> = rows.into_iter().map(TokenOut::from).collect();
    Ok(Json(serde_json::json!({ "items": items })).into_response())
}

async fn revoke_token(
    State(app): State<Shared>,
    Extension(p): Extension<Principal>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let id = path_param(id)?;
    check_hex_id(
        &id,
        "invalid_token_id",
        "a token id is 16 hex digits (the part after bwk_)",
    )?;
    let who = actor(&p);
    let rid = id.clone();
    let found = app
        .store
        .write(move |c| {
            let now = now_ms();
            if !tokens::revoke(c, &rid, now)? {
                return Ok(false);
            }
            audit::append_done(c, (&who.0, &who.1), "token.revoke", rid, "{}", now)?;
            Ok(true)
        })
        .await?;
    if !found {
        return Err(ApiError::not_found("no such token"));
    }
    Ok(Json(serde_json::json!({"id": id, "revoked": true})).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AuditQuery {
    after: Option<i64>,
    limit: Option<i64>,
}

async fn read_audit(
    State(app): State<Shared>,
    q: Result<Query<AuditQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let q = query(q)?;
    let after = q.after.unwrap_or(0);
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let items = app
        .store
        .read(move |c| audit::list(c, after, limit))
        .await?;
    let next = (items.len() as i64 == limit)
        .then(|| items.last().map(|e| e.seq.to_string()))
        .flatten();
    Ok(Json(Page { items, next }).into_response())
}

/// Most decisions in one `POST /v1/admission/decisions`.
pub const MAX_DECISIONS: usize = 1000;

/// Body of `POST /v1/admission/decisions`: what `bulwark admit` decided, for the audit
/// log.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DecisionReport {
    cluster: String,
    decisions: Vec<AdmissionDecision>,
}

/// One admission decision.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct AdmissionDecision {
    /// The AdmissionReview's uid.
    uid: String,
    /// When the webhook decided (RFC 3339).
    time: String,
    /// `validate` or `mutate`.
    phase: String,
    operation: String,
    kind: String,
    #[serde(default)]
    namespace: String,
    #[serde(default)]
    name: String,
    user: String,
    allowed: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    exempt: Option<String>,
    #[serde(default)]
    reasons: Vec<String>,
    #[serde(default)]
    warnings: Vec<String>,
    #[serde(default)]
    patch_ops: usize,
}

async fn admission_decisions(
    State(app): State<Shared>,
    Extension(p): Extension<Principal>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let r: DecisionReport = json_body(&headers, body)?;
    check_field("cluster", &r.cluster, false)?;
    check_batch(r.decisions.len(), MAX_DECISIONS, "decisions")?;
    for (i, d) in r.decisions.iter().enumerate() {
        for (what, v, empty) in [
            ("uid", &d.uid, false),
            ("time", &d.time, false),
            ("phase", &d.phase, false),
            ("operation", &d.operation, false),
            ("kind", &d.kind, true),
            ("namespace", &d.namespace, true),
            ("name", &d.name, true),
            ("user", &d.user, true),
        ] {
            check_field(&format!("decisions[{i}].{what}"), v, empty)?;
        }
        if d.reasons.len() + d.warnings.len() > 100
            || d.reasons.iter().chain(&d.warnings).any(|t| t.len() > 4096)
        {
            return Err(ApiError::unprocessable(
                "invalid_request",
                format!("decisions[{i}]: at most 100 reasons and warnings of 4096 bytes"),
            ));
        }
    }
    let entries = r
        .decisions
        .iter()
        .map(|d| {
            let resource = format!("{}/{}/{}/{}", r.cluster, d.namespace, d.kind, d.name);
            let decision = if d.allowed { "allow" } else { "deny" };
            let detail = serde_json::to_string(d).map_err(|e| {
                ApiError::unprocessable("invalid_request", format!("decision detail: {e}"))
            })?;
            Ok((resource, decision.to_string(), detail))
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    record_entries(&app, &p, "admission.decision", entries).await
}

/// Most alerts in one `POST /v1/runtime/alerts`.
pub const MAX_RUNTIME_ALERTS: usize = 1000;

/// Body of `POST /v1/runtime/alerts`: alerts of `bulwark sensor` (each the JSON object
/// the sensor writes as an alert line), from one node.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuntimeAlertReport {
    node: String,
    alerts: Vec<serde_json::Map<String, serde_json::Value>>,
}

/// Each alert becomes one audit entry `runtime.alert` (resource `NODE/CONTAINER`,
/// decision the alert's priority, detail the alert).
async fn runtime_alerts(
    State(app): State<Shared>,
    Extension(p): Extension<Principal>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let r: RuntimeAlertReport = json_body(&headers, body)?;
    check_field("node", &r.node, false)?;
    check_batch(r.alerts.len(), MAX_RUNTIME_ALERTS, "alerts")?;
    let mut entries = Vec::with_capacity(r.alerts.len());
    for (i, a) in r.alerts.iter().enumerate() {
        let text = |k: &str| a.get(k).and_then(|v| v.as_str()).unwrap_or("");
        for (what, empty) in [("time", false), ("rule", false), ("priority", false)] {
            check_field(&format!("alerts[{i}].{what}"), text(what), empty)?;
        }
        let container = match text("container_id") {
            "" => "unknown",
            c => c,
        };
        check_field(&format!("alerts[{i}].container_id"), container, false)?;
        let detail = serde_json::to_string(a)
            .map_err(|e| ApiError::unprocessable("invalid_request", format!("alerts[{i}]: {e}")))?;
        entries.push((
            format!("{}/{container}", r.node),
            text("priority").to_ascii_lowercase(),
            detail,
        ));
    }
    record_entries(&app, &p, "runtime.alert", entries).await
}

/// Refuses a batch of more than `max` items with 413.
fn check_batch(len: usize, max: usize, what: &str) -> Result<(), ApiError> {
    if len > max {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("at most {max} {what} per request"),
        ));
    }
    Ok(())
}

/// Appends one audit entry `action` per (resource, decision, detail), by the caller, in
/// one durable write; answers 201 `{"recorded": n}`.
async fn record_entries(
    app: &Shared,
    p: &Principal,
    action: &'static str,
    entries: Vec<(String, String, String)>,
) -> Result<Response, ApiError> {
    let who = actor(p);
    let n = entries.len();
    app.store
        .write(move |c| {
            for (resource, decision, detail) in entries {
                audit::append(
                    c,
                    audit::NewEntry {
                        actor: who.0.clone(),
                        role: who.1.clone(),
                        action: action.into(),
                        resource,
                        decision,
                        detail,
                    },
                    now_ms(),
                )?;
            }
            Ok(())
        })
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({ "recorded": n })),
    )
        .into_response())
}
