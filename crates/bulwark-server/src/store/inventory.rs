//! Inventory rows: images, their repositories, labels and layers, packages de-duplicated
//! per layer, SBOM records, scans, findings and placements. Every write here runs inside
//! one writer transaction (see `store/mod.rs`): an upload is stored whole or not at all.

use super::sql::{Conn, Row, Value};
use super::{audit, now_ms, random_hex, StoreError};
use crate::authz::Scope;
use crate::error::ApiError;
use crate::params;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};

/// One package of an upload, placed in a layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageIn {
    /// Content id (see [`package_id`]).
    pub id: String,
    /// Ecosystem (bulwark's lower-case name: `deb`, `npm`, ...).
    pub ecosystem: String,
    /// Name.
    pub name: String,
    /// Version.
    pub version: String,
    /// purl.
    pub purl: String,
    /// Source package name and version (distro packages).
    pub source: Option<(String, String)>,
    /// Layer blob digest, or `None` when the document does not say.
    pub layer: Option<String>,
    /// Path inside the image.
    pub path: String,
    /// Cataloger.
    pub found_by: String,
}

/// One layer of an upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerIn {
    /// Blob digest.
    pub digest: String,
    /// Uncompressed digest.
    pub diff_id: Option<String>,
    /// Blob size.
    pub size: Option<i64>,
    /// History line.
    pub created_by: Option<String>,
}

/// One vulnerability finding of a report upload.
#[derive(Debug, Clone, PartialEq)]
pub struct FindingIn {
    /// Advisory id.
    pub advisory_id: String,
    /// Aliases.
    pub aliases: Vec<String>,
    /// The package's id (one of the upload's packages).
    pub package_id: String,
    /// Installed version.
    pub installed_version: String,
    /// Lowest fixed version.
    pub fixed_version: Option<String>,
    /// Fix status (`fixed`, `not_fixed`, ...).
    pub status: String,
    /// Severity name.
    pub severity: String,
    /// Title.
    pub title: String,
    /// Layer that brought the package in.
    pub layer: Option<String>,
    /// Suppression reason, if suppressed.
    pub suppressed: Option<String>,
    /// In CISA KEV (`None`: unknown).
    pub kev: Option<bool>,
    /// EPSS probability (`None`: unknown).
    pub epss: Option<f64>,
}

/// Where an upload came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A CycloneDX SBOM.
    CycloneDx,
    /// An SPDX SBOM.
    Spdx,
    /// A bulwark JSON report.
    Report,
}

impl Format {
    fn as_str(self) -> &'static str {
        match self {
            Format::CycloneDx => "cyclonedx",
            Format::Spdx => "spdx",
            Format::Report => "bulwark-report",
        }
    }
}

/// Everything one upload stores.
#[derive(Debug, Clone, PartialEq)]
pub struct Upload {
    /// Image key (manifest digest, or config digest when none is known).
    pub digest: String,
    /// Config digest.
    pub image_id: Option<String>,
    /// Registry host.
    pub registry: Option<String>,
    /// `os/arch`.
    pub platform: Option<String>,
    /// Owning team.
    pub team: Option<String>,
    /// Owner.
    pub owner: Option<String>,
    /// `(repository, tag)` pairs; tag `""` for digest-only references.
    pub repositories: Vec<(String, String)>,
    /// Config labels.
    pub labels: BTreeMap<String, String>,
    /// Layers, bottom first.
    pub layers: Vec<LayerIn>,
    /// Packages.
    pub packages: Vec<PackageIn>,
    /// Findings (reports only; `None` leaves the image's findings as they are).
    pub findings: Option<Vec<FindingIn>>,
    /// Document kind.
    pub format: Format,
    /// SHA-256 of the uploaded bytes.
    pub document_sha256: String,
    /// OS family and version.
    pub os: Option<(String, String)>,
    /// Tool that made the document.
    pub tool: Option<String>,
    /// Report schema version.
    pub schema_version: Option<i64>,
    /// The report says it is incomplete.
    pub incomplete: bool,
    /// When the document says it was made.
    pub scanned_at: Option<String>,
}

