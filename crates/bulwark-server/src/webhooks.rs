//! Webhooks: subscriptions (admin CRUD), and the delivery of events from the outbox.
//!
//! Delivery is at least once: the re-match writes one outbox row per (event, webhook) in
//! the transaction that records the event; a row leaves the outbox only when the
//! receiver answered 2xx (deleted) or when it ran out of attempts (moved to
//! `dead_letters`, listed by the API). A server that stops or dies between the two
//! finds the row again when it starts, and sends it again — receivers de-duplicate by
//! the `X-Bulwark-Delivery` header, which is the outbox row's id and stays the same
//! across retries.
//!
//! Each request is signed like GitHub's webhooks: `X-Bulwark-Signature-256:
//! sha256=<hex>`, the HMAC-SHA256 of the raw body with the webhook's secret, plus
//! `X-Bulwark-Delivery`, `X-Bulwark-Timestamp` (Unix seconds) and `X-Bulwark-Event`.
//! Retries back off exponentially: `base × 2^(attempt-1)`, capped. Two body shapes:
//! `generic` (the event itself) and `repository-dispatch` (`{"event_type":
//! "bulwark.<kind>", "client_payload": <event>}`, what GitHub's `repository_dispatch`
//! API takes). The body is the event's payload, assembled from its stored parts
//! ([`crate::rematch::event_payload`]) each time it is read: the same bytes on every
//! attempt. See docs/server.md, "Webhooks".

use crate::error::ApiError;
use crate::params;
use crate::store::Conn;
use crate::store::{audit, now_ms, random_hex, rfc3339, Store, StoreError};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Delivery settings.
#[derive(Debug, Clone)]
pub struct DeliveryConfig {
    /// Attempts before a delivery goes to the dead letters.
    pub max_attempts: u32,
    /// Wait after the first failure; doubles with each further one.
    pub base_backoff: Duration,
    /// Longest wait between attempts.
    pub max_backoff: Duration,
    /// Time a receiver has to answer.
    pub timeout: Duration,
    /// How often the outbox is polled when nothing wakes the sender.
    pub poll: Duration,
    /// Deliveries in flight at once.
    pub concurrency: usize,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        DeliveryConfig {
            max_attempts: 8,
            base_backoff: Duration::from_secs(2),
            max_backoff: Duration::from_secs(600),
            timeout: Duration::from_secs(10),
            poll: Duration::from_secs(1),
            concurrency: 16,
        }
    }
}

impl DeliveryConfig {
    /// The wait after `attempts` failed attempts.
    pub fn backoff(&self, attempts: u32) -> Duration {
        let factor = 1u32
            .checked_shl(attempts.saturating_sub(1))
            .unwrap_or(u32::MAX);
        self.base_backoff
            .checked_mul(factor)
            .unwrap_or(self.max_backoff)
            .min(self.max_backoff)
    }
}

/// Body of `POST /v1/webhooks`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewWebhook {
    /// Receiver URL: https, or http on a loopback address.
    pub url: String,
    /// `generic` (default) or `repository-dispatch`.
    #[serde(default)]
    pub format: Option<String>,
    /// HMAC-SHA256 key (16-512 bytes).
    pub secret: String,
    /// Only events of this team's images (default: all).
    #[serde(default)]
    pub team: Option<String>,
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
    /// Sent as `Authorization: Bearer …` (a GitHub token for repository_dispatch).
    #[serde(default)]
    pub bearer_token: Option<String>,
}

/// A webhook as listed (never the secret or the bearer token).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookOut {
    /// Id.
    pub id: String,
    /// Name.
    pub name: Option<String>,
    /// URL.
    pub url: String,
    /// Body shape.
    pub format: String,
    /// Team filter.
    pub team: Option<String>,
    /// Enabled.
    pub enabled: bool,
    /// Whether a bearer token is set.
    pub has_bearer_token: bool,
    /// Created (RFC 3339).
    pub created_at: String,
}

