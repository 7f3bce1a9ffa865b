//! NuGet package versions, parsed like `NuGetVersion.TryParse` and ordered
//! like `VersionComparer.Default` (NuGet.Versioning; "Package versioning"
//! in the NuGet docs).
//!
//! `MAJOR[.MINOR[.PATCH[.REVISION]]][-RELEASE][+METADATA]`: one to four
//! non-negative 32-bit numbers (missing ones are 0, so `1.0 == 1.0.0.0`),
//! release labels of `[0-9A-Za-z-]`. Ordering compares the four numbers,
//! then a release beats a pre-release, then labels pairwise: both numeric →
//! as integers; numeric below non-numeric; otherwise ordinal
//! case-insensitively; fewer labels first. Metadata is ignored.

use std::cmp::Ordering;

#[derive(Debug, Clone)]
enum Label {
    Num(i32),
    Text(String),
}

/// A parsed NuGet version.
#[derive(Debug, Clone)]
pub struct NuGetVersion {
    numbers: [u32; 4],
    release: Vec<Label>,
}

impl NuGetVersion {
    /// Parses a NuGet version string.
    pub fn parse(s: &str) -> Result<NuGetVersion, String> {
        let (rest, meta) = match s.split_once('+') {
            Some((r, m)) => (r, Some(m)),
            None => (s, None),
        };
        if let Some(m) = meta {
            if m.is_empty()
                || !m.split('.').all(|p| {
                    !p.is_empty() && p.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-')
                })
            {
                return Err(format!("invalid metadata {m:?}"));
            }
        }
        let (core, release) = match rest.split_once('-') {
            Some((c, r)) => (c, Some(r)),
            None => (rest, None),
        };
        let parts: Vec<&str> = core.split('.').collect();
        if parts.is_empty() || parts.len() > 4 {
            return Err("expected 1 to 4 numeric parts".into());
        }
        let mut numbers = [0u32; 4];
        for (slot, p) in numbers.iter_mut().zip(&parts) {
            if p.is_empty() || !p.bytes().all(|c| c.is_ascii_digit()) {
                return Err(format!("version part {p:?} is not a number"));
            }
            *slot = p
                .parse::<i32>()
                .ok()
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| format!("version part {p} does not fit in 32 bits"))?;
        }
        let mut labels = Vec::new();
        if let Some(r) = release {
            for l in r.split('.') {
                if l.is_empty() || !l.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-') {
                    return Err(format!("invalid release label {l:?}"));
                }
                // NuGet treats a label as numeric when Int32.TryParse accepts it.
                labels.push(match l.parse::<i32>() {
                    Ok(n) => Label::Num(n),
                    Err(_) => Label::Text(l.to_ascii_uppercase()),
                });
            }
        }
        Ok(NuGetVersion {
            numbers,
            release: labels,
        })
    }

    /// Whether the version has release labels.
    pub fn is_prerelease(&self) -> bool {
        !self.release.is_empty()
    }
}

fn cmp_label(a: &Label, b: &Label) -> Ordering {
    match (a, b) {
        (Label::Num(x), Label::Num(y)) => x.cmp(y),
        (Label::Num(_), Label::Text(_)) => Ordering::Less,
        (Label::Text(_), Label::Num(_)) => Ordering::Greater,
        (Label::Text(x), Label::Text(y)) => x.cmp(y),
    }
}

impl Ord for NuGetVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        self.numbers.cmp(&other.numbers).then_with(|| {
            match (self.release.is_empty(), other.release.is_empty()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                (false, false) => {
                    for (a, b) in self.release.iter().zip(&other.release) {
                        let o = cmp_label(a, b);
                        if o != Ordering::Equal {
                            return o;
                        }
                    }
                    self.release.len().cmp(&other.release.len())
                }
            }
        })
    }
}

impl PartialOrd for NuGetVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for NuGetVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for NuGetVersion {}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> NuGetVersion {
        NuGetVersion::parse(s).unwrap()
    }

    #[test]
    fn documented_rules() {
        // From the NuGet "Package versioning" docs and NuGet.Versioning tests.
        assert_eq!(v("1.0"), v("1.0.0.0"));
        assert_eq!(v("1"), v("1.0.0"));
        assert!(v("1.0.0.1") > v("1.0.0"));
        assert!(v("1.0.0-alpha") < v("1.0.0"));
        assert_eq!(v("1.0.0-ALPHA"), v("1.0.0-alpha"));
        assert!(v("1.0.0-alpha.2") < v("1.0.0-alpha.10"));
        assert!(v("1.0.0-alpha.1") < v("1.0.0-alpha.a"));
        assert!(v("1.0.0-alpha") < v("1.0.0-alpha.1"));
        assert!(v("1.0.0-beta") > v("1.0.0-alpha.1"));
        assert!(v("1.0.0-rc.1") < v("1.0.0-rc.1a"));
        assert_eq!(v("1.0.0+abc"), v("1.0.0+def"));
        assert_eq!(v("01.0"), v("1.0"));
        for bad in [
            "",
            "a",
            "1.2.3.4.5",
            "1..2",
            "1.0-",
            "1.0+",
            "1.0-a..b",
            "99999999999.0",
            "1.0 ",
        ] {
            assert!(NuGetVersion::parse(bad).is_err(), "{bad:?}");
        }
    }
}