/// What an upload stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stored {
    /// Image digest.
    pub digest: String,
    /// The scan record.
    pub scan_id: String,
    /// Packages in the image.
    pub packages: usize,
    /// Layers stored by this upload.
    pub layers_new: usize,
    /// Layers already stored (their packages were not written again).
    pub layers_reused: usize,
    /// Findings stored (reports).
    pub findings: Option<usize>,
    /// Audit entry of the upload.
    pub audit_seq: i64,
}

/// A package's content id: the first 128 bits of SHA-256 over its identity, hex.
pub fn package_id(ecosystem: &str, name: &str, version: &str, purl: &str) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for f in [ecosystem, name, version, purl] {
        h.update((f.len() as u64).to_be_bytes());
        h.update(f.as_bytes());
    }
    hex::encode(&h.finalize()[..16])
}

/// The pseudo-layer of an image's packages that no layer was named for.
pub fn unlayered(digest: &str) -> String {
    format!("unlayered:{digest}")
}

fn team_of(conn: &Conn<'_>, digest: &str) -> Result<Option<Option<String>>, StoreError> {
    conn.query_row_opt(
        "SELECT team FROM images WHERE digest = $1",
        params![digest],
        |r| r.get::<Option<String>>(0),
    )
}

/// Stores one package row (once per id: ids are content hashes), with the name the
/// re-match looks it up by.
fn insert_package(conn: &Conn<'_>, p: &PackageIn) -> Result<(), StoreError> {
    let (sn, sv) = match &p.source {
        Some((n, v)) => (Some(n.as_str()), Some(v.as_str())),
        None => (None, None),
    };
    conn.execute(
        "INSERT INTO packages (id, ecosystem, name, version, purl, source_name, source_version, match_name)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO NOTHING",
        params![
            p.id,
            p.ecosystem,
            p.name,
            p.version,
            p.purl,
            sn,
            sv,
            crate::rematch::match_name(&p.ecosystem, &p.name, sn)
        ],
    )?;
    Ok(())
}

