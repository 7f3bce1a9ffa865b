//! The check registry shared by every check family (Kubernetes, Pod Security Standards,
//! docker-compose, and later Dockerfiles): each check's stable metadata, the named sets
//! it belongs to, and the `--checks` selection that turns checks on.
//!
//! A family contributes a `&'static [CheckMeta]` slice to [`checks`]; its scanner asks
//! [`CheckSelection::enabled`] before running a check and builds findings with
//! [`CheckMeta::finding`], so ids, titles, severities and references stay in one place.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use bulwark_core::{Misconfiguration, Severity};

/// Static description of one check. Documentation is generated from these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckMeta {
    /// Stable id (`BW-K8S-0001`, `BW-PSS-privileged`, `BW-COMPOSE-0001`).
    pub id: &'static str,
    /// Short title.
    pub title: &'static str,
    /// Severity of every finding of this check.
    pub severity: Severity,
    /// Why it matters.
    pub description: &'static str,
    /// How to fix it.
    pub remediation: &'static str,
    /// Standards the check implements: PSS control and level, CIS item, NSA/CISA
    /// section, NIST SP 800-190 section.
    pub references: &'static [&'static str],
    /// Other tools' ids for the same check (Trivy `KSV-0017`/`KSV017`, Checkov `CKV_K8S_16`).
    pub aliases: &'static [&'static str],
    /// Named sets the check belongs to (`pss-baseline`, `cis-k8s`, ...); every check is
    /// also in `all`, which need not be listed.
    pub sets: &'static [&'static str],
}

impl CheckMeta {
    /// A finding of this check.
    pub fn finding(
        &self,
        path: &str,
        line: Option<u32>,
        resource: Option<String>,
        message: String,
    ) -> Misconfiguration {
        Misconfiguration {
            check_id: self.id.to_string(),
            aliases: self.aliases.iter().map(|s| s.to_string()).collect(),
            title: self.title.to_string(),
            severity: self.severity,
            message,
            remediation: self.remediation.to_string(),
            path: path.to_string(),
            start_line: line,
            end_line: line,
            resource,
            layer: None,
            references: self.references.iter().map(|s| s.to_string()).collect(),
            suppressed: None,
        }
    }

    /// True when `name` (a set name, the id or an alias, case-insensitive) names this check.
    pub fn matches(&self, name: &str) -> bool {
        name.eq_ignore_ascii_case("all")
            || self.id.eq_ignore_ascii_case(name)
            || self.aliases.iter().any(|a| a.eq_ignore_ascii_case(name))
            || self.sets.iter().any(|s| s.eq_ignore_ascii_case(name))
    }
}

/// Every registered check of every family.
pub fn checks() -> &'static [CheckMeta] {
    static ALL: OnceLock<Vec<CheckMeta>> = OnceLock::new();
    ALL.get_or_init(|| {
        let mut v = Vec::new();
        v.extend_from_slice(crate::k8s::pss::CHECKS);
        v.extend_from_slice(crate::k8s::workload::CHECKS);
        v.extend_from_slice(crate::k8s::rbac::CHECKS);
        v.extend_from_slice(crate::k8s::cluster::CHECKS);
        v.extend_from_slice(crate::compose::CHECKS);
        v.extend_from_slice(crate::dockerfile::rules::CHECKS);
        v.extend_from_slice(crate::image_config::CHECKS);
        v
    })
}

/// The known set names, for `--checks` validation and help text.
pub const SET_NAMES: &[&str] = &[
    "all",
    "pss-baseline",
    "pss-restricted",
    "cis-k8s",
    "nsa",
    "compose",
    "dockerfile",
    "cis-docker",
    "image-config",
];

/// Which checks run: a list of set names, check ids or aliases (`--checks`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckSelection {
    names: Vec<String>,
}

impl Default for CheckSelection {
    fn default() -> Self {
        Self::all()
    }
}

/// A `--checks` value naming no known set, check or alias.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown check or set {0:?} (sets: {sets})", sets = SET_NAMES.join(", "))]
pub struct UnknownCheck(pub String);

impl CheckSelection {
    /// Every check.
    pub fn all() -> Self {
        Self {
            names: vec!["all".to_string()],
        }
    }

