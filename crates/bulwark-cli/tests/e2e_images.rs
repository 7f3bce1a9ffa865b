//! End-to-end: the `bulwark` binary on real images built by
//! `scripts/build-test-images.sh` (debootstrap Debian base + pip, npm, Go, jar, Rust
//! layers + a deleted package; an RPM image), cross-checked against Trivy 0.76 run on the
//! same image in the same test.
//!
//! Needs `BULWARK_TEST_IMAGES` (set by scripts/test.sh) and Trivy (`BULWARK_TRIVY`). A
//! missing prerequisite fails the test with the command to run: these tests must not
//! pass by skipping.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test may panic: that is its failure

use serde_json::Value;
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

fn images() -> PathBuf {
    bulwark_fixtures::images_location()
}

fn trivy() -> PathBuf {
    let t = std::env::var_os("BULWARK_TRIVY")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/opt/bench-venv/bin/trivy"));
    assert!(
        t.exists(),
        "Trivy missing at {}: run scripts/setup-test-env.sh",
        t.display()
    );
    t
}

/// Runs `bulwark sbom TARGET --format json` and returns the report.
pub fn bulwark_json(target: &str, extra: &[&str]) -> Value {
    let cache = tempfile::tempdir().expect("tempdir");
    let out = Command::new(env!("CARGO_BIN_EXE_bulwark"))
        .args(["sbom", target, "--format", "json", "--cache-dir"])
        .arg(cache.path())
        .args(extra)
        .output()
        .expect("run bulwark");
    assert!(
        out.status.success(),
        "bulwark sbom {target} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("bulwark JSON report")
}

/// (purl type, namespace/name, version) without qualifiers, for comparing tools.
fn purl_key(purl: &str) -> String {
    let p = purl.split(['?', '#']).next().unwrap_or(purl);
    p.replace("%40", "@").to_lowercase()
}

fn bulwark_purls(report: &Value) -> BTreeSet<String> {
    report["packages"]
        .as_array()
        .expect("packages array")
        .iter()
        .map(|p| purl_key(p["purl"].as_str().expect("purl")))
        .collect()
}

fn trivy_purls(input: &std::path::Path) -> BTreeSet<String> {
    let cache = tempfile::tempdir().expect("tempdir");
    let out_file = cache.path().join("trivy.cdx.json");
    let status = Command::new(trivy())
        .args(["image", "--input"])
        .arg(input)
        .arg("--cache-dir")
        .arg(cache.path().join("c"))
        .args([
            "--format",
            "cyclonedx",
            "--quiet",
            "--skip-db-update",
            "--offline-scan",
            "--skip-version-check",
            "--disable-telemetry",
            "--skip-files",
            "**/*.jar",
            "-o",
        ])
        .arg(&out_file)
        .status()
        .expect("run trivy");
    assert!(status.success(), "trivy failed on {}", input.display());
    let doc: Value =
        serde_json::from_slice(&std::fs::read(&out_file).expect("trivy output")).expect("json");
    doc["components"]
        .as_array()
        .expect("components")
        .iter()
        .filter_map(|c| c["purl"].as_str())
        .map(purl_key)
        .collect()
}

fn find<'a>(report: &'a Value, purl_prefix: &str) -> Vec<&'a Value> {
    report["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .filter(|p| {
            p["purl"]
                .as_str()
                .is_some_and(|s| purl_key(s).starts_with(purl_prefix))
        })
        .collect()
}

/// Everything Trivy reports (same purl type, name and version), the jars Trivy cannot
/// read offline, and not the package deleted in a later layer — for each on-disk format.
#[test]
fn app_image_superset_of_trivy_in_every_format() {
    let _images = bulwark_fixtures::images_or_skip!();
    let dir = images();
    let reference = trivy_purls(&dir.join("app.docker.tar"));
    assert!(
        reference.len() > 100,
        "Trivy found only {} packages",
        reference.len()
    );
    for target in [
        format!("{}", dir.join("app.docker.tar").display()),
        format!("oci-archive:{}", dir.join("app.oci.tar").display()),
        format!("{}", dir.join("app.oci.tar").display()),
        format!("{}", dir.join("app.oci-dir").display()),
    ] {
        let report = bulwark_json(&target, &[]);
        let ours = bulwark_purls(&report);
        let missing: Vec<_> = reference.difference(&ours).collect();
        assert!(
            missing.is_empty(),
            "{target}: missing vs Trivy: {missing:?}"
        );
        // No false positives: beyond Trivy's list there are exactly the jars Trivy cannot
        // read offline (it is run with --skip-files '**/*.jar'), at the versions the
        // build script installed. Anything else we report is not in the image.
        let extra: BTreeSet<String> = ours.difference(&reference).cloned().collect();
        let expected_extra: BTreeSet<String> = [
            "pkg:maven/org.apache.commons/commons-lang3@3.12.0",
            "pkg:maven/org.apache.logging.log4j/log4j-api@2.19.0",
            "pkg:maven/org.apache.logging.log4j/log4j-core@2.19.0",
        ]
        .into_iter()
        .map(String::from)
        .collect();
        assert_eq!(
            extra, expected_extra,
            "{target}: packages reported that Trivy does not see and that are not the known jars"
        );
        for jar in [
            "pkg:maven/org.apache.logging.log4j/log4j-core@",
            "pkg:maven/org.apache.logging.log4j/log4j-api@",
            "pkg:maven/org.apache.commons/commons-lang3@",
        ] {
            assert!(!find(&report, jar).is_empty(), "{target}: no {jar}");
        }
        assert!(
            find(&report, "pkg:pypi/six@").is_empty(),
            "{target}: six was deleted in a later layer but is reported"
        );
        assert_eq!(report["os"]["family"], "debian", "{target}");
    }
}

