//! CVSS base scores computed from vector strings (v2.0, v3.0, v3.1 and v4.0).
//!
//! OSV records carry CVSS *vectors*, never scores, so bulwark computes the base score
//! itself. Each calculator follows the FIRST specification of its version:
//! - v2.0: "A Complete Guide to the Common Vulnerability Scoring System Version 2.0", §3.2.1.
//! - v3.0 / v3.1: "CVSS v3.x Specification Document", §7.1 (base equations) and, for v3.1,
//!   Appendix A (the floating-point-safe `Roundup`).
//! - v4.0: "CVSS v4.0 Specification Document", §8 and the reference calculator's macrovector
//!   lookup table and severity-distance interpolation ([`v4`]).
//!
//! Vectors are validated strictly: an unknown metric, a repeated metric, a missing base
//! metric or an unknown value is an error, never a guessed score.

mod v2;
mod v3;
pub mod v4;
mod v4_table;

use std::fmt;

use bulwark_core::Severity;

/// Longest vector accepted, in bytes (the longest legal v4.0 vector is under 300 bytes).
pub const MAX_VECTOR_LEN: usize = 512;

/// The CVSS version a vector is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CvssVersion {
    /// 2.0 (bare `AV:N/AC:L/Au:N/C:P/I:P/A:P`).
    V2,
    /// 3.0 (`CVSS:3.0/...`).
    V3_0,
    /// 3.1 (`CVSS:3.1/...`).
    V3_1,
    /// 4.0 (`CVSS:4.0/...`).
    V4_0,
}

impl CvssVersion {
    /// `2.0`, `3.0`, `3.1` or `4.0`.
    pub fn as_str(self) -> &'static str {
        match self {
            CvssVersion::V2 => "2.0",
            CvssVersion::V3_0 => "3.0",
            CvssVersion::V3_1 => "3.1",
            CvssVersion::V4_0 => "4.0",
        }
    }
}

impl fmt::Display for CvssVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A vector that could not be scored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CvssError {
    /// The vector is empty or longer than [`MAX_VECTOR_LEN`].
    #[error("CVSS vector has a bad length ({0} bytes)")]
    Length(usize),
    /// No or an unsupported `CVSS:x.y/` prefix.
    #[error("unsupported CVSS version prefix {0:?}")]
    Version(String),
    /// A component is not `METRIC:VALUE`.
    #[error("malformed CVSS component {component:?} (position {position})")]
    Component {
        /// The offending component.
        component: String,
        /// 1-based position among the `/`-separated components.
        position: usize,
    },
    /// A metric this version does not define.
    #[error("unknown CVSS {version} metric {metric:?}")]
    UnknownMetric {
        /// CVSS version.
        version: CvssVersion,
        /// The metric abbreviation.
        metric: String,
    },
    /// A value the metric does not allow.
    #[error("invalid value {value:?} for CVSS {version} metric {metric}")]
    InvalidValue {
        /// CVSS version.
        version: CvssVersion,
        /// The metric.
        metric: String,
        /// The value given.
        value: String,
    },
    /// The same metric twice.
    #[error("CVSS {version} metric {metric} given more than once")]
    Duplicate {
        /// CVSS version.
        version: CvssVersion,
        /// The metric.
        metric: String,
    },
    /// The v4.0 macrovector table has no entry for the vector's EQ levels.
    #[error("CVSS 4.0 macrovector {0} is not in the lookup table")]
    NoMacrovector(String),
    /// A mandatory base metric is absent.
    #[error("CVSS {version} vector lacks base metric {metric}")]
    Missing {
        /// CVSS version.
        version: CvssVersion,
        /// The metric.
        metric: String,
    },
}

/// A validated vector with its computed base score.
#[derive(Debug, Clone, PartialEq)]
pub struct CvssScore {
    /// Version the vector is written in.
    pub version: CvssVersion,
    /// The vector as given (trimmed).
    pub vector: String,
    /// Base score, 0.0–10.0 with one decimal. For v4.0 vectors that carry threat or
    /// environmental metrics this is the CVSS-BT/BE/BTE score the specification defines
    /// for that vector.
    pub score: f64,
}

impl CvssScore {
    /// The qualitative rating of the score (see [`rating`]).
    pub fn severity(&self) -> Severity {
        rating(self.score)
    }
}

