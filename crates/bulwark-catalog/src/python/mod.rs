//! Python (PyPI) catalogers: installed distributions (`*.dist-info/METADATA`,
//! `*.egg-info`, zipped `*.egg`) and the lock/requirements files of pip, Pipenv, Poetry,
//! uv and PEP 751 `pylock.toml`.
//!
//! Every format has a pure `parse_*(&[u8])` function so it can be fuzzed on its own; the
//! catalogers only decide which files to look at and bound how much they read.

pub mod lockfiles;
pub mod metadata;
pub mod requirements;

use crate::{CatalogError, Cataloger, ScanMode};

pub use lockfiles::{parse_pipfile_lock, parse_poetry_lock, parse_pylock, parse_uv_lock};
pub use metadata::{parse_dist_info, parse_egg_info, parse_egg_zip};
pub use requirements::parse_requirements;

pub(crate) use crate::util::WholeFileCataloger;

use metadata::METADATA_LIMIT;
/// Largest lock or requirements file accepted.
const LOCK_LIMIT: u64 = 64 << 20;

/// All Python catalogers.
pub fn catalogers() -> Vec<Box<dyn Cataloger>> {
    vec![
        Box::new(WholeFileCataloger {
            id: metadata::DIST_INFO_ID,
            limit: METADATA_LIMIT,
            wants: |p: &str, _: ScanMode| metadata::is_dist_info(p),
            parse: parse_dist_info,
        }),
        Box::new(metadata::EggInfoCataloger),
        Box::new(WholeFileCataloger {
            id: requirements::ID,
            limit: LOCK_LIMIT,
            wants: |p: &str, _: ScanMode| requirements::is_requirements(p),
            parse: parse_requirements,
        }),
        Box::new(WholeFileCataloger {
            id: lockfiles::PIPENV_ID,
            limit: LOCK_LIMIT,
            wants: |p: &str, _: ScanMode| crate::util::file_name(p) == "Pipfile.lock",
            parse: parse_pipfile_lock,
        }),
        Box::new(WholeFileCataloger {
            id: lockfiles::POETRY_ID,
            limit: LOCK_LIMIT,
            wants: |p: &str, _: ScanMode| crate::util::file_name(p) == "poetry.lock",
            parse: parse_poetry_lock,
        }),
        Box::new(WholeFileCataloger {
            id: lockfiles::UV_ID,
            limit: LOCK_LIMIT,
            wants: |p: &str, _: ScanMode| crate::util::file_name(p) == "uv.lock",
            parse: parse_uv_lock,
        }),
        Box::new(WholeFileCataloger {
            id: lockfiles::PYLOCK_ID,
            limit: LOCK_LIMIT,
            wants: |p: &str, _: ScanMode| lockfiles::is_pylock(crate::util::file_name(p)),
            parse: parse_pylock,
        }),
    ]
}

/// Line (1-based) of a byte offset, for parsers that report spans.
pub(crate) fn line_of(data: &[u8], offset: usize) -> usize {
    let end = offset.min(data.len());
    data.get(..end)
        .map(|d| d.iter().filter(|&&b| b == b'\n').count() + 1)
        .unwrap_or(1)
}

/// Maps a TOML error to a parse error with its line.
pub(crate) fn toml_error(format: &'static str, data: &[u8], e: toml::de::Error) -> CatalogError {
    CatalogError::Parse {
        format,
        line: e.span().map(|s| line_of(data, s.start)),
        message: e.message().to_string(),
    }
}

/// Decodes UTF-8 (dropping a BOM) or fails with a parse error.
pub(crate) fn utf8<'a>(format: &'static str, data: &'a [u8]) -> Result<&'a str, CatalogError> {
    let data = data.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(data);
    std::str::from_utf8(data).map_err(|e| CatalogError::Parse {
        format,
        line: Some(line_of(data, e.valid_up_to())),
        message: "not valid UTF-8".into(),
    })
}

#[cfg(test)]
mod tests;
#[cfg(test)]
pub(crate) mod testutil;
