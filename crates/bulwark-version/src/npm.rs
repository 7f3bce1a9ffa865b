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

use crate::num::{digit_run, Num};
use crate::semver2::{Ident, SemverCore};

/// node-semver's `MAX_LENGTH`.
const MAX_LENGTH: usize = 256;
/// JavaScript's `Number.MAX_SAFE_INTEGER`.
const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// An npm version.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct NpmVersion(SemverCore);

impl NpmVersion {
    /// Parses like `new SemVer(s, { loose: true })`.
    pub fn parse(s: &str) -> Result<NpmVersion, String> {
        if s.encode_utf16().count() > MAX_LENGTH {
            return Err(format!("longer than {MAX_LENGTH} characters"));
        }
        let t = s.trim();
        let t = t.trim_start_matches(|c: char| c == 'v' || c == '=' || c.is_whitespace());
        let core = parse_loose(t)?;
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

/// Dot-separated, non-empty `[0-9A-Za-z-]+` identifiers.
fn loose_idents(s: &str) -> Option<Vec<Ident>> {
    s.split('.')
        .map(|id| {
            if id.is_empty() || !id.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-') {
                None
            } else if id.bytes().all(|c| c.is_ascii_digit()) {
                Some(Ident::Num(Num::from_digits(id)))
            } else {
                Some(Ident::Alpha(id.to_string()))
            }
        })
        .collect()
}

/// Matches `(?:-?(IDS))?(?:\+BUILD)?$` as the regex engine would, trying
/// the `-` as separator first and then as part of the first identifier.
fn loose_tail(rest: &str) -> Option<Vec<Ident>> {
    let (body, build) = match rest.split_once('+') {
        Some((b, m)) => (b, Some(m)),
        None => (rest, None),
    };
    if let Some(m) = build {
        loose_idents(m)?;
    }
    if body.is_empty() {
        return Some(Vec::new());
    }
    body.strip_prefix('-')
        .and_then(loose_idents)
        .or_else(|| loose_idents(body))
}

/// node-semver's `LOOSE` regex. The patch number's `\d+` may give digits
/// back to the pre-release (which needs no `-` in loose mode), so
/// `1.2.345.6` is `1.2.34-5.6`; the longest patch that lets the rest match
/// wins, as with a backtracking regex engine.
fn parse_loose(t: &str) -> Result<SemverCore, String> {
    let b = t.as_bytes();
    let major_len = digit_run(b);
    if major_len == 0 || b.get(major_len) != Some(&b'.') {
        return Err("expected MAJOR.MINOR.PATCH".into());
    }
    let minor_start = major_len + 1;
    let minor_len = digit_run(b.get(minor_start..).unwrap_or_default());
    let patch_start = minor_start + minor_len + 1;
    if minor_len == 0 || b.get(minor_start + minor_len) != Some(&b'.') {
        return Err("expected MAJOR.MINOR.PATCH".into());
    }
    let patch_len = digit_run(b.get(patch_start..).unwrap_or_default());
    let num =
        |from: usize, len: usize| Num::from_digits(t.get(from..from + len).unwrap_or_default());
    for len in (1..=patch_len).rev() {
        if let Some(pre) = loose_tail(t.get(patch_start + len..).unwrap_or_default()) {
            return Ok(SemverCore {
                major: num(0, major_len),
                minor: num(minor_start, minor_len),
                patch: num(patch_start, len),
                pre,
            });
        }
    }
    Err("not a valid version, even in node-semver's loose mode".into())
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
        // The patch gives digits back to a dash-less pre-release.
        assert_eq!(v("1.2.345.6"), v("1.2.34-5.6"));
        assert_eq!(v("1.2.3-"), v("1.2.3--"));
        assert!(NpmVersion::parse("1.2.3+").is_err());
        assert!(NpmVersion::parse(&format!("1.2.3-{}", "a".repeat(260))).is_err());
    }
}
