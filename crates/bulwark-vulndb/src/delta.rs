//! Feed deltas: what each new generation changed against the one before it.
//!
//! Every generation a [`Writer`](crate::store::Writer) publishes carries, in its own
//! file, the records it added (`new`), changed (`changed`: another `modified` time, or
//! other content, such as affected ranges), withdrew (`withdrawn`: the `withdrawn` field
//! appeared or moved) or dropped (`removed`), and for each the `(ecosystem_base,
//! package_key)` pairs it names before and after the change. The rows are keyed by the
//! generation id; the rows of the last [`HISTORY`] generations are carried forward, so a
//! reader that last saw an older generation can still get everything since then in one
//! call ([`VulnDb::delta_since`](crate::VulnDb::delta_since)). A reader further behind
//! (or a generation written before deltas existed) gets `None` and must fall back to a
//! full re-evaluation.
//!
//! The delta is computed at commit by comparing, record by record, the generation being
//! published with the previous one (opened read-only): only the records the writer put or
//! deleted are compared, plus, when the writer started from an empty generation (a
//! replacing import), every record of the previous one. So `db update`, `db import` and
//! the server's import endpoint all yield the same delta from the same code.

use std::collections::{BTreeMap, BTreeSet};

use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

/// Generations whose delta rows are kept in each generation file.
pub const HISTORY: usize = 32;

/// Tables of the delta (created in every generation this code writes; absent in older
/// ones).
pub(crate) const DELTA_SQL: &str = "
CREATE TABLE IF NOT EXISTS delta_generations (
    generation TEXT PRIMARY KEY,
    previous TEXT,
    created_unix INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS delta_records (
    generation TEXT NOT NULL,
    record_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    PRIMARY KEY (generation, record_id)
);
CREATE TABLE IF NOT EXISTS delta_packages (
    generation TEXT NOT NULL,
    record_id TEXT NOT NULL,
    ecosystem_base TEXT NOT NULL,
    package_key TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS delta_packages_gen ON delta_packages (generation);
";

/// How a record changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeltaKind {
    /// Not in the previous generation.
    New,
    /// Another `modified` time or other content (affected ranges, severity, ...).
    Changed,
    /// Its `withdrawn` field appeared or changed.
    Withdrawn,
    /// In the previous generation, not in this one.
    Removed,
}

impl DeltaKind {
    /// The name stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            DeltaKind::New => "new",
            DeltaKind::Changed => "changed",
            DeltaKind::Withdrawn => "withdrawn",
            DeltaKind::Removed => "removed",
        }
    }

    fn parse(s: &str) -> Option<DeltaKind> {
        Some(match s {
            "new" => DeltaKind::New,
            "changed" => DeltaKind::Changed,
            "withdrawn" => DeltaKind::Withdrawn,
            "removed" => DeltaKind::Removed,
            _ => return None,
        })
    }
}

/// One record of a delta.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeltaRecord {
    /// Record id.
    pub id: String,
    /// What happened to it (the latest change when several generations are merged).
    pub kind: DeltaKind,
    /// `(ecosystem_base, package_key)` pairs the record names, before and after.
    pub packages: BTreeSet<(String, String)>,
}

/// The changes between two generations.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delta {
    /// The generation the delta leads to.
    pub generation: String,
    /// The generation it starts from (`None`: from an empty DB).
    pub since: Option<String>,
    /// Changed records, by id.
    pub records: Vec<DeltaRecord>,
}

impl Delta {
    /// Records of one kind.
    pub fn count(&self, kind: DeltaKind) -> usize {
        self.records.iter().filter(|r| r.kind == kind).count()
    }

    /// Every `(ecosystem_base, package_key)` pair the delta touches.
    pub fn packages(&self) -> BTreeSet<(String, String)> {
        self.records
            .iter()
            .flat_map(|r| r.packages.iter().cloned())
            .collect()
    }
}

struct Row {
    modified: String,
    withdrawn: Option<String>,
    data: Vec<u8>,
}

fn row(conn: &Connection, id: &str) -> rusqlite::Result<Option<Row>> {
    conn.prepare_cached("SELECT modified, withdrawn, data FROM records WHERE id = ?1")?
        .query_row([id], |r| {
            Ok(Row {
                modified: r.get(0)?,
                withdrawn: r.get(1)?,
                data: r.get(2)?,
            })
        })
        .optional()
}

