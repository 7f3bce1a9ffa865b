//! Turning uploaded documents (a bulwark JSON report, a CycloneDX or SPDX SBOM) into one
//! [`Upload`] for the store, refusing what cannot be read with the API error to return.
//!
//! Reports are read strictly: a field the report schema does not have is refused
//! (`unknown_field`, found with `serde_ignored`), and only the current schema version is
//! accepted. SBOMs are read with bulwark-report's reader (the same one `bulwark scan
//! sbom:` uses); their many optional fields are not ours to refuse.

use crate::error::ApiError;
use crate::store::inventory::{package_id, FindingIn, Format, LayerIn, PackageIn, Upload};
use bulwark_core::report::REPORT_SCHEMA_VERSION;
use bulwark_core::{Package, Report, TargetKind};
use bulwark_report::ReportError;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};

/// Image label naming the owning team.
pub const TEAM_LABEL: &str = "io.bulwark.team";
/// Image label naming the owner.
pub const OWNER_LABEL: &str = "io.bulwark.owner";

/// What the uploader says about the image, beside the document (query parameters).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageHints {
    /// Manifest digest (required for SBOMs; overrides the report's).
    pub digest: Option<String>,
    /// Repository (`registry/name`), for SBOMs.
    pub repository: Option<String>,
    /// Tags in that repository.
    pub tags: Vec<String>,
    /// Team (overrides the label).
    pub team: Option<String>,
    /// Owner (overrides the label).
    pub owner: Option<String>,
}

/// Whether `s` is a `sha256:` digest (64 lower-case hex digits).
pub fn is_digest(s: &str) -> bool {
    s.strip_prefix("sha256:")
        .is_some_and(|h| h.len() == 64 && h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
}

fn check_digest(d: &str) -> Result<(), ApiError> {
    if is_digest(d) {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            "invalid_digest",
            format!("{d:?} is not a sha256 digest (sha256: and 64 lower-case hex digits)"),
        ))
    }
}

/// A team or owner name: 1-128 characters of letters, digits, `-`, `_`, `.`, `/`, `@`.
pub fn check_name(what: &str, s: &str) -> Result<(), ApiError> {
    let ok = !s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'/' | b'@'));
    if ok {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            "invalid_name",
            format!("{what} {s:?}: use 1-128 letters, digits, '-', '_', '.', '/', '@'"),
        ))
    }
}

fn enum_name<T: Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

/// Splits `registry/name:tag` into (registry, repository, tag), the repository in its
/// canonical, fully qualified form, so that `nginx`, `library/nginx`,
/// `docker.io/library/nginx` and `index.docker.io/library/nginx` are one repository
/// (Docker's normalisation: no registry part means Docker Hub, and a one-component Hub
/// name lives under `library/`).
pub fn split_reference(r: &str) -> (String, String, String) {
    let (name, tag) = match r.split_once('@') {
        Some((n, _)) => (n, ""),
        None => match r.rfind(':') {
            Some(i) if !r[i..].contains('/') => (&r[..i], &r[i + 1..]),
            _ => (r, ""),
        },
    };
    let (registry, repository) = canonical_repository(name);
    (registry, repository, tag.to_string())
}

/// The registry and the fully qualified repository of `name` (no tag or digest).
pub fn canonical_repository(name: &str) -> (String, String) {
    let first = name.split('/').next().unwrap_or("");
    let has_registry =
        name.contains('/') && (first.contains('.') || first.contains(':') || first == "localhost");
    let (registry, path) = if has_registry {
        (first, &name[first.len() + 1..])
    } else {
        ("docker.io", name)
    };
    let registry = match registry {
        "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" => "docker.io",
        r => r,
    };
    let path = if registry == "docker.io" && !path.contains('/') {
        format!("library/{path}")
    } else {
        path.to_string()
    };
    (registry.to_string(), format!("{registry}/{path}"))
}

fn packages_in(pkgs: &[Package]) -> Vec<PackageIn> {
    let mut out = Vec::with_capacity(pkgs.len());
    for p in pkgs {
        let eco = enum_name(&p.ecosystem);
        let id = package_id(&eco, &p.name, &p.version, &p.purl);
        let source = p
            .source
            .as_ref()
            .map(|s| (s.name.clone(), s.version.clone()));
        let mk = |layer: Option<String>, path: String| PackageIn {
            id: id.clone(),
            ecosystem: eco.clone(),
            name: p.name.clone(),
            version: p.version.clone(),
            purl: p.purl.clone(),
            source: source.clone(),
            layer,
            path,
            found_by: p.found_by.clone(),
        };
        if p.locations.is_empty() {
            out.push(mk(None, String::new()));
        }
        for l in &p.locations {
            out.push(mk(l.layer_digest.clone(), l.path.clone()));
        }
    }
    out
}

