//! Generic Semantic Versioning 2.0.0 (semver.org, section 11 "precedence"),
//! used for OSV `SEMVER` ranges and ecosystems that order by plain SemVer.
//!
//! `MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD]` with no leading zeros in
//! numeric identifiers. Precedence compares the three numbers, then a
//! version without pre-release beats one with; pre-release identifiers
//! compare left to right, numeric ones numerically and below alphanumeric
//! ones (compared in ASCII order), a shorter list of equal identifiers sorts
//! first. Build metadata is ignored. A leading `v` is tolerated because Go
//! and some OSV producers write one.
//!
//! The shared [`SemverCore`] is reused by the npm and Go schemes.

use std::cmp::Ordering;

use crate::num::Num;

/// One pre-release identifier.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Ident {
    /// Numeric identifiers sort before alphanumeric ones.
    Num(Num),
    Alpha(String),
}

/// The precedence-relevant parts of a SemVer version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SemverCore {
    pub(crate) major: Num,
    pub(crate) minor: Num,
    pub(crate) patch: Num,
    pub(crate) pre: Vec<Ident>,
}

impl Ord for SemverCore {
    fn cmp(&self, other: &Self) -> Ordering {
        self.major
            .cmp(&other.major)
            .then_with(|| self.minor.cmp(&other.minor))
            .then_with(|| self.patch.cmp(&other.patch))
            .then_with(|| match (self.pre.is_empty(), other.pre.is_empty()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                // Vec ordering: element-wise, then the shorter list first.
                (false, false) => self.pre.cmp(&other.pre),
            })
    }
}

impl PartialOrd for SemverCore {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// How strict the grammar is.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rules {
    /// Allow leading zeros in numbers and numeric identifiers (node-semver
    /// loose mode).
    pub(crate) leading_zeros: bool,
    /// Allow the pre-release to follow the patch number without a `-`.
    pub(crate) optional_pre_dash: bool,
    /// Allow `v1` / `v1.2` shorthands (Go).
    pub(crate) shorthand: bool,
}

pub(crate) const STRICT: Rules = Rules {
    leading_zeros: false,
    optional_pre_dash: false,
    shorthand: false,
};

fn is_ident_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'-'
}

fn number(s: &str, what: &str, rules: Rules) -> Result<Num, String> {
    if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit()) {
        return Err(format!("{what} {s:?} is not a number"));
    }
    if !rules.leading_zeros && s.len() > 1 && s.starts_with('0') {
        return Err(format!("{what} {s:?} has a leading zero"));
    }
    Ok(Num::from_digits(s))
}

fn identifiers(s: &str, what: &str, numeric_rules: Option<Rules>) -> Result<Vec<Ident>, String> {
    let mut out = Vec::new();
    for id in s.split('.') {
        if id.is_empty() {
            return Err(format!("empty {what} identifier"));
        }
        if !id.bytes().all(is_ident_char) {
            return Err(format!(
                "{what} identifier {id:?} has characters outside [0-9A-Za-z-]"
            ));
        }
        if let Some(rules) = numeric_rules {
            if id.bytes().all(|c| c.is_ascii_digit()) {
                out.push(Ident::Num(number(
                    id,
                    "numeric pre-release identifier",
                    rules,
                )?));
            } else {
                out.push(Ident::Alpha(id.to_string()));
            }
        }
    }
    Ok(out)
}

/// Parses `MAJOR.MINOR.PATCH[-PRE][+BUILD]` (no prefix; callers strip it).
pub(crate) fn parse_core(s: &str, rules: Rules) -> Result<SemverCore, String> {
    let (rest, build) = match s.split_once('+') {
        Some((r, b)) => (r, Some(b)),
        None => (s, None),
    };
    if let Some(b) = build {
        identifiers(b, "build", None)?;
    }
    // The numeric core ends at the first character that is neither a digit
    // nor a dot.
    let core_len = rest
        .bytes()
        .take_while(|c| c.is_ascii_digit() || *c == b'.')
        .count();
    let (core, pre) = rest.split_at(core_len);
    let parts: Vec<&str> = core.split('.').collect();
    let (major, minor, patch) = match parts.as_slice() {
        [a, b, c] => (*a, *b, *c),
        [a] | [a, _] if rules.shorthand && pre.is_empty() && build.is_none() => {
            (*a, parts.get(1).copied().unwrap_or("0"), "0")
        }
        _ => return Err("expected MAJOR.MINOR.PATCH".into()),
    };
    let major = number(major, "major version", rules)?;
    let minor = number(minor, "minor version", rules)?;
    let patch = number(patch, "patch version", rules)?;
    let pre = if pre.is_empty() {
        Vec::new()
    } else if let Some(p) = pre.strip_prefix('-') {
        identifiers(p, "pre-release", Some(rules))?
    } else if rules.optional_pre_dash {
        identifiers(pre, "pre-release", Some(rules))?
    } else {
        return Err(format!("unexpected {pre:?} after the patch version"));
    };
    Ok(SemverCore {
        major,
        minor,
        patch,
        pre,
    })
}

/// A SemVer 2.0.0 version.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SemVersion(SemverCore);

impl SemVersion {
    /// Parses a strict SemVer 2.0.0 version, optionally prefixed by `v`.
    pub fn parse(s: &str) -> Result<SemVersion, String> {
        let s = s.strip_prefix('v').unwrap_or(s);
        parse_core(s, STRICT).map(SemVersion)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> SemVersion {
        SemVersion::parse(s).unwrap()
    }

    #[test]
    fn semver_org_precedence_example() {
        let order = [
            "1.0.0-alpha",
            "1.0.0-alpha.1",
            "1.0.0-alpha.beta",
            "1.0.0-beta",
            "1.0.0-beta.2",
            "1.0.0-beta.11",
            "1.0.0-rc.1",
            "1.0.0",
            "2.0.0",
            "2.1.0",
            "2.1.1",
        ];
        for w in order.windows(2) {
            assert!(v(w[0]) < v(w[1]), "{} < {}", w[0], w[1]);
        }
        assert_eq!(v("1.0.0+build.1"), v("1.0.0+other"));
        assert_eq!(v("v1.2.3"), v("1.2.3"));
        assert!(v("1.0.0-99999999999999999999999") > v("1.0.0-99999999999999999999998"));
    }

    #[test]
    fn invalid() {
        for bad in [
            "",
            "1",
            "1.2",
            "1.2.3.4",
            "01.2.3",
            "1.2.3-01",
            "1.2.3-",
            "1.2.3+",
            "1.2.3-a..b",
            "1.2.3-a_b",
            "1.2.3beta",
            "=1.2.3",
            " 1.2.3",
        ] {
            assert!(SemVersion::parse(bad).is_err(), "{bad:?}");
        }
    }
}
