//! `bulwark sensor --server` reporting where images run on its node, end to end with
//! the real things: a `bulwark server` (HTTPS, test CA; SQLite, and PostgreSQL on a
//! throwaway cluster), podman's API service on the test's own socket, the BPF sensor,
//! and containers of the test image. A container running before the sensor starts is
//! reported at start; one started later is reported soon after (the period is set to
//! 300 s, so only the sensor seeing the container start can bring it in time) and is
//! gone after it stops; the first stays, also when the runtime's API is gone and a
//! read fails (fail closed: nothing is sent then). The SQLite run uses a `sensor`
//! token, the PostgreSQL one an admin token (the reporter must then be named).
#![allow(clippy::unwrap_used, clippy::expect_used)]

/// The throwaway PostgreSQL cluster of the server crate's tests (std only).
#[path = "../../bulwark-server/tests/common/pg.rs"]
mod pg;

mod common;

use common::server::{agent, bulwark, free_port, token, write_pki, Proc};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const IMAGE: &str = "localhost/bulwark-test/debian-base:1";
const REPO: &str = "localhost/bulwark-test/debian-base";

/// Podman objects removed on drop (also when an assertion fails).
struct Cleanup(Vec<Vec<String>>);

impl Drop for Cleanup {
    fn drop(&mut self) {
        for args in self.0.iter().rev() {
            let _ = Command::new("podman").args(args).output();
        }
    }
}

