//! `bulwark scan`.

use anyhow::Result;
use clap::Args;

/// Arguments of `bulwark scan`.
#[derive(Debug, Args)]
pub struct ScanArgs {}

/// Runs `bulwark scan`; returns the exit code.
pub fn run(_args: ScanArgs) -> Result<u8> {
    anyhow::bail!("bulwark scan is not implemented yet")
}