fn labels_of(config: Option<&serde_json::Value>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    if let Some(obj) = config
        .and_then(|c| c.get("config"))
        .and_then(|c| c.get("Labels"))
        .and_then(|l| l.as_object())
    {
        for (k, v) in obj {
            if let Some(s) = v.as_str() {
                out.insert(k.clone(), s.to_string());
            }
        }
    }
    out
}

fn team_owner(
    hints: &ImageHints,
    labels: &BTreeMap<String, String>,
) -> Result<(Option<String>, Option<String>), ApiError> {
    let team = hints
        .team
        .clone()
        .or_else(|| labels.get(TEAM_LABEL).cloned());
    let owner = hints
        .owner
        .clone()
        .or_else(|| labels.get(OWNER_LABEL).cloned());
    if let Some(t) = &team {
        check_name("team", t)?;
    }
    if let Some(o) = &owner {
        check_name("owner", o)?;
    }
    Ok((team, owner))
}

/// Reads a bulwark JSON report.
pub fn report_upload(bytes: &[u8], hints: &ImageHints) -> Result<Upload, ApiError> {
    let mut unknown = Vec::new();
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let parsed: Result<Report, _> =
        serde_ignored::deserialize(&mut de, |path| unknown.push(path.to_string()));
    let report = parsed.and_then(|r| de.end().map(|()| r)).map_err(|e| {
        use serde_json::error::Category;
        match e.classify() {
            Category::Data => {
                ApiError::unprocessable("invalid_report", format!("not a bulwark report: {e}"))
            }
            _ => ApiError::bad_request("invalid_json", format!("the body is not JSON: {e}")),
        }
    })?;
    if let Some(first) = unknown.first() {
        return Err(ApiError::bad_request(
            "unknown_field",
            format!(
                "unknown field {first:?} in the report{}",
                if unknown.len() > 1 {
                    format!(" (and {} more)", unknown.len() - 1)
                } else {
                    String::new()
                }
            ),
        ));
    }
    if report.schema_version != REPORT_SCHEMA_VERSION {
        return Err(ApiError::unprocessable(
            "unsupported_schema_version",
            format!(
                "report schema version {} (this server reads version {REPORT_SCHEMA_VERSION})",
                report.schema_version
            ),
        ));
    }
    let image = match (&report.target.kind, &report.target.image) {
        (TargetKind::Image, Some(i)) => Some(i),
        _ => None,
    };
    let digest = match (&hints.digest, image) {
        (Some(d), _) => d.clone(),
        (None, Some(i)) => i.manifest_digest.clone().unwrap_or_else(|| i.id.clone()),
        (None, None) => {
            return Err(ApiError::unprocessable(
                "not_an_image",
                format!(
                    "the report's target {:?} is not an image; pass ?digest= to file it under one",
                    report.target.name
                ),
            ))
        }
    };
    check_digest(&digest)?;
    let labels = labels_of(image.and_then(|i| i.config.as_ref()));
    let (team, owner) = team_owner(hints, &labels)?;
    let mut repositories = Vec::new();
    let mut registry = None;
    if let Some(i) = image {
        for r in i.repo_tags.iter().chain(&i.repo_digests) {
            let (reg, repo, tag) = split_reference(r);
            registry.get_or_insert(reg);
            if !repositories.contains(&(repo.clone(), tag.clone())) {
                repositories.push((repo, tag));
            }
        }
    }
    let layers = image
        .map(|i| {
            i.layers
                .iter()
                .map(|l| LayerIn {
                    digest: l.digest.clone(),
                    diff_id: Some(l.diff_id.clone()),
                    size: i64::try_from(l.size).ok(),
                    created_by: l.created_by.clone(),
                })
                .collect()
        })
        .unwrap_or_default();
    let mut packages = packages_in(&report.packages);
    let by_purl: HashMap<String, String> = packages
        .iter()
        .map(|p| (p.purl.clone(), p.id.clone()))
        .collect();
    let mut findings = Vec::with_capacity(report.vulnerabilities.len());
    for v in &report.vulnerabilities {
        let package_id = match by_purl.get(&v.purl) {
            Some(id) => id.clone(),
            None => {
                // A finding on a package the report does not list: keep it, with the
                // identity the finding gives.
                let eco = v
                    .purl
                    .strip_prefix("pkg:")
                    .and_then(|r| r.split('/').next())
                    .unwrap_or("unknown")
                    .to_string();
                let id = package_id(&eco, &v.package, &v.installed_version, &v.purl);
                packages.push(PackageIn {
                    id: id.clone(),
                    ecosystem: eco,
                    name: v.package.clone(),
                    version: v.installed_version.clone(),
                    purl: v.purl.clone(),
                    source: None,
                    layer: v.layer.clone(),
                    path: v.path.clone().unwrap_or_default(),
                    found_by: "finding".into(),
                });
                id
            }
        };
        findings.push(FindingIn {
            advisory_id: v.id.clone(),
            aliases: v.aliases.clone(),
            package_id,
            installed_version: v.installed_version.clone(),
            fixed_version: v.fixed_versions.first().cloned(),
            status: enum_name(&v.status),
            severity: enum_name(&v.severity),
            title: v.title.clone(),
            layer: v.layer.clone(),
            suppressed: v.suppressed.clone(),
            kev: Some(v.kev),
            epss: v.epss.map(|(p, _)| p),
        });
    }
    Ok(Upload {
        digest,
        image_id: image.map(|i| i.id.clone()),
        registry,
        platform: image.and_then(|i| i.platform.clone()),
        team,
        owner,
        repositories,
        labels,
        layers,
        packages,
        findings: Some(findings),
        format: Format::Report,
        document_sha256: hex::encode(Sha256::digest(bytes)),
        os: report
            .os
            .as_ref()
            .map(|o| (o.family.clone(), o.version.clone())),
        tool: Some(report.tool.clone()),
        schema_version: Some(i64::from(report.schema_version)),
        incomplete: report.is_incomplete(),
        scanned_at: Some(report.created_at.clone()),
    })
}

