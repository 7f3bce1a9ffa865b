//! Version parsing and ordering for every ecosystem bulwark matches
//! vulnerabilities in.
//!
//! Vulnerability matching asks "is the installed version inside the affected
//! range?", so each ecosystem's ordering must agree exactly with the tool
//! that ecosystem itself uses: a wrong answer is a missed vulnerability or a
//! false alarm. One module per [`Scheme`] implements its native algorithm;
//! each module's doc names the reference it follows. The differential tests
//! in `tests/` compare every scheme against its native implementation where
//! one can run here.
//!
//! Use [`parse`] once per version and compare the resulting [`Version`]s, or
//! [`compare`] for a one-off comparison.
//!
//! Two comparisons exist because one ecosystem's native order is not an order:
//! Maven's `ComparableVersion` is not transitive for some inputs. [`Version::native_cmp`]
//! (and [`compare`]) give the ecosystem's own answer for one pair, which is what a range
//! check must use; [`Ord`] is a total order to sort by (identical to the native one for
//! every scheme but Maven; see [`maven`]).

use std::cmp::Ordering;
use std::fmt;

pub mod apk;
pub mod cargo;
pub mod composer;
pub mod dpkg;
pub mod go;
pub mod maven;
pub mod npm;
pub mod nuget;
pub mod num;
pub mod pep440;
pub mod rpm;
pub mod rubygems;
pub mod semver2;

/// Longest version string accepted, in bytes. Real versions are far shorter;
/// the limit bounds the work done on hostile input.
pub const MAX_VERSION_LEN: usize = 1024;

/// A version ordering scheme: one per ecosystem family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scheme {
    /// Debian/Ubuntu `dpkg` (`[epoch:]upstream[-revision]`).
    Dpkg,
    /// RPM (`[epoch:]version[-release]`): Red Hat, Rocky, Alma, SUSE, ...
    Rpm,
    /// Alpine `apk-tools`.
    Apk,
    /// Python PEP 440.
    Pep440,
    /// npm's node-semver (loose parsing).
    Npm,
    /// Cargo / crates.io (the `semver` crate).
    Cargo,
    /// Go module versions, including `+incompatible` and pseudo-versions.
    Go,
    /// Maven `ComparableVersion`.
    Maven,
    /// RubyGems `Gem::Version`.
    RubyGems,
    /// NuGet `NuGetVersion`.
    NuGet,
    /// Composer / Packagist.
    Composer,
    /// Plain SemVer 2.0.0, as used by OSV `SEMVER` ranges.
    Semver,
}

impl Scheme {
    /// All schemes, in declaration order.
    pub const ALL: [Scheme; 12] = [
        Scheme::Dpkg,
        Scheme::Rpm,
        Scheme::Apk,
        Scheme::Pep440,
        Scheme::Npm,
        Scheme::Cargo,
        Scheme::Go,
        Scheme::Maven,
        Scheme::RubyGems,
        Scheme::NuGet,
        Scheme::Composer,
        Scheme::Semver,
    ];

    /// The scheme used for an OSV `ecosystem` value's `ECOSYSTEM` ranges.
    ///
    /// Accepts suffixed forms such as `Debian:12`, `Ubuntu:22.04:LTS`,
    /// `Alpine:v3.19`; the part before the first `:` picks the scheme.
    /// Returns `None` for ecosystems whose ordering is not implemented.
    pub fn for_osv_ecosystem(ecosystem: &str) -> Option<Scheme> {
        let base = ecosystem.split(':').next().unwrap_or("").trim();
        Some(match base {
            "Debian" | "Ubuntu" => Scheme::Dpkg,
            "Alpine" | "Chainguard" | "Wolfi" => Scheme::Apk,
            "Rocky Linux" | "AlmaLinux" | "Red Hat" | "SUSE" | "openSUSE" | "Mageia"
            | "openEuler" | "Photon OS" | "Azure Linux" | "CBL-Mariner" => Scheme::Rpm,
            "PyPI" => Scheme::Pep440,
            "npm" => Scheme::Npm,
            "crates.io" => Scheme::Cargo,
            "Go" => Scheme::Go,
            "Maven" => Scheme::Maven,
            "RubyGems" => Scheme::RubyGems,
            "NuGet" => Scheme::NuGet,
            "Packagist" => Scheme::Composer,
            // Pub and Hex order versions by SemVer 2.0 precedence.
            "Pub" | "Hex" | "SwiftURL" => Scheme::Semver,
            _ => return None,
        })
    }

