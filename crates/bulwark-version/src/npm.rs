//! npm package versions, parsed in node-semver's loose mode and ordered by
//! `semver.compare` (node-semver `classes/semver.js`, `internal/re.js`,
//! `internal/identifiers.js`).
//!
//! Loose mode accepts any run of `v`, `=` and blanks before the version,
//! leading zeros in numbers, and a pre-release without its `-`
//! (`1.2.3beta`). Major, minor and patch must not exceed JavaScript's
//! `Number.MAX_SAFE_INTEGER`; versions longer than 256 characters are
//! rejected, as node-semver does. Ordering is SemVer precedence.
//!
//! Deliberate difference: node-semver compares all-digit pre-release
//! identifiers through JavaScript numbers, so identifiers beyond 2^53 lose
//! precision there; here they compare exactly.

use crate::semver2::{parse_core, Rules, SemverCore};

/// node-semver's `MAX_LENGTH`.
const MAX_LENGTH: usize = 256;
/// JavaScript's `Number.MAX_SAFE_INTEGER`.
const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

const LOOSE: Rules = Rules {
    leading_zeros: true,
    optional_pre_dash: true,
    shorthand: false,
};

/// An npm version.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct NpmVersion(SemverCore);

impl NpmVersion {
    /// Parses like `new SemVer(s, { loose: true })`.
    pub fn parse(s: &str) -> Result<NpmVersion, String> {
        if s.chars().count() > MAX_LENGTH {
            return Err(format!("longer than {MAX_LENGTH} characters"));
        }
        let t = s.trim();
        let t = t.trim_start_matches(|c: char| c == 'v' || c == '=' || c.is_whitespace());
        let core = parse_core(t, LOOSE)?;
        for (n, what) in [
            (&core.major, "major"),
            (&core.minor, "minor"),
            (&core.patch, "patch"),
        ] {
            if n.to_u64().is_none_or(|n| n > MAX_SAFE_INTEGER) {
                return Err(format!("{what} version exceeds Number.MAX_SAFE_INTEGER"));
            }
        }
        Ok(NpmVersion(core))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> NpmVersion {
        NpmVersion::parse(s).unwrap()
    }

    #[test]
    fn loose_forms() {
        assert_eq!(v("v1.2.3"), v("1.2.3"));
        assert_eq!(v("=1.2.3"), v("1.2.3"));
        assert_eq!(v(" =v 1.2.3 "), v("1.2.3"));
        assert_eq!(v("01.02.03"), v("1.2.3"));
        assert_eq!(v("1.2.3beta"), v("1.2.3-beta"));
        assert!(v("1.2.3-beta.2") < v("1.2.3-beta.11"));
        assert!(v("1.2.3-alpha") < v("1.2.3"));
        assert!(NpmVersion::parse("9007199254740992.0.0").is_err());
        assert!(NpmVersion::parse("9007199254740991.0.0").is_ok());
        assert!(NpmVersion::parse("1.2").is_err());
        assert!(NpmVersion::parse(&format!("1.2.3-{}", "a".repeat(260))).is_err());
    }
}
