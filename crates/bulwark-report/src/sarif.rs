//! SARIF 2.1.0 output, for code-scanning dashboards (GitHub code scanning and others).
//!
//! One rule per advisory, check or secret rule id; one result per finding, pointing at
//! the package's path (vulnerabilities) or the file and line (misconfigurations,
//! secrets). `properties.security-severity` is the highest CVSS base score when one is
//! known, else a score standing for the severity, because that is the property GitHub
//! ranks alerts by. Suppressed findings of every kind (present only with
//! `--show-suppressed`) are emitted with a SARIF `suppressions` entry carrying the
//! reason, so viewers hide them without losing the record.

use bulwark_core::{Report, Severity, VulnFinding};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The SARIF version written.
pub const SARIF_VERSION: &str = "2.1.0";

/// The schema URI written in `$schema` (the OASIS errata 01 schema).
pub const SARIF_SCHEMA: &str =
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";

/// The `security-severity` standing for a severity when no CVSS score is known: a value
/// inside the CVSS v3 qualitative band of that severity.
pub fn severity_score(s: Severity) -> f64 {
    match s {
        Severity::Critical => 9.5,
        Severity::High => 8.0,
        Severity::Medium => 5.5,
        Severity::Low => 2.0,
        Severity::Unknown => 0.0,
    }
}

/// The SARIF result level for a severity.
pub fn level(s: Severity) -> &'static str {
    match s {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Unknown => "note",
    }
}

/// The highest CVSS base score of a finding, if any.
pub(crate) fn max_cvss(v: &VulnFinding) -> Option<f64> {
    v.cvss
        .iter()
        .map(|c| c.score)
        .filter(|s| s.is_finite())
        .reduce(f64::max)
}

struct Rule {
    id: String,
    kind: &'static str,
    short: String,
    full: String,
    help_text: String,
    help_md: String,
    score: f64,
    severity: Severity,
    help_uri: Option<String>,
}

