//! Server-side suppressions: VEX documents and ignore rules that the security role
//! manages through the API, applied to an image's findings when they are read (and so
//! to what `bulwark admit` decides vulnerability gates on).
//!
//! - A **VEX document** (OpenVEX, or a CycloneDX BOM with `vulnerabilities[].analysis`)
//!   is parsed by bulwark-report's reader, the one `bulwark scan --vex` uses, and kept
//!   as uploaded. A statement applies to a finding as it does in a scan: one of its
//!   vulnerability ids is the finding's id or an alias, and one of its products is the
//!   finding's package (purl match) or the image itself (an `oci` purl with the image's
//!   digest). When several apply the newest wins. `not_affected`, `false_positive` and
//!   `fixed` suppress; `affected` and `under_investigation` do not.
//! - An **ignore rule** names a vulnerability (id or alias), optionally a package purl
//!   (matched as VEX products are: a purl without a version covers every version) and an
//!   image digest, a reason, and an optional expiry date (`YYYY-MM-DD`, the last day it
//!   holds, UTC).
//!
//! A suppressed finding stays in `GET /v1/images/{digest}/findings` with its
//! `suppressed` field saying why (a reason the uploaded report carried wins). Every
//! change is audited and bumps `suppression_state.version`; each replica keeps the
//! parsed set for one version, so a change is seen by the next read on every replica.

use crate::params;
use crate::store::inventory::FindingOut;
use crate::store::{audit, now_ms, random_hex, rfc3339, Conn, StoreError};
use bulwark_report::vex::{self, VexDocument};
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex};
use time::Date;

/// The largest VEX document accepted (the scanner's own limit).
pub const MAX_VEX_BYTES: usize = vex::MAX_VEX_BYTES as usize;

/// A `YYYY-MM-DD` date.
fn parse_date(s: &str) -> Option<Date> {
    let mut it = s.splitn(3, '-');
    let (y, m, d) = (it.next()?, it.next()?, it.next()?);
    if y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return None;
    }
    let month = time::Month::try_from(m.parse::<u8>().ok()?).ok()?;
    Date::from_calendar_date(y.parse().ok()?, month, d.parse().ok()?).ok()
}

/// A stored VEX document, as listed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VexOut {
    pub id: String,
    /// `openvex` or `cyclonedx`.
    pub format: String,
    /// The name given at upload (`?name=`), if any.
    pub name: Option<String>,
    /// Statements in the document.
    pub statements: i64,
    pub created_by: String,
    pub created_at: String,
}

/// Body of `POST /v1/ignores`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewIgnore {
    /// Vulnerability id or alias (`CVE-2024-1234`, `GHSA-…`).
    pub vulnerability: String,
    /// Package purl (without a version: every version).
    #[serde(default)]
    pub purl: Option<String>,
    /// Only this image (`sha256:…`).
    #[serde(default)]
    pub image: Option<String>,
    /// Why the risk is accepted.
    pub reason: String,
    /// Last day the rule holds (`YYYY-MM-DD`, UTC).
    #[serde(default)]
    pub expires: Option<String>,
}

/// A stored ignore rule, as listed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IgnoreOut {
    pub id: String,
    pub vulnerability: String,
    pub purl: Option<String>,
    pub image: Option<String>,
    pub reason: String,
    pub expires: Option<String>,
    pub created_by: String,
    pub created_at: String,
}

