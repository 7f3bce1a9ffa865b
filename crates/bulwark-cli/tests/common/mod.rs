//! Running the `bulwark` binary in the CLI tests: a private cache, no inherited DB or
//! colour settings, and a chosen working directory (so no stray `.bulwarkignore` or
//! cache from the developer's machine leaks in).
#![allow(dead_code)] // each test binary uses its own subset

pub mod server;

use std::path::Path;
use std::process::{Command, Output};

/// Runs bulwark with `args` in `cwd`.
pub fn run_in(cwd: &Path, args: &[&str]) -> Output {
    let cache = tempfile::tempdir().expect("tempdir");
    Command::new(env!("CARGO_BIN_EXE_bulwark"))
        .args(args)
        .current_dir(cwd)
        .env_remove("BULWARK_DB")
        .env("NO_COLOR", "1")
        .env("BULWARK_CACHE_DIR", cache.path())
        .env("XDG_CACHE_HOME", cache.path())
        .output()
        .expect("run bulwark")
}

/// Runs bulwark with `args` in a fresh empty directory.
pub fn run(args: &[&str]) -> Output {
    let cwd = tempfile::tempdir().expect("tempdir");
    run_in(cwd.path(), args)
}

/// The command's stderr as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The package URLs of a JSON report's packages.
pub fn purls(report: &serde_json::Value) -> std::collections::BTreeSet<String> {
    report["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .map(|p| p["purl"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// A file or folder of the shared fixtures, as a string argument.
pub fn fixture(rel: &str) -> String {
    bulwark_fixtures::fixtures_location()
        .join(rel)
        .to_string_lossy()
        .into_owned()
}

/// The Sigstore conformance suite's `bundle-verify` cases.
pub fn conf() -> String {
    fixture("sigstore/conformance/bundle-verify")
}

/// Sigstore's production trusted root.
pub fn prod_root() -> String {
    fixture("sigstore/trusted-root/production/trusted_root.json")
}

/// The identity and issuer the conformance suite's keyless cases were signed with.
pub const CONFORMANCE_IDENTITY: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
pub const CONFORMANCE_ISSUER: &str = "https://token.actions.githubusercontent.com";
