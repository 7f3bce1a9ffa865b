//! The hash-chained audit log.
//!
//! Every entry commits to the previous entry's hash: `hash = SHA-256(canonical(entry))`,
//! where the canonical encoding is the domain tag `bulwark-audit-v1`, then `seq` and `at`
//! as 8-byte big-endian integers, then `actor`, `role`, `action`, `resource`,
//! `decision`, `detail` and `prev_hash`, each as an 8-byte big-endian length followed by
//! its UTF-8 bytes. Length prefixes make the encoding unambiguous (no two different
//! entries encode the same), so editing any column changes the hash. The first entry's
//! `prev_hash` is 64 zeros; `seq` runs from 1 without gaps. [`verify`] therefore finds
//! an edited entry (its hash no longer recomputes), a removed one (a gap in `seq`, and
//! the next entry's `prev_hash` names a hash that is not its predecessor's) and
//! re-ordered ones (`prev_hash` links broken). Removing entries from the end is found by
//! comparing with the `audit_head` row or with a head recorded elsewhere (`--head`).
//!
//! Hand-written (no crate): the encoding is twenty lines and must stay byte-stable.
//! Tokens never reach this log: callers pass token ids (the public prefix), never secrets.

use super::sql::{Conn, Dialect, Row};
use super::StoreError;
use crate::params;
use serde::Serialize;
use sha2::{Digest, Sha256};

/// The hash before the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What an entry says (the chain fields are added by [`append`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEntry {
    /// Who: a token id, `anonymous`, or `cli` for offline commands.
    pub actor: String,
    /// Their role (`-` when unauthenticated).
    pub role: String,
    /// What: `GET /v1/images/{digest}` (the route), `token.create`, `report.store`.
    pub action: String,
    /// On what: the request path or the object's id.
    pub resource: String,
    /// `allow`, `deny`, or `done` for a mutation.
    pub decision: String,
    /// More, as compact JSON (never a secret).
    pub detail: String,
}

/// Appends the entry of a completed mutation (decision `done`) by `actor` (id, role).
pub fn append_done(
    conn: &Conn<'_>,
    actor: (&str, &str),
    action: &str,
    resource: impl Into<String>,
    detail: impl Into<String>,
    at: i64,
) -> Result<Entry, StoreError> {
    append(
        conn,
        NewEntry {
            actor: actor.0.into(),
            role: actor.1.into(),
            action: action.into(),
            resource: resource.into(),
            decision: "done".into(),
            detail: detail.into(),
        },
        at,
    )
}

/// A stored entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    /// Position in the chain, from 1.
    pub seq: i64,
    /// Milliseconds since the epoch.
    pub at: i64,
    /// Who.
    pub actor: String,
    /// Their role.
    pub role: String,
    /// What.
    pub action: String,
    /// On what.
    pub resource: String,
    /// Outcome.
    pub decision: String,
    /// Details (JSON text).
    pub detail: String,
    /// The previous entry's hash.
    pub prev_hash: String,
    /// This entry's hash.
    pub hash: String,
}

/// The canonical encoding hashed for an entry.
pub fn canonical(e: &Entry) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(b"bulwark-audit-v1");
    out.extend_from_slice(&e.seq.to_be_bytes());
    out.extend_from_slice(&e.at.to_be_bytes());
    for field in [
        &e.actor,
        &e.role,
        &e.action,
        &e.resource,
        &e.decision,
        &e.detail,
        &e.prev_hash,
    ] {
        out.extend_from_slice(&(field.len() as u64).to_be_bytes());
        out.extend_from_slice(field.as_bytes());
    }
    out
}

/// The hash an entry should carry.
pub fn entry_hash(e: &Entry) -> String {
    hex::encode(Sha256::digest(canonical(e)))
}

/// Appends an entry in the caller's transaction (the writer's), returning it.
pub fn append(conn: &Conn<'_>, new: NewEntry, at: i64) -> Result<Entry, StoreError> {
    // On PostgreSQL the head row is locked until the transaction ends: appenders on
    // other replicas wait here, then read the head this one wrote.
    let head_sql = match conn.dialect() {
        Dialect::Sqlite => "SELECT seq, hash FROM audit_head WHERE id = 1",
        Dialect::Postgres => "SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE",
    };
    let head = conn.query_one(head_sql, params![])?;
    let (seq, prev): (i64, String) = (head.get(0)?, head.get(1)?);
    let mut e = Entry {
        seq: seq + 1,
        at,
        actor: new.actor,
        role: new.role,
        action: new.action,
        resource: new.resource,
        decision: new.decision,
        detail: new.detail,
        prev_hash: prev,
        hash: String::new(),
    };
    e.hash = entry_hash(&e);
    let values = params![
        e.seq,
        e.at,
        e.actor,
        e.role,
        e.action,
        e.resource,
        e.decision,
        e.detail,
        e.prev_hash,
        e.hash
    ];
    match conn.dialect() {
        Dialect::Sqlite => {
            conn.execute(
                "INSERT INTO audit_log (seq, at, actor, role, action, resource, decision, detail, prev_hash, hash)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                values,
            )?;
            conn.execute(
                "UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1",
                params![e.seq, e.hash],
            )?;
        }
        // One round trip instead of two (every audited request is a write): the head
        // update rides along in a data-modifying CTE, which SQLite does not have.
        Dialect::Postgres => {
            conn.execute(
                "WITH head AS (UPDATE audit_head SET seq = $1, hash = $10 WHERE id = 1)
                 INSERT INTO audit_log (seq, at, actor, role, action, resource, decision, detail, prev_hash, hash)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                values,
            )?;
        }
    }
    Ok(e)
}