/// Stores an upload in the caller's transaction and appends its audit entry.
pub fn store_upload(
    conn: &Conn<'_>,
    up: &Upload,
    scope: &Scope,
    actor: (&str, &str),
) -> Result<Stored, StoreError> {
    let now = now_ms();
    if let Some(existing) = team_of(conn, &up.digest)? {
        if !scope.sees(existing.as_deref()) {
            return Err(StoreError::Refused(ApiError::forbidden(
                "the image belongs to a team this token may not write",
            )));
        }
    }
    conn.execute(
        "INSERT INTO images (digest, image_id, registry, platform, team, owner, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7)
         ON CONFLICT (digest) DO UPDATE SET
           image_id = COALESCE(excluded.image_id, images.image_id),
           registry = COALESCE(excluded.registry, images.registry),
           platform = COALESCE(excluded.platform, images.platform),
           team = COALESCE(excluded.team, images.team),
           owner = COALESCE(excluded.owner, images.owner),
           updated_at = excluded.updated_at",
        params![up.digest, up.image_id, up.registry, up.platform, up.team, up.owner, now],
    )?;
    for (repo, tag) in &up.repositories {
        if !tag.is_empty() {
            conn.execute(
                "DELETE FROM image_repositories WHERE repository = $1 AND tag = $2 AND image_digest <> $3",
                params![repo, tag, up.digest],
            )?;
        }
        conn.execute(
            "INSERT INTO image_repositories (image_digest, repository, tag, seen_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (image_digest, repository, tag) DO UPDATE SET seen_at = excluded.seen_at",
            params![up.digest, repo, tag, now],
        )?;
    }
    if !up.labels.is_empty() {
        conn.execute(
            "DELETE FROM image_labels WHERE image_digest = $1",
            params![up.digest],
        )?;
        for (k, v) in &up.labels {
            conn.execute(
                "INSERT INTO image_labels (image_digest, label, value) VALUES ($1, $2, $3)",
                params![up.digest, k, v],
            )?;
        }
    }

    // Layers in order: the declared ones, then any a package names that was not declared,
    // then the pseudo-layer for packages without one.
    let mut order: Vec<LayerIn> = up.layers.clone();
    let mut seen: HashSet<String> = order.iter().map(|l| l.digest.clone()).collect();
    let mut by_layer: HashMap<String, Vec<&PackageIn>> = HashMap::new();
    let pseudo = unlayered(&up.digest);
    for p in &up.packages {
        let l = p.layer.clone().unwrap_or_else(|| pseudo.clone());
        if l != pseudo && seen.insert(l.clone()) {
            order.push(LayerIn {
                digest: l.clone(),
                diff_id: None,
                size: None,
                created_by: None,
            });
        }
        by_layer.entry(l).or_default().push(p);
    }
    if by_layer.contains_key(&pseudo) {
        order.push(LayerIn {
            digest: pseudo.clone(),
            diff_id: None,
            size: None,
            created_by: Some("packages the document did not place in a layer".into()),
        });
    }
    conn.execute(
        "DELETE FROM image_layers WHERE image_digest = $1",
        params![up.digest],
    )?;
    // The previous upload's pseudo-layer is replaced, not merged.
    conn.execute(
        "DELETE FROM layer_packages WHERE layer_digest = $1",
        params![pseudo],
    )?;
    let (mut layers_new, mut layers_reused) = (0, 0);
    let ins_layer: &str = "INSERT INTO layers (digest, diff_id, size, package_count, stored_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (digest) DO NOTHING";
    let ins_lp: &str = "INSERT INTO layer_packages (layer_digest, package_id, path, found_by) VALUES ($1, $2, $3, $4)
         ON CONFLICT (layer_digest, package_id, path) DO NOTHING";
    let ins_il: &str = "INSERT INTO image_layers (image_digest, position, layer_digest, created_by) VALUES ($1, $2, $3, $4)";
    for (pos, layer) in order.iter().enumerate() {
        let pkgs = by_layer
            .get(&layer.digest)
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let is_pseudo = layer.digest == pseudo;
        let inserted = conn.execute(
            ins_layer,
            params![
                layer.digest,
                layer.diff_id,
                layer.size,
                pkgs.len() as i64,
                now
            ],
        )?;
        if inserted == 1 || is_pseudo {
            layers_new += 1;
            for p in pkgs {
                insert_package(conn, p)?;
                conn.execute(ins_lp, params![layer.digest, p.id, p.path, p.found_by])?;
            }
            if is_pseudo {
                conn.execute(
                    "UPDATE layers SET package_count = $1 WHERE digest = $2",
                    params![pkgs.len() as i64, pseudo],
                )?;
            }
        } else {
            layers_reused += 1;
        }
        conn.execute(
            ins_il,
            params![up.digest, pos as i64, layer.digest, layer.created_by],
        )?;
    }
    if !by_layer.contains_key(&pseudo) {
        conn.execute(
            "DELETE FROM layers WHERE digest = $1 AND NOT EXISTS (SELECT 1 FROM image_layers WHERE layer_digest = $1)",
            params![pseudo],
        )?;
    }
    crate::rematch::mark_base_layers(conn, &up.digest, &order)?;

    let (os_family, os_version) = match &up.os {
        Some((f, v)) => (Some(f.as_str()), Some(v.as_str())),
        None => (None, None),
    };
    let package_count = up.packages.len();
    conn.execute(
        "INSERT INTO sboms (image_digest, format, document_sha256, os_family, os_version, package_count, stored_at, stored_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (image_digest) DO UPDATE SET format = excluded.format,
           document_sha256 = excluded.document_sha256, os_family = excluded.os_family,
           os_version = excluded.os_version, package_count = excluded.package_count,
           stored_at = excluded.stored_at, stored_by = excluded.stored_by",
        params![up.digest, up.format.as_str(), up.document_sha256, os_family, os_version, package_count as i64, now, actor.0],
    )?;
    let scan_id = random_hex(16);
    let source = if up.format == Format::Report {
        "report"
    } else {
        "sbom"
    };
    conn.execute(
        "INSERT INTO scans (id, image_digest, source, tool, schema_version, document_sha256, incomplete, scanned_at, stored_at, stored_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        params![scan_id, up.digest, source, up.tool, up.schema_version, up.document_sha256, i64::from(up.incomplete), up.scanned_at, now, actor.0],
    )?;

    let mut findings_stored = None;
    if let Some(findings) = &up.findings {
        let mut first_seen: HashMap<(String, String), i64> = HashMap::new();
        {
            conn.query_each(
                "SELECT advisory_id, package_id, first_seen FROM findings WHERE image_digest = $1",
                params![up.digest],
                |r| {
                    first_seen.insert((r.get(0)?, r.get(1)?), r.get(2)?);
                    Ok(())
                },
            )?;
        }
        conn.execute(
            "DELETE FROM findings WHERE image_digest = $1",
            params![up.digest],
        )?;
        let ins: &str = "INSERT INTO findings (image_digest, advisory_id, package_id, aliases, installed_version, fixed_version,
               status, severity, title, layer_digest, suppressed, state, scan_id, first_seen, updated_at, kev, epss)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'affected', $12, $13, $14, $15, $16)
             ON CONFLICT (image_digest, advisory_id, package_id) DO NOTHING";
        // A finding's package row must exist even when its layer was stored earlier
        // from another document that listed the layer's packages differently.
        let by_id: HashMap<&str, &PackageIn> =
            up.packages.iter().map(|p| (p.id.as_str(), p)).collect();
        for f in findings {
            if let Some(p) = by_id.get(f.package_id.as_str()) {
                insert_package(conn, p)?;
            }
        }
        let mut n = 0;
        for f in findings {
            let fs = first_seen
                .get(&(f.advisory_id.clone(), f.package_id.clone()))
                .copied()
                .unwrap_or(now);
            let aliases = serde_json::to_string(&f.aliases)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?;
            n += conn.execute(
                ins,
                params![
                    up.digest,
                    f.advisory_id,
                    f.package_id,
                    aliases,
                    f.installed_version,
                    f.fixed_version,
                    f.status,
                    f.severity,
                    f.title,
                    f.layer,
                    f.suppressed,
                    scan_id,
                    fs,
                    now,
                    f.kev,
                    f.epss
                ],
            )?;
        }
        findings_stored = Some(n);
    }
    let mut stored = Stored {
        digest: up.digest.clone(),
        scan_id,
        packages: package_count,
        layers_new,
        layers_reused,
        findings: findings_stored,
        audit_seq: 0,
    };
    let detail = serde_json::to_string(&serde_json::json!({
        "scan_id": stored.scan_id,
        "format": up.format.as_str(),
        "document_sha256": up.document_sha256,
        "packages": stored.packages,
        "layers_new": layers_new,
        "layers_reused": layers_reused,
        "findings": findings_stored,
        "team": up.team,
    }))
    .map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let action = if up.format == Format::Report {
        "report.store"
    } else {
        "sbom.store"
    };
    let entry = audit::append_done(conn, actor, action, up.digest.as_str(), detail, now)?;
    stored.audit_seq = entry.seq;
    Ok(stored)
}

