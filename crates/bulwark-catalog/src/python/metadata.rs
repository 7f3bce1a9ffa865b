//! Installed Python distributions: the core-metadata file (RFC 822 style headers) found
//! as `*.dist-info/METADATA`, `*.egg-info/PKG-INFO`, `EGG-INFO/PKG-INFO`, a single-file
//! `*.egg-info`, or inside a zipped `*.egg`.

use super::line_of;
use crate::{read_bounded, util, CatalogError, CatalogInput, CatalogOutput, Cataloger, ScanMode};
use bulwark_core::{Ecosystem, Package};
use std::io::Read;

/// Cataloger id for wheel-style installs.
pub const DIST_INFO_ID: &str = "python-dist-info";
/// Cataloger id for egg-style installs (directories, single files and zips).
pub const EGG_INFO_ID: &str = "python-egg-info";
const FORMAT: &str = "python core metadata";
/// Largest METADATA / PKG-INFO accepted (long descriptions are inlined in it).
pub(crate) const METADATA_LIMIT: u64 = 8 << 20;
/// Largest PKG-INFO read out of a zipped egg.
const ZIP_MEMBER_LIMIT: u64 = 8 << 20;
/// Largest zipped egg opened.
const EGG_ZIP_LIMIT: u64 = 512 << 20;
/// Headers kept per file; real files have a few dozen, this only stops abuse.
const MAX_HEADERS: usize = 10_000;

/// `*.dist-info/METADATA`.
pub fn is_dist_info(path: &str) -> bool {
    util::file_name(path) == "METADATA" && util::parent(path).ends_with(".dist-info")
}

/// `*.egg-info/PKG-INFO`, `EGG-INFO/PKG-INFO`, or a single-file `*.egg-info`.
pub fn is_egg_info(path: &str) -> bool {
    let name = util::file_name(path);
    if name == "PKG-INFO" {
        let dir = util::file_name(util::parent(path));
        return dir.ends_with(".egg-info") || dir == "EGG-INFO";
    }
    name.ends_with(".egg-info")
}

/// Parses a wheel `METADATA` file.
pub fn parse_dist_info(data: &[u8]) -> Result<Vec<Package>, CatalogError> {
    parse_metadata(data, DIST_INFO_ID).map(|p| vec![p])
}

/// Parses an egg `PKG-INFO` (or single-file `.egg-info`).
pub fn parse_egg_info(data: &[u8]) -> Result<Vec<Package>, CatalogError> {
    parse_metadata(data, EGG_INFO_ID).map(|p| vec![p])
}

/// Parses a zipped `.egg` held in memory.
pub fn parse_egg_zip(data: &[u8]) -> Result<Vec<Package>, CatalogError> {
    egg_zip(std::io::Cursor::new(data))
}

fn egg_zip<R: Read + std::io::Seek>(reader: R) -> Result<Vec<Package>, CatalogError> {
    let zip_err = |e: zip::result::ZipError| CatalogError::parse("egg zip", e.to_string());
    let mut archive = zip::ZipArchive::new(reader).map_err(zip_err)?;
    let member = match archive.by_name("EGG-INFO/PKG-INFO") {
        Ok(m) => m,
        // An egg without metadata is not a distribution we can name.
        Err(zip::result::ZipError::FileNotFound) => return Ok(Vec::new()),
        Err(e) => return Err(zip_err(e)),
    };
    let mut buf = Vec::new();
    member.take(ZIP_MEMBER_LIMIT + 1).read_to_end(&mut buf)?;
    if buf.len() as u64 > ZIP_MEMBER_LIMIT {
        return Err(CatalogError::TooLarge {
            size: buf.len() as u64,
            limit: ZIP_MEMBER_LIMIT,
            cataloger: EGG_INFO_ID,
        });
    }
    parse_egg_info(&buf)
}

/// Egg metadata in all three shapes. Zipped eggs are opened in place (the zip reader
/// seeks), so this cataloger does not read them whole.
pub(crate) struct EggInfoCataloger;

