//! The words every bulwark crate shares: packages, their locations, the detected
//! operating system, and the stable JSON report.
//!
//! Nothing here does I/O. Catalogers produce [`Package`]s, the image pipeline says where
//! they came from ([`Location`]), and every output format renders a [`Report`].

pub mod duration;
pub mod findings;
pub mod purl;
pub mod report;
pub mod text;

use serde::{Deserialize, Serialize};

pub use findings::{Cvss, FixStatus, Misconfiguration, SecretFinding, Severity, VulnFinding};
pub use report::{
    ImageMeta, IncompleteKind, IncompleteReason, LayerMeta, NotChecked, Report, ReportTarget,
    TargetKind, Warning,
};

/// The package ecosystem, named after its package-url type.
///
/// The purl type is the stable identity used for matching vulnerabilities and for SBOM
/// output; which file a package was found in is recorded separately in
/// [`Package::found_by`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Ecosystem {
    /// Debian/Ubuntu packages (dpkg).
    Deb,
    /// Alpine packages (apk).
    Apk,
    /// RPM packages (Red Hat family, SUSE, Amazon, Mariner).
    Rpm,
    /// Python (PyPI) distributions.
    Pypi,
    /// JavaScript packages (npm, yarn, pnpm, bun).
    Npm,
    /// Rust crates.
    Cargo,
    /// Go modules (and the Go standard library as `stdlib`).
    Golang,
    /// Java artifacts (Maven coordinates).
    Maven,
    /// Ruby gems.
    Gem,
    /// PHP Composer packages.
    Composer,
    /// .NET NuGet packages.
    Nuget,
    /// C/C++ Conan packages.
    Conan,
    /// Swift packages.
    Swift,
    /// CocoaPods pods.
    Cocoapods,
    /// Dart pub packages.
    Pub,
    /// Erlang/Elixir hex packages.
    Hex,
    /// Julia packages.
    Julia,
    /// Conda packages.
    Conda,
    /// Anything without a more specific type.
    Generic,
}

impl Ecosystem {
    /// The package-url type string.
    pub fn purl_type(self) -> &'static str {
        match self {
            Ecosystem::Deb => "deb",
            Ecosystem::Apk => "apk",
            Ecosystem::Rpm => "rpm",
            Ecosystem::Pypi => "pypi",
            Ecosystem::Npm => "npm",
            Ecosystem::Cargo => "cargo",
            Ecosystem::Golang => "golang",
            Ecosystem::Maven => "maven",
            Ecosystem::Gem => "gem",
            Ecosystem::Composer => "composer",
            Ecosystem::Nuget => "nuget",
            Ecosystem::Conan => "conan",
            Ecosystem::Swift => "swift",
            Ecosystem::Cocoapods => "cocoapods",
            Ecosystem::Pub => "pub",
            Ecosystem::Hex => "hex",
            Ecosystem::Julia => "julia",
            Ecosystem::Conda => "conda",
            Ecosystem::Generic => "generic",
        }
    }

    /// Parses a package-url type string.
    pub fn from_purl_type(s: &str) -> Option<Self> {
        Some(match s {
            "deb" => Ecosystem::Deb,
            "apk" => Ecosystem::Apk,
            "rpm" => Ecosystem::Rpm,
            "pypi" => Ecosystem::Pypi,
            "npm" => Ecosystem::Npm,
            "cargo" => Ecosystem::Cargo,
            "golang" => Ecosystem::Golang,
            "maven" => Ecosystem::Maven,
            "gem" => Ecosystem::Gem,
            "composer" => Ecosystem::Composer,
            "nuget" => Ecosystem::Nuget,
            "conan" => Ecosystem::Conan,
            "swift" => Ecosystem::Swift,
            "cocoapods" => Ecosystem::Cocoapods,
            "pub" => Ecosystem::Pub,
            "hex" => Ecosystem::Hex,
            "julia" => Ecosystem::Julia,
            "conda" => Ecosystem::Conda,
            "generic" => Ecosystem::Generic,
            _ => return None,
        })
    }

    /// Whether packages of this ecosystem belong to the operating system.
    pub fn is_os(self) -> bool {
        matches!(self, Ecosystem::Deb | Ecosystem::Apk | Ecosystem::Rpm)
    }
}