/// An image as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageSummary {
    /// Digest.
    pub digest: String,
    /// Config digest.
    pub image_id: Option<String>,
    /// Registry.
    pub registry: Option<String>,
    /// Platform.
    pub platform: Option<String>,
    /// Team.
    pub team: Option<String>,
    /// Owner.
    pub owner: Option<String>,
    /// Repositories and tags.
    pub repositories: Vec<RepoTag>,
    /// First stored (RFC 3339).
    pub created_at: String,
    /// Last updated (RFC 3339).
    pub updated_at: String,
}

/// A repository and tag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepoTag {
    /// Repository.
    pub repository: String,
    /// Tag (empty when known by digest only).
    pub tag: String,
}

fn scope_clause(scope: &Scope, first_param: usize) -> (String, Vec<String>) {
    match scope {
        Scope::All => (String::new(), Vec::new()),
        Scope::Teams(ts) if ts.is_empty() => (" AND 1 = 0".into(), Vec::new()),
        Scope::Teams(ts) => {
            let ph: Vec<String> = (0..ts.len())
                .map(|i| format!("${}", first_param + i))
                .collect();
            (format!(" AND team IN ({})", ph.join(", ")), ts.clone())
        }
    }
}

fn repositories(conn: &Conn<'_>, digest: &str) -> Result<Vec<RepoTag>, StoreError> {
    let v = conn.query_map(
        "SELECT repository, tag FROM image_repositories WHERE image_digest = $1 ORDER BY repository, tag",
        params![digest], |r| {
            Ok(RepoTag {
                repository: r.get(0)?,
                tag: r.get(1)?,
            })
        },
    )?;
    Ok(v)
}

