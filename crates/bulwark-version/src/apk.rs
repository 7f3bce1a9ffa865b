//! Alpine package versions, validated and ordered exactly as apk-tools 2.x does
//! (`src/version.c` of the 2.14 branch: `apk_version_validate`,
//! `apk_version_compare_blob`), the apk-tools of every Alpine release up to 3.22 and
//! the one Alpine's security data was written against.
//!
//! The version is read as a stream of tokens, each with a type and a signed value:
//! the first number, `.`-separated numbers, one letter, `_suffix` with an optional
//! number, and `-r` with the revision number. Two versions compare token by token
//! while both have the same next token type and equal values; then a smaller value is
//! smaller, equal types (both ended) are equal, a pre-release suffix on the longer
//! side makes it smaller, and otherwise the side whose next token type comes later in
//! the grammar is smaller (`1.0 < 1.0.1`, `1.0 < 1.0-r1`, `1.0_rc1 < 1.0`).
//!
//! The quirks are kept, since a range check must agree with apk itself:
//! - A number after `.` that starts with `0` is two tokens: one whose value is minus
//!   the number of zeros before the last leading zero, then the rest as a number. So
//!   `8.2.0015` (`-1`, `15`) is greater than `8.2.002` (`-1`, `2`), and `1.05 < 1.5`.
//!   (apk-tools 3 compares such tokens as strings instead and would answer `<` for
//!   the first pair; bulwark follows 2.x, see docs/vulndb.md.)
//! - A trailing `-r` without a number is the revision 0: `1.0-r` = `1.0-r0`.
//! - A leading non-digit is a first number of 0 followed by a letter: `v1.0` is valid
//!   and sorts as `0v1.0`, below `1.0`.
//! - Suffix names match by prefix, then must end: `_pre1` is valid, `_prex` is not.
//! - A NUL byte ends the version.
//!
//! apk has no `~hash` token in 2.x; a `~` makes the version invalid. Invalid versions
//! (`apk version -t` refuses them too) are parse errors.

use std::cmp::Ordering;

/// Token types, in apk-tools 2.x's numbering: the order decides when one version
/// continues where the other does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Tok {
    Invalid,
    DigitOrZero,
    Digit,
    Letter,
    Suffix,
    SuffixNo,
    RevisionNo,
    End,
}

/// Pre-release suffixes (values -4..-1) and post-release ones (0..4).
const PRE_SUFFIXES: [&[u8]; 4] = [b"alpha", b"beta", b"pre", b"rc"];
const POST_SUFFIXES: [&[u8]; 5] = [b"cvs", b"svn", b"git", b"hg", b"p"];

/// apk-tools stops a number at 18 digits (it fits an `int64_t` below that).
const MAX_DIGITS: usize = 18;

/// A cursor over a version's bytes (apk's `apk_blob_t`).
struct Blob<'a> {
    b: &'a [u8],
}

impl Blob<'_> {
    fn first(&self) -> Option<u8> {
        self.b.first().copied()
    }

    fn at(&self, i: usize) -> Option<u8> {
        self.b.get(i).copied()
    }

    fn advance(&mut self, n: usize) {
        self.b = self.b.get(n..).unwrap_or_default();
    }
}

/// `next_token`: the type of the token starting at the cursor, consuming its separator.
fn next_token(t: &mut Tok, blob: &mut Blob<'_>) {
    let mut n = Tok::Invalid;
    match blob.first() {
        None | Some(0) => n = Tok::End,
        Some(c) if matches!(*t, Tok::Digit | Tok::DigitOrZero) && c.is_ascii_lowercase() => {
            n = Tok::Letter;
        }
        Some(c) if *t == Tok::Letter && c.is_ascii_digit() => n = Tok::Digit,
        Some(c) if *t == Tok::Suffix && c.is_ascii_digit() => n = Tok::SuffixNo,
        Some(c) => {
            match c {
                b'.' => n = Tok::DigitOrZero,
                b'_' => n = Tok::Suffix,
                // `-` must start `-r`; anything else leaves the token invalid.
                b'-' if blob.at(1) == Some(b'r') => {
                    n = Tok::RevisionNo;
                    blob.advance(1);
                }
                _ => {}
            }
            blob.advance(1);
        }
    }
    if n < *t {
        let allowed = (n == Tok::DigitOrZero && *t == Tok::Digit)
            || (n == Tok::Suffix && *t == Tok::SuffixNo)
            || (n == Tok::Digit && *t == Tok::Letter);
        if !allowed {
            n = Tok::Invalid;
        }
    }
    *t = n;
}

/// `get_token`: the value of the token of type `t` at the cursor; leaves `t` as the
/// type of the token after it.
fn get_token(t: &mut Tok, blob: &mut Blob<'_>) -> i64 {
    if blob.b.is_empty() {
        *t = Tok::End;
        return 0;
    }
    let mut i = 0usize;
    let mut next = Tok::Invalid;
    let mut v: i64 = 0;
    let mut number = false;
    match *t {
        Tok::DigitOrZero if blob.first() == Some(b'0') => {
            // Leading zeros: a token of minus (zeros - 1), then the rest as a number.
            while i + 1 < blob.b.len() && blob.at(i + 1) == Some(b'0') {
                i += 1;
            }
            next = Tok::Digit;
            v = -(i as i64);
        }
        Tok::DigitOrZero | Tok::Digit | Tok::SuffixNo | Tok::RevisionNo => number = true,
        Tok::Letter => {
            v = i64::from(blob.first().unwrap_or(0));
            i = 1;
        }
        Tok::Suffix => match suffix_value(blob.b) {
            Some((value, len)) => {
                v = value;
                i = len;
            }
            None => {
                *t = Tok::Invalid;
                return -1;
            }
        },
        Tok::Invalid | Tok::End => {
            *t = Tok::Invalid;
            return -1;
        }
    }
    if number {
        while let Some(d) = blob.at(i).filter(u8::is_ascii_digit) {
            v = v * 10 + i64::from(d - b'0');
            i += 1;
            if i >= MAX_DIGITS {
                *t = Tok::Invalid;
                return -1;
            }
        }
    }
    blob.advance(i);
    if blob.b.is_empty() {
        *t = Tok::End;
    } else if next != Tok::Invalid {
        *t = next;
    } else {
        next_token(t, blob);
    }
    v
}

