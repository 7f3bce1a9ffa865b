//! Composer (Packagist) versions: normalised like
//! `Composer\Semver\VersionParser::normalize` and ordered like
//! `Composer\Semver\Comparator` — PHP's `version_compare` on the
//! normalised strings (php-src `ext/standard/versioning.c`).
//!
//! Normalisation accepts an optional `v`, one to four numbers (`1.2` →
//! `1.2.0.0`), or a date-like number (`20240131`), followed by an optional
//! stability (`stable`, `rc`, `beta`/`b`, `alpha`/`a`, `patch`/`pl`/`p`, with
//! an optional number) and `-dev`; build metadata is dropped; `dev-<name>`
//! and `<number>.x-dev` are branches. `version_compare` then orders
//! `dev < alpha = a < beta = b < RC = rc < (number) < pl = p`, numbers
//! numerically.
//!
//! Deliberate difference: Composer considers two different `dev-` branches
//! incomparable (neither `<`, `==` nor `>`); a total order is needed here,
//! so they order by name.

use std::cmp::Ordering;

/// A normalised Composer version.
#[derive(Debug, Clone)]
pub struct ComposerVersion {
    normalized: String,
}

const STABILITIES: [(&str, &str); 9] = [
    ("stable", "stable"),
    ("beta", "beta"),
    ("b", "beta"),
    ("rc", "RC"),
    ("alpha", "alpha"),
    ("a", "alpha"),
    ("patch", "patch"),
    ("pl", "patch"),
    ("p", "patch"),
];

/// A matched stability: its expanded name, and whether it was spelt
/// exactly `stable`.
type Stability = (&'static str, bool);

/// Matches Composer's modifier suffix
/// `[._-]?(?:(stability)((?:[.-]?\d+)*+)?)?([.-]?dev)?$` against `rest`
/// (case-insensitively). Returns (stability, its number, dev flag).
fn modifier(rest: &str) -> Option<(Option<Stability>, String, bool)> {
    let lower = rest.to_ascii_lowercase();
    let mut candidates: Vec<&str> = vec![lower.as_str()];
    if let Some(r) = lower.strip_prefix(['.', '_', '-']) {
        // The regex tries the separator first, then without it.
        candidates.insert(0, r);
    }
    for cand in candidates {
        // With a stability.
        for (name, expanded) in STABILITIES {
            if let Some(after) = cand.strip_prefix(name) {
                // Lower-casing ASCII keeps offsets, so the original spelling
                // sits at the same place in `rest`.
                let at = rest.len() - cand.len();
                let exact_stable = rest.get(at..at + name.len()) == Some("stable");
                let b = after.as_bytes();
                let mut i = 0;
                // Possessive `(?:[.-]?\d+)*`.
                loop {
                    let mut j = i;
                    if matches!(b.get(j), Some(b'.' | b'-')) {
                        j += 1;
                    }
                    let n = crate::num::digit_run(b.get(j..).unwrap_or_default());
                    if n == 0 {
                        break;
                    }
                    i = j + n;
                }
                let number = after.get(..i).unwrap_or_default();
                let tail = after.get(i..).unwrap_or_default();
                if let Some(dev) = dev_tail(tail) {
                    return Some((Some((expanded, exact_stable)), number.to_string(), dev));
                }
            }
        }
        if let Some(dev) = dev_tail(cand) {
            return Some((None, String::new(), dev));
        }
    }
    None
}

/// `([.-]?dev)?$`
fn dev_tail(s: &str) -> Option<bool> {
    match s {
        "" => Some(false),
        "dev" | ".dev" | "-dev" => Some(true),
        _ => None,
    }
}

fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit())
}

/// `^v?(\d{1,5})(\.\d+)?(\.\d+)?(\.\d+)?` + modifier.
fn classical(v: &str) -> Option<String> {
    let v = v
        .strip_prefix('v')
        .or_else(|| v.strip_prefix('V'))
        .unwrap_or(v);
    let b = v.as_bytes();
    let major_len = crate::num::digit_run(b);
    if major_len == 0 || major_len > 5 {
        return None;
    }
    let mut parts = vec![v.get(..major_len)?];
    let mut pos = major_len;
    while parts.len() < 4 && b.get(pos) == Some(&b'.') {
        let n = crate::num::digit_run(b.get(pos + 1..).unwrap_or_default());
        if n == 0 {
            break;
        }
        parts.push(v.get(pos + 1..pos + 1 + n)?);
        pos += 1 + n;
    }
    let (stability, number, dev) = modifier(v.get(pos..)?)?;
    let mut out = parts.join(".");
    for _ in parts.len()..4 {
        out.push_str(".0");
    }
    Some(finish(out, stability, &number, dev))
}

