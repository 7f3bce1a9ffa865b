//! The job queue in the store (table `jobs`): enqueue, claim with a lease, renew the
//! lease, finish or fail with back-off, and the counts by state for `/metrics`.
//!
//! A claim is one statement run by the store's writer: the oldest due job — `queued`
//! with `run_after` passed, or `running` with an expired lease (its worker died: `kill
//! -9`, a lost node) — becomes `running`, locked by the claimer until `now + lease`, its
//! `attempts` one higher. On PostgreSQL the candidate row is picked with `FOR UPDATE SKIP
//! LOCKED`, so claimers on several processes never take the same row; on SQLite the one
//! writer runs claims one after the other. Every later step (renew, finish, fail) names
//! the claimer and the attempt it claimed, and changes nothing when the job has been
//! reclaimed since: a worker that lost its lease cannot finish a job a second time.
//!
//! A job whose lease ran out on its last attempt is failed (`last_error` says so) by the
//! next claim, instead of being run once more.

use super::{audit, now_ms, Conn, Dialect, StoreError};
use crate::authz::Scope;
use crate::params;
use serde::Serialize;
use std::collections::BTreeMap;

/// Job states, as stored.
pub const STATES: [&str; 4] = ["queued", "running", "done", "failed"];

/// Default attempts before a job is failed.
pub const DEFAULT_MAX_ATTEMPTS: i64 = 3;

/// A job as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Job {
    /// 16 hex digits.
    pub id: String,
    /// `scan`.
    pub kind: String,
    /// The request (JSON).
    #[serde(skip)]
    pub payload: String,
    /// `queued`, `running`, `done`, `failed`.
    pub state: String,
    /// Attempts started (claims).
    pub attempts: i64,
    /// Most attempts.
    pub max_attempts: i64,
    /// Not claimed before (ms since the epoch).
    #[serde(skip)]
    pub run_after: i64,
    /// The worker holding the lease (while running).
    pub locked_by: Option<String>,
    /// The lease's end (ms since the epoch).
    #[serde(skip)]
    pub locked_until: Option<i64>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// Team the job's image is filed under.
    pub team: Option<String>,
    /// Who asked for it (token id).
    pub created_by: Option<String>,
    /// What the job stored (JSON), once done.
    #[serde(skip)]
    pub result: Option<String>,
    /// Created (ms since the epoch).
    #[serde(skip)]
    pub created_at: i64,
    /// Last change (ms since the epoch).
    #[serde(skip)]
    pub updated_at: i64,
}

const COLUMNS: &str = "id, kind, payload, state, attempts, max_attempts, run_after, locked_by, \
                       locked_until, last_error, team, created_by, result, created_at, updated_at";

fn job_of(r: &super::sql::Row) -> Result<Job, StoreError> {
    Ok(Job {
        id: r.get(0)?,
        kind: r.get(1)?,
        payload: r.get(2)?,
        state: r.get(3)?,
        attempts: r.get(4)?,
        max_attempts: r.get(5)?,
        run_after: r.get(6)?,
        locked_by: r.get(7)?,
        locked_until: r.get(8)?,
        last_error: r.get(9)?,
        team: r.get(10)?,
        created_by: r.get(11)?,
        result: r.get(12)?,
        created_at: r.get(13)?,
        updated_at: r.get(14)?,
    })
}

/// A job to enqueue.
#[derive(Debug, Clone)]
pub struct NewJob {
    /// `scan`.
    pub kind: String,
    /// The request (JSON).
    pub payload: String,
    /// Team of the image.
    pub team: Option<String>,
    /// Most attempts.
    pub max_attempts: i64,
}

/// Stores a queued job (due now) and its audit entry (`job.create`).
pub fn enqueue(conn: &Conn<'_>, new: &NewJob, actor: (&str, &str)) -> Result<Job, StoreError> {
    let now = now_ms();
    let id = super::random_hex(8);
    conn.execute(
        "INSERT INTO jobs (id, kind, payload, state, attempts, max_attempts, run_after, team, created_by, created_at, updated_at)
         VALUES ($1, $2, $3, 'queued', 0, $4, $5, $6, $7, $5, $5)",
        params![id, new.kind, new.payload, new.max_attempts, now, new.team, actor.0],
    )?;
    audit::append_done(
        conn,
        actor,
        "job.create",
        format!("job:{id}"),
        serde_json::json!({"kind": new.kind, "request": serde_json::from_str::<serde_json::Value>(&new.payload).unwrap_or_default()}).to_string(),
        now,
    )?;
    get(conn, &id)?.ok_or(StoreError::NoRow)
}

/// A job by id.
pub fn get(conn: &Conn<'_>, id: &str) -> Result<Option<Job>, StoreError> {
    conn.query_row_opt(
        &format!("SELECT {COLUMNS} FROM jobs WHERE id = $1"),
        params![id],
        job_of,
    )
}

