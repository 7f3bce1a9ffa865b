//! JavaScript (npm ecosystem) catalogers: `package-lock.json`, installed
//! `package.json`, `yarn.lock` (classic and berry), `pnpm-lock.yaml` and `bun.lock`.
//!
//! Each format has a pure `parse_*(&[u8])` function for fuzzing; the catalogers pick
//! files by name and bound how much they read.

pub mod bun;
pub mod npm;
pub mod pnpm;
pub mod yarn;

use crate::util::WholeFileCataloger;
use crate::{util, CatalogError, Cataloger, ScanMode};

pub use bun::parse_bun_lock;
pub use npm::{parse_package_json, parse_package_lock};
pub use pnpm::parse_pnpm_lock;
pub use yarn::parse_yarn_lock;

/// Largest lock file accepted.
const LOCK_LIMIT: u64 = 64 << 20;
/// YAML lock files are capped lower: the parser builds a full tree in memory.
const YAML_LIMIT: u64 = 32 << 20;
/// Largest `package.json` accepted.
const MANIFEST_LIMIT: u64 = 4 << 20;

/// All JavaScript catalogers.
pub fn catalogers() -> Vec<Box<dyn Cataloger>> {
    vec![
        Box::new(WholeFileCataloger {
            id: npm::LOCK_ID,
            limit: LOCK_LIMIT,
            wants: |p: &str, _: ScanMode| npm::is_package_lock(p),
            parse: parse_package_lock,
        }),
        Box::new(WholeFileCataloger {
            id: npm::PACKAGE_JSON_ID,
            limit: MANIFEST_LIMIT,
            wants: npm::is_package_json,
            parse: parse_package_json,
        }),
        Box::new(WholeFileCataloger {
            id: yarn::ID,
            limit: YAML_LIMIT,
            wants: |p: &str, _: ScanMode| util::file_name(p) == "yarn.lock",
            parse: parse_yarn_lock,
        }),
        Box::new(WholeFileCataloger {
            id: pnpm::ID,
            limit: YAML_LIMIT,
            wants: |p: &str, _: ScanMode| util::file_name(p) == "pnpm-lock.yaml",
            parse: parse_pnpm_lock,
        }),
        Box::new(WholeFileCataloger {
            id: bun::ID,
            limit: LOCK_LIMIT,
            wants: |p: &str, _: ScanMode| util::file_name(p) == "bun.lock",
            parse: parse_bun_lock,
        }),
    ]
}

/// Maps a YAML error to a parse error with its line.
pub(crate) fn yaml_error(
    format: &'static str,
    _data: &[u8],
    e: serde_yaml_ng::Error,
) -> CatalogError {
    CatalogError::Parse {
        format,
        line: e.location().map(|l| l.line()),
        message: e.to_string(),
    }
}

#[cfg(test)]
mod tests;