fn is_loopback_http(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("http://") else {
        return false;
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    if host.contains('@') {
        return false;
    }
    let h = if let Some(v6) = host.strip_prefix('[') {
        v6.split(']').next().unwrap_or("")
    } else {
        host.rsplit_once(':').map_or(host, |(h, _)| h)
    };
    h == "localhost"
        || h.parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Checks a webhook request.
pub fn validate(w: &NewWebhook) -> Result<(), ApiError> {
    let bad = |m: &str| ApiError::unprocessable("invalid_webhook", m.to_string());
    if w.url.len() > 2048 || w.url.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(bad(
            "url: at most 2048 characters, no spaces or control characters",
        ));
    }
    let https = w
        .url
        .strip_prefix("https://")
        .is_some_and(|r| !r.is_empty() && !r.split('/').next().unwrap_or("").contains('@'));
    if !https && !is_loopback_http(&w.url) {
        return Err(bad(
            "url: https://… (plain http only to a loopback address; no user:password@)",
        ));
    }
    if !(16..=512).contains(&w.secret.len()) {
        return Err(bad("secret: 16 to 512 bytes"));
    }
    match w.format.as_deref() {
        None | Some("generic") | Some("repository-dispatch") => {}
        Some(f) => {
            return Err(bad(&format!(
                "format {f:?}: generic or repository-dispatch"
            )))
        }
    }
    if let Some(t) = &w.team {
        crate::ingest::check_name("team", t)?;
    }
    if let Some(n) = &w.name {
        if n.is_empty() || n.len() > 200 || n.chars().any(char::is_control) {
            return Err(bad("name: 1-200 characters without control characters"));
        }
    }
    if let Some(b) = &w.bearer_token {
        if b.is_empty() || b.len() > 1024 || !b.bytes().all(|c| c.is_ascii_graphic()) {
            return Err(bad("bearer_token: 1-1024 printable ASCII characters"));
        }
    }
    Ok(())
}

/// Stores a webhook with its audit entry (the secret is not in the audit detail).
pub fn insert(c: &Conn<'_>, w: &NewWebhook, actor: (&str, &str)) -> Result<WebhookOut, StoreError> {
    let id = random_hex(8);
    let now = now_ms();
    let format = w.format.clone().unwrap_or_else(|| "generic".into());
    c.execute(
        "INSERT INTO webhooks (id, url, format, secret, team, enabled, created_at, name, bearer_token)
         VALUES ($1, $2, $3, $4, $5, 1, $6, $7, $8)",
        params![id, w.url, format, w.secret, w.team, now, w.name, w.bearer_token],
    )?;
    audit::append_done(
        c,
        actor,
        "webhook.create",
        id.clone(),
        serde_json::json!({"url": w.url, "format": format, "team": w.team}).to_string(),
        now,
    )?;
    Ok(WebhookOut {
        id,
        name: w.name.clone(),
        url: w.url.clone(),
        format,
        team: w.team.clone(),
        enabled: true,
        has_bearer_token: w.bearer_token.is_some(),
        created_at: rfc3339(now),
    })
}

/// Every webhook.
pub fn list(c: &Conn<'_>) -> Result<Vec<WebhookOut>, StoreError> {
    c.query_map(
        "SELECT id, name, url, format, team, enabled, bearer_token IS NOT NULL, created_at FROM webhooks ORDER BY created_at, id",
        params![],
        |r| {
        Ok(WebhookOut {
            id: r.get(0)?,
            name: r.get(1)?,
            url: r.get(2)?,
            format: r.get(3)?,
            team: r.get(4)?,
            enabled: r.get::<i64>(5)? != 0,
            has_bearer_token: r.get::<bool>(6)?,
            created_at: rfc3339(r.get(7)?),
        })
    })
}

/// Deletes a webhook (its pending deliveries go with it). `false` when there is none.
pub fn delete(c: &Conn<'_>, id: &str, actor: (&str, &str)) -> Result<bool, StoreError> {
    let n = c.execute("DELETE FROM webhooks WHERE id = $1", params![id])?;
    if n == 0 {
        return Ok(false);
    }
    // The outbox has no foreign key to webhooks (migration 6: the re-match writes one
    // row per event): the pending deliveries are deleted here, in the same transaction.
    c.execute("DELETE FROM outbox WHERE webhook_id = $1", params![id])?;
    audit::append_done(c, actor, "webhook.delete", id, "{}", now_ms())?;
    Ok(true)
}

/// The columns of an `events e` row an event's payload is read from, with its two parts
/// (`LEFT JOIN event_parts pi ON pi.id = e.image_part LEFT JOIN event_parts pm ON pm.id
/// = e.match_part`, see [`PARTS_JOIN`]); read by [`payload_at`].
const PAYLOAD_COLS: &str =
    "e.id, e.kind, e.created_at, e.payload, e.image_part, pi.body, e.match_part, pm.body";
/// The joins [`PAYLOAD_COLS`] needs.
const PARTS_JOIN: &str = "LEFT JOIN event_parts pi ON pi.id = e.image_part \
     LEFT JOIN event_parts pm ON pm.id = e.match_part";

/// The payload of the event whose [`PAYLOAD_COLS`] start at column `at`.
fn payload_at(r: &crate::store::sql::Row, at: usize) -> Result<String, StoreError> {
    let part = |i: usize| -> Result<Option<(String, Option<String>)>, StoreError> {
        r.get::<Option<String>>(i)?
            .map(|pid| r.get::<Option<String>>(i + 1).map(|body| (pid, body)))
            .transpose()
    };
    crate::rematch::event_payload(
        &r.get::<String>(at)?,
        &r.get::<String>(at + 1)?,
        r.get(at + 2)?,
        r.get(at + 3)?,
        part(at + 4)?,
        part(at + 6)?,
    )
}

/// A dead letter as listed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeadLetter {
    /// Id (the outbox row's, which was the delivery id).
    pub id: String,
    /// Event.
    pub event_id: String,
    /// Webhook.
    pub webhook_id: String,
    /// Attempts made.
    pub attempts: i64,
    /// Last HTTP status, if the receiver answered.
    pub last_status: Option<i64>,
    /// Last error.
    pub last_error: Option<String>,
    /// When it was given up (RFC 3339).
    pub failed_at: String,
    /// The event.
    pub event: serde_json::Value,
}