/// Jobs in `scope`, in one state or all, oldest first, after `(created_at, id)`.
pub fn list(
    conn: &Conn<'_>,
    state: Option<&str>,
    scope: &Scope,
    after: Option<(i64, String)>,
    limit: i64,
) -> Result<Vec<Job>, StoreError> {
    let (at, id) = after.unwrap_or((i64::MIN, String::new()));
    let rows = conn.query_map(
        &format!(
            "SELECT {COLUMNS} FROM jobs
             WHERE ($1 = '' OR state = $1) AND (created_at > $2 OR (created_at = $2 AND id > $3))
             ORDER BY created_at, id"
        ),
        params![state.unwrap_or(""), at, id],
        job_of,
    )?;
    Ok(rows
        .into_iter()
        .filter(|j| scope.sees(j.team.as_deref()))
        .take(usize::try_from(limit).unwrap_or(usize::MAX))
        .collect())
}

/// Fails running jobs whose lease ran out on their last attempt (the worker died and
/// no attempt is left). Returns their ids.
fn fail_exhausted(conn: &Conn<'_>, now: i64) -> Result<Vec<String>, StoreError> {
    conn.query_map(
        "UPDATE jobs SET state = 'failed', locked_by = NULL, locked_until = NULL,
           last_error = COALESCE(last_error || '; ', '') || 'the worker''s lease ran out on the last attempt (worker stopped or killed)',
           updated_at = $1
         WHERE state = 'running' AND locked_until < $1 AND attempts >= max_attempts
         RETURNING id",
        params![now],
        |r| r.get::<String>(0),
    )
}

/// Whether a job is due (queued and due, or running with an expired lease): a read, so
/// that idle workers poll without writing.
pub fn due(conn: &Conn<'_>) -> Result<bool, StoreError> {
    Ok(conn
        .query_opt(
            "SELECT 1 FROM jobs
             WHERE (state = 'queued' AND run_after <= $1) OR (state = 'running' AND locked_until < $1)
             LIMIT 1",
            params![now_ms()],
        )?
        .is_some())
}

/// Claims the oldest due job for `worker` with a lease of `lease_ms`, and appends its
/// audit entry (`job.claim`). `None`: nothing is due.
pub fn claim(conn: &Conn<'_>, worker: &str, lease_ms: i64) -> Result<Option<Job>, StoreError> {
    let now = now_ms();
    for id in fail_exhausted(conn, now)? {
        audit::append_done(
            conn,
            (&format!("worker:{worker}"), "worker"),
            "job.fail",
            format!("job:{id}"),
            r#"{"reason":"lease expired on the last attempt"}"#,
            now,
        )?;
    }
    let pick = match conn.dialect() {
        Dialect::Postgres => {
            "SELECT id FROM jobs
             WHERE (state = 'queued' AND run_after <= $3) OR (state = 'running' AND locked_until < $3)
             ORDER BY run_after, id LIMIT 1 FOR UPDATE SKIP LOCKED"
        }
        Dialect::Sqlite => {
            "SELECT id FROM jobs
             WHERE (state = 'queued' AND run_after <= $3) OR (state = 'running' AND locked_until < $3)
             ORDER BY run_after, id LIMIT 1"
        }
    };
    let claimed = conn.query_row_opt(
        &format!(
            "UPDATE jobs SET state = 'running', locked_by = $1, locked_until = $2,
               attempts = attempts + 1, updated_at = $3
             WHERE id = ({pick})
               AND ((state = 'queued' AND run_after <= $3) OR (state = 'running' AND locked_until < $3))
             RETURNING {COLUMNS}"
        ),
        params![worker, now.saturating_add(lease_ms), now],
        job_of,
    )?;
    if let Some(j) = &claimed {
        audit::append_done(
            conn,
            (&format!("worker:{worker}"), "worker"),
            "job.claim",
            format!("job:{}", j.id),
            serde_json::json!({"attempt": j.attempts}).to_string(),
            now,
        )?;
    }
    Ok(claimed)
}

/// Extends the lease of a job `worker` holds on `attempt`; `false` when it no longer
/// holds it (the lease ran out and another worker claimed the job).
pub fn renew(
    conn: &Conn<'_>,
    id: &str,
    worker: &str,
    attempt: i64,
    lease_ms: i64,
) -> Result<bool, StoreError> {
    let now = now_ms();
    let n = conn.execute(
        "UPDATE jobs SET locked_until = $1, updated_at = $2
         WHERE id = $3 AND state = 'running' AND locked_by = $4 AND attempts = $5",
        params![now.saturating_add(lease_ms), now, id, worker, attempt],
    )?;
    Ok(n == 1)
}

/// Whether `worker` still holds `id` on `attempt` (in the caller's transaction).
pub fn holds(conn: &Conn<'_>, id: &str, worker: &str, attempt: i64) -> Result<bool, StoreError> {
    Ok(conn
        .query_opt(
            "SELECT 1 FROM jobs WHERE id = $1 AND state = 'running' AND locked_by = $2 AND attempts = $3",
            params![id, worker, attempt],
        )?
        .is_some())
}

