//! CycloneDX 1.6 JSON output.
//!
//! Components follow what CycloneDX consumers expect: the Maven groupId, npm scope and
//! Go/Composer/Swift namespace go in `group` and the last segment in `name` (the reader
//! in [`crate::read`] rebuilds bulwark's joined names from the purl, so it reads Trivy's
//! joined `name`s as well as ours). Facts CycloneDX has no field for are `bulwark:*`
//! properties; a package with several locations repeats `bulwark:path`, each followed by
//! its own layer properties, so the order of the property list carries the grouping.
//!
//! Vulnerability findings become `vulnerabilities[]`: one entry per advisory id (and
//! suppression state), with CVSS ratings, the fix as `recommendation`, `affects`
//! pointing at the vulnerable components' bom-refs, and an `analysis` for findings a VEX
//! statement or ignore rule suppressed.

use crate::common::{self, prop};
use crate::license::{classify, LicenseKind};
use bulwark_core::{Ecosystem, Package, Report, Severity, TargetKind, VulnFinding};
use serde::Serialize;
use std::collections::{BTreeMap, HashSet};

/// The CycloneDX specification version written.
pub const SPEC_VERSION: &str = "1.6";

const ROOT_REF: &str = "bulwark:target";
const OS_REF: &str = "bulwark:operating-system";

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Bom {
    #[serde(rename = "$schema")]
    schema: &'static str,
    bom_format: &'static str,
    spec_version: &'static str,
    serial_number: String,
    version: u32,
    metadata: Metadata,
    components: Vec<Component>,
    dependencies: Vec<Dependency>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    vulnerabilities: Vec<Vulnerability>,
}

#[derive(Serialize)]
struct Vulnerability {
    #[serde(rename = "bom-ref")]
    bom_ref: String,
    id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    source: Option<VulnSource>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    references: Vec<VulnReference>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    ratings: Vec<Rating>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    recommendation: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    advisories: Vec<Advisory>,
    #[serde(skip_serializing_if = "Option::is_none")]
    analysis: Option<Analysis>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    affects: Vec<Affect>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    properties: Vec<Property>,
}

#[derive(Serialize)]
struct VulnSource {
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<String>,
}

#[derive(Serialize)]
struct VulnReference {
    id: String,
    source: VulnSource,
}

#[derive(Serialize)]
struct Rating {
    #[serde(skip_serializing_if = "Option::is_none")]
    source: Option<VulnSource>,
    #[serde(skip_serializing_if = "Option::is_none")]
    score: Option<f64>,
    severity: &'static str,
    method: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    vector: Option<String>,
}

#[derive(Serialize)]
struct Advisory {
    url: String,
}

#[derive(Serialize)]
struct Analysis {
    #[serde(skip_serializing_if = "Option::is_none")]
    state: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    justification: Option<&'static str>,
    detail: String,
}

#[derive(Serialize)]
struct Affect {
    #[serde(rename = "ref")]
    reference: String,
    versions: Vec<AffectedVersion>,
}

#[derive(Serialize)]
struct AffectedVersion {
    version: String,
    status: &'static str,
}

#[derive(Serialize)]
struct Metadata {
    timestamp: String,
    tools: Tools,
    component: Component,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    properties: Vec<Property>,
}

#[derive(Serialize)]
struct Tools {
    components: Vec<Component>,
}

#[derive(Serialize, Default)]
struct Component {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(rename = "bom-ref", skip_serializing_if = "Option::is_none")]
    bom_ref: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    supplier: Option<Entity>,
    #[serde(skip_serializing_if = "Option::is_none")]
    group: Option<String>,
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    hashes: Vec<Hash>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    licenses: Vec<LicenseChoice>,
    #[serde(skip_serializing_if = "Option::is_none")]
    purl: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    properties: Vec<Property>,
}

#[derive(Serialize)]
struct Entity {
    name: String,
}

#[derive(Serialize)]
struct Hash {
    alg: &'static str,
    content: String,
}

#[derive(Serialize)]
#[serde(untagged)]
enum LicenseChoice {
    License { license: License },
    Expression { expression: String },
}

#[derive(Serialize)]
#[serde(untagged)]
enum License {
    Id { id: String },
    Name { name: String },
}

