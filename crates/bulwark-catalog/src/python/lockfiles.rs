//! Python lock files: `Pipfile.lock` (JSON), `poetry.lock`, `uv.lock` and PEP 751
//! `pylock.toml` (TOML). Each pins exact versions, so every entry becomes a package.

use super::{toml_error, utf8};
use crate::CatalogError;
use bulwark_core::{Ecosystem, Package};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

/// Cataloger id for `Pipfile.lock`.
pub const PIPENV_ID: &str = "pipenv-lock";
/// Cataloger id for `poetry.lock`.
pub const POETRY_ID: &str = "poetry-lock";
/// Cataloger id for `uv.lock`.
pub const UV_ID: &str = "uv-lock";
/// Cataloger id for `pylock.toml`.
pub const PYLOCK_ID: &str = "pylock";

/// `pylock.toml` or `pylock.<name>.toml` (PEP 751).
pub fn is_pylock(name: &str) -> bool {
    name == "pylock.toml"
        || name
            .strip_prefix("pylock.")
            .and_then(|r| r.strip_suffix(".toml"))
            .is_some_and(|mid| !mid.is_empty() && !mid.contains('.'))
}

/// Drops exact duplicates (same name, version and dev flag) and lets a non-dev entry win
/// over a dev entry of the same name and version.
fn dedup(pkgs: Vec<Package>) -> Vec<Package> {
    let mut index: HashMap<(String, String), usize> = HashMap::new();
    let mut out: Vec<Package> = Vec::new();
    for p in pkgs {
        let key = (p.name.clone(), p.version.clone());
        match index.get(&key).and_then(|&i| out.get_mut(i)) {
            Some(existing) => existing.dev &= p.dev,
            None => {
                index.insert(key, out.len());
                out.push(p);
            }
        }
    }
    out
}

#[derive(Deserialize)]
struct Pipfile {
    #[serde(default)]
    default: BTreeMap<String, PipfileEntry>,
    #[serde(default)]
    develop: BTreeMap<String, PipfileEntry>,
}

#[derive(Deserialize)]
struct PipfileEntry {
    version: Option<String>,
}

/// Parses a `Pipfile.lock`; `develop` entries are marked dev.
pub fn parse_pipfile_lock(data: &[u8]) -> Result<Vec<Package>, CatalogError> {
    let lock: Pipfile = serde_json::from_slice(data).map_err(|e| CatalogError::Parse {
        format: "Pipfile.lock",
        line: Some(e.line()),
        message: e.to_string(),
    })?;
    let mut out = Vec::new();
    for (section, dev) in [(&lock.default, false), (&lock.develop, true)] {
        for (name, entry) in section {
            // Git and path dependencies carry no version.
            let Some(v) = entry.version.as_deref() else {
                continue;
            };
            let v = v.trim_start_matches("===").trim_start_matches("==").trim();
            if v.is_empty() {
                continue;
            }
            let mut p = Package::new(Ecosystem::Pypi, name, v, PIPENV_ID);
            p.dev = dev;
            out.push(p);
        }
    }
    Ok(dedup(out))
}

#[derive(Deserialize)]
struct PoetryLock {
    #[serde(default)]
    package: Vec<PoetryPackage>,
}

#[derive(Deserialize)]
struct PoetryPackage {
    name: String,
    version: String,
    category: Option<String>,
    groups: Option<Vec<String>>,
}

/// Parses a `poetry.lock` (lock format 1.x and 2.x).
///
/// Dev dependencies: format 1.x records `category = "dev"`; Poetry 2 records the
/// dependency `groups` of each package, and anything outside `main` is dev. Lock files
/// from Poetry 1.5–1.8 record neither, and telling dev apart would need the
/// `pyproject.toml` beside them, which a single-file cataloger does not see; their
/// packages are reported as non-dev.
pub fn parse_poetry_lock(data: &[u8]) -> Result<Vec<Package>, CatalogError> {
    let text = utf8("poetry.lock", data)?;
    let lock: PoetryLock = toml::from_str(text).map_err(|e| toml_error("poetry.lock", data, e))?;
    let out = lock
        .package
        .into_iter()
        .map(|p| {
            let dev = p.category.as_deref() == Some("dev")
                || p.groups
                    .as_ref()
                    .is_some_and(|g| !g.is_empty() && !g.iter().any(|g| g == "main"));
            let mut pkg = Package::new(Ecosystem::Pypi, p.name, p.version, POETRY_ID);
            pkg.dev = dev;
            pkg
        })
        .collect();
    Ok(dedup(out))
}