/// Builds the SARIF log for `report` as a JSON value.
pub fn to_json(report: &Report) -> Value {
    let mut rules: Vec<Rule> = Vec::new();
    let mut index: BTreeMap<String, usize> = BTreeMap::new();
    let mut results = Vec::new();

    // Findings of one advisory are grouped so the rule's help can list every package.
    let mut by_vuln: BTreeMap<&str, Vec<&VulnFinding>> = BTreeMap::new();
    for v in &report.vulnerabilities {
        by_vuln.entry(v.id.as_str()).or_default().push(v);
    }
    for (id, findings) in &by_vuln {
        let rule = vuln_rule(id, findings);
        index.insert(id.to_string(), rules.len());
        rules.push(rule);
    }
    for v in &report.vulnerabilities {
        let rule_index = index.get(&v.id).copied().unwrap_or(0);
        let fixed = if v.fixed_versions.is_empty() {
            "no fixed version".to_string()
        } else {
            format!("fixed in {}", v.fixed_versions.join(", "))
        };
        let msg = format!(
            "{} {} in {} {} ({fixed}){}",
            v.severity.as_str(),
            v.id,
            v.package,
            v.installed_version,
            if v.title.is_empty() {
                String::new()
            } else {
                format!(": {}", v.title)
            }
        );
        let uri = v.path.clone().unwrap_or_else(|| report.target.name.clone());
        let mut r = result(
            &v.id,
            rule_index,
            v.severity,
            msg,
            &uri,
            None,
            &[&v.id, &v.purl, &v.installed_version, &uri],
        );
        mark_suppressed(&mut r, v.suppressed.as_deref());
        results.push(Value::Object(r));
    }

    for m in &report.misconfigurations {
        let rule_index = *index.entry(m.check_id.clone()).or_insert_with(|| {
            let mut md = format!("**{}** ({})\n\n", md_escape(&m.title), m.check_id);
            let mut text = format!("{} ({})\n", m.title, m.check_id);
            if !m.aliases.is_empty() {
                let _ = writeln!(text, "Also known as: {}", m.aliases.join(", "));
                let _ = write!(
                    md,
                    "Also known as: {}\n\n",
                    md_escape(&m.aliases.join(", "))
                );
            }
            if !m.remediation.is_empty() {
                let _ = writeln!(text, "Remediation: {}", m.remediation);
                let _ = write!(md, "Remediation: {}\n\n", md_escape(&m.remediation));
            }
            for r in &m.references {
                let _ = writeln!(text, "{r}");
                let _ = writeln!(md, "- {}", md_escape(r));
            }
            rules.push(Rule {
                id: m.check_id.clone(),
                kind: "misconfiguration",
                short: m.title.clone(),
                full: if m.message.is_empty() {
                    m.title.clone()
                } else {
                    m.message.clone()
                },
                help_text: text,
                help_md: md,
                score: severity_score(m.severity),
                severity: m.severity,
                help_uri: m
                    .references
                    .iter()
                    .find(|r| r.starts_with("https://"))
                    .cloned(),
            });
            rules.len() - 1
        });
        let resource = m
            .resource
            .as_deref()
            .map(|r| format!(" ({r})"))
            .unwrap_or_default();
        let msg = format!(
            "{} {}{resource}: {}",
            m.severity.as_str(),
            m.check_id,
            if m.message.is_empty() {
                &m.title
            } else {
                &m.message
            }
        );
        let line = m.start_line.map(|s| (s, m.end_line));
        let key_line = m.start_line.map(|l| l.to_string()).unwrap_or_default();
        let resource_key = m.resource.clone().unwrap_or_default();
        let mut r = result(
            &m.check_id,
            rule_index,
            m.severity,
            msg,
            &m.path,
            line,
            &[&m.check_id, &m.path, &resource_key, &key_line],
        );
        mark_suppressed(&mut r, m.suppressed.as_deref());
        results.push(Value::Object(r));
    }

    for s in &report.secrets {
        let rule_index = *index.entry(s.rule_id.clone()).or_insert_with(|| {
            rules.push(Rule {
                id: s.rule_id.clone(),
                kind: "secret",
                short: s.title.clone(),
                full: format!("{} ({})", s.title, s.category),
                help_text: format!(
                    "{} ({}). Remove the secret from the file and the image history, \
                     and rotate it.",
                    s.title, s.category
                ),
                help_md: format!(
                    "**{}** ({})\n\nRemove the secret from the file and the image \
                     history, and rotate it.",
                    md_escape(&s.title),
                    md_escape(&s.category)
                ),
                score: severity_score(s.severity),
                severity: s.severity,
                help_uri: None,
            });
            rules.len() - 1
        });
        let msg = format!(
            "{} secret {} ({}): {}",
            s.severity.as_str(),
            s.rule_id,
            s.title,
            s.redacted
        );
        let key_line = s.line.map(|l| l.to_string()).unwrap_or_default();
        let mut r = result(
            &s.rule_id,
            rule_index,
            s.severity,
            msg,
            &s.path,
            s.line.map(|l| (l, None)),
            &[&s.rule_id, &s.path, &key_line, &s.redacted],
        );
        mark_suppressed(&mut r, s.suppressed.as_deref());
        results.push(Value::Object(r));
    }

    let rules: Vec<Value> = rules.iter().map(rule_json).collect();
    json!({
        "$schema": SARIF_SCHEMA,
        "version": SARIF_VERSION,
        "runs": [{
            "tool": {
                "driver": {
                    "name": "bulwark",
                    "version": env!("CARGO_PKG_VERSION"),
                    "semanticVersion": env!("CARGO_PKG_VERSION"),
                    "rules": rules,
                }
            },
            "results": results,
            "invocations": [invocation(report)],
            "properties": {
                "target": report.target.name,
                "createdAt": report.created_at,
                "incomplete": report.is_incomplete(),
                "notChecked": report.not_checked.len(),
            }
        }]
    })
}

