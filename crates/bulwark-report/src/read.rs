//! SBOM input: reads CycloneDX (1.2–1.7) and SPDX 2.x JSON documents, bulwark's own and
//! other tools' (Trivy, Syft, Bitnami, buildpacks), back into bulwark [`Package`]s.
//!
//! Identity comes from each package's purl: the ecosystem is the purl type and the name
//! is rebuilt in bulwark's convention (npm `@scope/name`, Maven `group:artifact`, Go and
//! Composer `namespace/name`), deb/rpm versions get their `epoch` qualifier back as
//! `E:V`. Everything else (source package, locations, cataloger) comes from bulwark's
//! `bulwark:*` properties/annotations or Trivy's `aquasecurity:trivy:*` properties.
//! Entries without a purl (files, the document's root, tool entries) are not packages.

use crate::common::{prop, HASH_ALGS};
use crate::ReportError;
use bulwark_core::purl::split_epoch;
use bulwark_core::{Ecosystem, Location, OsInfo, Package, SourcePackage};
use packageurl::PackageUrl;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::str::FromStr;

/// Documents larger than this are refused before parsing.
pub const MAX_SBOM_BYTES: usize = 512 * 1024 * 1024;

/// Deepest CycloneDX component nesting followed (components inside components).
pub const MAX_COMPONENT_DEPTH: usize = 32;

/// What an SBOM document says about its subject.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SbomDocument {
    /// The operating system, from an `operating-system` component/package or, failing
    /// that, the `distro` qualifier of OS package purls.
    pub os: Option<OsInfo>,
    /// Every package with a purl, in document order.
    pub packages: Vec<Package>,
    /// The document's subject name (CycloneDX `metadata.component.name`, SPDX `name`).
    pub name: Option<String>,
    /// Entries that were skipped (an unparsable purl, say), one message each.
    pub warnings: Vec<String>,
}

/// The cataloger name given to packages whose document does not say which found them.
pub const SBOM_FOUND_BY: &str = "sbom";

/// Reads a CycloneDX or SPDX JSON document.
pub fn read_sbom(bytes: &[u8]) -> Result<SbomDocument, ReportError> {
    if bytes.len() > MAX_SBOM_BYTES {
        return Err(ReportError::TooLarge {
            size: bytes.len(),
            limit: MAX_SBOM_BYTES,
        });
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace()).copied();
    if first != Some(b'{') {
        let head = String::from_utf8_lossy(bytes.get(..bytes.len().min(64)).unwrap_or(&[]));
        if head.trim_start().starts_with("SPDXVersion:") {
            return Err(ReportError::NotAnSbom(
                "SPDX tag-value documents are not supported; convert to SPDX JSON".into(),
            ));
        }
        return Err(ReportError::NotAnSbom(
            "document is not a JSON object".into(),
        ));
    }
    // serde_json refuses nesting deeper than 128 levels, which bounds recursion here.
    let value: Value = serde_json::from_slice(bytes).map_err(|e| ReportError::InvalidJson {
        line: e.line(),
        column: e.column(),
        // serde_json's Display appends " at line L column C", which the error already
        // says; name the position once.
        message: {
            let m = e.to_string();
            let suffix = format!(" at line {} column {}", e.line(), e.column());
            m.strip_suffix(&suffix).map(str::to_string).unwrap_or(m)
        },
    })?;
    let obj = value
        .as_object()
        .ok_or_else(|| ReportError::NotAnSbom("document is not a JSON object".into()))?;
    if obj.get("bomFormat").and_then(Value::as_str) == Some("CycloneDX") {
        read_cyclonedx(obj)
    } else if obj.contains_key("spdxVersion") {
        read_spdx(obj)
    } else {
        Err(ReportError::NotAnSbom(
            "neither bomFormat \"CycloneDX\" nor spdxVersion present".into(),
        ))
    }
}

fn malformed(at: impl Into<String>, what: impl Into<String>) -> ReportError {
    ReportError::Malformed {
        at: at.into(),
        what: what.into(),
    }
}

fn str_field<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    obj.get(key).and_then(Value::as_str)
}

/// An optional array field: absent or null is empty, anything else but an array is an
/// error naming where.
fn array_field<'a>(
    obj: &'a Map<String, Value>,
    key: &str,
    at: &str,
) -> Result<&'a [Value], ReportError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(a)) => Ok(a.as_slice()),
        Some(_) => Err(malformed(format!("{at}.{key}"), "expected an array")),
    }
}

