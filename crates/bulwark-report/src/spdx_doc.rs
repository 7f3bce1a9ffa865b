//! SPDX 2.3 JSON output.
//!
//! SPDX has no per-package property bag, so the facts bulwark needs to read its own
//! documents back losslessly (cataloger, locations, source package, each licence as
//! recorded) are `OTHER` annotations whose comment is `bulwark:<key>: <value>`; the
//! same facts are also written in the human-readable `sourceInfo`.

use crate::common::{self, prop};
use crate::license::{classify, LicenseKind};
use bulwark_core::{Package, Report, TargetKind};
use serde::Serialize;
use std::collections::{BTreeMap, HashSet};

/// The SPDX specification version written.
pub const SPDX_VERSION: &str = "SPDX-2.3";

const ROOT_ID: &str = "SPDXRef-Target";
const OS_ID: &str = "SPDXRef-OperatingSystem";

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Document {
    spdx_version: &'static str,
    data_license: &'static str,
    #[serde(rename = "SPDXID")]
    spdx_id: &'static str,
    name: String,
    document_namespace: String,
    creation_info: CreationInfo,
    packages: Vec<SpdxPackage>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    has_extracted_licensing_infos: Vec<ExtractedLicense>,
    relationships: Vec<Relationship>,
}

#[derive(Serialize)]
struct CreationInfo {
    created: String,
    creators: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SpdxPackage {
    name: String,
    #[serde(rename = "SPDXID")]
    spdx_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    version_info: Option<String>,
    supplier: String,
    download_location: &'static str,
    files_analyzed: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    checksums: Vec<Checksum>,
    #[serde(skip_serializing_if = "Option::is_none")]
    source_info: Option<String>,
    license_concluded: &'static str,
    license_declared: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    external_refs: Vec<ExternalRef>,
    primary_package_purpose: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    annotations: Vec<Annotation>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Checksum {
    algorithm: &'static str,
    checksum_value: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ExternalRef {
    reference_category: &'static str,
    reference_type: &'static str,
    reference_locator: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Annotation {
    annotator: String,
    annotation_date: String,
    annotation_type: &'static str,
    comment: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ExtractedLicense {
    license_id: String,
    extracted_text: String,
    name: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Relationship {
    spdx_element_id: String,
    related_spdx_element: String,
    relationship_type: &'static str,
}

/// Licence texts that are not SPDX expressions, numbered into `LicenseRef-`s that are
/// defined once per document.
#[derive(Default)]
struct LicenseRefs {
    by_text: BTreeMap<String, String>,
    used_ids: HashSet<String>,
    extracted: Vec<ExtractedLicense>,
}

impl LicenseRefs {
    fn id_for(&mut self, text: &str) -> String {
        if let Some(id) = self.by_text.get(text) {
            return id.clone();
        }
        let stem: String = common::sanitize_id(text.trim()).chars().take(48).collect();
        let stem = if stem.trim_matches('-').is_empty() {
            "unnamed".to_string()
        } else {
            stem
        };
        let mut id = format!("LicenseRef-{stem}");
        let mut n = 1;
        while self.used_ids.contains(&id) {
            n += 1;
            id = format!("LicenseRef-{stem}-{n}");
        }
        self.used_ids.insert(id.clone());
        self.by_text.insert(text.to_string(), id.clone());
        self.extracted.push(ExtractedLicense {
            license_id: id.clone(),
            extracted_text: text.to_string(),
            name: text.chars().take(200).collect(),
        });
        id
    }

    /// `licenseDeclared` for a package: each recorded licence ANDed, non-SPDX text as a
    /// LicenseRef, NOASSERTION when nothing was recorded.
    fn declared(&mut self, licenses: &[String]) -> String {
        let parts: Vec<String> = licenses
            .iter()
            .map(|l| match classify(l) {
                LicenseKind::Id(id) => id,
                LicenseKind::Expression(e) if licenses.len() > 1 && e.contains(' ') => {
                    format!("({e})")
                }
                LicenseKind::Expression(e) => e,
                LicenseKind::Text(t) => self.id_for(&t),
            })
            .collect();
        if parts.is_empty() {
            "NOASSERTION".to_string()
        } else {
            parts.join(" AND ")
        }
    }
}

/// Builds the SPDX document for `report` as a JSON value.
pub fn to_json(report: &Report) -> serde_json::Value {
    serde_json::to_value(build(report)).unwrap_or(serde_json::Value::Null)
}

fn build(report: &Report) -> Document {
    let created = common::utc_timestamp(&report.created_at);
    let tool = format!("Tool: bulwark-{}", env!("CARGO_PKG_VERSION"));
    let annotation = |comment: String| Annotation {
        annotator: tool.clone(),
        annotation_date: created.clone(),
        annotation_type: "OTHER",
        comment,
    };
    let root_name = common::root_name(report);
    let mut packages = Vec::new();
    let mut relationships = vec![Relationship {
        spdx_element_id: "SPDXRef-DOCUMENT".into(),
        related_spdx_element: ROOT_ID.into(),
        relationship_type: "DESCRIBES",
    }];

    let (purpose, kind_name) = match report.target.kind {
        TargetKind::Image => ("CONTAINER", "image"),
        TargetKind::Directory => ("SOURCE", "directory"),
        TargetKind::File => ("FILE", "file"),
        TargetKind::Sbom => ("FILE", "sbom"),
    };
    packages.push(SpdxPackage {
        name: root_name.clone(),
        spdx_id: ROOT_ID.into(),
        version_info: report
            .target
            .image
            .as_ref()
            .map(|i| i.id.clone())
            .filter(|s| !s.is_empty()),
        supplier: "NOASSERTION".into(),
        download_location: "NOASSERTION",
        files_analyzed: false,
        checksums: Vec::new(),
        source_info: None,
        license_concluded: "NOASSERTION",
        license_declared: "NOASSERTION".into(),
        external_refs: Vec::new(),
        primary_package_purpose: purpose,
        annotations: {
            let mut a = vec![annotation(format!("{}: {kind_name}", prop::TARGET_KIND))];
            if report.is_incomplete() {
                a.push(annotation(format!("{}: true", prop::INCOMPLETE)));
                for r in &report.incomplete {
                    a.push(annotation(format!(
                        "{}: {}",
                        prop::INCOMPLETE_REASON,
                        r.describe()
                    )));
                }
            }
            if !report.not_checked.is_empty() {
                a.push(annotation(format!(
                    "{}: {}",
                    prop::NOT_CHECKED,
                    report.not_checked.len()
                )));
            }
            a
        },
    });

    if let Some(os) = &report.os {
        let mut ann = Vec::new();
        if let Some(p) = &os.pretty_name {
            ann.push(annotation(format!("{}: {p}", prop::OS_PRETTY_NAME)));
        }
        if let Some(c) = &os.codename {
            ann.push(annotation(format!("{}: {c}", prop::OS_CODENAME)));
        }
        packages.push(SpdxPackage {
            name: os.family.clone(),
            spdx_id: OS_ID.into(),
            version_info: Some(os.version.clone()).filter(|v| !v.is_empty()),
            supplier: "NOASSERTION".into(),
            download_location: "NOASSERTION",
            files_analyzed: false,
            checksums: Vec::new(),
            source_info: None,
            license_concluded: "NOASSERTION",
            license_declared: "NOASSERTION".into(),
            external_refs: Vec::new(),
            primary_package_purpose: "OPERATING-SYSTEM",
            annotations: ann,
        });
        relationships.push(Relationship {
            spdx_element_id: ROOT_ID.into(),
            related_spdx_element: OS_ID.into(),
            relationship_type: "CONTAINS",
        });
    }

    let mut refs = LicenseRefs::default();
    let mut used_ids: HashSet<String> = [ROOT_ID.to_string(), OS_ID.to_string()].into();
    for pkg in &report.packages {
        let id = unique_id(pkg, &mut used_ids);
        let declared = refs.declared(&pkg.licenses);
        let annotations = bulwark_annotations(pkg)
            .into_iter()
            .map(&annotation)
            .collect();
        packages.push(package(pkg, id.clone(), declared, annotations));
        relationships.push(Relationship {
            spdx_element_id: ROOT_ID.into(),
            related_spdx_element: id,
            relationship_type: "CONTAINS",
        });
    }

    Document {
        spdx_version: SPDX_VERSION,
        data_license: "CC0-1.0",
        spdx_id: "SPDXRef-DOCUMENT",
        name: root_name.clone(),
        document_namespace: format!(
            "https://spdx.org/spdxdocs/bulwark/{}-{}",
            common::sanitize_id(&root_name),
            uuid::Uuid::new_v4()
        ),
        creation_info: CreationInfo {
            created: created.clone(),
            creators: vec![tool.clone()],
        },
        packages,
        has_extracted_licensing_infos: refs.extracted,
        relationships,
    }
}

fn unique_id(pkg: &Package, used: &mut HashSet<String>) -> String {
    let base = format!(
        "SPDXRef-Package-{}-{}-{}",
        pkg.ecosystem.purl_type(),
        common::sanitize_id(&pkg.name),
        common::sanitize_id(&pkg.version)
    );
    let mut id = base.clone();
    let mut n = 1;
    while used.contains(&id) {
        n += 1;
        id = format!("{base}-{n}");
    }
    used.insert(id.clone());
    id
}

fn bulwark_annotations(pkg: &Package) -> Vec<String> {
    let mut out = vec![format!("{}: {}", prop::FOUND_BY, pkg.found_by)];
    for loc in &pkg.locations {
        out.push(format!("{}: {}", prop::PATH, loc.path));
        if let Some(d) = &loc.layer_digest {
            out.push(format!("{}: {d}", prop::LAYER_DIGEST));
        }
        if let Some(d) = &loc.layer_diff_id {
            out.push(format!("{}: {d}", prop::LAYER_DIFF_ID));
        }
    }
    if let Some(src) = &pkg.source {
        out.push(format!("{}: {}", prop::SOURCE_NAME, src.name));
        out.push(format!("{}: {}", prop::SOURCE_VERSION, src.version));
    }
    for l in &pkg.licenses {
        out.push(format!("{}: {l}", prop::LICENSE));
    }
    if let Some(d) = &pkg.digest {
        if common::split_digest(d).is_none() {
            out.push(format!("{}: {d}", prop::DIGEST));
        }
    }
    if pkg.dev {
        out.push(format!("{}: true", prop::DEV));
    }
    out
}

fn source_info(pkg: &Package) -> Option<String> {
    let mut parts = Vec::new();
    if let Some(src) = &pkg.source {
        parts.push(format!("built package from: {} {}", src.name, src.version));
    }
    for loc in &pkg.locations {
        let mut s = format!("found in {}", loc.path);
        if let Some(d) = &loc.layer_digest {
            s.push_str(&format!(" (layer {d})"));
        }
        parts.push(s);
    }
    if parts.is_empty() {
        None
    } else {
        Some(parts.join("; "))
    }
}

fn package(
    pkg: &Package,
    id: String,
    declared: String,
    annotations: Vec<Annotation>,
) -> SpdxPackage {
    let checksums = pkg
        .digest
        .as_deref()
        .and_then(common::split_digest)
        .map(|(alg, value)| Checksum {
            algorithm: alg.spdx,
            checksum_value: value,
        })
        .into_iter()
        .collect();
    let external_refs = if pkg.purl.is_empty() {
        Vec::new()
    } else {
        vec![ExternalRef {
            reference_category: "PACKAGE-MANAGER",
            reference_type: "purl",
            reference_locator: pkg.purl.clone(),
        }]
    };
    SpdxPackage {
        name: pkg.name.clone(),
        spdx_id: id,
        version_info: Some(pkg.version.clone()).filter(|v| !v.is_empty()),
        supplier: pkg
            .supplier
            .as_ref()
            .filter(|s| !s.trim().is_empty())
            .map(|s| format!("Organization: {}", s.trim()))
            .unwrap_or_else(|| "NOASSERTION".into()),
        download_location: "NOASSERTION",
        files_analyzed: false,
        checksums,
        source_info: source_info(pkg),
        license_concluded: "NOASSERTION",
        license_declared: declared,
        external_refs,
        primary_package_purpose: "LIBRARY",
        annotations,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_licenses_combine_and_define_refs() {
        let mut refs = LicenseRefs::default();
        assert_eq!(refs.declared(&[]), "NOASSERTION");
        assert_eq!(refs.declared(&["MIT".into()]), "MIT");
        assert_eq!(
            refs.declared(&["MIT OR Apache-2.0".into(), "Custom license text".into()]),
            "(MIT OR Apache-2.0) AND LicenseRef-Custom-license-text"
        );
        // Same text reuses its ref; a different text that sanitises alike gets a new one.
        assert_eq!(
            refs.declared(&["Custom license text".into()]),
            "LicenseRef-Custom-license-text"
        );
        assert_eq!(
            refs.declared(&["Custom license_text".into()]),
            "LicenseRef-Custom-license-text-2"
        );
        assert_eq!(refs.extracted.len(), 2);
    }
}
