//! Package URLs (https://github.com/package-url/purl-spec) for every ecosystem.
//!
//! Conventions follow the purl spec and the field's de-facto usage (Trivy, Syft), so that
//! SBOMs from bulwark match other tools' identifiers: the distro is the namespace for OS
//! packages, the epoch is a qualifier, PyPI names are normalised.

use crate::{Ecosystem, OsInfo, Package};
use packageurl::PackageUrl;

/// Strips a leading `N:` epoch from a deb/rpm version, returning (epoch, rest).
pub fn split_epoch(version: &str) -> (Option<u32>, &str) {
    if let Some((e, rest)) = version.split_once(':') {
        if !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit()) {
            if let Ok(n) = e.parse() {
                return (Some(n), rest);
            }
        }
    }
    (None, version)
}

/// Normalises a PyPI project name (PEP 503): lowercase, runs of `-_.` become `-`.
pub fn normalize_pypi_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut last_sep = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !last_sep {
                out.push('-');
            }
            last_sep = true;
        } else {
            out.extend(c.to_lowercase());
            last_sep = false;
        }
    }
    out
}

/// Splits `a/b/c` into (`a/b`, `c`); no slash gives no namespace.
fn split_last(name: &str, sep: char) -> (Option<&str>, &str) {
    match name.rsplit_once(sep) {
        Some((ns, n)) if !ns.is_empty() && !n.is_empty() => (Some(ns), n),
        _ => (None, name),
    }
}

/// The distro namespace used in OS purls (`debian`, `ubuntu`, `alpine`, `redhat`, ...).
pub fn distro_namespace(os: &OsInfo) -> String {
    match os.family.as_str() {
        "rhel" => "redhat".to_string(),
        "almalinux" => "alma".to_string(),
        f => f.to_string(),
    }
}

/// Builds the purl of a package. Never fails: a name the purl library rejects yields a
/// `pkg:generic` purl with the name percent-encoded.
pub fn purl_for(pkg: &Package, os: Option<&OsInfo>) -> String {
    build(pkg, os).unwrap_or_else(|| {
        PackageUrl::new("generic", pkg.name.as_str())
            .map(|mut p| {
                if !pkg.version.is_empty() {
                    p.with_version(pkg.version.as_str());
                }
                p.to_string()
            })
            .unwrap_or_else(|_| format!("pkg:generic/unnamed@{}", pkg.version))
    })
}

fn build(pkg: &Package, os: Option<&OsInfo>) -> Option<String> {
    let ty = pkg.ecosystem.purl_type();
    let mut version = pkg.version.clone();
    let mut epoch = pkg.epoch;
    let (namespace, name): (Option<String>, String) = match pkg.ecosystem {
        Ecosystem::Deb | Ecosystem::Rpm | Ecosystem::Apk => {
            if matches!(pkg.ecosystem, Ecosystem::Deb | Ecosystem::Rpm) {
                let (e, rest) = split_epoch(&pkg.version);
                if e.is_some() {
                    epoch = e;
                }
                version = rest.to_string();
            }
            let ns = os.map(distro_namespace).filter(|s| !s.is_empty());
            (ns, pkg.name.clone())
        }
        Ecosystem::Pypi => (None, normalize_pypi_name(&pkg.name)),
        Ecosystem::Npm => {
            let (ns, n) = split_last(&pkg.name, '/');
            (ns.map(str::to_string), n.to_string())
        }
        Ecosystem::Maven => {
            let (ns, n) = split_last(&pkg.name, ':');
            (ns.map(str::to_string), n.to_string())
        }
        Ecosystem::Golang | Ecosystem::Composer | Ecosystem::Swift => {
            let (ns, n) = split_last(&pkg.name, '/');
            (ns.map(str::to_string), n.to_string())
        }
        _ => (None, pkg.name.clone()),
    };
    let mut p = PackageUrl::new(ty, name).ok()?;
    if let Some(ns) = &namespace {
        p.with_namespace(ns.as_str());
    }
    if !version.is_empty() {
        p.with_version(version);
    }
    if let Some(arch) = &pkg.arch {
        if !arch.is_empty() && pkg.ecosystem.is_os() {
            p.add_qualifier("arch", arch.clone()).ok()?;
        }
    }
    if pkg.ecosystem.is_os() {
        if let Some(os) = os {
            let distro = match pkg.ecosystem {
                Ecosystem::Apk => os.version.clone(),
                _ => format!("{}-{}", distro_namespace(os), os.version),
            };
            if !os.version.is_empty() {
                p.add_qualifier("distro", distro).ok()?;
            }
        }
        if let Some(e) = epoch {
            if e != 0 {
                p.add_qualifier("epoch", e.to_string()).ok()?;
            }
        }
    }
    Some(p.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(family: &str, version: &str) -> OsInfo {
        OsInfo {
            family: family.into(),
            version: version.into(),
            ..Default::default()
        }
    }

    #[test]
    fn deb_with_epoch_and_distro() {
        let mut p = Package::new(Ecosystem::Deb, "libgcc-s1", "1:12.2.0-14", "dpkg");
        p.arch = Some("amd64".into());
        let s = purl_for(&p, Some(&os("debian", "12.15")));
        assert_eq!(
            s,
            "pkg:deb/debian/libgcc-s1@12.2.0-14?arch=amd64&distro=debian-12.15&epoch=1"
        );
    }

    #[test]
    fn npm_scoped_and_maven() {
        let p = Package::new(Ecosystem::Npm, "@babel/core", "7.0.0", "npm-lock");
        assert_eq!(purl_for(&p, None), "pkg:npm/%40babel/core@7.0.0");
        let p = Package::new(
            Ecosystem::Maven,
            "org.apache.logging.log4j:log4j-core",
            "2.17.1",
            "java-archive",
        );
        assert_eq!(
            purl_for(&p, None),
            "pkg:maven/org.apache.logging.log4j/log4j-core@2.17.1"
        );
    }

    #[test]
    fn pypi_normalised() {
        let p = Package::new(Ecosystem::Pypi, "Flask_SQLAlchemy", "3.0", "python");
        assert_eq!(purl_for(&p, None), "pkg:pypi/flask-sqlalchemy@3.0");
    }

    #[test]
    fn golang_namespace() {
        let p = Package::new(Ecosystem::Golang, "github.com/pkg/errors", "v0.9.1", "go");
        assert_eq!(
            purl_for(&p, None),
            "pkg:golang/github.com/pkg/errors@v0.9.1"
        );
    }
}