fn pairs(conn: &Connection, id: &str) -> rusqlite::Result<Vec<(String, String)>> {
    let mut s = conn.prepare_cached(
        "SELECT DISTINCT ecosystem_base, package_key FROM affected WHERE record_id = ?1",
    )?;
    let rows = s.query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))?;
    rows.collect()
}

fn has_delta_tables(conn: &Connection) -> rusqlite::Result<bool> {
    let n: i64 = conn.query_row(
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'delta_records'",
        [],
        |r| r.get(0),
    )?;
    Ok(n > 0)
}

/// Classifies one record; `None` when nothing changed.
fn classify(old: Option<&Row>, new: Option<&Row>) -> Option<DeltaKind> {
    match (old, new) {
        (None, None) => None,
        (None, Some(n)) if n.withdrawn.is_some() => Some(DeltaKind::Withdrawn),
        (None, Some(_)) => Some(DeltaKind::New),
        (Some(_), None) => Some(DeltaKind::Removed),
        (Some(o), Some(n)) => {
            if n.withdrawn.is_some() && n.withdrawn != o.withdrawn {
                Some(DeltaKind::Withdrawn)
            } else if o.modified != n.modified || o.data != n.data || o.withdrawn != n.withdrawn {
                Some(DeltaKind::Changed)
            } else {
                None
            }
        }
    }
}

/// Writes the delta of generation `generation` into `new` (inside its open transaction):
/// compares `touched` ids (every id of both when `None`) with `prev`, carries the last
/// [`HISTORY`] generations' rows forward from `prev` when `new` does not hold them.
/// Returns the counts per kind.
pub(crate) fn record(
    new: &Connection,
    prev: Option<&Connection>,
    previous_generation: Option<&str>,
    touched: Option<&BTreeSet<String>>,
    generation: &str,
    now: i64,
) -> rusqlite::Result<BTreeMap<DeltaKind, usize>> {
    new.execute_batch(DELTA_SQL)?;
    // A fresh generation starts without history: copy what the previous one kept.
    let have: i64 = new.query_row("SELECT COUNT(*) FROM delta_generations", [], |r| r.get(0))?;
    if let Some(p) = prev {
        if have == 0 && has_delta_tables(p)? {
            copy_history(p, new)?;
        }
    }
    let ids: BTreeSet<String> = match touched {
        Some(t) => t.clone(),
        None => {
            let mut all = BTreeSet::new();
            for c in std::iter::once(new).chain(prev) {
                let mut s = c.prepare("SELECT id FROM records")?;
                for id in s.query_map([], |r| r.get::<_, String>(0))? {
                    all.insert(id?);
                }
            }
            all
        }
    };
    let mut counts = BTreeMap::new();
    {
        let mut ins_rec = new.prepare_cached(
            "INSERT OR REPLACE INTO delta_records (generation, record_id, kind) VALUES (?1, ?2, ?3)",
        )?;
        let mut ins_pkg = new.prepare_cached(
            "INSERT INTO delta_packages (generation, record_id, ecosystem_base, package_key)
             VALUES (?1, ?2, ?3, ?4)",
        )?;
        for id in &ids {
            let n = row(new, id)?;
            let o = match prev {
                Some(p) => row(p, id)?,
                None => None,
            };
            let Some(kind) = classify(o.as_ref(), n.as_ref()) else {
                continue;
            };
            *counts.entry(kind).or_insert(0) += 1;
            ins_rec.execute(params![generation, id, kind.as_str()])?;
            let mut ps: BTreeSet<(String, String)> = pairs(new, id)?.into_iter().collect();
            if let Some(p) = prev {
                ps.extend(pairs(p, id)?);
            }
            for (base, key) in ps {
                ins_pkg.execute(params![generation, id, base, key])?;
            }
        }
    }
    new.execute(
        "INSERT OR REPLACE INTO delta_generations (generation, previous, created_unix) VALUES (?1, ?2, ?3)",
        params![generation, previous_generation, now],
    )?;
    // Keep the newest HISTORY generations.
    new.execute(
        "DELETE FROM delta_generations WHERE generation NOT IN
           (SELECT generation FROM delta_generations ORDER BY created_unix DESC, generation DESC LIMIT ?1)",
        [HISTORY as i64],
    )?;
    new.execute_batch(
        "DELETE FROM delta_records WHERE generation NOT IN (SELECT generation FROM delta_generations);
         DELETE FROM delta_packages WHERE generation NOT IN (SELECT generation FROM delta_generations);",
    )?;
    Ok(counts)
}

