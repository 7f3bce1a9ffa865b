//! Assembly: runs every cataloger over a target through the image walker and turns the
//! per-file results into one package list.
//!
//! The walker gives, for each file visible in the merged image, what the catalogers
//! returned for it in its topmost layer and in the lower layers that held the same path.
//! A package "entered" the image in the lowest layer of the unbroken run of copies of its
//! file that list it — so a dpkg package installed in the base layer keeps the base
//! layer's digest even though every later `apt-get install` rewrote the status file.

use crate::{CatalogError, CatalogInput, CatalogOutput, Cataloger, ScanMode};
use bulwark_core::{IncompleteKind, IncompleteReason, Location, OsInfo, Package, Warning};
use bulwark_image::{FileEntry, MergedFile, Target, Visitor, Walk};
use std::collections::HashMap;

/// The catalogers' results for one file: (cataloger index, result).
pub type FileResults = Vec<(usize, Result<CatalogOutput, CatalogError>)>;

/// A [`Visitor`] that hands each file to every cataloger that wants it.
pub struct CatalogVisitor<'a> {
    catalogers: &'a [Box<dyn Cataloger>],
    mode: ScanMode,
}

impl<'a> CatalogVisitor<'a> {
    /// A visitor over `catalogers` for a scan of the given kind.
    pub fn new(catalogers: &'a [Box<dyn Cataloger>], mode: ScanMode) -> Self {
        CatalogVisitor { catalogers, mode }
    }
}

impl Visitor for CatalogVisitor<'_> {
    type Output = FileResults;

    fn wants(&self, path: &str, size: u64, mode: u32) -> bool {
        self.catalogers
            .iter()
            .any(|c| c.wants(path, size, mode, self.mode))
    }

    fn visit(&self, file: FileEntry<'_>) -> FileResults {
        let mut out = Vec::new();
        for (i, c) in self.catalogers.iter().enumerate() {
            if !c.wants(file.path, file.size, file.mode, self.mode) {
                continue;
            }
            let res = match file.reader.rewind() {
                Ok(()) => c.catalog(CatalogInput {
                    path: file.path,
                    size: file.size,
                    mode: file.mode,
                    reader: &mut *file.reader,
                    spool_dir: file.spool_dir,
                }),
                Err(e) => Err(CatalogError::Io(e)),
            };
            out.push((i, res));
        }
        out
    }
}

/// What cataloging a target produced.
#[derive(Debug, Default)]
pub struct Catalog {
    /// The detected operating system.
    pub os: Option<OsInfo>,
    /// Packages, deduplicated, with locations and purls.
    pub packages: Vec<Package>,
    /// Files that could not be parsed, and walker warnings.
    pub warnings: Vec<Warning>,
    /// Why the catalog is missing packages: package files that could not be read,
    /// malformed records that were skipped, wanted files the walker skipped.
    pub incomplete: Vec<IncompleteReason>,
    /// For a single-file target: no cataloger wanted the file (it is not a lock file,
    /// manifest, package database or binary bulwark knows).
    pub unrecognised: bool,
}

/// Turns a finished walk into a [`Catalog`].
pub fn assemble(
    target: &Target,
    catalogers: &[Box<dyn Cataloger>],
    walk: &Walk<FileResults>,
) -> Catalog {
    assemble_by(target, catalogers, walk, |o| o)
}

/// [`assemble`] over a walk whose visitor did more than cataloging (the engine's one
/// walk also feeds the secret and misconfiguration scanners): `results` picks the
/// catalogers' part of each file's output.
pub fn assemble_by<O>(
    target: &Target,
    catalogers: &[Box<dyn Cataloger>],
    walk: &Walk<O>,
    results: impl Fn(&O) -> &FileResults,
) -> Catalog {
    assemble_merged(target, catalogers, walk, &walk.merged(), results)
}

