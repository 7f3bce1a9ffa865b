//! `yarn.lock`: classic (v1, yarn's own indented text format) and berry (v2+, YAML
//! with a `__metadata` entry). Only packages resolved from the npm registry are
//! reported; git, file, link, workspace, patch and unknown protocols name no
//! registry version, as in Trivy.

use super::yaml_error;
use crate::CatalogError;
use bulwark_core::{Ecosystem, Package};
use serde_yaml_ng::Value;

/// Cataloger id.
pub const ID: &str = "yarn-lock";
const FORMAT: &str = "yarn.lock";

/// Parses either yarn.lock flavour.
pub fn parse_yarn_lock(data: &[u8]) -> Result<Vec<Package>, CatalogError> {
    let text = crate::python::utf8(FORMAT, data)?;
    let berry = text
        .lines()
        .any(|l| l.starts_with("__metadata:") || l.starts_with("\"__metadata\":"));
    let out = if berry {
        parse_berry(data, text)?
    } else {
        parse_classic(text)?
    };
    Ok(super::npm::dedup(out))
}

/// Splits `name@range` at the `@` that ends the name (a leading `@` is the scope).
fn split_spec(spec: &str) -> Option<(&str, &str)> {
    let spec = spec.trim().trim_matches('"');
    let at = spec.get(1..)?.find('@')? + 1;
    Some((spec.get(..at)?, spec.get(at + 1..)?))
}

/// For a descriptor's range part: the real package name if it is a registry
/// dependency (`^1.0`, `npm:^1.0`, `npm:real@^1.0`), or `None` for other protocols.
fn registry_name<'a>(name: &'a str, range: &'a str) -> Option<&'a str> {
    let Some(rest) = range.strip_prefix("npm:") else {
        // Any other `proto:` (git+https:, file:, link:, github:, unsupported:) or a URL.
        return (!range.contains(':')).then_some(name);
    };
    // An alias points at another package: `npm:real@^1.0`.
    Some(split_spec(rest).map_or(name, |(real, _)| real))
}

fn parse_classic(text: &str) -> Result<Vec<Package>, CatalogError> {
    let mut out = Vec::new();
    // (line, name) of the entry being read; `None` while inside a skipped entry.
    let mut current: Option<(usize, String)> = None;
    for (i, line) in text.lines().enumerate() {
        let lineno = i + 1;
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        if !line.starts_with(' ') {
            let Some(specs) = line.strip_suffix(':') else {
                return Err(CatalogError::Parse {
                    format: FORMAT,
                    line: Some(lineno),
                    message: "entry header does not end with ':'".into(),
                });
            };
            // All descriptors of one entry resolve to the same package; the first
            // registry one names it.
            current = specs.split(", ").find_map(|s| {
                let (name, range) = split_spec(s)?;
                registry_name(name, range).map(|n| (lineno, n.to_string()))
            });
            continue;
        }
        let Some((_, name)) = &current else { continue };
        // Only the entry's own fields (two-space indent), not nested dependency maps.
        if line.starts_with("   ") {
            continue;
        }
        let mut parts = line.trim().splitn(2, [' ', ':']);
        let key = parts.next().unwrap_or("").trim_matches('"');
        if key == "version" {
            let v = parts.next().unwrap_or("").trim().trim_matches('"');
            if !v.is_empty() {
                out.push(Package::new(Ecosystem::Npm, name.as_str(), v, ID));
            }
        }
    }
    Ok(out)
}

fn parse_berry(data: &[u8], text: &str) -> Result<Vec<Package>, CatalogError> {
    let doc: Value = serde_yaml_ng::from_str(text).map_err(|e| yaml_error(FORMAT, data, e))?;
    let Some(map) = doc.as_mapping() else {
        return Err(CatalogError::parse(FORMAT, "top level is not a mapping"));
    };
    let mut out = Vec::new();
    for (key, entry) in map {
        if key.as_str() == Some("__metadata") {
            continue;
        }
        let field = |f: &str| entry.get(f).and_then(Value::as_str);
        let (Some(resolution), Some(version)) = (field("resolution"), field("version")) else {
            continue;
        };
        // `name@npm:1.2.3` is a registry package; `workspace:`, `patch:`, `file:`,
        // `link:`, `portal:`, git URLs and `exec:` are not.
        let Some((name, reference)) = split_spec(resolution) else {
            continue;
        };
        if !reference.starts_with("npm:") {
            continue;
        }
        out.push(Package::new(Ecosystem::Npm, name, version, ID));
    }
    Ok(out)
}