// ---------------------------------------------------------------------------------------
// CycloneDX

fn read_cyclonedx(doc: &Map<String, Value>) -> Result<SbomDocument, ReportError> {
    let spec = str_field(doc, "specVersion").unwrap_or("");
    if !spec.starts_with("1.") {
        return Err(ReportError::UnsupportedVersion {
            format: "CycloneDX",
            version: spec.to_string(),
        });
    }
    let mut out = SbomDocument {
        name: doc
            .get("metadata")
            .and_then(|m| m.get("component"))
            .and_then(|c| c.get("name"))
            .and_then(Value::as_str)
            .map(str::to_string),
        ..Default::default()
    };
    let mut explicit_os = None;
    // Explicit stack instead of recursion: nesting depth comes from the input.
    let mut stack: Vec<(&Value, String, usize)> = array_field(doc, "components", "$")?
        .iter()
        .enumerate()
        .rev()
        .map(|(i, v)| (v, format!("$.components[{i}]"), 1))
        .collect();
    while let Some((value, at, depth)) = stack.pop() {
        if depth > MAX_COMPONENT_DEPTH {
            return Err(ReportError::TooDeep {
                at,
                limit: MAX_COMPONENT_DEPTH,
            });
        }
        let comp = value
            .as_object()
            .ok_or_else(|| malformed(&at, "component is not an object"))?;
        for (i, child) in array_field(comp, "components", &at)?
            .iter()
            .enumerate()
            .rev()
        {
            stack.push((child, format!("{at}.components[{i}]"), depth + 1));
        }
        let props = cdx_properties(comp, &at)?;
        if str_field(comp, "type") == Some("operating-system") {
            if explicit_os.is_none() {
                explicit_os = Some(os_from_component(
                    str_field(comp, "name").unwrap_or(""),
                    str_field(comp, "version").unwrap_or(""),
                    &props,
                    str_field(comp, "description"),
                ));
            }
            continue;
        }
        let Some(purl) = str_field(comp, "purl").filter(|p| !p.is_empty()) else {
            continue;
        };
        let doc_name = match (str_field(comp, "group"), str_field(comp, "name")) {
            (Some(g), Some(n)) if !g.is_empty() => Some(format!("{g}/{n}")),
            (_, n) => n.map(str::to_string),
        };
        let mut pkg = match package_from_purl(purl, doc_name.as_deref(), str_field(comp, "version"))
        {
            Ok(p) => p,
            Err(e) => {
                out.warnings.push(format!("{at}: {e}"));
                continue;
            }
        };
        pkg.licenses = cdx_licenses(comp, &at)?;
        pkg.supplier = comp
            .get("supplier")
            .and_then(|s| s.get("name"))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string);
        pkg.digest = cdx_digest(comp, &at)?;
        apply_properties(&mut pkg, &props);
        out.packages.push(pkg);
    }
    out.os = explicit_os.or_else(|| os_from_purls(&out.packages));
    Ok(out)
}

fn cdx_properties(
    comp: &Map<String, Value>,
    at: &str,
) -> Result<Vec<(String, String)>, ReportError> {
    let mut out = Vec::new();
    for (i, p) in array_field(comp, "properties", at)?.iter().enumerate() {
        let name = p.get("name").and_then(Value::as_str);
        let value = p.get("value").and_then(Value::as_str).unwrap_or("");
        match name {
            Some(n) => out.push((n.to_string(), value.to_string())),
            None => {
                return Err(malformed(
                    format!("{at}.properties[{i}]"),
                    "property without a name",
                ))
            }
        }
    }
    Ok(out)
}

fn cdx_licenses(comp: &Map<String, Value>, at: &str) -> Result<Vec<String>, ReportError> {
    let mut out = Vec::new();
    for (i, l) in array_field(comp, "licenses", at)?.iter().enumerate() {
        if let Some(e) = l.get("expression").and_then(Value::as_str) {
            out.push(e.to_string());
        } else if let Some(lic) = l.get("license") {
            let s = lic
                .get("id")
                .and_then(Value::as_str)
                .or_else(|| lic.get("name").and_then(Value::as_str));
            match s {
                Some(s) => out.push(s.to_string()),
                None => {
                    return Err(malformed(
                        format!("{at}.licenses[{i}]"),
                        "license has neither id nor name",
                    ))
                }
            }
        }
    }
    Ok(out)
}

