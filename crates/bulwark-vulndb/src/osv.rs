//! The OSV record (https://ossf.github.io/osv-schema/), as serde types.
//!
//! Parsing is lenient where the schema allows extension (unknown fields are kept out,
//! unknown range types are kept as `Other` so they can be counted and skipped) and
//! strict where a wrong value would change a match (events must be objects with one
//! known key).

use serde::{Deserialize, Serialize};

/// One OSV vulnerability record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OsvRecord {
    /// Record id (`GHSA-...`, `CVE-...`, `DSA-...`, `PYSEC-...`).
    pub id: String,
    /// RFC 3339 time of the last change.
    #[serde(default)]
    pub modified: String,
    /// RFC 3339 time of publication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<String>,
    /// Set when the record was withdrawn; such records never match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub withdrawn: Option<String>,
    /// Ids of the same vulnerability in other databases.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// Ids of related but different vulnerabilities.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub related: Vec<String>,
    /// Upstream ids (e.g. the CVE a distro advisory is about).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub upstream: Vec<String>,
    /// One-line summary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// Longer description (Markdown).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
    /// Record-level severities.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub severity: Vec<OsvSeverity>,
    /// Affected packages.
    #[serde(default)]
    pub affected: Vec<Affected>,
    /// References.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<Reference>,
    /// Source-specific extra data (e.g. GHSA `severity`, Ubuntu priority).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_specific: Option<serde_json::Value>,
    /// Schema version the record claims.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema_version: Option<String>,
}

/// A severity entry: a CVSS vector or an ecosystem-specific rating.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OsvSeverity {
    /// `CVSS_V2`, `CVSS_V3`, `CVSS_V4`, `Ubuntu`, ...
    #[serde(rename = "type")]
    pub kind: String,
    /// The vector or rating.
    pub score: String,
}

/// A reference link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reference {
    /// `ADVISORY`, `FIX`, `WEB`, ...
    #[serde(rename = "type", default)]
    pub kind: String,
    /// The URL.
    pub url: String,
}

/// The package an `affected` entry is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OsvPackage {
    /// Ecosystem, possibly with a release (`Debian:12`, `Alpine:v3.19`, `PyPI`).
    #[serde(default)]
    pub ecosystem: String,
    /// Package name as the ecosystem spells it (distro: the source package).
    #[serde(default)]
    pub name: String,
    /// Package URL, when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purl: Option<String>,
}

/// One affected package with its ranges and versions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Affected {
    /// The package (absent in some records: such entries never match).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<OsvPackage>,
    /// Per-package severities.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub severity: Vec<OsvSeverity>,
    /// Version ranges.
    #[serde(default)]
    pub ranges: Vec<Range>,
    /// Explicitly listed affected versions.
    #[serde(default)]
    pub versions: Vec<String>,
    /// Ecosystem-specific data (e.g. Debian urgency, Go imports).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ecosystem_specific: Option<serde_json::Value>,
    /// Database-specific data (e.g. GHSA `last_known_affected_version_range`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_specific: Option<serde_json::Value>,
}

/// Range type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RangeType {
    /// Ecosystem-ordered versions.
    #[serde(rename = "ECOSYSTEM")]
    Ecosystem,
    /// SemVer 2.0 ordered versions.
    #[serde(rename = "SEMVER")]
    Semver,
    /// Git commits (not matchable against installed versions; skipped and counted).
    #[serde(rename = "GIT")]
    Git,
    /// Anything else (skipped and counted).
    #[serde(other)]
    Other,
}

/// A version range: events in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Range {
    /// Range type.
    #[serde(rename = "type")]
    pub kind: RangeType,
    /// Repository URL for GIT ranges.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repo: Option<String>,
    /// Events.
    #[serde(default)]
    pub events: Vec<Event>,
    /// Range-level extra data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_specific: Option<serde_json::Value>,
}

/// One range event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    /// Versions from here on are affected (`"0"` = from the beginning).
    Introduced(String),
    /// First version no longer affected.
    Fixed(String),
    /// Last version known affected (inclusive).
    LastAffected(String),
    /// Upper limit (exclusive) on the range, whatever the other events say.
    Limit(String),
}

/// Errors parsing an OSV document.
#[derive(Debug, thiserror::Error)]
pub enum OsvError {
    /// Not valid JSON or not an OSV record.
    #[error("invalid OSV JSON at line {line}, column {column}: {message}")]
    Json {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What serde said.
        message: String,
    },
}

/// Parses one OSV JSON record.
pub fn parse_record(bytes: &[u8]) -> Result<OsvRecord, OsvError> {
    serde_json::from_slice(bytes).map_err(|e| OsvError::Json {
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_events_and_unknown_range_types() {
        let r = parse_record(
            br#"{"id":"X-1","modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"PyPI","name":"a"},
            "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"1.2"}]},{"type":"WEIRD","events":[]}],
            "versions":["1.0"]}]}"#,
        )
        .expect("parse");
        let a = &r.affected[0];
        assert_eq!(a.ranges[0].kind, RangeType::Ecosystem);
        assert_eq!(a.ranges[0].events[1], Event::Fixed("1.2".into()));
        assert_eq!(a.ranges[1].kind, RangeType::Other);
    }

    #[test]
    fn bad_json_has_position() {
        let e = parse_record(b"{\n \"id\": 3 }").unwrap_err();
        assert!(e.to_string().contains("line 2"), "{e}");
    }
}