fn podman(args: &[&str]) -> String {
    let o = Command::new("podman").args(args).output().unwrap();
    assert!(
        o.status.success(),
        "podman {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

/// Whether BPF and the test image are there (a skip, or a failure with
/// BULWARK_REQUIRE_ALL=1).
fn prerequisites() -> bool {
    if let Err(e) = bulwark_sensor::probe::preflight() {
        bulwark_fixtures::absent("BPF (root, BTF, tracefs)", &format!("{e}"));
        return false;
    }
    let has_image = Command::new("podman")
        .args(["image", "exists", IMAGE])
        .status()
        .is_ok_and(|s| s.success());
    if !has_image {
        bulwark_fixtures::absent("the podman test image", &bulwark_fixtures::images_message());
        return false;
    }
    true
}

#[test]
fn sensor_reports_its_containers_as_placements() {
    if !prerequisites() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let db = format!("sqlite:{}", d.path().join("inv.db").display());
    check(d.path(), &db, "lite", "sensor");
}

#[test]
fn sensor_reports_its_containers_as_placements_on_postgres() {
    if !prerequisites() {
        return;
    }
    // A skip without PostgreSQL, a failure with BULWARK_REQUIRE_ALL=1 (in `shared`).
    let Some(cluster) = pg::PgCluster::shared() else {
        return;
    };
    let d = tempfile::tempdir().unwrap();
    let db = cluster.database("splace");
    // With an admin token: the sensor names its reporter, which admin tokens must.
    check(d.path(), &db, "pg", "admin");
    // The rows are in PostgreSQL: the first container's, by the sensor, on its node.
    let rows = cluster.psql(
        "splace",
        "SELECT COUNT(*) FROM placements WHERE reporter = 'sensor' AND node = 'node-pg' AND cluster = 'ci'",
    );
    assert!(rows.trim().parse::<u64>().unwrap() >= 1, "{rows}");
}

/// The placements of `digest` on the server, as (namespace, kind, workload, container)
/// of this test's node and reporter `sensor`; every row of the node is checked for its
/// cluster, reporter and image reference.
fn placed(
    a: &ureq::Agent,
    base: &str,
    admin: &str,
    digest: &str,
    node: &str,
) -> Vec<(String, String, String, String)> {
    let r = a
        .get(&format!("{base}/v1/images/{digest}/placements"))
        .header("Authorization", &format!("Bearer {admin}"))
        .call()
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: serde_json::Value =
        serde_json::from_str(&r.into_body().read_to_string().unwrap()).unwrap();
    let mut out = Vec::new();
    for p in v["items"].as_array().unwrap() {
        if p["node"] != node {
            continue;
        }
        assert_eq!(p["reporter"], "sensor", "{p}");
        assert_eq!(p["cluster"], "ci", "{p}");
        assert_eq!(p["image_digest"], digest, "{p}");
        assert_eq!(p["image_ref"], IMAGE, "{p}");
        let s = |k: &str| p[k].as_str().unwrap().to_string();
        out.push((
            s("namespace"),
            s("workload_kind"),
            s("workload"),
            s("container"),
        ));
    }
    out
}

/// Polls until `want` holds of the node's placements (30 s deadline).
fn wait_until(
    what: &str,
    mut get: impl FnMut() -> Vec<(String, String, String, String)>,
    want: impl Fn(&[(String, String, String, String)]) -> bool,
) -> Vec<(String, String, String, String)> {
    let t0 = Instant::now();
    loop {
        let got = get();
        if want(&got) {
            return got;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "{what}: placements now {got:?}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn check(dir: &Path, db: &str, tag: &str, role: &str) {
    let pid = std::process::id();
    let node = format!("node-{tag}");
    // The image's repo digest, as the runtime records it.
    let digests: Vec<String> = serde_json::from_str(&podman(&[
        "image",
        "inspect",
        IMAGE,
        "--format",
        "{{json .RepoDigests}}",
    ]))
    .unwrap();
    let digest = digests
        .iter()
        .find_map(|d| d.strip_prefix(&format!("{REPO}@")))
        .expect("the test image has a repo digest")
        .to_string();

    // The server, with the image in its inventory (placements are read per image).
    let pki = write_pki(dir);
    let admin = token(db, "admin");
    let sensor_token = token(db, role);
    let token_file = dir.join("token");
    std::fs::write(&token_file, format!("{sensor_token}\n")).unwrap();
    let port = free_port();
    let log = std::fs::File::create(dir.join("server.log")).unwrap();
    let _server = Proc(
        bulwark()
            .args(["server", "--database", db, "--log-format", "json"])
            .arg("--db")
            .arg(dir.join("vulndb"))
            .arg("--cert")
            .arg(&pki.1)
            .arg("--key")
            .arg(&pki.2)
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    let base = format!("https://localhost:{port}");
    let a = agent(&pki.0);
    let t0 = Instant::now();
    while !a
        .get(&format!("{base}/readyz"))
        .call()
        .is_ok_and(|r| r.status() == 200)
    {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "server not ready: {}",
            std::fs::read_to_string(dir.join("server.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let report = serde_json::json!({
        "schema_version": 2, "tool": "bulwark test", "created_at": "2026-12-03T00:00:00Z",
        "target": {"name": IMAGE, "kind": "image", "image": {"id": digest, "layers": []}},
        "packages": []
    });
    let r = a
        .post(&format!("{base}/v1/reports?digest={digest}"))
        .header("Authorization", &format!("Bearer {admin}"))
        .header("Content-Type", "application/json")
        .send(serde_json::to_vec(&report).unwrap().as_slice())
        .unwrap();
    assert_eq!(
        r.status(),
        201,
        "{}",
        r.into_body().read_to_string().unwrap()
    );

    // podman's API on a socket of the test's own.
    let api = dir.join("api.sock");
    let svc = Proc(
        Command::new("podman")
            .args(["system", "service", "--time", "0"])
            .arg(format!("unix://{}", api.display()))
            .spawn()
            .unwrap(),
    );
    while !api.exists() {
        assert!(t0.elapsed() < Duration::from_secs(60), "podman service");
        std::thread::sleep(Duration::from_millis(100));
    }

    // A container running before the sensor starts: in namespace `shop` by label.
    let first = format!("splace-{tag}-first-{pid}");
    let pod = format!("splace-{tag}-pod-{pid}");
    let second = format!("splace-{tag}-second-{pid}");
    let third = format!("splace-{tag}-third-{pid}");
    let cleanup = Cleanup(vec![
        vec![
            "rm".into(),
            "-f".into(),
            "-t".into(),
            "0".into(),
            third.clone(),
        ],
        vec![
            "rm".into(),
            "-f".into(),
            "-t".into(),
            "0".into(),
            first.clone(),
        ],
        vec!["pod".into(), "rm".into(), "-f".into(), pod.clone()],
        vec![
            "rm".into(),
            "-f".into(),
            "-t".into(),
            "0".into(),
            second.clone(),
        ],
    ]);
    podman(&[
        "run",
        "-d",
        "--network",
        "none",
        "--name",
        &first,
        "--label",
        "bulwark.namespace=shop",
        IMAGE,
        "sleep",
        "600",
    ]);

    let ready = dir.join("ready");
    let sensor = bulwark()
        .args([
            "sensor",
            "--no-default-rules",
            "--containers-only",
            "--duration",
            "170",
            "--server",
            &base,
            "--node",
            &node,
            "--cluster",
            "ci",
            "--placements-every",
            "300s",
        ])
        .arg("--server-token-file")
        .arg(&token_file)
        .arg("--server-ca-file")
        .arg(&pki.0)
        .arg("--api-socket")
        .arg(&api)
        .arg("--ready-file")
        .arg(&ready)
        .arg("--output")
        .arg(dir.join("alerts.jsonl"))
        .stderr(std::fs::File::create(dir.join("sensor.log")).unwrap())
        .spawn()
        .unwrap();
    let mut sensor = Proc(sensor);
    let get = || placed(&a, &base, &admin, &digest, &node);
    let first_row = (
        "shop".to_string(),
        "Container".to_string(),
        first.clone(),
        first.clone(),
    );
    // Reported at start.
    wait_until("the container running at start", get, |p| {
        p.contains(&first_row)
    });
    while !ready.exists() {
        assert!(t0.elapsed() < Duration::from_secs(120), "sensor not ready");
        std::thread::sleep(Duration::from_millis(100));
    }
    // A container in a podman pod, started now: reported soon after (the period is
    // 300 s), as the pod's; the pod's infra container is not a placement.
    podman(&["pod", "create", "--network", "none", "--name", &pod]);
    podman(&[
        "run", "-d", "--pod", &pod, "--name", &second, IMAGE, "sleep", "600",
    ]);
    let started = Instant::now();
    let second_row = (
        "podman".to_string(),
        "Pod".to_string(),
        pod.clone(),
        second.clone(),
    );
    let got = wait_until("the container started later", get, |p| {
        p.contains(&second_row) && p.contains(&first_row)
    });
    let appeared = started.elapsed();
    assert!(
        got.iter().all(|r| !r.3.ends_with("-infra")),
        "infra container placed: {got:?}"
    );
    // Stopped: gone after the report that follows; the first container stays.
    podman(&["rm", "-f", "-t", "0", &second]);
    let stopped = Instant::now();
    wait_until("the stopped container gone", get, |p| {
        !p.contains(&second_row) && p.contains(&first_row)
    });
    // Figures for the docs (not asserted: timing depends on the machine).
    eprintln!(
        "[{tag}] started container placed after {:.1} s, removed one gone after {:.1} s",
        appeared.as_secs_f64(),
        stopped.elapsed().as_secs_f64()
    );
    // Fail closed: with the runtime's API gone, a container start makes the sensor
    // read again, the read fails, and nothing is sent — the node's rows stay as they
    // were (an empty complete report would have wiped them).
    drop(svc);
    podman(&[
        "run",
        "-d",
        "--network",
        "none",
        "--name",
        &third,
        IMAGE,
        "sleep",
        "600",
    ]);
    std::thread::sleep(Duration::from_secs(7));
    let got = get();
    assert!(got.contains(&first_row), "{got:?}");
    assert!(got.iter().all(|r| r.2 != third), "{got:?}");

    let _ = Command::new("kill")
        .args(["-TERM", &sensor.0.id().to_string()])
        .status();
    let st = sensor.0.wait().unwrap();
    let err = std::fs::read_to_string(dir.join("sensor.log")).unwrap();
    assert_eq!(st.code(), Some(0), "{err}");
    // At least the start report and the two after a container change; none refused.
    let summary = err
        .lines()
        .find(|l| l.contains("placement reports"))
        .unwrap_or_else(|| panic!("no placement summary: {err}"));
    let n: u64 = summary
        .split("placement reports ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{summary}"));
    assert!(n >= 3, "{summary}");
    let failed_reads: u64 = summary
        .split(" failed reads")
        .next()
        .and_then(|s| s.rsplit(' ').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{summary}"));
    // Retried with backoff (1 s doubling), not in a loop: a handful in these seconds.
    assert!((1..=20).contains(&failed_reads), "{summary}");
    eprintln!("[{tag}] {summary}");
    assert!(summary.contains(", 0 refused)"), "{summary}");
    drop(cleanup);
}
