//! Go catalogers: build information embedded in Go binaries (`go-binary`) and `go.mod`
//! manifests (`go-mod`). Package names are module paths; versions keep Go's `v` prefix,
//! and the toolchain is reported as the package `stdlib` with version `v1.X.Y`, the
//! spelling Trivy uses.
//!
//! Go binaries are cataloged by [`crate::rust::exe::ExecutableCataloger`], which parses
//! every executable once and asks this module's [`binary`] reader as well as the
//! cargo-auditable one; only `go-mod` is registered here.

pub mod binary;
pub mod gomod;

use crate::Cataloger;

/// Every Go cataloger.
pub fn catalogers() -> Vec<Box<dyn Cataloger>> {
    vec![Box::new(gomod::GoModCataloger)]
}

#[cfg(test)]
mod tests;