fn cdx_digest(comp: &Map<String, Value>, at: &str) -> Result<Option<String>, ReportError> {
    for h in array_field(comp, "hashes", at)? {
        let alg = h.get("alg").and_then(Value::as_str).unwrap_or("");
        let content = h.get("content").and_then(Value::as_str).unwrap_or("");
        if let Some(a) = HASH_ALGS
            .iter()
            .find(|a| a.cyclonedx.eq_ignore_ascii_case(alg))
        {
            if !content.is_empty() {
                return Ok(Some(format!(
                    "{}:{}",
                    a.bulwark,
                    content.to_ascii_lowercase()
                )));
            }
        }
    }
    Ok(None)
}

// ---------------------------------------------------------------------------------------
// SPDX

fn read_spdx(doc: &Map<String, Value>) -> Result<SbomDocument, ReportError> {
    let version = str_field(doc, "spdxVersion").unwrap_or("");
    if !version.starts_with("SPDX-2.") {
        return Err(ReportError::UnsupportedVersion {
            format: "SPDX",
            version: version.to_string(),
        });
    }
    let mut out = SbomDocument {
        name: str_field(doc, "name").map(str::to_string),
        ..Default::default()
    };
    // LicenseRef id → the licence's name (or text), so a package whose whole declared
    // licence is one LicenseRef reads back as what the author wrote.
    let mut refs: HashMap<&str, &str> = HashMap::new();
    for e in array_field(doc, "hasExtractedLicensingInfos", "$")? {
        if let Some(id) = e.get("licenseId").and_then(Value::as_str) {
            let text = e
                .get("name")
                .and_then(Value::as_str)
                .filter(|n| !n.is_empty() && *n != "NOASSERTION")
                .or_else(|| e.get("extractedText").and_then(Value::as_str));
            if let Some(t) = text {
                refs.insert(id, t);
            }
        }
    }
    let mut explicit_os = None;
    for (i, value) in array_field(doc, "packages", "$")?.iter().enumerate() {
        let at = format!("$.packages[{i}]");
        let p = value
            .as_object()
            .ok_or_else(|| malformed(&at, "package is not an object"))?;
        let props = spdx_annotations(p, &at)?;
        if str_field(p, "primaryPackagePurpose") == Some("OPERATING-SYSTEM") {
            if explicit_os.is_none() {
                explicit_os = Some(os_from_component(
                    str_field(p, "name").unwrap_or(""),
                    str_field(p, "versionInfo").unwrap_or(""),
                    &props,
                    None,
                ));
            }
            continue;
        }
        let mut purl = None;
        for r in array_field(p, "externalRefs", &at)? {
            if r.get("referenceType").and_then(Value::as_str) == Some("purl") {
                purl = r.get("referenceLocator").and_then(Value::as_str);
                break;
            }
        }
        let Some(purl) = purl.filter(|s| !s.is_empty()) else {
            continue;
        };
        let mut pkg =
            match package_from_purl(purl, str_field(p, "name"), str_field(p, "versionInfo")) {
                Ok(pkg) => pkg,
                Err(e) => {
                    out.warnings.push(format!("{at}: {e}"));
                    continue;
                }
            };
        let own_licenses: Vec<String> = props
            .iter()
            .filter(|(k, _)| k == prop::LICENSE)
            .map(|(_, v)| v.clone())
            .collect();
        pkg.licenses = if own_licenses.is_empty() {
            spdx_license(p, &refs).into_iter().collect()
        } else {
            own_licenses
        };
        pkg.supplier = str_field(p, "supplier").and_then(spdx_actor);
        pkg.digest = spdx_digest(p, &at)?;
        if let Some(src) = str_field(p, "sourceInfo").and_then(parse_source_info) {
            pkg.source = Some(src);
        }
        apply_properties(&mut pkg, &props);
        out.packages.push(pkg);
    }
    out.os = explicit_os.or_else(|| os_from_purls(&out.packages));
    Ok(out)
}

/// Annotation comments of the form `key: value` (bulwark's and Trivy's convention).
fn spdx_annotations(
    p: &Map<String, Value>,
    at: &str,
) -> Result<Vec<(String, String)>, ReportError> {
    let mut out = Vec::new();
    for a in array_field(p, "annotations", at)? {
        if let Some((k, v)) = a
            .get("comment")
            .and_then(Value::as_str)
            .and_then(|c| c.split_once(": "))
        {
            out.push((k.trim().to_string(), v.to_string()));
        }
    }
    Ok(out)
}

