//! Argument-to-library glue for commands that read a target.

use crate::TargetArgs;
use anyhow::{Context, Result};
use bulwark_catalog::pipeline::{sbom_report as build, ScanOptions};
use bulwark_core::Report;

/// Builds the package report for the target named in `args`.
pub fn sbom_report(args: &TargetArgs) -> Result<Report> {
    let opts = ScanOptions {
        platform: args.platform.clone(),
        registry: registry_config(args)?,
        cache_dir: args.cache_dir.clone(),
        max_layer_size: Some(args.max_layer_size),
        allow_unknown: args.allow_unknown,
    };
    build(&args.target, &opts).with_context(|| format!("reading {}", args.target))
}

/// The registry transport and credentials for a command: `--insecure`, `--ca-file`, and
/// the environment read here, once, for the libraries (which never read it themselves):
/// `BULWARK_REGISTRY_TOKEN` (a ready bearer token) or `BULWARK_USERNAME` +
/// `BULWARK_PASSWORD` override the Docker config; `DOCKER_CONFIG` (else `HOME`) locates
/// the Docker CLI's `config.json`.
pub fn registry_config(args: &TargetArgs) -> Result<bulwark_image::registry::RegistryConfig> {
    registry_config_for(args.insecure, args.ca_file.clone())
}

/// [`registry_config`] from the two flags, for commands without [`TargetArgs`].
pub fn registry_config_for(
    insecure: bool,
    ca_file: Option<std::path::PathBuf>,
) -> Result<bulwark_image::registry::RegistryConfig> {
    use bulwark_image::registry::{docker_config_path, CredentialConfig, Credentials, Secret};
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let explicit = if let Some(t) = env("BULWARK_REGISTRY_TOKEN") {
        Some(Credentials::Bearer(Secret::new(t)))
    } else {
        match (env("BULWARK_USERNAME"), env("BULWARK_PASSWORD")) {
            (Some(username), Some(p)) => Some(Credentials::Basic {
                username,
                password: Secret::new(p),
            }),
            (Some(_), None) | (None, Some(_)) => {
                anyhow::bail!("set both BULWARK_USERNAME and BULWARK_PASSWORD, or neither")
            }
            (None, None) => None,
        }
    };
    if let Some(ca) = &ca_file {
        if !ca.is_file() {
            anyhow::bail!("--ca-file {}: no such file", ca.display());
        }
    }
    Ok(bulwark_image::registry::RegistryConfig {
        insecure,
        ca_file,
        credentials: CredentialConfig {
            explicit,
            docker_config: docker_config_path(
                std::env::var_os("DOCKER_CONFIG").as_deref(),
                std::env::var_os("HOME").as_deref(),
            ),
            helper_path: None,
        },
        ..Default::default()
    })
}
