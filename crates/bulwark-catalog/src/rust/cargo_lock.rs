//! `Cargo.lock` parser (lock-file versions 1 to 4).
//!
//! Every `[[package]]` entry becomes a package, including the workspace's own members
//! (entries without `source`), because Trivy reports those too (see the fixtures'
//! expected results). Trivy's directory analyzer additionally reads `Cargo.toml` to drop
//! packages unreachable from the workspace (e.g. the dev-only `winapi` crates of the
//! `project-happy` fixture); a one-file cataloger cannot, so those stay in.

use crate::{read_bounded, CatalogError, CatalogInput, CatalogOutput, Cataloger, ScanMode};
use bulwark_core::{Ecosystem, Package};
use serde::Deserialize;
use std::collections::BTreeSet;

/// Largest `Cargo.lock` accepted.
const MAX_LOCK_SIZE: u64 = 32 << 20;
const FORMAT: &str = "Cargo.lock";

/// Finds packages in `Cargo.lock` files.
pub struct CargoLockCataloger;

impl Cataloger for CargoLockCataloger {
    fn id(&self) -> &'static str {
        "cargo-lock"
    }

    fn wants(&self, path: &str, _size: u64, _mode: u32, _scan: ScanMode) -> bool {
        crate::util::file_name(path) == "Cargo.lock"
    }

    fn catalog(&self, input: CatalogInput<'_>) -> Result<CatalogOutput, CatalogError> {
        let data = read_bounded(input.reader, MAX_LOCK_SIZE, self.id())?;
        Ok(CatalogOutput {
            packages: parse_cargo_lock(&data)?,
            os: None,
            ..Default::default()
        })
    }
}

#[derive(Deserialize)]
struct LockFile {
    #[serde(default)]
    package: Vec<LockPackage>,
}

#[derive(Deserialize)]
struct LockPackage {
    name: String,
    version: String,
    #[serde(default)]
    checksum: Option<String>,
}

/// Parses the bytes of a `Cargo.lock`. Duplicate name/version pairs are reported once.
pub fn parse_cargo_lock(data: &[u8]) -> Result<Vec<Package>, CatalogError> {
    let text = std::str::from_utf8(data)
        .map_err(|e| CatalogError::parse(FORMAT, format!("not UTF-8: {e}")))?;
    let lock: LockFile = toml::from_str(text).map_err(|e| {
        let line = e
            .span()
            .map(|s| text.get(..s.start).unwrap_or("").matches('\n').count() + 1);
        CatalogError::Parse {
            format: FORMAT,
            line,
            message: e.message().to_string(),
        }
    })?;
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for p in lock.package {
        if p.name.is_empty() || !seen.insert((p.name.clone(), p.version.clone())) {
            continue;
        }
        let mut pkg = Package::new(Ecosystem::Cargo, p.name, p.version, "cargo-lock");
        // Only lock v3+ records the registry checksum here; it is the crate file's sha256.
        pkg.digest = p
            .checksum
            .filter(|c| c.len() == 64 && c.bytes().all(|b| b.is_ascii_hexdigit()))
            .map(|c| format!("sha256:{c}"));
        out.push(pkg);
    }
    Ok(out)
}
