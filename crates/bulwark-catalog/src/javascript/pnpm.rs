//! `pnpm-lock.yaml`, lockfile formats 5.x (`/name/version` keys), 6.x
//! (`/name@version` keys) and 9.x (`name@version` keys plus `snapshots` and
//! `importers`). A file may hold several YAML documents (pnpm 11 puts its own
//! package-manager lock first); the last one describes the project.

use super::yaml_error;
use crate::CatalogError;
use bulwark_core::{Ecosystem, Package};
use serde::Deserialize;
use serde_yaml_ng::Value;
use std::collections::{BTreeMap, HashSet, VecDeque};

/// Cataloger id.
pub const ID: &str = "pnpm-lock";
const FORMAT: &str = "pnpm-lock.yaml";
/// Documents read from one file; pnpm writes at most two.
const MAX_DOCUMENTS: usize = 16;

/// Parses a `pnpm-lock.yaml`.
pub fn parse_pnpm_lock(data: &[u8]) -> Result<Vec<Package>, CatalogError> {
    let mut last: Option<Value> = None;
    for (i, doc) in serde_yaml_ng::Deserializer::from_slice(data).enumerate() {
        if i >= MAX_DOCUMENTS {
            return Err(CatalogError::parse(
                FORMAT,
                format!("more than {MAX_DOCUMENTS} YAML documents"),
            ));
        }
        let v = Value::deserialize(doc).map_err(|e| yaml_error(FORMAT, data, e))?;
        if v.get("lockfileVersion").is_some() {
            last = Some(v);
        }
    }
    let Some(doc) = last else {
        return Ok(Vec::new());
    };
    let version = match doc.get("lockfileVersion") {
        Some(Value::Number(n)) => n.as_f64().unwrap_or(0.0),
        Some(Value::String(s)) => s.trim().parse::<f64>().unwrap_or(0.0),
        _ => 0.0,
    };
    let out = if version >= 9.0 {
        v9(&doc)
    } else {
        legacy(&doc, version >= 6.0)
    };
    Ok(super::npm::dedup(out))
}

fn mapping<'a>(v: &'a Value, key: &str) -> impl Iterator<Item = (&'a str, &'a Value)> {
    v.get(key)
        .and_then(Value::as_mapping)
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| Some((k.as_str()?, v)))
}

fn str_field<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// `name@version` → (name, version); the scope's leading `@` is not the separator.
fn split_at_version(key: &str) -> Option<(&str, &str)> {
    let at = key.get(1..)?.find('@')? + 1;
    Some((key.get(..at)?, key.get(at + 1..)?))
}

/// Drops a peer-dependency suffix: `1.0.0(react@18.0.0)` → `1.0.0`.
fn strip_peers(v: &str) -> &str {
    v.split('(').next().unwrap_or(v)
}

/// Format 5 and 6: every entry records `dev`.
fn legacy(doc: &Value, v6: bool) -> Vec<Package> {
    let mut out = Vec::new();
    for (key, entry) in mapping(doc, "packages") {
        let parsed = key.strip_prefix('/').and_then(|k| {
            if v6 {
                split_at_version(k).map(|(n, v)| (n, strip_peers(v)))
            } else {
                // `/name/1.0.0_peer` or `/@scope/name/1.0.0_peer`.
                let (n, v) = k.rsplit_once('/')?;
                Some((n, v.split('_').next().unwrap_or(v)))
            }
        });
        // Tarball and directory entries record their own name and version.
        let name = str_field(entry, "name").or(parsed.map(|(n, _)| n));
        let version = str_field(entry, "version").or(parsed.map(|(_, v)| v));
        let (Some(name), Some(version)) = (name, version) else {
            continue;
        };
        let mut p = Package::new(Ecosystem::Npm, name, version, ID);
        p.dev = entry.get("dev").and_then(Value::as_bool).unwrap_or(false);
        out.push(p);
    }
    out
}

/// Format 9: dev-ness is not recorded per package, so it is derived from the graph:
/// anything reachable from an importer's `dependencies`/`optionalDependencies` is
/// runtime, the rest dev.
fn v9(doc: &Value) -> Vec<Package> {
    let snapshots: BTreeMap<&str, &Value> = mapping(doc, "snapshots").collect();
    let mut runtime: HashSet<String> = HashSet::new();
    let mut queue: VecDeque<String> = VecDeque::new();
    let mut have_importers = false;
    for (_, importer) in mapping(doc, "importers") {
        have_importers = true;
        for section in ["dependencies", "optionalDependencies"] {
            for (name, dep) in mapping(importer, section) {
                if let Some(v) = str_field(dep, "version") {
                    let key = format!("{name}@{v}");
                    if runtime.insert(key.clone()) {
                        queue.push_back(key);
                    }
                }
            }
        }
    }
    // Iterative walk over snapshot keys; cycles stop at `runtime`.
    while let Some(key) = queue.pop_front() {
        let Some(snap) = snapshots.get(key.as_str()) else {
            continue;
        };
        for section in ["dependencies", "optionalDependencies"] {
            for (name, v) in mapping(snap, section) {
                if let Some(v) = v.as_str() {
                    let key = format!("{name}@{v}");
                    if runtime.insert(key.clone()) {
                        queue.push_back(key);
                    }
                }
            }
        }
    }
    let runtime_pkgs: HashSet<&str> = runtime
        .iter()
        .map(|k| k.split('(').next().unwrap_or(k))
        .collect();
    let mut out = Vec::new();
    for (key, entry) in mapping(doc, "packages") {
        let Some((key_name, key_version)) = split_at_version(key) else {
            continue;
        };
        let name = str_field(entry, "name").unwrap_or(key_name);
        // Non-registry keys (`file:`, tarball URLs) carry no version of their own.
        let version = str_field(entry, "version").unwrap_or(if key_version.contains(':') {
            ""
        } else {
            key_version
        });
        let mut p = Package::new(Ecosystem::Npm, name, version, ID);
        p.dev = have_importers && !runtime_pkgs.contains(key);
        out.push(p);
    }
    out
}