/// Dead letters, oldest first, after `after` (an id).
pub fn dead_letters(c: &Conn<'_>, limit: i64) -> Result<Vec<DeadLetter>, StoreError> {
    c.query_map(
        &format!(
            "SELECT d.id, d.event_id, d.webhook_id, d.attempts, d.last_status, d.last_error, d.failed_at, {PAYLOAD_COLS}
             FROM dead_letters d JOIN events e ON e.id = d.event_id {PARTS_JOIN}
             ORDER BY d.failed_at, d.id LIMIT $1"
        ),
        params![limit],
        |r| {
        // A damaged event still lists (its dead letter says why it was not sent).
        let payload = payload_at(r, 7).unwrap_or_default();
        Ok(DeadLetter {
            id: r.get(0)?,
            event_id: r.get(1)?,
            webhook_id: r.get(2)?,
            attempts: r.get(3)?,
            last_status: r.get(4)?,
            last_error: r.get(5)?,
            failed_at: rfc3339(r.get(6)?),
            event: serde_json::from_str(&payload).unwrap_or(serde_json::Value::Null),
        })
    })
}

/// Events, oldest first, visible to `scope`, optionally of one image, after an id
/// cursor (`created_at:id`).
pub fn events(
    c: &Conn<'_>,
    scope: &crate::authz::Scope,
    image: Option<&str>,
    kind: Option<&str>,
    limit: i64,
) -> Result<Vec<serde_json::Value>, StoreError> {
    let mut out = Vec::new();
    // Stops reading at `limit` by failing the walk with a marker error.
    let walk = c.query_each(
        &format!(
            "SELECT i.team, {PAYLOAD_COLS} FROM events e JOIN images i ON i.digest = e.image_digest {PARTS_JOIN}
             WHERE (CAST($1 AS TEXT) IS NULL OR e.image_digest = $1) AND (CAST($2 AS TEXT) IS NULL OR e.kind = $2)
             ORDER BY e.created_at, e.id"
        ),
        params![image, kind],
        |r| {
            if out.len() as i64 >= limit {
                return Err(StoreError::NoRow);
            }
            let team: Option<String> = r.get(0)?;
            if !scope.sees(team.as_deref()) {
                return Ok(());
            }
            let payload = payload_at(r, 1)?;
            out.push(
                serde_json::from_str(&payload).map_err(|e| StoreError::Corrupt(e.to_string()))?,
            );
            Ok(())
        },
    );
    match walk {
        Ok(()) | Err(StoreError::NoRow) => Ok(out),
        Err(e) => Err(e),
    }
}

