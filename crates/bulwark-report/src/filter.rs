//! Post-scan filtering of findings: severity, fix availability and package class
//! filters, the `.bulwarkignore` file and VEX statements.
//!
//! Severity, unfixed and package-class filters only narrow what the user asked to see,
//! so their findings are always removed. Ignore rules, VEX statements and inline
//! suppression comments are decisions about real findings, so with `show_suppressed`
//! those findings of every kind stay in the report with their `suppressed` reason set
//! ([`VulnFinding::suppressed`], [`bulwark_core::Misconfiguration::suppressed`],
//! [`bulwark_core::SecretFinding::suppressed`]); without it they are removed. Either way suppressed
//! findings never count towards [`has_findings`].

use crate::ignore::{IgnoreFile, IgnoreMatch};
use crate::vex::{self, VexDocument};
use bulwark_core::{FixStatus, Report, Severity, VulnFinding};
use std::collections::BTreeMap;
use time::Date;

/// Whether a vulnerable package belongs to the OS or is a language library.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PkgClass {
    /// deb, apk and rpm packages.
    Os,
    /// Everything else.
    Library,
}

impl PkgClass {
    /// The class of the package a purl names (`pkg:deb/...` is OS).
    pub fn of_purl(purl: &str) -> PkgClass {
        let ty = purl
            .strip_prefix("pkg:")
            .and_then(|rest| rest.split('/').next())
            .unwrap_or("");
        match bulwark_core::Ecosystem::from_purl_type(&ty.to_ascii_lowercase()) {
            Some(e) if e.is_os() => PkgClass::Os,
            _ => PkgClass::Library,
        }
    }
}

impl std::str::FromStr for PkgClass {
    type Err = String;

    /// Parses the CLI spelling: `os` or `library`.
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "os" => Ok(PkgClass::Os),
            "library" | "lib" => Ok(PkgClass::Library),
            other => Err(format!(
                "unknown package type {other:?} (expected os or library)"
            )),
        }
    }
}

/// What to keep.
#[derive(Debug, Clone)]
pub struct FilterOptions {
    /// Severities to keep; empty keeps every severity.
    pub severities: Vec<Severity>,
    /// Drop vulnerabilities without a fixed version.
    pub ignore_unfixed: bool,
    /// Package classes whose vulnerabilities are kept; empty keeps both.
    pub pkg_types: Vec<PkgClass>,
    /// The `.bulwarkignore` file, when there is one.
    pub ignore: Option<IgnoreFile>,
    /// VEX documents.
    pub vex: Vec<VexDocument>,
    /// Keep suppressed findings of every kind (ignore rule, VEX, inline comment), marked,
    /// instead of removing them.
    pub show_suppressed: bool,
    /// Today, for ignore-rule expiry.
    pub now: Date,
}

impl FilterOptions {
    /// Options that keep everything, as of `now`.
    pub fn new(now: Date) -> Self {
        FilterOptions {
            severities: Vec::new(),
            ignore_unfixed: false,
            pkg_types: Vec::new(),
            ignore: None,
            vex: Vec::new(),
            show_suppressed: false,
            now,
        }
    }
}

/// Why a finding was filtered out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FilterReason {
    /// Its severity is not among those requested.
    Severity,
    /// No fix is available and `ignore_unfixed` is set.
    Unfixed,
    /// Its package class was not requested.
    PkgType,
    /// An ignore rule matched.
    Ignored,
    /// A VEX statement says not affected / fixed.
    Vex,
}

/// What [`apply`] did.
#[derive(Debug, Clone, Default)]
pub struct FilterSummary {
    /// Findings filtered out (or marked suppressed), by reason, all kinds together.
    /// Findings that arrived already suppressed (inline comments) count as `Ignored`.
    pub suppressed: BTreeMap<FilterReason, usize>,
    /// Expired ignore rules that matched a finding: one message per rule.
    pub warnings: Vec<String>,
}

impl FilterSummary {
    /// How many findings were filtered for `reason`.
    pub fn count(&self, reason: FilterReason) -> usize {
        self.suppressed.get(&reason).copied().unwrap_or(0)
    }

    fn add(&mut self, reason: FilterReason) {
        *self.suppressed.entry(reason).or_default() += 1;
    }
}