fn spdx_license(p: &Map<String, Value>, refs: &HashMap<&str, &str>) -> Option<String> {
    let usable = |s: &&str| !s.is_empty() && *s != "NOASSERTION" && *s != "NONE";
    let l = str_field(p, "licenseDeclared")
        .filter(usable)
        .or_else(|| str_field(p, "licenseConcluded").filter(usable))?;
    Some(
        refs.get(l)
            .map(|t| t.to_string())
            .unwrap_or_else(|| l.to_string()),
    )
}

/// `Organization: X` / `Person: X` / `Tool: X` → `X`; NOASSERTION → none.
fn spdx_actor(s: &str) -> Option<String> {
    let s = s.trim();
    if s.is_empty() || s == "NOASSERTION" || s == "NONE" {
        return None;
    }
    let name = ["Organization:", "Person:", "Tool:"]
        .iter()
        .find_map(|p| s.strip_prefix(p))
        .unwrap_or(s)
        .trim();
    Some(name.to_string()).filter(|n| !n.is_empty())
}

fn spdx_digest(p: &Map<String, Value>, at: &str) -> Result<Option<String>, ReportError> {
    for c in array_field(p, "checksums", at)? {
        let alg = c.get("algorithm").and_then(Value::as_str).unwrap_or("");
        let value = c.get("checksumValue").and_then(Value::as_str).unwrap_or("");
        if let Some(a) = HASH_ALGS.iter().find(|a| a.spdx.eq_ignore_ascii_case(alg)) {
            if !value.is_empty() {
                return Ok(Some(format!(
                    "{}:{}",
                    a.bulwark,
                    value.to_ascii_lowercase()
                )));
            }
        }
    }
    Ok(None)
}

/// `built package from: NAME VERSION` (Trivy's and bulwark's `sourceInfo`).
fn parse_source_info(s: &str) -> Option<SourcePackage> {
    let first = s.split(';').next()?.trim();
    let rest = first.strip_prefix("built package from:")?.trim();
    let (name, version) = rest.split_once(' ')?;
    Some(SourcePackage {
        name: name.to_string(),
        version: version.trim().to_string(),
    })
}

// ---------------------------------------------------------------------------------------
// Shared

/// Builds a package from its purl, with the document's own name when it is just a
/// different spelling of the same thing (PyPI names are normalised in purls, so the
/// declared `Flask_SQLAlchemy` is kept rather than `flask-sqlalchemy`).
fn package_from_purl(
    purl_str: &str,
    doc_name: Option<&str>,
    doc_version: Option<&str>,
) -> Result<Package, String> {
    let purl =
        PackageUrl::from_str(purl_str).map_err(|e| format!("invalid purl {purl_str:?}: {e}"))?;
    let ecosystem = Ecosystem::from_purl_type(purl.ty()).unwrap_or(Ecosystem::Generic);
    let ns = purl.namespace().filter(|n| !n.is_empty());
    let base = purl.name();
    let name = match (ecosystem, ns) {
        // The namespace of OS purls is the distro, not part of the name.
        (Ecosystem::Deb | Ecosystem::Rpm | Ecosystem::Apk, _) => base.to_string(),
        (Ecosystem::Maven, Some(ns)) => format!("{ns}:{base}"),
        // Go module paths are case-sensitive; the purl parser lower-cases namespaces.
        (Ecosystem::Golang, _) => bulwark_core::purl::golang_module_path(purl_str)
            .unwrap_or_else(|| ns.map_or_else(|| base.to_string(), |ns| format!("{ns}/{base}"))),
        (Ecosystem::Pypi, _) => match doc_name {
            Some(d) if bulwark_core::purl::normalize_pypi_name(d) == base => d.to_string(),
            _ => base.to_string(),
        },
        (_, Some(ns)) => format!("{ns}/{base}"),
        (_, None) => base.to_string(),
    };
    let qualifier = |key: &str| {
        purl.qualifiers()
            .iter()
            .find(|(k, _)| k.as_ref() == key)
            .map(|(_, v)| v.to_string())
    };
    let mut version = purl
        .version()
        .map(str::to_string)
        .or_else(|| doc_version.map(str::to_string))
        .unwrap_or_default();
    let mut epoch = None;
    if matches!(ecosystem, Ecosystem::Deb | Ecosystem::Rpm) {
        if let Some(e) = qualifier("epoch").and_then(|e| e.parse::<u32>().ok()) {
            epoch = Some(e);
            if e != 0 && split_epoch(&version).0.is_none() {
                version = format!("{e}:{version}");
            }
        } else {
            epoch = split_epoch(&version).0;
        }
    }
    let mut pkg = Package::new(ecosystem, name, version, SBOM_FOUND_BY);
    pkg.purl = purl_str.to_string();
    pkg.epoch = epoch;
    pkg.arch = qualifier("arch").filter(|a| !a.is_empty());
    Ok(pkg)
}