fn summary_row(r: &Row) -> Result<ImageSummary, StoreError> {
    Ok(ImageSummary {
        digest: r.get(0)?,
        image_id: r.get(1)?,
        registry: r.get(2)?,
        platform: r.get(3)?,
        team: r.get(4)?,
        owner: r.get(5)?,
        repositories: Vec::new(),
        created_at: super::rfc3339(r.get(6)?),
        updated_at: super::rfc3339(r.get(7)?),
    })
}

const IMAGE_COLUMNS: &str =
    "digest, image_id, registry, platform, team, owner, created_at, updated_at";

/// Filters of the image list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageFilter {
    /// Only this team.
    pub team: Option<String>,
    /// Only images known in this repository.
    pub repository: Option<String>,
    /// Digests after this one (pagination cursor).
    pub after: Option<String>,
    /// Page size.
    pub limit: i64,
}

/// Images in scope, by digest.
pub fn list_images(
    conn: &Conn<'_>,
    scope: &Scope,
    f: &ImageFilter,
) -> Result<Vec<ImageSummary>, StoreError> {
    let mut sql = format!("SELECT {IMAGE_COLUMNS} FROM images WHERE digest > $1");
    let mut args: Vec<String> = vec![f.after.clone().unwrap_or_default()];
    if let Some(t) = &f.team {
        args.push(t.clone());
        sql.push_str(&format!(" AND team = ${}", args.len()));
    }
    if let Some(r) = &f.repository {
        args.push(r.clone());
        sql.push_str(&format!(
            " AND digest IN (SELECT image_digest FROM image_repositories WHERE repository = ${})",
            args.len()
        ));
    }
    let (clause, teams) = scope_clause(scope, args.len() + 1);
    sql.push_str(&clause);
    args.extend(teams);
    sql.push_str(&format!(
        " ORDER BY digest LIMIT {}",
        f.limit.clamp(1, 1000)
    ));
    let args: Vec<Value> = args.into_iter().map(Value::Text).collect();
    let mut v = conn.query_map(&sql, &args, summary_row)?;
    for img in &mut v {
        img.repositories = repositories(conn, &img.digest)?;
    }
    Ok(v)
}

/// The image if it exists and is in scope. Out of scope reads as absent (404), so a
/// developer cannot learn that another team's image exists.
pub fn visible_image(
    conn: &Conn<'_>,
    scope: &Scope,
    digest: &str,
) -> Result<Option<ImageSummary>, StoreError> {
    let img = conn.query_row_opt(
        &format!("SELECT {IMAGE_COLUMNS} FROM images WHERE digest = $1"),
        params![digest],
        summary_row,
    )?;
    match img {
        Some(mut i) if scope.sees(i.team.as_deref()) => {
            i.repositories = repositories(conn, &i.digest)?;
            Ok(Some(i))
        }
        _ => Ok(None),
    }
}

/// A layer of an image as shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerOut {
    /// Position, bottom first.
    pub position: i64,
    /// Digest (or `unlayered:<image>`).
    pub digest: String,
    /// Uncompressed digest.
    pub diff_id: Option<String>,
    /// Size.
    pub size: Option<i64>,
    /// History line.
    pub created_by: Option<String>,
    /// Packages in the layer.
    pub packages: i64,
    /// Part of a known base image.
    pub base: bool,
}

