//! The layer-result cache, end to end on the real app image (`app.oci-dir` under
//! `BULWARK_TEST_IMAGES`): a warm cache gives the same report as a cold one, a second
//! image sharing layers skips their analysis (and reads nothing of them), damaged entries
//! are ignored and rebuilt, concurrent scans never corrupt an entry, and `bulwark cache
//! info|prune` report and remove what is there.
//!
//! The second image is built by each test in its own temporary directory: a copy of the
//! app image's OCI layout with one more manifest (the app's layers minus its top one,
//! plus a new generated top layer), so both images share seven layer blobs.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test may panic: that is its failure

use serde_json::Value;
use sha2::Digest as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const APP_REF: &str = "localhost/bulwark-test/app:1";
const SECOND_REF: &str = "localhost/bulwark-test/second:1";

fn osv() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/osv")
}

fn sha256_hex(b: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(b))
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read_dir") {
        let e = e.expect("entry");
        let dest = to.join(e.file_name());
        if e.file_type().expect("type").is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), &dest).expect("copy");
        }
    }
}

/// Copies the app image's layout into `dir/layout` and adds a second image sharing all
/// but the app's top layer. Returns the layout path and the shared layer digests.
fn two_images(images: &Path, dir: &Path) -> (PathBuf, Vec<String>, String) {
    let layout = dir.join("layout");
    copy_dir(&images.join("app.oci-dir"), &layout);
    let blobs = layout.join("blobs/sha256");
    let blob = |d: &str| blobs.join(d.trim_start_matches("sha256:"));
    let mut index: Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).expect("index"))
            .expect("index json");
    let mdigest = index["manifests"][0]["digest"]
        .as_str()
        .expect("manifest digest")
        .to_string();
    let mut manifest: Value =
        serde_json::from_slice(&std::fs::read(blob(&mdigest)).expect("manifest")).expect("json");
    let cdigest = manifest["config"]["digest"]
        .as_str()
        .expect("config digest")
        .to_string();
    let mut config: Value =
        serde_json::from_slice(&std::fs::read(blob(&cdigest)).expect("config")).expect("json");

    // A new top layer: a requirements file and a Dockerfile.
    let mut tar = tar::Builder::new(Vec::new());
    for (path, body) in [
        ("srv/second/requirements.txt", &b"requests==2.19.0\n"[..]),
        ("srv/second/Dockerfile", &b"FROM scratch\nUSER root\n"[..]),
    ] {
        let mut h = tar::Header::new_gnu();
        h.set_size(body.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        tar.append_data(&mut h, path, body).expect("tar");
    }
    let tar = tar.into_inner().expect("tar");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&tar).expect("gzip");
    let gz = gz.finish().expect("gzip");
    let layer_digest = format!("sha256:{}", sha256_hex(&gz));
    std::fs::write(blob(&layer_digest), &gz).expect("write layer");

    let layers = manifest["layers"].as_array_mut().expect("layers");
    layers.pop();
    let shared: Vec<String> = layers
        .iter()
        .filter_map(|l| l["digest"].as_str().map(str::to_string))
        .collect();
    layers.push(serde_json::json!({
        "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
        "digest": layer_digest,
        "size": gz.len(),
    }));
    let diff_ids = config["rootfs"]["diff_ids"]
        .as_array_mut()
        .expect("diff_ids");
    diff_ids.pop();
    diff_ids.push(Value::String(format!("sha256:{}", sha256_hex(&tar))));
    let config_bytes = serde_json::to_vec(&config).expect("config");
    let config_digest = format!("sha256:{}", sha256_hex(&config_bytes));
    std::fs::write(blob(&config_digest), &config_bytes).expect("write config");
    manifest["config"]["digest"] = Value::String(config_digest);
    manifest["config"]["size"] = Value::from(config_bytes.len());
    let manifest_bytes = serde_json::to_vec(&manifest).expect("manifest");
    let manifest_digest = format!("sha256:{}", sha256_hex(&manifest_bytes));
    std::fs::write(blob(&manifest_digest), &manifest_bytes).expect("write manifest");
    let manifests = index["manifests"].as_array_mut().expect("manifests");
    manifests.push(serde_json::json!({
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": manifest_digest,
        "size": manifest_bytes.len(),
        "annotations": {"org.opencontainers.image.ref.name": SECOND_REF},
    }));
    std::fs::write(
        layout.join("index.json"),
        serde_json::to_vec(&index).expect("index"),
    )
    .expect("write index");
    (layout, shared, layer_digest)
}