/// The run's invocation: an incomplete scan is not a successful execution, and each
/// reason is a tool-execution notification (what SARIF viewers show as run problems).
fn invocation(report: &Report) -> Value {
    let notes: Vec<Value> = report
        .incomplete
        .iter()
        .map(|r| {
            json!({
                "level": "error",
                "descriptor": {"id": "bulwark/incomplete"},
                "message": {"text": format!("incomplete scan: {}", r.describe())},
            })
        })
        .collect();
    let mut inv = json!({"executionSuccessful": !report.is_incomplete()});
    if !notes.is_empty() {
        inv["toolExecutionNotifications"] = Value::Array(notes);
    }
    inv
}

fn vuln_rule(id: &str, findings: &[&VulnFinding]) -> Rule {
    // Findings of one advisory share title and description; take the most severe.
    let worst = findings
        .iter()
        .max_by(|a, b| a.severity.cmp(&b.severity))
        .copied();
    let title = worst.map(|v| v.title.as_str()).unwrap_or_default();
    let description = worst.map(|v| v.description.as_str()).unwrap_or_default();
    let severity = worst.map(|v| v.severity).unwrap_or_default();
    let score = findings
        .iter()
        .filter_map(|v| max_cvss(v))
        .reduce(f64::max)
        .unwrap_or_else(|| severity_score(severity));
    let short = if title.is_empty() {
        id.to_string()
    } else {
        title.to_string()
    };
    let full = if description.is_empty() {
        short.clone()
    } else {
        description.to_string()
    };

    let mut text = format!("Vulnerability {id}\nSeverity: {}\n", severity.as_str());
    let mut md = format!(
        "**Vulnerability {id}**\n\nSeverity: {}\n\n| Package | Installed | Fixed version |\n| --- | --- | --- |\n",
        severity.as_str()
    );
    for v in findings {
        let fixed = if v.fixed_versions.is_empty() {
            "no fix available".to_string()
        } else {
            v.fixed_versions.join(", ")
        };
        let _ = writeln!(
            text,
            "Package: {} {}; fixed version: {fixed}",
            v.package, v.installed_version
        );
        let _ = writeln!(
            md,
            "| {} | {} | {} |",
            md_escape(&v.package),
            md_escape(&v.installed_version),
            md_escape(&fixed)
        );
    }
    if findings.iter().any(|v| !v.fixed_versions.is_empty()) {
        text.push_str("Upgrade the package to a fixed version.\n");
        md.push_str("\nUpgrade the package to a fixed version.\n");
    }
    let refs: Vec<&String> = worst
        .map(|v| v.references.iter().collect())
        .unwrap_or_default();
    if !refs.is_empty() {
        md.push('\n');
    }
    for r in &refs {
        let _ = writeln!(text, "{r}");
        let _ = writeln!(md, "- {}", md_escape(r));
    }
    Rule {
        id: id.to_string(),
        kind: "vulnerability",
        short,
        full,
        help_text: text,
        help_md: md,
        score,
        severity,
        help_uri: refs
            .iter()
            .find(|r| r.starts_with("https://"))
            .map(|r| r.to_string()),
    }
}

fn rule_json(r: &Rule) -> Value {
    let mut o = Map::new();
    o.insert("id".into(), json!(r.id));
    o.insert("name".into(), json!(rule_name(&r.id)));
    o.insert("shortDescription".into(), json!({ "text": r.short }));
    o.insert("fullDescription".into(), json!({ "text": r.full }));
    o.insert(
        "help".into(),
        json!({ "text": r.help_text, "markdown": r.help_md }),
    );
    if let Some(u) = &r.help_uri {
        o.insert("helpUri".into(), json!(u));
    }
    o.insert(
        "defaultConfiguration".into(),
        json!({ "level": level(r.severity) }),
    );
    o.insert(
        "properties".into(),
        json!({
            "security-severity": format!("{:.1}", r.score),
            "precision": "very-high",
            "tags": [r.kind, "security", r.severity.as_str()],
        }),
    );
    Value::Object(o)
}

