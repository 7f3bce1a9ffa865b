//! Matching stored packages against the vulnerability DB: once when an SBOM or report is
//! uploaded, and again — for the packages a feed delta names, and only those — each time
//! the DB moves to a new generation. Each re-match records, per image, what changed
//! (newly affected, fixed upstream, no longer affected) as events, with the rebuild
//! advice for newly affected images, and queues them for the webhooks.
//!
//! The matching is bulwark-vulndb's ([`Matcher`]: the lookup and OSV range evaluation
//! `bulwark scan` uses); this module only finds the candidates and diffs the results.
//!
//! A re-match runs as one write of the store (one transaction): the candidate packages
//! are found with one set-oriented query per chunk of the delta's `(ecosystem, name)`
//! pairs (joined on the `packages (ecosystem, match_name)` index), matched, diffed
//! against the stored findings, and the finding changes, events, outbox rows and the new
//! `vulndb_state` commit together. A crash in the middle leaves the previous generation
//! recorded, so the next start re-matches the same delta: nothing is lost and nothing
//! is recorded twice.

use crate::error::ApiError;
use crate::params;
use crate::store::inventory::{FindingIn, LayerIn, Upload};
use crate::store::sql::Value;
use crate::store::Conn;
use crate::store::{audit, now_ms, random_hex, rfc3339, StoreError};
use bulwark_core::{Ecosystem, OsInfo, Package, SourcePackage, VulnFinding};
use bulwark_vulndb::matching::{identity_ids, Matcher};
use bulwark_vulndb::{Delta, DeltaKind, VulnDb, VulnDbError};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

/// `(bulwark ecosystem, match_name)` pairs a delta names.
type Pairs = Vec<(String, String)>;
/// Identity ids of the delta's records → how the record changed.
type Scope = HashMap<String, DeltaKind>;
/// A package matched under one OS (family, version).
type MatchKey = (String, Option<(String, String)>);

/// Delta pairs per candidate query (two parameters each).
const PAIRS_PER_QUERY: usize = 400;
/// Package ids per findings query.
const IDS_PER_QUERY: usize = 500;

/// The OSV ecosystem bases a bulwark ecosystem's packages are looked up under.
fn ecosystem_for_base(base: &str) -> Option<&'static str> {
    Some(match base {
        "Debian" | "Ubuntu" => "deb",
        "Alpine" | "Wolfi" | "Chainguard" => "apk",
        "Red Hat" | "Rocky Linux" | "AlmaLinux" | "SUSE" | "openSUSE" | "openEuler"
        | "Photon OS" | "Azure Linux" | "CBL-Mariner" => "rpm",
        "PyPI" => "pypi",
        "npm" => "npm",
        "crates.io" => "cargo",
        "Go" => "golang",
        "Maven" => "maven",
        "RubyGems" => "gem",
        "NuGet" => "nuget",
        "Packagist" => "composer",
        "Pub" => "pub",
        "Hex" => "hex",
        "SwiftURL" => "swift",
        _ => return None,
    })
}

/// The OSV base whose name normalisation applies to a bulwark ecosystem.
fn base_for_ecosystem(eco: &str) -> &'static str {
    match eco {
        "pypi" => "PyPI",
        "golang" => "Go",
        "nuget" => "NuGet",
        "composer" => "Packagist",
        _ => "",
    }
}

/// The name a stored package is looked up under (see migration 2): the source package
/// for deb and apk, normalised as the DB's index normalises names.
pub fn match_name(ecosystem: &str, name: &str, source_name: Option<&str>) -> String {
    let n = match (ecosystem, source_name) {
        ("deb" | "apk", Some(s)) if !s.is_empty() => s,
        _ => name,
    };
    bulwark_vulndb::store::package_key(base_for_ecosystem(ecosystem), n)
}

/// Whether a layer's history line is a base image's root file system (`ADD file:… in /`,
/// as `docker history` shows the layer a `FROM scratch` image starts with).
fn is_rootfs_layer(created_by: Option<&str>) -> bool {
    created_by.is_some_and(|c| {
        let c = c.trim_end();
        (c.contains("ADD file:") && c.ends_with(" in /")) || c.starts_with("ADD rootfs")
    })
}

