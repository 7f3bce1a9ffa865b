//! Alpine (and Wolfi/Chainguard) apk installed database: `lib/apk/db/installed`, or
//! `usr/lib/apk/db/installed` on newer layouts.
//!
//! Records are separated by blank lines; each line is `<letter>:<value>`. Lines that do
//! not have that shape make their record malformed, and a malformed record is skipped
//! without affecting the others.

use crate::{read_bounded, CatalogError, CatalogInput, CatalogOutput, Cataloger, ScanMode};
use base64::Engine;
use bulwark_core::{Ecosystem, Package, SourcePackage};

/// The installed db lists every file of every package; large images reach tens of MiB.
const MAX_APK_DB_SIZE: u64 = 128 * 1024 * 1024;

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
        let data = read_bounded(input.reader, MAX_APK_DB_SIZE, "apk")?;
        Ok(CatalogOutput {
            packages: parse_apk_installed(&data)?,
            os: None,
        })
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
    malformed: bool,
    any: bool,
}

/// Parses an apk `installed` database. Malformed records are skipped; this never fails
/// on content.
pub fn parse_apk_installed(data: &[u8]) -> Result<Vec<Package>, CatalogError> {
    let text = String::from_utf8_lossy(data);
    let mut out = Vec::new();
    let mut rec = Record::default();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            finish(std::mem::take(&mut rec), &mut out);
            continue;
        }
        if !rec.any {
            rec.line = i + 1;
            rec.any = true;
        }
        let bytes = line.as_bytes();
        let (Some(&key), Some(b':')) = (bytes.first(), bytes.get(1)) else {
            rec.malformed = true;
            continue;
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
            _ => continue,
        };
        if !value.is_empty() {
            *slot = Some(value.to_string());
        }
    }
    finish(rec, &mut out);
    Ok(out)
}

fn finish(rec: Record, out: &mut Vec<Package>) {
    if !rec.any {
        return;
    }
    if rec.malformed {
        tracing::debug!(line = rec.line, "skipping malformed apk record");
        return;
    }
    let (Some(name), Some(version)) = (rec.name, rec.version) else {
        tracing::debug!(line = rec.line, "skipping apk record without P: or V:");
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
