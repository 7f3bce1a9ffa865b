//! RubyGems versions, validated and ordered as `Gem::Version` does
//! (rubygems `lib/rubygems/version.rb`: `ANCHORED_VERSION_PATTERN`,
//! `canonical_segments`, `<=>`).
//!
//! A version is digits followed by `.`-separated alphanumeric parts and an
//! optional `-` part (which RubyGems rewrites to `.pre.`). It is split into
//! segments, each a run of digits (an integer) or of letters (a string).
//! Trailing zeros are dropped from the numeric prefix and from the rest;
//! segments then compare pairwise, missing ones counting as 0: integers
//! numerically, strings by byte, and any string below any integer — which
//! is what makes `1.0.a` a pre-release of `1.0`. Blank input means `0`.

use std::cmp::Ordering;

use crate::num::Num;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Seg {
    /// Strings sort below integers.
    Str(String),
    Int(Num),
}

/// A parsed gem version (its canonical segments).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GemVersion {
    segments: Vec<Seg>,
}

fn valid(s: &str) -> bool {
    // [0-9]+(\.[0-9a-zA-Z]+)*(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?
    let (main, pre) = match s.split_once('-') {
        Some((m, p)) => (m, Some(p)),
        None => (s, None),
    };
    let mut parts = main.split('.');
    let first_ok = parts
        .next()
        .is_some_and(|p| !p.is_empty() && p.bytes().all(|c| c.is_ascii_digit()));
    let rest_ok = parts.all(|p| !p.is_empty() && p.bytes().all(|c| c.is_ascii_alphanumeric()));
    let pre_ok = pre.is_none_or(|p| {
        p.split('.')
            .all(|x| !x.is_empty() && x.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-'))
    });
    first_ok && rest_ok && pre_ok
}

fn drop_trailing_zeros(segs: &mut Vec<Seg>) {
    while segs
        .last()
        .is_some_and(|s| matches!(s, Seg::Int(n) if n.is_zero()))
    {
        segs.pop();
    }
}

impl GemVersion {
    /// Parses like `Gem::Version.new(s)`.
    pub fn parse(s: &str) -> Result<GemVersion, String> {
        // Ruby's \s: space, \t, \n, \v, \f, \r.
        let t = s.trim_matches(|c: char| matches!(c, ' ' | '\t' | '\n' | '\x0b' | '\x0c' | '\r'));
        let t = if t.is_empty() { "0" } else { t };
        if !valid(t) {
            return Err("malformed version number string".into());
        }
        let rewritten = t.replace('-', ".pre.");
        let mut segs = Vec::new();
        let b = rewritten.as_bytes();
        let mut i = 0;
        while i < b.len() {
            let rest = b.get(i..).unwrap_or_default();
            let n = rest.iter().take_while(|c| c.is_ascii_digit()).count();
            if n > 0 {
                segs.push(Seg::Int(Num::from_digits(
                    rewritten.get(i..i + n).unwrap_or_default(),
                )));
                i += n;
                continue;
            }
            let n = rest.iter().take_while(|c| c.is_ascii_alphabetic()).count();
            if n > 0 {
                segs.push(Seg::Str(
                    rewritten.get(i..i + n).unwrap_or_default().to_string(),
                ));
                i += n;
                continue;
            }
            i += 1;
        }
        let split = segs
            .iter()
            .position(|s| matches!(s, Seg::Str(_)))
            .unwrap_or(segs.len());
        let mut tail = segs.split_off(split);
        drop_trailing_zeros(&mut segs);
        drop_trailing_zeros(&mut tail);
        segs.extend(tail);
        Ok(GemVersion { segments: segs })
    }

    /// Whether RubyGems considers this a pre-release (it has a letter).
    pub fn is_prerelease(&self) -> bool {
        self.segments.iter().any(|s| matches!(s, Seg::Str(_)))
    }
}

impl Ord for GemVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        let zero = Seg::Int(Num::zero());
        for i in 0..self.segments.len().max(other.segments.len()) {
            let a = self.segments.get(i).unwrap_or(&zero);
            let b = other.segments.get(i).unwrap_or(&zero);
            let ord = a.cmp(b);
            if ord != Ordering::Equal {
                return ord;
            }
        }
        Ordering::Equal
    }
}

impl PartialOrd for GemVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> GemVersion {
        GemVersion::parse(s).unwrap()
    }

    #[test]
    fn gem_version_rules() {
        assert_eq!(v("1.0"), v("1"));
        assert_eq!(v(""), v("0"));
        assert!(v("1.0.a") < v("1.0"));
        assert!(v("1.0.a") < v("1.0.b"));
        assert!(v("1.0.rc1") > v("1.0.beta2"));
        assert_eq!(v("1.0-1"), v("1.0.pre.1"));
        assert!(v("1.0.0.a10") > v("1.0.0.a9"));
        assert!(v("2.a") > v("1.0"));
        assert!(v("1.A") < v("1.a"));
        assert!(v("1.0.b1").is_prerelease());
        for bad in ["a", "1..2", "1.0-", "1.0 2", "-1", "1.0_1", "1.-"] {
            assert!(GemVersion::parse(bad).is_err(), "{bad:?}");
        }
    }
}
