//! Argument-to-library glue for commands that read a target.

use crate::TargetArgs;
use anyhow::{Context, Result};
use bulwark_catalog::pipeline::{sbom_report as build, ScanOptions};
use bulwark_core::Report;

/// Builds the package report for the target named in `args`.
pub fn sbom_report(args: &TargetArgs) -> Result<Report> {
    let opts = ScanOptions {
        platform: args.platform.clone(),
        insecure: args.insecure,
        cache_dir: args.cache_dir.clone(),
        max_layer_size: Some(args.max_layer_size),
        allow_unknown: args.allow_unknown,
    };
    build(&args.target, &opts).with_context(|| format!("reading {}", args.target))
}
