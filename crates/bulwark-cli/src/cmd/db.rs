//! `bulwark db`.

use anyhow::Result;
use clap::Args;

/// Arguments of `bulwark db`.
#[derive(Debug, Args)]
pub struct DbArgs {}

/// Runs `bulwark db`; returns the exit code.
pub fn run(_args: DbArgs) -> Result<u8> {
    anyhow::bail!("bulwark db is not implemented yet")
}
