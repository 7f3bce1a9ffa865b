//! Rust catalogers: `Cargo.lock` files (all lock-file versions) and binaries built with
//! `cargo auditable`, which embed their dependency list in a `.dep-v0` section.

pub mod auditable;
pub mod cargo_lock;
pub mod exe;

use crate::Cataloger;

/// Every Rust cataloger.
pub fn catalogers() -> Vec<Box<dyn Cataloger>> {
    vec![
        Box::new(cargo_lock::CargoLockCataloger),
        Box::new(auditable::CargoAuditableCataloger),
    ]
}

#[cfg(test)]
mod tests;
