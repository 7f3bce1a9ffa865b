//! dpkg installed-package database: `var/lib/dpkg/status` and the per-package files of
//! distroless images under `var/lib/dpkg/status.d/`.
//!
//! Both are deb822 control files: stanzas separated by blank lines, `Field: value` lines,
//! continuation lines starting with whitespace. A stanza that is malformed (no name, no
//! or an invalid version, a line that is neither a field nor a continuation) is skipped
//! on its own, with a warning; the rest of the file is still used.
//!
//! The file is streamed line by line and only the fields a package needs are kept, so a
//! status file of any size (the walker's per-file limit aside) is read in bounded memory:
//! large installations have status files of hundreds of MiB once Descriptions and
//! Conffiles add up, and a size cap here meant "0 packages" and a passing gate.

use crate::util::{for_each_line, Line, RecordWarnings};
use crate::{CatalogError, CatalogInput, CatalogOutput, Cataloger, ScanMode};
use bulwark_core::purl::split_epoch;
use bulwark_core::{Ecosystem, Package, SourcePackage};
use std::io::Read;

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
        input.reader.rewind()?;
        // status.d files are written for installed packages only and carry no Status.
        let require_status = input.path == STATUS;
        let mut out = CatalogOutput::default();
        let mut warnings = RecordWarnings::default();
        parse_dpkg_stream(
            &mut *input.reader,
            require_status,
            &mut out.packages,
            &mut warnings,
        )?;
        out.warnings = warnings.finish();
        Ok(out)
    }
}

/// Longest line kept; longer lines make their stanza malformed (a real control line is
/// far shorter; Description paragraphs are continuation lines, each short).
const MAX_LINE: usize = 1 << 20;

/// The fields a package is built from; all others are dropped while streaming, so a
/// stanza costs the same memory however long its Description or Conffiles are.
const KEPT_FIELDS: &[&str] = &[
    "Package",
    "Version",
    "Status",
    "Architecture",
    "Maintainer",
    "Source",
];

use crate::util::MAX_PACKAGES_PER_FILE as MAX_PACKAGES;

/// One stanza's kept fields (the first occurrence of each, as `dpkg` reads them), with
/// the line it started on.
#[derive(Debug, Default)]
struct Stanza {
    line: usize,
    /// Indexed like [`KEPT_FIELDS`].
    fields: [Option<String>; KEPT_FIELDS.len()],
    /// Any field line seen (kept or not): a continuation before one is malformed.
    any_field: bool,
    /// The field the last field line started, when kept (its continuations are
    /// appended).
    last_kept: Option<usize>,
    malformed: Option<String>,
}

impl Stanza {
    fn get(&self, key: &str) -> Option<&str> {
        let i = KEPT_FIELDS
            .iter()
            .position(|f| f.eq_ignore_ascii_case(key))?;
        self.fields
            .get(i)?
            .as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty())
    }

    fn is_empty(&self) -> bool {
        !self.any_field && self.malformed.is_none()
    }

    fn bad(&mut self, why: String) {
        self.malformed.get_or_insert(why);
    }
}

/// Feeds deb822 lines in and gets packages out, one stanza at a time.
struct StatusParser<'a> {
    require_status: bool,
    cur: Stanza,
    out: &'a mut Vec<Package>,
    warnings: &'a mut RecordWarnings,
    /// [`MAX_PACKAGES`] were read; later stanzas are dropped.
    full: bool,
}

