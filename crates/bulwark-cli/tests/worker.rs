//! `bulwark worker` as a process: a job queued through `bulwark server`'s API is claimed
//! by a worker that is then `kill -9`ed mid-pull; after the lease runs out a second worker
//! claims it again and completes it, and the result is stored exactly once. On SQLite
//! (workers and server on one file) and on PostgreSQL. The same with `bulwark server`
//! running the job in its in-process worker and killed (SQLite): the restarted server
//! takes the job over.
//!
//! The pull is held mid-job deterministically: the image is referenced through a TCP
//! gate in front of the real registry (bulwark-testkit's `docker-registry`) that holds
//! every connection until the test opens it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../bulwark-server/tests/common/pg.rs"]
mod pg;

mod common;

use common::server::{agent, bulwark, free_port, write_pki, Proc};
use serde_json::Value;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A TCP gate to `upstream`: connections wait (unanswered) while it is shut, and are
/// relayed once it opens.
struct Gate {
    port: u16,
    open: Arc<AtomicBool>,
}

fn relay(mut from: TcpStream, mut to: TcpStream) {
    let mut buf = [0u8; 16384];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => {
                let _ = to.shutdown(std::net::Shutdown::Write);
                return;
            }
            Ok(n) => {
                if to.write_all(&buf[..n]).is_err() {
                    return;
                }
            }
        }
    }
}

fn gate(upstream: u16) -> Gate {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let open = Arc::new(AtomicBool::new(false));
    let o = open.clone();
    let held: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { continue };
            if !o.load(Ordering::SeqCst) {
                // Held: never answered (the caller's pull hangs here).
                held.lock().unwrap().push(conn);
                continue;
            }
            let Ok(up) = TcpStream::connect(("127.0.0.1", upstream)) else {
                continue;
            };
            let (c2, u2) = (conn.try_clone().unwrap(), up.try_clone().unwrap());
            std::thread::spawn(move || relay(conn, up));
            std::thread::spawn(move || relay(u2, c2));
        }
    });
    Gate { port, open }
}

fn get(a: &ureq::Agent, url: &str, token: &str) -> Value {
    let mut r = a
        .get(url)
        .header("Authorization", &format!("Bearer {token}"))
        .call()
        .unwrap();
    assert_eq!(r.status(), 200, "{url}");
    serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap()
}

fn worker(db: &str, dir: &Path, name: &str) -> Proc {
    Proc(
        bulwark()
            .args(["worker", "--database", db, "--log-format", "json"])
            .arg("--db")
            .arg(dir.join("vulndb"))
            .arg("--cache-dir")
            .arg(dir.join(format!("cache-{name}")))
            .args([
                "--registry-insecure",
                "--job-lease",
                "2",
                "--job-poll-ms",
                "100",
            ])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join(format!("log-{name}"))).unwrap())
            .spawn()
            .unwrap(),
    )
}

/// Who is killed mid-job.
#[derive(Clone, Copy)]
enum Victim {
    /// A `bulwark worker` process (the server only queues).
    Worker,
    /// `bulwark server` running the job in its in-process worker.
    Server,
}

