//! VEX (Vulnerability Exploitability eXchange) input: OpenVEX documents and CycloneDX
//! BOMs with `vulnerabilities[].analysis`, read into one statement model so the filter
//! can suppress findings a supplier has declared not exploitable or fixed.
//!
//! A statement applies to a finding when one of its vulnerability ids equals the
//! finding's id or one of its aliases, and one of its products covers the finding: a
//! product without subcomponents whose purl matches the finding's purl by
//! [`purl_matches`], or that is the scanned image itself (an `oci`/`docker` purl whose
//! digest is one of the image's); or a subcomponent whose purl matches, unless its
//! product is a different image (an image purl with a digest the target does not have). When several statements apply, the
//! newest wins (statement timestamp, else document timestamp, else document order), as
//! OpenVEX prescribes for a statement history.

use packageurl::PackageUrl;
use serde_json::Value;
use std::path::Path;
use std::str::FromStr;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// The largest VEX document read (32 MiB).
pub const MAX_VEX_BYTES: u64 = 32 * 1024 * 1024;

/// How deep CycloneDX components are followed when resolving `bom-ref`s.
pub const MAX_COMPONENT_DEPTH: usize = 32;

/// Errors reading a VEX document.
#[derive(Debug, thiserror::Error)]
pub enum VexError {
    /// The file could not be read.
    #[error("reading VEX document {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The document is larger than [`MAX_VEX_BYTES`].
    #[error("VEX document {path} is over the {limit}-byte limit")]
    TooLarge {
        /// The file.
        path: String,
        /// The limit.
        limit: u64,
    },
    /// Not JSON (or nested too deeply for the JSON parser).
    #[error("VEX document {path} is not valid JSON at line {line}, column {column}: {message}")]
    InvalidJson {
        /// The file.
        path: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What the parser said.
        message: String,
    },
    /// JSON, but neither OpenVEX nor CycloneDX.
    #[error("{path} is neither an OpenVEX document nor a CycloneDX BOM")]
    UnknownFormat {
        /// The file.
        path: String,
    },
    /// A field has the wrong shape.
    #[error("VEX document {path} at {at}: {what}")]
    Malformed {
        /// The file.
        path: String,
        /// JSON-pointer-like location.
        at: String,
        /// What is wrong.
        what: String,
    },
}

/// A VEX status, normalised across OpenVEX and CycloneDX.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VexStatus {
    /// Not affected (CycloneDX `not_affected`).
    NotAffected,
    /// A false positive (CycloneDX `false_positive`): suppresses like not affected.
    FalsePositive,
    /// Fixed (CycloneDX `resolved`, `resolved_with_pedigree`).
    Fixed,
    /// Affected (CycloneDX `exploitable`): never suppresses.
    Affected,
    /// Under investigation (CycloneDX `in_triage`): never suppresses.
    UnderInvestigation,
}

impl VexStatus {
    /// Whether the status removes the finding.
    pub fn suppresses(self) -> bool {
        matches!(
            self,
            VexStatus::NotAffected | VexStatus::FalsePositive | VexStatus::Fixed
        )
    }

    /// The OpenVEX spelling (`not_affected`; `false_positive` for that CycloneDX state).
    pub fn as_str(self) -> &'static str {
        match self {
            VexStatus::NotAffected => "not_affected",
            VexStatus::FalsePositive => "false_positive",
            VexStatus::Fixed => "fixed",
            VexStatus::Affected => "affected",
            VexStatus::UnderInvestigation => "under_investigation",
        }
    }
}

/// One statement: these vulnerability ids, in these products, have this status.
#[derive(Debug, Clone)]
pub struct VexStatement {
    /// The vulnerability's name/id and aliases.
    pub vuln_ids: Vec<String>,
    /// The products the statement covers.
    pub products: Vec<VexProduct>,
    /// The status.
    pub status: VexStatus,
    /// Machine-readable justification (`vulnerable_code_not_present`, `code_not_reachable`).
    pub justification: Option<String>,
    /// Free-text impact statement or analysis detail.
    pub detail: Option<String>,
    /// When the statement was made (statement, else document timestamp).
    pub timestamp: Option<OffsetDateTime>,
}

