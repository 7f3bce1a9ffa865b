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
    /// Set when an ignore rule or an inline suppression comment accepted it (shown with
    /// `--show-suppressed` and in JSON): which rule or comment, and why. Suppressed
    /// findings do not count towards totals or the exit code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suppressed: Option<String>,
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
    /// Set when an ignore rule accepted it (shown with `--show-suppressed` and in JSON):
    /// which rule, and why. Suppressed findings do not count towards totals or the exit
    /// code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suppressed: Option<String>,
}

/// Whether a fix exists for a vulnerable package, as the advisory states it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FixStatus {
    /// A fixed version exists.
    Fixed,
    /// Affected, no fix available (yet).
    #[default]
    Affected,
    /// The distro will not fix it.
    WillNotFix,
    /// The distro deferred the fix.
    FixDeferred,
    /// The package's release is end of life.
    EndOfLife,
    /// Under investigation.
    UnderInvestigation,
}

/// A CVSS score and its vector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cvss {
    /// `3.0`, `3.1` or `4.0`.
    pub version: String,
    /// The vector string (`CVSS:3.1/AV:N/...`).
    pub vector: String,
    /// Base score computed from the vector.
    pub score: f64,
    /// Who published it (`nvd`, `ghsa`, `debian`, the OSV record's source).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// A known vulnerability matched to an installed package.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VulnFinding {
    /// Primary id: the CVE when there is one, else the advisory id.
    pub id: String,
    /// Every other id this finding is known by (GHSA, distro advisories, OSV ids).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// Package name.
    pub package: String,
    /// Package purl.
    pub purl: String,
    /// Installed version.
    pub installed_version: String,
    /// Versions that fix it (the lowest first), empty when none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fixed_versions: Vec<String>,
    /// Fix status.
    pub status: FixStatus,
    /// Severity after the documented precedence rule.
    pub severity: Severity,
    /// Where the severity came from (`cvss-v3.1`, `debian`, `ghsa`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity_source: Option<String>,
    /// CVSS scores known for it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cvss: Vec<Cvss>,
    /// One-line summary.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub title: String,
    /// Longer description (may be trimmed).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Reference URLs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<String>,
    /// Listed in CISA's Known Exploited Vulnerabilities catalog.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub kev: bool,
    /// EPSS probability (0–1) and percentile, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epss: Option<(f64, f64)>,
    /// Path of the package (first location).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Layer digest that introduced the package.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer: Option<String>,
    /// Set when a VEX statement or ignore rule suppressed it (shown with `--show-suppressed`
    /// and in JSON): the reason and justification.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suppressed: Option<String>,
}