/// Parses and scores a vector of any supported version, detected from its prefix
/// (`CVSS:3.1/`, `CVSS:3.0/`, `CVSS:4.0/`; no prefix, or `(…)`, means v2).
pub fn score(vector: &str) -> Result<CvssScore, CvssError> {
    let v = vector.trim();
    if v.is_empty() || v.len() > MAX_VECTOR_LEN {
        return Err(CvssError::Length(v.len()));
    }
    let (version, score) = if let Some(rest) = v.strip_prefix("CVSS:3.1/") {
        (CvssVersion::V3_1, v3::score(rest, CvssVersion::V3_1)?)
    } else if let Some(rest) = v.strip_prefix("CVSS:3.0/") {
        (CvssVersion::V3_0, v3::score(rest, CvssVersion::V3_0)?)
    } else if let Some(rest) = v.strip_prefix("CVSS:4.0/") {
        (CvssVersion::V4_0, v4::score(rest)?)
    } else if let Some(rest) = v.strip_prefix("CVSS:2.0/") {
        (CvssVersion::V2, v2::score(rest)?)
    } else if v.starts_with("CVSS:") {
        let prefix: String = v.chars().take_while(|c| *c != '/').take(16).collect();
        return Err(CvssError::Version(prefix));
    } else {
        let bare = v
            .strip_prefix('(')
            .and_then(|s| s.strip_suffix(')'))
            .unwrap_or(v);
        (CvssVersion::V2, v2::score(bare)?)
    };
    Ok(CvssScore {
        version,
        vector: v.to_string(),
        score,
    })
}

/// The CVSS qualitative severity rating scale (v3.x / v4.0 specification, Table 14 / §6):
/// 0.1–3.9 LOW, 4.0–6.9 MEDIUM, 7.0–8.9 HIGH, 9.0–10.0 CRITICAL.
///
/// The scale's `None` (0.0) has no counterpart in [`Severity`]; bulwark rates it LOW
/// because the advisory still says the package is affected, and UNKNOWN would claim
/// that nobody rated it (see `docs/severity.md`).
pub fn rating(score: f64) -> Severity {
    if score >= 9.0 {
        Severity::Critical
    } else if score >= 7.0 {
        Severity::High
    } else if score >= 4.0 {
        Severity::Medium
    } else {
        Severity::Low
    }
}

/// Splits `METRIC:VALUE/…` into pairs, rejecting empty or malformed components and
/// duplicates. `allowed(metric)` returns the metric's legal values or `None` when the
/// metric is unknown.
pub(crate) fn parse_components(
    body: &str,
    version: CvssVersion,
    allowed: impl Fn(&str) -> Option<&'static [&'static str]>,
) -> Result<Vec<(&str, &str)>, CvssError> {
    let mut out: Vec<(&str, &str)> = Vec::new();
    for (i, comp) in body.split('/').enumerate() {
        let (m, val) = comp
            .split_once(':')
            .filter(|(m, val)| !m.is_empty() && !val.is_empty() && !val.contains(':'))
            .ok_or_else(|| CvssError::Component {
                component: comp.chars().take(32).collect(),
                position: i + 1,
            })?;
        let legal = allowed(m).ok_or_else(|| CvssError::UnknownMetric {
            version,
            metric: m.chars().take(16).collect(),
        })?;
        if !legal.contains(&val) {
            return Err(CvssError::InvalidValue {
                version,
                metric: m.to_string(),
                value: val.chars().take(16).collect(),
            });
        }
        if out.iter().any(|(seen, _)| *seen == m) {
            return Err(CvssError::Duplicate {
                version,
                metric: m.to_string(),
            });
        }
        out.push((m, val));
    }
    Ok(out)
}

/// The value of `metric` in parsed components, or a `Missing` error.
pub(crate) fn require<'a>(
    comps: &[(&str, &'a str)],
    metric: &str,
    version: CvssVersion,
) -> Result<&'a str, CvssError> {
    comps
        .iter()
        .find(|(m, _)| *m == metric)
        .map(|(_, v)| *v)
        .ok_or_else(|| CvssError::Missing {
            version,
            metric: metric.to_string(),
        })
}
