//! `bulwark config`: misconfiguration checks of Dockerfiles, Kubernetes manifests
//! (multi-document, `List`, Helm-rendered output) and Compose files given as files or
//! found in directories. Findings go through the usual filters (severity,
//! `.bulwarkignore`) and writers; malformed files become warnings and never change the
//! exit code, while unusable arguments (a path that does not exist) exit 2.

use anyhow::{Context, Result};
use bulwark_engine::{Cancel, ConfigRequest, Engine, EngineConfig, Gate, Suppression};
use clap::Args;
use std::path::PathBuf;

/// Arguments of `bulwark config`.
#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// Files and directories to check (directories are walked).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Checks to run: sets (`pss-baseline`, `pss-restricted`, `cis-docker`, `cis-k8s`,
    /// `nsa`, `dockerfile`, `compose`, `all`) and/or check ids, comma-separated.
    #[arg(long, default_value = "all")]
    pub checks: String,
    /// Pod Security Standards version (`v1.30`, `latest`).
    #[arg(long, default_value = "latest")]
    pub pss_version: String,
    /// Directory of custom Rego checks (see docs/custom-checks.md).
    #[arg(long)]
    pub custom_checks: Option<PathBuf>,
    #[command(flatten)]
    pub report: crate::output::CheckReportArgs,
}

/// Runs `bulwark config`; returns the exit code.
pub fn run(args: ConfigArgs) -> Result<u8> {
    let format = args.report.check_format("config")?;
    let severities = crate::output::severities(&args.report.severity)?;
    let ignore = bulwark_engine::load_ignore(args.report.ignorefile.as_deref())
        .map_err(anyhow::Error::msg)?;
    // Only local files are read: no cache, DB or registry is needed.
    let engine = Engine::new(EngineConfig::new(crate::env::default_cache_dir()))
        .context("starting the scan engine")?;
    let req = ConfigRequest {
        paths: args.paths.clone(),
        checks: Some(args.checks.clone()),
        pss_version: Some(args.pss_version.clone()),
        custom_checks: args.custom_checks.clone(),
        suppression: Suppression {
            ignore,
            vex: Vec::new(),
            show_suppressed: args.report.show_suppressed,
        },
        gate: Gate {
            severities,
            exit_code: args.report.exit_code,
            ..Gate::default()
        },
    };
    let outcome = engine.check_config(&req, &Cancel::new())?;
    // Suppressed findings shown with --show-suppressed do not fail the run.
    crate::output::finish(
        &outcome,
        format,
        args.report.output.as_deref(),
        args.report.show_suppressed,
    )
}