/// Filters `report` in place; see the module documentation for what happens to each kind.
pub fn apply(report: &mut Report, opts: &FilterOptions) -> FilterSummary {
    let mut summary = FilterSummary::default();
    let sev_ok = |s: Severity| opts.severities.is_empty() || opts.severities.contains(&s);

    let digests = vex::target_digests(report);
    let vulns = std::mem::take(&mut report.vulnerabilities);
    for mut v in vulns {
        if !opts.pkg_types.is_empty() && !opts.pkg_types.contains(&PkgClass::of_purl(&v.purl)) {
            summary.add(FilterReason::PkgType);
            continue;
        }
        if !sev_ok(v.severity) {
            summary.add(FilterReason::Severity);
            continue;
        }
        if opts.ignore_unfixed && !has_fix(&v) {
            summary.add(FilterReason::Unfixed);
            continue;
        }
        // A finding already suppressed upstream keeps its reason.
        if v.suppressed.is_none() {
            if let Some((reason, text)) =
                vuln_suppression(&v, opts, &digests, &mut summary.warnings)
            {
                summary.add(reason);
                if !opts.show_suppressed {
                    continue;
                }
                v.suppressed = Some(text);
            }
        } else if !opts.show_suppressed {
            continue;
        }
        report.vulnerabilities.push(v);
    }

    let misconfs = std::mem::take(&mut report.misconfigurations);
    for mut m in misconfs {
        if !sev_ok(m.severity) {
            summary.add(FilterReason::Severity);
            continue;
        }
        let verdict = match &opts.ignore {
            Some(ign) if m.suppressed.is_none() => ign.match_misconfig(&m, opts.now),
            _ => IgnoreMatch::None,
        };
        if keep_marked(&mut m.suppressed, verdict, opts, &mut summary) {
            report.misconfigurations.push(m);
        }
    }

    let secrets = std::mem::take(&mut report.secrets);
    for mut s in secrets {
        if !sev_ok(s.severity) {
            summary.add(FilterReason::Severity);
            continue;
        }
        let verdict = match &opts.ignore {
            Some(ign) if s.suppressed.is_none() => ign.match_secret(&s, opts.now),
            _ => IgnoreMatch::None,
        };
        if keep_marked(&mut s.suppressed, verdict, opts, &mut summary) {
            report.secrets.push(s);
        }
    }
    summary
}

/// Applies an ignore-file verdict to a misconfiguration's or secret's `suppressed` field;
/// returns whether the finding stays in the report. A reason set upstream (an inline
/// `# bulwark:ignore=` comment) is kept and the ignore file is not consulted, as for
/// vulnerabilities. An expired rule suppresses nothing and leaves a warning.
fn keep_marked(
    suppressed: &mut Option<String>,
    verdict: IgnoreMatch,
    opts: &FilterOptions,
    summary: &mut FilterSummary,
) -> bool {
    match verdict {
        IgnoreMatch::Suppressed(text) => *suppressed = Some(text),
        IgnoreMatch::Expired(w) => warn_once(&mut summary.warnings, w),
        IgnoreMatch::None => {}
    }
    if suppressed.is_none() {
        return true;
    }
    summary.add(FilterReason::Ignored);
    opts.show_suppressed
}

/// An expired rule matching many findings is reported once.
fn warn_once(warnings: &mut Vec<String>, w: String) {
    if !warnings.contains(&w) {
        warnings.push(w);
    }
}

/// Whether a fixed version is known.
fn has_fix(v: &VulnFinding) -> bool {
    !v.fixed_versions.is_empty() || v.status == FixStatus::Fixed
}

fn vuln_suppression(
    v: &VulnFinding,
    opts: &FilterOptions,
    digests: &[String],
    warnings: &mut Vec<String>,
) -> Option<(FilterReason, String)> {
    if let Some(ign) = &opts.ignore {
        match ign.match_vuln(v, opts.now) {
            IgnoreMatch::Suppressed(text) => return Some((FilterReason::Ignored, text)),
            IgnoreMatch::Expired(w) => warn_once(warnings, w),
            IgnoreMatch::None => {}
        }
    }
    let decision = vex::decide(&opts.vex, &v.id, &v.aliases, &v.purl, digests)?;
    decision
        .statement
        .status
        .suppresses()
        .then(|| (FilterReason::Vex, decision.describe()))
}

/// Whether any unsuppressed finding of any kind at or above `threshold` remains.
pub fn has_findings(report: &Report, threshold: Severity) -> bool {
    report
        .vulnerabilities
        .iter()
        .any(|v| v.suppressed.is_none() && v.severity >= threshold)
        || report
            .misconfigurations
            .iter()
            .any(|m| m.suppressed.is_none() && m.severity >= threshold)
        || report
            .secrets
            .iter()
            .any(|s| s.suppressed.is_none() && s.severity >= threshold)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purl_classes() {
        assert_eq!(PkgClass::of_purl("pkg:deb/debian/openssl@1"), PkgClass::Os);
        assert_eq!(PkgClass::of_purl("pkg:APK/alpine/musl@1"), PkgClass::Os);
        assert_eq!(PkgClass::of_purl("pkg:npm/lodash@1"), PkgClass::Library);
        assert_eq!(PkgClass::of_purl(""), PkgClass::Library);
        assert_eq!("OS".parse::<PkgClass>(), Ok(PkgClass::Os));
        assert_eq!("library".parse::<PkgClass>(), Ok(PkgClass::Library));
        assert!("kernel".parse::<PkgClass>().is_err());
    }
}