fn target(layout: &Path, reference: &str) -> String {
    format!("oci:{}:{reference}", layout.display())
}

/// `bulwark -v <args> --cache-dir CACHE`.
fn bulwark(args: &[&str], cache: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_bulwark"));
    c.arg("-v")
        .args(args)
        .arg("--cache-dir")
        .arg(cache)
        .env_remove("BULWARK_DB")
        .env_remove("BULWARK_LOG")
        .env("NO_COLOR", "1");
    c
}

fn ok(out: Output, what: &str) -> (String, String) {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{what} failed:\n{err}");
    (String::from_utf8_lossy(&out.stdout).into_owned(), err)
}

fn scan_args(t: &str) -> Vec<String> {
    [
        "scan",
        t,
        "--scanners",
        "vuln,secret,misconfig",
        "--format",
        "json",
        "--osv-dir",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([osv().display().to_string()])
    .collect()
}

fn run_scan(t: &str, cache: &Path, extra: &[&str]) -> (String, String) {
    let args = scan_args(t);
    let mut a: Vec<&str> = args.iter().map(String::as_str).collect();
    a.extend(extra);
    ok(
        bulwark(&a, cache).output().expect("run"),
        &format!("scan {t}"),
    )
}

fn run_sbom(t: &str, cache: &Path, extra: &[&str]) -> (String, String) {
    let mut a = vec!["sbom", t, "--format", "json"];
    a.extend(extra);
    ok(
        bulwark(&a, cache).output().expect("run"),
        &format!("sbom {t}"),
    )
}

/// The report text with the `created_at` value blanked: the one field allowed to differ.
fn without_timestamp(report: &str) -> String {
    let key = "\"created_at\":";
    let Some(at) = report.find(key) else {
        panic!("no created_at in report");
    };
    let rest = &report[at + key.len()..];
    let open = rest.find('"').expect("value start");
    let close = rest[open + 1..].find('"').expect("value end") + open + 1;
    format!(
        "{}{key}{}\"\"{}",
        &report[..at],
        &rest[..open],
        &rest[close + 1..]
    )
}

/// The `-v` counter line of a layer.
fn layer_line<'a>(err: &'a str, digest: &str) -> &'a str {
    err.lines()
        .find(|l| l.contains(&format!("layer {digest}: read")))
        .unwrap_or_else(|| panic!("no counter line for {digest} in:\n{err}"))
}

fn counter_lines(err: &str) -> Vec<&str> {
    err.lines()
        .filter(|l| l.contains("layer sha256:") && l.contains(": read "))
        .collect()
}

fn entries(cache: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(cache.join("layers")) else {
        return out;
    };
    for d in rd.flatten() {
        if d.file_name() == "stamps" {
            continue;
        }
        for e in std::fs::read_dir(d.path()).expect("read").flatten() {
            out.push(e.path());
        }
    }
    out.sort();
    out
}