/// Marks an image's base layers: those registered in `base_layers`, and every layer up
/// to the last root file-system layer of its history.
pub fn mark_base_layers(
    conn: &Conn<'_>,
    digest: &str,
    order: &[LayerIn],
) -> Result<(), StoreError> {
    let boundary = order
        .iter()
        .rposition(|l| is_rootfs_layer(l.created_by.as_deref()))
        .map(|p| p as i64)
        .unwrap_or(-1);
    conn.execute(
        "UPDATE image_layers SET is_base = CASE WHEN position <= $1
             OR layer_digest IN (SELECT layer_digest FROM base_layers) THEN 1 ELSE 0 END
         WHERE image_digest = $2",
        params![boundary, digest],
    )?;
    Ok(())
}

/// Registers base-image layers and marks them in every stored image. Returns how many
/// image layers were marked.
pub fn register_base(
    conn: &Conn<'_>,
    name: &str,
    layers: &[String],
    actor: (&str, &str),
) -> Result<usize, StoreError> {
    let now = now_ms();
    let mut marked = 0;
    for l in layers {
        conn.execute(
            "INSERT INTO base_layers (layer_digest, base_name, registered_at, registered_by)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (layer_digest) DO UPDATE SET base_name = excluded.base_name",
            params![l, name, now, actor.0],
        )?;
        marked += conn.execute(
            "UPDATE image_layers SET is_base = 1 WHERE layer_digest = $1 AND is_base = 0",
            params![l],
        )?;
    }
    audit::append_done(
        conn,
        actor,
        "base.register",
        name,
        serde_json::json!({"layers": layers, "marked": marked}).to_string(),
        now,
    )?;
    Ok(marked)
}

/// The layers of a stored image (for registering it as a base), bottom first.
pub fn image_layer_digests(conn: &Conn<'_>, digest: &str) -> Result<Vec<String>, StoreError> {
    conn.query_map(
        "SELECT layer_digest FROM image_layers WHERE image_digest = $1 AND layer_digest NOT LIKE 'unlayered:%' ORDER BY position",
        params![digest],
        |r| r.get::<String>(0),
    )
}

fn ecosystem_of(s: &str) -> Option<Ecosystem> {
    serde_json::from_value(serde_json::Value::String(s.to_string())).ok()
}

fn enum_name<T: Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

fn finding_in(f: &VulnFinding, package_id: &str, layer: Option<String>) -> FindingIn {
    FindingIn {
        advisory_id: f.id.clone(),
        aliases: f.aliases.clone(),
        package_id: package_id.to_string(),
        installed_version: f.installed_version.clone(),
        fixed_version: f.fixed_versions.first().cloned(),
        status: enum_name(&f.status),
        severity: enum_name(&f.severity),
        title: f.title.clone(),
        layer,
        suppressed: None,
        kev: Some(f.kev),
        epss: f.epss.map(|(p, _)| p),
    }
}