/// The source package a binary distro package was built from.
///
/// Distro advisories are keyed by source package, so this is what vulnerability matching
/// looks up for OS packages.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SourcePackage {
    /// Source package name (dpkg `Source:`, rpm SOURCERPM name, apk origin).
    pub name: String,
    /// Full source version in the ecosystem's own syntax (epoch included where present).
    pub version: String,
}

/// Where a package was found: a path inside the target and, for images, the layer.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Location {
    /// Path inside the image or directory, with a leading `/` for image/rootfs targets.
    pub path: String,
    /// Digest of the layer blob that introduced the package (images only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer_digest: Option<String>,
    /// Uncompressed digest (diff id) of that layer (images only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer_diff_id: Option<String>,
}

impl Location {
    /// A location without layer information (directories, lock files in tests).
    pub fn path(path: impl Into<String>) -> Self {
        Location {
            path: path.into(),
            layer_digest: None,
            layer_diff_id: None,
        }
    }
}

/// One software package found in a target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Package {
    /// The ecosystem's natural full name: `@scope/pkg` for npm, `group:artifact` for Maven,
    /// the module path for Go, `vendor/name` for Composer.
    pub name: String,
    /// The full version in the ecosystem's own syntax. For deb and rpm this includes the
    /// epoch (`1:2.3-4`) and release, so it can be compared as-is.
    pub version: String,
    /// Ecosystem (purl type).
    pub ecosystem: Ecosystem,
    /// Package URL; filled by [`Package::finalize`] once the OS is known.
    #[serde(default)]
    pub purl: String,
    /// Source package (distro packages).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<SourcePackage>,
    /// Licenses as recorded (SPDX expressions where the format records them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub licenses: Vec<String>,
    /// CPU architecture (distro packages).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arch: Option<String>,
    /// Epoch, when the format records one separately (rpm, deb).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch: Option<u32>,
    /// Where it was found.
    #[serde(default)]
    pub locations: Vec<Location>,
    /// The cataloger that found it (`dpkg`, `python-dist-info`, `npm-lock`, `go-binary`, ...).
    pub found_by: String,
    /// True for development-only dependencies (lock files that record it).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dev: bool,
    /// Content digest recorded by the package database (`sha256:...`, `sha1:...`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// Supplier or maintainer as recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supplier: Option<String>,
}

impl Package {
    /// A package with the required fields set and everything else empty.
    pub fn new(
        ecosystem: Ecosystem,
        name: impl Into<String>,
        version: impl Into<String>,
        found_by: impl Into<String>,
    ) -> Self {
        Package {
            name: name.into(),
            version: version.into(),
            ecosystem,
            purl: String::new(),
            source: None,
            licenses: Vec::new(),
            arch: None,
            epoch: None,
            locations: Vec::new(),
            found_by: found_by.into(),
            dev: false,
            digest: None,
            supplier: None,
        }
    }

    /// Builder: add a location.
    pub fn at(mut self, loc: Location) -> Self {
        self.locations.push(loc);
        self
    }

    /// Computes the purl now that the OS (distro namespace and qualifier) is known.
    pub fn finalize(&mut self, os: Option<&OsInfo>) {
        self.purl = purl::purl_for(self, os);
    }

    /// Whether this package belongs to the operating system.
    pub fn is_os(&self) -> bool {
        self.ecosystem.is_os()
    }
}

/// The detected operating system of an image or root filesystem.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct OsInfo {
    /// Normalised family: `debian`, `ubuntu`, `alpine`, `rhel`, `centos`, `rocky`,
    /// `almalinux`, `fedora`, `amazon`, `oracle`, `sles`, `opensuse-leap`,
    /// `opensuse-tumbleweed`, `photon`, `mariner`, `azurelinux`, `wolfi`, `chainguard`, ...
    pub family: String,
    /// Version as the distribution states it (`12.5`, `3.19.1`, `9.3`, `2023`).
    pub version: String,
    /// Human-readable name (`PRETTY_NAME`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pretty_name: Option<String>,
    /// Release codename (`bookworm`, `jammy`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codename: Option<String>,
    /// True when detected without a release file (e.g. distroless `status.d`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub inferred: bool,
}
