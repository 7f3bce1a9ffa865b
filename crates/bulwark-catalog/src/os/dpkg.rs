//! dpkg installed-package database: `var/lib/dpkg/status` and the per-package files of
//! distroless images under `var/lib/dpkg/status.d/`.
//!
//! Both are deb822 control files: stanzas separated by blank lines, `Field: value` lines,
//! continuation lines starting with whitespace. A stanza that is malformed (no name, no
//! or an invalid version, a line that is neither a field nor a continuation) is skipped
//! on its own; the rest of the file is still used.

use crate::{read_bounded, CatalogError, CatalogInput, CatalogOutput, Cataloger, ScanMode};
use bulwark_core::purl::split_epoch;
use bulwark_core::{Ecosystem, Package, SourcePackage};

/// Large Debian installations have status files of a few MiB.
const MAX_STATUS_SIZE: u64 = 64 * 1024 * 1024;

const STATUS: &str = "var/lib/dpkg/status";
const STATUS_D: &str = "var/lib/dpkg/status.d";

/// Control-file companions that distroless images also put in `status.d/`.
const NON_STATUS_SUFFIXES: &[&str] = &[
    ".md5sums",
    ".preinst",
    ".postinst",
    ".prerm",
    ".postrm",
    ".conffiles",
    ".list",
    ".shlibs",
    ".symbols",
    ".triggers",
    ".templates",
];

/// Catalogs dpkg `status` and `status.d/*` files.
#[derive(Debug, Default, Clone, Copy)]
pub struct DpkgCataloger;

impl Cataloger for DpkgCataloger {
    fn id(&self) -> &'static str {
        "dpkg"
    }

    fn wants(&self, path: &str, _size: u64, _mode: u32, _scan: ScanMode) -> bool {
        if path == STATUS {
            return true;
        }
        let name = crate::util::file_name(path);
        crate::util::parent(path) == STATUS_D
            && !name.starts_with('.')
            && !NON_STATUS_SUFFIXES.iter().any(|s| name.ends_with(s))
    }

    fn catalog(&self, input: CatalogInput<'_>) -> Result<CatalogOutput, CatalogError> {
        let data = read_bounded(input.reader, MAX_STATUS_SIZE, "dpkg")?;
        // status.d files are written for installed packages only and carry no Status.
        let require_status = input.path == STATUS;
        Ok(CatalogOutput {
            packages: parse_dpkg_status(&data, require_status)?,
            os: None,
        })
    }
}

/// One stanza's fields, in file order, with the line it started on.
#[derive(Debug, Default)]
struct Stanza {
    line: usize,
    fields: Vec<(String, String)>,
    malformed: bool,
}

impl Stanza {
    fn get(&self, key: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    }
}

/// Splits a deb822 file into stanzas.
fn stanzas(text: &str) -> Vec<Stanza> {
    let mut out = Vec::new();
    let mut cur = Stanza::default();
    for (i, line) in text.lines().enumerate() {
        let lineno = i + 1;
        if line.trim().is_empty() {
            if !cur.fields.is_empty() || cur.malformed {
                out.push(std::mem::take(&mut cur));
            }
            continue;
        }
        if cur.fields.is_empty() && !cur.malformed {
            cur.line = lineno;
        }
        if line.starts_with([' ', '\t']) {
            match cur.fields.last_mut() {
                Some((_, v)) => {
                    v.push('\n');
                    v.push_str(line.trim());
                }
                None => cur.malformed = true,
            }
        } else if let Some((k, v)) = line.split_once(':') {
            let key = k.trim();
            if key.is_empty() || key.contains(char::is_whitespace) {
                cur.malformed = true;
            } else {
                cur.fields.push((key.to_string(), v.trim().to_string()));
            }
        } else {
            cur.malformed = true;
        }
    }
    if !cur.fields.is_empty() || cur.malformed {
        out.push(cur);
    }
    out
}