/// The image's stored SBOM record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SbomOut {
    /// `cyclonedx`, `spdx` or `bulwark-report`.
    pub format: String,
    /// SHA-256 of the uploaded document.
    pub document_sha256: String,
    /// OS family.
    pub os_family: Option<String>,
    /// OS version.
    pub os_version: Option<String>,
    /// Packages.
    pub packages: i64,
    /// When (RFC 3339).
    pub stored_at: String,
}

/// An image with everything the inventory knows about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageDetail {
    /// The summary.
    #[serde(flatten)]
    pub image: ImageSummary,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Layers.
    pub layers: Vec<LayerOut>,
    /// The SBOM record.
    pub sbom: Option<SbomOut>,
    /// Findings by state and severity: `{"affected": {"HIGH": 3}}`.
    pub finding_counts: BTreeMap<String, BTreeMap<String, i64>>,
    /// Places it runs.
    pub placements: i64,
    /// Scans stored.
    pub scans: i64,
}

/// [`ImageDetail`] of a visible image.
pub fn image_detail(
    conn: &Conn<'_>,
    scope: &Scope,
    digest: &str,
) -> Result<Option<ImageDetail>, StoreError> {
    let Some(image) = visible_image(conn, scope, digest)? else {
        return Ok(None);
    };
    let mut labels = BTreeMap::new();
    {
        conn.query_each(
            "SELECT label, value FROM image_labels WHERE image_digest = $1",
            params![digest],
            |r| {
                labels.insert(r.get::<String>(0)?, r.get::<String>(1)?);
                Ok(())
            },
        )?;
    }
    let layers = conn.query_map(
        "SELECT il.position, il.layer_digest, l.diff_id, l.size, il.created_by, l.package_count, il.is_base
         FROM image_layers il JOIN layers l ON l.digest = il.layer_digest
         WHERE il.image_digest = $1 ORDER BY il.position",
        params![digest], |r| {
            Ok(LayerOut {
                position: r.get(0)?,
                digest: r.get(1)?,
                diff_id: r.get(2)?,
                size: r.get(3)?,
                created_by: r.get(4)?,
                packages: r.get(5)?,
                base: r.get::<i64>(6)? != 0,
            })
        },
    )?;
    let sbom = conn
        .query_row_opt(
            "SELECT format, document_sha256, os_family, os_version, package_count, stored_at FROM sboms WHERE image_digest = $1",
            params![digest],
            |r| {
                Ok(SbomOut {
                    format: r.get(0)?,
                    document_sha256: r.get(1)?,
                    os_family: r.get(2)?,
                    os_version: r.get(3)?,
                    packages: r.get(4)?,
                    stored_at: super::rfc3339(r.get(5)?),
                })
            },
        )?;
    let mut finding_counts: BTreeMap<String, BTreeMap<String, i64>> = BTreeMap::new();
    {
        conn.query_each(
            "SELECT state, severity, COUNT(*) FROM findings WHERE image_digest = $1 GROUP BY state, severity",
            params![digest],
            |r| {
                let (state, sev, n): (String, String, i64) = (r.get(0)?, r.get(1)?, r.get(2)?);
                finding_counts.entry(state).or_default().insert(sev, n);
                Ok(())
            },
        )?;
    }
    let placements = conn.query_row(
        "SELECT COUNT(*) FROM placements WHERE image_digest = $1",
        params![digest],
        |r| r.get(0),
    )?;
    let scans = conn.query_row(
        "SELECT COUNT(*) FROM scans WHERE image_digest = $1",
        params![digest],
        |r| r.get(0),
    )?;
    Ok(Some(ImageDetail {
        image,
        labels,
        layers,
        sbom,
        finding_counts,
        placements,
        scans,
    }))
}

/// A package of an image, with where it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageOut {
    /// Ecosystem.
    pub ecosystem: String,
    /// Name.
    pub name: String,
    /// Version.
    pub version: String,
    /// purl.
    pub purl: String,
    /// Source package name.
    pub source_name: Option<String>,
    /// Source package version.
    pub source_version: Option<String>,
    /// Layer that holds it.
    pub layer: String,
    /// Path.
    pub path: String,
    /// Cataloger.
    pub found_by: String,
}