/// A rule `name` in the PascalCase-ish form viewers expect: the id without punctuation.
fn rule_name(id: &str) -> String {
    id.chars().filter(|c| c.is_ascii_alphanumeric()).collect()
}

#[allow(clippy::too_many_arguments)]
fn result(
    rule_id: &str,
    rule_index: usize,
    severity: Severity,
    message: String,
    path: &str,
    lines: Option<(u32, Option<u32>)>,
    identity: &[&str],
) -> Map<String, Value> {
    let mut physical = Map::new();
    physical.insert("artifactLocation".into(), json!({ "uri": path_uri(path) }));
    if let Some((start, end)) = lines.filter(|(s, _)| *s >= 1) {
        let mut region = Map::new();
        region.insert("startLine".into(), json!(start));
        if let Some(e) = end.filter(|e| *e >= start) {
            region.insert("endLine".into(), json!(e));
        }
        physical.insert("region".into(), Value::Object(region));
    }
    let mut r = Map::new();
    r.insert("ruleId".into(), json!(rule_id));
    r.insert("ruleIndex".into(), json!(rule_index));
    r.insert("level".into(), json!(level(severity)));
    r.insert("message".into(), json!({ "text": message }));
    r.insert(
        "locations".into(),
        json!([{ "physicalLocation": Value::Object(physical) }]),
    );
    r.insert(
        "partialFingerprints".into(),
        json!({ "bulwarkFindingHash/v1": fingerprint(identity) }),
    );
    r
}

/// Adds a SARIF `suppressions` entry for a suppressed finding. The kind is `external`
/// for ignore-file rules and VEX statements (kept outside the scanned sources) and
/// `inSource` for inline comments (`# bulwark:ignore=`, `# hadolint ignore=`), whose
/// reason text starts with `inline`.
fn mark_suppressed(r: &mut Map<String, Value>, reason: Option<&str>) {
    if let Some(reason) = reason {
        let kind = if reason.starts_with("inline") {
            "inSource"
        } else {
            "external"
        };
        r.insert(
            "suppressions".into(),
            json!([{ "kind": kind, "status": "accepted", "justification": reason }]),
        );
    }
}

/// A stable hash of the parts that identify a finding, so dashboards track one alert
/// across scans even when messages change.
fn fingerprint(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0u8]);
    }
    hex::encode(&h.finalize()[..16])
}

/// A relative URI reference for a path inside the target: the leading `/` dropped (image
/// paths are relative to the image root) and every byte outside the URI path characters
/// percent-encoded.
pub(crate) fn path_uri(path: &str) -> String {
    let p = path.trim_start_matches('/');
    let mut out = String::with_capacity(p.len());
    for b in p.bytes() {
        // `:` is encoded too: in a first segment it would turn the path into a scheme.
        let keep = b.is_ascii_alphanumeric() || b"-._~/!$&'()*+,;=@".contains(&b);
        if keep {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    if out.is_empty() {
        out.push('.');
    }
    out
}

fn md_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(
            c,
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '#'
        ) {
            out.push('\\');
        }
        if c == '\n' {
            out.push(' ');
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_are_relative_and_encoded() {
        assert_eq!(path_uri("/usr/lib/a b.so"), "usr/lib/a%20b.so");
        assert_eq!(path_uri("image config: ENV"), "image%20config%3A%20ENV");
        assert_eq!(path_uri("/"), ".");
    }

    #[test]
    fn levels_and_scores() {
        assert_eq!(level(Severity::Critical), "error");
        assert_eq!(level(Severity::Medium), "warning");
        assert_eq!(level(Severity::Unknown), "note");
        // Each stand-in score sits in its CVSS v3 qualitative band.
        assert!(severity_score(Severity::Critical) >= 9.0);
        assert!((7.0..9.0).contains(&severity_score(Severity::High)));
        assert!((4.0..7.0).contains(&severity_score(Severity::Medium)));
        assert!((0.1..4.0).contains(&severity_score(Severity::Low)));
    }
}
