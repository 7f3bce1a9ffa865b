//! Handlers of the re-match, events, base-image and webhook endpoints (the routes and
//! roles are in `authz.rs`, like every other endpoint's).

use crate::api::{
    actor, body_bytes, check_digest_param, check_json_type, json_body, path_param, query, App,
    Shared,
};
use crate::auth::Principal;
use crate::error::ApiError;
use crate::store::{audit, now_ms, StoreError};
use crate::{ingest, rematch, webhooks};
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{Extension, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use bulwark_vulndb::store::{PreparedRecord, Writer, WriterOptions};
use bulwark_vulndb::VulnDbError;
use serde::Deserialize;
use std::path::Path as FsPath;

/// Most OSV records in one import request.
pub const MAX_IMPORT_RECORDS: usize = 100_000;

fn vulndb_dir(app: &App) -> Result<std::path::PathBuf, ApiError> {
    app.vulndb.clone().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "vulndb_not_configured",
            "this server has no vulnerability DB directory (start it with --db DIR)",
        )
    })
}

/// Writes the records into a new DB generation; returns its id.
fn import_records(dir: &FsPath, bytes: &[u8]) -> Result<String, ApiError> {
    let value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::bad_request("invalid_json", format!("the body is not JSON: {e}")))?;
    let items = match value {
        serde_json::Value::Array(a) => a,
        o @ serde_json::Value::Object(_) => vec![o],
        _ => {
            return Err(ApiError::unprocessable(
                "invalid_osv",
                "send one OSV record (an object) or an array of them",
            ))
        }
    };
    if items.is_empty() || items.len() > MAX_IMPORT_RECORDS {
        return Err(ApiError::unprocessable(
            "invalid_osv",
            format!("1 to {MAX_IMPORT_RECORDS} records per request"),
        ));
    }
    let mut prepared = Vec::with_capacity(items.len());
    for (i, v) in items.iter().enumerate() {
        let raw = serde_json::to_vec(v).map_err(|_| ApiError::internal())?;
        let rec = bulwark_vulndb::osv::parse_record(&raw)
            .map_err(|e| ApiError::unprocessable("invalid_osv", format!("record [{i}]: {e}")))?;
        let p = PreparedRecord::new(&rec)
            .map_err(|e| ApiError::unprocessable("invalid_osv", format!("record [{i}]: {e}")))?;
        prepared.push(p);
    }
    let db_err = |e: VulnDbError| match e {
        VulnDbError::Busy { .. } => ApiError::new(
            StatusCode::CONFLICT,
            "vulndb_busy",
            "another update of the vulnerability DB is running; try again",
        ),
        other => {
            tracing::error!(error = %other, "vulnerability DB import failed");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "vulndb_unavailable",
                "the vulnerability DB could not be written; nothing was imported",
            )
        }
    };
    let mut w = Writer::begin(dir, true, &WriterOptions::default()).map_err(db_err)?;
    for p in &prepared {
        w.put(p).map_err(db_err)?;
    }
    w.commit().map_err(db_err)
}

/// `POST /v1/vulndb/osv`: imports OSV records into the server's DB (a new generation
/// and its delta, as `bulwark db import` makes) and re-matches at once.
pub async fn import_osv(
    State(app): State<Shared>,
    Extension(p): Extension<Principal>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    check_json_type(&headers)?;
    let bytes = body_bytes(body)?;
    let dir = vulndb_dir(&app)?;
    // Held from the import to the end of its re-match, so the answer reports it (the DB
    // watcher waits, then finds nothing left to do).
    let _one = app.rematch_lock.lock().await;
    let d2 = dir.clone();
    let generation = tokio::task::spawn_blocking(move || import_records(&d2, &bytes))
        .await
        .map_err(|_| ApiError::internal())??;
    let d3 = dir.clone();
    let g2 = generation.clone();
    let delta = tokio::task::spawn_blocking(move || {
        bulwark_vulndb::VulnDb::open(&d3).and_then(|db| {
            if db.generation() == g2 {
                db.delta_since(None)
            } else {
                Ok(None)
            }
        })
    })
    .await
    .map_err(|_| ApiError::internal())?
    .map_err(|e| {
        tracing::error!(error = %e, "reading the new generation's delta failed");
        ApiError::unavailable()
    })?;
    let counts = delta.map(|d| {
        serde_json::json!({
            "new": d.count(bulwark_vulndb::DeltaKind::New),
            "changed": d.count(bulwark_vulndb::DeltaKind::Changed),
            "withdrawn": d.count(bulwark_vulndb::DeltaKind::Withdrawn),
            "removed": d.count(bulwark_vulndb::DeltaKind::Removed),
            "packages": d.packages().len(),
        })
    });
    let who = actor(&p);
    let g3 = generation.clone();
    let detail = serde_json::json!({ "delta": counts }).to_string();
    app.store
        .write(move |c| {
            audit::append_done(c, (&who.0, &who.1), "vulndb.import", g3, detail, now_ms())
                .map(|_| ())
        })
        .await?;
    let outcome = rematch::run_locked(&app).await?;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({
            "generation": generation,
            "delta": counts,
            "rematch": outcome,
        })),
    )
        .into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventQuery {
    image: Option<String>,
    kind: Option<String>,
    limit: Option<i64>,
}