/// A product of a statement: its purl (when it has one) and its subcomponents' purls.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VexProduct {
    /// The product's purl.
    pub purl: Option<String>,
    /// Purls of the subcomponents the statement is limited to.
    pub subcomponents: Vec<String>,
}

impl VexProduct {
    /// The image digest of an `oci`/`docker` product purl (`sha256:...`), if it is one.
    fn image_digest(&self) -> Option<String> {
        let p = PackageUrl::from_str(self.purl.as_deref()?).ok()?;
        if !matches!(p.ty(), "oci" | "docker") {
            return None;
        }
        p.version()
            .filter(|v| v.contains(':'))
            .map(str::to_ascii_lowercase)
    }

    fn covers(&self, purl: &str, target_digests: &[String]) -> bool {
        let digest = self.image_digest();
        let is_target = digest
            .as_ref()
            .is_some_and(|d| target_digests.iter().any(|t| t.eq_ignore_ascii_case(d)));
        if self.subcomponents.is_empty() {
            return is_target || self.purl.as_deref().is_some_and(|p| purl_matches(p, purl));
        }
        let other_image = digest.is_some() && !target_digests.is_empty() && !is_target;
        !other_image && self.subcomponents.iter().any(|p| purl_matches(p, purl))
    }
}

/// Which kind of document a statement came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VexFormat {
    /// OpenVEX JSON.
    OpenVex,
    /// CycloneDX BOM with vulnerabilities.
    CycloneDx,
}

/// A parsed VEX document.
#[derive(Debug, Clone)]
pub struct VexDocument {
    /// Where it was read from (for messages and the suppression text).
    pub source: String,
    /// Its format.
    pub format: VexFormat,
    /// Its statements in document order.
    pub statements: Vec<VexStatement>,
}

/// A statement that decided a finding, with where it came from.
#[derive(Debug, Clone, Copy)]
pub struct VexDecision<'a> {
    /// The document.
    pub document: &'a VexDocument,
    /// The statement.
    pub statement: &'a VexStatement,
}

impl VexDecision<'_> {
    /// The text recorded in a suppressed finding:
    /// `VEX not_affected: vulnerable_code_not_present; <detail> (<source>)`.
    pub fn describe(&self) -> String {
        let s = self.statement;
        let mut text = format!("VEX {}", s.status.as_str());
        if let Some(j) = &s.justification {
            text.push_str(&format!(": {j}"));
        }
        if let Some(d) = s.detail.as_deref().filter(|d| !d.trim().is_empty()) {
            text.push_str(&format!("; {}", d.trim()));
        }
        text.push_str(&format!(" ({})", self.document.source));
        text
    }
}

impl VexDocument {
    /// Reads and parses `path`, refusing files over [`MAX_VEX_BYTES`].
    pub fn load(path: &Path) -> Result<Self, VexError> {
        use std::io::Read;
        let name = path.display().to_string();
        let io = |source| VexError::Io {
            path: name.clone(),
            source,
        };
        let f = std::fs::File::open(path).map_err(io)?;
        let mut buf = Vec::new();
        f.take(MAX_VEX_BYTES + 1)
            .read_to_end(&mut buf)
            .map_err(io)?;
        Self::parse(&buf, &name)
    }

    /// Parses a document from bytes; `source` names it in messages.
    pub fn parse(bytes: &[u8], source: &str) -> Result<Self, VexError> {
        if bytes.len() as u64 > MAX_VEX_BYTES {
            return Err(VexError::TooLarge {
                path: source.to_string(),
                limit: MAX_VEX_BYTES,
            });
        }
        let v: Value = serde_json::from_slice(bytes).map_err(|e| VexError::InvalidJson {
            path: source.to_string(),
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        })?;
        let ctx = Ctx { source };
        if v.get("bomFormat").and_then(Value::as_str) == Some("CycloneDX") {
            return ctx.cyclonedx(&v);
        }
        let is_openvex = v
            .get("@context")
            .and_then(Value::as_str)
            .is_some_and(|c| c.contains("openvex"))
            || v.get("statements").is_some_and(Value::is_array);
        if is_openvex {
            return ctx.openvex(&v);
        }
        Err(VexError::UnknownFormat {
            path: source.to_string(),
        })
    }
}

