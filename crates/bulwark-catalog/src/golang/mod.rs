//! Go catalogers: build information embedded in Go binaries (`go-binary`) and `go.mod`
//! manifests (`go-mod`). Package names are module paths; versions keep Go's `v` prefix,
//! and the toolchain is reported as the package `stdlib` with version `v1.X.Y`, the
//! spelling Trivy uses.

pub mod binary;
pub mod gomod;

use crate::Cataloger;

/// Every Go cataloger.
pub fn catalogers() -> Vec<Box<dyn Cataloger>> {
    vec![
        Box::new(binary::GoBinaryCataloger),
        Box::new(gomod::GoModCataloger),
    ]
}

#[cfg(test)]
mod tests;