    /// Short lower-case name used in messages.
    pub fn name(self) -> &'static str {
        match self {
            Scheme::Dpkg => "dpkg",
            Scheme::Rpm => "rpm",
            Scheme::Apk => "apk",
            Scheme::Pep440 => "pep440",
            Scheme::Npm => "npm",
            Scheme::Cargo => "cargo",
            Scheme::Go => "go",
            Scheme::Maven => "maven",
            Scheme::RubyGems => "rubygems",
            Scheme::NuGet => "nuget",
            Scheme::Composer => "composer",
            Scheme::Semver => "semver",
        }
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A version string that its scheme rejects.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {scheme} version {input:?}: {reason}")]
pub struct VersionError {
    /// The scheme the version was parsed under.
    pub scheme: Scheme,
    /// The offending input (cut to 128 characters).
    pub input: String,
    /// What is wrong with it.
    pub reason: String,
}

impl VersionError {
    fn new(scheme: Scheme, input: &str, reason: impl Into<String>) -> VersionError {
        VersionError {
            scheme,
            input: input.chars().take(128).collect(),
            reason: reason.into(),
        }
    }
}

#[derive(Debug, Clone)]
enum Inner {
    Dpkg(dpkg::DpkgVersion),
    Rpm(rpm::RpmVersion),
    Apk(apk::ApkVersion),
    Pep440(pep440::Pep440Version),
    Npm(npm::NpmVersion),
    Cargo(cargo::CargoVersion),
    Go(go::GoVersion),
    Maven(maven::MavenVersion),
    RubyGems(rubygems::GemVersion),
    NuGet(nuget::NuGetVersion),
    Composer(composer::ComposerVersion),
    Semver(semver2::SemVersion),
}

/// A parsed version. Ordering follows its scheme ([`Ord`] is total; see
/// [`Version::native_cmp`] for the ecosystem's pairwise answer); versions of
/// different schemes are never equal and order by [`Scheme`] first (that order
/// means nothing, it only keeps `Ord` total).
///
/// Equality is the scheme's equality, not string equality: in dpkg
/// `1.0 == 0:1.0`, in Maven `1 == 1.0.0`.
#[derive(Debug, Clone)]
pub struct Version {
    scheme: Scheme,
    original: String,
    inner: Inner,
}

impl Version {
    /// The scheme this version was parsed under.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// The string it was parsed from.
    pub fn as_str(&self) -> &str {
        &self.original
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.original)
    }
}

impl Version {
    /// The ecosystem's own answer for this pair: what its package manager or
    /// repository says. Use it to decide whether a version is inside a range. For
    /// Maven it is `ComparableVersion.compareTo`, which is not transitive for some
    /// inputs, so never sort with it; [`Ord`] is the total order to sort by. Versions
    /// of different schemes order by [`Scheme`].
    pub fn native_cmp(&self, other: &Self) -> Ordering {
        match (&self.inner, &other.inner) {
            (Inner::Maven(a), Inner::Maven(b)) => a.maven_cmp(b),
            _ => self.cmp(other),
        }
    }
}

/// A total order, safe for sorting and ordered collections. It is the scheme's own
/// order for every scheme except Maven, where it differs from
/// [`Version::native_cmp`] only on pairs Maven orders inconsistently.
impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        match (&self.inner, &other.inner) {
            (Inner::Dpkg(a), Inner::Dpkg(b)) => a.cmp(b),
            (Inner::Rpm(a), Inner::Rpm(b)) => a.cmp(b),
            (Inner::Apk(a), Inner::Apk(b)) => a.cmp(b),
            (Inner::Pep440(a), Inner::Pep440(b)) => a.cmp(b),
            (Inner::Npm(a), Inner::Npm(b)) => a.cmp(b),
            (Inner::Cargo(a), Inner::Cargo(b)) => a.cmp(b),
            (Inner::Go(a), Inner::Go(b)) => a.cmp(b),
            (Inner::Maven(a), Inner::Maven(b)) => a.cmp(b),
            (Inner::RubyGems(a), Inner::RubyGems(b)) => a.cmp(b),
            (Inner::NuGet(a), Inner::NuGet(b)) => a.cmp(b),
            (Inner::Composer(a), Inner::Composer(b)) => a.cmp(b),
            (Inner::Semver(a), Inner::Semver(b)) => a.cmp(b),
            _ => self.scheme.cmp(&other.scheme),
        }
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Version {}

