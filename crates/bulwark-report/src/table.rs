//! The human-readable table: a header naming the target, OS and counts, then one table
//! per place packages were found — OS packages first, then each language file path.
//! When the report has findings, they follow: vulnerabilities grouped by the path of the
//! vulnerable package, misconfigurations, secrets, then the suppressed findings of each
//! kind with their reasons (present only with `--show-suppressed`), and a summary line
//! of counts per severity that leaves suppressed findings out.

use crate::common;
use crate::ReportError;
use bulwark_core::{
    Misconfiguration, Package, Report, SecretFinding, Severity, TargetKind, VulnFinding,
};
use comfy_table::{presets, Cell, Color, Table};
use std::collections::BTreeMap;
use std::io::Write;

/// Writes the table form of `report` without colours.
pub fn write_table(report: &Report, out: &mut dyn Write) -> Result<(), ReportError> {
    write_table_with(report, false, out)
}

/// Writes the table form of `report`; `color` adds ANSI colours to severities (for
/// terminals only: the caller decides).
pub fn write_table_with(
    report: &Report,
    color: bool,
    out: &mut dyn Write,
) -> Result<(), ReportError> {
    // Names, paths and messages come from the image: escape every control character so
    // no ESC/OSC sequence reaches the terminal (our own colour codes are added later,
    // by the table renderer, and are the only escapes in the output).
    let mut v = serde_json::to_value(report).map_err(ReportError::Serialize)?;
    bulwark_core::text::terminal_safe_json(&mut v);
    let safe: Report = serde_json::from_value(v).map_err(ReportError::Serialize)?;
    let report = &safe;
    write_incomplete(report, out)?;
    write_packages(report, out)?;
    write_not_checked(report, out)?;
    write_findings(report, color, out)
}

/// The first lines of the table when the scan missed something: it must not read as
/// "clean".
fn write_incomplete(report: &Report, out: &mut dyn Write) -> Result<(), ReportError> {
    if !report.is_incomplete() {
        return Ok(());
    }
    writeln!(
        out,
        "INCOMPLETE SCAN: {} reason(s); what is missing was not checked, so no finding here does not mean clean",
        report.incomplete.len()
    )?;
    for r in &report.incomplete {
        writeln!(out, "  - {}", r.describe())?;
    }
    writeln!(out)?;
    Ok(())
}

/// Packages that no advisory source covers, grouped by reason.
fn write_not_checked(report: &Report, out: &mut dyn Write) -> Result<(), ReportError> {
    if report.not_checked.is_empty() {
        return Ok(());
    }
    let mut by_reason: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for n in &report.not_checked {
        by_reason
            .entry(n.reason.as_str())
            .or_default()
            .push(format!("{} {}", n.name, n.version));
    }
    writeln!(out)?;
    writeln!(
        out,
        "Not checked for vulnerabilities ({})",
        report.not_checked.len()
    )?;
    for (reason, pkgs) in by_reason {
        const SHOWN: usize = 8;
        let more = pkgs.len().saturating_sub(SHOWN);
        let mut list = pkgs
            .iter()
            .take(SHOWN)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ");
        if more > 0 {
            list.push_str(&format!(", and {more} more"));
        }
        writeln!(out, "  {reason} ({}): {list}", pkgs.len())?;
    }
    Ok(())
}

