//! Builds the engine for one command from its arguments and the environment.

use crate::TargetArgs;
use anyhow::{Context, Result};
use bulwark_engine::{Cancel, Engine, EngineConfig};
use std::path::PathBuf;

/// An engine configured from the target arguments; `db_dir` for commands that match.
pub fn build(args: &TargetArgs, db_dir: Option<PathBuf>) -> Result<Engine> {
    let mut cfg = EngineConfig::new(
        args.cache_dir
            .clone()
            .unwrap_or_else(crate::env::default_cache_dir),
    );
    cfg.db_dir = db_dir;
    cfg.registry = crate::env::registry_config(args)?;
    cfg.daemon_socket = crate::env::daemon_socket()?;
    cfg.max_layer_size = args.max_layer_size;
    cfg.layer_cache = !args.no_cache;
    Engine::new(cfg).context("starting the scan engine")
}

/// The cancellation token of this run: `--timeout` as its deadline.
pub fn cancel(args: &TargetArgs) -> Result<Cancel> {
    let c = Cancel::new();
    Ok(match &args.timeout {
        Some(t) => c.with_timeout(
            bulwark_engine::vuln::parse_duration(t)
                .map_err(|e| anyhow::anyhow!("--timeout: {e}"))?,
        ),
        None => c,
    })
}

/// The target request of these arguments.
pub fn target(args: &TargetArgs) -> bulwark_engine::TargetRequest {
    bulwark_engine::TargetRequest {
        target: args.target.clone(),
        platform: args.platform.clone(),
        allow_unknown: args.allow_unknown,
    }
}