/// The packages of an image (through its layers).
pub fn image_packages(conn: &Conn<'_>, digest: &str) -> Result<Vec<PackageOut>, StoreError> {
    let v = conn.query_map(
        "SELECT p.ecosystem, p.name, p.version, p.purl, p.source_name, p.source_version,
                lp.layer_digest, lp.path, lp.found_by
         FROM image_layers il
         JOIN layer_packages lp ON lp.layer_digest = il.layer_digest
         JOIN packages p ON p.id = lp.package_id
         WHERE il.image_digest = $1
         ORDER BY p.ecosystem, p.name, p.version, lp.path, il.position",
        params![digest],
        |r| {
            Ok(PackageOut {
                ecosystem: r.get(0)?,
                name: r.get(1)?,
                version: r.get(2)?,
                purl: r.get(3)?,
                source_name: r.get(4)?,
                source_version: r.get(5)?,
                layer: r.get(6)?,
                path: r.get(7)?,
                found_by: r.get(8)?,
            })
        },
    )?;
    Ok(v)
}

/// A finding as shown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FindingOut {
    /// Advisory id.
    pub id: String,
    /// Aliases.
    pub aliases: Vec<String>,
    /// Package name.
    pub package: String,
    /// Ecosystem.
    pub ecosystem: String,
    /// purl.
    pub purl: String,
    /// Installed version.
    pub installed_version: String,
    /// Lowest fixed version.
    pub fixed_version: Option<String>,
    /// Fix status.
    pub status: String,
    /// Severity.
    pub severity: String,
    /// Title.
    pub title: String,
    /// Layer that brought the package in.
    pub layer: Option<String>,
    /// Suppression reason.
    pub suppressed: Option<String>,
    /// `affected`, `fixed` or `withdrawn`.
    pub state: String,
    /// In CISA KEV (`null`: unknown).
    pub kev: Option<bool>,
    /// EPSS probability (`null`: unknown).
    pub epss: Option<f64>,
    /// First seen (RFC 3339).
    pub first_seen: String,
    /// Last changed (RFC 3339).
    pub updated_at: String,
}

/// The findings of an image.
pub fn image_findings(conn: &Conn<'_>, digest: &str) -> Result<Vec<FindingOut>, StoreError> {
    let rows = conn.query_map(
        "SELECT f.advisory_id, f.aliases, p.name, p.ecosystem, p.purl, f.installed_version, f.fixed_version,
                f.status, f.severity, f.title, f.layer_digest, f.suppressed, f.state, f.first_seen, f.updated_at,
                f.kev, f.epss
         FROM findings f JOIN packages p ON p.id = f.package_id
         WHERE f.image_digest = $1
         ORDER BY f.state, f.severity, f.advisory_id, p.name",
        params![digest],
        |r| {
            let aliases: String = r.get(1)?;
            Ok((
                aliases,
                FindingOut {
                    id: r.get(0)?,
                    aliases: Vec::new(),
                    package: r.get(2)?,
                    ecosystem: r.get(3)?,
                    purl: r.get(4)?,
                    installed_version: r.get(5)?,
                    fixed_version: r.get(6)?,
                    status: r.get(7)?,
                    severity: r.get(8)?,
                    title: r.get(9)?,
                    layer: r.get(10)?,
                    suppressed: r.get(11)?,
                    state: r.get(12)?,
                    kev: r.get(15)?,
                    epss: r.get(16)?,
                    first_seen: super::rfc3339(r.get(13)?),
                    updated_at: super::rfc3339(r.get(14)?),
                },
            ))
        },
    )?;
    rows.into_iter()
        .map(|(a, mut f)| {
            f.aliases = serde_json::from_str(&a)
                .map_err(|e| StoreError::Corrupt(format!("finding aliases: {e}")))?;
            Ok(f)
        })
        .collect()
}