/// One delivery to make.
#[derive(Debug, Clone)]
struct Due {
    id: String,
    attempts: u32,
    kind: String,
    /// The event's body, or why it cannot be assembled (a damaged payload part): such
    /// a delivery goes to the dead letters at once instead of stopping the others.
    payload: Result<String, String>,
    url: String,
    format: String,
    secret: String,
    bearer: Option<String>,
}

fn due(c: &Conn<'_>, now: i64, limit: i64) -> Result<Vec<Due>, StoreError> {
    c.query_map(
        &format!(
            "SELECT o.id, o.attempts, w.url, w.format, w.secret, w.bearer_token, {PAYLOAD_COLS}
             FROM outbox o JOIN events e ON e.id = o.event_id JOIN webhooks w ON w.id = o.webhook_id {PARTS_JOIN}
             WHERE o.next_attempt_at <= $1 AND w.enabled = 1
             ORDER BY o.next_attempt_at, o.id LIMIT $2"
        ),
        params![now, limit],
        |r| {
            Ok(Due {
                id: r.get(0)?,
                attempts: u32::try_from(r.get::<i64>(1)?).unwrap_or(u32::MAX),
                url: r.get(2)?,
                format: r.get(3)?,
                secret: r.get(4)?,
                bearer: r.get(5)?,
                kind: r.get(7)?,
                payload: payload_at(r, 6).map_err(|e| e.to_string()),
            })
        },
    )
}

/// Claims due deliveries for this replica, on PostgreSQL where several replicas poll one
/// outbox: in a write (after the writer's lock on the audit head, so replicas take
/// turns here), the due rows are read again and their `next_attempt_at` moved `lease`
/// ahead. Another replica then sees them as not due; if this one dies before recording
/// the attempt, the lease runs out and any replica retries (at-least-once, as before).
fn claim(c: &Conn<'_>, now: i64, limit: i64, lease: Duration) -> Result<Vec<Due>, StoreError> {
    let rows = due(c, now, limit)?;
    let until = now.saturating_add(i64::try_from(lease.as_millis()).unwrap_or(i64::MAX));
    for d in &rows {
        c.execute(
            "UPDATE outbox SET next_attempt_at = $1 WHERE id = $2",
            params![until, d.id],
        )?;
    }
    Ok(rows)
}

/// `sha256=<hex>`: HMAC-SHA256 of `body` under `secret`.
pub fn signature(secret: &[u8], body: &[u8]) -> String {
    // new_from_slice accepts keys of any length for HMAC; the error arm is unreachable
    // but handled rather than unwrapped.
    match Hmac::<Sha256>::new_from_slice(secret) {
        Ok(mut m) => {
            m.update(body);
            format!("sha256={}", hex::encode(m.finalize().into_bytes()))
        }
        Err(_) => String::new(),
    }
}