#[derive(Serialize)]
struct Property {
    name: &'static str,
    value: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Dependency {
    #[serde(rename = "ref")]
    reference: String,
    depends_on: Vec<String>,
}

fn property(name: &'static str, value: impl Into<String>) -> Property {
    Property {
        name,
        value: value.into(),
    }
}

/// `bulwark:incomplete` and one `bulwark:incomplete_reason` per reason, when the scan
/// missed something, plus the count of packages not checked for vulnerabilities.
fn incomplete_properties(report: &Report) -> Vec<Property> {
    let mut out = Vec::new();
    if report.is_incomplete() {
        out.push(property(prop::INCOMPLETE, "true"));
        for r in &report.incomplete {
            out.push(property(prop::INCOMPLETE_REASON, r.describe()));
        }
    }
    if !report.not_checked.is_empty() {
        out.push(property(
            prop::NOT_CHECKED,
            report.not_checked.len().to_string(),
        ));
    }
    out
}

/// Builds the CycloneDX document for `report` as a JSON value.
pub fn to_json(report: &Report) -> serde_json::Value {
    let bom = build(report);
    // Serialising plain structs of strings cannot fail.
    serde_json::to_value(bom).unwrap_or(serde_json::Value::Null)
}

fn build(report: &Report) -> Bom {
    let mut components = Vec::new();
    let mut root_deps = Vec::new();
    let mut os_deps = Vec::new();

    if let Some(os) = &report.os {
        let mut props = Vec::new();
        if let Some(p) = &os.pretty_name {
            props.push(property(prop::OS_PRETTY_NAME, p.clone()));
        }
        if let Some(c) = &os.codename {
            props.push(property(prop::OS_CODENAME, c.clone()));
        }
        components.push(Component {
            kind: "operating-system",
            bom_ref: Some(OS_REF.to_string()),
            name: os.family.clone(),
            version: Some(os.version.clone()).filter(|v| !v.is_empty()),
            description: os.pretty_name.clone(),
            properties: props,
            ..Default::default()
        });
        root_deps.push(OS_REF.to_string());
    }

    let mut used_refs: HashSet<String> = HashSet::new();
    used_refs.insert(ROOT_REF.to_string());
    used_refs.insert(OS_REF.to_string());
    let mut leaf_refs = Vec::new();
    let mut pkg_refs: Vec<(&Package, String)> = Vec::new();
    for (i, pkg) in report.packages.iter().enumerate() {
        let bom_ref = unique_ref(&pkg.purl, i, &mut used_refs);
        pkg_refs.push((pkg, bom_ref.clone()));
        if pkg.is_os() && report.os.is_some() {
            os_deps.push(bom_ref.clone());
        } else {
            root_deps.push(bom_ref.clone());
        }
        leaf_refs.push(bom_ref.clone());
        components.push(package_component(pkg, bom_ref));
    }

    let mut dependencies = vec![Dependency {
        reference: ROOT_REF.to_string(),
        depends_on: root_deps,
    }];
    if report.os.is_some() {
        dependencies.push(Dependency {
            reference: OS_REF.to_string(),
            depends_on: os_deps,
        });
    }
    // Packages carry no dependency graph yet; listing them with no dependencies states
    // that explicitly rather than leaving it unknown.
    dependencies.extend(leaf_refs.into_iter().map(|r| Dependency {
        reference: r,
        depends_on: Vec::new(),
    }));

    Bom {
        schema: "http://cyclonedx.org/schema/bom-1.6.schema.json",
        bom_format: "CycloneDX",
        spec_version: SPEC_VERSION,
        serial_number: format!("urn:uuid:{}", uuid::Uuid::new_v4()),
        version: 1,
        metadata: Metadata {
            timestamp: common::utc_timestamp(&report.created_at),
            tools: Tools {
                components: vec![Component {
                    kind: "application",
                    name: "bulwark".to_string(),
                    version: Some(env!("CARGO_PKG_VERSION").to_string()),
                    ..Default::default()
                }],
            },
            component: root_component(report),
            properties: incomplete_properties(report),
        },
        components,
        dependencies,
        vulnerabilities: vulnerabilities(report, &pkg_refs, &mut used_refs),
    }
}

/// The vulnerable component's bom-ref: the package with the finding's purl, preferring
/// one found at the finding's path.
fn component_ref<'a>(v: &VulnFinding, pkgs: &'a [(&Package, String)]) -> Option<&'a str> {
    let same_purl = || {
        pkgs.iter()
            .filter(|(p, _)| !p.purl.is_empty() && p.purl == v.purl)
    };
    same_purl()
        .find(|(p, _)| {
            v.path
                .as_deref()
                .is_some_and(|path| p.locations.iter().any(|l| l.path == path))
        })
        .or_else(|| same_purl().next())
        .map(|(_, r)| r.as_str())
}

