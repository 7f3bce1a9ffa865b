//! `bulwark server` as a process: `server token create` offline, HTTPS with a test CA,
//! `bulwark scan --server` uploading an engine report of a real test image, `kill -9`
//! right after acknowledged uploads losing nothing, SIGTERM stopping cleanly, and
//! `bulwark audit verify|export`; on PostgreSQL, the same `kill -9` check and two
//! server replicas writing to one database at once.

#![allow(clippy::unwrap_used, clippy::expect_used)]

/// The throwaway PostgreSQL cluster of the server crate's tests (std only).
#[path = "../../bulwark-server/tests/common/pg.rs"]
mod pg;

mod common;

use common::server::{agent, bulwark, free_port, token, write_pki};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(db: &str, pki: &(PathBuf, PathBuf, PathBuf), port: u16, log: &Path) -> Server {
    start_with(db, pki, port, log, &[])
}

/// [`start`] with more flags. The vulnerability DB is the test's own (`vulndb` beside
/// the log), never the user's cache.
fn start_with(
    db: &str,
    pki: &(PathBuf, PathBuf, PathBuf),
    port: u16,
    log: &Path,
    extra: &[&str],
) -> Server {
    let vulndb = log.parent().unwrap().join("vulndb");
    let child = bulwark()
        .args(["server", "--database", db, "--log-format", "json"])
        .arg("--db")
        .arg(&vulndb)
        .args(extra)
        .arg("--cert")
        .arg(&pki.1)
        .arg("--key")
        .arg(&pki.2)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .unwrap();
    let s = Server {
        child,
        base: format!("https://localhost:{port}"),
    };
    wait_ready(s, &pki.0, log)
}

/// Waits until the server answers `/readyz` with 200.
fn wait_ready(s: Server, ca: &Path, log: &Path) -> Server {
    let a = agent(ca);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(r) = a.get(&format!("{}/readyz", s.base)).call() {
            if r.status() == 200 {
                return s;
            }
        }
        assert!(
            Instant::now() < deadline,
            "server did not get ready: {}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn report_json(digest: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "schema_version": 2, "tool": "bulwark test", "created_at": "2026-12-02T00:00:00Z",
        "target": {"name": "t", "kind": "image", "image": {"id": digest, "layers": []}},
        "packages": [{"name": "p", "version": "1", "ecosystem": "npm", "purl": "pkg:npm/p@1",
                      "locations": [], "found_by": "npm-lock"}]
    }))
    .unwrap()
}

#[test]
fn kill_9_after_acknowledged_uploads_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite:{}", dir.path().join("inv.db").display());
    kill_9_check(dir.path(), &db);
}

#[test]
fn kill_9_after_acknowledged_uploads_loses_nothing_on_postgres() {
    // A skip without PostgreSQL, a failure with BULWARK_REQUIRE_ALL=1 (in `shared`).
    let Some(cluster) = pg::PgCluster::shared() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let db = cluster.database("kill9");
    kill_9_check(dir.path(), &db);
    // The acknowledged uploads are rows in PostgreSQL, not only answers.
    assert_eq!(cluster.psql("kill9", "SELECT COUNT(*) FROM images"), "40");
}