/// One running container, as `bulwark admit` or `bulwark sensor` reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Placement {
    /// Namespace.
    pub namespace: String,
    /// `Deployment`, `StatefulSet`, `DaemonSet`, `Job`, `Pod`, ...
    pub workload_kind: String,
    /// Workload name.
    pub workload: String,
    /// Container name.
    pub container: String,
    /// Node (sensor reports; empty or absent for admission).
    #[serde(default)]
    pub node: String,
    /// The image's manifest digest (`sha256:...`).
    pub image_digest: String,
    /// The reference as written in the pod spec.
    #[serde(default)]
    pub image_ref: Option<String>,
}

/// A stored placement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlacementOut {
    /// Cluster.
    pub cluster: String,
    /// The placement.
    #[serde(flatten)]
    pub placement: Placement,
    /// `admission` or `sensor`.
    pub reporter: String,
    /// First reported (RFC 3339).
    pub first_seen: String,
    /// Last reported (RFC 3339).
    pub last_seen: String,
}

/// Stores a placement report. With `complete`, the report is the whole picture of
/// (`cluster`, `reporter`, and `node` when given): older rows of that scope that it does
/// not list are deleted.
pub fn put_placements(
    conn: &Conn<'_>,
    cluster: &str,
    reporter: &str,
    node: Option<&str>,
    complete: bool,
    items: &[Placement],
    actor: (&str, &str),
) -> Result<(usize, usize), StoreError> {
    let now = now_ms();
    let up: &str = "INSERT INTO placements (cluster, namespace, workload_kind, workload, container, node, reporter,
            image_digest, image_ref, reported_by, first_seen, last_seen)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)
         ON CONFLICT (cluster, namespace, workload_kind, workload, container, node, reporter) DO UPDATE SET
           image_digest = excluded.image_digest, image_ref = excluded.image_ref,
           reported_by = excluded.reported_by, last_seen = excluded.last_seen";
    for p in items {
        conn.execute(
            up,
            params![
                cluster,
                p.namespace,
                p.workload_kind,
                p.workload,
                p.container,
                p.node,
                reporter,
                p.image_digest,
                p.image_ref,
                actor.0,
                now
            ],
        )?;
    }
    let mut removed = 0;
    if complete {
        removed = match node {
            Some(n) => conn.execute(
                "DELETE FROM placements WHERE cluster = $1 AND reporter = $2 AND node = $3 AND last_seen < $4",
                params![cluster, reporter, n, now],
            )?,
            None => conn.execute(
                "DELETE FROM placements WHERE cluster = $1 AND reporter = $2 AND last_seen < $3",
                params![cluster, reporter, now],
            )?,
        };
    }
    let detail = serde_json::to_string(&serde_json::json!({
        "reporter": reporter, "node": node, "complete": complete,
        "placements": items.len(), "removed": removed,
    }))
    .map_err(|e| StoreError::Corrupt(e.to_string()))?;
    audit::append_done(conn, actor, "placements.put", cluster, detail, now)?;
    Ok((items.len(), removed))
}

/// Where an image runs.
pub fn image_placements(conn: &Conn<'_>, digest: &str) -> Result<Vec<PlacementOut>, StoreError> {
    let v = conn.query_map(
        "SELECT cluster, namespace, workload_kind, workload, container, node, image_digest, image_ref,
                reporter, first_seen, last_seen
         FROM placements WHERE image_digest = $1
         ORDER BY cluster, namespace, workload_kind, workload, container, node, reporter",
        params![digest], |r| {
            Ok(PlacementOut {
                cluster: r.get(0)?,
                placement: Placement {
                    namespace: r.get(1)?,
                    workload_kind: r.get(2)?,
                    workload: r.get(3)?,
                    container: r.get(4)?,
                    node: r.get(5)?,
                    image_digest: r.get(6)?,
                    image_ref: r.get(7)?,
                },
                reporter: r.get(8)?,
                first_seen: super::rfc3339(r.get(9)?),
                last_seen: super::rfc3339(r.get(10)?),
            })
        },
    )?;
    Ok(v)
}