impl Cataloger for EggInfoCataloger {
    fn id(&self) -> &'static str {
        EGG_INFO_ID
    }

    fn wants(&self, path: &str, _size: u64, _mode: u32, _scan: ScanMode) -> bool {
        is_egg_info(path) || path.ends_with(".egg")
    }

    fn catalog(&self, input: CatalogInput<'_>) -> Result<CatalogOutput, CatalogError> {
        let zipped = input.path.ends_with(".egg");
        let limit = if zipped {
            EGG_ZIP_LIMIT
        } else {
            METADATA_LIMIT
        };
        if input.size > limit {
            return Err(CatalogError::TooLarge {
                size: input.size,
                limit,
                cataloger: EGG_INFO_ID,
            });
        }
        let packages = if zipped {
            input.reader.rewind()?;
            egg_zip(input.reader)?
        } else {
            parse_egg_info(&read_bounded(input.reader, limit, EGG_INFO_ID)?)?
        };
        Ok(CatalogOutput {
            packages,
            ..Default::default()
        })
    }
}

/// The header block of a core-metadata file, in order, continuation lines folded in.
fn headers(text: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if line.trim_end_matches('\r').is_empty() {
            // The body (long description) follows the first empty line; whitespace-only
            // lines are continuations (old `Description:` fields use them).
            break;
        }
        if line.starts_with([' ', '\t']) {
            if let Some((_, v)) = out.last_mut() {
                v.push('\n');
                v.push_str(line.trim());
            }
            continue;
        }
        // Lines that are not `Key: value` are tolerated: old tools wrote stray text.
        if let Some((k, v)) = line.split_once(':') {
            if out.len() >= MAX_HEADERS {
                break;
            }
            out.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    out
}

fn parse_metadata(data: &[u8], found_by: &'static str) -> Result<Package, CatalogError> {
    // Core metadata is UTF-8 by spec, but old eggs carry Latin-1 descriptions.
    let text = String::from_utf8_lossy(data);
    let hs = headers(&text);
    let get = |key: &str| {
        hs.iter()
            .find(|(k, v)| k == key && !v.is_empty())
            .map(|(_, v)| v.as_str())
    };
    let name = get("name").ok_or_else(|| missing("Name", data))?;
    let version = get("version").ok_or_else(|| missing("Version", data))?;
    let mut pkg = Package::new(Ecosystem::Pypi, name, version, found_by);
    pkg.licenses = licenses(&hs);
    pkg.supplier = get("author").map(str::to_string);
    Ok(pkg)
}

fn missing(field: &str, data: &[u8]) -> CatalogError {
    CatalogError::Parse {
        format: FORMAT,
        line: Some(line_of(data, data.len())),
        message: format!("no {field} header"),
    }
}

/// License precedence: `License-Expression` (an SPDX expression, PEP 639), then the
/// trove classifiers (they name a license; the free-text `License` field often holds a
/// whole license text or a vague phrase), then the `License` field.
fn licenses(hs: &[(String, String)]) -> Vec<String> {
    let get = |key: &str| {
        hs.iter()
            .find(|(k, v)| k == key && !v.is_empty())
            .map(|(_, v)| v.as_str())
    };
    if let Some(expr) = get("license-expression") {
        return vec![expr.to_string()];
    }
    let mut out: Vec<String> = Vec::new();
    for (_, v) in hs.iter().filter(|(k, _)| k == "classifier") {
        let parts: Vec<&str> = v.split("::").map(str::trim).collect();
        // `License :: OSI Approved` alone names no license.
        if parts.len() >= 3 && parts.first() == Some(&"License") {
            if let Some(last) = parts.last() {
                if !out.iter().any(|o| o == last) {
                    out.push((*last).to_string());
                }
            }
        }
    }
    if out.is_empty() {
        if let Some(l) = get("license") {
            // Multi-line values are license texts, not names; keep only the first line.
            if let Some(first) = l.lines().next() {
                out.push(first.trim().to_string());
            }
        }
    }
    out
}
