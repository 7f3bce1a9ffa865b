//! The severity precedence rule (documented in `docs/severity.md`): which of the ratings
//! an OSV record carries becomes the finding's [`Severity`], and from which source.
//!
//! 1. For OS packages, a distro advisory's own rating: Debian urgency, Ubuntu priority,
//!    Red Hat / AlmaLinux / Rocky impact (and SUSE/openSUSE when given the same way).
//! 2. The highest CVSS v3.x base score among the record's vectors; a v4.0 score only
//!    when there is no v3.x vector.
//! 3. GitHub's `database_specific.severity` (LOW / MODERATE / HIGH / CRITICAL).
//! 4. A CVSS v2 score (older records carry nothing else).
//! 5. UNKNOWN.

use bulwark_core::{Cvss, Severity};
use serde_json::Value;

use crate::cvss::{self, CvssVersion};
use crate::osv::{Affected, OsvRecord};

/// The rating chosen for a record and everything it was chosen from.
#[derive(Debug, Clone, PartialEq)]
pub struct Assessment {
    /// The severity after the precedence rule.
    pub severity: Severity,
    /// Which source won: `debian`, `ubuntu`, `redhat`, `almalinux`, `rocky`, `suse`,
    /// `cvss-v3.1`, `cvss-v3.0`, `cvss-v4.0`, `ghsa`, `cvss-v2.0`; `None` for UNKNOWN.
    pub source: Option<String>,
    /// Every CVSS vector of the record that could be scored.
    pub cvss: Vec<Cvss>,
}

/// Source label for the sources that a distro rating counts as.
pub const DISTRO_SOURCES: [&str; 6] = ["debian", "ubuntu", "redhat", "almalinux", "rocky", "suse"];

/// Whether a `severity_source` label names a distro's own rating.
pub fn is_distro_source(source: Option<&str>) -> bool {
    source.is_some_and(|s| DISTRO_SOURCES.contains(&s))
}

/// Who published a record, from its id prefix (`GHSA-…` → `ghsa`).
pub fn record_source(id: &str) -> String {
    let prefix = id.split('-').next().unwrap_or(id);
    match prefix {
        "ALSA" | "ALBA" | "ALEA" => "almalinux".into(),
        "RHSA" | "RHBA" | "RHEA" => "redhat".into(),
        "RLSA" | "RXSA" => "rocky".into(),
        "DSA" | "DLA" | "DTSA" | "DEBIAN" | "ELA" => "debian".into(),
        "USN" | "LSN" | "UBUNTU" => "ubuntu".into(),
        "CVE" => "nvd".into(),
        other => other.to_ascii_lowercase(),
    }
}

/// Maps a distro word (`important`, `moderate`, `medium*`, `negligible`) to a
/// severity; `None` for words that mean "not rated" (`not yet assigned`, `untriaged`).
pub fn distro_word(word: &str) -> Option<Severity> {
    let w = word.trim().trim_end_matches('*').to_ascii_lowercase();
    Some(match w.as_str() {
        "unimportant" | "negligible" | "low" => Severity::Low,
        "medium" | "moderate" => Severity::Medium,
        "high" | "important" => Severity::High,
        "critical" => Severity::Critical,
        _ => return None,
    })
}

fn str_at<'a>(v: Option<&'a Value>, key: &str) -> Option<&'a str> {
    v.and_then(|v| v.get(key)).and_then(Value::as_str)
}

/// The distro's own rating for the matched entries of a distro record, with its label.
pub fn distro_severity(record: &OsvRecord, entries: &[&Affected]) -> Option<(Severity, String)> {
    let base = entries
        .iter()
        .filter_map(|a| a.package.as_ref())
        .map(|p| p.ecosystem.split(':').next().unwrap_or("").to_string())
        .next()?;
    let best = |words: Vec<&str>| words.into_iter().filter_map(distro_word).max();
    match base.as_str() {
        "Debian" => best(
            entries
                .iter()
                .filter_map(|a| str_at(a.ecosystem_specific.as_ref(), "urgency"))
                .collect(),
        )
        .map(|s| (s, "debian".into())),
        "Ubuntu" => {
            let mut words: Vec<&str> = record
                .severity
                .iter()
                .chain(entries.iter().flat_map(|a| a.severity.iter()))
                .filter(|s| s.kind.eq_ignore_ascii_case("ubuntu"))
                .map(|s| s.score.as_str())
                .collect();
            words.extend(
                entries
                    .iter()
                    .filter_map(|a| str_at(a.ecosystem_specific.as_ref(), "ubuntu_priority")),
            );
            best(words).map(|s| (s, "ubuntu".into()))
        }
        "Red Hat" | "AlmaLinux" | "Rocky Linux" | "SUSE" | "openSUSE" => {
            let label = match base.as_str() {
                "Red Hat" => "redhat",
                "AlmaLinux" => "almalinux",
                "Rocky Linux" => "rocky",
                _ => "suse",
            };
            rpm_distro_word(record, entries).map(|s| (s, label.into()))
        }
        _ => None,
    }
}

