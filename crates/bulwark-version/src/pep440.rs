//! Python package versions per PEP 440 ("Version Identification and
//! Dependency Specification"), parsed and ordered as `packaging.version`
//! does (its `VERSION_PATTERN` and `_cmpkey`).
//!
//! Order: epoch, release (trailing zeros ignored), then pre-release
//! (`a < b < rc`; a dev release of a final version sorts before its
//! pre-releases), post-release, dev-release, and local version label
//! (numeric segments beat alphanumeric ones; no label sorts first).
//! Spelling variants normalise: `alpha`→`a`, `c`/`pre`/`preview`→`rc`,
//! `rev`/`r`/`-N`→`post`, any of `-_.` as separators, case-insensitive.

use crate::num::{digit_run, Num};

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Pre {
    /// A dev release with no pre/post release: before every pre-release.
    DevOnly,
    /// A pre-release `(a|b|rc, n)`, ranked 0, 1, 2.
    Release(u8, Num),
    /// No pre-release.
    Final,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Dev {
    Dev(Num),
    NoDev,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Local {
    Str(String),
    Int(Num),
}

/// A parsed PEP 440 version, stored as its comparison key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pep440Version {
    epoch: Num,
    release: Vec<Num>,
    pre: Pre,
    post: Option<Num>,
    dev: Dev,
    local: Option<Vec<Local>>,
}

struct Cursor<'a> {
    s: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn digits(&mut self) -> Option<Num> {
        let n = digit_run(self.s.get(self.pos..).unwrap_or_default());
        if n == 0 {
            return None;
        }
        let text = std::str::from_utf8(self.s.get(self.pos..self.pos + n)?).ok()?;
        self.pos += n;
        Some(Num::from_digits(text))
    }

    /// Matches one of `words` (already lower-case) case-insensitively, first
    /// match wins like a regex alternation.
    fn word<'w>(&mut self, words: &[&'w str]) -> Option<&'w str> {
        let rest = self.s.get(self.pos..).unwrap_or_default();
        for w in words {
            if rest.len() >= w.len()
                && rest
                    .get(..w.len())
                    .is_some_and(|p| p.eq_ignore_ascii_case(w.as_bytes()))
            {
                self.pos += w.len();
                return Some(w);
            }
        }
        None
    }

    fn sep(&mut self) -> bool {
        if matches!(self.peek(), Some(b'-' | b'_' | b'.')) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// `[-_.]?` followed by one of `words`; rewinds if the word is absent.
    fn sep_word<'w>(&mut self, words: &[&'w str]) -> Option<&'w str> {
        let start = self.pos;
        self.sep();
        match self.word(words) {
            Some(w) => Some(w),
            None => {
                self.pos = start;
                None
            }
        }
    }

    /// `[-_.]?([0-9]+)?`: the number defaults to 0, and the regex keeps the
    /// separator consumed even when the number is absent.
    fn opt_sep_number(&mut self) -> Num {
        self.sep();
        self.digits().unwrap_or_else(Num::zero)
    }
}

