//! Test-only helper: the ONE place bulwark's tests find their external inputs — the
//! shared real-world fixtures, the real test images, and external tools — and the one
//! policy for when they are absent.
//!
//! * Fixtures: `BULWARK_FIXTURES`, else `../shared/fixtures` next to the workspace.
//! * Test images: `BULWARK_TEST_IMAGES`, else `target/test-images` in the workspace
//!   (built by `scripts/build-test-images.sh`; needs root, podman and debootstrap).
//!
//! When an input is absent a test **skips**: it returns early after one message on
//! stderr (once per test binary) saying what is missing and where it comes from, so a
//! plain `cargo test --workspace` on a fresh clone passes on what it can check. In CI
//! (`CI` set to `true`/`1`, or `BULWARK_REQUIRE_ALL=1`, which `scripts/test.sh` sets) an
//! absent input is a **failure** instead: the full suite must never pass by skipping.
//!
//! Usage, at the top of a test:
//! ```ignore
//! let fx = bulwark_fixtures::fixtures_or_skip!();
//! let images = bulwark_fixtures::images_or_skip!();
//! ```

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Once;

/// The workspace root (two levels above this crate).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."))
}

/// Whether absent inputs must fail rather than skip: `CI=true|1` or
/// `BULWARK_REQUIRE_ALL=1`.
pub fn require_all() -> bool {
    let on = |k: &str| {
        std::env::var(k)
            .map(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "1" | "true" | "yes"))
            .unwrap_or(false)
    };
    on("CI") || on("BULWARK_REQUIRE_ALL")
}

/// Where the fixtures would be: `BULWARK_FIXTURES` if set (even when it does not exist),
/// else `../shared/fixtures` beside the workspace.
pub fn fixtures_location() -> PathBuf {
    match std::env::var_os("BULWARK_FIXTURES").filter(|v| !v.is_empty()) {
        Some(d) => PathBuf::from(d),
        None => workspace_root().join("../shared/fixtures"),
    }
}

/// The fixtures directory when it exists.
pub fn fixtures() -> Option<PathBuf> {
    let d = fixtures_location();
    d.is_dir().then_some(d)
}

/// Where the test images would be: `BULWARK_TEST_IMAGES` if set, else
/// `target/test-images` in the workspace.
pub fn images_location() -> PathBuf {
    match std::env::var_os("BULWARK_TEST_IMAGES").filter(|v| !v.is_empty()) {
        Some(d) => PathBuf::from(d),
        None => workspace_root().join("target/test-images"),
    }
}

/// The test-images directory when the images have been built (it holds
/// `app.docker.tar`).
pub fn images() -> Option<PathBuf> {
    let d = images_location();
    d.join("app.docker.tar").is_file().then_some(d)
}

/// What to tell the user about absent fixtures.
pub fn fixtures_message() -> String {
    format!(
        "test fixtures not found at {} (set BULWARK_FIXTURES=DIR, or put them at ../shared/fixtures beside the workspace). \
         They are files from upstream projects (aquasecurity/trivy, anchore/syft, knqyf263/go-rpmdb, ...) at the repositories and commits \
         listed per file in the fixtures' SOURCES.md; each file can be checked against its source by git blob id \
         (`git hash-object FILE` equals `git rev-parse COMMIT:PATH` in the upstream repository).",
        fixtures_location().display()
    )
}

/// What to tell the user about absent test images.
pub fn images_message() -> String {
    format!(
        "test images not found at {} (set BULWARK_TEST_IMAGES=DIR). Build them with scripts/build-test-images.sh \
         (needs root, podman and debootstrap; scripts/test.sh does it).",
        images_location().display()
    )
}

/// Reports an absent input: panics when [`require_all`], else prints `message` once per
/// test binary (straight to stderr, so it shows even for passing tests) and returns, for
/// the caller to skip.
pub fn absent(what: &str, message: &str) {
    if require_all() {
        panic!("{what} required (CI / BULWARK_REQUIRE_ALL): {message}");
    }
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = writeln!(
            std::io::stderr(),
            "bulwark tests: SKIPPING tests that need {what}: {message} \
             (set BULWARK_REQUIRE_ALL=1 to make this a failure)"
        );
    });
}

/// Evaluates to the fixtures directory, or skips the calling test (returns `()` from it)
/// when absent — failing instead under [`require_all`].
#[macro_export]
macro_rules! fixtures_or_skip {
    () => {
        match $crate::fixtures() {
            Some(d) => d,
            None => {
                $crate::absent("the shared fixtures", &$crate::fixtures_message());
                return;
            }
        }
    };
}

/// Evaluates to the test-images directory, or skips the calling test when the images
/// have not been built — failing instead under [`require_all`].
#[macro_export]
macro_rules! images_or_skip {
    () => {
        match $crate::images() {
            Some(d) => d,
            None => {
                $crate::absent("the real test images", &$crate::images_message());
                return;
            }
        }
    };
}

/// Evaluates to `path` when that file exists, or skips the calling test — failing
/// instead under [`require_all`]. `how` says how to get it.
#[macro_export]
macro_rules! tool_or_skip {
    ($path:expr, $how:expr) => {{
        let p: ::std::path::PathBuf = ::std::path::PathBuf::from($path);
        if !p.exists() {
            $crate::absent(
                &format!("{}", p.display()),
                &format!("{} not found: {}", p.display(), $how),
            );
            return;
        }
        p
    }};
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_follow_the_environment() {
        // Read-only checks: the environment is shared by parallel tests, so nothing is
        // set here; the defaults are derived from the workspace.
        if std::env::var_os("BULWARK_FIXTURES").is_none() {
            assert!(fixtures_location().ends_with("shared/fixtures"));
        }
        if std::env::var_os("BULWARK_TEST_IMAGES").is_none() {
            assert!(images_location().ends_with("target/test-images"));
        }
        assert!(workspace_root().join("Cargo.toml").is_file());
        assert!(fixtures_message().contains("SOURCES.md"));
        assert!(images_message().contains("build-test-images.sh"));
    }
}
