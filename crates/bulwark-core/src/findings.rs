//! Findings of every kind: vulnerabilities matched to packages, misconfigurations and
//! secrets. Shared by the scanners, the report formats and the server.

use serde::{Deserialize, Serialize};

/// Severity, ordered from least to most severe.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "UPPERCASE")]
pub enum Severity {
    /// Not rated.
    #[default]
    Unknown,
    /// Low.
    Low,
    /// Medium.
    Medium,
    /// High.
    High,
    /// Critical.
    Critical,
}

impl Severity {
    /// All severities, least severe first.
    pub const ALL: [Severity; 5] = [
        Severity::Unknown,
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    /// The upper-case name (`HIGH`).
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Unknown => "UNKNOWN",
            Severity::Low => "LOW",
            Severity::Medium => "MEDIUM",
            Severity::High => "HIGH",
            Severity::Critical => "CRITICAL",
        }
    }
}

impl std::str::FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_uppercase().as_str() {
            "UNKNOWN" | "NONE" => Ok(Severity::Unknown),
            "LOW" => Ok(Severity::Low),
            "MEDIUM" | "MODERATE" => Ok(Severity::Medium),
            "HIGH" | "IMPORTANT" => Ok(Severity::High),
            "CRITICAL" => Ok(Severity::Critical),
            other => Err(format!(
                "unknown severity {other:?} (expected UNKNOWN, LOW, MEDIUM, HIGH or CRITICAL)"
            )),
        }
    }
}

/// A misconfiguration found by a check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Misconfiguration {
    /// Stable check id (`BW-DF-0001`, `BW-K8S-0012`).
    pub check_id: String,
    /// Other tools' ids for the same check (`DL3007`, `DS001`, `KSV017`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// Short title.
    pub title: String,
    /// Severity.
    pub severity: Severity,
    /// What was found, for this resource.
    pub message: String,
    /// How to fix it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub remediation: String,
    /// The file (or `image config`).
    pub path: String,
    /// First line of the offending construct (1-based), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_line: Option<u32>,
    /// Last line, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_line: Option<u32>,
    /// The resource (`Deployment/web`, `stage builder`, `service db`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    /// Layer digest, when found inside an image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer: Option<String>,
    /// References: CIS items, PSS controls, NIST SP 800-190 sections, URLs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<String>,
}

/// A secret found in a file or in image metadata. The match is always redacted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretFinding {
    /// Rule id (`aws-access-key-id`).
    pub rule_id: String,
    /// Category (`AWS`, `GitHub`, `PrivateKey`).
    pub category: String,
    /// Human title.
    pub title: String,
    /// Severity.
    pub severity: Severity,
    /// File path (or `image config: ENV`).
    pub path: String,
    /// 1-based line of the match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    /// The matched line with the secret replaced by `*****`.
    pub redacted: String,
    /// Layer digest where the file was found, for images.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer: Option<String>,
    /// True when a later layer deleted or replaced the file (still in the image's layers).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deleted: bool,
}
