//! Binaries built with `cargo auditable`: the dependency tree is stored as zlib-compressed
//! JSON in a section named `.dep-v0` (ELF, PE, and `__DATA,.dep-v0` in Mach-O).
//!
//! Like Trivy, only runtime dependencies are reported; build-time-only crates (`"kind":
//! "build"`) are not linked into the binary.

use super::exe;
use crate::{CatalogError, CatalogInput, CatalogOutput, Cataloger, ScanMode};
use bulwark_core::{Ecosystem, Package};
use object::read::ReadCache;
use object::{Object, ObjectSection};
use serde::Deserialize;
use std::collections::BTreeSet;
use std::io::Read;

/// Largest compressed `.dep-v0` section accepted.
const MAX_SECTION: u64 = 4 << 20;
/// Largest decompressed dependency JSON accepted (zlib bombs stop here).
const MAX_JSON: u64 = 16 << 20;
const FORMAT: &str = "cargo-auditable .dep-v0";

/// Finds crates recorded in `cargo auditable` binaries.
pub struct CargoAuditableCataloger;

impl Cataloger for CargoAuditableCataloger {
    fn id(&self) -> &'static str {
        "cargo-auditable"
    }

    fn wants(&self, path: &str, size: u64, mode: u32, _scan: ScanMode) -> bool {
        exe::wants_executable(path, size, mode)
    }

    fn catalog(&self, input: CatalogInput<'_>) -> Result<CatalogOutput, CatalogError> {
        if exe::sniff(input.reader)?.is_none() {
            return Ok(CatalogOutput::default());
        }
        let cache = ReadCache::new(&mut *input.reader);
        // A file that merely starts with a magic but does not parse is not ours to judge.
        let Ok(file) = object::File::parse(&cache) else {
            return Ok(CatalogOutput::default());
        };
        let Some(section) = file.section_by_name(".dep-v0") else {
            return Ok(CatalogOutput::default());
        };
        if section.size() > MAX_SECTION {
            return Err(CatalogError::TooLarge {
                size: section.size(),
                limit: MAX_SECTION,
                cataloger: "cargo-auditable",
            });
        }
        let data = section
            .data()
            .map_err(|e| CatalogError::parse(FORMAT, format!("cannot read section: {e}")))?;
        Ok(CatalogOutput {
            packages: parse_dep_v0(data)?,
            os: None,
        })
    }
}

/// Pure entry point over a whole binary's bytes (fuzzing, tests). `Ok(empty)` for
/// anything that is not a binary or has no `.dep-v0` section.
pub fn parse_binary_bytes(data: &[u8]) -> Result<Vec<Package>, CatalogError> {
    if exe::sniff_bytes(data).is_none() {
        return Ok(Vec::new());
    }
    let Ok(file) = object::File::parse(data) else {
        return Ok(Vec::new());
    };
    match file.section_by_name(".dep-v0") {
        Some(section) => {
            let data = section
                .data()
                .map_err(|e| CatalogError::parse(FORMAT, format!("cannot read section: {e}")))?;
            parse_dep_v0(data)
        }
        None => Ok(Vec::new()),
    }
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
            cataloger: "cargo-auditable",
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
        out.push(Package::new(
            Ecosystem::Cargo,
            p.name,
            p.version,
            "cargo-auditable",
        ));
    }
    Ok(out)
}