    /// Parses a comma-separated list (`pss-restricted,BW-K8S-0001`). Unknown names are
    /// an error so a typo does not silently run nothing.
    pub fn parse(s: &str) -> Result<Self, UnknownCheck> {
        let mut names = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let known = SET_NAMES.iter().any(|n| n.eq_ignore_ascii_case(part))
                || checks().iter().any(|c| c.matches(part));
            if !known {
                return Err(UnknownCheck(part.to_string()));
            }
            names.push(part.to_string());
        }
        if names.is_empty() {
            return Ok(Self::all());
        }
        Ok(Self { names })
    }

    /// Builds a selection from names without validation (for callers holding set names).
    pub fn of<I: IntoIterator<Item = S>, S: Into<String>>(names: I) -> Self {
        Self {
            names: names.into_iter().map(Into::into).collect(),
        }
    }

    /// Whether `check` runs.
    pub fn enabled(&self, check: &CheckMeta) -> bool {
        self.names.iter().any(|n| check.matches(n))
    }

    /// Ids of the enabled checks among `pool`.
    pub fn enabled_ids(&self, pool: &[CheckMeta]) -> BTreeSet<&'static str> {
        pool.iter()
            .filter(|c| self.enabled(c))
            .map(|c| c.id)
            .collect()
    }
}

/// Parses a suppression list (`BW-K8S-0001, BW-PSS-privileged`) into upper-cased names.
pub fn parse_ignore_list(s: &str) -> Vec<String> {
    s.split([',', ' '])
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_ascii_uppercase)
        .collect()
}

/// True when `finding` is suppressed by one of `ignored` (upper-cased ids or aliases).
pub fn is_ignored(ignored: &[String], finding: &Misconfiguration) -> bool {
    ignored_as(ignored, finding).is_some()
}

/// The id or alias of `finding` that an entry of `ignored` names, spelled as the finding
/// spells it, if any.
fn ignored_as<'f>(ignored: &[String], finding: &'f Misconfiguration) -> Option<&'f str> {
    std::iter::once(&finding.check_id)
        .chain(&finding.aliases)
        .find(|id| ignored.iter().any(|i| i.eq_ignore_ascii_case(id)))
        .map(String::as_str)
}

/// Marks `finding` suppressed when an inline suppression (`where_`: the comment or
/// annotation that holds `ignored`) names it. The finding is kept, so reports can show it
/// with `--show-suppressed`; the reason starts with `inline:` (SARIF maps that to an
/// in-source suppression).
pub fn mark_inline(
    ignored: &[String],
    where_: &str,
    mut finding: Misconfiguration,
) -> Misconfiguration {
    if finding.suppressed.is_none() {
        if let Some(id) = ignored_as(ignored, &finding).map(str::to_owned) {
            finding.suppressed = Some(format!("inline: {id} in {where_}"));
        }
    }
    finding
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_documented() {
        let mut seen = BTreeSet::new();
        for c in checks() {
            assert!(seen.insert(c.id), "duplicate id {}", c.id);
            assert!(!c.title.is_empty() && !c.description.is_empty(), "{}", c.id);
            assert!(!c.remediation.is_empty(), "{}", c.id);
            assert!(!c.references.is_empty(), "{} has no references", c.id);
            for s in c.sets {
                assert!(SET_NAMES.contains(s), "{} in unknown set {s}", c.id);
            }
        }
    }

    #[test]
    fn restricted_includes_baseline() {
        for c in checks() {
            if c.sets.contains(&"pss-baseline") {
                assert!(c.sets.contains(&"pss-restricted"), "{}", c.id);
            }
        }
    }

    #[test]
    fn selection_parsing() {
        assert!(CheckSelection::parse("pss-nope").is_err());
        let sel = CheckSelection::parse("KSV017").unwrap_or_default();
        let ids = sel.enabled_ids(checks());
        assert_eq!(
            ids.into_iter().collect::<Vec<_>>(),
            vec!["BW-PSS-privileged"]
        );
        let sel = CheckSelection::parse("compose").unwrap_or_else(|_| CheckSelection::of([""]));
        assert!(checks()
            .iter()
            .all(|c| sel.enabled(c) == c.id.starts_with("BW-COMPOSE-")));
    }
}