/// Marks a job `worker` holds on `attempt` done with `result` (JSON) and appends
/// `job.done`. Refused (conflict) when it no longer holds it, so the caller's whole
/// write — the stored scan included — rolls back.
pub fn finish(
    conn: &Conn<'_>,
    id: &str,
    worker: &str,
    attempt: i64,
    result: &str,
) -> Result<(), StoreError> {
    let now = now_ms();
    let n = conn.execute(
        "UPDATE jobs SET state = 'done', result = $1, locked_by = NULL, locked_until = NULL, updated_at = $2
         WHERE id = $3 AND state = 'running' AND locked_by = $4 AND attempts = $5",
        params![result, now, id, worker, attempt],
    )?;
    if n != 1 {
        return Err(lost_lease(id));
    }
    audit::append_done(
        conn,
        (&format!("worker:{worker}"), "worker"),
        "job.done",
        format!("job:{id}"),
        result,
        now,
    )?;
    Ok(())
}

fn lost_lease(id: &str) -> StoreError {
    StoreError::Refused(crate::error::ApiError::new(
        axum::http::StatusCode::CONFLICT,
        "lease_lost",
        format!(
            "job {id}: this worker no longer holds it (its lease ran out and it was claimed again)"
        ),
    ))
}

/// The wait before attempt `attempts + 1` after a failure: 5 s doubled per failure, at
/// most 10 minutes.
pub fn backoff_ms(attempts: i64) -> i64 {
    let exp = u32::try_from(attempts.clamp(1, 8) - 1).unwrap_or(0);
    (5_000_i64 << exp).min(600_000)
}

/// Records a failed attempt of a job `worker` holds: queued again after the back-off, or
/// `failed` when it was the last attempt (or `permanent`). Returns the new state, or
/// `None` when the worker no longer held it.
pub fn fail(
    conn: &Conn<'_>,
    id: &str,
    worker: &str,
    attempt: i64,
    error: &str,
    permanent: bool,
) -> Result<Option<&'static str>, StoreError> {
    let now = now_ms();
    let Some(job) = get(conn, id)? else {
        return Ok(None);
    };
    if job.state != "running" || job.locked_by.as_deref() != Some(worker) || job.attempts != attempt
    {
        return Ok(None);
    }
    let last = permanent || job.attempts >= job.max_attempts;
    let state = if last { "failed" } else { "queued" };
    let error: String = error.chars().take(2000).collect();
    conn.execute(
        "UPDATE jobs SET state = $1, last_error = $2, run_after = $3, locked_by = NULL,
           locked_until = NULL, updated_at = $4
         WHERE id = $5",
        params![
            state,
            error,
            now.saturating_add(backoff_ms(job.attempts)),
            now,
            id
        ],
    )?;
    audit::append_done(
        conn,
        (&format!("worker:{worker}"), "worker"),
        if last { "job.fail" } else { "job.retry" },
        format!("job:{id}"),
        serde_json::json!({"attempt": attempt, "error": error}).to_string(),
        now,
    )?;
    Ok(Some(state))
}

/// Jobs by state (every state listed, 0 when none).
pub fn counts(conn: &Conn<'_>) -> Result<BTreeMap<&'static str, i64>, StoreError> {
    let mut out: BTreeMap<&'static str, i64> = STATES.iter().map(|s| (*s, 0)).collect();
    conn.query_each(
        "SELECT state, COUNT(*) FROM jobs GROUP BY state",
        params![],
        |r| {
            let state: String = r.get(0)?;
            if let Some(&s) = STATES.iter().find(|x| **x == state.as_str()) {
                out.insert(s, r.get(1)?);
            }
            Ok(())
        },
    )?;
    Ok(out)
}

/// Largest layer-result body kept in the store.
pub const MAX_LAYER_RESULT_BYTES: usize = 64 << 20;

/// A stored layer-result body, checked against its SHA-256 (`None`: absent or damaged).
pub fn layer_result(
    conn: &Conn<'_>,
    key: &str,
    digest: &str,
    entry: &str,
) -> Result<Option<Vec<u8>>, StoreError> {
    use sha2::{Digest, Sha256};
    let row = conn.query_opt(
        "SELECT body, body_sha256 FROM layer_results WHERE analyzer_key = $1 AND layer_digest = $2 AND entry = $3",
        params![key, digest, entry],
    )?;
    let Some(row) = row else { return Ok(None) };
    let body: String = row.get(0)?;
    let sum: String = row.get(1)?;
    if hex::encode(Sha256::digest(body.as_bytes())) != sum {
        tracing::warn!(
            digest,
            entry,
            "layer result in the store does not match its checksum; ignoring it"
        );
        return Ok(None);
    }
    Ok(Some(body.into_bytes()))
}

/// Stores a layer-result body (JSON text); an existing row for the key stays.
pub fn put_layer_result(
    conn: &Conn<'_>,
    key: &str,
    digest: &str,
    entry: &str,
    body: &str,
) -> Result<(), StoreError> {
    use sha2::{Digest, Sha256};
    conn.execute(
        "INSERT INTO layer_results (analyzer_key, layer_digest, entry, body, body_sha256, size, stored_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (analyzer_key, layer_digest, entry) DO NOTHING",
        params![
            key,
            digest,
            entry,
            body,
            hex::encode(Sha256::digest(body.as_bytes())),
            i64::try_from(body.len()).unwrap_or(i64::MAX),
            now_ms()
        ],
    )?;
    Ok(())
}