fn finish(mut out: String, stability: Option<Stability>, number: &str, dev: bool) -> String {
    if let Some((st, exact_stable)) = stability {
        // Composer's regex matches `stable` case-insensitively but only
        // drops it when spelt in lower case; `Stable` becomes `-stable`.
        if exact_stable {
            return out;
        }
        out.push('-');
        out.push_str(st);
        out.push_str(number.trim_start_matches(['.', '-']));
    }
    if dev {
        out.push_str("-dev");
    }
    out
}

/// `^v?(\d{4}(?:[.:-]?\d{2}){1,6}(?:[.:-]?\d{1,3})?)` + modifier, with
/// regex backtracking emulated by trying every split of the digit groups.
fn date_like(v: &str) -> Option<String> {
    let v = v
        .strip_prefix('v')
        .or_else(|| v.strip_prefix('V'))
        .unwrap_or(v);
    let b = v.as_bytes();
    if b.len() < 6 || !b.iter().take(4).all(u8::is_ascii_digit) {
        return None;
    }
    // Enumerate prefix lengths matching the date grammar, longest first, and
    // take the first whose remainder is a valid modifier.
    let mut ends = Vec::new();
    date_ends(b, 4, 0, 0, &mut ends);
    ends.sort_unstable();
    ends.dedup();
    for end in ends.into_iter().rev() {
        let date = v.get(..end)?;
        if let Some((stability, number, dev)) = modifier(v.get(end..)?) {
            let norm: String = date
                .chars()
                .map(|c| if c.is_ascii_digit() { c } else { '.' })
                .collect();
            return Some(finish(norm, stability, &number, dev));
        }
    }
    None
}

/// Collects the possible end positions of the date grammar after the first
/// four digits: 1–6 groups of two digits, then at most one group of 1–3 digits,
/// each optionally preceded by one of `.:-`.
fn date_ends(b: &[u8], pos: usize, twos: usize, smalls: usize, out: &mut Vec<usize>) {
    if twos >= 1 {
        out.push(pos);
    }
    let sep = usize::from(matches!(b.get(pos), Some(b'.' | b':' | b'-')));
    for start in [pos + sep, pos] {
        if start == pos && sep == 1 {
            continue;
        }
        let run = crate::num::digit_run(b.get(start..).unwrap_or_default());
        if smalls == 0 && twos < 6 && run >= 2 {
            date_ends(b, start + 2, twos + 1, 0, out);
        }
        if twos >= 1 && smalls < 1 {
            for n in 1..=run.min(3) {
                date_ends(b, start + n, twos, smalls + 1, out);
            }
        }
    }
}

/// `VersionParser::normalizeBranch` for the numeric branch forms.
fn numeric_branch(name: &str) -> Option<String> {
    let name = name.trim();
    let name = name
        .strip_prefix('v')
        .or_else(|| name.strip_prefix('V'))
        .unwrap_or(name);
    let parts: Vec<&str> = name.split('.').collect();
    if parts.is_empty() || parts.len() > 4 || !all_digits(parts.first()?) {
        return None;
    }
    let mut out = String::new();
    for (i, p) in parts.iter().enumerate() {
        let p = match *p {
            "x" | "X" | "*" if i > 0 => "9999999",
            p if all_digits(p) => p,
            _ => return None,
        };
        if i > 0 {
            out.push('.');
        }
        out.push_str(p);
    }
    for _ in parts.len()..4 {
        out.push_str(".9999999");
    }
    out.push_str("-dev");
    Some(out)
}