impl Pep440Version {
    /// Parses a version the way `packaging.version.Version` does.
    pub fn parse(s: &str) -> Result<Pep440Version, String> {
        let t = s.trim_matches(|c: char| c.is_whitespace());
        let mut c = Cursor {
            s: t.as_bytes(),
            pos: 0,
        };
        if matches!(c.peek(), Some(b'v' | b'V')) {
            c.pos += 1;
        }
        let first = c
            .digits()
            .ok_or_else(|| format!("expected a number at byte {}", c.pos))?;
        let (epoch, first) = if c.peek() == Some(b'!') {
            c.pos += 1;
            let r = c
                .digits()
                .ok_or_else(|| format!("expected a release number after '!' at byte {}", c.pos))?;
            (first, r)
        } else {
            (Num::zero(), first)
        };
        let mut release = vec![first];
        while c.peek() == Some(b'.') {
            let save = c.pos;
            c.pos += 1;
            match c.digits() {
                Some(n) => release.push(n),
                None => {
                    c.pos = save;
                    break;
                }
            }
        }
        let pre = c
            .sep_word(&["alpha", "a", "beta", "b", "preview", "pre", "c", "rc"])
            .map(|w| {
                let rank = match w {
                    "alpha" | "a" => 0,
                    "beta" | "b" => 1,
                    _ => 2,
                };
                (rank, c.opt_sep_number())
            });
        let mut post = None;
        if c.peek() == Some(b'-') {
            let save = c.pos;
            c.pos += 1;
            match c.digits() {
                Some(n) => post = Some(n),
                None => c.pos = save,
            }
        }
        if post.is_none() && c.sep_word(&["post", "rev", "r"]).is_some() {
            post = Some(c.opt_sep_number());
        }
        let dev = c.sep_word(&["dev"]).map(|_| c.opt_sep_number());
        let mut local = None;
        if c.peek() == Some(b'+') {
            c.pos += 1;
            let rest = t.get(c.pos..).unwrap_or_default();
            let mut segs = Vec::new();
            for seg in rest.split(['-', '_', '.']) {
                if seg.is_empty() || !seg.bytes().all(|b| b.is_ascii_alphanumeric()) {
                    return Err(format!("invalid local version label {rest:?}"));
                }
                segs.push(if seg.bytes().all(|b| b.is_ascii_digit()) {
                    Local::Int(Num::from_digits(seg))
                } else {
                    Local::Str(seg.to_ascii_lowercase())
                });
            }
            c.pos = t.len();
            local = Some(segs);
        }
        if c.pos != t.len() {
            return Err(format!("unexpected text at byte {}", c.pos));
        }
        while release.last().is_some_and(Num::is_zero) && release.len() > 1 {
            release.pop();
        }
        if release.len() == 1 && release.first().is_some_and(Num::is_zero) {
            release.clear();
        }
        let pre = match (pre, &post, &dev) {
            (Some((rank, n)), _, _) => Pre::Release(rank, n),
            (None, None, Some(_)) => Pre::DevOnly,
            (None, _, _) => Pre::Final,
        };
        Ok(Pep440Version {
            epoch,
            release,
            pre,
            post,
            dev: dev.map_or(Dev::NoDev, Dev::Dev),
            local,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Pep440Version {
        Pep440Version::parse(s).unwrap()
    }

    #[test]
    fn pep440_examples_in_order() {
        // The ordering example from PEP 440's "Summary of permitted suffixes
        // and relative ordering".
        let order = [
            "1.dev0",
            "1.0.dev456",
            "1.0a1",
            "1.0a2.dev456",
            "1.0a12.dev456",
            "1.0a12",
            "1.0b1.dev456",
            "1.0b2",
            "1.0b2.post345.dev456",
            "1.0b2.post345",
            "1.0rc1.dev456",
            "1.0rc1",
            "1.0",
            "1.0+abc.5",
            "1.0+abc.7",
            "1.0+5",
            "1.0.post456.dev34",
            "1.0.post456",
            "1.0.15",
            "1.1.dev1",
        ];
        for w in order.windows(2) {
            assert!(v(w[0]) < v(w[1]), "{} < {}", w[0], w[1]);
        }
    }

    #[test]
    fn normalisation_equalities() {
        for (a, b) in [
            ("1.0", "1"),
            ("1.0ALPHA1", "1.0a1"),
            ("1.0-1", "1.0.post1"),
            ("1.0rev", "1.0.post0"),
            ("v1.0c1", "1.0rc1"),
            ("0!1.0", "1.0"),
            ("1.0.dev", "1.0.dev0"),
            (" 1.0\n", "1.0"),
        ] {
            assert_eq!(v(a), v(b), "{a} == {b}");
        }
    }

    #[test]
    fn invalid() {
        for bad in [
            "", "a", "1.0-", "1..0", "1.0+", "1.0+a..b", "1!", "1.0foo", "1.0 1",
        ] {
            assert!(Pep440Version::parse(bad).is_err(), "{bad:?}");
        }
    }
}