/// A suffix's value and length, matched by prefix as apk-tools does.
fn suffix_value(b: &[u8]) -> Option<(i64, usize)> {
    let pre = PRE_SUFFIXES
        .iter()
        .zip(-4i64..)
        .find(|(s, _)| b.starts_with(s))
        .map(|(s, v)| (v, s.len()));
    pre.or_else(|| {
        POST_SUFFIXES
            .iter()
            .zip(0i64..)
            .find(|(s, _)| b.starts_with(s))
            .map(|(s, v)| (v, s.len()))
    })
}

/// `apk_version_validate`.
fn validate(s: &[u8]) -> bool {
    let mut t = Tok::Digit;
    let mut blob = Blob { b: s };
    while t != Tok::End && t != Tok::Invalid {
        get_token(&mut t, &mut blob);
    }
    t == Tok::End
}

/// Compares two strings as `apk version -t A B` (apk-tools 2.x) does, valid apk
/// versions or not: the tokens up to the first invalid one decide. [`ApkVersion`]
/// accepts only valid versions; this is for reproducing apk's answers on anything.
pub fn compare_any(a: &str, b: &str) -> Ordering {
    compare(a.as_bytes(), b.as_bytes())
}

/// `apk_version_compare_blob` (not fuzzy).
fn compare(a: &[u8], b: &[u8]) -> Ordering {
    let (mut at, mut bt) = (Tok::Digit, Tok::Digit);
    let (mut av, mut bv) = (0i64, 0i64);
    let mut a = Blob { b: a };
    let mut b = Blob { b };
    while at == bt && at != Tok::End && at != Tok::Invalid && av == bv {
        av = get_token(&mut at, &mut a);
        bv = get_token(&mut bt, &mut b);
    }
    match av.cmp(&bv) {
        Ordering::Equal => {}
        o => return o,
    }
    if at == bt {
        return Ordering::Equal;
    }
    let mut tt = at;
    if at == Tok::Suffix && get_token(&mut tt, &mut a) < 0 {
        return Ordering::Less;
    }
    let mut tt = bt;
    if bt == Tok::Suffix && get_token(&mut tt, &mut b) < 0 {
        return Ordering::Greater;
    }
    bt.cmp(&at)
}

/// A validated apk version.
#[derive(Debug, Clone)]
pub struct ApkVersion {
    text: Vec<u8>,
}

impl ApkVersion {
    /// Validates an apk version string as `apk_version_validate` does.
    pub fn parse(s: &str) -> Result<ApkVersion, String> {
        if !validate(s.as_bytes()) {
            return Err("not a valid apk version".into());
        }
        Ok(ApkVersion {
            text: s.as_bytes().to_vec(),
        })
    }
}

impl Ord for ApkVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        compare(&self.text, &other.text)
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

    fn c(a: &str, b: &str) -> Ordering {
        ApkVersion::parse(a)
            .unwrap()
            .cmp(&ApkVersion::parse(b).unwrap())
    }

    #[test]
    fn invalid_versions() {
        for bad in [
            "1_foo",
            "1.0bc",
            "1.0-1",
            "1.0~",
            "1.0~abc",
            "1_p1a",
            "1.0-r1_p1",
            "1.0 ",
            "1.0A",
            "1_prex",
            "1.0-r1.2",
            "1234567890123456789",
        ] {
            assert!(ApkVersion::parse(bad).is_err(), "{bad:?}");
        }
        for good in [
            "1",
            "1.2.3a_rc1_p2-r10",
            "0.1.0_alpha_pre2",
            "2.12r-r4",
            "1.0-r",
            "v1.0",
            "8.2.0015",
            "1_pre1",
            // apk-tools 2.x accepts these too.
            "",
            "1.",
            "1..2",
            "1_",
            "1-r1-r2",
        ] {
            assert!(ApkVersion::parse(good).is_ok(), "{good:?}");
        }
    }

    #[test]
    fn apk_tools_2_answers() {
        use Ordering::{Equal as E, Greater as G, Less as L};
        // Worked through apk-tools 2.14's version.c by hand.
        for (a, b, want) in [
            ("8.2.0015", "8.2.002", G),
            ("1.05", "1.5", L),
            ("1.0", "1.00", G),
            ("1.010", "1.01", G),
            ("1.0-r", "1.0-r0", E),
            ("1.0-r", "1.0", G),
            ("1.0-r1", "1.0-r", G),
            ("v1.0", "1.0", L),
            ("v1.0", "0v1.0", E),
            ("v2.0", "v1.9", G),
            ("1.0", "1.0.1", L),
            ("1.0", "1.0-r1", L),
            ("1.0_rc1", "1.0", L),
            ("1.0_p1", "1.0", G),
            ("1.0_alpha", "1.0_beta", L),
            ("1.0a", "1.0", G),
            ("1.0a", "1.0.1", L),
            ("1.2.3_git20240101-r0", "1.2.3-r0", G),
            ("2.12r-r4", "2.12-r4", G),
        ] {
            assert_eq!(c(a, b), want, "{a} vs {b}");
            assert_eq!(c(b, a), want.reverse(), "{b} vs {a}");
        }
    }
}
