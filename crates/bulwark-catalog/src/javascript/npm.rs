//! npm: `package-lock.json` (lockfile v1 with nested `dependencies`, v2/v3 with a flat
//! `packages` map keyed by install path) and installed `package.json` manifests.

use crate::{util, CatalogError, ScanMode};
use bulwark_core::{Ecosystem, Package};
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// Cataloger id for `package-lock.json`.
pub const LOCK_ID: &str = "npm-lock";
/// Cataloger id for installed `package.json`.
pub const PACKAGE_JSON_ID: &str = "npm-package-json";
/// Nesting depth accepted in a v1 lock's `dependencies` tree; real trees are far
/// shallower, and the limit keeps the walk bounded on hostile input.
const MAX_V1_DEPTH: usize = 256;

/// `package-lock.json` outside `node_modules/` (locks shipped inside installed
/// packages describe their authors' trees, not this install).
pub fn is_package_lock(path: &str) -> bool {
    util::file_name(path) == "package-lock.json" && !util::has_component(path, "node_modules")
}

/// Installed manifests under `node_modules/`; in image mode any `package.json`, as
/// applications copied into images often ship without `node_modules` metadata.
pub fn is_package_json(path: &str, scan: ScanMode) -> bool {
    util::file_name(path) == "package.json"
        && (scan == ScanMode::Image || util::has_component(path, "node_modules"))
}

fn json_error(format: &'static str, e: serde_json::Error) -> CatalogError {
    CatalogError::Parse {
        format,
        line: Some(e.line()),
        message: e.to_string(),
    }
}

/// Licenses as npm has recorded them over time: an SPDX string, a `{type}` object, or
/// a `licenses`/`license` array of strings or `{type}` objects.
pub(crate) fn licenses_of(license: Option<&Value>, legacy: Option<&Value>) -> Vec<String> {
    fn one(v: &Value) -> Option<String> {
        let s = match v {
            Value::String(s) => s.as_str(),
            Value::Object(o) => o.get("type").and_then(Value::as_str)?,
            _ => return None,
        };
        let s = s.trim();
        (!s.is_empty()).then(|| s.to_string())
    }
    let mut out = Vec::new();
    for v in [license, legacy].into_iter().flatten() {
        match v {
            Value::Array(items) => out.extend(items.iter().filter_map(one)),
            other => out.extend(one(other)),
        }
        if !out.is_empty() {
            break;
        }
    }
    out
}

#[derive(Deserialize)]
struct Lock {
    #[serde(rename = "lockfileVersion", default)]
    lockfile_version: Option<Value>,
    #[serde(default)]
    packages: Option<BTreeMap<String, LockPackage>>,
    #[serde(default)]
    dependencies: Option<BTreeMap<String, V1Dep>>,
}

#[derive(Deserialize)]
struct LockPackage {
    name: Option<String>,
    version: Option<String>,
    #[serde(default)]
    dev: bool,
    #[serde(default)]
    link: bool,
    resolved: Option<String>,
    license: Option<Value>,
    licenses: Option<Value>,
}

#[derive(Deserialize)]
struct V1Dep {
    version: Option<String>,
    #[serde(default)]
    dev: bool,
    #[serde(default)]
    dependencies: Option<BTreeMap<String, Value>>,
}

/// Parses a `package-lock.json` (any lockfile version).
///
/// The same name and version installed at several paths is reported once; it is dev
/// only if every copy is dev. The root project (key `""`) is not a dependency and is
/// skipped; workspace members are reached through their `link` entries and named by the
/// link.
pub fn parse_package_lock(data: &[u8]) -> Result<Vec<Package>, CatalogError> {
    let lock: Lock =
        serde_json::from_slice(data).map_err(|e| json_error("package-lock.json", e))?;
    let v1 = lock
        .lockfile_version
        .as_ref()
        .and_then(Value::as_u64)
        .is_some_and(|v| v < 2);
    let mut out = Vec::new();
    match (lock.packages, lock.dependencies) {
        (Some(packages), _) if !v1 => v2_packages(&packages, &mut out),
        (_, Some(deps)) => v1_walk(&deps, 0, &mut out)?,
        (Some(packages), None) => v2_packages(&packages, &mut out),
        (None, None) => {}
    }
    Ok(dedup(out))
}

