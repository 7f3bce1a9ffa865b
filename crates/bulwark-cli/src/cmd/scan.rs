//! `bulwark scan`: packages of a target matched against the vulnerability DB (and, with
//! `--scanners`, secrets and misconfigurations), filtered by severity, fix availability,
//! package class, the ignore file and VEX, written in the chosen format.

use crate::TargetArgs;
use anyhow::{Context, Result};
use bulwark_core::Severity;
use bulwark_report::filter::{self, FilterOptions, FilterReason, PkgClass};
use bulwark_report::ignore::IgnoreFile;
use bulwark_report::vex::VexDocument;
use bulwark_report::{Format, WriteOptions};
use bulwark_scan::{ScanOptions, Scanners};
use clap::Args;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

/// Default ignore file, read from the working directory when present.
const DEFAULT_IGNOREFILE: &str = ".bulwarkignore";

/// Arguments of `bulwark scan` (boxed: they are many, and the command enum should stay
/// small).
#[derive(Debug, Args)]
pub struct ScanArgs {
    #[command(flatten)]
    inner: Box<ScanFlags>,
}

/// The flags of `bulwark scan`.
#[derive(Debug, Args)]
struct ScanFlags {
    #[command(flatten)]
    target: TargetArgs,
    /// Scanners to run, comma-separated: vuln, secret, misconfig.
    #[arg(long, value_delimiter = ',', default_value = "vuln")]
    scanners: Vec<String>,
    /// Severities to report, comma-separated (UNKNOWN, LOW, MEDIUM, HIGH, CRITICAL);
    /// default: all.
    #[arg(long, value_delimiter = ',')]
    severity: Vec<String>,
    /// Drop vulnerabilities that have no fixed version.
    #[arg(long)]
    ignore_unfixed: bool,
    /// Exit with this code when an unsuppressed finding at the selected severities
    /// remains.
    #[arg(long, default_value_t = 0)]
    exit_code: u8,
    /// With --exit-code: gate only on what was checked, even when the scan is incomplete
    /// (unreadable package files, packages without an advisory source). By default an
    /// incomplete scan fails the gate.
    #[arg(long)]
    allow_incomplete: bool,
    /// Package classes whose vulnerabilities are reported: os, library (default both).
    #[arg(long, value_delimiter = ',')]
    pkg_types: Vec<String>,
    /// Ignore file (default: `.bulwarkignore` in the working directory, if present).
    #[arg(long)]
    ignorefile: Option<PathBuf>,
    /// VEX document (OpenVEX, CycloneDX VEX, CSAF); repeatable.
    #[arg(long)]
    vex: Vec<PathBuf>,
    /// Keep suppressed findings (ignore file, VEX, inline comments) in the output, marked
    /// with the reason; they never count towards totals or --exit-code.
    #[arg(long)]
    show_suppressed: bool,
    /// Output format: table, json, sarif, cyclonedx, html (or spdx).
    #[arg(short, long, default_value = "table")]
    format: String,
    /// Write to this file instead of standard output.
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Vulnerability DB directory.
    #[arg(long = "db", env = "BULWARK_DB")]
    db: Option<PathBuf>,
    /// Match against a throwaway DB built from these OSV files/directories/zips instead
    /// of the installed DB (offline demos and CI fixtures; repeatable). Conflicts with
    /// --db.
    #[arg(long, conflicts_with = "db")]
    osv_dir: Vec<PathBuf>,
    /// Warn when the DB is older than this (`7d`, `12h`).
    #[arg(long, default_value = "7d")]
    max_db_age: String,
    /// Secret scanner configuration file.
    #[arg(long)]
    secret_config: Option<PathBuf>,
    /// Misconfiguration checks to run (`all`, `pss-restricted`, check ids).
    #[arg(long)]
    checks: Option<String>,
    /// Pod Security Standards version (`v1.37`, `latest`).
    #[arg(long)]
    pss_version: Option<String>,
    /// Directory of custom Rego checks.
    #[arg(long)]
    custom_checks: Option<PathBuf>,
}

fn parse_scanners(list: &[String]) -> Result<Scanners> {
    let mut s = Scanners {
        vuln: false,
        secret: false,
        misconfig: false,
    };
    for item in list {
        match item.trim().to_ascii_lowercase().as_str() {
            "vuln" | "vulnerability" | "vulnerabilities" => s.vuln = true,
            "secret" | "secrets" => s.secret = true,
            "misconfig" | "misconfiguration" | "config" => s.misconfig = true,
            "" => {}
            other => anyhow::bail!(
                "--scanners: unknown scanner {other:?} (expected vuln, secret, misconfig)"
            ),
        }
    }
    if !(s.vuln || s.secret || s.misconfig) {
        anyhow::bail!("--scanners: choose at least one of vuln, secret, misconfig");
    }
    Ok(s)
}

fn parse_severities(list: &[String]) -> Result<Vec<Severity>> {
    list.iter()
        .filter(|s| !s.trim().is_empty())
        .map(|s| {
            s.trim()
                .parse::<Severity>()
                .map_err(|e| anyhow::anyhow!("--severity {s}: {e}"))
        })
        .collect()
}