/// `VersionParser::normalize`.
pub fn normalize(input: &str) -> Result<String, String> {
    let mut v = input.trim();
    // Strip an alias (`1.0 as 2.0`) and a stability flag (`@beta`).
    if let Some((a, _)) = v.split_once(" as ") {
        v = a.trim_end();
    }
    if let Some((a, flag)) = v.rsplit_once('@') {
        if ["stable", "rc", "beta", "alpha", "dev"].contains(&flag.to_ascii_lowercase().as_str()) {
            v = a;
        }
    }
    if ["master", "trunk", "default"].contains(&v) {
        return Ok(format!("dev-{v}"));
    }
    if v.len() >= 4 && v.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("dev-")) {
        return Ok(format!("dev-{}", v.get(4..).unwrap_or_default()));
    }
    if let Some((a, meta)) = v.split_once('+') {
        if !a.is_empty()
            && !a.contains([',', ' ', '\t'])
            && !meta.is_empty()
            && !meta.contains(char::is_whitespace)
        {
            v = a;
        }
    }
    if let Some(n) = classical(v).or_else(|| date_like(v)) {
        return Ok(n);
    }
    let lower = v.to_ascii_lowercase();
    if let Some(stem) = lower.strip_suffix("dev") {
        let stem_len = stem.len();
        let stem = v.get(..stem_len).unwrap_or_default();
        let stem = stem.strip_suffix(['.', '-']).unwrap_or(stem);
        if let Some(n) = numeric_branch(stem) {
            return Ok(n);
        }
    }
    Err("not a Composer version (see VersionParser::normalize)".into())
}

impl ComposerVersion {
    /// Normalises a Composer version string.
    pub fn parse(s: &str) -> Result<ComposerVersion, String> {
        normalize(s).map(|normalized| ComposerVersion { normalized })
    }

    /// The normalised form (`1.2.0.0-beta1`).
    pub fn normalized(&self) -> &str {
        &self.normalized
    }
}

/// PHP's `php_canonicalize_version`.
fn canonicalize(v: &str) -> Vec<u8> {
    let b = v.as_bytes();
    let Some((&first, rest)) = b.split_first() else {
        return Vec::new();
    };
    let isdig = |c: u8| c.is_ascii_digit();
    let isndig = |c: u8| !c.is_ascii_digit() && c != b'.';
    let mut out = vec![first];
    let mut lp = first;
    for &c in rest {
        let last = out.last().copied();
        if matches!(c, b'-' | b'_' | b'+') {
            if last != Some(b'.') {
                out.push(b'.');
            }
        } else if (isndig(lp) && isdig(c)) || (isdig(lp) && isndig(c)) {
            if last != Some(b'.') {
                out.push(b'.');
            }
            out.push(c);
        } else if !c.is_ascii_alphanumeric() {
            if last != Some(b'.') {
                out.push(b'.');
            }
        } else {
            out.push(c);
        }
        lp = c;
    }
    out
}

/// PHP's `compare_special_version_forms` rank (prefix match, first wins).
fn special_rank(form: &[u8]) -> i32 {
    const FORMS: [(&str, i32); 10] = [
        ("dev", 0),
        ("alpha", 1),
        ("a", 1),
        ("beta", 2),
        ("b", 2),
        ("RC", 3),
        ("rc", 3),
        ("#", 4),
        ("pl", 5),
        ("p", 5),
    ];
    FORMS
        .iter()
        .find(|(name, _)| form.starts_with(name.as_bytes()))
        .map_or(-6, |(_, r)| *r)
}

/// C `strtol` on a digit-leading part, saturating like glibc.
fn strtol(p: &[u8]) -> i64 {
    let mut v: i64 = 0;
    for &c in p.iter().take_while(|c| c.is_ascii_digit()) {
        v = v.saturating_mul(10).saturating_add(i64::from(c - b'0'));
    }
    v
}

const NUMBER_FORM: &[u8] = b"#N#";

/// PHP's `php_version_compare`.
pub fn php_version_compare(a: &str, b: &str) -> Ordering {
    let (ca, cb) = (canonicalize(a), canonicalize(b));
    compare_canonical(&ca, &cb)
}