/// [`assemble_by`] given the walk's merged view, for a caller that computed it already
/// ([`Walk::merged_and_deleted`]).
pub fn assemble_merged<O>(
    target: &Target,
    catalogers: &[Box<dyn Cataloger>],
    walk: &Walk<O>,
    merged: &[MergedFile<'_, O>],
    results: impl Fn(&O) -> &FileResults,
) -> Catalog {
    let is_image = matches!(target, Target::Image(_));
    let layer_ids: Vec<(Option<String>, Option<String>)> = walk
        .layers
        .iter()
        .map(|l| {
            let d = (!l.digest.is_empty()).then(|| l.digest.clone());
            let di = (!l.diff_id.is_empty()).then(|| l.diff_id.clone());
            (d, di)
        })
        .collect();
    let display_path = |p: &str| {
        if is_image {
            format!("/{p}")
        } else {
            p.to_string()
        }
    };

    let mut cat = Catalog {
        warnings: walk.warnings.iter().chain(&walk.skipped).cloned().collect(),
        ..Default::default()
    };
    for w in &walk.skipped {
        cat.incomplete.push(IncompleteReason {
            kind: IncompleteKind::SkippedFile,
            path: w.path.as_ref().map(|p| display_path(p)),
            layer: w.layer.clone(),
            message: format!("not read: {}", w.message),
        });
    }
    let mut os_candidates: Vec<(u8, OsInfo)> = Vec::new();
    let mut packages: Vec<Package> = Vec::new();

    for mf in merged {
        let lower: Vec<(usize, &FileResults)> =
            mf.lower.iter().map(|(l, o)| (*l, results(o))).collect();
        for (ci, res) in results(mf.output) {
            match res {
                Ok(out) => {
                    let who = catalogers.get(*ci).map(|c| c.id()).unwrap_or("cataloger");
                    let layer = layer_ids.get(mf.layer).and_then(|l| l.0.clone());
                    for w in &out.warnings {
                        cat.warnings.push(Warning {
                            path: Some(display_path(mf.path)),
                            layer: layer.clone(),
                            message: format!("{who}: {w}"),
                        });
                    }
                    if !out.warnings.is_empty() {
                        cat.incomplete.push(IncompleteReason {
                            kind: IncompleteKind::SkippedRecords,
                            path: Some(display_path(mf.path)),
                            layer,
                            message: format!(
                                "{who} skipped malformed record(s) (see warnings); their packages are missing"
                            ),
                        });
                    }
                    if let Some(os) = &out.os {
                        let prio = crate::os::os_release_priority(mf.path).unwrap_or(u8::MAX);
                        os_candidates.push((prio, os.clone()));
                    }
                    for pkg in &out.packages {
                        let layer = introducing_layer(pkg, *ci, mf.layer, &lower);
                        let (digest, diff_id) = layer_ids.get(layer).cloned().unwrap_or_default();
                        let mut p = pkg.clone();
                        if p.locations.is_empty() {
                            p.locations.push(Location::path(mf.path));
                        }
                        for loc in &mut p.locations {
                            loc.path = display_path(&loc.path);
                            loc.layer_digest = digest.clone();
                            loc.layer_diff_id = diff_id.clone();
                        }
                        if p.found_by.is_empty() {
                            p.found_by = catalogers
                                .get(*ci)
                                .map(|c| c.id().to_string())
                                .unwrap_or_default();
                        }
                        packages.push(p);
                    }
                }
                Err(e) => {
                    let who = catalogers.get(*ci).map(|c| c.id()).unwrap_or("cataloger");
                    let layer = layer_ids.get(mf.layer).and_then(|l| l.0.clone());
                    cat.warnings.push(Warning {
                        path: Some(display_path(mf.path)),
                        layer: layer.clone(),
                        message: format!("{who}: {e}"),
                    });
                    cat.incomplete.push(IncompleteReason {
                        kind: IncompleteKind::UnreadableFile,
                        path: Some(display_path(mf.path)),
                        layer,
                        message: format!("{who} could not read it ({e}); its packages are missing"),
                    });
                }
            }
        }
    }

    cat.os = choose_os(os_candidates);
    cat.packages = dedupe(packages);
    for p in &mut cat.packages {
        p.finalize(cat.os.as_ref());
    }
    if let Target::File(_) = target {
        // No file was handed to any analyzer: nothing recognised the single file. (When
        // the secret or misconfiguration scanners also walk, the caller decides.)
        cat.unrecognised = walk.warnings.is_empty()
            && walk.skipped.is_empty()
            && walk.layers.iter().all(|l| l.files.is_empty());
    }
    cat
}

/// Picks the most authoritative OS candidate, then lets a less authoritative file of the
/// same family refine its version (Debian's os-release says `12`, `debian_version` says
/// `12.5`; the point release is what users and other tools report).
fn choose_os(mut candidates: Vec<(u8, OsInfo)>) -> Option<OsInfo> {
    candidates.sort_by_key(|(p, _)| *p);
    let mut best = candidates.first()?.1.clone();
    for (_, other) in &candidates[1..] {
        if other.family == best.family
            && other.version.len() > best.version.len()
            && other
                .version
                .strip_prefix(best.version.as_str())
                .is_some_and(|rest| rest.starts_with('.'))
        {
            best.version = other.version.clone();
        }
    }
    Some(best)
}

/// The lowest layer of the unbroken run of copies of a file (from the visible one
/// downwards) whose results for the same cataloger still list `pkg`.
fn introducing_layer(
    pkg: &Package,
    cataloger: usize,
    top: usize,
    lower: &[(usize, &FileResults)],
) -> usize {
    let mut layer = top;
    for (l, results) in lower.iter().rev() {
        let listed = results.iter().any(|(ci, r)| {
            *ci == cataloger
                && r.as_ref().is_ok_and(|o| {
                    o.packages.iter().any(|q| {
                        q.name == pkg.name && q.version == pkg.version && q.arch == pkg.arch
                    })
                })
        });
        if !listed {
            break;
        }
        layer = *l;
    }
    layer
}

/// Merges packages that are the same (ecosystem, name, version, arch) into one entry with
/// every location, keeping the first finder's metadata.
fn dedupe(packages: Vec<Package>) -> Vec<Package> {
    let mut index: HashMap<(bulwark_core::Ecosystem, String, String, Option<String>), usize> =
        HashMap::new();
    let mut out: Vec<Package> = Vec::new();
    for p in packages {
        let key = (
            p.ecosystem,
            p.name.clone(),
            p.version.clone(),
            p.arch.clone(),
        );
        match index.get(&key) {
            Some(&i) => {
                let existing = &mut out[i];
                for loc in p.locations {
                    if !existing.locations.contains(&loc) {
                        existing.locations.push(loc);
                    }
                }
                if existing.licenses.is_empty() {
                    existing.licenses = p.licenses;
                }
                if existing.source.is_none() {
                    existing.source = p.source;
                }
                existing.dev &= p.dev;
            }
            None => {
                index.insert(key, out.len());
                out.push(p);
            }
        }
    }
    out
}