/// Who publishes an id, by its prefix.
fn vuln_source(id: &str) -> Option<VulnSource> {
    let upper = id.to_ascii_uppercase();
    if upper.starts_with("CVE-") {
        Some(VulnSource {
            name: "NVD".into(),
            url: Some(format!("https://nvd.nist.gov/vuln/detail/{id}")),
        })
    } else if upper.starts_with("GHSA-") {
        Some(VulnSource {
            name: "GitHub Advisory Database".into(),
            url: Some(format!("https://github.com/advisories/{id}")),
        })
    } else {
        Some(VulnSource {
            name: "OSV".into(),
            url: Some(format!("https://osv.dev/vulnerability/{id}")),
        })
    }
}

fn cdx_severity(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "critical",
        Severity::High => "high",
        Severity::Medium => "medium",
        Severity::Low => "low",
        Severity::Unknown => "unknown",
    }
}

/// The CVSS qualitative band of a base score.
fn score_severity(score: f64) -> &'static str {
    match score {
        s if s >= 9.0 => "critical",
        s if s >= 7.0 => "high",
        s if s >= 4.0 => "medium",
        s if s > 0.0 => "low",
        _ => "none",
    }
}

fn cvss_method(version: &str, vector: &str) -> &'static str {
    match version {
        "4.0" | "4" => "CVSSv4",
        "3.1" => "CVSSv31",
        "3.0" | "3" => "CVSSv3",
        "2.0" | "2" => "CVSSv2",
        _ if vector.starts_with("CVSS:4") => "CVSSv4",
        _ if vector.starts_with("CVSS:3.1") => "CVSSv31",
        _ if vector.starts_with("CVSS:3") => "CVSSv3",
        _ => "other",
    }
}

/// CycloneDX analysis for a suppression recorded by [`crate::filter`]: VEX decisions map
/// onto CycloneDX states and justifications; ignore rules have no CycloneDX state (they
/// are the user's risk acceptance, not a statement about exploitability), so only the
/// detail is given.
fn analysis(reason: &str) -> Analysis {
    let state = if reason.starts_with("VEX not_affected") {
        Some("not_affected")
    } else if reason.starts_with("VEX false_positive") {
        Some("false_positive")
    } else if reason.starts_with("VEX fixed") {
        Some("resolved")
    } else {
        None
    };
    let justification = state.and_then(|_| {
        let j = reason.split_once(": ")?.1;
        let j = j.split([';', ' ']).next()?;
        Some(match j {
            "component_not_present" | "vulnerable_code_not_present" | "code_not_present" => {
                "code_not_present"
            }
            "vulnerable_code_not_in_execute_path" | "code_not_reachable" => "code_not_reachable",
            "inline_mitigations_already_exist" | "protected_by_mitigating_control" => {
                "protected_by_mitigating_control"
            }
            "requires_configuration" => "requires_configuration",
            "requires_dependency" => "requires_dependency",
            "requires_environment" => "requires_environment",
            "protected_by_compiler" => "protected_by_compiler",
            "protected_at_runtime" => "protected_at_runtime",
            "protected_at_perimeter" => "protected_at_perimeter",
            _ => return None,
        })
    });
    Analysis {
        state,
        justification,
        detail: reason.to_string(),
    }
}