/// A warm cache gives the byte-identical report (timestamp aside) for an SBOM and for a
/// full scan, and `--no-cache` neither reads nor writes it.
#[test]
fn warm_cache_reports_equal_cold_ones() {
    let images = bulwark_fixtures::images_or_skip!();
    let app = images.join("app.oci-dir").display().to_string();
    let cache = tempfile::tempdir().expect("tempdir");

    let (cold, err) = run_sbom(&app, cache.path(), &[]);
    assert!(
        counter_lines(&err)
            .iter()
            .all(|l| l.ends_with("layer cache: miss")),
        "{err}"
    );
    let (warm, err) = run_sbom(&app, cache.path(), &[]);
    let lines = counter_lines(&err);
    assert_eq!(lines.len(), 8, "{err}");
    for l in &lines {
        assert!(l.ends_with("layer cache: hit"), "{l}");
        assert!(l.contains("read 0 B, inflated 0 B, hashed 0 B"), "{l}");
    }
    assert_eq!(without_timestamp(&cold), without_timestamp(&warm));

    let (scan_cold, err) = run_scan(&app, cache.path(), &[]);
    assert!(
        counter_lines(&err)
            .iter()
            .all(|l| l.ends_with("layer cache: miss")),
        "another analyzer set is another key:\n{err}"
    );
    let (scan_warm, err) = run_scan(&app, cache.path(), &[]);
    assert!(
        counter_lines(&err)
            .iter()
            .all(|l| l.ends_with("layer cache: hit")),
        "{err}"
    );
    assert_eq!(without_timestamp(&scan_cold), without_timestamp(&scan_warm));
    let report: Value = serde_json::from_str(&scan_warm).expect("json");
    assert!(!report["packages"].as_array().expect("packages").is_empty());

    // --no-cache: same report, nothing read from or written to the cache.
    let before = entries(cache.path());
    let fresh = tempfile::tempdir().expect("tempdir");
    let (uncached, err) = run_scan(&app, fresh.path(), &["--no-cache"]);
    assert!(
        counter_lines(&err)
            .iter()
            .all(|l| l.ends_with("layer cache: off")),
        "{err}"
    );
    assert!(entries(fresh.path()).is_empty());
    assert_eq!(without_timestamp(&uncached), without_timestamp(&scan_warm));
    assert_eq!(before, entries(cache.path()));
}