/// Whether `st` names one of `ids` (primary id and aliases) and covers `purl`.
fn applies(st: &VexStatement, ids: &[&str], purl: &str, target_digests: &[String]) -> bool {
    st.vuln_ids
        .iter()
        .any(|v| ids.iter().any(|i| i.eq_ignore_ascii_case(v)))
        && st.products.iter().any(|p| p.covers(purl, target_digests))
}

/// The digests the scanned image is known by (image id, manifest digest, repo digests),
/// for statements whose product is the image itself.
pub fn target_digests(report: &bulwark_core::Report) -> Vec<String> {
    let Some(img) = &report.target.image else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if !img.id.is_empty() {
        out.push(img.id.clone());
    }
    out.extend(img.manifest_digest.clone());
    out.extend(
        img.repo_digests
            .iter()
            .filter_map(|d| d.rsplit_once('@').map(|(_, dig)| dig.to_string())),
    );
    out
}

/// The newest statement across `docs` that applies to a finding, or `None`;
/// `target_digests` are the scanned image's digests ([`target_digests`]).
pub fn decide<'a>(
    docs: &'a [VexDocument],
    id: &str,
    aliases: &[String],
    purl: &str,
    target_digests: &[String],
) -> Option<VexDecision<'a>> {
    let mut ids: Vec<&str> = vec![id];
    ids.extend(aliases.iter().map(String::as_str));
    let mut best: Option<(Option<OffsetDateTime>, usize, usize, VexDecision<'a>)> = None;
    for (di, doc) in docs.iter().enumerate() {
        for (si, st) in doc.statements.iter().enumerate() {
            if !applies(st, &ids, purl, target_digests) {
                continue;
            }
            let key = (st.timestamp, di, si);
            // Undated statements sort before dated ones; ties go to the later position.
            let newer = match &best {
                None => true,
                Some((t, d, s, _)) => key >= (*t, *d, *s),
            };
            if newer {
                best = Some((
                    st.timestamp,
                    di,
                    si,
                    VexDecision {
                        document: doc,
                        statement: st,
                    },
                ));
            }
        }
    }
    best.map(|(_, _, _, d)| d)
}

/// Whether a finding's `purl` is covered by a statement's `pattern` purl: type,
/// namespace and name must agree; the version only when the pattern has one; qualifiers
/// and subpath only those the pattern states. Unparsable purls match only byte-for-byte.
pub fn purl_matches(pattern: &str, purl: &str) -> bool {
    if pattern == purl {
        return true;
    }
    let (Ok(p), Ok(f)) = (PackageUrl::from_str(pattern), PackageUrl::from_str(purl)) else {
        return false;
    };
    if !p.ty().eq_ignore_ascii_case(f.ty()) {
        return false;
    }
    let pypi = p.ty().eq_ignore_ascii_case("pypi");
    let norm = |s: &str| {
        if pypi {
            bulwark_core::purl::normalize_pypi_name(s)
        } else {
            s.to_string()
        }
    };
    if p.namespace().map(str::to_ascii_lowercase) != f.namespace().map(str::to_ascii_lowercase) {
        return false;
    }
    if norm(p.name()) != norm(f.name()) {
        return false;
    }
    if let Some(v) = p.version() {
        if f.version() != Some(v) {
            return false;
        }
    }
    if let Some(sp) = p.subpath() {
        if f.subpath() != Some(sp) {
            return false;
        }
    }
    p.qualifiers()
        .iter()
        .all(|(k, v)| f.qualifiers().get(k).is_some_and(|fv| fv == v))
}

struct Ctx<'s> {
    source: &'s str,
}

