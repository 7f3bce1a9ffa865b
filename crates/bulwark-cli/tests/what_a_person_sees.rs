//! What a person sees (issue 11, item 7): no terminal injection from names and paths
//! that come from the target, and each cause of an error named once.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test may panic: that is its failure

mod common;

use common::{run, run_in, stderr};

const ESC_NAME: &str = "evil\u{1b}[2J\u{1b}]0;pwned\u{7}pkg";

fn lock_with(name: &str) -> String {
    serde_json::json!({
        "name": "app", "lockfileVersion": 3, "requires": true,
        "packages": {"": {"name": "app"}, (format!("node_modules/{name}")): {"version": "1.0.0"}}
    })
    .to_string()
}

fn assert_no_raw_controls(what: &str, s: &str) {
    assert!(
        !s.chars().any(|c| c.is_control() && c != '\n'),
        "{what} carries a raw control character: {s:?}"
    );
}

#[cfg(unix)]
#[test]
fn control_sequences_in_names_and_paths_are_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    // A directory whose name carries an ESC sequence, holding a lock file whose package
    // name carries a CSI clear-screen and an OSC title sequence.
    let evil_dir = root.join("app\u{1b}[31mred");
    std::fs::create_dir_all(&evil_dir).unwrap();
    std::fs::write(evil_dir.join("package-lock.json"), lock_with(ESC_NAME)).unwrap();
    // A malformed lock file under an ESC-named directory: its warning is printed.
    let bad_dir = root.join("bad\u{1b}]0;title\u{7}");
    std::fs::create_dir_all(&bad_dir).unwrap();
    std::fs::write(bad_dir.join("package-lock.json"), "{ not json").unwrap();
    let target = root.to_str().unwrap();

    let o = run(&["sbom", "-f", "table", target]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let table = String::from_utf8_lossy(&o.stdout);
    assert_no_raw_controls("table", &table);
    assert!(
        table.contains("evil\\x1b[2J\\x1b]0;pwned\\x07pkg"),
        "{table}"
    );
    assert!(
        table.contains("app\\x1b[31mred/package-lock.json"),
        "{table}"
    );
    let err = stderr(&o);
    assert_no_raw_controls("stderr", &err);
    assert!(
        err.contains("bad\\x1b]0;title\\x07/package-lock.json"),
        "{err}"
    );

    // The same through `scan` (table and logs).
    let osv = format!("{}/../../examples/osv", env!("CARGO_MANIFEST_DIR"));
    let o = run(&["scan", target, "--osv-dir", &osv]);
    assert_no_raw_controls("scan table", &String::from_utf8_lossy(&o.stdout));
    assert_no_raw_controls("scan stderr", &stderr(&o));

    // HTML: escaped, and no raw ESC either.
    let o = run(&["scan", target, "--osv-dir", &osv, "-f", "html"]);
    let html = String::from_utf8_lossy(&o.stdout);
    assert_no_raw_controls("html", &html);

    // JSON keeps the real name (it is data, and JSON escapes it as \u001b).
    let o = run(&["sbom", "-f", "json", target]);
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(r["packages"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["name"] == ESC_NAME));
}

#[test]
fn each_cause_is_named_once() {
    let o = run(&["sbom", "/nonexistent"]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        stderr(&o).trim_end(),
        "error: reading /nonexistent: No such file or directory (os error 2)"
    );

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.cdx.json"),
        r#"{"bomFormat":"CycloneDX","components":[{"#,
    )
    .unwrap();
    let o = run_in(dir.path(), &["sbom", "sbom:bad.cdx.json"]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert_eq!(err.matches("bad.cdx.json").count(), 1, "{err}");
    assert_eq!(err.matches("line 1").count(), 1, "{err}");
    assert!(
        err.starts_with(
            "error: reading sbom:bad.cdx.json: SBOM is not valid JSON at line 1, column "
        ),
        "{err}"
    );

    // A broken image archive: the file named once, what is wrong said once.
    std::fs::write(dir.path().join("img.tar"), b"not a tar at all").unwrap();
    let o = run_in(dir.path(), &["scan", "img.tar", "--scanners", "secret"]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert_eq!(err.matches("img.tar").count(), 1, "{err}");
    assert!(err.contains("not a readable container image"), "{err}");
}
