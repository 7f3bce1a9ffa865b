//! Handlers of the job endpoints: `POST /v1/jobs` queues a pull-and-scan job,
//! `GET /v1/jobs` and `GET /v1/jobs/{id}` show where jobs are (the routes and roles are
//! in `authz.rs`; the workers are in `jobs.rs`).

use crate::api::{actor, check_hex_id, json_body, path_param, query, Shared};
use crate::auth::Principal;
use crate::authz::Scope;
use crate::error::ApiError;
use crate::ingest;
use crate::jobs::{check_image, ScanJob};
use crate::store::jobs::{self as q, Job, NewJob, DEFAULT_MAX_ATTEMPTS, STATES};
use crate::store::rfc3339;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{Extension, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};

/// Most jobs in one list page.
pub const MAX_LIST: i64 = 1000;

/// The body of `POST /v1/jobs`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateJob {
    /// `scan` (the only kind).
    kind: String,
    /// `registry/repository:tag` or `registry/repository@sha256:…`.
    image: String,
    team: Option<String>,
    owner: Option<String>,
    /// 1–10 (default 3).
    max_attempts: Option<i64>,
}

/// A job as the API shows it.
#[derive(Debug, Serialize)]
pub struct JobOut {
    id: String,
    kind: String,
    state: String,
    image: Option<String>,
    team: Option<String>,
    owner: Option<String>,
    attempts: i64,
    max_attempts: i64,
    locked_by: Option<String>,
    lease_until: Option<String>,
    run_after: String,
    last_error: Option<String>,
    created_by: Option<String>,
    created_at: String,
    updated_at: String,
    result: Option<serde_json::Value>,
}

fn out(j: Job) -> JobOut {
    let req: Option<ScanJob> = serde_json::from_str(&j.payload).ok();
    JobOut {
        image: req.as_ref().map(|r| r.image.clone()),
        owner: req.and_then(|r| r.owner),
        lease_until: j.locked_until.map(rfc3339),
        run_after: rfc3339(j.run_after),
        created_at: rfc3339(j.created_at),
        updated_at: rfc3339(j.updated_at),
        result: j
            .result
            .as_deref()
            .and_then(|r| serde_json::from_str(r).ok()),
        id: j.id,
        kind: j.kind,
        state: j.state,
        team: j.team,
        attempts: j.attempts,
        max_attempts: j.max_attempts,
        locked_by: j.locked_by,
        last_error: j.last_error,
        created_by: j.created_by,
    }
}

/// `POST /v1/jobs`: queues a job; 202 with the job.
pub async fn create_job(
    State(app): State<Shared>,
    Extension(p): Extension<Principal>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let req: CreateJob = json_body(&headers, body)?;
    if req.kind != "scan" {
        return Err(ApiError::unprocessable(
            "invalid_job",
            format!("job kind {:?}: the only kind is \"scan\"", req.kind),
        ));
    }
    let image = check_image(&req.image)?;
    if let Some(t) = &req.team {
        ingest::check_name("team", t)?;
    }
    if let Some(o) = &req.owner {
        ingest::check_name("owner", o)?;
    }
    let max_attempts = req.max_attempts.unwrap_or(DEFAULT_MAX_ATTEMPTS);
    if !(1..=10).contains(&max_attempts) {
        return Err(ApiError::unprocessable(
            "invalid_job",
            "max_attempts: 1 to 10",
        ));
    }
    let scope_teams = match &p.scope {
        Scope::All => None,
        Scope::Teams(ts) => {
            if !req.team.as_ref().is_some_and(|t| ts.contains(t)) {
                return Err(ApiError::forbidden(format!(
                    "this token queues jobs only for its teams ({}); name one with \"team\"",
                    ts.join(", ")
                )));
            }
            Some(ts.clone())
        }
    };
    let payload = serde_json::to_string(&ScanJob {
        image,
        team: req.team.clone(),
        owner: req.owner,
        scope_teams,
    })
    .map_err(|_| ApiError::internal())?;
    let new = NewJob {
        kind: "scan".into(),
        payload,
        team: req.team,
        max_attempts,
    };
    let who = actor(&p);
    let job = app
        .store
        .write(move |c| q::enqueue(c, &new, (&who.0, &who.1)))
        .await?;
    app.jobs_wake.notify_one();
    Ok((StatusCode::ACCEPTED, Json(out(job))).into_response())
}

/// Query of `GET /v1/jobs`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    state: Option<String>,
    /// The `next` of the previous page.
    after: Option<String>,
    limit: Option<i64>,
}

/// `GET /v1/jobs?state=&after=&limit=`: jobs in the caller's scope, oldest first.
pub async fn list_jobs(
    State(app): State<Shared>,
    Extension(p): Extension<Principal>,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let lq = query(q)?;
    if let Some(s) = &lq.state {
        if !STATES.contains(&s.as_str()) {
            return Err(ApiError::bad_request(
                "invalid_query",
                format!("state {s:?}: one of {}", STATES.join(", ")),
            ));
        }
    }
    let limit = lq.limit.unwrap_or(100);
    if !(1..=MAX_LIST).contains(&limit) {
        return Err(ApiError::bad_request(
            "invalid_query",
            format!("limit: 1 to {MAX_LIST}"),
        ));
    }
    let after = match &lq.after {
        None => None,
        Some(a) => {
            let (at, id) = a
                .split_once(':')
                .and_then(|(at, id)| Some((at.parse::<i64>().ok()?, id.to_string())))
                .ok_or_else(|| {
                    ApiError::bad_request("invalid_query", "after: the `next` of a previous page")
                })?;
            check_hex_id(&id, "invalid_query", "after: the `next` of a previous page")?;
            Some((at, id))
        }
    };
    let scope = p.scope.clone();
    let state = lq.state.clone();
    let jobs = app
        .store
        .read(move |c| q::list(c, state.as_deref(), &scope, after, limit))
        .await?;
    let next = if jobs.len() as i64 == limit {
        jobs.last().map(|j| format!("{}:{}", j.created_at, j.id))
    } else {
        None
    };
    let items: Vec<JobOut> = jobs.into_iter().map(out).collect();
    Ok(Json(serde_json::json!({"items": items, "next": next})))
}

/// `GET /v1/jobs/{id}`.
pub async fn get_job(
    State(app): State<Shared>,
    Extension(p): Extension<Principal>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<JobOut>, ApiError> {
    let id = path_param(id)?;
    check_hex_id(&id, "invalid_job_id", "a job id is 16 hex digits")?;
    let job = app.store.read(move |c| q::get(c, &id)).await?;
    match job {
        Some(j) if p.scope.sees(j.team.as_deref()) => Ok(Json(out(j))),
        _ => Err(ApiError::not_found("no such job")),
    }
}