fn vulnerabilities(
    report: &Report,
    pkgs: &[(&Package, String)],
    used: &mut HashSet<String>,
) -> Vec<Vulnerability> {
    // Grouped by id and suppression so one analysis describes every affected component.
    let mut groups: BTreeMap<(&str, Option<&str>), Vec<&VulnFinding>> = BTreeMap::new();
    for v in &report.vulnerabilities {
        groups
            .entry((v.id.as_str(), v.suppressed.as_deref()))
            .or_default()
            .push(v);
    }
    let mut out = Vec::new();
    for ((id, suppressed), findings) in groups {
        let Some(first) = findings.first() else {
            continue;
        };
        let mut references: Vec<VulnReference> = Vec::new();
        let mut aliases: Vec<&str> = findings
            .iter()
            .flat_map(|f| f.aliases.iter().map(String::as_str))
            .filter(|a| *a != id)
            .collect();
        aliases.sort_unstable();
        aliases.dedup();
        for a in aliases {
            if let Some(source) = vuln_source(a) {
                references.push(VulnReference {
                    id: a.to_string(),
                    source,
                });
            }
        }
        let mut ratings: Vec<Rating> = first
            .cvss
            .iter()
            .filter(|c| c.score.is_finite())
            .map(|c| Rating {
                source: c.source.clone().map(|name| VulnSource { name, url: None }),
                score: Some(c.score),
                severity: score_severity(c.score),
                method: cvss_method(&c.version, &c.vector),
                vector: Some(c.vector.clone()).filter(|v| !v.is_empty()),
            })
            .collect();
        let from_cvss = first
            .severity_source
            .as_deref()
            .is_some_and(|s| s.starts_with("cvss"));
        if ratings.is_empty() || !from_cvss {
            ratings.push(Rating {
                source: first
                    .severity_source
                    .clone()
                    .map(|name| VulnSource { name, url: None }),
                score: None,
                severity: cdx_severity(first.severity),
                method: "other",
                vector: None,
            });
        }
        let mut recs = Vec::new();
        for f in &findings {
            if !f.fixed_versions.is_empty() {
                recs.push(format!(
                    "Upgrade {} from {} to {}",
                    f.package,
                    f.installed_version,
                    f.fixed_versions.join(" or ")
                ));
            }
        }
        recs.sort();
        recs.dedup();
        let mut affects: Vec<Affect> = Vec::new();
        for f in &findings {
            let Some(r) = component_ref(f, pkgs) else {
                continue;
            };
            if affects.iter().any(|a| a.reference == r) {
                continue;
            }
            affects.push(Affect {
                reference: r.to_string(),
                versions: vec![AffectedVersion {
                    version: f.installed_version.clone(),
                    status: "affected",
                }],
            });
        }
        let mut props = Vec::new();
        if first.kev {
            props.push(property(prop::KEV, "true"));
        }
        if let Some((p, pct)) = first.epss {
            props.push(property(prop::EPSS, format!("{p}")));
            props.push(property(prop::EPSS_PERCENTILE, format!("{pct}")));
        }
        out.push(Vulnerability {
            bom_ref: unique_ref(&format!("bulwark:vulnerability:{id}"), 0, used),
            id: id.to_string(),
            source: vuln_source(id),
            references,
            ratings,
            description: Some(first.title.clone()).filter(|t| !t.is_empty()),
            detail: Some(first.description.clone()).filter(|t| !t.is_empty()),
            recommendation: Some(recs.join("; ")).filter(|r| !r.is_empty()),
            advisories: first
                .references
                .iter()
                .filter(|r| r.starts_with("https://") || r.starts_with("http://"))
                .map(|url| Advisory { url: url.clone() })
                .collect(),
            analysis: suppressed.map(analysis),
            affects,
            properties: props,
        });
    }
    out
}

fn root_component(report: &Report) -> Component {
    let kind = match report.target.kind {
        TargetKind::Image => "container",
        TargetKind::Directory => "application",
        TargetKind::File | TargetKind::Sbom => "file",
    };
    let version = report
        .target
        .image
        .as_ref()
        .map(|i| i.id.clone())
        .filter(|v| !v.is_empty());
    let kind_name = match report.target.kind {
        TargetKind::Image => "image",
        TargetKind::Directory => "directory",
        TargetKind::File => "file",
        TargetKind::Sbom => "sbom",
    };
    Component {
        kind,
        bom_ref: Some(ROOT_REF.to_string()),
        name: common::root_name(report),
        version,
        properties: vec![property(prop::TARGET_KIND, kind_name)],
        ..Default::default()
    }
}

/// The purl as bom-ref; a second package with the same purl (same library vendored in
/// two places) gets a `package-id` suffix so references stay unique.
fn unique_ref(purl: &str, index: usize, used: &mut HashSet<String>) -> String {
    let base = if purl.is_empty() {
        format!("bulwark:package-{index}")
    } else {
        purl.to_string()
    };
    let mut candidate = base.clone();
    let mut n = 1usize;
    while used.contains(&candidate) {
        n += 1;
        let sep = if base.contains('?') { '&' } else { '?' };
        candidate = format!("{base}{sep}package-id={n}");
    }
    used.insert(candidate.clone());
    candidate
}