fn compare_canonical(ca: &[u8], cb: &[u8]) -> Ordering {
    let pa: Vec<&[u8]> = ca.split(|c| *c == b'.').collect();
    let pb: Vec<&[u8]> = cb.split(|c| *c == b'.').collect();
    let starts_digit = |p: &[u8]| p.first().is_some_and(u8::is_ascii_digit);
    let mut i = 0;
    while let (Some(x), Some(y)) = (pa.get(i), pb.get(i)) {
        let ord = match (starts_digit(x), starts_digit(y)) {
            (true, true) => strtol(x).cmp(&strtol(y)),
            (false, false) => special_rank(x).cmp(&special_rank(y)),
            (true, false) => special_rank(NUMBER_FORM).cmp(&special_rank(y)),
            (false, true) => special_rank(x).cmp(&special_rank(NUMBER_FORM)),
        };
        if ord != Ordering::Equal {
            return ord;
        }
        i += 1;
    }
    // One side has parts left: a number makes it bigger, otherwise the rest
    // is compared against the number form.
    if let Some(x) = pa.get(i) {
        if starts_digit(x) {
            return Ordering::Greater;
        }
        let rest = pa.get(i..).unwrap_or_default().join(&b'.');
        return compare_canonical(&rest, NUMBER_FORM);
    }
    if let Some(y) = pb.get(i) {
        if starts_digit(y) {
            return Ordering::Less;
        }
        let rest = pb.get(i..).unwrap_or_default().join(&b'.');
        return compare_canonical(NUMBER_FORM, &rest);
    }
    Ordering::Equal
}

impl Ord for ComposerVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        let (a, b) = (&self.normalized, &other.normalized);
        if a.starts_with("dev-") && b.starts_with("dev-") {
            return a.cmp(b);
        }
        php_version_compare(a, b)
    }
}

impl PartialOrd for ComposerVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for ComposerVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for ComposerVersion {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_examples() {
        // From Composer's VersionParserTest "successful normalized versions".
        for (input, want) in [
            ("1.0.0", "1.0.0.0"),
            ("1.2.3.4", "1.2.3.4"),
            ("1.0.0RC1dev", "1.0.0.0-RC1-dev"),
            ("1.0.0-rC15-dev", "1.0.0.0-RC15-dev"),
            ("1.0.0.RC.15-dev", "1.0.0.0-RC15-dev"),
            ("1.0.0-rc1", "1.0.0.0-RC1"),
            ("1.0.0.pl3-dev", "1.0.0.0-patch3-dev"),
            ("1.0-dev", "1.0.0.0-dev"),
            ("0", "0.0.0.0"),
            ("10.4.13-beta", "10.4.13.0-beta"),
            ("10.4.13beta2", "10.4.13.0-beta2"),
            ("10.4.13beta.2", "10.4.13.0-beta2"),
            ("v1.13.11-beta.0", "1.13.11.0-beta0"),
            ("1.13.11.0-beta0", "1.13.11.0-beta0"),
            ("10.4.13-b", "10.4.13.0-beta"),
            ("10.4.13-b5", "10.4.13.0-beta5"),
            ("v1.0.0", "1.0.0.0"),
            ("2010.01", "2010.01.0.0"),
            ("2010.01.02", "2010.01.02.0"),
            ("2010-01-02", "2010.01.02"),
            ("2010-01-02.5", "2010.01.02.5"),
            ("20100102-203040", "20100102.203040"),
            ("20100102203040-10", "20100102203040.10"),
            ("20100102-203040-p1", "20100102.203040-patch1"),
            ("dev-master", "dev-master"),
            ("master", "dev-master"),
            ("dev-feature-foo", "dev-feature-foo"),
            ("1.x-dev", "1.9999999.9999999.9999999-dev"),
            ("1.0.0+foo", "1.0.0.0"),
            ("1.0.0-alpha.3.1+foo/bar", "1.0.0.0-alpha3.1"),
            ("1.0.0@dev", "1.0.0.0"),
            ("1.0.x-dev as 1.2.3", "1.0.9999999.9999999-dev"),
            ("1.0.0-stable", "1.0.0.0"),
        ] {
            assert_eq!(normalize(input).as_deref(), Ok(want), "{input}");
        }
        for bad in [
            "",
            "a",
            "1.0.0-meh",
            "1.0.0.0.0",
            "feature-foo",
            "1.0 .2",
            "1.0.0+foo bar",
        ] {
            assert!(normalize(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn php_version_compare_examples() {
        // From the PHP manual's version_compare() description.
        assert_eq!(php_version_compare("5.2", "5.2.0"), Ordering::Less);
        assert_eq!(php_version_compare("1.0rc1", "1.0"), Ordering::Less);
        assert_eq!(php_version_compare("1.0", "1.0pl1"), Ordering::Less);
        assert_eq!(php_version_compare("1.0-dev", "1.0alpha"), Ordering::Less);
        assert_eq!(php_version_compare("1.0.0", "1.0.0"), Ordering::Equal);
    }
}
