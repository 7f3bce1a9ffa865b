//! Java archives (`*.jar`, `*.war`, `*.ear`, `*.par`), nested archives included.
//!
//! Identification, in Trivy's order and without its Java database (bulwark works
//! offline):
//! 1. every valid `pom.properties` (groupId, artifactId, version) — several in shaded jars;
//! 2. if none of them is the archive's own, the `MANIFEST.MF` main section
//!    (`Implementation-*`/`Bundle-*`), as Trivy's offline mode does;
//! 3. else the file name, `artifactId-version.jar`. Trivy looks the groupId up in its
//!    database; we have none, so such packages are named by the artifactId alone.
//!
//! Licences come from the embedded `META-INF/maven/<g>/<a>/pom.xml` and from Jenkins'
//! `Plugin-License-Name` manifest attributes.
//!
//! Location convention: packages of the scanned archive itself are located at the
//! archive's path; packages of a nested archive at `{outer}!/{entry}`, repeated per level
//! (`app.war!/WEB-INF/lib/a.jar!/META-INF/lib/b.jar`), paths relative like every
//! cataloger input path.
//!
//! Limits: nesting depth 4, 8 MiB per metadata entry, 256 MiB per nested archive and 1 GiB
//! decompressed in total per scanned file; exceeding one is an error, not an OOM.

use super::manifest::{parse_main_section, ManifestInfo};
use crate::{CatalogError, CatalogInput, CatalogOutput, Cataloger, ScanMode};
use bulwark_core::{Ecosystem, Location, Package};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{Cursor, Read, Seek};

/// How deep archives inside archives are opened.
pub const MAX_DEPTH: usize = 4;
/// Largest `pom.properties`, `pom.xml` or manifest read.
pub const MAX_META_ENTRY: u64 = 8 << 20;
/// Largest nested archive decompressed into memory.
pub const MAX_NESTED: u64 = 256 << 20;
/// Total decompressed bytes per scanned file.
pub const MAX_TOTAL: u64 = 1 << 30;
/// Largest top-level archive opened (read in place, not loaded).
pub const MAX_ARCHIVE: u64 = 4 << 30;
const FORMAT: &str = "Java archive";
const ID: &str = "java-archive";

/// Finds Maven artifacts in Java archives.
pub struct JavaArchiveCataloger;

impl Cataloger for JavaArchiveCataloger {
    fn id(&self) -> &'static str {
        ID
    }

    fn wants(&self, path: &str, size: u64, _mode: u32, _scan: ScanMode) -> bool {
        size <= MAX_ARCHIVE && is_archive_name(path)
    }

    fn catalog(&self, input: CatalogInput<'_>) -> Result<CatalogOutput, CatalogError> {
        input.reader.rewind()?;
        let mut budget = MAX_TOTAL;
        let packages = parse_archive(&mut *input.reader, input.path, 0, &mut budget)?;
        Ok(CatalogOutput {
            packages,
            ..Default::default()
        })
    }
}

/// Whether a path names a Java archive by extension (Jenkins' `.jpi`/`.hpi` plugins are
/// jars too).
pub fn is_archive_name(path: &str) -> bool {
    let name = crate::util::file_name(path).to_ascii_lowercase();
    [".jar", ".war", ".ear", ".par", ".jpi", ".hpi"]
        .iter()
        .any(|e| name.ends_with(e))
}

/// Pure entry point over bytes (fuzzing, tests): catalogs an archive held in memory.
pub fn parse_archive_bytes(data: &[u8], path: &str) -> Result<Vec<Package>, CatalogError> {
    let mut budget = MAX_TOTAL;
    parse_archive(Cursor::new(data), path, 0, &mut budget)
}

/// Coordinates from a `pom.properties`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PomProperties {
    /// groupId.
    pub group_id: String,
    /// artifactId.
    pub artifact_id: String,
    /// version.
    pub version: String,
}

/// Parses Java properties text as found in `pom.properties` (`=`, `:` or whitespace
/// separators, `#`/`!` comments).
pub fn parse_pom_properties(data: &[u8]) -> PomProperties {
    let text = String::from_utf8_lossy(data);
    let mut p = PomProperties::default();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with('!') {
            continue;
        }
        let split = line
            .find(|c: char| c == '=' || c == ':' || c.is_whitespace())
            .unwrap_or(line.len());
        let (key, rest) = line.split_at(split);
        let value = rest
            .trim_start()
            .strip_prefix(['=', ':'])
            .unwrap_or(rest.trim_start())
            .trim();
        match key {
            "groupId" => p.group_id = value.to_string(),
            "artifactId" => p.artifact_id = value.to_string(),
            "version" => p.version = value.to_string(),
            _ => {}
        }
    }
    p
}

/// Splits `commons-lang3-3.12.0.jar` into (`commons-lang3`, `3.12.0`): the version starts
/// at the first `-` followed by a digit.
pub fn split_file_name(file_name: &str) -> Option<(String, String)> {
    let stem = file_name.rsplit_once('.').map_or(file_name, |(s, _)| s);
    let bytes = stem.as_bytes();
    let pos = (0..bytes.len()).find(|&i| {
        bytes.get(i) == Some(&b'-') && bytes.get(i + 1).is_some_and(u8::is_ascii_digit)
    })?;
    let (a, v) = (stem.get(..pos)?, stem.get(pos + 1..)?);
    (!a.is_empty() && !v.is_empty()).then(|| (a.to_string(), v.to_string()))
}