/// Opens the DB for matching: `Ok(None)` when the directory holds no DB yet.
pub fn open_db(dir: &Path) -> Result<Option<VulnDb>, VulnDbError> {
    match VulnDb::open(dir) {
        Ok(db) => Ok(Some(db)),
        Err(VulnDbError::NotFound { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Matches an upload's packages against the DB in `dir`, replacing same-id findings of a
/// report and adding the rest (a report's own findings on advisories this DB lacks are
/// kept). Returns the generation matched against, `None` when there is no DB yet.
pub fn match_upload(dir: &Path, up: &mut Upload) -> Result<Option<String>, ApiError> {
    let db = open_db(dir).map_err(|e| {
        tracing::error!(error = %e, "vulnerability DB unreadable; refusing the upload");
        ApiError::new(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "vulndb_unavailable",
            "the server's vulnerability DB cannot be read; the upload was not stored",
        )
    })?;
    let Some(db) = db else {
        return Ok(None);
    };
    let os = up.os.as_ref().map(|(f, v)| OsInfo {
        family: f.clone(),
        version: v.clone(),
        ..OsInfo::default()
    });
    let mut matcher = Matcher::new(&db);
    let mut seen = BTreeSet::new();
    let mut found: Vec<FindingIn> = Vec::new();
    for p in &up.packages {
        if !seen.insert(p.id.clone()) {
            continue;
        }
        let Some(eco) = ecosystem_of(&p.ecosystem) else {
            continue;
        };
        let mut pkg = Package::new(eco, &p.name, &p.version, "server");
        pkg.purl = p.purl.clone();
        pkg.source = p.source.as_ref().map(|(n, v)| SourcePackage {
            name: n.clone(),
            version: v.clone(),
        });
        let fs = matcher.match_one(&pkg, os.as_ref()).map_err(|e| {
            tracing::error!(error = %e, "vulnerability DB lookup failed");
            ApiError::unavailable()
        })?;
        for f in &fs {
            found.push(finding_in(f, &p.id, p.layer.clone()));
        }
    }
    let mut merged: Vec<FindingIn> = up.findings.take().unwrap_or_default();
    for f in found {
        merged.retain(|o| !(o.advisory_id == f.advisory_id && o.package_id == f.package_id));
        merged.push(f);
    }
    up.findings = Some(merged);
    Ok(Some(db.generation().to_string()))
}

/// The generation the store was last re-matched against.
pub fn stored_generation(conn: &Conn<'_>) -> Result<Option<String>, StoreError> {
    Ok(conn
        .query_row_opt(
            "SELECT generation FROM vulndb_state WHERE id = 1",
            params![],
            |r| r.get::<Option<String>>(0),
        )?
        .flatten())
}

/// What one re-match did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Outcome {
    /// Generation re-matched to.
    pub generation: String,
    /// Generation re-matched from (`None`: the first DB the server saw).
    pub since: Option<String>,
    /// `delta` (the records the feed changed), `full` (the delta history did not reach
    /// back: every stored package), `baseline` (first DB: findings only, no events) or
    /// `none` (already current).
    pub mode: String,
    /// Delta records by kind.
    pub delta: BTreeMap<String, usize>,
    /// Distinct stored packages evaluated.
    pub packages: usize,
    /// (image, package) pairs evaluated.
    pub image_packages: usize,
    /// Events recorded, by kind.
    pub events: BTreeMap<String, usize>,
    /// Outbox rows queued for webhooks.
    pub queued: usize,
}

/// One stored package occurrence in an image.
struct Candidate {
    image: String,
    package_id: String,
    layer: String,
    position: i64,
    is_base: bool,
    created_by: Option<String>,
}

struct Pkg {
    ecosystem: String,
    name: String,
    version: String,
    purl: String,
    source: Option<(String, String)>,
}

struct OldFinding {
    advisory_id: String,
    aliases: Vec<String>,
    fixed_version: Option<String>,
    state: String,
    severity: String,
    title: String,
}

struct ImageInfo {
    team: Option<String>,
    owner: Option<String>,
    repositories: Vec<String>,
    os: Option<(String, String)>,
}

fn image_info(conn: &Conn<'_>, digest: &str) -> Result<ImageInfo, StoreError> {
    let (team, owner) = conn
        .query_row_opt(
            "SELECT team, owner FROM images WHERE digest = $1",
            params![digest],
            |r| Ok((r.get::<Option<String>>(0)?, r.get::<Option<String>>(1)?)),
        )?
        .unwrap_or((None, None));
    let repositories = conn.query_map(
        "SELECT repository, tag FROM image_repositories WHERE image_digest = $1 ORDER BY repository, tag",
        params![digest],
        |r| {
            let (repo, tag): (String, String) = (r.get(0)?, r.get(1)?);
            Ok(if tag.is_empty() {
                repo
            } else {
                format!("{repo}:{tag}")
            })
        },
    )?;
    let os = conn
        .query_row_opt(
            "SELECT os_family, os_version FROM sboms WHERE image_digest = $1",
            params![digest],
            |r| Ok((r.get::<Option<String>>(0)?, r.get::<Option<String>>(1)?)),
        )?
        .and_then(|(f, v)| Some((f?, v.unwrap_or_default())));
    Ok(ImageInfo {
        team,
        owner,
        repositories,
        os,
    })
}

fn read_candidates(
    conn: &Conn<'_>,
    pairs: Option<&[(String, String)]>,
    out_cands: &mut Vec<Candidate>,
    out_pkgs: &mut HashMap<String, Pkg>,
) -> Result<(), StoreError> {
    let select = "SELECT il.image_digest, p.id, p.ecosystem, p.name, p.version, p.purl,
                         p.source_name, p.source_version, il.layer_digest, il.position,
                         il.is_base, il.created_by";
    let joins = "JOIN layer_packages lp ON lp.package_id = p.id
                 JOIN image_layers il ON il.layer_digest = lp.layer_digest";
    let mut run = |sql: &str, args: Vec<String>| -> Result<(), StoreError> {
        let args: Vec<Value> = args.into_iter().map(Value::Text).collect();
        conn.query_each(sql, &args, |r| {
            let id: String = r.get(1)?;
            if !out_pkgs.contains_key(&id) {
                let sn: Option<String> = r.get(6)?;
                let sv: Option<String> = r.get(7)?;
                out_pkgs.insert(
                    id.clone(),
                    Pkg {
                        ecosystem: r.get(2)?,
                        name: r.get(3)?,
                        version: r.get(4)?,
                        purl: r.get(5)?,
                        source: sn.map(|n| (n, sv.unwrap_or_default())),
                    },
                );
            }
            out_cands.push(Candidate {
                image: r.get(0)?,
                package_id: id,
                layer: r.get(8)?,
                position: r.get(9)?,
                is_base: r.get::<i64>(10)? != 0,
                created_by: r.get(11)?,
            });
            Ok(())
        })
    };
    match pairs {
        None => run(&format!("{select} FROM packages p {joins}"), Vec::new())?,
        Some(pairs) => {
            for chunk in pairs.chunks(PAIRS_PER_QUERY) {
                let values: Vec<String> = (0..chunk.len())
                    .map(|i| format!("(${}, ${})", 2 * i + 1, 2 * i + 2))
                    .collect();
                let sql = format!(
                    "WITH k (eco, mname) AS (VALUES {})
                     {select} FROM k JOIN packages p ON p.ecosystem = k.eco AND p.match_name = k.mname
                     {joins}",
                    values.join(", ")
                );
                let args: Vec<String> = chunk
                    .iter()
                    .flat_map(|(e, n)| [e.clone(), n.clone()])
                    .collect();
                run(&sql, args)?;
            }
        }
    }
    Ok(())
}

fn read_findings(
    conn: &Conn<'_>,
    package_ids: &[String],
) -> Result<HashMap<(String, String), Vec<OldFinding>>, StoreError> {
    let mut out: HashMap<(String, String), Vec<OldFinding>> = HashMap::new();
    for chunk in package_ids.chunks(IDS_PER_QUERY) {
        let ph: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT image_digest, package_id, advisory_id, aliases, fixed_version, state, severity, title
             FROM findings WHERE package_id IN ({})",
            ph.join(", ")
        );
        let args: Vec<Value> = chunk.iter().cloned().map(Value::Text).collect();
        conn.query_each(&sql, &args, |r| {
            let aliases: String = r.get(3)?;
            out.entry((r.get(0)?, r.get(1)?))
                .or_default()
                .push(OldFinding {
                    advisory_id: r.get(2)?,
                    aliases: serde_json::from_str(&aliases).unwrap_or_default(),
                    fixed_version: r.get(4)?,
                    state: r.get(5)?,
                    severity: r.get(6)?,
                    title: r.get(7)?,
                });
            Ok(())
        })?;
    }
    Ok(out)
}

/// The delta's records as identity ids → kind (ids of every record the delta names,
/// with the aliases of those still in the DB).
fn delta_ids(db: &VulnDb, delta: &Delta) -> Result<HashMap<String, DeltaKind>, VulnDbError> {
    let mut out = HashMap::new();
    for r in &delta.records {
        let ids = match db.record(&r.id)? {
            Some(rec) => identity_ids(&rec),
            None => vec![r.id.clone()],
        };
        for i in ids {
            // A withdrawal wins over another record's change of the same alias.
            let e = out.entry(i).or_insert(r.kind);
            if matches!(r.kind, DeltaKind::Withdrawn | DeltaKind::Removed) {
                *e = r.kind;
            }
        }
    }
    Ok(out)
}

fn in_scope(ids: &HashMap<String, DeltaKind>, id: &str, aliases: &[String]) -> Option<DeltaKind> {
    std::iter::once(id)
        .chain(aliases.iter().map(String::as_str))
        .filter_map(|i| ids.get(i).copied())
        .max_by_key(|k| matches!(k, DeltaKind::Withdrawn | DeltaKind::Removed))
}

/// Webhook subscriptions an event is queued for.
struct Hook {
    id: String,
    team: Option<String>,
}

fn hooks(conn: &Conn<'_>) -> Result<Vec<Hook>, StoreError> {
    conn.query_map(
        "SELECT id, team FROM webhooks WHERE enabled = 1",
        params![],
        |r| {
            Ok(Hook {
                id: r.get(0)?,
                team: r.get(1)?,
            })
        },
    )
}

/// Re-matches the store against `db` (run on the writer: one transaction). See the
/// module docs.
pub fn rematch(conn: &Conn<'_>, db: &VulnDb) -> Result<Outcome, StoreError> {
    let generation = db.generation().to_string();
    let since = stored_generation(conn)?;
    let mut out = Outcome {
        generation: generation.clone(),
        since: since.clone(),
        ..Outcome::default()
    };
    if since.as_deref() == Some(generation.as_str()) {
        out.mode = "none".into();
        return Ok(out);
    }
    let vdb = |e: VulnDbError| StoreError::Corrupt(format!("vulnerability DB: {e}"));
    // Which stored packages to evaluate, and which advisories may change state.
    let (pairs, scope): (Option<Pairs>, Option<Scope>) = match &since {
        None => {
            out.mode = "baseline".into();
            (None, None)
        }
        Some(s) => match db.delta_since(Some(s)).map_err(vdb)? {
            Some(delta) => {
                out.mode = "delta".into();
                for k in [
                    DeltaKind::New,
                    DeltaKind::Changed,
                    DeltaKind::Withdrawn,
                    DeltaKind::Removed,
                ] {
                    out.delta.insert(k.as_str().into(), delta.count(k));
                }
                let mut pairs = BTreeSet::new();
                for (base, key) in delta.packages() {
                    if let Some(eco) = ecosystem_for_base(&base) {
                        pairs.insert((eco.to_string(), key));
                    }
                }
                let ids = delta_ids(db, &delta).map_err(vdb)?;
                (Some(pairs.into_iter().collect()), Some(ids))
            }
            None => {
                tracing::warn!(since = %s, generation = %generation,
                        "the DB's delta history does not reach back to the generation last re-matched; re-matching every stored package");
                out.mode = "full".into();
                (None, None)
            }
        },
    };
    let events_on = out.mode != "baseline";
    let mut cands = Vec::new();
    let mut pkgs = HashMap::new();
    match &pairs {
        Some(p) if p.is_empty() => {}
        Some(p) => read_candidates(conn, Some(p), &mut cands, &mut pkgs)?,
        None => read_candidates(conn, None, &mut cands, &mut pkgs)?,
    }
    // One occurrence per (image, package): the lowest layer brought it in.
    let mut occ: BTreeMap<(String, String), Candidate> = BTreeMap::new();
    for c in cands {
        let key = (c.image.clone(), c.package_id.clone());
        match occ.get(&key) {
            Some(o) if o.position <= c.position => {}
            _ => {
                occ.insert(key, c);
            }
        }
    }
    out.packages = pkgs.len();
    out.image_packages = occ.len();
    let ids: Vec<String> = pkgs.keys().cloned().collect();
    let old = read_findings(conn, &ids)?;
    let mut infos: HashMap<String, ImageInfo> = HashMap::new();
    let mut matcher = Matcher::new(db);
    let mut results: HashMap<MatchKey, Vec<VulnFinding>> = HashMap::new();
    let hooks = hooks(conn)?;
    let now = now_ms();
    // Event and delivery ids: time, a counter, and a random salt, so the many rows of
    // one re-match go into their primary-key indexes in order (random keys made the
    // inserts of a big re-match hop around the B-trees).
    let salt = random_hex(6);
    let mut seq: u32 = 0;
    let upsert: &str = "INSERT INTO findings (image_digest, advisory_id, package_id, aliases, installed_version, fixed_version,
           status, severity, title, layer_digest, suppressed, state, scan_id, first_seen, updated_at, kev, epss)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, NULL, 'affected', NULL, $11, $11, $12, $13)
         ON CONFLICT (image_digest, advisory_id, package_id) DO UPDATE SET
           aliases = excluded.aliases, fixed_version = excluded.fixed_version, status = excluded.status,
           severity = excluded.severity, title = excluded.title, state = 'affected',
           updated_at = excluded.updated_at, kev = excluded.kev, epss = excluded.epss";
    let set_state: &str = "UPDATE findings SET state = $1, updated_at = $2
         WHERE image_digest = $3 AND advisory_id = $4 AND package_id = $5";
    let ins_event: &str = "INSERT INTO events (id, kind, image_digest, delta_id, payload, created_at) VALUES ($1, $2, $3, $4, $5, $6)";
    let ins_outbox: &str = "INSERT INTO outbox (id, event_id, webhook_id, attempts, next_attempt_at, created_at) VALUES ($1, $2, $3, 0, $4, $4)";
    for ((image, package_id), cand) in &occ {
        let Some(p) = pkgs.get(package_id) else {
            continue;
        };
        if !infos.contains_key(image) {
            infos.insert(image.clone(), image_info(conn, image)?);
        }
        let Some(info) = infos.get(image) else {
            continue;
        };
        let rkey = (package_id.clone(), info.os.clone());
        if !results.contains_key(&rkey) {
            let found = match ecosystem_of(&p.ecosystem) {
                None => Vec::new(),
                Some(eco) => {
                    let mut pkg = Package::new(eco, &p.name, &p.version, "server");
                    pkg.purl = p.purl.clone();
                    pkg.source = p.source.as_ref().map(|(n, v)| SourcePackage {
                        name: n.clone(),
                        version: v.clone(),
                    });
                    let os = info.os.as_ref().map(|(f, v)| OsInfo {
                        family: f.clone(),
                        version: v.clone(),
                        ..OsInfo::default()
                    });
                    matcher.match_one(&pkg, os.as_ref()).map_err(vdb)?
                }
            };
            results.insert(rkey.clone(), found);
        }
        let new_all = results.get(&rkey).map(Vec::as_slice).unwrap_or(&[]);
        let empty = Vec::new();
        let olds = old
            .get(&(image.clone(), package_id.clone()))
            .unwrap_or(&empty);
        let mut emit: Vec<(&'static str, serde_json::Value)> = Vec::new();
        for n in new_all {
            if let Some(sc) = &scope {
                if in_scope(sc, &n.id, &n.aliases).is_none() {
                    continue;
                }
            }
            let prev = olds.iter().find(|o| o.advisory_id == n.id);
            let fixed = n.fixed_versions.first().cloned();
            let kind = match prev {
                None => Some("newly_affected"),
                Some(o) if o.state != "affected" => Some("newly_affected"),
                Some(o) if o.fixed_version.is_none() && fixed.is_some() => Some("fixed_upstream"),
                Some(_) => None,
            };
            if !events_on && prev.is_some() {
                continue; // baseline: add, never change
            }
            let aliases = serde_json::to_string(&n.aliases)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?;
            conn.execute(
                upsert,
                params![
                    image,
                    n.id,
                    package_id,
                    aliases,
                    n.installed_version,
                    fixed,
                    enum_name(&n.status),
                    enum_name(&n.severity),
                    n.title,
                    cand.layer,
                    now,
                    n.kev,
                    n.epss.map(|(p, _)| p)
                ],
            )?;
            if let (Some(k), true) = (kind, events_on) {
                emit.push((
                    k,
                    serde_json::json!({
                        "id": n.id, "aliases": n.aliases, "severity": enum_name(&n.severity),
                        "title": n.title, "state": "affected", "fixed_version": fixed,
                    }),
                ));
            }
        }
        if events_on {
            for o in olds.iter().filter(|o| o.state == "affected") {
                let why = match &scope {
                    Some(sc) => match in_scope(sc, &o.advisory_id, &o.aliases) {
                        Some(k) => k,
                        None => continue,
                    },
                    None => DeltaKind::Changed,
                };
                if new_all.iter().any(|n| n.id == o.advisory_id) {
                    continue;
                }
                // In full mode the record itself says whether it was withdrawn.
                let withdrawn = match why {
                    DeltaKind::Withdrawn | DeltaKind::Removed => true,
                    _ if scope.is_none() => advisory_gone(db, &o.advisory_id).map_err(vdb)?,
                    _ => false,
                };
                let state = if withdrawn { "withdrawn" } else { "fixed" };
                conn.execute(
                    set_state,
                    params![state, now, image, o.advisory_id, package_id],
                )?;
                emit.push((
                    "no_longer_affected",
                    serde_json::json!({
                        "id": o.advisory_id, "aliases": o.aliases, "severity": o.severity,
                        "title": o.title, "state": state,
                        "reason": if withdrawn { "withdrawn" } else { "not_in_affected_ranges" },
                        "fixed_version": o.fixed_version,
                    }),
                ));
            }
        }
        for (kind, advisory) in emit {
            let id = next_id(now, &mut seq, &salt);
            let fixed = advisory["fixed_version"].as_str().map(str::to_string);
            let (action, text) = advice(kind, cand.is_base, &p.name, fixed.as_deref());
            let payload = serde_json::json!({
                "id": id,
                "kind": kind,
                "created_at": rfc3339(now),
                "image": {"digest": image, "repositories": info.repositories,
                          "team": info.team, "owner": info.owner},
                "package": {"name": p.name, "version": p.version, "ecosystem": p.ecosystem,
                            "purl": p.purl},
                "advisory": advisory,
                "layer": {"digest": cand.layer, "position": cand.position,
                          "created_by": cand.created_by,
                          "origin": if cand.is_base { "base" } else { "application" }},
                "advice": {"action": action, "text": text},
                "feed": {"generation": generation, "since": since},
            });
            conn.execute(
                ins_event,
                params![id, kind, image, generation, payload.to_string(), now],
            )?;
            *out.events.entry(kind.to_string()).or_insert(0) += 1;
            for h in &hooks {
                if h.team.is_none() || h.team == info.team {
                    conn.execute(
                        ins_outbox,
                        params![next_id(now, &mut seq, &salt), id, h.id, now],
                    )?;
                    out.queued += 1;
                }
            }
        }
    }
    let total: usize = out.delta.values().sum();
    conn.execute(
        "INSERT INTO feed_deltas (id, source, new_count, changed_count, withdrawn_count, imported_at, rematched_at)
         VALUES ($1, $2, $3, $4, $5, $6, $6)
         ON CONFLICT (id) DO UPDATE SET rematched_at = excluded.rematched_at",
        params![
            generation,
            format!("vulndb {} since {}", out.mode, since.as_deref().unwrap_or("-")),
            out.delta.get("new").copied().unwrap_or(0) as i64,
            out.delta.get("changed").copied().unwrap_or(0) as i64,
            (out.delta.get("withdrawn").copied().unwrap_or(0)
                + out.delta.get("removed").copied().unwrap_or(0)) as i64,
            now
        ],
    )?;
    conn.execute(
        "UPDATE vulndb_state SET generation = $1, updated_at = $2 WHERE id = 1",
        params![generation, now],
    )?;
    let detail = serde_json::json!({"since": since, "mode": out.mode, "delta_records": total,
        "packages": out.packages, "events": out.events});
    audit::append_done(
        conn,
        ("server", "-"),
        "vulndb.rematch",
        generation.as_str(),
        detail.to_string(),
        now,
    )?;
    Ok(out)
}

/// A 32-hex-digit id: 12 digits of milliseconds, 8 of a counter, 12 of random salt.
fn next_id(now: i64, seq: &mut u32, salt: &str) -> String {
    *seq = seq.wrapping_add(1);
    format!("{:012x}{:08x}{salt}", now & 0xffff_ffff_ffff, *seq)
}

/// Whether no live record names `id` any more (withdrawn or removed).
fn advisory_gone(db: &VulnDb, id: &str) -> Result<bool, VulnDbError> {
    let mut ids = db.ids_for_alias(id)?;
    ids.push(id.to_string());
    for i in ids {
        if let Some(r) = db.record(&i)? {
            if !bulwark_vulndb::matching::is_withdrawn(&r, std::time::SystemTime::now()) {
                return Ok(false);
            }
        }
    }
    Ok(true)
}

/// The advice of an event: `rebuild_on_newer_base` when a base layer brought the
/// package in, `bump_dependency` when the application's layers did; `none` for events
/// that need no action.
fn advice(kind: &str, base: bool, name: &str, fixed: Option<&str>) -> (&'static str, String) {
    if kind == "no_longer_affected" {
        return ("none", "no action needed".into());
    }
    let fix = match fixed {
        Some(f) => format!("fixed in {f}"),
        None => "no fixed version published yet".into(),
    };
    if base {
        (
            "rebuild_on_newer_base",
            format!("rebuild on a newer base: {name} came with the base image ({fix})"),
        )
    } else {
        (
            "bump_dependency",
            format!("bump the dependency: {name} was added by the application's layers ({fix})"),
        )
    }
}

/// Re-matches the store to the DB's current generation (if it moved), records the
/// metrics and wakes the webhook sender. One re-match at a time.
pub async fn run(app: &crate::api::App) -> Result<Option<Outcome>, StoreError> {
    let _one = app.rematch_lock.lock().await;
    run_locked(app).await
}

/// [`run`] for a caller that holds `app.rematch_lock` (the import endpoint, which holds
/// it from the new generation's commit on, so it reports the re-match it caused).
pub async fn run_locked(app: &crate::api::App) -> Result<Option<Outcome>, StoreError> {
    let Some(dir) = app.vulndb.clone() else {
        return Ok(None);
    };
    let started = std::time::Instant::now();
    let out = app
        .store
        .write(move |c| {
            let db =
                open_db(&dir).map_err(|e| StoreError::Corrupt(format!("vulnerability DB: {e}")))?;
            match db {
                Some(db) => rematch(c, &db).map(Some),
                None => Ok(None),
            }
        })
        .await?;
    if let Some(o) = &out {
        if o.mode != "none" {
            let took = started.elapsed();
            app.metrics.rematch(took, &o.events);
            tracing::info!(
                generation = %o.generation,
                since = o.since.as_deref().unwrap_or("-"),
                mode = %o.mode,
                packages = o.packages,
                image_packages = o.image_packages,
                events = o.events.values().sum::<usize>(),
                queued = o.queued,
                seconds = took.as_secs_f64(),
                "re-match done"
            );
            if o.queued > 0 {
                app.wake.notify_one();
            }
        }
    }
    Ok(out)
}

/// Polls the DB directory's `current` pointer (one small file read) every `poll` and
/// re-matches when it names a new generation. No timer re-scan: nothing happens while
/// the pointer stays put.
pub async fn watch(app: std::sync::Arc<crate::api::App>, poll: std::time::Duration) {
    let Some(dir) = app.vulndb.clone() else {
        return;
    };
    let mut last: Option<String> = None;
    loop {
        let d = dir.clone();
        let cur = tokio::task::spawn_blocking(move || bulwark_vulndb::current_generation(&d))
            .await
            .ok()
            .and_then(|r| {
                r.map_err(|e| tracing::warn!(error = %e, "reading the DB pointer failed"))
                    .ok()
            })
            .flatten();
        if cur.is_some() && cur != last {
            match run(&app).await {
                Ok(_) => last = cur,
                Err(e) => tracing::error!(error = %e, "re-match failed; retrying at the next poll"),
            }
        }
        tokio::time::sleep(poll).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn match_names_follow_the_db_index() {
        assert_eq!(match_name("deb", "libssl3", Some("openssl")), "openssl");
        assert_eq!(match_name("deb", "bash", Some("")), "bash");
        assert_eq!(
            match_name("pypi", "Django_REST.framework", None),
            "django-rest-framework"
        );
        assert_eq!(
            match_name("golang", "github.com/Foo/Bar", None),
            "github.com/foo/bar"
        );
        assert_eq!(match_name("npm", "Left-Pad", None), "Left-Pad");
    }

    #[test]
    fn rootfs_history_lines() {
        assert!(is_rootfs_layer(Some(
            "/bin/sh -c #(nop) ADD file:5d673d25da3a14ce1f6cf66e4c7fd4f4b85a3759a9d93efb3fd9ff852b5b56e4 in / "
        )));
        assert!(!is_rootfs_layer(Some("COPY app /app")));
        assert!(!is_rootfs_layer(None));
    }

    #[test]
    fn advice_by_origin() {
        assert_eq!(
            advice("newly_affected", true, "openssl", Some("3.0.15")).0,
            "rebuild_on_newer_base"
        );
        assert_eq!(
            advice("newly_affected", false, "lodash", None).0,
            "bump_dependency"
        );
        assert_eq!(advice("no_longer_affected", true, "x", None).0, "none");
    }
}
