//! The human-readable table: a header naming the target, OS and counts, then one table
//! per place packages were found — OS packages first, then each language file path.

use crate::common;
use crate::ReportError;
use bulwark_core::{Package, Report, TargetKind};
use comfy_table::{presets, Table};
use std::collections::BTreeMap;
use std::io::Write;

/// Writes the table form of `report`.
pub fn write_table(report: &Report, out: &mut dyn Write) -> Result<(), ReportError> {
    let is_image = report.target.kind == TargetKind::Image;
    let kind = match report.target.kind {
        TargetKind::Image => "image",
        TargetKind::Directory => "directory",
        TargetKind::File => "file",
        TargetKind::Sbom => "sbom",
    };
    writeln!(out, "Target: {} ({kind})", report.target.name)?;
    if let Some(img) = &report.target.image {
        if !img.id.is_empty() {
            writeln!(out, "Image ID: {}", img.id)?;
        }
    }
    match &report.os {
        Some(os) => {
            let name = os
                .pretty_name
                .clone()
                .unwrap_or_else(|| format!("{} {}", os.family, os.version));
            writeln!(out, "OS: {name}")?;
        }
        None => writeln!(out, "OS: unknown")?,
    }
    let os_count = report.packages.iter().filter(|p| p.is_os()).count();
    writeln!(
        out,
        "Packages: {} ({} OS, {} language)",
        report.packages.len(),
        os_count,
        report.packages.len() - os_count
    )?;
    if !report.warnings.is_empty() {
        writeln!(out, "Warnings: {}", report.warnings.len())?;
    }

    let (os_pkgs, by_path) = group(report);
    if !os_pkgs.is_empty() {
        writeln!(out)?;
        writeln!(out, "OS packages ({})", os_pkgs.len())?;
        writeln!(out, "{}", render(&os_pkgs, is_image))?;
    }
    for (path, pkgs) in &by_path {
        writeln!(out)?;
        let title = if path.is_empty() {
            "(no path)"
        } else {
            path.as_str()
        };
        writeln!(out, "{title} ({})", pkgs.len())?;
        writeln!(out, "{}", render(pkgs, is_image))?;
    }
    for w in &report.warnings {
        writeln!(
            out,
            "warning: {}{}",
            w.path
                .as_deref()
                .map(|p| format!("{p}: "))
                .unwrap_or_default(),
            w.message
        )?;
    }
    Ok(())
}

type Groups<'a> = (Vec<&'a Package>, BTreeMap<String, Vec<&'a Package>>);

/// OS packages, then language packages keyed by the first path they were found at.
fn group(report: &Report) -> Groups<'_> {
    let mut os = Vec::new();
    let mut by_path: BTreeMap<String, Vec<&Package>> = BTreeMap::new();
    for p in &report.packages {
        if p.is_os() {
            os.push(p);
        } else {
            let path = p
                .locations
                .first()
                .map(|l| l.path.clone())
                .unwrap_or_default();
            by_path.entry(path).or_default().push(p);
        }
    }
    let key = |p: &&Package| (p.name.clone(), p.version.clone());
    os.sort_by_key(key);
    for v in by_path.values_mut() {
        v.sort_by_key(key);
    }
    (os, by_path)
}

fn render(pkgs: &[&Package], is_image: bool) -> Table {
    let mut t = Table::new();
    t.load_style(presets::ASCII_MARKDOWN);
    let mut header = vec!["Name", "Version", "Type", "Path"];
    if is_image {
        header.push("Layer");
    }
    t.set_header(header);
    for p in pkgs {
        let loc = p.locations.first();
        let mut row = vec![
            p.name.clone(),
            p.version.clone(),
            p.ecosystem.purl_type().to_string(),
            loc.map(|l| l.path.clone()).unwrap_or_default(),
        ];
        if is_image {
            row.push(
                loc.and_then(|l| l.layer_digest.as_deref())
                    .map(common::short_digest)
                    .unwrap_or_default(),
            );
        }
        t.add_row(row);
    }
    t
}