/// Whether `v` is a syntactically valid Debian version (`[epoch:]upstream[-revision]`).
pub fn valid_deb_version(v: &str) -> bool {
    let (epoch, rest) = match v.split_once(':') {
        Some((e, r)) => (Some(e), r),
        None => (None, v),
    };
    if let Some(e) = epoch {
        if e.is_empty() || !e.bytes().all(|b| b.is_ascii_digit()) || e.parse::<u32>().is_err() {
            return false;
        }
    }
    let (upstream, revision) = match rest.rsplit_once('-') {
        Some((u, r)) => (u, Some(r)),
        None => (rest, None),
    };
    let upstream_ok = upstream.starts_with(|c: char| c.is_ascii_digit())
        && upstream
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '+' | '~' | '-' | ':'));
    let revision_ok = revision.is_none_or(|r| {
        !r.is_empty()
            && r.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '+' | '~'))
    });
    upstream_ok && revision_ok
}

/// Whether a `Status:` value (`want flag status`) says the package is installed.
fn is_installed(status: &str) -> bool {
    status.split_whitespace().nth(2) == Some("installed")
}

/// Parses a dpkg status file. With `require_status`, stanzas without an installed
/// `Status:` are left out (as in `var/lib/dpkg/status`); without it a missing `Status:`
/// counts as installed (distroless `status.d/`).
///
/// Malformed stanzas are skipped individually; this never fails on content.
pub fn parse_dpkg_status(data: &[u8], require_status: bool) -> Result<Vec<Package>, CatalogError> {
    let text = String::from_utf8_lossy(data);
    let mut pkgs = Vec::new();
    for st in stanzas(&text) {
        match package_from(&st, require_status) {
            Ok(Some(p)) => pkgs.push(p),
            Ok(None) => {}
            Err(why) => tracing::debug!(line = st.line, "skipping dpkg stanza: {why}"),
        }
    }
    Ok(pkgs)
}

fn package_from(st: &Stanza, require_status: bool) -> Result<Option<Package>, String> {
    if st.malformed {
        return Err("line is neither a field nor a continuation".into());
    }
    match st.get("Status") {
        Some(s) if !is_installed(s) => return Ok(None),
        None if require_status => return Ok(None),
        _ => {}
    }
    let name = st.get("Package").ok_or("no Package field")?;
    let version = st.get("Version").ok_or("no Version field")?;
    if !valid_deb_version(version) {
        return Err(format!("invalid version {version:?}"));
    }
    let mut p = Package::new(Ecosystem::Deb, name, version, "dpkg");
    p.epoch = split_epoch(version).0;
    p.arch = st.get("Architecture").map(str::to_string);
    p.supplier = st.get("Maintainer").map(str::to_string);
    // No Source field means the source package has the binary's name and version.
    let source = match st.get("Source") {
        Some(src) => match src.split_once('(') {
            Some((n, v)) => {
                let v = v.trim().trim_end_matches(')').trim();
                SourcePackage {
                    name: n.trim().to_string(),
                    version: if v.is_empty() { version } else { v }.to_string(),
                }
            }
            None => SourcePackage {
                name: src.to_string(),
                version: version.to_string(),
            },
        },
        None => SourcePackage {
            name: name.to_string(),
            version: version.to_string(),
        },
    };
    p.source = Some(source);
    Ok(Some(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert!(valid_deb_version("1:5.1.1-12ubuntu1"));
        assert!(valid_deb_version("5:20.10.7~3-0~debian-buster"));
        assert!(valid_deb_version("2020a-0+deb10u1"));
        assert!(!valid_deb_version("1:5.#"));
        assert!(!valid_deb_version("abc"));
        assert!(!valid_deb_version("x:1.0"));
    }

    #[test]
    fn continuation_before_field_is_malformed() {
        let pkgs = parse_dpkg_status(
            b" stray\nPackage: a\nVersion: 1\n\nPackage: b\nVersion: 2\n",
            false,
        )
        .unwrap_or_default();
        let names: Vec<_> = pkgs.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["b"]);
    }

    #[test]
    fn wants_status_d_but_not_md5sums() {
        let c = DpkgCataloger;
        assert!(c.wants("var/lib/dpkg/status.d/libc6", 1, 0, ScanMode::Image));
        assert!(!c.wants("var/lib/dpkg/status.d/libc6.md5sums", 1, 0, ScanMode::Image));
        assert!(!c.wants("var/lib/dpkg/status.d/x/y", 1, 0, ScanMode::Image));
        assert!(c.wants("var/lib/dpkg/status", 1, 0, ScanMode::Image));
    }
}