impl StatusParser<'_> {
    fn line(&mut self, l: Line<'_>) {
        let line = l.text;
        if line.trim().is_empty() && !l.too_long {
            self.flush();
            return;
        }
        if self.cur.is_empty() {
            self.cur.line = l.number;
        }
        if l.too_long {
            self.cur
                .bad(format!("line {} is longer than {MAX_LINE} bytes", l.number));
            return;
        }
        if line.starts_with([' ', '\t']) {
            if !self.cur.any_field {
                self.cur.bad(format!(
                    "line {} is a continuation before any field",
                    l.number
                ));
            } else if let Some(i) = self.cur.last_kept {
                if let Some(Some(v)) = self.cur.fields.get_mut(i) {
                    if v.len() < MAX_LINE {
                        v.push('\n');
                        v.push_str(line.trim());
                    }
                }
            }
        } else if let Some((k, v)) = line.split_once(':') {
            let key = k.trim();
            if key.is_empty() || key.contains(char::is_whitespace) {
                self.cur.bad(format!(
                    "line {} is neither a field nor a continuation",
                    l.number
                ));
                return;
            }
            self.cur.any_field = true;
            // A repeated field is ignored (the first one counts), so one stanza cannot
            // grow with the file.
            self.cur.last_kept = KEPT_FIELDS
                .iter()
                .position(|f| f.eq_ignore_ascii_case(key))
                .filter(|&i| self.cur.fields.get(i).is_some_and(Option::is_none));
            if let Some(slot) = self.cur.last_kept.and_then(|i| self.cur.fields.get_mut(i)) {
                *slot = Some(v.trim().to_string());
            }
        } else {
            self.cur.bad(format!(
                "line {} is neither a field nor a continuation",
                l.number
            ));
        }
    }

    fn flush(&mut self) {
        let st = std::mem::take(&mut self.cur);
        if st.is_empty() {
            return;
        }
        match package_from(&st, self.require_status) {
            Ok(Some(_)) if self.out.len() >= MAX_PACKAGES => {
                if !self.full {
                    self.full = true;
                    self.warnings.push(format!(
                        "more than {MAX_PACKAGES} packages; the stanzas from line {} on \
                         were not read",
                        st.line
                    ));
                }
            }
            Ok(Some(p)) => self.out.push(p),
            Ok(None) => {}
            Err(why) => {
                let who = st.get("Package").unwrap_or("(unnamed)");
                self.warnings.push(format!(
                    "dpkg stanza at line {} ({who}) skipped: {why}",
                    st.line
                ));
            }
        }
    }
}

/// Parses a dpkg status file streamed from `r`, in memory bounded by one stanza's kept
/// fields (not by the file). With `require_status`, stanzas without an installed
/// `Status:` are left out (as in `var/lib/dpkg/status`); without it a missing `Status:`
/// counts as installed (distroless `status.d/`). Malformed stanzas are skipped
/// individually, each with a warning; only a read error fails.
pub fn parse_dpkg_stream(
    r: &mut dyn Read,
    require_status: bool,
    out: &mut Vec<Package>,
    warnings: &mut RecordWarnings,
) -> std::io::Result<()> {
    let mut p = StatusParser {
        require_status,
        cur: Stanza::default(),
        out,
        warnings,
        full: false,
    };
    for_each_line(r, MAX_LINE, |l| p.line(l))?;
    p.flush();
    Ok(())
}

/// Parses a dpkg status file held in memory (see [`parse_dpkg_stream`]); record-level
/// problems are dropped. This never fails on content.
pub fn parse_dpkg_status(data: &[u8], require_status: bool) -> Result<Vec<Package>, CatalogError> {
    let mut out = Vec::new();
    let mut warnings = RecordWarnings::default();
    parse_dpkg_stream(&mut &data[..], require_status, &mut out, &mut warnings)?;
    Ok(out)
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

fn package_from(st: &Stanza, require_status: bool) -> Result<Option<Package>, String> {
    if let Some(why) = &st.malformed {
        return Err(why.clone());
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
    fn repeated_fields_keep_the_first_and_do_not_grow() {
        let mut text = String::from("Package: a\nStatus: install ok installed\nVersion: 1.0\n");
        text.push_str(&"Package: b\n".repeat(10_000));
        text.push_str(" continuation of the last Package line\n\n");
        let mut out = Vec::new();
        let mut warnings = RecordWarnings::default();
        let mut p = StatusParser {
            require_status: true,
            cur: Stanza::default(),
            out: &mut out,
            warnings: &mut warnings,
            full: false,
        };
        let mut count = 0;
        for_each_line(&mut text.as_bytes(), MAX_LINE, |l| {
            p.line(l);
            count += 1;
            if count == 9_000 {
                // Mid-stanza: the repeats were not kept.
                assert_eq!(p.cur.fields.iter().flatten().count(), 3);
            }
        })
        .unwrap_or_else(|e| panic!("{e}"));
        p.flush();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].name, "a");
    }

    #[test]
    fn packages_past_the_cap_are_dropped_with_a_warning() {
        let text = (0..=MAX_PACKAGES)
            .map(|i| format!("Package: p{i}\nStatus: install ok installed\nVersion: 1\n\n"))
            .collect::<String>();
        let mut out = Vec::new();
        let mut warnings = RecordWarnings::default();
        parse_dpkg_stream(&mut text.as_bytes(), true, &mut out, &mut warnings)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(out.len(), MAX_PACKAGES);
        let w = warnings.finish();
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].contains("more than 500000 packages"), "{w:?}");
    }

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
