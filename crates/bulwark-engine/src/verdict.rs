//! Suppression and the verdict: what the user asked to see, what they decided to accept
//! (the ignore file, VEX statements, inline comments), and whether what remains fails
//! the gate.
//!
//! The gate is explicit: the severities reported, whether unfixed vulnerabilities count,
//! the package classes, and the exit code a failing scan returns. Suppressed findings
//! never count, even when `show_suppressed` keeps them in the report.

use bulwark_core::{Report, Severity, Warning};
use bulwark_report::filter::{self, FilterOptions, FilterReason, PkgClass};
use bulwark_report::ignore::IgnoreFile;
use bulwark_report::vex::VexDocument;

/// Default ignore file, read from the working directory when present.
pub const DEFAULT_IGNOREFILE: &str = ".bulwarkignore";

/// Decisions about real findings.
#[derive(Debug, Clone, Default)]
pub struct Suppression {
    /// The ignore file.
    pub ignore: Option<IgnoreFile>,
    /// VEX documents (OpenVEX, CycloneDX VEX, CSAF).
    pub vex: Vec<VexDocument>,
    /// Keep suppressed findings in the report, marked with the reason.
    pub show_suppressed: bool,
}

/// What is reported and what fails.
#[derive(Debug, Clone, Default)]
pub struct Gate {
    /// Severities reported (and gated); empty means all.
    pub severities: Vec<Severity>,
    /// Drop vulnerabilities that have no fixed version.
    pub ignore_unfixed: bool,
    /// Package classes whose vulnerabilities are reported; empty means both.
    pub pkg_types: Vec<PkgClass>,
    /// The exit code of a failing scan; 0 means the scan never fails.
    pub exit_code: u8,
    /// Gate only on what was checked: an incomplete scan (a package database that could
    /// not be read, packages with no advisory source...) does not fail by itself.
    pub allow_incomplete: bool,
}

/// Pass or fail, with the reasons for a failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// Whether no unsuppressed finding remains at the gated severities.
    pub pass: bool,
    /// The process exit code: 0 when passing, the gate's exit code (possibly 0, "report
    /// only") when failing.
    pub exit_code: u8,
    /// Why it failed, one line per kind of finding (`2 vulnerabilities (1 CRITICAL,
    /// 1 HIGH)`); empty when it passes.
    pub reasons: Vec<String>,
    /// Whether the scan failed because it was incomplete (no finding crossed the gate,
    /// but the target was not fully checked).
    pub incomplete: bool,
}

/// What [`apply`] did.
#[derive(Debug, Clone)]
pub struct Applied {
    /// The verdict.
    pub verdict: Verdict,
    /// Findings suppressed by the ignore file.
    pub ignored: usize,
    /// Findings suppressed by VEX.
    pub vexed: usize,
}

/// Filters `report` by the gate, applies suppression, records filter warnings (expired
/// ignore rules, VEX documents about another product) in the report, and computes the
/// verdict.
pub fn apply(report: &mut Report, suppression: &Suppression, gate: &Gate) -> Applied {
    let mut fopts = FilterOptions::new(time::OffsetDateTime::now_utc().date());
    fopts.severities.clone_from(&gate.severities);
    fopts.ignore_unfixed = gate.ignore_unfixed;
    fopts.pkg_types.clone_from(&gate.pkg_types);
    fopts.ignore.clone_from(&suppression.ignore);
    fopts.vex.clone_from(&suppression.vex);
    fopts.show_suppressed = suppression.show_suppressed;
    let summary = filter::apply(report, &fopts);
    for w in &summary.warnings {
        report.warnings.push(Warning {
            path: None,
            layer: None,
            message: w.clone(),
        });
    }
    Applied {
        verdict: verdict(report, gate),
        ignored: summary.count(FilterReason::Ignored),
        vexed: summary.count(FilterReason::Vex),
    }
}

/// The verdict of an already filtered report: it fails when an unsuppressed finding
/// remains.
pub fn verdict(report: &Report, gate: &Gate) -> Verdict {
    let mut reasons = Vec::new();
    let mut describe = |what: &str, sevs: Vec<Severity>| {
        if sevs.is_empty() {
            return;
        }
        let mut counts: Vec<(Severity, usize)> = Vec::new();
        for s in &sevs {
            match counts.iter_mut().find(|(k, _)| k == s) {
                Some((_, n)) => *n += 1,
                None => counts.push((*s, 1)),
            }
        }
        counts.sort_by_key(|c| std::cmp::Reverse(c.0));
        let parts: Vec<String> = counts
            .iter()
            .map(|(s, n)| format!("{n} {}", s.as_str()))
            .collect();
        reasons.push(format!("{} {what} ({})", sevs.len(), parts.join(", ")));
    };
    describe(
        "vulnerabilities",
        report
            .vulnerabilities
            .iter()
            .filter(|v| v.suppressed.is_none())
            .map(|v| v.severity)
            .collect(),
    );
    describe(
        "misconfigurations",
        report
            .misconfigurations
            .iter()
            .filter(|m| m.suppressed.is_none())
            .map(|m| m.severity)
            .collect(),
    );
    describe(
        "secrets",
        report
            .secrets
            .iter()
            .filter(|s| s.suppressed.is_none())
            .map(|s| s.severity)
            .collect(),
    );
    // The report holds only the selected severities now, so any unsuppressed finding
    // counts.
    let clean = !filter::has_findings(report, Severity::Unknown);
    // An incomplete scan has not shown the target clean.
    let incomplete = clean && report.is_incomplete() && !gate.allow_incomplete;
    if incomplete {
        reasons.push(format!(
            "the scan is incomplete ({} reason(s): {}); pass --allow-incomplete to gate only on what was checked",
            report.incomplete.len(),
            report
                .incomplete
                .iter()
                .map(bulwark_core::IncompleteReason::describe)
                .collect::<Vec<_>>()
                .join("; ")
        ));
    }
    let pass = clean && !incomplete;
    let exit_code = if pass { 0 } else { gate.exit_code };
    Verdict {
        pass,
        exit_code,
        reasons,
        incomplete,
    }
}
