//! docker-compose checks.
use crate::check::{CheckMeta, CheckSelection};
use crate::MisconfigError;
use bulwark_core::Misconfiguration;
/// Every compose check.
pub const CHECKS: &[CheckMeta] = &[];
/// Options.
#[derive(Debug, Clone, Default)]
pub struct ComposeOptions {
    /// Which checks run.
    pub sets: CheckSelection,
}
/// Scans.
pub fn scan_compose(
    _path: &str,
    _bytes: &[u8],
    _opts: &ComposeOptions,
) -> Result<Vec<Misconfiguration>, MisconfigError> {
    Ok(vec![])
}
