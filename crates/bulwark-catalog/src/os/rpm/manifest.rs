//! `var/lib/rpmmanifest/container-manifest-2`: the `rpm -qa --queryformat` listing that
//! CBL-Mariner / Azure Linux distroless images ship instead of an rpm database.
//!
//! Each line has tab-separated fields: name, `version-release`, install time, build
//! time, vendor, epoch (or `(none)`), size, arch, epoch number, source rpm.

use super::header::split_source_rpm;
use crate::{read_bounded, CatalogError, CatalogInput, CatalogOutput, Cataloger, ScanMode};
use bulwark_core::{Ecosystem, Package, SourcePackage};

const MAX_MANIFEST_SIZE: u64 = 16 * 1024 * 1024;
const FIELDS: usize = 10;

/// Catalogs CBL-Mariner's container rpm manifest.
#[derive(Debug, Default, Clone, Copy)]
pub struct RpmManifestCataloger;

impl Cataloger for RpmManifestCataloger {
    fn id(&self) -> &'static str {
        "rpm-manifest"
    }

    fn wants(&self, path: &str, _size: u64, _mode: u32, _scan: ScanMode) -> bool {
        path == "var/lib/rpmmanifest/container-manifest-2"
    }

    fn catalog(&self, input: CatalogInput<'_>) -> Result<CatalogOutput, CatalogError> {
        let data = read_bounded(input.reader, MAX_MANIFEST_SIZE, "rpm-manifest")?;
        Ok(CatalogOutput {
            packages: parse_rpm_manifest(&data)?,
            os: None,
            ..Default::default()
        })
    }
}

/// Parses a `container-manifest-2` listing. A line with the wrong number of fields is an
/// error naming its line number.
pub fn parse_rpm_manifest(data: &[u8]) -> Result<Vec<Package>, CatalogError> {
    let text = std::str::from_utf8(data)
        .map_err(|e| CatalogError::parse("rpm manifest", format!("not UTF-8: {e}")))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split('\t').collect();
        let (Some(name), Some(ver_rel), Some(vendor), Some(epoch), Some(arch), Some(srpm)) =
            (f.first(), f.get(1), f.get(4), f.get(5), f.get(7), f.get(9))
        else {
            return Err(CatalogError::Parse {
                format: "rpm manifest",
                line: Some(i + 1),
                message: format!("expected {FIELDS} tab-separated fields, found {}", f.len()),
            });
        };
        if name.is_empty() || ver_rel.is_empty() {
            return Err(CatalogError::Parse {
                format: "rpm manifest",
                line: Some(i + 1),
                message: "empty name or version".into(),
            });
        }
        let epoch = match *epoch {
            "(none)" | "" => None,
            e => Some(e.parse::<u32>().map_err(|_| CatalogError::Parse {
                format: "rpm manifest",
                line: Some(i + 1),
                message: format!("invalid epoch {e:?}"),
            })?),
        };
        let version = match epoch {
            Some(e) => format!("{e}:{ver_rel}"),
            None => ver_rel.to_string(),
        };
        let mut p = Package::new(Ecosystem::Rpm, *name, version, "rpm-manifest");
        p.epoch = epoch;
        p.arch = Some(arch.to_string()).filter(|a| !a.is_empty());
        p.supplier = Some(vendor.to_string()).filter(|v| !v.is_empty() && v != "(none)");
        p.source = split_source_rpm(srpm).map(|(name, version)| SourcePackage { name, version });
        out.push(p);
    }
    Ok(out)
}