impl Ctx<'_> {
    fn malformed(&self, at: String, what: impl Into<String>) -> VexError {
        VexError::Malformed {
            path: self.source.to_string(),
            at,
            what: what.into(),
        }
    }

    fn openvex(&self, v: &Value) -> Result<VexDocument, VexError> {
        let doc_time = timestamp(v.get("timestamp"));
        let statements = v
            .get("statements")
            .and_then(Value::as_array)
            .ok_or_else(|| self.malformed("/statements".into(), "missing statements array"))?;
        let mut out = Vec::with_capacity(statements.len());
        for (i, st) in statements.iter().enumerate() {
            let at = format!("/statements/{i}");
            let vuln_ids = openvex_vuln_ids(st.get("vulnerability"))
                .ok_or_else(|| self.malformed(format!("{at}/vulnerability"), "missing name"))?;
            let status = match st.get("status").and_then(Value::as_str) {
                Some("not_affected") => VexStatus::NotAffected,
                Some("fixed") => VexStatus::Fixed,
                Some("affected") => VexStatus::Affected,
                Some("under_investigation") => VexStatus::UnderInvestigation,
                Some(other) => {
                    return Err(
                        self.malformed(format!("{at}/status"), format!("unknown status {other:?}"))
                    )
                }
                None => return Err(self.malformed(format!("{at}/status"), "missing status")),
            };
            // OpenVEX v0.0.x wrote subcomponents on the statement itself.
            let statement_subs: Vec<String> = st
                .get("subcomponents")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .flat_map(openvex_product_purls)
                .collect();
            let mut products = Vec::new();
            let listed = st.get("products").and_then(Value::as_array);
            for prod in listed.into_iter().flatten() {
                let mut subcomponents: Vec<String> = prod
                    .get("subcomponents")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .flat_map(openvex_product_purls)
                    .collect();
                subcomponents.extend(statement_subs.iter().cloned());
                let purls = openvex_product_purls(prod);
                if purls.is_empty() {
                    products.push(VexProduct {
                        purl: None,
                        subcomponents: subcomponents.clone(),
                    });
                }
                for purl in purls {
                    products.push(VexProduct {
                        purl: Some(purl),
                        subcomponents: subcomponents.clone(),
                    });
                }
            }
            let text = |k: &str| st.get(k).and_then(Value::as_str).map(str::to_string);
            out.push(VexStatement {
                vuln_ids,
                products,
                status,
                justification: text("justification"),
                detail: text("impact_statement").or_else(|| text("status_notes")),
                timestamp: timestamp(st.get("timestamp"))
                    .or_else(|| timestamp(st.get("last_updated")))
                    .or(doc_time),
            });
        }
        Ok(VexDocument {
            source: self.source.to_string(),
            format: VexFormat::OpenVex,
            statements: out,
        })
    }

    fn cyclonedx(&self, v: &Value) -> Result<VexDocument, VexError> {
        let refs = bom_ref_purls(v);
        let doc_time = timestamp(v.pointer("/metadata/timestamp"));
        let vulns = v.get("vulnerabilities").and_then(Value::as_array);
        let mut out = Vec::new();
        for (i, vuln) in vulns.into_iter().flatten().enumerate() {
            let at = format!("/vulnerabilities/{i}");
            let Some(id) = vuln.get("id").and_then(Value::as_str) else {
                return Err(self.malformed(format!("{at}/id"), "missing id"));
            };
            let mut vuln_ids = vec![id.to_string()];
            let aliases = vuln.get("references").and_then(Value::as_array);
            vuln_ids.extend(
                aliases
                    .into_iter()
                    .flatten()
                    .filter_map(|r| r.get("id").and_then(Value::as_str))
                    .map(str::to_string),
            );
            let Some(analysis) = vuln.get("analysis") else {
                // A vulnerability without analysis states nothing about exploitability.
                continue;
            };
            let status = match analysis.get("state").and_then(Value::as_str) {
                Some("not_affected") => VexStatus::NotAffected,
                Some("false_positive") => VexStatus::FalsePositive,
                Some("resolved" | "resolved_with_pedigree") => VexStatus::Fixed,
                Some("exploitable") => VexStatus::Affected,
                Some("in_triage") | None => VexStatus::UnderInvestigation,
                Some(other) => {
                    return Err(self.malformed(
                        format!("{at}/analysis/state"),
                        format!("unknown state {other:?}"),
                    ))
                }
            };
            let mut purls = Vec::new();
            let affects = vuln.get("affects").and_then(Value::as_array);
            for a in affects.into_iter().flatten() {
                let Some(r) = a.get("ref").and_then(Value::as_str) else {
                    continue;
                };
                // A BOM-Link (`urn:cdx:serial/version#bom-ref`) names a ref in a BOM.
                let r = match r.strip_prefix("urn:cdx:") {
                    Some(rest) => rest.split_once('#').map_or(r, |(_, frag)| frag),
                    None => r,
                };
                match refs.iter().find(|(b, _)| b == r) {
                    Some((_, p)) => purls.push(p.clone()),
                    None if r.starts_with("pkg:") => purls.push(r.to_string()),
                    None => {}
                }
            }
            let text = |k: &str| analysis.get(k).and_then(Value::as_str).map(str::to_string);
            out.push(VexStatement {
                vuln_ids,
                products: purls
                    .into_iter()
                    .map(|p| VexProduct {
                        purl: Some(p),
                        subcomponents: Vec::new(),
                    })
                    .collect(),
                status,
                justification: text("justification"),
                detail: text("detail"),
                timestamp: timestamp(analysis.get("lastUpdated"))
                    .or_else(|| timestamp(vuln.get("updated")))
                    .or(doc_time),
            });
        }
        Ok(VexDocument {
            source: self.source.to_string(),
            format: VexFormat::CycloneDx,
            statements: out,
        })
    }
}

