//! The skip/fail policy, checked by re-running this test binary with a chosen
//! environment: absent fixtures skip with a message in a plain run, and fail under
//! `BULWARK_REQUIRE_ALL=1` or `CI=true`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test may panic: that is its failure

use std::process::Command;

/// The probe: a test that needs the fixtures. Run directly (fixtures present) it checks
/// they are a directory; run by `policy` with `BULWARK_FIXTURES=/nonexistent` it skips or
/// fails.
#[test]
fn probe_needs_fixtures() {
    let fx = bulwark_fixtures::fixtures_or_skip!();
    assert!(fx.is_dir());
    // Only reached when present.
    println!("PROBE-RAN");
}

fn run_probe(envs: &[(&str, &str)]) -> (bool, String, String) {
    let exe = std::env::current_exe().expect("test binary");
    let mut cmd = Command::new(exe);
    cmd.args([
        "probe_needs_fixtures",
        "--exact",
        "--nocapture",
        "--test-threads=1",
    ])
    .env("BULWARK_FIXTURES", "/nonexistent/bulwark-fixtures")
    .env_remove("CI")
    .env_remove("BULWARK_REQUIRE_ALL");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let o = cmd.output().expect("run probe");
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn absent_fixtures_skip_in_a_plain_run() {
    let (ok, out, err) = run_probe(&[]);
    assert!(ok, "a plain run skips: {out}\n{err}");
    assert!(
        !out.contains("PROBE-RAN"),
        "the test body did not run: {out}"
    );
    assert!(err.contains("SKIPPING"), "{err}");
    assert!(err.contains("/nonexistent/bulwark-fixtures"), "{err}");
    assert!(
        err.contains("SOURCES.md"),
        "says where fixtures come from: {err}"
    );
    assert!(
        err.contains("git hash-object"),
        "says how to check them: {err}"
    );
}

#[test]
fn absent_fixtures_fail_in_ci() {
    for env in [("BULWARK_REQUIRE_ALL", "1"), ("CI", "true")] {
        let (ok, out, err) = run_probe(&[env]);
        assert!(!ok, "{env:?}: must fail, not skip: {out}\n{err}");
        assert!(err.contains("required (CI / BULWARK_REQUIRE_ALL)"), "{err}");
    }
}
