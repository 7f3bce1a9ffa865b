//! Cargo / crates.io versions, parsed by the `semver` crate (the
//! implementation Cargo itself uses) and ordered by SemVer precedence
//! (`semver::Version::cmp_precedence`), which ignores build metadata as
//! RustSec/OSV range matching requires. The `semver` crate's own `Ord`
//! additionally orders by build metadata and is deliberately not used.

use std::cmp::Ordering;

/// A crates.io version.
#[derive(Debug, Clone)]
pub struct CargoVersion(semver::Version);

impl CargoVersion {
    /// Parses with `semver::Version::parse` (strict SemVer, no `v`).
    pub fn parse(s: &str) -> Result<CargoVersion, String> {
        semver::Version::parse(s)
            .map(CargoVersion)
            .map_err(|e| e.to_string())
    }
}

impl Ord for CargoVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.cmp_precedence(&other.0)
    }
}

impl PartialOrd for CargoVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for CargoVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for CargoVersion {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_metadata_is_ignored() {
        let a = CargoVersion::parse("1.0.0+a").unwrap();
        let b = CargoVersion::parse("1.0.0+b").unwrap();
        assert_eq!(a, b);
        assert!(CargoVersion::parse("1.0.0-rc.1").unwrap() < a);
        assert!(CargoVersion::parse("v1.0.0").is_err());
    }
}