/// 40 acknowledged uploads, `kill -9`, restart: every one is there and the audit
/// chain verifies.
fn kill_9_check(dir: &Path, db: &str) {
    let db = db.to_string();
    let pki = write_pki(dir);
    let admin = token(&db, "admin");
    let port = free_port();
    let mut server = start(&db, &pki, port, &dir.join("log1"));
    // 8 concurrent uploaders, 5 uploads each; every 201 is an acknowledgement.
    let acked: Vec<String> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..8)
            .map(|t| {
                let (base, admin, ca) = (&server.base, &admin, &pki.0);
                s.spawn(move || {
                    let a = agent(ca);
                    let mut ok = Vec::new();
                    for i in 0..5 {
                        let d = format!("sha256:{:064x}", t * 100 + i);
                        let r = a
                            .post(&format!("{base}/v1/reports"))
                            .header("Authorization", &format!("Bearer {admin}"))
                            .header("Content-Type", "application/json")
                            .send(&report_json(&d)[..])
                            .unwrap();
                        assert_eq!(r.status(), 201);
                        ok.push(d);
                    }
                    ok
                })
            })
            .collect();
        hs.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(acked.len(), 40);
    // kill -9 the moment the last acknowledgement arrived.
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    drop(server);

    let server = start(&db, &pki, free_port(), &dir.join("log2"));
    let a = agent(&pki.0);
    for d in &acked {
        let r = a
            .get(&format!("{}/v1/images/{d}", server.base))
            .header("Authorization", &format!("Bearer {admin}"))
            .call()
            .unwrap();
        assert_eq!(r.status(), 200, "{d} lost after kill -9");
    }
    drop(server);
    let out = bulwark()
        .args(["audit", "verify", "--database", &db])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn scan_uploads_to_the_server_and_sigterm_stops_it() {
    let Some(images) = bulwark_fixtures::images() else {
        bulwark_fixtures::absent("test images", &bulwark_fixtures::images_message());
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let pki = write_pki(dir.path());
    let db = format!("sqlite:{}", dir.path().join("inv.db").display());
    let uploader = token(&db, "ci-uploader");
    let reader = token(&db, "security");
    let log = dir.path().join("log");
    let mut server = start(&db, &pki, free_port(), &log);
    let osv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/osv");
    let cache = tempfile::tempdir().unwrap();
    let out_file = dir.path().join("report.json");
    let out = bulwark()
        .arg("scan")
        .arg(images.join("app.docker.tar"))
        .args(["--format", "json", "-o"])
        .arg(&out_file)
        .arg("--osv-dir")
        .arg(&osv)
        .arg("--cache-dir")
        .arg(cache.path())
        .args(["--server", &server.base, "--server-token-env", "MY_TOKEN"])
        .arg("--server-ca-file")
        .arg(&pki.0)
        .env("MY_TOKEN", &uploader)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.code() == Some(0), "{err}");
    assert!(err.contains("uploaded to"), "{err}");
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&out_file).unwrap()).unwrap();
    let image = &report["target"]["image"];
    let digest = image["manifest_digest"]
        .as_str()
        .or(image["id"].as_str())
        .unwrap()
        .to_string();
    let a = agent(&pki.0);
    let get = |path: &str| -> serde_json::Value {
        let mut r = a
            .get(&format!("{}{path}", server.base))
            .header("Authorization", &format!("Bearer {reader}"))
            .call()
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
        serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap()
    };
    let pk = get(&format!("/v1/images/{digest}/packages"));
    let listed = pk["items"].as_array().unwrap().len();
    let in_report: usize = report["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["locations"].as_array().map_or(1, |l| l.len().max(1)))
        .sum();
    assert_eq!(listed, in_report);
    let f = get(&format!("/v1/images/{digest}/findings"));
    let vulns = report["vulnerabilities"].as_array().map_or(0, |v| v.len());
    assert!(f["items"].as_array().unwrap().len() <= vulns);
    assert_eq!(f["items"].as_array().unwrap().is_empty(), vulns == 0);
    let img = get(&format!("/v1/images/{digest}"));
    let layers = image["layers"].as_array().unwrap().len();
    assert!(img["layers"].as_array().unwrap().len() >= layers);

    // A missing token fails before scanning, with exit 2.
    let out = bulwark()
        .arg("scan")
        .arg(images.join("app.docker.tar"))
        .args([
            "--server",
            &server.base,
            "--server-token-env",
            "NO_SUCH_VAR_X",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("NO_SUCH_VAR_X"));

    // SIGTERM: the server stops by itself, exit 0, and logs JSON lines.
    let pid = server.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(s) = server.child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "server ignored SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success());
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(lines.iter().any(|l| l["message"] == "SIGTERM received"));
    assert!(
        !text.contains(&uploader[21..]),
        "a token secret reached the log"
    );

    // The audit log exports as JSON lines and verifies.
    let out = bulwark()
        .args(["audit", "export", "--database", &db])
        .output()
        .unwrap();
    assert!(out.status.success());
    let entries: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(entries.iter().any(|e| e["action"] == "report.store"));
    assert!(entries.iter().any(|e| e["action"] == "token.create"));
    let out = bulwark()
        .args(["audit", "verify", "--database", &db])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    // Tamper with one entry: verify says so, exit 1.
    let c = rusqlite_free_edit(&db);
    assert!(c);
    let out = bulwark()
        .args(["audit", "verify", "--database", &db])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// Edits audit entry 2 behind the log's back, through the store's own connection (the
/// CLI crate has no rusqlite dependency of its own).
fn rusqlite_free_edit(db: &str) -> bool {
    let url: bulwark_server::DatabaseUrl = db.parse().unwrap();
    let store = bulwark_server::Store::open(&url).unwrap();
    store
        .write_blocking(|c| {
            c.execute(
                "UPDATE audit_log SET actor = 'mallory' WHERE seq = 2",
                bulwark_server::params![],
            )?;
            Ok(())
        })
        .unwrap();
    true
}

#[test]
fn insecure_http_is_refused_off_loopback_and_bad_flags_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite:{}", dir.path().join("x.db").display());
    let out = bulwark()
        .args([
            "server",
            "--database",
            &db,
            "--insecure-http",
            "--listen",
            "0.0.0.0:0",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("loopback"));
    let out = bulwark()
        .args(["server", "--database", "postgres://x/y", "--insecure-http"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = bulwark()
        .args([
            "server",
            "token",
            "create",
            "--database",
            &db,
            "--role",
            "developer",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("team"));
}

/// One HTTP request read from a plain TCP connection (the webhook receiver below):
/// headers (lower-case names) and body.
fn read_request(
    stream: &mut std::net::TcpStream,
) -> (std::collections::BTreeMap<String, String>, Vec<u8>) {
    use std::io::Read;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let n = stream.read(&mut chunk).unwrap();
        assert!(n > 0, "connection closed before the headers ended");
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let headers: std::collections::BTreeMap<String, String> = head
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let len: usize = headers["content-length"].parse().unwrap();
    let mut body = buf[head_end..].to_vec();
    while body.len() < len {
        let n = stream.read(&mut chunk).unwrap();
        assert!(n > 0);
        body.extend_from_slice(&chunk[..n]);
    }
    (headers, body)
}

#[test]
fn kill_9_between_enqueue_and_delivery_delivers_after_restart() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let pki = write_pki(dir.path());
    let db = format!("sqlite:{}", dir.path().join("inv.db").display());
    let admin = token(&db, "admin");
    let hook_port = free_port(); // nothing listens there until after the kill
    let mut server = start_with(
        &db,
        &pki,
        free_port(),
        &dir.path().join("log1"),
        &["--db-poll-ms", "100"],
    );
    let a = agent(&pki.0);
    let post = |base: &str, path: &str, body: serde_json::Value| {
        let mut r = a
            .post(&format!("{base}{path}"))
            .header("Authorization", &format!("Bearer {admin}"))
            .header("Content-Type", "application/json")
            .send(&serde_json::to_vec(&body).unwrap()[..])
            .unwrap();
        let status = r.status().as_u16();
        let v: serde_json::Value =
            serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap();
        assert_eq!(status, 201, "{path}: {v}");
        v
    };
    let osv = |id: &str, name: &str| {
        serde_json::json!({"id": id, "modified": "2026-12-01T00:00:00Z",
            "affected": [{"package": {"ecosystem": "npm", "name": name},
                "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "2.0.0"}]}]}]})
    };
    post(&server.base, "/v1/vulndb/osv", osv("TEST-0", "unused"));
    let d = format!("sha256:{:064x}", 7);
    let mut report: serde_json::Value = serde_json::from_slice(&report_json(&d)).unwrap();
    report["packages"][0]["version"] = "1.0.0".into();
    report["packages"][0]["purl"] = "pkg:npm/p@1.0.0".into();
    post(&server.base, &format!("/v1/reports?digest={d}"), report);
    let secret = "kill-nine-secret-0123456789";
    post(
        &server.base,
        "/v1/webhooks",
        serde_json::json!({"url": format!("http://127.0.0.1:{hook_port}/hook"), "secret": secret}),
    );
    // The delta names package p (in the report): one event, one delivery queued.
    let out = post(&server.base, "/v1/vulndb/osv", osv("TEST-P", "p"));
    assert_eq!(out["rematch"]["events"]["newly_affected"], 1, "{out}");
    assert_eq!(out["rematch"]["queued"], 1, "{out}");
    // kill -9 with the delivery enqueued and not delivered (the receiver is down).
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    drop(server);

    let listener = std::net::TcpListener::bind(("127.0.0.1", hook_port)).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        let got = read_request(&mut conn);
        conn.write_all(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")
            .unwrap();
        let _ = tx.send(got);
    });
    let _server = start_with(
        &db,
        &pki,
        free_port(),
        &dir.path().join("log2"),
        &["--db-poll-ms", "100"],
    );
    let (headers, body) = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the queued delivery after the restart");
    assert_eq!(
        headers["x-bulwark-signature-256"],
        bulwark_server::webhooks::signature(secret.as_bytes(), &body)
    );
    let event: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(event["kind"], "newly_affected");
    assert_eq!(event["image"]["digest"], d.as_str());
    assert_eq!(event["package"]["name"], "p");
}

/// Spawns a server without waiting for it (two replicas start together, racing on the
/// migrations).
fn spawn_server(
    db: &str,
    pki: &(PathBuf, PathBuf, PathBuf),
    port: u16,
    dir: &Path,
    name: &str,
) -> Server {
    let vulndb = dir.join(format!("vulndb-{name}"));
    let child = bulwark()
        .args(["server", "--database", db, "--log-format", "json"])
        .arg("--db")
        .arg(&vulndb)
        .arg("--cert")
        .arg(&pki.1)
        .arg("--key")
        .arg(&pki.2)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join(format!("log-{name}"))).unwrap())
        .spawn()
        .unwrap();
    Server {
        child,
        base: format!("https://localhost:{port}"),
    }
}

#[test]
fn two_replicas_on_one_postgres_database_lose_no_write_and_keep_one_audit_chain() {
    let Some(cluster) = pg::PgCluster::shared() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let pki = write_pki(dir);
    let db = cluster.database("replicas");
    // Both replicas start at once on an empty database: the migrations run once, under
    // the advisory lock, and neither fails.
    let a = spawn_server(&db, &pki, free_port(), dir, "a");
    let b = spawn_server(&db, &pki, free_port(), dir, "b");
    let a = wait_ready(a, &pki.0, &dir.join("log-a"));
    let b = wait_ready(b, &pki.0, &dir.join("log-b"));
    assert_eq!(
        cluster.psql(
            "replicas",
            "SELECT string_agg(version::text, ',' ORDER BY version) FROM schema_migrations"
        ),
        bulwark_server::store::MIGRATIONS
            .iter()
            .map(|m| m.0.to_string())
            .collect::<Vec<_>>()
            .join(",")
    );
    let admin = token(&db, "admin");

    // 4 writers per replica, each alternating uploads, token creations and reads (every
    // request is an audit entry): all of it concurrently on one database.
    const PER_WRITER: usize = 6;
    let results: Vec<(Vec<String>, Vec<String>)> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..8)
            .map(|t| {
                let base = if t % 2 == 0 { &a.base } else { &b.base };
                let (admin, ca) = (&admin, &pki.0);
                s.spawn(move || {
                    let ag = agent(ca);
                    let (mut images, mut tokens) = (Vec::new(), Vec::new());
                    for i in 0..PER_WRITER {
                        let d = format!("sha256:{:064x}", 0xbeef_0000 + t * 1000 + i);
                        let r = ag
                            .post(&format!("{base}/v1/reports"))
                            .header("Authorization", &format!("Bearer {admin}"))
                            .header("Content-Type", "application/json")
                            .send(&report_json(&d)[..])
                            .unwrap();
                        assert_eq!(r.status(), 201, "upload {d} via {base}");
                        images.push(d);
                        let name = format!("w{t}-{i}");
                        let mut r = ag
                            .post(&format!("{base}/v1/tokens"))
                            .header("Authorization", &format!("Bearer {admin}"))
                            .header("Content-Type", "application/json")
                            .send(
                                &serde_json::to_vec(
                                    &serde_json::json!({"name": name, "role": "auditor"}),
                                )
                                .unwrap()[..],
                            )
                            .unwrap();
                        assert_eq!(r.status(), 201, "token {name} via {base}");
                        let v: serde_json::Value =
                            serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap();
                        tokens.push(v["details"]["id"].as_str().unwrap().to_string());
                        let r = ag
                            .get(&format!("{base}/v1/images"))
                            .header("Authorization", &format!("Bearer {admin}"))
                            .call()
                            .unwrap();
                        assert_eq!(r.status(), 200);
                    }
                    (images, tokens)
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let images: Vec<String> = results.iter().flat_map(|r| r.0.clone()).collect();
    let tokens: Vec<String> = results.iter().flat_map(|r| r.1.clone()).collect();
    assert_eq!(images.len(), 8 * PER_WRITER);
    assert_eq!(tokens.len(), 8 * PER_WRITER);

    // No write lost: each replica sees every image and every token, whichever replica
    // took it.
    let ag = agent(&pki.0);
    for base in [&a.base, &b.base] {
        for d in &images {
            let r = ag
                .get(&format!("{base}/v1/images/{d}"))
                .header("Authorization", &format!("Bearer {admin}"))
                .call()
                .unwrap();
            assert_eq!(r.status(), 200, "{d} missing on {base}");
        }
        let mut r = ag
            .get(&format!("{base}/v1/tokens"))
            .header("Authorization", &format!("Bearer {admin}"))
            .call()
            .unwrap();
        let v: serde_json::Value =
            serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap();
        let listed: Vec<&str> = v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["id"].as_str().unwrap())
            .collect();
        for t in &tokens {
            assert!(listed.contains(&t.as_str()), "token {t} missing on {base}");
        }
    }
    // One audit entry per acknowledged mutation, in one gap-free chain.
    let q = |sql: &str| cluster.psql("replicas", sql);
    assert_eq!(
        q("SELECT COUNT(*) FROM audit_log WHERE action = 'report.store'"),
        images.len().to_string()
    );
    assert_eq!(
        q("SELECT COUNT(*) FROM audit_log WHERE action = 'token.create' AND actor <> 'cli'"),
        tokens.len().to_string()
    );
    assert_eq!(
        q("SELECT COUNT(*) = MAX(seq) AND MIN(seq) = 1 FROM audit_log"),
        "t"
    );
    drop((a, b));
    let out = bulwark()
        .args(["audit", "verify", "--database", &db])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("intact"));
}

/// `bulwark verify … --server` and `verify-attestation … --server` put what they
/// checked into the image's inventory entry: verified signatures, and a failed one
/// (another key) replacing the same reporter's earlier view.
#[test]
fn verify_reports_signatures_to_the_server() {
    let Some(images) = bulwark_fixtures::images() else {
        bulwark_fixtures::absent("test images", &bulwark_fixtures::images_message());
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let pki = write_pki(d);
    let db = format!("sqlite:{}", d.join("inv.db").display());
    let ci = token(&db, "ci-uploader");
    let reader = token(&db, "security");
    let log = d.join("log");
    let server = start(&db, &pki, free_port(), &log);
    // An OCI layout of the app image, signed with a fresh key.
    let layout = d.join("layout");
    std::fs::create_dir_all(layout.join("blobs/sha256")).unwrap();
    let from = images.join("app.oci-dir");
    for f in ["oci-layout", "index.json"] {
        std::fs::copy(from.join(f), layout.join(f)).unwrap();
    }
    for e in std::fs::read_dir(from.join("blobs/sha256"))
        .unwrap()
        .flatten()
    {
        std::fs::copy(e.path(), layout.join("blobs/sha256").join(e.file_name())).unwrap();
    }
    let target = format!("oci:{}", layout.display());
    let run = |args: &[&str]| {
        let o = bulwark()
            .current_dir(d)
            .args(args)
            .env("BULWARK_SERVER_TOKEN", &ci)
            .env("COSIGN_PASSWORD", "")
            .output()
            .unwrap();
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    for p in ["k", "other"] {
        assert_eq!(run(&["key", "generate", "--output-prefix", p]).0, Some(0));
    }
    assert_eq!(run(&["sign", "--key", "k.key", &target]).0, Some(0));
    let ca = pki.0.to_str().unwrap();
    // Not in the inventory yet: the report is refused (404), and verify says so (exit 2).
    let (code, err) = run(&[
        "verify",
        "--key",
        "k.pub",
        "--server",
        &server.base,
        "--server-ca-file",
        ca,
        &target,
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("404") || err.contains("no such image"),
        "{err}"
    );
    let cache = tempfile::tempdir().unwrap();
    let osv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/osv");
    let (code, err) = run(&[
        "scan",
        &target,
        "--format",
        "json",
        "-o",
        "r.json",
        "--osv-dir",
        osv.to_str().unwrap(),
        "--cache-dir",
        cache.path().to_str().unwrap(),
        "--server",
        &server.base,
        "--server-ca-file",
        ca,
    ]);
    assert_eq!(code, Some(0), "{err}");
    let (code, err) = run(&[
        "verify",
        "--key",
        "k.pub",
        "--server",
        &server.base,
        "--server-ca-file",
        ca,
        &target,
    ]);
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("reported to"), "{err}");
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("r.json")).unwrap()).unwrap();
    let digest = report["target"]["image"]["manifest_digest"]
        .as_str()
        .unwrap()
        .to_string();
    let a = agent(&pki.0);
    let get = || -> Vec<serde_json::Value> {
        let mut r = a
            .get(&format!("{}/v1/images/{digest}/signatures", server.base))
            .header("Authorization", &format!("Bearer {reader}"))
            .call()
            .unwrap();
        let v: serde_json::Value =
            serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap();
        v["items"].as_array().unwrap().clone()
    };
    let items = get();
    assert!(
        !items.is_empty()
            && items
                .iter()
                .all(|i| i["verified"] == true && i["kind"] == "signature"),
        "{items:?}"
    );
    // Verified against another key: exit 1, and the inventory now says not verified.
    let (code, err) = run(&[
        "verify",
        "--key",
        "other.pub",
        "--server",
        &server.base,
        "--server-ca-file",
        ca,
        &target,
    ]);
    assert_eq!(code, Some(1), "{err}");
    let items = get();
    assert!(
        !items.is_empty() && items.iter().all(|i| i["verified"] == false),
        "{items:?}"
    );
}