/// Applies bulwark's and Trivy's per-package properties.
fn apply_properties(pkg: &mut Package, props: &[(String, String)]) {
    let mut src_name = None;
    let mut src_version = None;
    let mut trivy_src = (None, None, None, None);
    for (k, v) in props {
        match k.as_str() {
            prop::FOUND_BY => pkg.found_by = v.clone(),
            prop::PATH | "aquasecurity:trivy:FilePath" => {
                pkg.locations.push(Location::path(v.clone()))
            }
            prop::LAYER_DIGEST | "aquasecurity:trivy:LayerDigest" => {
                if let Some(l) = pkg.locations.last_mut() {
                    l.layer_digest = Some(v.clone());
                }
            }
            prop::LAYER_DIFF_ID | "aquasecurity:trivy:LayerDiffID" => {
                if let Some(l) = pkg.locations.last_mut() {
                    l.layer_diff_id = Some(v.clone());
                }
            }
            prop::SOURCE_NAME => src_name = Some(v.clone()),
            prop::SOURCE_VERSION => src_version = Some(v.clone()),
            prop::DEV => pkg.dev = v == "true",
            prop::DIGEST => pkg.digest = Some(v.clone()),
            "aquasecurity:trivy:SrcName" => trivy_src.0 = Some(v.clone()),
            "aquasecurity:trivy:SrcVersion" => trivy_src.1 = Some(v.clone()),
            "aquasecurity:trivy:SrcRelease" => trivy_src.2 = Some(v.clone()),
            "aquasecurity:trivy:SrcEpoch" => trivy_src.3 = v.parse::<u32>().ok(),
            _ => {}
        }
    }
    if let Some(name) = src_name {
        let version = src_version.unwrap_or_else(|| pkg.version.clone());
        pkg.source = Some(SourcePackage { name, version });
    } else if let (Some(name), ver, rel, ep) = trivy_src {
        // Trivy splits the source version into epoch, version and release.
        let version = match ver {
            Some(v) => {
                let mut s = String::new();
                if let Some(e) = ep.filter(|e| *e != 0) {
                    s.push_str(&format!("{e}:"));
                }
                s.push_str(&v);
                if let Some(r) = rel.filter(|r| !r.is_empty()) {
                    s.push('-');
                    s.push_str(&r);
                }
                s
            }
            None => pkg.version.clone(),
        };
        pkg.source = Some(SourcePackage { name, version });
    }
}

/// Normalises an OS family as other tools name it to bulwark's family names.
fn normalize_family(name: &str) -> String {
    let f = name.trim().to_ascii_lowercase();
    match f.as_str() {
        "redhat" | "red hat" => "rhel".into(),
        "alma" => "almalinux".into(),
        _ => f,
    }
}

fn os_from_component(
    name: &str,
    version: &str,
    props: &[(String, String)],
    description: Option<&str>,
) -> OsInfo {
    let get = |key: &str| props.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
    OsInfo {
        family: normalize_family(name),
        version: version.to_string(),
        pretty_name: get(prop::OS_PRETTY_NAME).or_else(|| description.map(str::to_string)),
        codename: get(prop::OS_CODENAME),
        inferred: false,
    }
}

