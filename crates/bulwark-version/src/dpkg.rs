//! Debian package versions, ordered as dpkg's `verrevcmp` does
//! (deb-version(7), dpkg `lib/dpkg/version.c`; apt's `debVersioningSystem`
//! agrees).
//!
//! A version is `[epoch:]upstream[-revision]`. The epoch is compared as a
//! number; upstream and revision alternate non-digit runs (compared char by
//! char, where `~` sorts before everything, even the end of the string, and
//! letters sort before other characters) and digit runs (compared as
//! numbers). A missing revision equals revision `0`.

use std::cmp::Ordering;

use crate::num::digit_run;

/// A parsed Debian version.
#[derive(Debug, Clone)]
pub struct DpkgVersion {
    epoch: u32,
    upstream: String,
    revision: String,
}

impl DpkgVersion {
    /// Parses `[epoch:]upstream[-revision]`, accepting what dpkg accepts when
    /// comparing (it only warns about odd characters).
    pub fn parse(s: &str) -> Result<DpkgVersion, String> {
        // dpkg trims surrounding blanks but rejects embedded ones.
        let s = s.trim_matches(|c: char| c.is_ascii_whitespace());
        if s.is_empty() {
            return Err("version string is empty".into());
        }
        if let Some(pos) = s.find(|c: char| c.is_whitespace() || c.is_control()) {
            return Err(format!(
                "embedded whitespace or control character at byte {pos}"
            ));
        }
        let (epoch, rest) = match s.split_once(':') {
            Some((e, rest)) => {
                if e.is_empty() {
                    return Err("epoch before ':' is empty".into());
                }
                if !e.bytes().all(|c| c.is_ascii_digit()) {
                    return Err(format!("epoch {e:?} is not a number"));
                }
                // dpkg limits the epoch to INT_MAX.
                let n: u32 = e
                    .parse()
                    .ok()
                    .filter(|n| *n <= i32::MAX as u32)
                    .ok_or_else(|| format!("epoch {e} is too big"))?;
                (n, rest)
            }
            None => (0, s),
        };
        let (upstream, revision) = match rest.rsplit_once('-') {
            Some((u, r)) => {
                if r.is_empty() {
                    return Err("revision after '-' is empty".into());
                }
                (u, r)
            }
            None => (rest, ""),
        };
        if upstream.is_empty() {
            return Err("upstream version is empty".into());
        }
        Ok(DpkgVersion {
            epoch,
            upstream: upstream.to_string(),
            revision: revision.to_string(),
        })
    }
}

/// dpkg's character weight: `~` lowest, then end of string/digit, then
/// letters, then everything else.
fn order(c: Option<u8>) -> i32 {
    match c {
        None => 0,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(b'~') => -1,
        Some(c) => i32::from(c) + 256,
    }
}

/// dpkg's `verrevcmp` over one component.
pub(crate) fn verrevcmp(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        // Non-digit prefix, compared by weight.
        while a.get(i).is_some_and(|c| !c.is_ascii_digit())
            || b.get(j).is_some_and(|c| !c.is_ascii_digit())
        {
            let (ac, bc) = (order(a.get(i).copied()), order(b.get(j).copied()));
            if ac != bc {
                return ac.cmp(&bc);
            }
            i += 1;
            j += 1;
        }
        // Digit run, compared as a number of any length.
        while a.get(i) == Some(&b'0') {
            i += 1;
        }
        while b.get(j) == Some(&b'0') {
            j += 1;
        }
        let la = digit_run(a.get(i..).unwrap_or_default());
        let lb = digit_run(b.get(j..).unwrap_or_default());
        if la != lb {
            return la.cmp(&lb);
        }
        let da = a.get(i..i + la).unwrap_or_default();
        let db = b.get(j..j + lb).unwrap_or_default();
        if da != db {
            return da.cmp(db);
        }
        i += la;
        j += lb;
    }
    Ordering::Equal
}

impl Ord for DpkgVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        self.epoch
            .cmp(&other.epoch)
            .then_with(|| verrevcmp(&self.upstream, &other.upstream))
            .then_with(|| verrevcmp(&self.revision, &other.revision))
    }
}

impl PartialOrd for DpkgVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for DpkgVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for DpkgVersion {}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(a: &str, b: &str) -> Ordering {
        DpkgVersion::parse(a)
            .unwrap()
            .cmp(&DpkgVersion::parse(b).unwrap())
    }

    #[test]
    fn documented_orderings() {
        // Examples from deb-version(7).
        assert_eq!(c("1.0~rc1", "1.0"), Ordering::Less);
        assert_eq!(c("1.0~~", "1.0~~a"), Ordering::Less);
        assert_eq!(c("1.0~~a", "1.0~"), Ordering::Less);
        assert_eq!(c("1.0", "1.0+b1"), Ordering::Less);
        assert_eq!(c("1:0.1", "2.0"), Ordering::Greater);
        assert_eq!(c("0:1.0", "1.0"), Ordering::Equal);
        assert_eq!(c("1.0-0", "1.0"), Ordering::Equal);
        assert_eq!(c("1.01", "1.1"), Ordering::Equal);
        assert_eq!(c("1.0a", "1.0+"), Ordering::Less);
    }

    #[test]
    fn malformed_versions_are_errors() {
        for bad in [
            "",
            "  ",
            "a:1.0",
            ":1.0",
            "1.0-",
            "-1",
            "1 0",
            "99999999999:1",
        ] {
            assert!(DpkgVersion::parse(bad).is_err(), "{bad:?}");
        }
    }
}