/// Reads a CycloneDX or SPDX JSON SBOM with bulwark-report's reader.
pub fn sbom_upload(bytes: &[u8], hints: &ImageHints) -> Result<Upload, ApiError> {
    let digest = hints.digest.clone().ok_or_else(|| {
        ApiError::bad_request(
            "missing_digest",
            "an SBOM upload needs ?digest=sha256:... (the image's manifest digest)",
        )
    })?;
    check_digest(&digest)?;
    let doc = bulwark_report::read_sbom(bytes).map_err(|e| match e {
        ReportError::TooLarge { .. } => ApiError::new(
            axum::http::StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            e.to_string(),
        ),
        ReportError::InvalidJson { .. } => ApiError::bad_request("invalid_json", e.to_string()),
        other => ApiError::unprocessable("invalid_sbom", other.to_string()),
    })?;
    let (team, owner) = team_owner(hints, &BTreeMap::new())?;
    let mut repositories = Vec::new();
    let mut registry = None;
    if let Some(r) = &hints.repository {
        let (reg, repo, _) = split_reference(r);
        registry = Some(reg);
        if hints.tags.is_empty() {
            repositories.push((repo.clone(), String::new()));
        }
        for t in &hints.tags {
            repositories.push((repo.clone(), t.clone()));
        }
    }
    // The reader succeeded, so the document is one of the two; CycloneDX says so.
    let format = if contains(bytes, b"\"bomFormat\"") {
        Format::CycloneDx
    } else {
        Format::Spdx
    };
    Ok(Upload {
        digest,
        image_id: None,
        registry,
        platform: None,
        team,
        owner,
        repositories,
        labels: BTreeMap::new(),
        layers: Vec::new(),
        packages: packages_in(&doc.packages),
        findings: None,
        format,
        document_sha256: hex::encode(Sha256::digest(bytes)),
        os: doc
            .os
            .as_ref()
            .map(|o| (o.family.clone(), o.version.clone())),
        tool: None,
        schema_version: None,
        incomplete: !doc.warnings.is_empty(),
        scanned_at: None,
    })
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references() {
        assert_eq!(
            split_reference("ghcr.io/acme/shop:1.4"),
            ("ghcr.io".into(), "ghcr.io/acme/shop".into(), "1.4".into())
        );
        assert_eq!(
            split_reference("localhost:5000/shop"),
            (
                "localhost:5000".into(),
                "localhost:5000/shop".into(),
                "".into()
            )
        );
        assert_eq!(
            split_reference("debian:bookworm"),
            (
                "docker.io".into(),
                "docker.io/library/debian".into(),
                "bookworm".into()
            )
        );
        // One repository, however it is spelled.
        for r in [
            "nginx",
            "library/nginx",
            "docker.io/nginx",
            "docker.io/library/nginx",
            "index.docker.io/library/nginx",
            "registry-1.docker.io/library/nginx:1.27",
        ] {
            assert_eq!(split_reference(r).1, "docker.io/library/nginx", "{r}");
        }
        assert_eq!(split_reference("acme/shop:2").1, "docker.io/acme/shop");
        assert_eq!(
            split_reference("ghcr.io/a/b@sha256:00"),
            ("ghcr.io".into(), "ghcr.io/a/b".into(), "".into())
        );
    }

    #[test]
    fn digests() {
        assert!(is_digest(&format!("sha256:{}", "a".repeat(64))));
        assert!(!is_digest(&format!("sha256:{}", "A".repeat(64))));
        assert!(!is_digest("sha256:abc"));
    }

    #[test]
    fn report_unknown_field_is_named() {
        let e = report_upload(
            br#"{"schema_version":2,"tool":"t","created_at":"x","target":{"name":"n","kind":"image","surprise":1},"packages":[]}"#,
            &ImageHints::default(),
        )
        .unwrap_err();
        assert_eq!(e.code, "unknown_field");
        assert!(e.message.contains("surprise"), "{}", e.message);
    }
}