#[derive(Deserialize)]
struct UvLock {
    #[serde(default)]
    package: Vec<UvPackage>,
}

#[derive(Deserialize)]
struct UvPackage {
    name: String,
    version: Option<String>,
    #[serde(default)]
    source: BTreeMap<String, toml::Value>,
    #[serde(default)]
    dependencies: Vec<UvDep>,
    #[serde(default, rename = "optional-dependencies")]
    optional_dependencies: BTreeMap<String, Vec<UvDep>>,
}

#[derive(Deserialize)]
struct UvDep {
    name: String,
    version: Option<String>,
}

impl UvPackage {
    /// The project itself: an editable or virtual source at the lock file's directory.
    fn is_root(&self) -> bool {
        ["editable", "virtual"]
            .iter()
            .any(|k| self.source.get(*k).and_then(|v| v.as_str()) == Some("."))
    }
}

/// Parses a `uv.lock`.
///
/// The project itself (source `editable`/`virtual` at `.`) is reported too, as it is a
/// named, versioned distribution. Packages reachable from the project's regular or
/// optional dependencies are runtime; the rest (only reachable through
/// `dev-dependencies` groups) are dev. Without exactly one such root the graph has no
/// anchor, and every package is reported as non-dev.
pub fn parse_uv_lock(data: &[u8]) -> Result<Vec<Package>, CatalogError> {
    let text = utf8("uv.lock", data)?;
    let lock: UvLock = toml::from_str(text).map_err(|e| toml_error("uv.lock", data, e))?;
    let pkgs: Vec<&UvPackage> = lock
        .package
        .iter()
        .filter(|p| p.version.is_some())
        .collect();
    let roots: Vec<usize> = (0..pkgs.len())
        .filter(|&i| pkgs.get(i).is_some_and(|p| p.is_root()))
        .collect();
    let runtime = match roots.as_slice() {
        [root] => Some(uv_runtime_set(&pkgs, *root)),
        _ => None,
    };
    let out = pkgs
        .iter()
        .enumerate()
        .filter_map(|(i, p)| {
            let mut pkg = Package::new(Ecosystem::Pypi, &p.name, p.version.as_deref()?, UV_ID);
            pkg.dev = runtime.as_ref().is_some_and(|r| !r.contains(&i));
            Some(pkg)
        })
        .collect();
    Ok(dedup(out))
}

/// Indices of the root and everything reachable from its non-dev dependencies.
fn uv_runtime_set(pkgs: &[&UvPackage], root: usize) -> HashSet<usize> {
    let mut by_name: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, p) in pkgs.iter().enumerate() {
        by_name.entry(p.name.as_str()).or_default().push(i);
    }
    let resolve = |d: &UvDep| -> Vec<usize> {
        by_name
            .get(d.name.as_str())
            .map(|cands| {
                cands
                    .iter()
                    .copied()
                    .filter(|&i| {
                        d.version.is_none()
                            || pkgs.get(i).and_then(|p| p.version.as_deref())
                                == d.version.as_deref()
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut seen = HashSet::from([root]);
    let mut queue = VecDeque::from([root]);
    // Iterative walk: dependency cycles and depth are both harmless.
    while let Some(i) = queue.pop_front() {
        let Some(p) = pkgs.get(i) else { continue };
        let deps = p
            .dependencies
            .iter()
            .chain(p.optional_dependencies.values().flatten());
        for d in deps {
            for j in resolve(d) {
                if seen.insert(j) {
                    queue.push_back(j);
                }
            }
        }
    }
    seen
}

#[derive(Deserialize)]
struct Pylock {
    #[serde(default)]
    packages: Vec<PylockPackage>,
}

#[derive(Deserialize)]
struct PylockPackage {
    name: String,
    version: Option<String>,
}

/// Parses a PEP 751 `pylock.toml`. Entries without a version (VCS or directory
/// sources) are skipped; the same version listed for several markers is reported once.
pub fn parse_pylock(data: &[u8]) -> Result<Vec<Package>, CatalogError> {
    let text = utf8("pylock.toml", data)?;
    let lock: Pylock = toml::from_str(text).map_err(|e| toml_error("pylock.toml", data, e))?;
    let out = lock
        .packages
        .into_iter()
        .filter_map(|p| Some(Package::new(Ecosystem::Pypi, p.name, p.version?, PYLOCK_ID)))
        .collect();
    Ok(dedup(out))
}