fn timestamp(v: Option<&Value>) -> Option<OffsetDateTime> {
    v.and_then(Value::as_str)
        .and_then(|s| OffsetDateTime::parse(s, &Rfc3339).ok())
}

/// OpenVEX `vulnerability`: an object with `name`, `@id`, `aliases`, or (v0.0.x) a string.
fn openvex_vuln_ids(v: Option<&Value>) -> Option<Vec<String>> {
    match v? {
        Value::String(s) => Some(vec![s.clone()]),
        Value::Object(o) => {
            let mut ids = Vec::new();
            for k in ["name", "@id"] {
                if let Some(s) = o.get(k).and_then(Value::as_str) {
                    ids.push(s.to_string());
                }
            }
            let aliases = o.get("aliases").and_then(Value::as_array);
            ids.extend(
                aliases
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .map(str::to_string),
            );
            (!ids.is_empty()).then_some(ids)
        }
        _ => None,
    }
}

/// Purls of an OpenVEX product: its `@id` when that is a purl, and
/// `identifiers.purl`; a bare string (v0.0.x) when it is a purl.
fn openvex_product_purls(p: &Value) -> Vec<String> {
    let mut out = Vec::new();
    match p {
        Value::String(s) if s.starts_with("pkg:") => out.push(s.clone()),
        Value::Object(o) => {
            if let Some(s) = o.get("@id").and_then(Value::as_str) {
                if s.starts_with("pkg:") {
                    out.push(s.to_string());
                }
            }
            if let Some(s) = p.pointer("/identifiers/purl").and_then(Value::as_str) {
                out.push(s.to_string());
            }
        }
        _ => {}
    }
    out
}

/// `(bom-ref, purl)` for every component of a CycloneDX BOM, nested ones included up to
/// [`MAX_COMPONENT_DEPTH`] (an explicit stack, so no recursion on input).
fn bom_ref_purls(v: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut stack: Vec<(&Value, usize)> = Vec::new();
    if let Some(c) = v.pointer("/metadata/component") {
        stack.push((c, 0));
    }
    for c in v
        .get("components")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        stack.push((c, 0));
    }
    while let Some((c, depth)) = stack.pop() {
        if let (Some(r), Some(p)) = (
            c.get("bom-ref").and_then(Value::as_str),
            c.get("purl").and_then(Value::as_str),
        ) {
            out.push((r.to_string(), p.to_string()));
        }
        if depth + 1 < MAX_COMPONENT_DEPTH {
            for child in c
                .get("components")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                stack.push((child, depth + 1));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purl_matching_rules() {
        let f = "pkg:deb/debian/openssl@3.0.11-1~deb12u2?arch=amd64&distro=debian-12";
        assert!(purl_matches("pkg:deb/debian/openssl", f));
        assert!(purl_matches("pkg:deb/debian/openssl@3.0.11-1~deb12u2", f));
        assert!(purl_matches("pkg:deb/debian/openssl?arch=amd64", f));
        assert!(!purl_matches("pkg:deb/debian/openssl?arch=arm64", f));
        assert!(!purl_matches("pkg:deb/debian/openssl@3.0.0", f));
        assert!(!purl_matches("pkg:deb/ubuntu/openssl", f));
        assert!(!purl_matches("pkg:rpm/debian/openssl", f));
        assert!(purl_matches(
            "pkg:pypi/Django_Rest@1.0",
            "pkg:pypi/django-rest@1.0"
        ));
        assert!(!purl_matches("not a purl", f));
    }
}