/// The request body of an event for a webhook format.
pub fn body_for(format: &str, kind: &str, payload: &str) -> Vec<u8> {
    if format == "repository-dispatch" {
        let event: serde_json::Value =
            serde_json::from_str(payload).unwrap_or(serde_json::Value::Null);
        serde_json::json!({"event_type": format!("bulwark.{kind}"), "client_payload": event})
            .to_string()
            .into_bytes()
    } else {
        payload.as_bytes().to_vec()
    }
}

enum Sent {
    Ok,
    Failed(Option<u16>, String),
    /// Not sent and never sendable: dead-lettered at once.
    Unsendable(String),
}

fn send(agent: &ureq::Agent, d: &Due) -> Sent {
    let payload = match &d.payload {
        Ok(p) => p,
        Err(why) => return Sent::Unsendable(format!("the event cannot be assembled: {why}")),
    };
    let body = body_for(&d.format, &d.kind, payload);
    let ts = now_ms() / 1000;
    let mut req = agent
        .post(&d.url)
        .header("Content-Type", "application/json")
        .header("User-Agent", "bulwark-server")
        .header("X-Bulwark-Event", &d.kind)
        .header("X-Bulwark-Delivery", &d.id)
        .header("X-Bulwark-Timestamp", ts.to_string())
        .header(
            "X-Bulwark-Signature-256",
            signature(d.secret.as_bytes(), &body),
        );
    if let Some(b) = &d.bearer {
        req = req.header("Authorization", format!("Bearer {b}"));
    }
    match req.send(&body[..]) {
        Ok(resp) => {
            let st = resp.status().as_u16();
            if (200..300).contains(&st) {
                Sent::Ok
            } else {
                Sent::Failed(Some(st), format!("HTTP {st}"))
            }
        }
        // ureq's error names the failure (connect, timeout, TLS); never the headers.
        Err(e) => Sent::Failed(None, e.to_string()),
    }
}

/// Records the result of one attempt. Returns `"delivered"`, `"retry"` or `"dead"`.
fn record(
    c: &Conn<'_>,
    d: &Due,
    sent: &Sent,
    cfg: &DeliveryConfig,
) -> Result<&'static str, StoreError> {
    let now = now_ms();
    match sent {
        Sent::Ok => {
            c.execute("DELETE FROM outbox WHERE id = $1", params![d.id])?;
            Ok("delivered")
        }
        Sent::Failed(..) | Sent::Unsendable(_) => {
            let (status, err, give_up) = match sent {
                Sent::Failed(status, err) => (status.map(i64::from), err, false),
                Sent::Unsendable(err) => (None, err, true),
                Sent::Ok => return Ok("delivered"),
            };
            let attempts = d.attempts.saturating_add(1);
            // The row may be gone (its webhook deleted meanwhile): nothing to record.
            let exists = c
                .query_row_opt("SELECT 1 FROM outbox WHERE id = $1", params![d.id], |r| {
                    r.get::<i64>(0)
                })?
                .is_some();
            if !exists {
                return Ok("dead");
            }
            if give_up || attempts >= cfg.max_attempts {
                c.execute(
                    "INSERT INTO dead_letters (id, event_id, webhook_id, attempts, last_status, last_error, failed_at)
                     SELECT id, event_id, webhook_id, $1, $2, $3, $4 FROM outbox WHERE id = $5",
                    params![i64::from(attempts), status, err, now, d.id],
                )?;
                c.execute("DELETE FROM outbox WHERE id = $1", params![d.id])?;
                Ok("dead")
            } else {
                let wait = i64::try_from(cfg.backoff(attempts).as_millis()).unwrap_or(i64::MAX);
                c.execute(
                    "UPDATE outbox SET attempts = $1, next_attempt_at = $2, last_status = $3, last_error = $4 WHERE id = $5",
                    params![i64::from(attempts), now.saturating_add(wait), status, err, d.id],
                )?;
                Ok("retry")
            }
        }
    }
}