/// A second image sharing seven layers with a scanned one: its warm scan reports a hit
/// for each shared layer and reads, inflates and hashes nothing of them (nor re-reads
/// them for link targets); its own new layer is a miss. The report equals an uncached
/// scan's.
#[test]
fn second_image_sharing_layers_skips_their_analysis() {
    let images = bulwark_fixtures::images_or_skip!();
    let tmp = tempfile::tempdir().expect("tempdir");
    let (layout, shared, new_layer) = two_images(&images, tmp.path());
    let cache = tempfile::tempdir().expect("tempdir");
    run_scan(&target(&layout, APP_REF), cache.path(), &[]);
    let second = target(&layout, SECOND_REF);
    let (warm, err) = run_scan(&second, cache.path(), &[]);
    for d in &shared {
        let l = layer_line(&err, d);
        assert!(l.ends_with("layer cache: hit"), "{l}");
        assert!(l.contains("read 0 B, inflated 0 B, hashed 0 B"), "{l}");
        assert!(
            l.contains("link-target pass: read 0 B, inflated 0 B"),
            "{l}"
        );
    }
    let l = layer_line(&err, &new_layer);
    assert!(l.ends_with("layer cache: miss"), "{l}");
    let size = std::fs::metadata(
        layout
            .join("blobs/sha256")
            .join(&new_layer["sha256:".len()..]),
    )
    .expect("blob")
    .len();
    assert!(
        l.contains(&format!("{new_layer}: read {size} B")),
        "the new layer is read: {l}"
    );
    let fresh = tempfile::tempdir().expect("tempdir");
    let (cold, _) = run_scan(&second, fresh.path(), &["--no-cache"]);
    assert_eq!(without_timestamp(&cold), without_timestamp(&warm));

    // The same image from a copy of the layout: no recorded stamp for those files, so
    // each blob is hashed (not inflated, not parsed) before its record is used.
    let copy = tmp.path().join("copy");
    copy_dir(&layout, &copy);
    let (hashed, err) = run_scan(&target(&copy, SECOND_REF), cache.path(), &[]);
    for d in shared.iter().chain([&new_layer]) {
        let l = layer_line(&err, d);
        assert!(l.ends_with("layer cache: hit (blob hashed only)"), "{l}");
        let size = std::fs::metadata(copy.join("blobs/sha256").join(&d["sha256:".len()..]))
            .expect("blob")
            .len();
        assert!(
            l.contains(&format!("read {size} B, inflated 0 B, hashed {size} B")),
            "{l}"
        );
    }
    // The report names the copy's path as its target; the rest is the same.
    assert_eq!(
        without_timestamp(&hashed).replace(&copy.display().to_string(), "LAYOUT"),
        without_timestamp(&cold).replace(&layout.display().to_string(), "LAYOUT")
    );
    let report: Value = serde_json::from_str(&warm).expect("json");
    let purls = report["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .filter_map(|p| p["purl"].as_str())
        .collect::<Vec<_>>();
    assert!(
        purls
            .iter()
            .any(|p| p.starts_with("pkg:pypi/requests@2.19.0")),
        "the new layer is analysed: {purls:?}"
    );
}

/// A flipped byte, a truncated entry and a garbage header are each ignored (a miss) and
/// rebuilt; the report is the cold one, and the next scan hits again.
#[test]
fn corrupt_entries_are_ignored_and_rebuilt() {
    let images = bulwark_fixtures::images_or_skip!();
    let app = images.join("app.oci-dir").display().to_string();
    let cache = tempfile::tempdir().expect("tempdir");
    let (cold, _) = run_scan(&app, cache.path(), &[]);
    let layer_entries: Vec<PathBuf> = entries(cache.path())
        .into_iter()
        .filter(|p| !p.to_string_lossy().contains(".links-"))
        .collect();
    assert!(layer_entries.len() >= 3, "{layer_entries:?}");
    let damaged = &layer_entries[..3];
    // Flip one byte in the body.
    let mut b = std::fs::read(&damaged[0]).expect("read");
    let mid = b.len() / 2 + 1;
    b[mid] ^= 0x20;
    std::fs::write(&damaged[0], &b).expect("write");
    // Truncate.
    let b = std::fs::read(&damaged[1]).expect("read");
    std::fs::write(&damaged[1], &b[..b.len() / 2]).expect("write");
    // Garbage.
    std::fs::write(&damaged[2], b"not an entry\n{}").expect("write");

    let (again, err) = run_scan(&app, cache.path(), &[]);
    assert_eq!(without_timestamp(&cold), without_timestamp(&again));
    let lines = counter_lines(&err);
    let misses = lines
        .iter()
        .filter(|l| l.ends_with("layer cache: miss"))
        .count();
    assert_eq!(misses, 3, "{err}");
    let (third, err) = run_scan(&app, cache.path(), &[]);
    assert!(
        counter_lines(&err)
            .iter()
            .all(|l| l.ends_with("layer cache: hit")),
        "rebuilt entries hit:\n{err}"
    );
    assert_eq!(without_timestamp(&cold), without_timestamp(&third));
}

/// Two processes scanning two images with shared layers into one empty cache at the same
/// time: both reports equal uncached ones, no temporary file is left, and every entry
/// then reads back whole (a third scan hits on every layer with the same report).
#[test]
fn concurrent_scans_never_corrupt_entries() {
    let images = bulwark_fixtures::images_or_skip!();
    let tmp = tempfile::tempdir().expect("tempdir");
    let (layout, _, _) = two_images(&images, tmp.path());
    let a = target(&layout, APP_REF);
    let b = target(&layout, SECOND_REF);
    let reference = |t: &str| {
        let fresh = tempfile::tempdir().expect("tempdir");
        without_timestamp(&run_scan(t, fresh.path(), &["--no-cache"]).0)
    };
    let (ref_a, ref_b) = (reference(&a), reference(&b));
    for round in 0..2 {
        let cache = tempfile::tempdir().expect("tempdir");
        let spawn = |t: &str| {
            let args = scan_args(t);
            let a: Vec<&str> = args.iter().map(String::as_str).collect();
            bulwark(&a, cache.path())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("spawn")
        };
        // Two of each image: four writers racing for the shared entries.
        let children = [spawn(&a), spawn(&b), spawn(&a), spawn(&b)];
        let outs: Vec<Output> = children
            .into_iter()
            .map(|c| c.wait_with_output().expect("wait"))
            .collect();
        for (i, out) in outs.into_iter().enumerate() {
            let (report, _) = ok(out, &format!("concurrent scan {i} (round {round})"));
            let want = if i % 2 == 0 { &ref_a } else { &ref_b };
            assert_eq!(&without_timestamp(&report), want, "scan {i} round {round}");
        }
        let leftovers: Vec<PathBuf> = entries(cache.path())
            .into_iter()
            .filter(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('.'))
            })
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
        let (third, err) = run_scan(&b, cache.path(), &[]);
        assert!(
            counter_lines(&err)
                .iter()
                .all(|l| l.ends_with("layer cache: hit")),
            "every entry reads back whole:\n{err}"
        );
        assert_eq!(without_timestamp(&third), ref_b);
    }
}

