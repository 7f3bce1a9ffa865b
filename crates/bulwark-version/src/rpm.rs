//! RPM versions, ordered as `rpmvercmp` and `rpmVersionCompare` do
//! (rpm `rpmio/rpmvercmp.c`, `lib/rpmver.c`, rpm 4.15+ semantics with `^`).
//!
//! A version is `[epoch:]version[-release]`. Each part is split into
//! alphanumeric segments (anything else separates them); digit segments
//! compare numerically and beat letter segments; `~` sorts before anything
//! (even the end), `^` sorts after the end but before any further segment.
//! A missing epoch is 0; a missing release sorts before any release, as
//! `rpm.ver`/`labelCompare` order them.

use std::cmp::Ordering;

use crate::num::Num;

/// A parsed `[epoch:]version[-release]`.
#[derive(Debug, Clone)]
pub struct RpmVersion {
    epoch: Num,
    version: String,
    release: Option<String>,
}

impl RpmVersion {
    /// Splits an EVR string the way rpm's `rpmverParse` does: the epoch is a
    /// leading digit run ended by `:`, the release follows the last `-`.
    pub fn parse(s: &str) -> Result<RpmVersion, String> {
        if s.is_empty() {
            return Err("version string is empty".into());
        }
        if let Some(pos) = s.find(|c: char| c.is_whitespace() || c.is_control()) {
            return Err(format!("whitespace or control character at byte {pos}"));
        }
        let digits = s.bytes().take_while(u8::is_ascii_digit).count();
        let (epoch, rest) = match s.as_bytes().get(digits) {
            Some(b':') => (
                Num::from_digits(s.get(..digits).unwrap_or_default()),
                s.get(digits + 1..).unwrap_or_default(),
            ),
            _ => (Num::zero(), s),
        };
        let (version, release) = match rest.rsplit_once('-') {
            Some((v, r)) => (v, Some(r.to_string())),
            None => (rest, None),
        };
        Ok(RpmVersion {
            epoch,
            version: version.to_string(),
            release,
        })
    }
}

/// rpm's `rpmvercmp` over one component.
pub fn rpmvercmp(a: &str, b: &str) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0usize, 0usize);
    let sep = |c: &u8| !c.is_ascii_alphanumeric() && *c != b'~' && *c != b'^';
    loop {
        while a.get(i).is_some_and(sep) {
            i += 1;
        }
        while b.get(j).is_some_and(sep) {
            j += 1;
        }
        let (ca, cb) = (a.get(i).copied(), b.get(j).copied());
        if ca == Some(b'~') || cb == Some(b'~') {
            if ca != Some(b'~') {
                return Ordering::Greater;
            }
            if cb != Some(b'~') {
                return Ordering::Less;
            }
            i += 1;
            j += 1;
            continue;
        }
        if ca == Some(b'^') || cb == Some(b'^') {
            if ca.is_none() {
                return Ordering::Less;
            }
            if cb.is_none() {
                return Ordering::Greater;
            }
            if ca != Some(b'^') {
                return Ordering::Greater;
            }
            if cb != Some(b'^') {
                return Ordering::Less;
            }
            i += 1;
            j += 1;
            continue;
        }
        let (Some(ca), Some(_)) = (ca, cb) else {
            break;
        };
        let numeric = ca.is_ascii_digit();
        let class = |c: &u8| {
            if numeric {
                c.is_ascii_digit()
            } else {
                c.is_ascii_alphabetic()
            }
        };
        let ea = i + a
            .get(i..)
            .unwrap_or_default()
            .iter()
            .take_while(|c| class(c))
            .count();
        let eb = j + b
            .get(j..)
            .unwrap_or_default()
            .iter()
            .take_while(|c| class(c))
            .count();
        let sa = a.get(i..ea).unwrap_or_default();
        let sb = b.get(j..eb).unwrap_or_default();
        // `b` has a segment of the other type here: numbers beat letters.
        if sb.is_empty() {
            return if numeric {
                Ordering::Greater
            } else {
                Ordering::Less
            };
        }
        let ord = if numeric {
            let za = sa.iter().take_while(|c| **c == b'0').count();
            let zb = sb.iter().take_while(|c| **c == b'0').count();
            let (ta, tb) = (
                sa.get(za..).unwrap_or_default(),
                sb.get(zb..).unwrap_or_default(),
            );
            ta.len().cmp(&tb.len()).then_with(|| ta.cmp(tb))
        } else {
            sa.cmp(sb)
        };
        if ord != Ordering::Equal {
            return ord;
        }
        i = ea;
        j = eb;
    }
    match (i < a.len(), j < b.len()) {
        (false, false) => Ordering::Equal,
        (true, _) => Ordering::Greater,
        (false, true) => Ordering::Less,
    }
}

impl Ord for RpmVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        self.epoch
            .cmp(&other.epoch)
            .then_with(|| rpmvercmp(&self.version, &other.version))
            .then_with(|| match (&self.release, &other.release) {
                (Some(a), Some(b)) => rpmvercmp(a, b),
                (a, b) => a.is_some().cmp(&b.is_some()),
            })
    }
}

impl PartialOrd for RpmVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for RpmVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for RpmVersion {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_orderings() {
        // Cases from rpm's own test suite description (rpmvercmp.at).
        let cases = [
            ("1.0", "1.0", Ordering::Equal),
            ("1.0", "2.0", Ordering::Less),
            ("2.0.1", "2.0.1a", Ordering::Less),
            ("5.5p1", "5.5p2", Ordering::Less),
            ("10xyz", "10.1xyz", Ordering::Less),
            ("xyz10", "xyz10.1", Ordering::Less),
            ("1.0~rc1", "1.0", Ordering::Less),
            ("1.0~rc1", "1.0~rc1~git123", Ordering::Greater),
            ("1.0^", "1.0", Ordering::Greater),
            ("1.0^git1", "1.0.1", Ordering::Less),
            ("1.0^git1~pre", "1.0^git1", Ordering::Less),
            ("a+", "a_", Ordering::Equal),
            ("1.0010", "1.9", Ordering::Greater),
            ("2a", "2.0", Ordering::Less),
        ];
        for (a, b, want) in cases {
            assert_eq!(rpmvercmp(a, b), want, "{a} vs {b}");
        }
    }

    #[test]
    fn evr_split() {
        let v = RpmVersion::parse("2:1.0-3.el9").unwrap();
        assert_eq!(v.epoch, Num::from_digits("2"));
        assert_eq!(v.version, "1.0");
        assert_eq!(v.release.as_deref(), Some("3.el9"));
        assert!(RpmVersion::parse("").is_err());
        assert!(RpmVersion::parse("1 2").is_err());
    }
}