/// Splits a bulwark name into CycloneDX `group` and `name` for ecosystems whose purl
/// has a namespace that is part of the package's identity.
fn group_and_name(pkg: &Package) -> (Option<String>, String) {
    let split = |sep: char| match pkg.name.rsplit_once(sep) {
        Some((g, n)) if !g.is_empty() && !n.is_empty() => (Some(g.to_string()), n.to_string()),
        _ => (None, pkg.name.clone()),
    };
    match pkg.ecosystem {
        Ecosystem::Maven => split(':'),
        Ecosystem::Npm | Ecosystem::Golang | Ecosystem::Composer | Ecosystem::Swift => split('/'),
        _ => (None, pkg.name.clone()),
    }
}

fn licenses(pkg: &Package) -> Vec<LicenseChoice> {
    let kinds: Vec<LicenseKind> = pkg.licenses.iter().map(|l| classify(l)).collect();
    // The schema allows either a list of licenses or exactly one expression; when an
    // expression comes with other licences it is kept verbatim as a named licence.
    if let [LicenseKind::Expression(e)] = kinds.as_slice() {
        return vec![LicenseChoice::Expression {
            expression: e.clone(),
        }];
    }
    kinds
        .into_iter()
        .map(|k| LicenseChoice::License {
            license: match k {
                LicenseKind::Id(id) => License::Id { id },
                LicenseKind::Expression(s) | LicenseKind::Text(s) => License::Name { name: s },
            },
        })
        .collect()
}

fn package_component(pkg: &Package, bom_ref: String) -> Component {
    let (group, name) = group_and_name(pkg);
    let mut hashes = Vec::new();
    let mut props = vec![property(prop::FOUND_BY, pkg.found_by.clone())];
    if let Some(d) = &pkg.digest {
        match common::split_digest(d) {
            Some((alg, content)) => hashes.push(Hash {
                alg: alg.cyclonedx,
                content,
            }),
            None => props.push(property(prop::DIGEST, d.clone())),
        }
    }
    for loc in &pkg.locations {
        props.push(property(prop::PATH, loc.path.clone()));
        if let Some(d) = &loc.layer_digest {
            props.push(property(prop::LAYER_DIGEST, d.clone()));
        }
        if let Some(d) = &loc.layer_diff_id {
            props.push(property(prop::LAYER_DIFF_ID, d.clone()));
        }
    }
    if let Some(src) = &pkg.source {
        props.push(property(prop::SOURCE_NAME, src.name.clone()));
        props.push(property(prop::SOURCE_VERSION, src.version.clone()));
    }
    if pkg.dev {
        props.push(property(prop::DEV, "true"));
    }
    Component {
        kind: "library",
        bom_ref: Some(bom_ref),
        supplier: pkg.supplier.clone().map(|name| Entity { name }),
        group,
        name,
        version: Some(pkg.version.clone()).filter(|v| !v.is_empty()),
        hashes,
        licenses: licenses(pkg),
        purl: Some(pkg.purl.clone()).filter(|p| !p.is_empty()),
        properties: props,
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_purls_get_unique_refs() {
        let mut used = HashSet::new();
        let a = unique_ref("pkg:npm/a@1", 0, &mut used);
        let b = unique_ref("pkg:npm/a@1", 1, &mut used);
        let c = unique_ref("pkg:deb/debian/x@1?arch=amd64", 2, &mut used);
        let d = unique_ref("pkg:deb/debian/x@1?arch=amd64", 3, &mut used);
        assert_eq!(a, "pkg:npm/a@1");
        assert_eq!(b, "pkg:npm/a@1?package-id=2");
        assert_eq!(c, "pkg:deb/debian/x@1?arch=amd64");
        assert_eq!(d, "pkg:deb/debian/x@1?arch=amd64&package-id=2");
    }

    #[test]
    fn groups_split_per_ecosystem() {
        let p = Package::new(Ecosystem::Maven, "org.example:lib", "1", "java");
        assert_eq!(
            group_and_name(&p),
            (Some("org.example".into()), "lib".into())
        );
        let p = Package::new(Ecosystem::Npm, "@babel/core", "1", "npm");
        assert_eq!(group_and_name(&p), (Some("@babel".into()), "core".into()));
        let p = Package::new(Ecosystem::Npm, "left-pad", "1", "npm");
        assert_eq!(group_and_name(&p), (None, "left-pad".into()));
        let p = Package::new(Ecosystem::Deb, "libc6", "1", "dpkg");
        assert_eq!(group_and_name(&p), (None, "libc6".into()));
    }
}