fn row_entry(r: &Row) -> Result<Entry, StoreError> {
    Ok(Entry {
        seq: r.get(0)?,
        at: r.get(1)?,
        actor: r.get(2)?,
        role: r.get(3)?,
        action: r.get(4)?,
        resource: r.get(5)?,
        decision: r.get(6)?,
        detail: r.get(7)?,
        prev_hash: r.get(8)?,
        hash: r.get(9)?,
    })
}

const COLUMNS: &str = "seq, at, actor, role, action, resource, decision, detail, prev_hash, hash";

/// Entries with `seq > after`, oldest first, at most `limit`.
pub fn list(conn: &Conn<'_>, after: i64, limit: i64) -> Result<Vec<Entry>, StoreError> {
    conn.query_map(
        &format!("SELECT {COLUMNS} FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2"),
        params![after, limit],
        row_entry,
    )
}

/// Calls `f` on every entry in chain order (for export), reading in pages.
pub fn for_each(
    conn: &Conn<'_>,
    mut f: impl FnMut(&Entry) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    conn.query_each(
        &format!("SELECT {COLUMNS} FROM audit_log ORDER BY seq"),
        params![],
        |r| f(&row_entry(r)?),
    )
}

/// One problem found by [`verify`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Break {
    /// The entry where the chain breaks.
    pub seq: i64,
    /// What is wrong there.
    pub problem: String,
}

/// The outcome of [`verify`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verification {
    /// Entries read.
    pub entries: i64,
    /// The last entry's seq and hash (record it elsewhere to detect truncation later).
    pub head_seq: i64,
    /// The last entry's hash.
    pub head_hash: String,
    /// Every break found, in order.
    pub breaks: Vec<Break>,
}

impl Verification {
    /// Whether the chain is intact.
    pub fn ok(&self) -> bool {
        self.breaks.is_empty()
    }
}

/// Walks the whole chain in `seq` order and reports every break. `expect_head`, when
/// given, is a `(seq, hash)` recorded earlier that must still be in the chain.
pub fn verify(
    conn: &Conn<'_>,
    expect_head: Option<(i64, &str)>,
) -> Result<Verification, StoreError> {
    let mut v = Verification {
        entries: 0,
        head_seq: 0,
        head_hash: GENESIS.to_string(),
        breaks: Vec::new(),
    };
    let mut expected_seq = 1;
    let mut prev = GENESIS.to_string();
    let mut found_expected = expect_head.is_none_or(|(s, _)| s == 0);
    for_each(conn, |e| {
        v.entries += 1;
        if e.seq != expected_seq {
            v.breaks.push(Break {
                seq: e.seq,
                problem: format!(
                    "sequence jumps from {} to {} (entries removed or re-ordered)",
                    expected_seq - 1,
                    e.seq
                ),
            });
        }
        if e.prev_hash != prev {
            v.breaks.push(Break {
                seq: e.seq,
                problem: "prev_hash does not match the previous entry's hash (an entry before it was removed, edited or moved)".into(),
            });
        }
        if entry_hash(e) != e.hash {
            v.breaks.push(Break {
                seq: e.seq,
                problem: "hash does not match the entry's contents (the entry was edited)".into(),
            });
        }
        if let Some((s, h)) = expect_head {
            if e.seq == s {
                if e.hash == h {
                    found_expected = true;
                } else {
                    v.breaks.push(Break {
                        seq: e.seq,
                        problem: "hash differs from the recorded head".into(),
                    });
                    found_expected = true;
                }
            }
        }
        expected_seq = e.seq + 1;
        prev = e.hash.clone();
        v.head_seq = e.seq;
        v.head_hash = e.hash.clone();
        Ok(())
    })?;
    let head: Option<(i64, String)> =
        match conn.query_opt("SELECT seq, hash FROM audit_head WHERE id = 1", params![])? {
            Some(r) => Some((r.get(0)?, r.get(1)?)),
            None => None,
        };
    match head {
        Some((s, h)) if s == v.head_seq && h == v.head_hash => {}
        Some((s, _)) => v.breaks.push(Break {
            seq: s,
            problem: format!(
                "the head row names entry {s}, but the log ends at {} (entries removed from the end, or the head edited)",
                v.head_seq
            ),
        }),
        None => v.breaks.push(Break {
            seq: 0,
            problem: "the audit_head row is missing".into(),
        }),
    }
    if let (false, Some((s, _))) = (found_expected, expect_head) {
        v.breaks.push(Break {
            seq: s,
            problem: format!("the recorded head entry {s} is no longer in the log (truncated)"),
        });
    }
    Ok(v)
}
