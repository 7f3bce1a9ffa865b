//! Alpine package versions, validated and ordered as apk-tools 2.14+ does
//! (`src/version.c`: `apk_version_validate`, `apk_version_compare`).
//!
//! Grammar: `digits{.digits}[letter]{_suffix[digits]}[~hash][-rN]`.
//! Tokens compare pairwise while both sides have the same token type:
//! numbers numerically — except a non-initial number with a leading zero on
//! either side, which compares as a string (as Gentoo does) — letters by
//! byte, suffixes by rank `alpha < beta < pre < rc < (none) < cvs < svn <
//! git < hg < p`, commit hashes as strings. When one side runs out first, a
//! pre-release suffix on the longer side makes it smaller; otherwise the
//! side whose next token type is later in the grammar (closer to the end)
//! is smaller, so `1.0 < 1.0.1` and `1.0 < 1.0-r1` but `1.0_p1 > 1.0`.

use std::cmp::Ordering;

/// Token types in grammar order; the order matters when one version ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    InitialDigit,
    Digit,
    Letter,
    Suffix,
    SuffixNo,
    CommitHash,
    RevisionNo,
    End,
}

#[derive(Debug, Clone)]
struct Token {
    kind: Kind,
    /// Numeric value for digit tokens, suffix rank for suffixes.
    number: u64,
    /// The token's text (digits without the dot, suffix name, hash, letter).
    text: String,
}

/// Suffix ranks; `NONE` (a release) sits between pre- and post-releases.
const SUFFIXES: [(&str, u64); 9] = [
    ("alpha", 0),
    ("beta", 1),
    ("pre", 2),
    ("rc", 3),
    ("cvs", 5),
    ("svn", 6),
    ("git", 7),
    ("hg", 8),
    ("p", 9),
];
const SUFFIX_NONE: u64 = 4;

/// A validated apk version.
#[derive(Debug, Clone)]
pub struct ApkVersion {
    tokens: Vec<Token>,
}

/// Longest digit run accepted: apk keeps numbers in a `uint64_t`.
const MAX_DIGITS: usize = 20;

fn take_digits(s: &[u8], pos: &mut usize, what: &str) -> Result<(u64, String), String> {
    let rest = s.get(*pos..).unwrap_or_default();
    let n = crate::num::digit_run(rest);
    if n == 0 {
        return Err(format!("expected digits for {what} at byte {pos}"));
    }
    if n > MAX_DIGITS {
        return Err(format!(
            "number at byte {pos} has more than {MAX_DIGITS} digits"
        ));
    }
    let text = String::from_utf8_lossy(rest.get(..n).unwrap_or_default()).into_owned();
    let number = text
        .parse()
        .map_err(|_| format!("number {text} at byte {pos} does not fit in 64 bits"))?;
    *pos += n;
    Ok((number, text))
}