/// Parses `s` as a version of `scheme`.
pub fn parse(scheme: Scheme, s: &str) -> Result<Version, VersionError> {
    if s.len() > MAX_VERSION_LEN {
        return Err(VersionError::new(
            scheme,
            s,
            format!("longer than {MAX_VERSION_LEN} bytes"),
        ));
    }
    let err = |reason: String| VersionError::new(scheme, s, reason);
    let inner = match scheme {
        Scheme::Dpkg => Inner::Dpkg(dpkg::DpkgVersion::parse(s).map_err(err)?),
        Scheme::Rpm => Inner::Rpm(rpm::RpmVersion::parse(s).map_err(err)?),
        Scheme::Apk => Inner::Apk(apk::ApkVersion::parse(s).map_err(err)?),
        Scheme::Pep440 => Inner::Pep440(pep440::Pep440Version::parse(s).map_err(err)?),
        Scheme::Npm => Inner::Npm(npm::NpmVersion::parse(s).map_err(err)?),
        Scheme::Cargo => Inner::Cargo(cargo::CargoVersion::parse(s).map_err(err)?),
        Scheme::Go => Inner::Go(go::GoVersion::parse(s).map_err(err)?),
        Scheme::Maven => Inner::Maven(maven::MavenVersion::parse(s).map_err(err)?),
        Scheme::RubyGems => Inner::RubyGems(rubygems::GemVersion::parse(s).map_err(err)?),
        Scheme::NuGet => Inner::NuGet(nuget::NuGetVersion::parse(s).map_err(err)?),
        Scheme::Composer => Inner::Composer(composer::ComposerVersion::parse(s).map_err(err)?),
        Scheme::Semver => Inner::Semver(semver2::SemVersion::parse(s).map_err(err)?),
    };
    Ok(Version {
        scheme,
        original: s.to_string(),
        inner,
    })
}

/// Compares two versions of `scheme` as the ecosystem itself does
/// ([`Version::native_cmp`]).
pub fn compare(scheme: Scheme, a: &str, b: &str) -> Result<Ordering, VersionError> {
    Ok(parse(scheme, a)?.native_cmp(&parse(scheme, b)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn osv_ecosystems_map_to_schemes() {
        let cases = [
            ("Debian", Some(Scheme::Dpkg)),
            ("Debian:12", Some(Scheme::Dpkg)),
            ("Ubuntu:22.04:LTS", Some(Scheme::Dpkg)),
            ("Alpine:v3.19", Some(Scheme::Apk)),
            ("Rocky Linux:9", Some(Scheme::Rpm)),
            ("AlmaLinux:9", Some(Scheme::Rpm)),
            ("Red Hat:enterprise_linux:9::appstream", Some(Scheme::Rpm)),
            ("SUSE:Linux Enterprise Server 15 SP5", Some(Scheme::Rpm)),
            ("openSUSE:Leap 15.5", Some(Scheme::Rpm)),
            ("PyPI", Some(Scheme::Pep440)),
            ("npm", Some(Scheme::Npm)),
            ("crates.io", Some(Scheme::Cargo)),
            ("Go", Some(Scheme::Go)),
            ("Maven", Some(Scheme::Maven)),
            ("RubyGems", Some(Scheme::RubyGems)),
            ("NuGet", Some(Scheme::NuGet)),
            ("Packagist", Some(Scheme::Composer)),
            ("Pub", Some(Scheme::Semver)),
            ("Hex", Some(Scheme::Semver)),
            ("GIT", None),
            ("", None),
            ("debian", None),
        ];
        for (eco, want) in cases {
            assert_eq!(Scheme::for_osv_ecosystem(eco), want, "{eco}");
        }
    }

    #[test]
    fn overlong_input_is_an_error_for_every_scheme() {
        let long = "1".repeat(MAX_VERSION_LEN + 1);
        for scheme in Scheme::ALL {
            let e = parse(scheme, &long).unwrap_err();
            assert_eq!(e.scheme, scheme);
            assert!(e.reason.contains("longer"), "{e}");
            assert!(e.input.len() <= 128);
        }
    }

    #[test]
    fn cross_scheme_versions_are_never_equal() {
        let a = parse(Scheme::Dpkg, "1.0").unwrap();
        let b = parse(Scheme::Rpm, "1.0").unwrap();
        assert_ne!(a, b);
        assert_eq!(a.cmp(&b), Ordering::Less);
    }
}