/// Licence names from a `pom.xml`'s `project/licenses/license/name`.
pub fn pom_licenses(data: &[u8]) -> Vec<String> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_reader(data);
    let mut stack: Vec<Vec<u8>> = Vec::new();
    let mut out = Vec::new();
    let mut buf = Vec::new();
    loop {
        match reader.read_event_into(&mut buf) {
            Ok(Event::Start(e)) => {
                // Depth is bounded by the entry size limit; no recursion is involved.
                stack.push(e.local_name().as_ref().to_vec());
            }
            Ok(Event::End(_)) => {
                stack.pop();
            }
            Ok(Event::Text(t)) => {
                let path: Vec<&[u8]> = stack.iter().map(Vec::as_slice).collect();
                if path == [&b"project"[..], b"licenses", b"license", b"name"] {
                    if let Ok(s) = t.unescape() {
                        let s = s.trim();
                        if !s.is_empty() {
                            out.push(s.to_string());
                        }
                    }
                }
            }
            Ok(Event::Eof) | Err(_) => break,
            _ => {}
        }
        buf.clear();
    }
    out
}

fn read_entry(r: &mut impl Read, limit: u64, budget: &mut u64) -> Result<Vec<u8>, CatalogError> {
    let cap = limit.min(*budget);
    let mut buf = Vec::new();
    r.take(cap + 1)
        .read_to_end(&mut buf)
        .map_err(|e| CatalogError::parse(FORMAT, format!("inflating entry: {e}")))?;
    let n = buf.len() as u64;
    if n > cap {
        return Err(CatalogError::TooLarge {
            size: n,
            limit: cap,
            cataloger: ID,
        });
    }
    *budget -= n;
    Ok(buf)
}

/// Catalogs one archive at nesting `depth`; `path` is its location string.
fn parse_archive<R: Read + Seek>(
    reader: R,
    path: &str,
    depth: usize,
    budget: &mut u64,
) -> Result<Vec<Package>, CatalogError> {
    let mut zip = zip::ZipArchive::new(reader)
        .map_err(|e| CatalogError::parse(FORMAT, format!("{path}: {e}")))?;
    let mut poms: Vec<PomProperties> = Vec::new();
    let mut licenses: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    let mut manifest: Option<ManifestInfo> = None;
    let mut nested: Vec<Package> = Vec::new();
    for i in 0..zip.len() {
        let mut entry = zip
            .by_index(i)
            .map_err(|e| CatalogError::parse(FORMAT, format!("{path}: entry {i}: {e}")))?;
        if entry.is_dir() {
            continue;
        }
        let name = String::from_utf8_lossy(entry.name_raw()).into_owned();
        let lower = name.to_ascii_lowercase();
        if lower.ends_with("pom.properties") {
            let data = read_entry(&mut entry, MAX_META_ENTRY, budget)?;
            let p = parse_pom_properties(&data);
            if !p.group_id.is_empty() && !p.artifact_id.is_empty() && !p.version.is_empty() {
                poms.push(p);
            }
        } else if lower.starts_with("meta-inf/maven/") && lower.ends_with("/pom.xml") {
            let parts: Vec<&str> = name.split('/').collect();
            if let [_, _, g, a, _] = parts.as_slice() {
                let key = (g.to_string(), a.to_string());
                let data = read_entry(&mut entry, MAX_META_ENTRY, budget)?;
                licenses.insert(key, pom_licenses(&data));
            }
        } else if lower == "meta-inf/manifest.mf" {
            let data = read_entry(&mut entry, MAX_META_ENTRY, budget)?;
            manifest = Some(ManifestInfo::from_attributes(&parse_main_section(&data)));
        } else if is_archive_name(&name) && depth + 1 < MAX_DEPTH {
            let data = read_entry(&mut entry, MAX_NESTED, budget)?;
            let inner_path = format!("{path}!/{name}");
            match parse_archive(Cursor::new(data), &inner_path, depth + 1, budget) {
                Ok(pkgs) => nested.extend(pkgs),
                // A damaged inner archive should not hide the rest of the outer one;
                // resource-limit breaches still abort.
                Err(CatalogError::Parse { message, .. }) => {
                    tracing::debug!("skipping nested archive {inner_path}: {message}");
                }
                Err(e) => return Err(e),
            }
        }
    }

    let file_name = path.rsplit(['/', '!']).next().unwrap_or(path);
    let from_name = split_file_name(file_name);
    let stem = file_name.rsplit_once('.').map_or(file_name, |(s, _)| s);
    // Which pom.properties describes the archive itself: one matching the file name, or
    // the only one there is (Debian ships unversioned names like `log4j-core.jar`, whose
    // manifest would otherwise add a second, made-up coordinate).
    let own_pom = poms.len() == 1
        || poms.iter().any(|p| {
            from_name
                .as_ref()
                .is_some_and(|(a, v)| *a == p.artifact_id && *v == p.version)
                || p.artifact_id == stem
        });

    let loc = Location::path(path);
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    let mut push = |name: String, version: String, lic: Vec<String>, out: &mut Vec<Package>| {
        if seen.insert((name.clone(), version.clone())) {
            let mut p = Package::new(Ecosystem::Maven, name, version, ID).at(loc.clone());
            p.licenses = lic;
            out.push(p);
        }
    };
    for p in &poms {
        let lic = licenses
            .get(&(p.group_id.clone(), p.artifact_id.clone()))
            .cloned()
            .unwrap_or_default();
        push(
            format!("{}:{}", p.group_id, p.artifact_id),
            p.version.clone(),
            lic,
            &mut out,
        );
    }
    if !own_pom {
        match manifest.filter(ManifestInfo::is_valid) {
            Some(m) => push(
                format!("{}:{}", m.group_id, m.artifact_id),
                m.version,
                m.licenses,
                &mut out,
            ),
            None => {
                if let Some((a, v)) = from_name {
                    push(a, v, Vec::new(), &mut out);
                }
            }
        }
    }
    out.extend(nested);
    Ok(out)
}