impl ApkVersion {
    /// Validates and tokenises an apk version string.
    pub fn parse(s: &str) -> Result<ApkVersion, String> {
        let b = s.as_bytes();
        let mut pos = 0usize;
        let (number, text) = take_digits(b, &mut pos, "the first number")?;
        let mut tokens = vec![Token {
            kind: Kind::InitialDigit,
            number,
            text,
        }];
        let mut last = Kind::InitialDigit;
        while let Some(&c) = b.get(pos) {
            let at = pos;
            let bad = |what: &str| format!("{what} at byte {at}");
            let tok = match c {
                b'a'..=b'z' => {
                    if last > Kind::Digit {
                        return Err(bad("letter not directly after a number"));
                    }
                    pos += 1;
                    Token {
                        kind: Kind::Letter,
                        number: u64::from(c),
                        text: char::from(c).to_string(),
                    }
                }
                b'.' | b'0'..=b'9' => {
                    if c == b'.' {
                        if last > Kind::Digit {
                            return Err(bad("'.' after a letter or suffix"));
                        }
                        pos += 1;
                    }
                    let kind = match last {
                        Kind::InitialDigit | Kind::Digit => Kind::Digit,
                        Kind::Suffix => Kind::SuffixNo,
                        _ => return Err(bad("unexpected number")),
                    };
                    let (number, text) = take_digits(b, &mut pos, "a version number")?;
                    Token { kind, number, text }
                }
                b'_' => {
                    if last > Kind::SuffixNo {
                        return Err(bad("'_' suffix after hash or revision"));
                    }
                    pos += 1;
                    let n = b
                        .get(pos..)
                        .unwrap_or_default()
                        .iter()
                        .take_while(|c| c.is_ascii_lowercase())
                        .count();
                    let name = s.get(pos..pos + n).unwrap_or_default();
                    let rank = SUFFIXES
                        .iter()
                        .find(|(n, _)| *n == name)
                        .map(|(_, r)| *r)
                        .ok_or_else(|| bad(&format!("unknown suffix {name:?}")))?;
                    pos += n;
                    Token {
                        kind: Kind::Suffix,
                        number: rank,
                        text: name.to_string(),
                    }
                }
                b'~' => {
                    if last >= Kind::CommitHash {
                        return Err(bad("'~' hash after hash or revision"));
                    }
                    pos += 1;
                    let n = b
                        .get(pos..)
                        .unwrap_or_default()
                        .iter()
                        .take_while(|c| c.is_ascii_hexdigit())
                        .count();
                    if n == 0 {
                        return Err(bad("empty commit hash after '~'"));
                    }
                    let text = s.get(pos..pos + n).unwrap_or_default().to_string();
                    pos += n;
                    Token {
                        kind: Kind::CommitHash,
                        number: 0,
                        text,
                    }
                }
                b'-' => {
                    if last >= Kind::RevisionNo || b.get(pos + 1) != Some(&b'r') {
                        return Err(bad("'-' not starting a single '-rN' revision"));
                    }
                    pos += 2;
                    let (number, text) = take_digits(b, &mut pos, "the revision")?;
                    Token {
                        kind: Kind::RevisionNo,
                        number,
                        text,
                    }
                }
                _ => return Err(bad(&format!("unexpected character {:?}", char::from(c)))),
            };
            last = tok.kind;
            tokens.push(tok);
        }
        Ok(ApkVersion { tokens })
    }
}

fn token_cmp(a: &Token, b: &Token) -> Ordering {
    match a.kind {
        Kind::Digit if a.text.starts_with('0') || b.text.starts_with('0') => {
            a.text.as_bytes().cmp(b.text.as_bytes())
        }
        Kind::Digit | Kind::InitialDigit | Kind::SuffixNo | Kind::RevisionNo => {
            a.number.cmp(&b.number)
        }
        Kind::Letter | Kind::Suffix => a.number.cmp(&b.number),
        Kind::CommitHash | Kind::End => a.text.as_bytes().cmp(b.text.as_bytes()),
    }
}

impl Ord for ApkVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        let end = Token {
            kind: Kind::End,
            number: 0,
            text: String::new(),
        };
        let mut i = 0;
        loop {
            let ta = self.tokens.get(i).unwrap_or(&end);
            let tb = other.tokens.get(i).unwrap_or(&end);
            if ta.kind != tb.kind {
                // One side has a different (or no) token where the other
                // continues; a pre-release suffix sorts below everything.
                if ta.kind == Kind::Suffix && ta.number < SUFFIX_NONE {
                    return Ordering::Less;
                }
                if tb.kind == Kind::Suffix && tb.number < SUFFIX_NONE {
                    return Ordering::Greater;
                }
                return tb.kind.cmp(&ta.kind);
            }
            if ta.kind == Kind::End {
                return Ordering::Equal;
            }
            let ord = token_cmp(ta, tb);
            if ord != Ordering::Equal {
                return ord;
            }
            i += 1;
        }
    }
}

impl PartialOrd for ApkVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for ApkVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for ApkVersion {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_versions() {
        for bad in [
            "",
            "a",
            "1.",
            "1..2",
            "1_foo",
            "1.0bc",
            "1.0-r",
            "1.0-1",
            "1-r1-r2",
            "1.0~",
            "1.0~xyz",
            "1_p1a",
            "1.0-r1_p1",
            "1.0 ",
            "v1.0",
            "1.0A",
        ] {
            assert!(ApkVersion::parse(bad).is_err(), "{bad:?}");
        }
        for good in [
            "1",
            "1.2.3a_rc1_p2~deadbeef-r10",
            "0.1.0_alpha_pre2",
            "2.12r-r4",
        ] {
            assert!(ApkVersion::parse(good).is_ok(), "{good:?}");
        }
    }
}