/// RPM-family advisories state their impact in `database_specific.severity`, in a
/// Red Hat classification link (`…/classification/#important`) or as the summary's
/// prefix (`Important: kernel security update`).
fn rpm_distro_word(record: &OsvRecord, entries: &[&Affected]) -> Option<Severity> {
    if let Some(s) = str_at(record.database_specific.as_ref(), "severity")
        .or_else(|| {
            entries
                .iter()
                .find_map(|a| str_at(a.database_specific.as_ref(), "severity"))
        })
        .and_then(distro_word)
    {
        return Some(s);
    }
    if let Some(s) = record.references.iter().find_map(|r| {
        r.url
            .split_once("/classification/#")
            .and_then(|(_, w)| distro_word(w))
    }) {
        return Some(s);
    }
    record
        .summary
        .as_deref()
        .and_then(|s| s.split_once(':'))
        .and_then(|(w, _)| distro_word(w))
}

/// Scores every CVSS vector of the record and of the matched entries; vectors that do not
/// validate are logged and left out.
pub fn cvss_of(record: &OsvRecord, entries: &[&Affected]) -> Vec<Cvss> {
    let source = record_source(&record.id);
    let mut out: Vec<Cvss> = Vec::new();
    for s in record
        .severity
        .iter()
        .chain(entries.iter().flat_map(|a| a.severity.iter()))
    {
        if !s.kind.starts_with("CVSS_") {
            continue;
        }
        match cvss::score(&s.score) {
            Ok(c) => {
                if !out.iter().any(|o| o.vector == c.vector) {
                    out.push(Cvss {
                        version: c.version.as_str().to_string(),
                        vector: c.vector,
                        score: c.score,
                        source: Some(source.clone()),
                    });
                }
            }
            Err(e) => {
                tracing::warn!(record = %record.id, vector = %s.score, "skipping CVSS vector: {e}")
            }
        }
    }
    out
}

/// Applies the precedence rule to a record's matched entries.
pub fn assess(record: &OsvRecord, entries: &[&Affected], os_package: bool) -> Assessment {
    let cvss = cvss_of(record, entries);
    let (severity, source) = choose(record, entries, os_package, &cvss);
    Assessment {
        severity,
        source,
        cvss,
    }
}

fn best_cvss(cvss: &[Cvss], versions: &[&str]) -> Option<(Severity, String)> {
    cvss.iter()
        .filter(|c| versions.contains(&c.version.as_str()))
        .max_by(|a, b| a.score.total_cmp(&b.score))
        .map(|c| (cvss::rating(c.score), format!("cvss-v{}", c.version)))
}

fn choose(
    record: &OsvRecord,
    entries: &[&Affected],
    os_package: bool,
    cvss: &[Cvss],
) -> (Severity, Option<String>) {
    if os_package {
        if let Some((s, src)) = distro_severity(record, entries) {
            return (s, Some(src));
        }
    }
    let v3 = [CvssVersion::V3_1.as_str(), CvssVersion::V3_0.as_str()];
    if let Some((s, src)) = best_cvss(cvss, &v3).or_else(|| best_cvss(cvss, &["4.0"])) {
        return (s, Some(src));
    }
    if let Some(s) = str_at(record.database_specific.as_ref(), "severity")
        .and_then(|w| w.parse::<Severity>().ok())
        .filter(|s| *s != Severity::Unknown)
    {
        return (s, Some("ghsa".into()));
    }
    if let Some((s, src)) = best_cvss(cvss, &["2.0"]) {
        return (s, Some(src));
    }
    (Severity::Unknown, None)
}
