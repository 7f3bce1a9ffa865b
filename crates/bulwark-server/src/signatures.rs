//! Signatures and attestations seen on an image, as reported by whoever verified them
//! (`bulwark verify … --server`, `bulwark verify-attestation … --server`, the admission
//! webhook): each entry says what was found where, and whether it verified under the
//! reporter's policy. A report replaces the reporter's earlier entries for that image,
//! so the inventory holds each verifier's latest view.

use crate::api::{actor, json_body, path_param, Shared};
use crate::auth::Principal;
use crate::error::ApiError;
use crate::params;
use crate::store::{audit, inventory, now_ms, random_hex, rfc3339, Conn, StoreError};
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Extension, Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};

/// Most entries in one report.
pub const MAX_ENTRIES: usize = 1000;

/// Body of `PUT /v1/images/{digest}/signatures`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignatureReport {
    pub signatures: Vec<SignatureIn>,
}

/// One signature or attestation as reported.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignatureIn {
    /// `signature` or `attestation`.
    pub kind: String,
    /// Whether every check of the reporter's policy passed.
    pub verified: bool,
    /// The attestation's predicate type.
    #[serde(default)]
    pub predicate_type: Option<String>,
    /// The signer: a key fingerprint, or a keyless identity.
    #[serde(default)]
    pub identity: Option<String>,
    /// The keyless identity's OIDC issuer.
    #[serde(default)]
    pub issuer: Option<String>,
    /// Where it was found (the signature tag and layer, or the referrer's digest).
    #[serde(default)]
    pub reference: Option<String>,
}

/// A stored entry, as listed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SignatureOut {
    pub kind: String,
    pub verified: bool,
    pub predicate_type: Option<String>,
    pub identity: Option<String>,
    pub issuer: Option<String>,
    pub reference: Option<String>,
    /// The token (or other credential) that reported it.
    pub reported_by: Option<String>,
    pub seen_at: String,
}

fn check(r: &SignatureReport) -> Result<(), ApiError> {
    let bad = |m: String| ApiError::unprocessable("invalid_request", m);
    if r.signatures.len() > MAX_ENTRIES {
        return Err(bad(format!("signatures: at most {MAX_ENTRIES} entries")));
    }
    for (i, s) in r.signatures.iter().enumerate() {
        if s.kind != "signature" && s.kind != "attestation" {
            return Err(bad(format!(
                "signatures[{i}].kind: signature or attestation"
            )));
        }
        for (name, v, max) in [
            ("predicate_type", &s.predicate_type, 1024),
            ("identity", &s.identity, 1024),
            ("issuer", &s.issuer, 1024),
            ("reference", &s.reference, 2048),
        ] {
            if let Some(v) = v {
                if v.is_empty() || v.len() > max || v.chars().any(char::is_control) {
                    return Err(bad(format!(
                        "signatures[{i}].{name}: 1-{max} characters without control characters"
                    )));
                }
            }
        }
    }
    Ok(())
}

/// Replaces `reporter`'s entries for `digest` (an image in the inventory) with `r`.
pub fn replace(
    c: &Conn<'_>,
    digest: &str,
    r: &SignatureReport,
    actor: (&str, &str),
) -> Result<usize, StoreError> {
    let now = now_ms();
    c.execute(
        "DELETE FROM signatures WHERE image_digest = $1 AND reported_by = $2",
        params![digest, actor.0],
    )?;
    for s in &r.signatures {
        c.execute(
            "INSERT INTO signatures (id, image_digest, kind, predicate_type, identity, issuer, verified, reference, seen_at, reported_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            params![
                random_hex(8),
                digest,
                s.kind,
                s.predicate_type,
                s.identity,
                s.issuer,
                i64::from(s.verified),
                s.reference,
                now,
                actor.0
            ],
        )?;
    }
    let verified = r.signatures.iter().filter(|s| s.verified).count();
    audit::append_done(
        c,
        actor,
        "signatures.report",
        digest,
        serde_json::json!({"entries": r.signatures.len(), "verified": verified}).to_string(),
        now,
    )?;
    Ok(r.signatures.len())
}

/// Every entry of an image, newest first.
pub fn list(c: &Conn<'_>, digest: &str) -> Result<Vec<SignatureOut>, StoreError> {
    c.query_map(
        "SELECT kind, verified, predicate_type, identity, issuer, reference, reported_by, seen_at
         FROM signatures WHERE image_digest = $1 ORDER BY seen_at DESC, id",
        params![digest],
        |r| {
            Ok(SignatureOut {
                kind: r.get(0)?,
                verified: r.get::<i64>(1)? != 0,
                predicate_type: r.get(2)?,
                identity: r.get(3)?,
                issuer: r.get(4)?,
                reference: r.get(5)?,
                reported_by: r.get(6)?,
                seen_at: rfc3339(r.get(7)?),
            })
        },
    )
}

/// `PUT /v1/images/{digest}/signatures`.
pub async fn put_signatures(
    State(app): State<Shared>,
    Extension(p): Extension<Principal>,
    digest: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let digest = path_param(digest)?;
    crate::api::check_digest_param(&digest)?;
    let req: SignatureReport = json_body(&headers, body)?;
    check(&req)?;
    let who = actor(&p);
    let scope = p.scope.clone();
    let d = digest.clone();
    let n = app
        .store
        .write(move |c| {
            if inventory::visible_image(c, &scope, &d)?.is_none() {
                return Ok(None);
            }
            replace(c, &d, &req, (&who.0, &who.1)).map(Some)
        })
        .await?
        .ok_or_else(|| ApiError::not_found("no such image (or not visible to this token)"))?;
    Ok(Json(serde_json::json!({"image": digest, "stored": n})).into_response())
}
