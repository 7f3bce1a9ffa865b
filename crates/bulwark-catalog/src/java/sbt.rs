//! `build.sbt.lock` (sbt-dependency-lock plugin): JSON with `dependencies[]` of
//! `org`, `name`, `version`, `configurations`.
//!
//! Trivy drops dependencies used only in the `test` configuration; bulwark keeps them
//! marked `dev`, as it does for every lock file that records development dependencies.

use crate::{read_bounded, CatalogError, CatalogInput, CatalogOutput, Cataloger, ScanMode};
use bulwark_core::{Ecosystem, Package};
use serde::Deserialize;
use std::collections::BTreeSet;

const MAX_SIZE: u64 = 32 << 20;
const FORMAT: &str = "build.sbt.lock";

/// Finds dependencies in sbt lock files.
pub struct SbtLockCataloger;

impl Cataloger for SbtLockCataloger {
    fn id(&self) -> &'static str {
        "sbt-lock"
    }

    fn wants(&self, path: &str, _size: u64, _mode: u32, scan: ScanMode) -> bool {
        // Build-time manifests: like Trivy, only in source trees, not in images.
        scan == ScanMode::Source && crate::util::file_name(path).ends_with(".sbt.lock")
    }

    fn catalog(&self, input: CatalogInput<'_>) -> Result<CatalogOutput, CatalogError> {
        let data = read_bounded(input.reader, MAX_SIZE, self.id())?;
        Ok(CatalogOutput {
            packages: parse_sbt_lock(&data)?,
            os: None,
            ..Default::default()
        })
    }
}

#[derive(Deserialize)]
struct Lock {
    #[serde(default, rename = "lockVersion")]
    lock_version: Option<u32>,
    #[serde(default)]
    dependencies: Vec<Dep>,
}

#[derive(Deserialize)]
struct Dep {
    org: String,
    name: String,
    version: String,
    #[serde(default)]
    configurations: Vec<String>,
}

/// Parses the bytes of a `build.sbt.lock` (lock version 1).
pub fn parse_sbt_lock(data: &[u8]) -> Result<Vec<Package>, CatalogError> {
    let lock: Lock = serde_json::from_slice(data).map_err(|e| CatalogError::Parse {
        format: FORMAT,
        line: Some(e.line()),
        message: e.to_string(),
    })?;
    if let Some(v) = lock.lock_version.filter(|&v| v != 1) {
        return Err(CatalogError::parse(
            FORMAT,
            format!("lock version {v} not supported"),
        ));
    }
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for d in lock.dependencies {
        let name = format!("{}:{}", d.org, d.name);
        if d.org.is_empty() || d.name.is_empty() || !seen.insert((name.clone(), d.version.clone()))
        {
            continue;
        }
        let mut p = Package::new(Ecosystem::Maven, name, d.version, "sbt-lock");
        p.dev = !d.configurations.is_empty() && d.configurations.iter().all(|c| c == "test");
        out.push(p);
    }
    Ok(out)
}
