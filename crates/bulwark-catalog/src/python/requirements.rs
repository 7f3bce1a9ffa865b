//! pip `requirements*.txt`: only exactly pinned requirements (`name==version`) name a
//! version we can match, so ranges, URLs, editable installs and options are skipped.

use crate::{util, CatalogError};
use bulwark_core::{Ecosystem, Package};

/// Cataloger id.
pub const ID: &str = "pip-requirements";
const FORMAT: &str = "requirements.txt";

/// `requirements*.txt` (also `requirements-dev.txt`, `requirements.in.txt`, ...).
pub fn is_requirements(path: &str) -> bool {
    let name = util::file_name(path);
    name.starts_with("requirements") && name.ends_with(".txt")
}

/// Decodes the file: UTF-8 (BOM optional) or UTF-16 with a BOM, as Windows tools write.
fn decode(data: &[u8]) -> Result<String, CatalogError> {
    let utf16 = |bytes: &[u8], le: bool| {
        let units: Vec<u16> = bytes
            .chunks_exact(2)
            .map(|c| match c {
                [a, b] if le => u16::from_le_bytes([*a, *b]),
                [a, b] => u16::from_be_bytes([*a, *b]),
                _ => 0xFFFD,
            })
            .collect();
        String::from_utf16_lossy(&units)
    };
    if let Some(rest) = data.strip_prefix(b"\xFF\xFE") {
        return Ok(utf16(rest, true));
    }
    if let Some(rest) = data.strip_prefix(b"\xFE\xFF") {
        return Ok(utf16(rest, false));
    }
    super::utf8(FORMAT, data).map(str::to_string)
}

/// Parses a requirements file into its pinned packages.
pub fn parse_requirements(data: &[u8]) -> Result<Vec<Package>, CatalogError> {
    let text = decode(data)?;
    let mut out = Vec::new();
    let mut logical = String::new();
    for raw in text.lines() {
        // A trailing backslash joins the next line (used for `--hash` lists).
        if let Some(head) = raw.strip_suffix('\\') {
            logical.push_str(head);
            logical.push(' ');
            continue;
        }
        logical.push_str(raw);
        if let Some(pkg) = parse_line(&logical) {
            out.push(pkg);
        }
        logical.clear();
    }
    if let Some(pkg) = parse_line(&logical) {
        out.push(pkg);
    }
    Ok(out)
}

fn parse_line(line: &str) -> Option<Package> {
    // `#` starts a comment at line start or after whitespace; pip also cuts `pkg==1#x`.
    let line = line.split('#').next().unwrap_or("");
    // Options (`-r`, `-e`, `--hash`, `--index-url`) are not requirements; drop per-
    // requirement options after the spec.
    let line = line.split(" --").next().unwrap_or("").trim();
    if line.is_empty() || line.starts_with('-') {
        return None;
    }
    // Environment markers do not change which version is pinned.
    let spec = line.split(';').next().unwrap_or("").trim();
    // URL requirements (`name @ https://...`) pin no version.
    if spec.contains(" @ ") || spec.contains("://") {
        return None;
    }
    let name_end = spec
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
        .unwrap_or(spec.len());
    let (name, mut rest) = spec.split_at(name_end);
    if !valid_name(name) {
        return None;
    }
    rest = rest.trim_start();
    if let Some(after) = rest.strip_prefix('[') {
        let close = after.find(']')?;
        rest = after.get(close + 1..)?.trim_start();
    }
    if !rest.starts_with(['=', '<', '>', '!', '~']) {
        return None;
    }
    let version = rest.split(',').find_map(|s| {
        let s = s.trim();
        let v = s
            .strip_prefix("===")
            .or_else(|| s.strip_prefix("=="))?
            .trim();
        valid_version(v).then_some(v)
    })?;
    Some(Package::new(Ecosystem::Pypi, name, version, ID))
}

/// PEP 508 distribution name.
fn valid_name(name: &str) -> bool {
    let alnum = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    alnum(name.chars().next()) && alnum(name.chars().last())
}

/// A concrete version: no wildcard, no template syntax, at least one digit.
fn valid_version(v: &str) -> bool {
    !v.is_empty()
        && v.chars().any(|c| c.is_ascii_digit())
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '+' | '!' | '_' | '-'))
}