/// The package name an install path stands for: the part after the last
/// `node_modules/` (which keeps `@scope/name` whole).
fn name_from_path(path: &str) -> Option<&str> {
    let (_, name) = path.rsplit_once("node_modules/")?;
    (!name.is_empty()).then_some(name)
}

fn v2_packages(packages: &BTreeMap<String, LockPackage>, out: &mut Vec<Package>) {
    for (path, entry) in packages {
        // Entries outside node_modules are the root and workspace sources; the latter
        // are reported through their links.
        let Some(key_name) = name_from_path(path) else {
            continue;
        };
        let target = if entry.link {
            // A link with a missing target (broken workspace) names nothing we can report.
            match entry
                .resolved
                .as_deref()
                .filter(|r| !r.is_empty())
                .and_then(|r| packages.get(r))
            {
                Some(t) => t,
                None => continue,
            }
        } else {
            entry
        };
        let name = if entry.link {
            key_name
        } else {
            entry.name.as_deref().unwrap_or(key_name)
        };
        let mut p = Package::new(
            Ecosystem::Npm,
            name,
            target.version.clone().unwrap_or_default(),
            LOCK_ID,
        );
        p.dev = entry.dev;
        p.licenses = licenses_of(target.license.as_ref(), target.licenses.as_ref());
        out.push(p);
    }
}

fn v1_walk(
    deps: &BTreeMap<String, V1Dep>,
    depth: usize,
    out: &mut Vec<Package>,
) -> Result<(), CatalogError> {
    if depth > MAX_V1_DEPTH {
        return Err(CatalogError::parse(
            "package-lock.json",
            format!("dependencies nested deeper than {MAX_V1_DEPTH}"),
        ));
    }
    for (name, dep) in deps {
        if let Some(v) = dep.version.as_deref() {
            // v1 records non-registry sources as the version (`file:..`, `git+..`).
            if !v.contains(':') {
                let mut p = Package::new(Ecosystem::Npm, name, v, LOCK_ID);
                p.dev = dep.dev;
                out.push(p);
            }
        }
        if let Some(children) = &dep.dependencies {
            // Children are decoded lazily so that the depth check runs before serde
            // would recurse into them.
            let children: BTreeMap<String, V1Dep> = children
                .iter()
                .filter_map(|(k, v)| Some((k.clone(), V1Dep::deserialize(v).ok()?)))
                .collect();
            v1_walk(&children, depth + 1, out)?;
        }
    }
    Ok(())
}

/// One entry per name and version; non-dev wins; licenses of the first entry that has any.
pub(crate) fn dedup(pkgs: Vec<Package>) -> Vec<Package> {
    let mut index: BTreeMap<(String, String), usize> = BTreeMap::new();
    let mut out: Vec<Package> = Vec::new();
    for p in pkgs {
        let key = (p.name.clone(), p.version.clone());
        match index.get(&key).and_then(|&i| out.get_mut(i)) {
            Some(existing) => {
                existing.dev &= p.dev;
                if existing.licenses.is_empty() {
                    existing.licenses = p.licenses;
                }
            }
            None => {
                index.insert(key, out.len());
                out.push(p);
            }
        }
    }
    out
}

/// Parses an installed `package.json`; manifests without a name or version (private
/// apps, workspace roots) describe no installable package and yield nothing.
pub fn parse_package_json(data: &[u8]) -> Result<Vec<Package>, CatalogError> {
    let doc: Value = serde_json::from_slice(data).map_err(|e| json_error("package.json", e))?;
    let name = doc.get("name").and_then(Value::as_str).unwrap_or("").trim();
    let version = doc
        .get("version")
        .and_then(Value::as_str)
        .unwrap_or("")
        .trim();
    if name.is_empty() || version.is_empty() {
        return Ok(Vec::new());
    }
    let mut p = Package::new(Ecosystem::Npm, name, version, PACKAGE_JSON_ID);
    p.licenses = licenses_of(doc.get("license"), doc.get("licenses"));
    Ok(vec![p])
}