/// `bulwark cache info` counts what a scan left; `prune` by age keeps fresh entries, by
/// size removes them, `--all` empties the caches; bad arguments exit 2.
#[test]
fn cache_info_and_prune() {
    let images = bulwark_fixtures::images_or_skip!();
    let app = images.join("app.oci-dir").display().to_string();
    let cache = tempfile::tempdir().expect("tempdir");
    run_sbom(&app, cache.path(), &[]);
    let info = |cache: &Path| -> Value {
        let (out, _) = ok(
            bulwark(&["cache", "info", "--format", "json"], cache)
                .output()
                .expect("run"),
            "cache info",
        );
        serde_json::from_str(&out).expect("json")
    };
    let layer_kind = |v: &Value| -> (u64, u64) {
        let k = v["kinds"]
            .as_array()
            .expect("kinds")
            .iter()
            .find(|k| k["kind"] == "layer results")
            .cloned()
            .expect("layer results kind");
        (
            k["entries"].as_u64().expect("entries"),
            k["bytes"].as_u64().expect("bytes"),
        )
    };
    let v = info(cache.path());
    let (n, bytes) = layer_kind(&v);
    assert!(n >= 8, "{v}");
    assert!(bytes > 0, "{v}");
    let kinds: Vec<&str> = v["kinds"]
        .as_array()
        .expect("kinds")
        .iter()
        .filter_map(|k| k["kind"].as_str())
        .collect();
    assert_eq!(kinds, ["blobs", "daemon exports", "layer results"]);
    let (table, _) = ok(
        bulwark(&["cache", "info"], cache.path())
            .output()
            .expect("run"),
        "cache info",
    );
    assert!(table.contains("layer results"), "{table}");
    assert!(
        table.contains(&cache.path().display().to_string()),
        "{table}"
    );

    let (_, err) = ok(
        bulwark(&["cache", "prune", "--max-age", "1d"], cache.path())
            .output()
            .expect("run"),
        "prune by age",
    );
    assert!(err.contains("removed 0 file(s)"), "{err}");
    assert_eq!(layer_kind(&info(cache.path())).0, n);

    ok(
        bulwark(&["cache", "prune", "--max-size", "1K"], cache.path())
            .output()
            .expect("run"),
        "prune by size",
    );
    let (n2, bytes2) = layer_kind(&info(cache.path()));
    assert!(
        n2 < n && bytes2 <= 1024 + 4096,
        "{n2} entries, {bytes2} bytes"
    );

    ok(
        bulwark(&["cache", "prune", "--all"], cache.path())
            .output()
            .expect("run"),
        "prune --all",
    );
    assert_eq!(layer_kind(&info(cache.path())).0, 0);
    // The next scan rebuilds what it needs.
    let (_, err) = run_sbom(&app, cache.path(), &[]);
    assert!(
        counter_lines(&err)
            .iter()
            .all(|l| l.ends_with("layer cache: miss")),
        "{err}"
    );

    for bad in [
        vec!["cache", "prune"],
        vec!["cache", "prune", "--max-size", "5X"],
        vec!["cache", "prune", "--max-age", "soon"],
        vec!["cache", "prune", "--all", "--max-age", "1d"],
        vec!["cache", "info", "--format", "xml"],
    ] {
        let out = bulwark(&bad, cache.path()).output().expect("run");
        assert_eq!(out.status.code(), Some(2), "{bad:?}: {out:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("error"),
            "{bad:?}: {out:?}"
        );
    }
}