/// Each package remembers the layer that introduced it.
#[test]
fn packages_carry_their_layer() {
    let _images = bulwark_fixtures::images_or_skip!();
    let dir = images();
    let report = bulwark_json(&format!("{}", dir.join("app.docker.tar").display()), &[]);
    let layers: Vec<String> = report["target"]["image"]["layers"]
        .as_array()
        .expect("layers")
        .iter()
        .map(|l| l["digest"].as_str().expect("digest").to_string())
        .collect();
    assert!(layers.len() >= 7, "layers: {layers:?}");
    let layer_of = |prefix: &str| -> String {
        let p = find(&report, prefix);
        assert!(!p.is_empty(), "no {prefix}");
        p[0]["locations"][0]["layer_digest"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(layer_of("pkg:deb/debian/dpkg@"), layers[0]);
    assert_eq!(layer_of("pkg:pypi/requests@"), layers[1]);
    assert_eq!(layer_of("pkg:npm/lodash@"), layers[3]);
    assert_eq!(layer_of("pkg:golang/example.com/greet@"), layers[4]);
    assert_eq!(layer_of("pkg:cargo/itoa@"), layers[6]);
    let req = find(&report, "pkg:pypi/requests@");
    assert_eq!(
        req[0]["locations"][0]["path"],
        "/usr/local/lib/python3.11/site-packages/requests-2.31.0.dist-info/METADATA"
    );
}

/// An RPM image with a real rpmdb.sqlite: epochs and source RPMs.
#[test]
fn rpm_image_epochs_and_source_rpms() {
    let _images = bulwark_fixtures::images_or_skip!();
    let dir = images();
    let report = bulwark_json(&format!("{}", dir.join("rpm.docker.tar").display()), &[]);
    assert_eq!(report["os"]["family"], "rocky");
    let foo = find(&report, "pkg:rpm/rocky/libfoo@");
    assert_eq!(foo.len(), 1, "{report:#}");
    assert_eq!(foo[0]["version"], "2:1.0.2-7.el9");
    assert_eq!(foo[0]["epoch"], 2);
    assert_eq!(foo[0]["source"]["name"], "libfoo");
    assert!(foo[0]["purl"]
        .as_str()
        .is_some_and(|p| p.contains("epoch=2") && p.contains("distro=rocky-9.3")));
    let hello = find(&report, "pkg:rpm/rocky/hello@");
    assert_eq!(hello.len(), 1);
    assert_eq!(hello[0]["version"], "2.1-3.el9");
}

/// `-v` prints, per layer, the bytes read, inflated and hashed; a full scan of the app
/// image (vuln, secret, misconfig) reads, inflates and hashes each layer exactly once:
/// the figures equal each blob's size and its independently inflated size.
#[test]
fn full_scan_inflates_and_hashes_each_layer_once() {
    let _images = bulwark_fixtures::images_or_skip!();
    let dir = images().join("app.oci-dir");
    let index: Value =
        serde_json::from_slice(&std::fs::read(dir.join("index.json")).expect("index"))
            .expect("index json");
    let blob = |d: &str| {
        dir.join("blobs/sha256")
            .join(d.trim_start_matches("sha256:"))
    };
    let mdigest = index["manifests"][0]["digest"]
        .as_str()
        .expect("manifest digest");
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(blob(mdigest)).expect("manifest")).expect("json");
    let layers: Vec<String> = manifest["layers"]
        .as_array()
        .expect("layers")
        .iter()
        .filter_map(|l| l["digest"].as_str().map(str::to_string))
        .collect();
    let osv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/osv");
    let cache = tempfile::tempdir().expect("tempdir");
    let out = Command::new(env!("CARGO_BIN_EXE_bulwark"))
        .arg("-v")
        .args(["scan", &dir.display().to_string()])
        .args([
            "--scanners",
            "vuln,secret,misconfig",
            "--format",
            "json",
            "--osv-dir",
        ])
        .arg(&osv)
        .arg("--cache-dir")
        .arg(cache.path())
        .env("NO_COLOR", "1")
        .output()
        .expect("run bulwark");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let report: Value = serde_json::from_slice(&out.stdout).expect("report");
    assert!(!report["packages"].as_array().expect("packages").is_empty());
    let figures = |line: &str, word: &str| -> u64 {
        line.split(&format!("{word} "))
            .nth(1)
            .and_then(|r| r.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no {word} figure in {line}"))
    };
    for d in &layers {
        let line = err
            .lines()
            .find(|l| l.contains(&format!("layer {d}: read")))
            .unwrap_or_else(|| panic!("no counter line for {d} in:\n{err}"));
        let stored = std::fs::read(blob(d)).expect("blob");
        let mut inflated = Vec::new();
        std::io::Read::read_to_end(
            &mut flate2::read::MultiGzDecoder::new(&stored[..]),
            &mut inflated,
        )
        .expect("gunzip");
        assert_eq!(figures(line, "read"), stored.len() as u64, "{line}");
        assert_eq!(figures(line, "inflated"), inflated.len() as u64, "{line}");
        assert_eq!(figures(line, "hashed"), stored.len() as u64, "{line}");
        assert!(line.contains("in 1 pass(es)"), "{line}");
    }
    assert_eq!(
        err.lines()
            .filter(|l| l.contains(": read ") && l.contains("layer sha256:"))
            .count(),
        layers.len(),
        "one counter line per layer:\n{err}"
    );
}
