//! Matching stored packages against the vulnerability DB: once when an SBOM or report is
//! uploaded, and again — for the packages a feed delta names, and only those — each time
//! the DB moves to a new generation. Each re-match records, per image, what changed
//! (newly affected, fixed upstream, no longer affected) as events, with the rebuild
//! advice for newly affected images, and queues them for the webhooks.
//!
//! The matching is bulwark-vulndb's ([`Matcher`]: the lookup and OSV range evaluation
//! `bulwark scan` uses); this module only finds the candidates and diffs the results.
//!
//! A re-match runs as one write of the store (one transaction). The candidates are
//! read with set-oriented queries, a chunk at a time: the packages of the delta's
//! `(ecosystem, name)` pairs (on the `packages (ecosystem, match_name)` index), the
//! layers holding them, the images holding those layers. Each package is matched once
//! per OS, and what its events share (the `advisory` and `package` objects) is
//! serialised once; the results are diffed against the stored findings, and the finding
//! changes, events and outbox rows go out as multi-row statements (`COPY` for events
//! and outbox rows on PostgreSQL), committed together with the new `vulndb_state`. An
//! event's payload is stored as two parts shared by many events (`event_parts`; see
//! [`event_payload`], which assembles it when it is read). A
//! crash in the middle leaves the previous generation
//! recorded, so the next start re-matches the same delta: nothing is lost and nothing
//! is recorded twice.

use crate::error::ApiError;
use crate::params;
use crate::store::bulk::Rows;
use crate::store::inventory::{FindingIn, LayerIn, Upload};
use crate::store::sql::{Row, ToValue, Value};
use crate::store::{audit, now_ms, random_hex, rfc3339, StoreError};
use crate::store::{Conn, Dialect};
use bulwark_core::{Ecosystem, OsInfo, Package, SourcePackage, VulnFinding};
use bulwark_vulndb::matching::{identity_ids, Matcher};
use bulwark_vulndb::{Delta, DeltaKind, VulnDb, VulnDbError};
use serde::Serialize;
use std::borrow::Cow;
use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

/// `(bulwark ecosystem, match_name)` pairs a delta names.
type Pairs = Vec<(String, String)>;
/// Identity ids of the delta's records → how the record changed.
type Scope = HashMap<String, DeltaKind>;

/// Delta pairs per candidate query (two parameters each).
const PAIRS_PER_QUERY: usize = 400;
/// Package ids, layer digests or image digests per `IN (…)` query.
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

/// A stored package a re-match evaluates.
struct Pkg {
    id: String,
    ecosystem: String,
    name: String,
    version: String,
    purl: String,
    source: Option<(String, String)>,
}

/// One row of `image_layers` for a layer holding a candidate package.
struct ImageLayer {
    image: usize,
    layer: String,
    position: i64,
    is_base: bool,
    /// The event payload's `layer` object, serialised once.
    json: String,
}

/// An image holding candidate packages.
struct Image {
    digest: String,
    team: Option<String>,
    /// Index into the distinct OSes (`None` = unknown OS).
    os: usize,
    /// The event payload's `image` object, serialised once.
    json: String,
}

struct OldFinding {
    advisory_id: String,
    aliases: Vec<String>,
    fixed_version: Option<String>,
    state: String,
    severity: String,
    title: String,
}

/// The match of one package under one OS, with what its findings rows and events need
/// serialised once (shared by every image holding the package).
struct Matched {
    findings: Vec<VulnFinding>,
    /// Per finding: whether the delta names it (always, outside delta mode).
    in_scope: Vec<bool>,
    aliases: Vec<String>,
    status: Vec<String>,
    severity: Vec<String>,
    /// The event payload's `advisory` object.
    advisory: Vec<String>,
}

/// What a re-match reads from the store: the candidate packages, the images holding
/// them and where (the lowest layer per image and package).
#[derive(Default)]
struct Candidates {
    pkgs: Vec<Pkg>,
    images: Vec<Image>,
    layers: Vec<ImageLayer>,
    /// (image, package, image layer), sorted by image digest, then package id.
    occ: Vec<(usize, usize, usize)>,
    /// Distinct OSes of the images, `None` first.
    oses: Vec<Option<(String, String)>>,
}

