//! `gradle.lockfile` (Gradle dependency locking): one `group:artifact:version=configs`
//! per line.

use crate::{read_bounded, CatalogError, CatalogInput, CatalogOutput, Cataloger, ScanMode};
use bulwark_core::{Ecosystem, Package};
use std::collections::BTreeSet;

const MAX_SIZE: u64 = 16 << 20;

/// Finds dependencies in Gradle lock files.
pub struct GradleLockCataloger;

impl Cataloger for GradleLockCataloger {
    fn id(&self) -> &'static str {
        "gradle-lock"
    }

    fn wants(&self, path: &str, _size: u64, _mode: u32, scan: ScanMode) -> bool {
        // Build-time manifests: like Trivy, only in source trees, not in images.
        scan == ScanMode::Source && crate::util::file_name(path).ends_with("gradle.lockfile")
    }

    fn catalog(&self, input: CatalogInput<'_>) -> Result<CatalogOutput, CatalogError> {
        let data = read_bounded(input.reader, MAX_SIZE, self.id())?;
        Ok(CatalogOutput {
            packages: parse_gradle_lock(&data)?,
            os: None,
            ..Default::default()
        })
    }
}

/// Parses the bytes of a `gradle.lockfile`. Comments and `empty=` lines are skipped;
/// packages only in `test*` configurations are marked `dev`;
/// a line that is not `g:a:v[=...]` is an error naming the line.
pub fn parse_gradle_lock(data: &[u8]) -> Result<Vec<Package>, CatalogError> {
    let text = std::str::from_utf8(data)
        .map_err(|e| CatalogError::parse("gradle.lockfile", format!("not UTF-8: {e}")))?;
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with("empty=") {
            continue;
        }
        let (coords, configs) = line.split_once('=').unwrap_or((line, ""));
        // Like Trivy: a dependency only in test classpaths is a development dependency.
        let dev =
            !configs.trim().is_empty() && configs.split(',').all(|c| c.trim().starts_with("test"));
        let parts: Vec<&str> = coords.split(':').collect();
        let [g, a, v] = parts.as_slice() else {
            return Err(CatalogError::Parse {
                format: "gradle.lockfile",
                line: Some(i + 1),
                message: format!("want group:artifact:version, got {coords:?}"),
            });
        };
        if seen.insert((g.to_string(), a.to_string(), v.to_string())) {
            let mut p = Package::new(Ecosystem::Maven, format!("{g}:{a}"), *v, "gradle-lock");
            p.dev = dev;
            out.push(p);
        }
    }
    Ok(out)
}