fn copy_history(from: &Connection, to: &Connection) -> rusqlite::Result<()> {
    {
        let mut s =
            from.prepare("SELECT generation, previous, created_unix FROM delta_generations")?;
        let mut ins = to.prepare(
            "INSERT OR IGNORE INTO delta_generations (generation, previous, created_unix) VALUES (?1, ?2, ?3)",
        )?;
        let rows = s.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, Option<String>>(1)?,
                r.get::<_, i64>(2)?,
            ))
        })?;
        for row in rows {
            let (g, p, c) = row?;
            ins.execute(params![g, p, c])?;
        }
    }
    {
        let mut s = from.prepare("SELECT generation, record_id, kind FROM delta_records")?;
        let mut ins = to.prepare(
            "INSERT OR IGNORE INTO delta_records (generation, record_id, kind) VALUES (?1, ?2, ?3)",
        )?;
        let rows = s.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
            ))
        })?;
        for row in rows {
            let (g, id, k) = row?;
            ins.execute(params![g, id, k])?;
        }
    }
    let mut s = from
        .prepare("SELECT generation, record_id, ecosystem_base, package_key FROM delta_packages")?;
    let mut ins = to.prepare(
        "INSERT INTO delta_packages (generation, record_id, ecosystem_base, package_key) VALUES (?1, ?2, ?3, ?4)",
    )?;
    let rows = s.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, String>(3)?,
        ))
    })?;
    for row in rows {
        let (g, id, b, k) = row?;
        ins.execute(params![g, id, b, k])?;
    }
    Ok(())
}

/// Reads the merged delta from `since` (exclusive; `None`: only `generation`'s own
/// delta) up to `generation`. `Ok(None)` when the history does not reach back to `since`
/// (or the generation has no delta tables).
pub(crate) fn read(
    conn: &Connection,
    generation: &str,
    since: Option<&str>,
) -> rusqlite::Result<Option<Delta>> {
    if !has_delta_tables(conn)? {
        return Ok(None);
    }
    // Walk the chain back from `generation`.
    let mut chain: Vec<String> = Vec::new();
    let mut at = Some(generation.to_string());
    let mut start: Option<String> = None;
    let mut reached = false;
    while let Some(g) = at {
        if since == Some(g.as_str()) {
            reached = true;
            break;
        }
        let prev: Option<Option<String>> = conn
            .query_row(
                "SELECT previous FROM delta_generations WHERE generation = ?1",
                [&g],
                |r| r.get(0),
            )
            .optional()?;
        let Some(prev) = prev else {
            break;
        };
        chain.push(g);
        if since.is_none() {
            start = prev;
            reached = true;
            break;
        }
        at = prev;
        if chain.len() > HISTORY + 1 {
            break;
        }
    }
    if !reached {
        return Ok(None);
    }
    if since.is_some() {
        start = since.map(str::to_string);
    }
    // Oldest first, so a later change of the same record wins.
    chain.reverse();
    let mut by_id: BTreeMap<String, DeltaRecord> = BTreeMap::new();
    for g in &chain {
        let mut s =
            conn.prepare_cached("SELECT record_id, kind FROM delta_records WHERE generation = ?1")?;
        let rows = s.query_map([g], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })?;
        for row in rows {
            let (id, kind) = row?;
            let kind = DeltaKind::parse(&kind).unwrap_or(DeltaKind::Changed);
            let e = by_id.entry(id.clone()).or_insert_with(|| DeltaRecord {
                id,
                kind,
                packages: BTreeSet::new(),
            });
            // new then changed is still new to a reader that saw neither.
            if !(e.kind == DeltaKind::New && kind == DeltaKind::Changed) {
                e.kind = kind;
            }
        }
        let mut s = conn.prepare_cached(
            "SELECT record_id, ecosystem_base, package_key FROM delta_packages WHERE generation = ?1",
        )?;
        let rows = s.query_map([g], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
            ))
        })?;
        for row in rows {
            let (id, base, key) = row?;
            if let Some(e) = by_id.get_mut(&id) {
                e.packages.insert((base, key));
            }
        }
    }
    Ok(Some(Delta {
        generation: generation.to_string(),
        since: start,
        records: by_id.into_values().collect(),
    }))
}
