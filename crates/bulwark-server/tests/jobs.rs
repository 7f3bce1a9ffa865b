//! Server-side pull-and-scan jobs: `POST /v1/jobs` → an in-process worker pulls the real
//! test images from a real registry on loopback (bulwark-testkit's `docker-registry`),
//! scans them with the engine and stores the reports through the upload path; the second
//! image, built on the first, takes its base layer from the layer-result cache in the
//! store. Then the queue itself: a dead worker's job is reclaimed after its lease and
//! completed once; the last attempt's expiry fails the job; two claimers on one database
//! never take the same job. Runs on SQLite, and on PostgreSQL with
//! `BULWARK_TEST_BACKEND=postgres`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test may panic: that is its failure

mod common;

use bulwark_image::registry::{Reference, RegistryConfig, Repository};
use bulwark_server::jobs::WorkerConfig;
use bulwark_server::store::jobs as q;
use bulwark_server::Store;
use common::{TestDb, TestServer};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

/// Pushes a docker-archive to `host/repo:tag`; returns the manifest digest.
fn push(host: &str, archive: &Path, repo: &str, tag: &str, cache: &Path) -> String {
    let cfg = RegistryConfig {
        insecure: true,
        ..Default::default()
    };
    let opts = bulwark_image::OpenOptions {
        platform: None,
        cache_dir: cache.to_path_buf(),
        registry: cfg.clone(),
        daemon_socket: None,
        cancel: bulwark_image::Cancel::default(),
    };
    let image = match bulwark_image::open(&format!("docker-archive:{}", archive.display()), &opts)
        .unwrap()
    {
        bulwark_image::Target::Image(i) => i,
        _ => panic!("{} is not an image", archive.display()),
    };
    let r = Reference::parse(&format!("{host}/{repo}:{tag}")).unwrap();
    let repo = Repository::open(&r, &cfg).unwrap();
    bulwark_image::registry::copy::push_image(&image, &repo, Some(tag), None)
        .unwrap()
        .manifest
        .digest
}

fn worker_config(dir: &Path, name: &str) -> WorkerConfig {
    let mut engine = bulwark_engine::EngineConfig::new(dir.join(format!("cache-{name}")));
    engine.registry = RegistryConfig {
        insecure: true,
        ..Default::default()
    };
    // Only the store's tier: every reuse below is the shared cache's.
    engine.layer_cache = false;
    engine.threads = 2;
    let mut w = WorkerConfig::new(engine);
    w.lease = Duration::from_secs(10);
    w.poll = Duration::from_millis(100);
    w.name = name.to_string();
    w
}

