//! `bulwark scan`: parses the arguments into a [`ScanRequest`], runs the engine (which
//! resolves the target, walks it once, matches, suppresses and computes the verdict),
//! prints the report and returns the verdict's exit code.

use crate::TargetArgs;
use anyhow::{Context, Result};
use bulwark_engine::{Gate, ScanRequest, Scanners, Suppression};
use bulwark_report::Format;
use clap::Args;
use std::path::PathBuf;

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
    /// Also attach the result to the image as a signed vulnerability attestation
    /// (cosign's vuln predicate, the JSON report as `scanner.result`; registry images
    /// and OCI layouts only). Needs --key.
    #[arg(long, requires = "key")]
    attest: bool,
    /// Private key for --attest (path, `file://PATH` or `env://NAME`).
    #[arg(long)]
    key: Option<String>,
    #[command(flatten)]
    upload: crate::cmd::server::UploadArgs,
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

/// Runs `bulwark scan`; returns the exit code.
pub fn run(args: ScanArgs) -> Result<u8> {
    let args = *args.inner;
    let format: Format = args
        .format
        .parse()
        .map_err(|e| anyhow::anyhow!("--format {}: {e}", args.format))?;
    let scanners = parse_scanners(&args.scanners)?;
    if args.attest {
        crate::cmd::cosign::check_attachable(&args.target.target)?;
    }
    let severities = crate::output::severities(&args.severity)?;
    let pkg_types = bulwark_engine::parse_pkg_types(&args.pkg_types).map_err(anyhow::Error::msg)?;
    let max_db_age = bulwark_engine::vuln::parse_duration(&args.max_db_age)
        .map_err(|e| anyhow::anyhow!("--max-db-age: {e}"))?;
    let cancel = crate::engine::cancel(&args.target)?;
    let server_token = crate::cmd::server::prepare_upload(&args.upload)?;

    // Inputs are read before the (possibly long) scan, so a typo fails fast.
    let ignore =
        bulwark_engine::load_ignore(args.ignorefile.as_deref()).map_err(anyhow::Error::msg)?;
    let vex = bulwark_engine::load_vex(&args.vex).map_err(anyhow::Error::msg)?;

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
    let db_dir = match (&throwaway, &args.db) {
        (Some(d), _) => Some(d.path().to_path_buf()),
        (None, Some(d)) => Some(d.clone()),
        (None, None) if scanners.vuln => Some(crate::env::db_dir(None)?),
        (None, None) => None,
    };
    let engine = crate::engine::build(&args.target, db_dir)?;
    let req = ScanRequest {
        target: crate::engine::target(&args.target),
        scanners,
        max_db_age: Some(max_db_age),
        secret_config: args.secret_config.clone(),
        checks: args.checks.clone(),
        pss_version: args.pss_version.clone(),
        custom_checks: args.custom_checks.clone(),
        suppression: Suppression {
            ignore,
            vex,
            show_suppressed: args.show_suppressed,
        },
        gate: Gate {
            severities,
            ignore_unfixed: args.ignore_unfixed,
            pkg_types,
            exit_code: args.exit_code,
            allow_incomplete: args.allow_incomplete,
        },
    };
    let started = now_rfc3339();
    let outcome = engine
        .scan(&req, &cancel)
        .with_context(|| format!("scanning {}", args.target.target))?;
    drop(throwaway);
    if let (true, Some(key)) = (args.attest, &args.key) {
        let mut buf = Vec::new();
        bulwark_report::write(&outcome.report, Format::Json, &mut buf)?;
        let result: serde_json::Value =
            serde_json::from_slice(&buf).context("the JSON report is not JSON")?;
        let predicate = serde_json::json!({
            "invocation": {"uri": "", "event_id": "", "builder.id": ""},
            "scanner": {
                "uri": "https://example.invalid/bulwark",
                "version": env!("CARGO_PKG_VERSION"),
                "result": result,
            },
            "metadata": {"scanStartedOn": started, "scanFinishedOn": now_rfc3339()},
        });
        crate::cmd::cosign::attach(
            &args.target,
            key,
            &crate::cmd::cosign::predicate_type("vuln", None)?,
            predicate,
            outcome
                .report
                .target
                .image
                .as_ref()
                .and_then(|i| i.manifest_digest.as_deref()),
        )?;
    }

    let code = crate::output::finish(
        &outcome,
        format,
        args.output.as_deref(),
        args.show_suppressed,
    )?;
    if let Some(token) = &server_token {
        crate::cmd::server::upload(
            &args.upload,
            token,
            args.target.ca_file.as_deref(),
            &outcome.report,
        )?;
    }
    Ok(code)
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
