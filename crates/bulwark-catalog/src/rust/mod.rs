//! Rust catalogers: `Cargo.lock` files (all lock-file versions) and binaries built with
//! `cargo auditable`, which embed their dependency list in a `.dep-v0` section.
//!
//! The executable cataloger registered here ([`exe::ExecutableCataloger`]) also reads Go
//! build info, so each executable is parsed once for both languages.

pub mod auditable;
pub mod cargo_lock;
pub mod exe;

use crate::Cataloger;

/// Every Rust cataloger.
pub fn catalogers() -> Vec<Box<dyn Cataloger>> {
    vec![
        Box::new(cargo_lock::CargoLockCataloger),
        Box::new(exe::ExecutableCataloger),
    ]
}

#[cfg(test)]
mod tests;