fn wait_job(s: &TestServer, token: &str, id: &str) -> Value {
    let start = Instant::now();
    loop {
        let r = s.get(&format!("/v1/jobs/{id}"), token);
        assert_eq!(r.status, 200, "{}", r.json);
        let state = r.json["state"].as_str().unwrap().to_string();
        if state == "done" || state == "failed" {
            return r.json;
        }
        assert!(
            start.elapsed() < Duration::from_secs(300),
            "job {id} still {state}: {}",
            r.json
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn metric(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| {
            l.strip_prefix(series)
                .map(|v| v.trim().parse::<f64>().unwrap())
        })
        .unwrap_or_else(|| panic!("{series} not in /metrics:\n{text}"))
}

#[test]
fn scan_jobs_pull_scan_store_and_share_the_base_layer() {
    let images = bulwark_fixtures::images_or_skip!();
    let Some(reg) = bulwark_testkit::Registry::start(bulwark_testkit::RegistryOptions::plain())
    else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let host = reg.host();
    let base_digest = push(
        &host,
        &images.join("base.docker.tar"),
        "bulwark-test/base",
        "1",
        tmp.path(),
    );
    let app_digest = push(
        &host,
        &images.join("app.docker.tar"),
        "bulwark-test/app",
        "1",
        tmp.path(),
    );
    let wdir = tmp.path().to_path_buf();
    let s = TestServer::start_cfg(None, move |c| c.jobs = Some(worker_config(&wdir, "w1")));
    let admin = s.token("admin", &[]);
    // An advisory for dpkg (in every Debian image): the job's matching must find it.
    let rec = json!({
        "id": "TEST-JOB-1", "modified": "2026-12-01T00:00:00Z",
        "summary": "dpkg: a flaw in the test",
        "affected": [{"package": {"ecosystem": "Debian:12", "name": "dpkg"},
                      "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}]}]
    });
    let r = s.post_json("/v1/vulndb/osv", &admin, &serde_json::to_vec(&rec).unwrap());
    assert!((200..300).contains(&r.status), "{}", r.json);

    // A bad reference is refused before anything is queued.
    for bad in ["/etc/passwd", "oci:/tmp/x", "docker-daemon:alpine"] {
        let r = s.post_json(
            "/v1/jobs",
            &admin,
            &serde_json::to_vec(&json!({"kind": "scan", "image": bad})).unwrap(),
        );
        assert_eq!(r.status, 422, "{bad}: {}", r.json);
    }

    let r = s.post_json(
        "/v1/jobs",
        &admin,
        &serde_json::to_vec(
            &json!({"kind": "scan", "image": format!("{host}/bulwark-test/base:1"), "team": "platform"}),
        )
        .unwrap(),
    );
    assert_eq!(r.status, 202, "{}", r.json);
    let id1 = r.json["id"].as_str().unwrap().to_string();
    let j1 = wait_job(&s, &admin, &id1);
    assert_eq!(j1["state"], "done", "{j1}");
    assert_eq!(j1["attempts"], 1);
    assert_eq!(j1["result"]["digest"], base_digest.as_str());
    assert_eq!(j1["result"]["layers_cached"], 0, "{j1}");
    assert!(j1["result"]["packages"].as_u64().unwrap() > 50, "{j1}");

    // The image is in the inventory, filed under the job's team, with the finding.
    let img = s.get(&format!("/v1/images/{base_digest}"), &admin);
    assert_eq!(img.status, 200, "{}", img.json);
    assert_eq!(img.json["team"], "platform", "{}", img.json);
    let f = s.get(&format!("/v1/images/{base_digest}/findings"), &admin);
    let ids: Vec<&str> = f.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().or(i["advisory_id"].as_str()).unwrap_or(""))
        .collect();
    assert!(ids.contains(&"TEST-JOB-1"), "{}", f.json);

    // The app image is built on the base: its base layer is not analysed again.
    let r = s.post_json(
        "/v1/jobs",
        &admin,
        &serde_json::to_vec(
            &json!({"kind": "scan", "image": format!("docker://{host}/bulwark-test/app:1")}),
        )
        .unwrap(),
    );
    assert_eq!(r.status, 202, "{}", r.json);
    let id2 = r.json["id"].as_str().unwrap().to_string();
    let j2 = wait_job(&s, &admin, &id2);
    assert_eq!(j2["state"], "done", "{j2}");
    assert_eq!(j2["result"]["digest"], app_digest.as_str());
    let layers = j2["result"]["layers"].as_u64().unwrap();
    let cached = j2["result"]["layers_cached"].as_u64().unwrap();
    assert!(cached >= 1 && cached < layers, "{j2}");
    let pk = s.get(&format!("/v1/images/{app_digest}/packages"), &admin);
    assert!(pk.json["items"].as_array().unwrap().len() > 50);

    // Metrics: the queue by state, and the layer-cache use.
    let m = s.get("/metrics", &admin);
    let text = m.json.as_str().unwrap().to_string();
    assert_eq!(metric(&text, "bulwark_jobs{state=\"done\"}"), 2.0);
    assert_eq!(metric(&text, "bulwark_jobs_queued"), 0.0);
    assert_eq!(
        metric(&text, "bulwark_job_layers_total{cache=\"hit\"}"),
        cached as f64
    );
    assert_eq!(
        metric(&text, "bulwark_job_attempts_total{result=\"done\"}"),
        2.0
    );
    // The list, by state.
    let l = s.get("/v1/jobs?state=done", &admin);
    assert_eq!(l.json["items"].as_array().unwrap().len(), 2, "{}", l.json);
    // Audited: the request, the claims and the completions.
    for (action, n) in [("job.create", 2), ("job.claim", 2), ("job.done", 2)] {
        let got = s.db.query_i64(&format!(
            "SELECT COUNT(*) FROM audit_log WHERE action = '{action}'"
        ));
        assert_eq!(got, n, "{action}");
    }
    // This worker pulls over plain HTTP: a registry off loopback is refused at once
    // (failed on its first attempt, no retry), never contacted.
    let r = s.post_json(
        "/v1/jobs",
        &admin,
        &serde_json::to_vec(&json!({"kind": "scan", "image": "registry.example.invalid/x/y:1"}))
            .unwrap(),
    );
    assert_eq!(r.status, 202, "{}", r.json);
    let j = wait_job(&s, &admin, r.json["id"].as_str().unwrap());
    assert_eq!(j["state"], "failed", "{j}");
    assert_eq!(j["attempts"], 1, "{j}");
    assert!(
        j["last_error"].as_str().unwrap().contains("loopback"),
        "{j}"
    );
}

fn store_of(db: &TestDb) -> Store {
    Store::open(&db.url()).unwrap()
}

fn enqueue(store: &Store, max_attempts: i64) -> String {
    store
        .write_blocking(move |c| {
            q::enqueue(
                c,
                &q::NewJob {
                    kind: "scan".into(),
                    payload: r#"{"image":"127.0.0.1:9/x/y:1"}"#.into(),
                    team: None,
                    max_attempts,
                },
                ("test", "admin"),
            )
        })
        .unwrap()
        .id
}

fn claim(store: &Store, who: &str, lease_ms: i64) -> Option<q::Job> {
    let who = who.to_string();
    store
        .write_blocking(move |c| q::claim(c, &who, lease_ms))
        .unwrap()
}

#[test]
fn a_dead_workers_job_is_reclaimed_after_its_lease_and_completed_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::for_dir(dir.path(), "jobs.db");
    let store = store_of(&db);
    let id = enqueue(&store, 3);
    // Worker "dead" claims and never comes back (as after kill -9).
    let dead = claim(&store, "dead", 600_000).unwrap();
    assert_eq!((dead.id.as_str(), dead.attempts), (id.as_str(), 1));
    // While its lease runs, nobody else gets the job.
    assert!(claim(&store, "alive", 10_000).is_none());
    // Its lease runs out (moved into the past rather than waited for).
    db.batch("UPDATE jobs SET locked_until = locked_until - 600001");
    let again = claim(&store, "alive", 10_000).unwrap();
    assert_eq!((again.id.as_str(), again.attempts), (id.as_str(), 2));
    // The dead worker's late steps change nothing.
    let (i2, i3) = (id.clone(), id.clone());
    assert!(!store
        .write_blocking(move |c| q::renew(c, &i2, "dead", 1, 1000))
        .unwrap());
    assert_eq!(
        store
            .write_blocking(move |c| q::fail(c, &i3, "dead", 1, "late", false))
            .unwrap(),
        None
    );
    let i4 = id.clone();
    let late = store.write_blocking(move |c| q::finish(c, &i4, "dead", 1, "{}"));
    assert!(
        matches!(late, Err(bulwark_server::StoreError::Refused(ref e)) if e.code == "lease_lost")
    );
    // The holder completes it, once.
    let i5 = id.clone();
    store
        .write_blocking(move |c| q::finish(c, &i5, "alive", 2, r#"{"ok":true}"#))
        .unwrap();
    let i6 = id.clone();
    assert!(store
        .write_blocking(move |c| q::finish(c, &i6, "alive", 2, "{}"))
        .is_err());
    let i7 = id.clone();
    let job = store
        .read_blocking(move |c| q::get(c, &i7))
        .unwrap()
        .unwrap();
    assert_eq!(job.state, "done");
    assert_eq!(job.result.as_deref(), Some(r#"{"ok":true}"#));
    assert_eq!(
        db.query_i64("SELECT COUNT(*) FROM audit_log WHERE action = 'job.done'"),
        1
    );
    assert!(claim(&store, "alive", 1000).is_none());
}

#[test]
fn failures_back_off_and_the_last_attempt_fails_the_job() {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::for_dir(dir.path(), "jobs.db");
    let store = store_of(&db);
    let id = enqueue(&store, 2);
    let j = claim(&store, "w", 10_000).unwrap();
    let i = id.clone();
    let state = store
        .write_blocking(move |c| q::fail(c, &i, "w", j.attempts, "registry down", false))
        .unwrap();
    assert_eq!(state, Some("queued"));
    // Backed off: not due yet.
    assert!(claim(&store, "w", 10_000).is_none());
    db.batch("UPDATE jobs SET run_after = 0");
    // The second (last) attempt's worker dies: its lease runs out, and the next claim
    // fails the job instead of running it a third time.
    let j = claim(&store, "w2", 600_000).unwrap();
    assert_eq!(j.attempts, 2);
    assert!(claim(&store, "w3", 10_000).is_none());
    db.batch("UPDATE jobs SET locked_until = locked_until - 600001");
    assert!(claim(&store, "w3", 10_000).is_none());
    let i = id.clone();
    let job = store
        .read_blocking(move |c| q::get(c, &i))
        .unwrap()
        .unwrap();
    assert_eq!(job.state, "failed");
    let err = job.last_error.unwrap();
    assert!(
        err.contains("registry down") && err.contains("lease ran out"),
        "{err}"
    );
    let counts = store.read_blocking(q::counts).unwrap();
    assert_eq!(counts["failed"], 1);
    assert_eq!(counts["queued"], 0);
}

#[test]
fn two_claimers_on_one_database_never_take_the_same_job() {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::for_dir(dir.path(), "jobs.db");
    // Two stores on one database: two processes (replicas or `bulwark worker`s).
    let a = store_of(&db);
    let b = store_of(&db);
    let mut all = BTreeSet::new();
    for _ in 0..60 {
        all.insert(enqueue(&a, 3));
    }
    let run = |store: Store, who: &'static str| {
        std::thread::spawn(move || {
            let mut got = Vec::new();
            while let Some(j) = claim(&store, who, 60_000) {
                got.push(j.id);
            }
            got
        })
    };
    let ta = run(a.clone(), "a");
    let tb = run(b.clone(), "b");
    let (ga, gb) = (ta.join().unwrap(), tb.join().unwrap());
    let mut seen = BTreeSet::new();
    for id in ga.iter().chain(&gb) {
        assert!(seen.insert(id.clone()), "job {id} claimed twice");
    }
    assert_eq!(seen, all);
    assert_eq!(
        db.query_i64("SELECT COUNT(*) FROM jobs WHERE state = 'running' AND attempts = 1"),
        60
    );
}

/// A worker with a registry allow-list (`--job-registry`) fails a job for any other
/// registry at once, without contacting it.
#[test]
fn a_registry_off_the_allow_list_is_never_pulled_from() {
    let tmp = tempfile::tempdir().unwrap();
    let wdir = tmp.path().to_path_buf();
    let s = TestServer::start_cfg(None, move |c| {
        let mut w = worker_config(&wdir, "w1");
        w.registries = vec!["*.corp.example".into()];
        c.jobs = Some(w);
    });
    let admin = s.token("admin", &[]);
    let r = s.post_json(
        "/v1/jobs",
        &admin,
        &serde_json::to_vec(&json!({"kind": "scan", "image": "127.0.0.1:9/metadata/x:1"})).unwrap(),
    );
    assert_eq!(r.status, 202, "{}", r.json);
    let j = wait_job(&s, &admin, r.json["id"].as_str().unwrap());
    assert_eq!(j["state"], "failed", "{j}");
    assert_eq!(j["attempts"], 1, "{j}");
    assert!(
        j["last_error"].as_str().unwrap().contains("allow-list"),
        "{j}"
    );
}
