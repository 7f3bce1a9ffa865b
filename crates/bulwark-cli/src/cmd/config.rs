//! `bulwark config`.

use anyhow::Result;
use clap::Args;

/// Arguments of `bulwark config`.
#[derive(Debug, Args)]
pub struct ConfigArgs {}

/// Runs `bulwark config`; returns the exit code.
pub fn run(_args: ConfigArgs) -> Result<u8> {
    anyhow::bail!("bulwark config is not implemented yet")
}
