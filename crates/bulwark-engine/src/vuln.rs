//! Vulnerability matching of a report's packages against the DB.
//!
//! Every package is looked up under the OSV ecosystem and name it maps to, matched with
//! that ecosystem's version rules, the per-record findings that name the same
//! vulnerability are merged, and KEV/EPSS enrichment is attached. Problems that make
//! some records unevaluable (GIT-only ranges, versions that do not parse) are counted and
//! reported as one summary warning, so a large DB does not flood the report.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use bulwark_core::{Report, VulnFinding, Warning};
use bulwark_vulndb::matching::{match_package, merge_findings, osv_ecosystem_for};
use bulwark_vulndb::osv::OsvRecord;
use bulwark_vulndb::{VulnDb, VulnDbError};

use crate::EngineError;

/// Default largest DB age before a scan warns: 7 days.
pub const DEFAULT_MAX_DB_AGE: Duration = Duration::from_secs(7 * 24 * 3600);

/// What matching did, for logs and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MatchStats {
    /// Packages that map onto an OSV ecosystem and were looked up.
    pub packages_looked_up: usize,
    /// Distinct (ecosystem, name) lookups made against the DB.
    pub db_queries: usize,
    /// Findings after merging.
    pub findings: usize,
    /// GIT (and unknown-type) ranges that could not be evaluated.
    pub skipped_git: usize,
    /// Versions (installed or in records) that did not parse.
    pub unparsable: usize,
    /// Withdrawn records that were ignored.
    pub withdrawn: usize,
}

fn db_err(e: VulnDbError) -> EngineError {
    EngineError::Db(e.to_string())
}

/// Matches every package of `report` against `db`, replacing `report.vulnerabilities`
/// with the merged, enriched findings sorted by severity (highest first), then id.
pub fn match_report(report: &mut Report, db: &VulnDb) -> Result<MatchStats, EngineError> {
    let mut stats = MatchStats::default();
    // Many packages share a lookup key (sub-packages of one origin/source package), so
    // each (ecosystem, name) is read from the DB once.
    let mut cache: HashMap<(String, String), Vec<OsvRecord>> = HashMap::new();
    let mut findings: Vec<VulnFinding> = Vec::new();
    let os = report.os.clone();
    for pkg in &report.packages {
        let Some((base, _release, name)) = osv_ecosystem_for(pkg, os.as_ref()) else {
            continue;
        };
        stats.packages_looked_up += 1;
        let key = (base, name);
        if !cache.contains_key(&key) {
            let recs = db.records_for(&key.0, &key.1).map_err(db_err)?;
            stats.db_queries += 1;
            cache.insert(key.clone(), recs);
        }
        let records = cache.get(&key).map(Vec::as_slice).unwrap_or(&[]);
        if records.is_empty() {
            continue;
        }
        let out = match_package(pkg, os.as_ref(), records);
        stats.skipped_git += out.skipped_git;
        stats.unparsable += out.unparsable;
        stats.withdrawn += out.withdrawn;
        findings.extend(out.findings);
    }
    let mut merged = merge_findings(findings);
    bulwark_vulndb::matching::enrich_from_db(db, &mut merged);
    sort_findings(&mut merged);
    stats.findings = merged.len();
    if stats.skipped_git > 0 || stats.unparsable > 0 {
        report.warnings.push(Warning {
            path: None,
            layer: None,
            message: format!(
                "vulnerability matching skipped {} GIT/unknown-type range(s) and {} range(s) with unparsable versions; those records were not evaluated",
                stats.skipped_git, stats.unparsable
            ),
        });
    }
    report.vulnerabilities = merged;
    // Ecosystems the DB has advisories for: a mapped ecosystem it lacks is "not checked",
    // never a silent zero.
    let in_db: std::collections::BTreeSet<String> = db
        .info()
        .map_err(db_err)?
        .sources
        .into_iter()
        .filter(|s| s.records > 0)
        .map(|s| s.name)
        .collect();
    let (not_checked, gaps) =
        bulwark_vulndb::matching::coverage_gaps(&report.packages, os.as_ref(), Some(&in_db));
    report.not_checked = not_checked;
    for g in gaps {
        report.mark_incomplete(g);
    }
    Ok(stats)
}

/// Severity descending, then id, then package and installed version (stable output).
pub fn sort_findings(findings: &mut [VulnFinding]) {
    findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| a.id.cmp(&b.id))
            .then_with(|| a.package.cmp(&b.package))
            .then_with(|| a.installed_version.cmp(&b.installed_version))
            .then_with(|| a.purl.cmp(&b.purl))
    });
}

/// Opens the DB read-only; a missing DB is an error that says how to make one, an old DB
/// is a warning pushed onto `warnings`.
pub fn open_db(
    dir: &Path,
    max_age: Option<Duration>,
    warnings: &mut Vec<Warning>,
) -> Result<VulnDb, EngineError> {
    let db = VulnDb::open(dir).map_err(|e| match e {
        VulnDbError::NotFound { path } => EngineError::Db(format!(
            "no vulnerability DB in {}; run `bulwark db update` (online) or `bulwark db import PATH...` (offline OSV files) first, or point --db / BULWARK_DB at an existing DB",
            path.display()
        )),
        other => db_err(other),
    })?;
    let max_age = max_age.unwrap_or(DEFAULT_MAX_DB_AGE);
    match db.age() {
        Ok(age) if age > max_age => warnings.push(Warning {
            path: None,
            layer: None,
            message: format!(
                "the vulnerability DB is {} old (more than {}); run `bulwark db update` for current data",
                human_duration(age),
                human_duration(max_age)
            ),
        }),
        Ok(_) => {}
        Err(e) => tracing::warn!("cannot tell the DB's age: {e}"),
    }
    Ok(db)
}

/// `3d 4h`, `5h`, `12m`: coarse, for messages.
pub fn human_duration(d: Duration) -> String {
    let s = d.as_secs();
    let (days, hours, mins) = (s / 86_400, (s % 86_400) / 3600, (s % 3600) / 60);
    if days > 0 {
        if hours > 0 {
            format!("{days}d {hours}h")
        } else {
            format!("{days}d")
        }
    } else if hours > 0 {
        format!("{hours}h")
    } else {
        format!("{mins}m")
    }
}

/// Parses a duration such as `7d`, `12h`, `30m`, `90s` or a bare number of days
/// (`bulwark_core::duration`, with days for a bare number).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    bulwark_core::duration::parse(s, Some(bulwark_core::duration::Unit::Days))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(7 * 86_400)));
        assert_eq!(parse_duration("12h"), Ok(Duration::from_secs(12 * 3600)));
        assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3 * 86_400)));
        assert!(parse_duration("7x").is_err());
        assert!(parse_duration("").is_err());
        assert!(parse_duration("99999999999999999999d").is_err());
        assert_eq!(human_duration(Duration::from_secs(86_400 + 7200)), "1d 2h");
    }
}
