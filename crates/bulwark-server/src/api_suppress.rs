//! Handlers of the suppression endpoints (`/v1/vex`, `/v1/ignores`): the security
//! role's VEX documents and ignore rules (see `suppress.rs` for what they do).

use crate::api::{
    actor, body_bytes, check_hex_id, check_json_type, json_body, path_param, query, Shared,
};
use crate::auth::Principal;
use crate::error::ApiError;
use crate::suppress::{self, InvalidSuppression, NewIgnore};
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{Extension, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

fn invalid(e: InvalidSuppression) -> ApiError {
    match e {
        InvalidSuppression::Vex(e) => ApiError::unprocessable("invalid_vex", e.to_string()),
        InvalidSuppression::NoStatements => {
            ApiError::unprocessable("invalid_vex", "the VEX document has no statement")
        }
        e @ InvalidSuppression::Field { .. } => {
            ApiError::unprocessable("invalid_request", e.to_string())
        }
    }
}

/// Query of `POST /v1/vex`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VexQuery {
    /// A name for the document (its product, its supplier).
    name: Option<String>,
}

/// `POST /v1/vex`: an OpenVEX document or a CycloneDX BOM with analyses.
pub async fn create_vex(
    State(app): State<Shared>,
    Extension(p): Extension<Principal>,
    headers: HeaderMap,
    q: Result<Query<VexQuery>, QueryRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    check_json_type(&headers)?;
    let q = query(q)?;
    if let Some(n) = &q.name {
        if n.is_empty() || n.len() > 200 || n.chars().any(char::is_control) {
            return Err(ApiError::unprocessable(
                "invalid_request",
                "name: 1-200 characters without control characters",
            ));
        }
    }
    let bytes = body_bytes(body)?;
    let (format, n) = suppress::check_vex(&bytes).map_err(invalid)?;
    let text = String::from_utf8(bytes.to_vec())
        .map_err(|_| ApiError::bad_request("invalid_json", "the document is not UTF-8"))?;
    let who = actor(&p);
    let out = app
        .store
        .write(move |c| {
            suppress::insert_vex(c, &text, &format, n, q.name.as_deref(), (&who.0, &who.1))
        })
        .await?;
    Ok((StatusCode::CREATED, Json(out)).into_response())
}

/// `GET /v1/vex`.
pub async fn list_vex(State(app): State<Shared>) -> Result<Response, ApiError> {
    let items = app.store.read(suppress::list_vex).await?;
    Ok(Json(serde_json::json!({ "items": items })).into_response())
}

/// `DELETE /v1/vex/{id}`.
pub async fn delete_vex(
    State(app): State<Shared>,
    Extension(p): Extension<Principal>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let id = path_param(id)?;
    check_hex_id(&id, "invalid_vex_id", "a VEX document id is 16 hex digits")?;
    delete(&app, &p, id, suppress::delete_vex, "no such VEX document").await
}

/// A store deletion: `(connection, id, actor)` → whether there was such a row.
type DeleteFn =
    fn(&crate::store::Conn<'_>, &str, (&str, &str)) -> Result<bool, crate::store::StoreError>;

/// Deletes the suppression `id` with `f` as `p`: 404 `missing` when there is none.
async fn delete(
    app: &Shared,
    p: &Principal,
    id: String,
    f: DeleteFn,
    missing: &'static str,
) -> Result<Response, ApiError> {
    let who = actor(p);
    let rid = id.clone();
    if !app
        .store
        .write(move |c| f(c, &rid, (&who.0, &who.1)))
        .await?
    {
        return Err(ApiError::not_found(missing));
    }
    Ok(Json(serde_json::json!({"id": id, "deleted": true})).into_response())
}

/// `POST /v1/ignores`.
pub async fn create_ignore(
    State(app): State<Shared>,
    Extension(p): Extension<Principal>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let req: NewIgnore = json_body(&headers, body)?;
    suppress::check_ignore(&req).map_err(invalid)?;
    let who = actor(&p);
    let out = app
        .store
        .write(move |c| suppress::insert_ignore(c, &req, (&who.0, &who.1)))
        .await?;
    Ok((StatusCode::CREATED, Json(out)).into_response())
}

/// `GET /v1/ignores`.
pub async fn list_ignores(State(app): State<Shared>) -> Result<Response, ApiError> {
    let items = app.store.read(suppress::list_ignores).await?;
    Ok(Json(serde_json::json!({ "items": items })).into_response())
}

/// `DELETE /v1/ignores/{id}`.
pub async fn delete_ignore(
    State(app): State<Shared>,
    Extension(p): Extension<Principal>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let id = path_param(id)?;
    check_hex_id(
        &id,
        "invalid_ignore_id",
        "an ignore rule id is 16 hex digits",
    )?;
    delete(&app, &p, id, suppress::delete_ignore, "no such ignore rule").await
}
