//! Binaries built with `cargo auditable`: the dependency tree is stored as zlib-compressed
//! JSON in a section named `.dep-v0` (ELF, PE, and `__DATA,.dep-v0` in Mach-O).
//!
//! Like Trivy, only runtime dependencies are reported; build-time-only crates (`"kind":
//! "build"`) are not linked into the binary.
//!
//! This module only reads; the file is opened and parsed by the one cataloger that runs
//! on every executable, [`super::exe::ExecutableCataloger`], which reports these crates
//! with `found_by` `cargo-auditable`.

use super::exe;
use crate::CatalogError;
use bulwark_core::{Ecosystem, Package};
use object::{Object, ObjectSection};
use serde::Deserialize;
use std::collections::BTreeSet;
use std::io::Read;

/// Largest compressed `.dep-v0` section accepted.
const MAX_SECTION: u64 = 4 << 20;
/// Largest decompressed dependency JSON accepted (zlib bombs stop here).
const MAX_JSON: u64 = 16 << 20;
const FORMAT: &str = "cargo-auditable .dep-v0";
/// The `found_by` of the crates read here (kept from when this was its own cataloger).
const FOUND_BY: &str = "cargo-auditable";

/// Pure entry point over a whole binary's bytes (fuzzing, tests). `Ok(empty)` for
/// anything that is not a binary or has no `.dep-v0` section.
pub fn parse_binary_bytes(data: &[u8]) -> Result<Vec<Package>, CatalogError> {
    if exe::sniff_bytes(data).is_none() {
        return Ok(Vec::new());
    }
    let Ok(file) = object::File::parse(data) else {
        return Ok(Vec::new());
    };
    read_dep_v0(&file)
}

/// The crates recorded in a parsed object file's `.dep-v0` section: empty when there is
/// no such section, an error when it is oversized or malformed. The executable
/// cataloger ([`super::exe::ExecutableCataloger`]) calls this on the file it parsed once.
pub fn read_dep_v0<'d, R: object::ReadRef<'d>>(
    file: &object::File<'d, R>,
) -> Result<Vec<Package>, CatalogError> {
    let Some(section) = file.section_by_name(".dep-v0") else {
        return Ok(Vec::new());
    };
    // Checked before reading: with a lazily read file the section data is only fetched
    // from disk by `data()`.
    if section.size() > MAX_SECTION {
        return Err(CatalogError::TooLarge {
            size: section.size(),
            limit: MAX_SECTION,
            cataloger: FOUND_BY,
        });
    }
    let data = section
        .data()
        .map_err(|e| CatalogError::parse(FORMAT, format!("cannot read section: {e}")))?;
    parse_dep_v0(data)
}

#[derive(Deserialize)]
struct VersionInfo {
    packages: Vec<AuditPackage>,
}

#[derive(Deserialize)]
struct AuditPackage {
    name: String,
    version: String,
    #[serde(default)]
    kind: Option<String>,
}

/// Parses the compressed content of a `.dep-v0` section.
pub fn parse_dep_v0(compressed: &[u8]) -> Result<Vec<Package>, CatalogError> {
    let mut json = Vec::new();
    flate2::read::ZlibDecoder::new(compressed)
        .take(MAX_JSON + 1)
        .read_to_end(&mut json)
        .map_err(|e| CatalogError::parse(FORMAT, format!("zlib: {e}")))?;
    if json.len() as u64 > MAX_JSON {
        return Err(CatalogError::TooLarge {
            size: json.len() as u64,
            limit: MAX_JSON,
            cataloger: FOUND_BY,
        });
    }
    let info: VersionInfo = serde_json::from_slice(&json)
        .map_err(|e| CatalogError::parse(FORMAT, format!("JSON: {e}")))?;
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for p in info.packages {
        if p.kind.as_deref().is_some_and(|k| k != "runtime") {
            continue;
        }
        if !seen.insert((p.name.clone(), p.version.clone())) {
            continue;
        }
        out.push(Package::new(Ecosystem::Cargo, p.name, p.version, FOUND_BY));
    }
    Ok(out)
}