/// Why a suppression was refused (each a 422 with the field named).
#[derive(Debug, thiserror::Error)]
pub enum InvalidSuppression {
    #[error("{0}")]
    Vex(#[from] vex::VexError),
    #[error("the VEX document has no statement")]
    NoStatements,
    #[error("{field}: {msg}")]
    Field { field: &'static str, msg: String },
}

fn field(field: &'static str, msg: impl Into<String>) -> InvalidSuppression {
    InvalidSuppression::Field {
        field,
        msg: msg.into(),
    }
}

/// Parses and checks a VEX upload: its format name and statement count.
pub fn check_vex(body: &[u8]) -> Result<(String, usize), InvalidSuppression> {
    let doc = VexDocument::parse(body, "upload")?;
    if doc.statements.is_empty() {
        return Err(InvalidSuppression::NoStatements);
    }
    let format = match doc.format {
        vex::VexFormat::OpenVex => "openvex",
        vex::VexFormat::CycloneDx => "cyclonedx",
    };
    Ok((format.to_string(), doc.statements.len()))
}

/// Checks an ignore rule's fields.
pub fn check_ignore(i: &NewIgnore) -> Result<(), InvalidSuppression> {
    let printable =
        |s: &str, max: usize| !s.is_empty() && s.len() <= max && !s.chars().any(char::is_control);
    if !printable(&i.vulnerability, 200) || i.vulnerability.contains(char::is_whitespace) {
        return Err(field(
            "vulnerability",
            "an advisory id or alias: 1-200 characters, no spaces",
        ));
    }
    if let Some(p) = &i.purl {
        let typed = p
            .strip_prefix("pkg:")
            .and_then(|r| r.split_once('/'))
            .is_some_and(|(t, rest)| !t.is_empty() && !rest.is_empty());
        if !printable(p, 2048) || !typed {
            return Err(field("purl", "a package URL (pkg:type/namespace/name)"));
        }
    }
    if let Some(d) = &i.image {
        if !crate::ingest::is_digest(d) {
            return Err(field(
                "image",
                "an image digest (sha256: and 64 lower-case hex digits)",
            ));
        }
    }
    if !printable(&i.reason, 2000) {
        return Err(field(
            "reason",
            "1-2000 characters without control characters",
        ));
    }
    if let Some(e) = &i.expires {
        parse_date(e).ok_or_else(|| field("expires", "a date, YYYY-MM-DD"))?;
    }
    Ok(())
}

fn bump(c: &Conn<'_>) -> Result<(), StoreError> {
    c.execute(
        "UPDATE suppression_state SET version = version + 1 WHERE id = 1",
        params![],
    )?;
    Ok(())
}

/// Stores a VEX document (checked by [`check_vex`]) with its audit entry.
pub fn insert_vex(
    c: &Conn<'_>,
    body: &str,
    format: &str,
    statements: usize,
    name: Option<&str>,
    actor: (&str, &str),
) -> Result<VexOut, StoreError> {
    let id = random_hex(8);
    let now = now_ms();
    let n = statements as i64;
    c.execute(
        "INSERT INTO vex_documents (id, format, name, body, statements, created_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        params![id, format, name, body, n, actor.0, now],
    )?;
    bump(c)?;
    audit::append_done(
        c,
        actor,
        "vex.create",
        id.clone(),
        serde_json::json!({"format": format, "name": name, "statements": n}).to_string(),
        now,
    )?;
    Ok(VexOut {
        id,
        format: format.to_string(),
        name: name.map(str::to_string),
        statements: n,
        created_by: actor.0.to_string(),
        created_at: rfc3339(now),
    })
}

/// Every stored VEX document (without its body).
pub fn list_vex(c: &Conn<'_>) -> Result<Vec<VexOut>, StoreError> {
    c.query_map(
        "SELECT id, format, name, statements, created_by, created_at FROM vex_documents ORDER BY created_at, id",
        params![],
        |r| {
            Ok(VexOut {
                id: r.get(0)?,
                format: r.get(1)?,
                name: r.get(2)?,
                statements: r.get(3)?,
                created_by: r.get(4)?,
                created_at: rfc3339(r.get(5)?),
            })
        },
    )
}

/// Deletes a VEX document; `false` when there is none.
pub fn delete_vex(c: &Conn<'_>, id: &str, actor: (&str, &str)) -> Result<bool, StoreError> {
    delete(
        c,
        "DELETE FROM vex_documents WHERE id = $1",
        "vex.delete",
        id,
        actor,
    )
}

/// Deletes one suppression row with `sql`; when there was one, moves the version and
/// appends `action` to the audit log.
fn delete(
    c: &Conn<'_>,
    sql: &str,
    action: &str,
    id: &str,
    actor: (&str, &str),
) -> Result<bool, StoreError> {
    if c.execute(sql, params![id])? == 0 {
        return Ok(false);
    }
    bump(c)?;
    audit::append_done(c, actor, action, id, "{}", now_ms())?;
    Ok(true)
}

/// Stores an ignore rule (checked by [`check_ignore`]) with its audit entry.
pub fn insert_ignore(
    c: &Conn<'_>,
    i: &NewIgnore,
    actor: (&str, &str),
) -> Result<IgnoreOut, StoreError> {
    let id = random_hex(8);
    let now = now_ms();
    c.execute(
        "INSERT INTO ignore_rules (id, vulnerability, purl, image_digest, reason, expires, created_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        params![id, i.vulnerability, i.purl, i.image, i.reason, i.expires, actor.0, now],
    )?;
    bump(c)?;
    audit::append_done(
        c,
        actor,
        "ignore.create",
        id.clone(),
        serde_json::json!({
            "vulnerability": i.vulnerability, "purl": i.purl, "image": i.image,
            "reason": i.reason, "expires": i.expires,
        })
        .to_string(),
        now,
    )?;
    Ok(IgnoreOut {
        id,
        vulnerability: i.vulnerability.clone(),
        purl: i.purl.clone(),
        image: i.image.clone(),
        reason: i.reason.clone(),
        expires: i.expires.clone(),
        created_by: actor.0.to_string(),
        created_at: rfc3339(now),
    })
}

/// Every ignore rule.
pub fn list_ignores(c: &Conn<'_>) -> Result<Vec<IgnoreOut>, StoreError> {
    c.query_map(
        "SELECT id, vulnerability, purl, image_digest, reason, expires, created_by, created_at
         FROM ignore_rules ORDER BY created_at, id",
        params![],
        |r| {
            Ok(IgnoreOut {
                id: r.get(0)?,
                vulnerability: r.get(1)?,
                purl: r.get(2)?,
                image: r.get(3)?,
                reason: r.get(4)?,
                expires: r.get(5)?,
                created_by: r.get(6)?,
                created_at: rfc3339(r.get(7)?),
            })
        },
    )
}

/// Deletes an ignore rule; `false` when there is none.
pub fn delete_ignore(c: &Conn<'_>, id: &str, actor: (&str, &str)) -> Result<bool, StoreError> {
    delete(
        c,
        "DELETE FROM ignore_rules WHERE id = $1",
        "ignore.delete",
        id,
        actor,
    )
}

/// Every suppression, parsed, at one version.
#[derive(Debug, Default)]
pub struct Suppressions {
    version: i64,
    /// Stored VEX documents and, at the same index, their ids.
    vex: Vec<VexDocument>,
    vex_ids: Vec<String>,
    ignores: Vec<IgnoreOut>,
}

/// The parsed suppressions of one replica, re-read when the version moves.
#[derive(Debug, Default)]
pub struct Cache(Mutex<Option<Arc<Suppressions>>>);

impl Cache {
    /// The current suppressions (one small query; the full read only after a change).
    pub fn get(&self, c: &Conn<'_>) -> Result<Arc<Suppressions>, StoreError> {
        let version: i64 = c
            .query_row_opt(
                "SELECT version FROM suppression_state WHERE id = 1",
                params![],
                |r| r.get(0),
            )?
            .unwrap_or(0);
        if let Ok(g) = self.0.lock() {
            if let Some(s) = g.as_ref().filter(|s| s.version == version) {
                return Ok(s.clone());
            }
        }
        let bodies: Vec<(String, String)> = c.query_map(
            "SELECT id, body FROM vex_documents ORDER BY created_at, id",
            params![],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let mut vex = Vec::with_capacity(bodies.len());
        let mut vex_ids = Vec::with_capacity(bodies.len());
        for (id, body) in bodies {
            // Checked at upload; a document that no longer parses (a newer reader)
            // is skipped with a warning rather than failing every read.
            match VexDocument::parse(body.as_bytes(), &format!("VEX {id}")) {
                Ok(d) => {
                    vex.push(d);
                    vex_ids.push(id);
                }
                Err(e) => {
                    tracing::warn!(vex = %id, error = %e, "stored VEX document unreadable; not applied")
                }
            }
        }
        let s = Arc::new(Suppressions {
            version,
            vex,
            vex_ids,
            ignores: list_ignores(c)?,
        });
        if let Ok(mut g) = self.0.lock() {
            *g = Some(s.clone());
        }
        Ok(s)
    }
}

impl Suppressions {
    /// Sets `suppressed` on the findings of image `digest` that a VEX statement or an
    /// ignore rule covers (a reason the upload carried is kept).
    pub fn apply(&self, digest: &str, findings: &mut [FindingOut], today: Date) {
        if self.vex.is_empty() && self.ignores.is_empty() {
            return;
        }
        let targets = [digest.to_string()];
        for f in findings.iter_mut().filter(|f| f.suppressed.is_none()) {
            f.suppressed = self.reason(f, &targets, today);
        }
    }

    fn reason(&self, f: &FindingOut, targets: &[String], today: Date) -> Option<String> {
        let mut ids: Vec<&str> = vec![f.id.as_str()];
        ids.extend(f.aliases.iter().map(String::as_str));
        for i in &self.ignores {
            if !ids.iter().any(|v| v.eq_ignore_ascii_case(&i.vulnerability)) {
                continue;
            }
            if i.image
                .as_deref()
                .is_some_and(|d| !targets.iter().any(|t| t == d))
            {
                continue;
            }
            if i.purl
                .as_deref()
                .is_some_and(|p| !vex::purl_matches(p, &f.purl))
            {
                continue;
            }
            let live = match i.expires.as_deref().map(parse_date) {
                None => true,
                Some(Some(until)) => today <= until,
                Some(None) => false,
            };
            if live {
                return Some(match &i.expires {
                    Some(e) => format!("ignored: {} (until {e}; rule {})", i.reason, i.id),
                    None => format!("ignored: {} (rule {})", i.reason, i.id),
                });
            }
        }
        // The newest applicable statement across every document decides, as in a scan.
        let dec = vex::decide(&self.vex, &f.id, &f.aliases, &f.purl, targets)?;
        if !dec.statement.status.suppresses() {
            return None;
        }
        let id = self
            .vex
            .iter()
            .position(|d| std::ptr::eq(d, dec.document))
            .and_then(|i| self.vex_ids.get(i))
            .map_or("?", String::as_str);
        Some(format!("{} [VEX {id}]", dec.describe()))
    }
}