fn kill_9_mid_job(dir: &Path, db: &str, victim: Victim) {
    let images = bulwark_fixtures::images_or_skip!();
    let Some(reg) = bulwark_testkit::Registry::start(bulwark_testkit::RegistryOptions::plain())
    else {
        return;
    };
    let out = bulwark()
        .arg("push")
        .arg(format!(
            "docker-archive:{}",
            images.join("base.docker.tar").display()
        ))
        .arg(format!("{}/kill9/base:1", reg.host()))
        .args(["--insecure"])
        .env("BULWARK_CACHE_DIR", dir.join("push-cache"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pushed = String::from_utf8(out.stdout).unwrap();
    let digest = pushed.trim().rsplit('@').next().unwrap().to_string();
    let g = gate(reg.port());

    let pki = write_pki(dir);
    let out = bulwark()
        .args([
            "server",
            "token",
            "create",
            "--database",
            db,
            "--role",
            "admin",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let admin = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let a = agent(&pki.0);
    // The server: with `Victim::Server` it runs the job itself (one in-process worker)
    // and is the one killed; else it only queues and the `bulwark worker`s run it.
    let start_server = |name: &str| -> (Proc, String) {
        let port = free_port();
        let log = dir.join(format!("log-server-{name}"));
        let mut cmd = bulwark();
        cmd.args(["server", "--database", db])
            .arg("--db")
            .arg(dir.join("vulndb"))
            .arg("--cert")
            .arg(&pki.1)
            .arg("--key")
            .arg(&pki.2)
            .args(["--listen", &format!("127.0.0.1:{port}")]);
        match victim {
            Victim::Worker => {
                cmd.args(["--workers", "0"]);
            }
            Victim::Server => {
                cmd.args(["--workers", "1", "--registry-insecure", "--job-lease", "2"])
                    .args(["--job-poll-ms", "100", "--cache-dir"])
                    .arg(dir.join(format!("cache-server-{name}")));
            }
        }
        let p = Proc(
            cmd.stdout(Stdio::null())
                .stderr(std::fs::File::create(&log).unwrap())
                .spawn()
                .unwrap(),
        );
        let base = format!("https://localhost:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        while !a
            .get(&format!("{base}/readyz"))
            .call()
            .is_ok_and(|r| r.status() == 200)
        {
            assert!(
                Instant::now() < deadline,
                "server not ready: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        (p, base)
    };
    let (mut server, mut base) = start_server("1");
    let body =
        serde_json::json!({"kind": "scan", "image": format!("127.0.0.1:{}/kill9/base:1", g.port)});
    let mut r = a
        .post(&format!("{base}/v1/jobs"))
        .header("Authorization", &format!("Bearer {admin}"))
        .header("Content-Type", "application/json")
        .send(serde_json::to_vec(&body).unwrap())
        .unwrap();
    assert_eq!(r.status(), 202);
    let job: Value = serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap();
    let id = job["id"].as_str().unwrap().to_string();

    // The first holder (worker A, or the server's own worker) claims the job and hangs
    // in the pull (the gate is shut): kill -9.
    let mut first = match victim {
        Victim::Worker => Some(worker(db, dir, "a")),
        Victim::Server => None,
    };
    let holder_pid = first.as_ref().map_or(server.0.id(), |p| p.0.id());
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let j = get(&a, &format!("{base}/v1/jobs/{id}"), &admin);
        if j["state"] == "running"
            && j["locked_by"]
                .as_str()
                .is_some_and(|w| w.contains(&format!(":{holder_pid}/")))
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the first holder never claimed the job: {j}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // Still running a renewal later: the lease is being renewed while it hangs.
    std::thread::sleep(Duration::from_millis(2500));
    let j = get(&a, &format!("{base}/v1/jobs/{id}"), &admin);
    assert_eq!(
        (j["state"].as_str(), j["attempts"].as_i64()),
        (Some("running"), Some(1)),
        "{j}"
    );
    let victim_proc = first.as_mut().unwrap_or(&mut server);
    victim_proc.0.kill().unwrap(); // SIGKILL
    victim_proc.0.wait().unwrap();
    g.open.store(true, Ordering::SeqCst);

    // The next holder takes it over once the lease has run out, and completes it.
    let _second = match victim {
        Victim::Worker => Some(worker(db, dir, "b")),
        Victim::Server => {
            let (s2, b2) = start_server("2");
            base = b2;
            Some(s2)
        }
    };
    let job_url = format!("{base}/v1/jobs/{id}");
    let deadline = Instant::now() + Duration::from_secs(180);
    let done = loop {
        let j = get(&a, &job_url, &admin);
        if j["state"] == "done" || j["state"] == "failed" {
            break j;
        }
        assert!(
            Instant::now() < deadline,
            "job not done: {j} {}",
            std::fs::read_to_string(dir.join("log-b")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(done["state"], "done", "{done}");
    assert_eq!(done["attempts"], 2, "{done}");
    assert_eq!(done["result"]["digest"], digest.as_str(), "{done}");
    // Stored once, completed once; claimed twice.
    let mut entries = Vec::new();
    let mut after = String::new();
    loop {
        let page = get(&a, &format!("{base}/v1/audit?limit=1000{after}"), &admin);
        entries.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next"].as_str() {
            Some(n) => after = format!("&after={n}"),
            None => break,
        }
    }
    let count = |action: &str| entries.iter().filter(|e| e["action"] == action).count();
    assert_eq!(count("job.claim"), 2);
    assert_eq!(count("job.done"), 1);
    assert_eq!(count("report.store"), 1);
    let img = get(&a, &format!("{base}/v1/images/{digest}/packages"), &admin);
    assert!(img["items"].as_array().unwrap().len() > 50);
    let out = bulwark()
        .args(["audit", "verify", "--database", db])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn kill_9_of_a_worker_mid_job_retries_it_and_stores_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite:{}", dir.path().join("inv.db").display());
    kill_9_mid_job(dir.path(), &db, Victim::Worker);
}

#[test]
fn kill_9_of_the_server_mid_job_retries_it_and_stores_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite:{}", dir.path().join("inv.db").display());
    kill_9_mid_job(dir.path(), &db, Victim::Server);
}

#[test]
fn kill_9_of_a_worker_mid_job_retries_it_and_stores_once_on_postgres() {
    let Some(cluster) = pg::PgCluster::shared() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let db = cluster.database("workerkill9");
    kill_9_mid_job(dir.path(), &db, Victim::Worker);
}
