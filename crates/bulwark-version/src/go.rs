//! Go module versions, ordered as `golang.org/x/mod/semver.Compare` (the
//! Go modules reference, "Versions" and "Pseudo-versions").
//!
//! Canonical form `vMAJOR.MINOR.PATCH[-PRE][+BUILD]`; the shorthands `v1`
//! and `v1.2` mean `v1.0.0` and `v1.2.0`. Build metadata — including
//! `+incompatible` — does not take part in ordering. Pseudo-versions such
//! as `v0.0.0-20191109021931-daa7c04131f5` are ordinary pre-releases, so
//! SemVer precedence orders them by their timestamp. The `v` is optional
//! because OSV writes Go ranges without it. Unlike `x/mod/semver`, which
//! sorts invalid versions below valid ones, invalid input is an error.

use std::cmp::Ordering;

use crate::semver2::{parse_core, Rules, SemverCore};

/// A Go module version.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct GoVersion(SemverCore);

const GO_RULES: Rules = Rules {
    leading_zeros: false,
    optional_pre_dash: false,
    shorthand: true,
};

impl GoVersion {
    /// Parses a Go module version, with or without the leading `v`.
    pub fn parse(s: &str) -> Result<GoVersion, String> {
        let s = s.strip_prefix('v').unwrap_or(s);
        parse_core(s, GO_RULES).map(GoVersion)
    }

    /// Orders like [`Ord`]; kept for symmetry with the other schemes.
    pub fn compare(&self, other: &GoVersion) -> Ordering {
        self.cmp(other)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> GoVersion {
        GoVersion::parse(s).unwrap()
    }

    #[test]
    fn go_reference_cases() {
        assert_eq!(v("v1"), v("v1.0.0"));
        assert_eq!(v("v1.2"), v("1.2.0"));
        assert_eq!(v("v2.0.0+incompatible"), v("v2.0.0"));
        assert!(v("v0.0.0-20191109021931-daa7c04131f5") < v("v0.0.0-20200101000000-000000000000"));
        assert!(v("v0.0.0-20191109021931-daa7c04131f5") < v("v0.0.0"));
        // A pseudo-version based on v1.2.3 sorts after v1.2.3 and before v1.2.4.
        assert!(v("v1.2.4-0.20191109021931-daa7c04131f5") > v("v1.2.3"));
        assert!(v("v1.2.4-0.20191109021931-daa7c04131f5") < v("v1.2.4"));
        assert!(v("v1.2.3-pre.0.20191109021931-daa7c04131f5") > v("v1.2.3-pre"));
        assert_eq!(v("0"), v("v0.0.0"));
        for bad in ["v1.2-pre", "v01.2.3", "v1.2.3.4", "", "v", "1.2.3-"] {
            assert!(GoVersion::parse(bad).is_err(), "{bad:?}");
        }
    }
}