/// `GET /v1/events`: events of the images visible to the caller, oldest first.
pub async fn list_events(
    State(app): State<Shared>,
    Extension(p): Extension<Principal>,
    q: Result<Query<EventQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let q = query(q)?;
    if let Some(d) = &q.image {
        check_digest_param(d)?;
    }
    if let Some(k) = &q.kind {
        if !["newly_affected", "fixed_upstream", "no_longer_affected"].contains(&k.as_str()) {
            return Err(ApiError::bad_request(
                "invalid_query",
                "kind: newly_affected, fixed_upstream or no_longer_affected",
            ));
        }
    }
    let limit = q.limit.unwrap_or(1000).clamp(1, 10_000);
    let scope = p.scope.clone();
    let items = app
        .store
        .read(move |c| webhooks::events(c, &scope, q.image.as_deref(), q.kind.as_deref(), limit))
        .await?;
    Ok(Json(serde_json::json!({ "items": items })).into_response())
}

/// Body of `POST /v1/base-images`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BaseImage {
    /// A name (`debian:bookworm`).
    name: String,
    /// Its layer digests; or
    #[serde(default)]
    layers: Vec<String>,
    /// a stored image whose layers are the base's.
    #[serde(default)]
    image: Option<String>,
}

/// `POST /v1/base-images`: registers the layers of a base image.
pub async fn register_base(
    State(app): State<Shared>,
    Extension(p): Extension<Principal>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let req: BaseImage = json_body(&headers, body)?;
    if req.name.is_empty() || req.name.len() > 253 || req.name.chars().any(char::is_control) {
        return Err(ApiError::unprocessable(
            "invalid_request",
            "name: 1-253 characters without control characters",
        ));
    }
    if req.layers.len() > 1000 {
        return Err(ApiError::unprocessable(
            "invalid_request",
            "at most 1000 layers",
        ));
    }
    for l in req.layers.iter().chain(req.image.iter()) {
        if !ingest::is_digest(l) {
            return Err(ApiError::unprocessable(
                "invalid_digest",
                format!("{l:?} is not a sha256 digest"),
            ));
        }
    }
    if req.layers.is_empty() == req.image.is_none() {
        return Err(ApiError::unprocessable(
            "invalid_request",
            "give either layers or image",
        ));
    }
    let who = actor(&p);
    let (name, layers, image) = (req.name, req.layers, req.image);
    let (marked, layers) = app
        .store
        .write(move |c| {
            let layers = match &image {
                Some(d) => {
                    let ls = rematch::image_layer_digests(c, d)?;
                    if ls.is_empty() {
                        return Err(StoreError::Refused(ApiError::not_found("no such image")));
                    }
                    ls
                }
                None => layers,
            };
            let n = rematch::register_base(c, &name, &layers, (&who.0, &who.1))?;
            Ok((n, layers))
        })
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({"layers": layers, "image_layers_marked": marked})),
    )
        .into_response())
}

/// `POST /v1/webhooks`.
pub async fn create_webhook(
    State(app): State<Shared>,
    Extension(p): Extension<Principal>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let req: webhooks::NewWebhook = json_body(&headers, body)?;
    webhooks::validate(&req)?;
    let who = actor(&p);
    let out = app
        .store
        .write(move |c| webhooks::insert(c, &req, (&who.0, &who.1)))
        .await?;
    Ok((StatusCode::CREATED, Json(out)).into_response())
}

/// `GET /v1/webhooks`.
pub async fn list_webhooks(State(app): State<Shared>) -> Result<Response, ApiError> {
    let items = app.store.read(webhooks::list).await?;
    Ok(Json(serde_json::json!({ "items": items })).into_response())
}

/// `DELETE /v1/webhooks/{id}`.
pub async fn delete_webhook(
    State(app): State<Shared>,
    Extension(p): Extension<Principal>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let id = path_param(id)?;
    crate::api::check_hex_id(&id, "invalid_webhook_id", "a webhook id is 16 hex digits")?;
    let who = actor(&p);
    let rid = id.clone();
    let found = app
        .store
        .write(move |c| webhooks::delete(c, &rid, (&who.0, &who.1)))
        .await?;
    if !found {
        return Err(ApiError::not_found("no such webhook"));
    }
    Ok(Json(serde_json::json!({"id": id, "deleted": true})).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeadQuery {
    limit: Option<i64>,
}

/// `GET /v1/dead-letters`.
pub async fn dead_letters(
    State(app): State<Shared>,
    q: Result<Query<DeadQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let q = query(q)?;
    let limit = q.limit.unwrap_or(1000).clamp(1, 10_000);
    let items = app
        .store
        .read(move |c| webhooks::dead_letters(c, limit))
        .await?;
    Ok(Json(serde_json::json!({ "items": items })).into_response())
}
