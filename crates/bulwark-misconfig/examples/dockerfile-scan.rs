//! Scans Dockerfiles given on the command line and prints one JSON object per file
//! (`{"path": ..., "findings": [...]}` or `{"path": ..., "error": ...}`), for the
//! comparison benchmark in `bench/misconfig-vs-hadolint-trivy.py`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test may panic: that is its failure

use bulwark_misconfig::{scan_dockerfile, CheckSelection};

fn main() {
    let sel = CheckSelection::all();
    for path in std::env::args().skip(1) {
        let line = match std::fs::read(&path) {
            Err(e) => serde_json::json!({"path": path, "error": e.to_string()}),
            Ok(bytes) => match scan_dockerfile(&path, &bytes, &sel) {
                // As `bulwark config` shows by default: inline-suppressed findings left out.
                Ok(f) => {
                    let f: Vec<_> = f.into_iter().filter(|m| m.suppressed.is_none()).collect();
                    serde_json::json!({"path": path, "findings": f})
                }
                Err(e) => serde_json::json!({"path": path, "error": e.to_string()}),
            },
        };
        println!("{line}");
    }
}