fn write_packages(report: &Report, out: &mut dyn Write) -> Result<(), ReportError> {
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

fn severity_color(s: Severity) -> Color {
    match s {
        Severity::Critical => Color::DarkRed,
        Severity::High => Color::Red,
        Severity::Medium => Color::Yellow,
        Severity::Low => Color::Blue,
        Severity::Unknown => Color::Grey,
    }
}

fn severity_cell(s: Severity, color: bool) -> Cell {
    let c = Cell::new(s.as_str());
    if color {
        c.fg(severity_color(s))
    } else {
        c
    }
}

fn new_table(color: bool) -> Table {
    let mut t = Table::new();
    t.load_style(presets::ASCII_MARKDOWN);
    // comfy-table would otherwise decide by looking at stdout, not at `out`.
    if color {
        t.enforce_styling();
    } else {
        t.force_no_tty();
    }
    t
}

/// Counts per severity, most severe first, as `CRITICAL: n, HIGH: n, ...`.
fn severity_counts(sevs: impl Iterator<Item = Severity>) -> String {
    let mut c = BTreeMap::new();
    for s in sevs {
        *c.entry(s).or_insert(0usize) += 1;
    }
    Severity::ALL
        .iter()
        .rev()
        .map(|s| format!("{}: {}", s.as_str(), c.get(s).copied().unwrap_or(0)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn write_findings(report: &Report, color: bool, out: &mut dyn Write) -> Result<(), ReportError> {
    let (active, suppressed): (Vec<&VulnFinding>, Vec<&VulnFinding>) = report
        .vulnerabilities
        .iter()
        .partition(|v| v.suppressed.is_none());
    let (active_m, suppressed_m): (Vec<&Misconfiguration>, Vec<&Misconfiguration>) = report
        .misconfigurations
        .iter()
        .partition(|m| m.suppressed.is_none());
    let (active_s, suppressed_s): (Vec<&SecretFinding>, Vec<&SecretFinding>) =
        report.secrets.iter().partition(|s| s.suppressed.is_none());
    if report.vulnerabilities.is_empty()
        && report.misconfigurations.is_empty()
        && report.secrets.is_empty()
    {
        return Ok(());
    }

    let mut by_path: BTreeMap<&str, Vec<&VulnFinding>> = BTreeMap::new();
    for v in &active {
        by_path
            .entry(v.path.as_deref().unwrap_or(""))
            .or_default()
            .push(v);
    }
    for (path, mut vs) in by_path {
        vs.sort_by(|a, b| {
            (&a.package, std::cmp::Reverse(a.severity), &a.id).cmp(&(
                &b.package,
                std::cmp::Reverse(b.severity),
                &b.id,
            ))
        });
        writeln!(out)?;
        let title = if path.is_empty() { "(no path)" } else { path };
        writeln!(
            out,
            "Vulnerabilities in {title} ({}: {})",
            vs.len(),
            severity_counts(vs.iter().map(|v| v.severity))
        )?;
        let mut t = new_table(color);
        t.set_header(vec![
            "Package",
            "Vulnerability",
            "Severity",
            "Installed",
            "Fixed",
            "Title",
        ]);
        for v in vs {
            t.add_row(vec![
                Cell::new(&v.package),
                Cell::new(&v.id),
                severity_cell(v.severity, color),
                Cell::new(&v.installed_version),
                Cell::new(v.fixed_versions.join(", ")),
                Cell::new(&v.title),
            ]);
        }
        writeln!(out, "{t}")?;
    }

    if !active_m.is_empty() {
        writeln!(out)?;
        writeln!(out, "Misconfigurations ({})", active_m.len())?;
        writeln!(out, "{}", misconfig_table(&active_m, color, false))?;
    }

    if !active_s.is_empty() {
        writeln!(out)?;
        writeln!(out, "Secrets ({})", active_s.len())?;
        writeln!(out, "{}", secret_table(&active_s, color, false))?;
    }

    if !suppressed.is_empty() {
        writeln!(out)?;
        writeln!(out, "Suppressed vulnerabilities ({})", suppressed.len())?;
        let mut t = new_table(color);
        t.set_header(vec!["Package", "Vulnerability", "Severity", "Reason"]);
        for v in &suppressed {
            t.add_row(vec![
                Cell::new(&v.package),
                Cell::new(&v.id),
                severity_cell(v.severity, color),
                Cell::new(v.suppressed.as_deref().unwrap_or("")),
            ]);
        }
        writeln!(out, "{t}")?;
    }

    if !suppressed_m.is_empty() {
        writeln!(out)?;
        writeln!(out, "Suppressed misconfigurations ({})", suppressed_m.len())?;
        writeln!(out, "{}", misconfig_table(&suppressed_m, color, true))?;
    }

    if !suppressed_s.is_empty() {
        writeln!(out)?;
        writeln!(out, "Suppressed secrets ({})", suppressed_s.len())?;
        writeln!(out, "{}", secret_table(&suppressed_s, color, true))?;
    }

    writeln!(out)?;
    let all = active
        .iter()
        .map(|v| v.severity)
        .chain(active_m.iter().map(|m| m.severity))
        .chain(active_s.iter().map(|s| s.severity));
    let hidden = suppressed.len() + suppressed_m.len() + suppressed_s.len();
    writeln!(
        out,
        "Total findings: {} ({}); {} vulnerabilities, {} misconfigurations, {} secrets{}",
        active.len() + active_m.len() + active_s.len(),
        severity_counts(all),
        active.len(),
        active_m.len(),
        active_s.len(),
        if hidden == 0 {
            String::new()
        } else {
            format!(", {hidden} suppressed")
        }
    )?;
    Ok(())
}

/// Misconfigurations sorted by place; `reasons` adds the suppression column.
fn misconfig_table(ms: &[&Misconfiguration], color: bool, reasons: bool) -> Table {
    let mut t = new_table(color);
    let mut header = vec!["ID", "Severity", "Location", "Title"];
    if reasons {
        header.push("Reason");
    }
    t.set_header(header);
    let mut ms = ms.to_vec();
    ms.sort_by(|a, b| {
        (&a.path, a.start_line, &a.check_id).cmp(&(&b.path, b.start_line, &b.check_id))
    });
    for m in ms {
        let loc = match m.start_line {
            Some(l) => format!("{}:{l}", m.path),
            None => m.path.clone(),
        };
        let mut row = vec![
            Cell::new(&m.check_id),
            severity_cell(m.severity, color),
            Cell::new(loc),
            Cell::new(&m.title),
        ];
        if reasons {
            row.push(Cell::new(m.suppressed.as_deref().unwrap_or("")));
        }
        t.add_row(row);
    }
    t
}

/// Secrets in report order; `reasons` adds the suppression column.
fn secret_table(ss: &[&SecretFinding], color: bool, reasons: bool) -> Table {
    let mut t = new_table(color);
    let mut header = vec!["Rule", "Severity", "Location", "Title", "Match"];
    if reasons {
        header.push("Reason");
    }
    t.set_header(header);
    for s in ss {
        let loc = match s.line {
            Some(l) => format!("{}:{l}", s.path),
            None => s.path.clone(),
        };
        let mut row = vec![
            Cell::new(&s.rule_id),
            severity_cell(s.severity, color),
            Cell::new(loc),
            Cell::new(&s.title),
            Cell::new(&s.redacted),
        ];
        if reasons {
            row.push(Cell::new(s.suppressed.as_deref().unwrap_or("")));
        }
        t.add_row(row);
    }
    t
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
    let mut t = new_table(false);
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