/// `$1, $2, …, $n`.
fn placeholders(n: usize) -> String {
    (1..=n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn texts(v: &[String]) -> Vec<Value> {
    v.iter().cloned().map(Value::Text).collect()
}

fn to_json<T: Serialize + ?Sized>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn add_pkg(
    pkgs: &mut Vec<Pkg>,
    idx: &mut HashMap<String, usize>,
    r: &Row,
) -> Result<(), StoreError> {
    let id: String = r.get(0)?;
    if !idx.contains_key(&id) {
        let sn: Option<String> = r.get(5)?;
        let sv: Option<String> = r.get(6)?;
        idx.insert(id.clone(), pkgs.len());
        pkgs.push(Pkg {
            id,
            ecosystem: r.get(1)?,
            name: r.get(2)?,
            version: r.get(3)?,
            purl: r.get(4)?,
            source: sn.map(|n| (n, sv.unwrap_or_default())),
        });
    }
    Ok(())
}

/// Reads the candidates: the packages named by `pairs` (every package when `None`),
/// the layers holding them, and the images those layers are in. Three set-oriented
/// queries (per chunk) rather than one wide join: a base layer's packages are shared by
/// every image on that base, so the join repeated each package's columns once per image.
fn read_candidates(
    conn: &Conn<'_>,
    pairs: Option<&[(String, String)]>,
) -> Result<Candidates, StoreError> {
    let mut c = Candidates::default();
    let mut pkg_idx: HashMap<String, usize> = HashMap::new();
    let mut lp: Vec<(String, usize)> = Vec::new();
    let pkg_cols = "p.id, p.ecosystem, p.name, p.version, p.purl, p.source_name, p.source_version";
    match pairs {
        None => {
            conn.query_each(&format!("SELECT {pkg_cols} FROM packages p"), &[], |r| {
                add_pkg(&mut c.pkgs, &mut pkg_idx, r)
            })?;
            conn.query_each(
                "SELECT layer_digest, package_id FROM layer_packages",
                &[],
                |r| {
                    if let Some(&p) = pkg_idx.get(&r.get::<String>(1)?) {
                        lp.push((r.get(0)?, p));
                    }
                    Ok(())
                },
            )?;
        }
        Some(pairs) => {
            for chunk in pairs.chunks(PAIRS_PER_QUERY) {
                let values: Vec<String> = (0..chunk.len())
                    .map(|i| format!("(${}, ${})", 2 * i + 1, 2 * i + 2))
                    .collect();
                let keys = format!(
                    "WITH k (eco, mname) AS (VALUES {})
                     SELECT {{}} FROM k JOIN packages p ON p.ecosystem = k.eco AND p.match_name = k.mname",
                    values.join(", ")
                );
                let args: Vec<Value> = chunk
                    .iter()
                    .flat_map(|(e, n)| [Value::Text(e.clone()), Value::Text(n.clone())])
                    .collect();
                conn.query_each(&keys.replace("{}", pkg_cols), &args, |r| {
                    add_pkg(&mut c.pkgs, &mut pkg_idx, r)
                })?;
                conn.query_each(
                    &format!(
                        "{} JOIN layer_packages lp ON lp.package_id = p.id",
                        keys.replace("{}", "lp.layer_digest, lp.package_id")
                    ),
                    &args,
                    |r| {
                        if let Some(&p) = pkg_idx.get(&r.get::<String>(1)?) {
                            lp.push((r.get(0)?, p));
                        }
                        Ok(())
                    },
                )?;
            }
        }
    }
    // A package at several paths of one layer is one occurrence.
    lp.sort_unstable();
    lp.dedup();
    let mut layer_names: Vec<String> = lp.iter().map(|(l, _)| l.clone()).collect();
    layer_names.dedup();
    // The images holding those layers.
    let mut by_layer: HashMap<String, Vec<usize>> = HashMap::new();
    let mut image_idx: HashMap<String, usize> = HashMap::new();
    let mut on_layer = |r: &Row| -> Result<(), StoreError> {
        let digest: String = r.get(0)?;
        let image = match image_idx.get(&digest) {
            Some(&i) => i,
            None => {
                let i = c.images.len();
                image_idx.insert(digest.clone(), i);
                c.images.push(Image {
                    digest,
                    team: None,
                    os: 0,
                    json: String::new(),
                });
                i
            }
        };
        let layer: String = r.get(2)?;
        let position: i64 = r.get(1)?;
        let created_by: Option<String> = r.get(3)?;
        let is_base = r.get::<i64>(4)? != 0;
        let json = to_json(&serde_json::json!({
            "digest": layer, "position": position, "created_by": created_by,
            "origin": if is_base { "base" } else { "application" },
        }))?;
        by_layer
            .entry(layer.clone())
            .or_default()
            .push(c.layers.len());
        c.layers.push(ImageLayer {
            image,
            layer,
            position,
            is_base,
            json,
        });
        Ok(())
    };
    let il_cols = "image_digest, position, layer_digest, created_by, is_base";
    if pairs.is_none() {
        conn.query_each(
            &format!("SELECT {il_cols} FROM image_layers"),
            &[],
            &mut on_layer,
        )?;
    } else {
        for chunk in layer_names.chunks(IDS_PER_QUERY) {
            conn.query_each(
                &format!(
                    "SELECT {il_cols} FROM image_layers WHERE layer_digest IN ({})",
                    placeholders(chunk.len())
                ),
                &texts(chunk),
                &mut on_layer,
            )?;
        }
    }
    // One occurrence per (image, package): the lowest layer brought it in. Sorted by
    // the images' and packages' ranks (their digests' and ids' order) rather than by
    // the strings, and de-duplicated after the sort rather than through a map: 700k
    // pairs in the benchmark.
    let image_rank = ranks(&c.images, |i| i.digest.as_str());
    let pkg_rank = ranks(&c.pkgs, |p| p.id.as_str());
    let mut occ: Vec<(usize, usize, usize)> = Vec::with_capacity(lp.len());
    for (layer, p) in &lp {
        for &il in by_layer.get(layer).map(Vec::as_slice).unwrap_or(&[]) {
            occ.push((c.layers[il].image, *p, il));
        }
    }
    occ.sort_unstable_by_key(|&(i, p, il)| (image_rank[i], pkg_rank[p], c.layers[il].position));
    occ.dedup_by_key(|&mut (i, p, _)| (i, p));
    c.occ = occ;
    read_images(conn, &mut c)?;
    Ok(c)
}

/// Each item's place in the order of `key` (items with equal keys get distinct ranks).
fn ranks<T>(items: &[T], key: impl Fn(&T) -> &str) -> Vec<u32> {
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_unstable_by(|a, b| key(&items[*a]).cmp(key(&items[*b])));
    let mut rank = vec![0_u32; items.len()];
    for (k, i) in order.into_iter().enumerate() {
        rank[i] = u32::try_from(k).unwrap_or(u32::MAX);
    }
    rank
}

/// Team, owner, repositories and OS of the candidates' images, a chunk of images per
/// query.
fn read_images(conn: &Conn<'_>, c: &mut Candidates) -> Result<(), StoreError> {
    let digests: Vec<String> = c.images.iter().map(|i| i.digest.clone()).collect();
    let idx: HashMap<&str, usize> = digests
        .iter()
        .enumerate()
        .map(|(i, d)| (d.as_str(), i))
        .collect();
    let n = digests.len();
    let mut owner: Vec<Option<String>> = vec![None; n];
    let mut repos: Vec<Vec<String>> = vec![Vec::new(); n];
    let mut os: Vec<Option<(String, String)>> = vec![None; n];
    for chunk in digests.chunks(IDS_PER_QUERY) {
        let ph = placeholders(chunk.len());
        let args = texts(chunk);
        conn.query_each(
            &format!("SELECT digest, team, owner FROM images WHERE digest IN ({ph})"),
            &args,
            |r| {
                if let Some(&i) = idx.get(r.get::<String>(0)?.as_str()) {
                    c.images[i].team = r.get(1)?;
                    owner[i] = r.get(2)?;
                }
                Ok(())
            },
        )?;
        conn.query_each(
            &format!(
                "SELECT image_digest, repository, tag FROM image_repositories
                 WHERE image_digest IN ({ph}) ORDER BY image_digest, repository, tag"
            ),
            &args,
            |r| {
                if let Some(&i) = idx.get(r.get::<String>(0)?.as_str()) {
                    let (repo, tag): (String, String) = (r.get(1)?, r.get(2)?);
                    repos[i].push(if tag.is_empty() {
                        repo
                    } else {
                        format!("{repo}:{tag}")
                    });
                }
                Ok(())
            },
        )?;
        conn.query_each(
            &format!(
                "SELECT image_digest, os_family, os_version FROM sboms WHERE image_digest IN ({ph})"
            ),
            &args,
            |r| {
                if let Some(&i) = idx.get(r.get::<String>(0)?.as_str()) {
                    let f: Option<String> = r.get(1)?;
                    let v: Option<String> = r.get(2)?;
                    os[i] = f.map(|f| (f, v.unwrap_or_default()));
                }
                Ok(())
            },
        )?;
    }
    c.oses = vec![None];
    let mut os_idx: HashMap<Option<(String, String)>, usize> = HashMap::new();
    os_idx.insert(None, 0);
    for (i, img) in c.images.iter_mut().enumerate() {
        let o = os[i].take();
        img.os = match os_idx.get(&o) {
            Some(&k) => k,
            None => {
                let k = c.oses.len();
                os_idx.insert(o.clone(), k);
                c.oses.push(o);
                k
            }
        };
        img.json = to_json(&serde_json::json!({
            "digest": img.digest, "repositories": repos[i],
            "team": img.team, "owner": owner[i],
        }))?;
    }
    Ok(())
}

fn read_findings(
    conn: &Conn<'_>,
    c: &Candidates,
) -> Result<HashMap<(usize, usize), Vec<OldFinding>>, StoreError> {
    let image_idx: HashMap<&str, usize> = c
        .images
        .iter()
        .enumerate()
        .map(|(i, m)| (m.digest.as_str(), i))
        .collect();
    let mut used = vec![false; c.pkgs.len()];
    for &(_, p, _) in &c.occ {
        used[p] = true;
    }
    let ids: Vec<String> = c
        .pkgs
        .iter()
        .zip(&used)
        .filter(|(_, u)| **u)
        .map(|(p, _)| p.id.clone())
        .collect();
    let pkg_idx: HashMap<&str, usize> = c
        .pkgs
        .iter()
        .enumerate()
        .map(|(i, p)| (p.id.as_str(), i))
        .collect();
    let mut out: HashMap<(usize, usize), Vec<OldFinding>> = HashMap::new();
    for chunk in ids.chunks(IDS_PER_QUERY) {
        let sql = format!(
            "SELECT image_digest, package_id, advisory_id, aliases, fixed_version, state, severity, title
             FROM findings WHERE package_id IN ({})",
            placeholders(chunk.len())
        );
        conn.query_each(&sql, &texts(chunk), |r| {
            let (Some(&i), Some(&p)) = (
                image_idx.get(r.get::<String>(0)?.as_str()),
                pkg_idx.get(r.get::<String>(1)?.as_str()),
            ) else {
                return Ok(());
            };
            let aliases: String = r.get(3)?;
            out.entry((i, p)).or_default().push(OldFinding {
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

/// Matches one package under one OS and serialises what its rows and events share.
fn match_pkg(
    matcher: &mut Matcher<'_>,
    p: &Pkg,
    os: Option<&(String, String)>,
    scope: Option<&Scope>,
) -> Result<Matched, StoreError> {
    let findings = match ecosystem_of(&p.ecosystem) {
        None => Vec::new(),
        Some(eco) => {
            let mut pkg = Package::new(eco, &p.name, &p.version, "server");
            pkg.purl = p.purl.clone();
            pkg.source = p.source.as_ref().map(|(n, v)| SourcePackage {
                name: n.clone(),
                version: v.clone(),
            });
            let os = os.map(|(f, v)| OsInfo {
                family: f.clone(),
                version: v.clone(),
                ..OsInfo::default()
            });
            matcher
                .match_one(&pkg, os.as_ref())
                .map_err(|e| StoreError::Corrupt(format!("vulnerability DB: {e}")))?
        }
    };
    let mut m = Matched {
        in_scope: Vec::with_capacity(findings.len()),
        aliases: Vec::with_capacity(findings.len()),
        status: Vec::with_capacity(findings.len()),
        severity: Vec::with_capacity(findings.len()),
        advisory: Vec::with_capacity(findings.len()),
        findings: Vec::new(),
    };
    for n in &findings {
        m.in_scope
            .push(scope.is_none_or(|sc| in_scope(sc, &n.id, &n.aliases).is_some()));
        m.aliases.push(to_json(&n.aliases)?);
        m.status.push(enum_name(&n.status));
        let severity = enum_name(&n.severity);
        m.advisory.push(to_json(&serde_json::json!({
            "id": n.id, "aliases": n.aliases, "severity": severity,
            "title": n.title, "state": "affected", "fixed_version": n.fixed_versions.first(),
        }))?);
        m.severity.push(severity);
    }
    m.findings = findings;
    Ok(m)
}

/// An event's payload as the API lists it and the webhooks send it, from its `events`
/// row: `payload` itself when the row holds it whole (events recorded before migration
/// 6), else assembled from the row's id, kind and time and its two parts (`event_parts`
/// bodies): the image's and the layer's objects, and the advice, advisory, feed and
/// package objects, each serialised JSON on a line of its own (serialised JSON holds no
/// raw line break). A part that is missing or malformed is an error, never a payload
/// with a hole.
pub fn event_payload(
    id: &str,
    kind: &str,
    created_at_ms: i64,
    payload: String,
    image_part: Option<(String, Option<String>)>,
    match_part: Option<(String, Option<String>)>,
) -> Result<String, StoreError> {
    let (image_part, match_part) = match (image_part, match_part) {
        (None, None) => return Ok(payload),
        (Some(i), Some(m)) => (i, m),
        _ => {
            return Err(StoreError::Corrupt(format!(
                "event {id}: one of its two payload parts is not named"
            )))
        }
    };
    let body = |(pid, body): (String, Option<String>)| {
        body.ok_or_else(|| {
            StoreError::Corrupt(format!("event {id}: payload part {pid} is missing"))
        })
    };
    let (image_body, match_body) = (body(image_part)?, body(match_part)?);
    let image: Vec<&str> = image_body.split('\n').collect();
    let m: Vec<&str> = match_body.split('\n').collect();
    let (&[image, layer], &[advice, advisory, feed, package]) = (image.as_slice(), m.as_slice())
    else {
        return Err(StoreError::Corrupt(format!(
            "event {id}: malformed payload parts"
        )));
    };
    let created_at = to_json(&rfc3339(created_at_ms))?;
    Ok(payload_from_parts(
        id,
        kind,
        &created_at,
        image,
        package,
        advisory,
        layer,
        advice,
        feed,
    ))
}

/// An event's payload, serialised from parts serialised once (the same bytes as
/// serialising the whole object: keys in the same, sorted, order).
#[allow(clippy::too_many_arguments)]
fn payload_from_parts(
    id: &str,
    kind: &str,
    created_at: &str,
    image: &str,
    package: &str,
    advisory: &str,
    layer: &str,
    advice: &str,
    feed: &str,
) -> String {
    let mut s = String::with_capacity(
        160 + created_at.len()
            + image.len()
            + package.len()
            + advisory.len()
            + layer.len()
            + advice.len()
            + feed.len(),
    );
    s.push_str("{\"advice\":");
    s.push_str(advice);
    s.push_str(",\"advisory\":");
    s.push_str(advisory);
    s.push_str(",\"created_at\":");
    s.push_str(created_at);
    s.push_str(",\"feed\":");
    s.push_str(feed);
    s.push_str(",\"id\":\"");
    s.push_str(id);
    s.push_str("\",\"image\":");
    s.push_str(image);
    s.push_str(",\"kind\":\"");
    s.push_str(kind);
    s.push_str("\",\"layer\":");
    s.push_str(layer);
    s.push_str(",\"package\":");
    s.push_str(package);
    s.push('}');
    s
}

/// Rows per multi-row statement.
const FINDINGS_PER_STATEMENT: usize = 250;
const EVENTS_PER_STATEMENT: usize = 250;
const OUTBOX_PER_STATEMENT: usize = 500;
/// Rows per `COPY` (PostgreSQL's events and outbox rows).
const ROWS_PER_COPY: usize = 2_000;

/// The re-match's writes, buffered into multi-row statements.
struct Writes {
    /// Findings the store does not hold yet (the writer holds the store: what
    /// `read_findings` saw is what is there), inserted plainly (`COPY` on PostgreSQL).
    inserts: Rows,
    /// Findings the store holds: upserted.
    upserts: Rows,
    states: Rows,
    events: Rows,
    /// `event_parts` rows: what the payloads of several events share, stored once.
    parts: Rows,
    outbox: Rows,
}

impl Writes {
    fn new(dialect: Dialect) -> Writes {
        Writes {
            inserts: Rows::new(
                "INSERT INTO findings (image_digest, advisory_id, package_id, aliases, installed_version, fixed_version,
                   status, severity, title, layer_digest, suppressed, state, scan_id, first_seen, updated_at, kev, epss)
                 VALUES ",
                "($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
                17,
                "",
                FINDINGS_PER_STATEMENT,
            )
            .copy(
                dialect,
                "COPY findings (image_digest, advisory_id, package_id, aliases, installed_version, fixed_version,
                   status, severity, title, layer_digest, suppressed, state, scan_id, first_seen, updated_at, kev, epss)
                 FROM STDIN",
                ROWS_PER_COPY,
            ),
            upserts: Rows::new(
                "INSERT INTO findings (image_digest, advisory_id, package_id, aliases, installed_version, fixed_version,
                   status, severity, title, layer_digest, suppressed, state, scan_id, first_seen, updated_at, kev, epss)
                 VALUES ",
                "($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, NULL, 'affected', NULL, $11, $11, $12, $13)",
                13,
                " ON CONFLICT (image_digest, advisory_id, package_id) DO UPDATE SET
                   aliases = excluded.aliases, fixed_version = excluded.fixed_version, status = excluded.status,
                   severity = excluded.severity, title = excluded.title, state = 'affected',
                   updated_at = excluded.updated_at, kev = excluded.kev, epss = excluded.epss",
                FINDINGS_PER_STATEMENT,
            ),
            states: Rows::new(
                "WITH v (i, a, p, s, t) AS (VALUES ",
                "($1, $2, $3, $4, CAST($5 AS BIGINT))",
                5,
                ") UPDATE findings SET state = v.s, updated_at = v.t FROM v
                   WHERE findings.image_digest = v.i AND findings.advisory_id = v.a AND findings.package_id = v.p",
                FINDINGS_PER_STATEMENT,
            ),
            events: Rows::new(
                "INSERT INTO events (id, kind, image_digest, delta_id, payload, created_at, image_part, match_part) VALUES ",
                "($1, $2, $3, $4, $5, $6, $7, $8)",
                8,
                "",
                EVENTS_PER_STATEMENT,
            )
            .copy(
                dialect,
                "COPY events (id, kind, image_digest, delta_id, payload, created_at, image_part, match_part) FROM STDIN",
                ROWS_PER_COPY,
            ),
            parts: Rows::new(
                "INSERT INTO event_parts (id, body) VALUES ",
                "($1, $2)",
                2,
                "",
                EVENTS_PER_STATEMENT,
            )
            .copy(
                dialect,
                "COPY event_parts (id, body) FROM STDIN",
                ROWS_PER_COPY,
            ),
            outbox: Rows::new(
                "INSERT INTO outbox (id, event_id, webhook_id, attempts, next_attempt_at, created_at) VALUES ",
                "($1, $2, $3, $4, $5, $6)",
                6,
                "",
                OUTBOX_PER_STATEMENT,
            )
            .copy(
                dialect,
                "COPY outbox (id, event_id, webhook_id, attempts, next_attempt_at, created_at) FROM STDIN",
                ROWS_PER_COPY,
            ),
        }
    }

    /// Runs every buffered row (events before the outbox rows that reference them).
    fn flush(&mut self, conn: &Conn<'_>) -> Result<(), StoreError> {
        self.inserts.flush(conn)?;
        self.upserts.flush(conn)?;
        self.states.flush(conn)?;
        self.parts.flush(conn)?;
        self.events.flush(conn)?;
        self.outbox.flush(conn)
    }

    fn flush_full(&mut self, conn: &Conn<'_>) -> Result<(), StoreError> {
        if self.inserts.is_full() {
            self.inserts.flush(conn)?;
        }
        if self.upserts.is_full() {
            self.upserts.flush(conn)?;
        }
        if self.states.is_full() {
            self.states.flush(conn)?;
        }
        if self.parts.is_full() {
            self.parts.flush(conn)?;
        }
        if self.events.is_full() || self.outbox.is_full() {
            self.events.flush(conn)?;
            self.outbox.flush(conn)?;
        }
        Ok(())
    }
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
    let started = std::time::Instant::now();
    let c = match &pairs {
        Some(p) if p.is_empty() => Candidates::default(),
        Some(p) => read_candidates(conn, Some(p))?,
        None => read_candidates(conn, None)?,
    };
    let mut used = vec![false; c.pkgs.len()];
    for &(_, p, _) in &c.occ {
        used[p] = true;
    }
    out.packages = used.iter().filter(|u| **u).count();
    out.image_packages = c.occ.len();
    let read_candidates_s = started.elapsed().as_secs_f64();
    let old = read_findings(conn, &c)?;
    let read_s = started.elapsed().as_secs_f64();
    let mut matcher = Matcher::new(db);
    let mut results: HashMap<(usize, usize), Matched> = HashMap::new();
    let mut pkg_json: Vec<Option<String>> = vec![None; c.pkgs.len()];
    let mut gone: HashMap<String, bool> = HashMap::new();
    let hooks = hooks(conn)?;
    let now = now_ms();
    // Parts written by this re-match: by (image, image layer), and by body.
    let mut image_parts: HashMap<(usize, usize), String> = HashMap::new();
    let mut match_parts: HashMap<String, String> = HashMap::new();
    let feed = to_json(&serde_json::json!({"generation": generation, "since": since}))?;
    // Event and delivery ids: time, a counter, and a random salt, so the many rows of
    // one re-match go into their primary-key indexes in order (random keys made the
    // inserts of a big re-match hop around the B-trees).
    let salt = random_hex(6);
    let mut seq: u32 = 0;
    let mut w = Writes::new(conn.dialect());
    for &(img, pk, il) in &c.occ {
        let (image, p, l) = (&c.images[img], &c.pkgs[pk], &c.layers[il]);
        let rkey = (pk, image.os);
        let m = match results.entry(rkey) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(v) => v.insert(match_pkg(
                &mut matcher,
                p,
                c.oses.get(image.os).and_then(Option::as_ref),
                scope.as_ref(),
            )?),
        };
        let olds = old.get(&(img, pk)).map(Vec::as_slice).unwrap_or(&[]);
        let mut emit: Vec<(&'static str, Cow<'_, str>, Option<&str>)> = Vec::new();
        let mut ids_here: Vec<&str> = Vec::new();
        for (i, n) in m.findings.iter().enumerate() {
            if !m.in_scope[i] {
                continue;
            }
            let prev = olds.iter().find(|o| o.advisory_id == n.id);
            let fixed = n.fixed_versions.first();
            let kind = match prev {
                None => Some("newly_affected"),
                Some(o) if o.state != "affected" => Some("newly_affected"),
                Some(o) if o.fixed_version.is_none() && fixed.is_some() => Some("fixed_upstream"),
                Some(_) => None,
            };
            if !events_on && prev.is_some() {
                continue; // baseline: add, never change
            }
            let row = [
                Value::Text(image.digest.clone()),
                Value::Text(n.id.clone()),
                Value::Text(p.id.clone()),
                Value::Text(m.aliases[i].clone()),
                Value::Text(n.installed_version.clone()),
                fixed.to_value(),
                Value::Text(m.status[i].clone()),
                Value::Text(m.severity[i].clone()),
                Value::Text(n.title.clone()),
                Value::Text(l.layer.clone()),
            ];
            let (kev, epss) = (n.kev.to_value(), n.epss.map(|(p, _)| p).to_value());
            if prev.is_none() && !ids_here.contains(&n.id.as_str()) {
                w.inserts.push(row.into_iter().chain([
                    Value::Null,
                    Value::Text("affected".into()),
                    Value::Null,
                    Value::I64(now),
                    Value::I64(now),
                    kev,
                    epss,
                ]))?;
            } else {
                // A repeated advisory (one statement must not write a row twice, and
                // PostgreSQL refuses an upsert that does) runs after the rows before it,
                // as one upsert each did.
                if ids_here.contains(&n.id.as_str()) {
                    w.inserts.flush(conn)?;
                    w.upserts.flush(conn)?;
                }
                w.upserts
                    .push(row.into_iter().chain([Value::I64(now), kev, epss]))?;
            }
            ids_here.push(&n.id);
            if let (Some(k), true) = (kind, events_on) {
                emit.push((
                    k,
                    Cow::Borrowed(m.advisory[i].as_str()),
                    fixed.map(String::as_str),
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
                if m.findings.iter().any(|n| n.id == o.advisory_id) {
                    continue;
                }
                // In full mode the record itself says whether it was withdrawn.
                let withdrawn = match why {
                    DeltaKind::Withdrawn | DeltaKind::Removed => true,
                    _ if scope.is_none() => match gone.get(&o.advisory_id) {
                        Some(g) => *g,
                        None => {
                            let g = advisory_gone(db, &o.advisory_id).map_err(vdb)?;
                            gone.insert(o.advisory_id.clone(), g);
                            g
                        }
                    },
                    _ => false,
                };
                let state = if withdrawn { "withdrawn" } else { "fixed" };
                w.states.push([
                    Value::Text(image.digest.clone()),
                    Value::Text(o.advisory_id.clone()),
                    Value::Text(p.id.clone()),
                    Value::Text(state.into()),
                    Value::I64(now),
                ])?;
                emit.push((
                    "no_longer_affected",
                    Cow::Owned(to_json(&serde_json::json!({
                        "id": o.advisory_id, "aliases": o.aliases, "severity": o.severity,
                        "title": o.title, "state": state,
                        "reason": if withdrawn { "withdrawn" } else { "not_in_affected_ranges" },
                        "fixed_version": o.fixed_version,
                    }))?),
                    o.fixed_version.as_deref(),
                ));
            }
        }
        if !emit.is_empty() && pkg_json[pk].is_none() {
            pkg_json[pk] = Some(to_json(&serde_json::json!({
                "name": p.name, "version": p.version, "ecosystem": p.ecosystem, "purl": p.purl,
            }))?);
        }
        let package = pkg_json[pk].as_deref().unwrap_or("null");
        for (kind, advisory, fixed) in emit {
            let id = next_id(now, &mut seq, &salt);
            let (action, text) = advice(kind, l.is_base, &p.name, fixed);
            let advice = to_json(&serde_json::json!({"action": action, "text": text}))?;
            // The payload is stored as two shared parts (see `event_payload`): the
            // image's and layer's objects, and the match's (advice, advisory, feed,
            // package), each once per re-match however many events repeat it.
            let image_part = match image_parts.entry((img, il)) {
                Entry::Occupied(e) => e.get().clone(),
                Entry::Vacant(v) => {
                    let pid = next_id(now, &mut seq, &salt);
                    w.parts.push([
                        Value::Text(pid.clone()),
                        Value::Text(format!("{}\n{}", image.json, l.json)),
                    ])?;
                    v.insert(pid).clone()
                }
            };
            let body = [advice.as_str(), &advisory, &feed, package].join("\n");
            let match_part = match match_parts.get(&body) {
                Some(pid) => pid.clone(),
                None => {
                    let pid = next_id(now, &mut seq, &salt);
                    w.parts
                        .push([Value::Text(pid.clone()), Value::Text(body.clone())])?;
                    match_parts.insert(body, pid.clone());
                    pid
                }
            };
            *out.events.entry(kind.to_string()).or_insert(0) += 1;
            for h in &hooks {
                if h.team.is_none() || h.team == image.team {
                    w.outbox.push([
                        Value::Text(next_id(now, &mut seq, &salt)),
                        Value::Text(id.clone()),
                        Value::Text(h.id.clone()),
                        Value::I64(0),
                        Value::I64(now),
                        Value::I64(now),
                    ])?;
                    out.queued += 1;
                }
            }
            w.events.push([
                Value::Text(id),
                Value::Text(kind.into()),
                Value::Text(image.digest.clone()),
                Value::Text(generation.clone()),
                Value::Text(String::new()),
                Value::I64(now),
                Value::Text(image_part),
                Value::Text(match_part),
            ])?;
        }
        w.flush_full(conn)?;
    }
    w.flush(conn)?;
    tracing::debug!(
        read_candidates_s,
        read_findings_s = read_s - read_candidates_s,
        match_and_write_s = started.elapsed().as_secs_f64() - read_s,
        matched = results.len(),
        findings_s = (w.inserts.spent + w.upserts.spent + w.states.spent).as_secs_f64(),
        events_s = (w.events.spent + w.parts.spent).as_secs_f64(),
        event_parts = w.parts.changed,
        outbox_s = w.outbox.spent.as_secs_f64(),
        "re-match phases"
    );
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
    fn payload_from_parts_is_the_whole_object_serialised_and_stored_in_two_parts() {
        // What the re-match recorded before the payload was assembled from parts.
        let (image, repos, team, owner) = (
            "sha256:aa",
            vec!["r/x:1", "r/\"q\""],
            Some("t1"),
            None::<&str>,
        );
        let (name, version, eco, purl) = ("lodash", "4.17.20", "npm", "pkg:npm/lodash@4.17.20");
        let advisory = serde_json::json!({
            "id": "GHSA-x", "aliases": ["CVE-1", "CVE-\u{e9}"], "severity": "high",
            "title": "a \"quoted\"\ntitle", "state": "affected", "fixed_version": "4.17.21",
        });
        let (layer, position, created_by, base) = ("sha256:l1", 3_i64, Some("COPY . /app"), false);
        let (action, text) = advice("newly_affected", base, name, Some("4.17.21"));
        let (generation, since) = ("g2", Some("g1"));
        let whole = serde_json::json!({
            "id": "00ff", "kind": "newly_affected", "created_at": rfc3339(1_700_000_000_123),
            "image": {"digest": image, "repositories": repos, "team": team, "owner": owner},
            "package": {"name": name, "version": version, "ecosystem": eco, "purl": purl},
            "advisory": advisory,
            "layer": {"digest": layer, "position": position, "created_by": created_by,
                      "origin": if base { "base" } else { "application" }},
            "advice": {"action": action, "text": text},
            "feed": {"generation": generation, "since": since},
        })
        .to_string();
        let j = |v: serde_json::Value| v.to_string();
        let parts = payload_from_parts(
            "00ff",
            "newly_affected",
            &j(serde_json::json!(rfc3339(1_700_000_000_123))),
            &j(
                serde_json::json!({"digest": image, "repositories": repos, "team": team, "owner": owner}),
            ),
            &j(
                serde_json::json!({"name": name, "version": version, "ecosystem": eco, "purl": purl}),
            ),
            &advisory.to_string(),
            &j(
                serde_json::json!({"digest": layer, "position": position, "created_by": created_by, "origin": "application"}),
            ),
            &j(serde_json::json!({"action": action, "text": text})),
            &j(serde_json::json!({"generation": generation, "since": since})),
        );
        assert_eq!(parts, whole);
        // Stored in two parts (as the re-match writes them) and assembled when read.
        let image_part = format!(
            "{}\n{}",
            j(
                serde_json::json!({"digest": image, "repositories": repos, "team": team, "owner": owner})
            ),
            j(
                serde_json::json!({"digest": layer, "position": position, "created_by": created_by, "origin": "application"})
            )
        );
        let match_part = [
            j(serde_json::json!({"action": action, "text": text})),
            advisory.to_string(),
            j(serde_json::json!({"generation": generation, "since": since})),
            j(serde_json::json!({"name": name, "version": version, "ecosystem": eco, "purl": purl})),
        ]
        .join("\n");
        let part = |p: &str| Some(("p".to_string(), Some(p.to_string())));
        let read = |i, m| {
            event_payload(
                "00ff",
                "newly_affected",
                1_700_000_000_123,
                String::new(),
                i,
                m,
            )
        };
        assert_eq!(read(part(&image_part), part(&match_part)).unwrap(), whole);
        // A whole payload (recorded before migration 6) is returned as stored.
        assert_eq!(
            event_payload("00ff", "newly_affected", 0, whole.clone(), None, None).unwrap(),
            whole
        );
        // Fail closed: a missing part, a part not named, a malformed part.
        assert!(read(part(&image_part), Some(("p".into(), None))).is_err());
        assert!(read(part(&image_part), None).is_err());
        assert!(read(part(&match_part), part(&image_part)).is_err());
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