fn parse_pkg_types(list: &[String]) -> Result<Vec<PkgClass>> {
    list.iter()
        .filter(|s| !s.trim().is_empty())
        .map(|s| {
            s.parse::<PkgClass>()
                .map_err(|e| anyhow::anyhow!("--pkg-types: {e}"))
        })
        .collect()
}

/// Whether the table may use colour: only on a terminal and never with `NO_COLOR` set.
fn use_color(output: Option<&Path>) -> bool {
    output.is_none()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        && std::io::stdout().is_terminal()
}

/// Runs `bulwark scan`; returns the exit code.
pub fn run(args: ScanArgs) -> Result<u8> {
    let args = *args.inner;
    let format: Format = args
        .format
        .parse()
        .map_err(|e| anyhow::anyhow!("--format {}: {e}", args.format))?;
    let scanners = parse_scanners(&args.scanners)?;
    let severities = parse_severities(&args.severity)?;
    let pkg_types = parse_pkg_types(&args.pkg_types)?;
    let max_db_age = bulwark_scan::vuln::parse_duration(&args.max_db_age)
        .map_err(|e| anyhow::anyhow!("--max-db-age: {e}"))?;

    // Inputs are read before the (possibly long) scan, so a typo fails fast.
    let ignore = match &args.ignorefile {
        Some(p) => {
            Some(IgnoreFile::load(p).with_context(|| format!("--ignorefile {}", p.display()))?)
        }
        None if Path::new(DEFAULT_IGNOREFILE).is_file() => Some(
            IgnoreFile::load(Path::new(DEFAULT_IGNOREFILE))
                .with_context(|| format!("reading {DEFAULT_IGNOREFILE}"))?,
        ),
        None => None,
    };
    let vex = args
        .vex
        .iter()
        .map(|p| VexDocument::load(p).with_context(|| format!("--vex {}", p.display())))
        .collect::<Result<Vec<_>>>()?;

    // `--osv-dir`: build a DB in a temporary directory that is removed when the scan
    // ends, so the demo never touches the user's DB.
    let throwaway = if args.osv_dir.is_empty() || !scanners.vuln {
        None
    } else {
        let dir = tempfile::Builder::new()
            .prefix("bulwark-osv-")
            .tempdir()
            .context("creating a temporary DB directory")?;
        let stats = bulwark_vulndb::import_paths(
            dir.path(),
            &args.osv_dir,
            &bulwark_vulndb::ImportOptions::default(),
        )
        .context("importing --osv-dir")?;
        for e in &stats.errors {
            tracing::warn!("--osv-dir: {e}");
        }
        tracing::info!("--osv-dir: imported {} records", stats.records);
        Some(dir)
    };

    let opts = ScanOptions {
        target: bulwark_catalog::pipeline::ScanOptions {
            platform: args.target.platform.clone(),
            registry: crate::pipeline::registry_config(&args.target)?,
            cache_dir: args.target.cache_dir.clone(),
            max_layer_size: Some(args.target.max_layer_size),
            allow_unknown: args.target.allow_unknown,
        },
        scanners,
        db_dir: throwaway
            .as_ref()
            .map(|d| d.path().to_path_buf())
            .or_else(|| args.db.clone()),
        max_db_age: Some(max_db_age),
        secret_config: args.secret_config.clone(),
        checks: args.checks.clone(),
        pss_version: args.pss_version.clone(),
        custom_checks: args.custom_checks.clone(),
    };
    let mut report = bulwark_scan::scan(&args.target.target, &opts)
        .with_context(|| format!("scanning {}", args.target.target))?;
    drop(throwaway);

    let mut fopts = FilterOptions::new(time::OffsetDateTime::now_utc().date());
    fopts.severities = severities;
    fopts.ignore_unfixed = args.ignore_unfixed;
    fopts.pkg_types = pkg_types;
    fopts.ignore = ignore;
    fopts.vex = vex;
    fopts.show_suppressed = args.show_suppressed;
    let summary = filter::apply(&mut report, &fopts);
    for w in &summary.warnings {
        report.warnings.push(bulwark_core::Warning {
            path: None,
            layer: None,
            message: w.clone(),
        });
    }
    crate::log_report_problems(&report);
    let ignored = summary.count(FilterReason::Ignored);
    let vexed = summary.count(FilterReason::Vex);
    if ignored + vexed > 0 {
        let verb = if args.show_suppressed {
            "marked suppressed"
        } else {
            "suppressed (--show-suppressed to list them)"
        };
        tracing::warn!(
            "{} finding(s) {verb}: {ignored} by the ignore file, {vexed} by VEX",
            ignored + vexed
        );
    }

    let wopts = WriteOptions {
        color: use_color(args.output.as_deref()),
    };
    crate::write_output(args.output.as_deref(), |w| {
        bulwark_report::write_with(&report, format, &wopts, w).map_err(anyhow::Error::from)
    })?;
    // The report now only holds the selected severities, so any remaining unsuppressed
    // finding counts.
    let v = filter::verdict(
        &report,
        Severity::Unknown,
        i32::from(args.exit_code),
        args.allow_incomplete,
    );
    if let (Some(why), true) = (&v.reason, v.incomplete) {
        tracing::error!("failing the --exit-code gate: {why}");
    }
    Ok(u8::try_from(v.code).unwrap_or(args.exit_code))
}