/// The OS implied by the first OS package purl with a `distro` qualifier
/// (`pkg:deb/debian/x@1?distro=debian-12.15`, `pkg:apk/alpine/x@1?distro=3.19.1`).
fn os_from_purls(packages: &[Package]) -> Option<OsInfo> {
    packages.iter().filter(|p| p.is_os()).find_map(|p| {
        let purl = PackageUrl::from_str(&p.purl).ok()?;
        let ns = purl.namespace()?.to_string();
        let distro = purl
            .qualifiers()
            .iter()
            .find(|(k, _)| k.as_ref() == "distro")
            .map(|(_, v)| v.to_string())?;
        let version = distro
            .strip_prefix(&format!("{ns}-"))
            .map(str::to_string)
            .unwrap_or(distro);
        Some(OsInfo {
            family: normalize_family(&ns),
            version,
            pretty_name: None,
            codename: None,
            inferred: true,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_rebuilt_from_purls() {
        let p =
            package_from_purl("pkg:npm/%40babel/core@7.0.0", Some("@babel/core"), None).unwrap();
        assert_eq!(
            (p.ecosystem, p.name.as_str()),
            (Ecosystem::Npm, "@babel/core")
        );
        let p = package_from_purl("pkg:maven/org.a/b@1", Some("b"), None).unwrap();
        assert_eq!(p.name, "org.a:b");
        let p = package_from_purl("pkg:golang/github.com/pkg/errors@v0.9.1", None, None).unwrap();
        assert_eq!(p.name, "github.com/pkg/errors");
        let p =
            package_from_purl("pkg:golang/github.com/0xJacky/Nginx-UI@v1.9.9", None, None).unwrap();
        assert_eq!(p.name, "github.com/0xJacky/Nginx-UI");
        let p = package_from_purl(
            "pkg:pypi/flask-sqlalchemy@3.0",
            Some("Flask_SQLAlchemy"),
            None,
        )
        .unwrap();
        assert_eq!(p.name, "Flask_SQLAlchemy");
        let p = package_from_purl("pkg:pypi/flask-sqlalchemy@3.0", Some("other"), None).unwrap();
        assert_eq!(p.name, "flask-sqlalchemy");
        let p = package_from_purl(
            "pkg:rpm/redhat/bash@4.4-1.el8?arch=x86_64&epoch=2&distro=redhat-8.9",
            None,
            None,
        )
        .unwrap();
        assert_eq!(
            (p.version.as_str(), p.epoch, p.arch.as_deref()),
            ("2:4.4-1.el8", Some(2), Some("x86_64"))
        );
        let os = os_from_purls(&[p]).unwrap();
        assert_eq!((os.family.as_str(), os.version.as_str()), ("rhel", "8.9"));
        let p = package_from_purl("pkg:bitnami/postgresql@15.3.0", None, None).unwrap();
        assert_eq!(
            (p.ecosystem, p.name.as_str()),
            (Ecosystem::Generic, "postgresql")
        );
        assert!(package_from_purl("not a purl", None, None).is_err());
    }

    #[test]
    fn refuses_non_sboms_and_bad_json() {
        assert!(matches!(
            read_sbom(b"[1,2]"),
            Err(ReportError::NotAnSbom(_))
        ));
        assert!(matches!(
            read_sbom(b"{\"a\":1}"),
            Err(ReportError::NotAnSbom(_))
        ));
        match read_sbom(b"{\n\"bomFormat\": \"CycloneDX\",\n  oops") {
            Err(ReportError::InvalidJson { line, .. }) => assert_eq!(line, 3),
            other => panic!("expected InvalidJson, got {other:?}"),
        }
        assert!(matches!(
            read_sbom(br#"{"spdxVersion":"SPDX-3.0"}"#),
            Err(ReportError::UnsupportedVersion { .. })
        ));
        assert!(matches!(
            read_sbom(br#"{"bomFormat":"CycloneDX","specVersion":"1.6","components":{}}"#),
            Err(ReportError::Malformed { .. })
        ));
    }

    #[test]
    fn deep_nesting_is_refused() {
        // One level past the limit, still well within serde_json's own recursion limit,
        // so the error must be ours.
        let mut s = String::from(r#"{"type":"library","name":"leaf"}"#);
        for _ in 0..MAX_COMPONENT_DEPTH {
            s = format!(r#"{{"type":"library","name":"x","components":[{s}]}}"#);
        }
        let doc = format!(r#"{{"bomFormat":"CycloneDX","specVersion":"1.6","components":[{s}]}}"#);
        assert!(matches!(
            read_sbom(doc.as_bytes()),
            Err(ReportError::TooDeep {
                limit: MAX_COMPONENT_DEPTH,
                ..
            })
        ));
    }

    #[test]
    fn source_info_parses() {
        let s = parse_source_info("built package from: util-linux 2.38.1-5+deb12u3; found in /x")
            .unwrap();
        assert_eq!(
            (s.name.as_str(), s.version.as_str()),
            ("util-linux", "2.38.1-5+deb12u3")
        );
        assert!(parse_source_info("something else").is_none());
    }
}
