//! Alpine (and Wolfi/Chainguard) apk installed database: `lib/apk/db/installed`, or
//! `usr/lib/apk/db/installed` on newer layouts.
//!
//! Records are separated by blank lines; each line is `<letter>:<value>`. Lines that do
//! not have that shape make their record malformed, and a malformed record is skipped
//! with a warning, without affecting the others. The database lists every file of every
//! package, so it is streamed line by line rather than read whole.

use crate::util::{for_each_line, RecordWarnings, MAX_PACKAGES_PER_FILE};
use crate::{CatalogError, CatalogInput, CatalogOutput, Cataloger, ScanMode};
use base64::Engine;
use bulwark_core::{Ecosystem, Package, SourcePackage};
use std::io::Read;

/// Catalogs the apk installed database.
#[derive(Debug, Default, Clone, Copy)]
pub struct ApkCataloger;

impl Cataloger for ApkCataloger {
    fn id(&self) -> &'static str {
        "apk"
    }

    fn wants(&self, path: &str, _size: u64, _mode: u32, _scan: ScanMode) -> bool {
        path == "lib/apk/db/installed" || path == "usr/lib/apk/db/installed"
    }

    fn catalog(&self, input: CatalogInput<'_>) -> Result<CatalogOutput, CatalogError> {
        input.reader.rewind()?;
        let mut out = CatalogOutput::default();
        let mut warnings = RecordWarnings::default();
        parse_apk_stream(&mut *input.reader, &mut out.packages, &mut warnings)?;
        out.warnings = warnings.finish();
        Ok(out)
    }
}

#[derive(Default)]
struct Record {
    line: usize,
    name: Option<String>,
    version: Option<String>,
    arch: Option<String>,
    license: Option<String>,
    origin: Option<String>,
    maintainer: Option<String>,
    checksum: Option<String>,
    malformed: Option<String>,
    any: bool,
}

/// Longest line kept; a longer one makes its record malformed.
const MAX_LINE: usize = 1 << 20;

/// Parses an apk `installed` database streamed from `r`, in memory bounded by one line
/// (the per-file `F:`/`R:` lists are never held). Malformed records are skipped, each
/// with a warning; only a read error fails.
pub fn parse_apk_stream(
    r: &mut dyn Read,
    out: &mut Vec<Package>,
    warnings: &mut RecordWarnings,
) -> std::io::Result<()> {
    let mut rec = Record::default();
    let mut dropped = 0usize;
    for_each_line(r, MAX_LINE, |l| {
        let line = l.text;
        if line.trim().is_empty() && !l.too_long {
            finish(std::mem::take(&mut rec), out, warnings, &mut dropped);
            return;
        }
        if !rec.any {
            rec.line = l.number;
            rec.any = true;
        }
        let bytes = line.as_bytes();
        let (Some(&key), Some(b':'), false) = (bytes.first(), bytes.get(1), l.too_long) else {
            rec.malformed.get_or_insert(if l.too_long {
                format!("line {} is longer than {MAX_LINE} bytes", l.number)
            } else {
                format!("line {} is not `<letter>:<value>`", l.number)
            });
            return;
        };
        let value = line.get(2..).unwrap_or_default().trim();
        let slot = match key {
            b'P' => &mut rec.name,
            b'V' => &mut rec.version,
            b'A' => &mut rec.arch,
            b'L' => &mut rec.license,
            b'o' => &mut rec.origin,
            b'm' => &mut rec.maintainer,
            b'C' => &mut rec.checksum,
            _ => return,
        };
        if !value.is_empty() {
            *slot = Some(value.to_string());
        }
    })?;
    finish(rec, out, warnings, &mut dropped);
    if dropped > 0 {
        warnings.push(format!(
            "more than {MAX_PACKAGES_PER_FILE} packages; {dropped} more records were not read"
        ));
    }
    Ok(())
}

/// Parses an apk `installed` database held in memory (see [`parse_apk_stream`]);
/// record-level problems are dropped. This never fails on content.
pub fn parse_apk_installed(data: &[u8]) -> Result<Vec<Package>, CatalogError> {
    let mut out = Vec::new();
    let mut warnings = RecordWarnings::default();
    parse_apk_stream(&mut &data[..], &mut out, &mut warnings)?;
    Ok(out)
}

fn finish(rec: Record, out: &mut Vec<Package>, warnings: &mut RecordWarnings, dropped: &mut usize) {
    if !rec.any {
        return;
    }
    if out.len() >= MAX_PACKAGES_PER_FILE {
        *dropped += 1;
        return;
    }
    if let Some(why) = rec.malformed {
        warnings.push(format!(
            "apk record at line {} ({}) skipped: {why}",
            rec.line,
            rec.name.as_deref().unwrap_or("(unnamed)")
        ));
        return;
    }
    let (Some(name), Some(version)) = (rec.name, rec.version) else {
        warnings.push(format!(
            "apk record at line {} skipped: no P: (name) or V: (version)",
            rec.line
        ));
        return;
    };
    let mut p = Package::new(Ecosystem::Apk, name.as_str(), version.as_str(), "apk");
    p.arch = rec.arch;
    p.supplier = rec.maintainer;
    p.licenses = rec.license.map(|l| split_license(&l)).unwrap_or_default();
    // apk has no source version: the origin is built at the same version.
    p.source = Some(SourcePackage {
        name: rec.origin.unwrap_or(name),
        version,
    });
    p.digest = rec.checksum.as_deref().and_then(checksum_digest);
    out.push(p);
}

/// Old packages list licenses separated by spaces (`MIT BSD GPL2+`); newer ones write
/// SPDX expressions (`MIT AND BSD-2-Clause`), which must stay whole.
fn split_license(l: &str) -> Vec<String> {
    let upper = l.to_ascii_uppercase();
    if upper.contains(" AND ") || upper.contains(" OR ") || upper.contains(" WITH ") {
        vec![l.to_string()]
    } else {
        l.split_whitespace().map(str::to_string).collect()
    }
}

/// `Q1<base64 sha1>` → `sha1:<hex>`. Other (or undecodable) checksums give `None`.
pub fn checksum_digest(c: &str) -> Option<String> {
    let b64 = c.strip_prefix("Q1")?;
    let raw = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
    (raw.len() == 20).then(|| format!("sha1:{}", hex::encode(raw)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_past_the_cap_are_dropped_with_a_warning() {
        let text = (0..MAX_PACKAGES_PER_FILE + 3)
            .map(|i| format!("P:p{i}\nV:1-r0\n\n"))
            .collect::<String>();
        let mut out = Vec::new();
        let mut warnings = RecordWarnings::default();
        parse_apk_stream(&mut text.as_bytes(), &mut out, &mut warnings)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(out.len(), MAX_PACKAGES_PER_FILE);
        let w = warnings.finish();
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].contains("3 more records were not read"), "{w:?}");
    }

    #[test]
    fn license_splitting() {
        assert_eq!(split_license("MIT BSD GPL2+"), ["MIT", "BSD", "GPL2+"]);
        assert_eq!(
            split_license("MIT AND BSD-2-Clause"),
            ["MIT AND BSD-2-Clause"]
        );
    }

    #[test]
    fn bad_checksum_is_none() {
        assert_eq!(checksum_digest("Q1!!!"), None);
        assert_eq!(checksum_digest("Q2abcd"), None);
    }
}