/// Sends due deliveries until the runtime stops; `wake` makes it look at once.
pub async fn deliver_loop(
    store: Store,
    cfg: DeliveryConfig,
    metrics: Arc<crate::metrics::Metrics>,
    wake: Arc<tokio::sync::Notify>,
) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(cfg.timeout))
        .max_redirects(0)
        .build()
        .into();
    let in_flight: Arc<Mutex<HashSet<String>>> = Arc::new(Mutex::new(HashSet::new()));
    let permits = Arc::new(tokio::sync::Semaphore::new(cfg.concurrency.max(1)));
    // Long enough for one attempt (the receiver's timeout) with a margin.
    let lease = cfg.timeout.saturating_mul(2) + Duration::from_secs(5);
    let replicas = store.dialect() == crate::store::Dialect::Postgres;
    loop {
        let mut batch = store
            .read(move |c| due(c, now_ms(), 256))
            .await
            .unwrap_or_else(|e| {
                tracing::warn!(error = %e, "reading the webhook outbox failed");
                Vec::new()
            });
        if replicas && !batch.is_empty() {
            // Only what this replica claimed (the peek above keeps idle polls free).
            batch = store
                .write(move |c| claim(c, now_ms(), 256, lease))
                .await
                .unwrap_or_else(|e| {
                    tracing::warn!(error = %e, "claiming webhook deliveries failed");
                    Vec::new()
                });
        }
        for d in batch {
            let fresh = in_flight
                .lock()
                .map(|mut s| s.insert(d.id.clone()))
                .unwrap_or(false);
            if !fresh {
                continue;
            }
            let Ok(permit) = permits.clone().acquire_owned().await else {
                return;
            };
            let (store, agent, cfg, metrics, in_flight) = (
                store.clone(),
                agent.clone(),
                cfg.clone(),
                metrics.clone(),
                in_flight.clone(),
            );
            tokio::spawn(async move {
                let d2 = d.clone();
                let sent = tokio::task::spawn_blocking(move || send(&agent, &d2))
                    .await
                    .unwrap_or_else(|e| Sent::Failed(None, format!("sender task: {e}")));
                match &sent {
                    Sent::Failed(_, e) => {
                        tracing::info!(delivery = %d.id, attempt = d.attempts + 1, error = %e, "webhook delivery failed");
                    }
                    Sent::Unsendable(e) => {
                        tracing::error!(delivery = %d.id, error = %e, "webhook delivery dead-lettered");
                    }
                    Sent::Ok => {}
                }
                let d3 = d.clone();
                let cfg2 = cfg.clone();
                let result = store.write(move |c| record(c, &d3, &sent, &cfg2)).await;
                match result {
                    Ok(r) => metrics.webhook(r),
                    Err(e) => tracing::warn!(error = %e, "recording a webhook delivery failed"),
                }
                if let Ok(mut s) = in_flight.lock() {
                    s.remove(&d.id);
                }
                drop(permit);
            });
        }
        tokio::select! {
            () = wake.notified() => {}
            () = tokio::time::sleep(cfg.poll) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_a_known_hmac() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let c = DeliveryConfig {
            base_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(1000),
            ..DeliveryConfig::default()
        };
        assert_eq!(c.backoff(1), Duration::from_millis(100));
        assert_eq!(c.backoff(3), Duration::from_millis(400));
        assert_eq!(c.backoff(10), Duration::from_millis(1000));
        assert_eq!(c.backoff(100), Duration::from_millis(1000));
    }

    #[test]
    fn urls() {
        assert!(is_loopback_http("http://127.0.0.1:9000/hook"));
        assert!(is_loopback_http("http://localhost/x"));
        assert!(is_loopback_http("http://[::1]:80/"));
        assert!(!is_loopback_http("http://example.com/"));
        assert!(!is_loopback_http("http://127.0.0.1@evil.example/"));
    }

    #[test]
    fn dispatch_body_shape() {
        let b = body_for("repository-dispatch", "newly_affected", r#"{"a":1}"#);
        let v: serde_json::Value = serde_json::from_slice(&b).unwrap();
        assert_eq!(v["event_type"], "bulwark.newly_affected");
        assert_eq!(v["client_payload"]["a"], 1);
    }
}
