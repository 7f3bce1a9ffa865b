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

/// Normalises a PyPI project name (PEP 503): `re.sub(r"[-_.]+", "-", name).lower()`
/// with Python's (Unicode) lower-casing, after trimming surrounding whitespace. Leading
/// and trailing separators become `-` as in PEP 503 (`_foo` → `-foo`): they are not
/// dropped. This is bulwark's only PEP 503 normaliser: purls, the vulnerability store's
/// keys and the matcher all use it, so a name normalises the same way everywhere.
pub fn normalize_pypi_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut last_sep = false;
    for c in name.trim().chars() {
        if matches!(c, '-' | '_' | '.') {
            if !last_sep {
                out.push('-');
            }
            last_sep = true;
        } else {
            out.push(c);
            last_sep = false;
        }
    }
    // Lower-case the whole string after collapsing separators, as Python does: a
    // string-level lower case applies context rules (final sigma) that per-character
    // lower-casing does not.
    out.to_lowercase()
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
    // The purl library lower-cases golang namespaces (an old purl-spec rule). Go module
    // paths are case-sensitive (`github.com/0xJacky/Nginx-UI`), and Trivy and Syft keep
    // their case, so golang purls are built under a stand-in type the library leaves
    // alone (its encoding does not depend on the type) and renamed afterwards.
    let golang = pkg.ecosystem == Ecosystem::Golang;
    let mut p = PackageUrl::new(if golang { GOLANG_STANDIN } else { ty }, name).ok()?;
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
    let out = p.to_string();
    if golang {
        return out
            .strip_prefix("pkg:")
            .and_then(|r| r.strip_prefix(GOLANG_STANDIN))
            .map(|rest| format!("pkg:{ty}{rest}"));
    }
    Some(out)
}

/// The type golang purls are built under before being renamed (see [`purl_for`]).
const GOLANG_STANDIN: &str = "x-bulwark-golang";

/// The Go module path a `pkg:golang/...` purl names, with its case as written in the
/// purl (`pkg:golang/github.com/0xJacky/Nginx-UI@v1` → `github.com/0xJacky/Nginx-UI`).
/// Generic purl parsers lower-case golang namespaces; this reads the text itself.
/// `None` when `purl` is not a golang purl.
pub fn golang_module_path(purl: &str) -> Option<String> {
    let scheme = purl.get(..4)?;
    if !scheme.eq_ignore_ascii_case("pkg:") {
        return None;
    }
    let rest = purl.get(4..)?.trim_start_matches('/');
    let (ty, rest) = rest.split_once('/')?;
    if !ty.eq_ignore_ascii_case("golang") {
        return None;
    }
    // Namespace and name end at the version, qualifiers or subpath; `@`, `?` and `#`
    // inside them are percent-encoded.
    let end = rest.find(['@', '?', '#']).unwrap_or(rest.len());
    let path = rest.get(..end)?;
    let segments: Vec<String> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8()
                .map(|c| c.into_owned())
        })
        .collect::<Result<_, _>>()
        .ok()?;
    (!segments.is_empty()).then(|| segments.join("/"))
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
    fn pep503_cases_the_three_old_normalisers_disagreed_on() {
        // Expected values are what Python's `packaging.utils.canonicalize_name` (the
        // PEP 503 reference) gives, after trimming.
        for (name, want) in [
            ("Django_REST.framework", "django-rest-framework"),
            ("a--_b", "a-b"),
            // Surrounding whitespace (a `Name:  foo ` METADATA line) is trimmed.
            ("  Foo_Bar \t", "foo-bar"),
            // Leading and trailing separators stay, as one `-` each.
            ("_private", "-private"),
            ("..odd..", "-odd-"),
            ("zope.interface.", "zope-interface-"),
            // Unicode lower case, as Python's str.lower().
            ("ÄBC", "äbc"),
            ("ΣΑΣ", "σας"),
            ("ΣΑΣ.x", "σας-x"),
            ("ΣΑ.Σ", "σα-σ"),
            ("İx", "i\u{307}x"),
            ("", ""),
        ] {
            assert_eq!(normalize_pypi_name(name), want, "{name:?}");
        }
    }

    #[test]
    fn golang_keeps_case() {
        // Go module paths are case-sensitive; Trivy and Syft keep the case.
        let p = Package::new(
            Ecosystem::Golang,
            "github.com/0xJacky/Nginx-UI",
            "v2.0.0-beta.4",
            "go",
        );
        let s = purl_for(&p, None);
        assert_eq!(s, "pkg:golang/github.com/0xJacky/Nginx-UI@v2.0.0-beta.4");
        assert_eq!(
            golang_module_path(&s).as_deref(),
            Some("github.com/0xJacky/Nginx-UI")
        );
        assert_eq!(
            golang_module_path("pkg:golang/github.com/0xjacky/Nginx-UI@v1?x=y#sub").as_deref(),
            Some("github.com/0xjacky/Nginx-UI")
        );
        assert_eq!(
            golang_module_path("pkg:golang/example.com/a%40b/C@v1").as_deref(),
            Some("example.com/a@b/C")
        );
        assert_eq!(golang_module_path("pkg:npm/a@1"), None);
        assert_eq!(golang_module_path("pkg:golang/"), None);
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
