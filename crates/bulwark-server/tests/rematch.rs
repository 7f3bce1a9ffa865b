//! Continuous re-match, rebuild events and webhooks against a real server on 127.0.0.1
//! over HTTPS, with a real webhook receiver (axum, plain HTTP on 127.0.0.1) started by
//! each test: OSV deltas imported through the API re-match only the packages they name;
//! events name the layer and its origin; deliveries are signed, retried, dead-lettered,
//! and survive a server restart.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{digest, TestServer};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const SECRET: &str = "s3cret-webhook-key-0123456789";

fn layer(n: u32) -> String {
    format!("sha256:{:064x}", 0xabc000 + n)
}

/// A bulwark report of a Debian 12 image: `layers` are (digest, history line), `packages`
/// (name, version, ecosystem, source, layer).
fn report(manifest: &str, repo: &str, layers: &[(String, &str)], packages: &[Value]) -> Vec<u8> {
    let ls: Vec<Value> = layers
        .iter()
        .map(|(d, c)| json!({"digest": d, "diff_id": d, "size": 10, "created_by": c}))
        .collect();
    serde_json::to_vec(&json!({
        "schema_version": 2,
        "tool": "bulwark 0.1.0",
        "created_at": "2026-12-02T12:00:00Z",
        "target": {
            "name": repo, "kind": "image",
            "image": {
                "id": format!("sha256:{:064x}", 0xc0ffee),
                "manifest_digest": manifest,
                "repo_tags": [repo],
                "layers": ls,
                "config": {"config": {"Labels": {"io.bulwark.team": "shop"}}}
            }
        },
        "os": {"family": "debian", "version": "12.5"},
        "packages": packages,
        "vulnerabilities": []
    }))
    .unwrap()
}

fn deb(name: &str, source: &str, version: &str, layer: &str) -> Value {
    json!({"name": name, "version": version, "ecosystem": "deb",
           "purl": format!("pkg:deb/debian/{name}@{version}?distro=debian-12.5"),
           "source": {"name": source, "version": version},
           "locations": [{"path": "/var/lib/dpkg/status", "layer_digest": layer}],
           "found_by": "dpkg"})
}

fn npm(name: &str, version: &str, layer: &str) -> Value {
    json!({"name": name, "version": version, "ecosystem": "npm",
           "purl": format!("pkg:npm/{name}@{version}"),
           "locations": [{"path": "/app/package-lock.json", "layer_digest": layer}],
           "found_by": "npm-lock"})
}

fn openssl_record(modified: &str, fixed: Option<&str>, withdrawn: Option<&str>) -> Value {
    let mut events = vec![json!({"introduced": "0"})];
    if let Some(f) = fixed {
        events.push(json!({"fixed": f}));
    }
    let mut r = json!({
        "id": "DEBIAN-CVE-2026-1000", "modified": modified, "aliases": ["CVE-2026-1000"],
        "summary": "openssl: a flaw in the test",
        "affected": [{"package": {"ecosystem": "Debian:12", "name": "openssl"},
                      "ranges": [{"type": "ECOSYSTEM", "events": events}]}]
    });
    if let Some(w) = withdrawn {
        r["withdrawn"] = json!(w);
    }
    r
}

fn lodash_record() -> Value {
    json!({
        "id": "GHSA-test-lodash", "modified": "2026-12-01T00:00:00Z", "aliases": ["CVE-2026-2000"],
        "summary": "lodash: prototype pollution in the test",
        "affected": [{"package": {"ecosystem": "npm", "name": "lodash"},
                      "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "4.17.21"}]}]}]
    })
}

fn unrelated_record(id: &str, pkg: &str) -> Value {
    json!({
        "id": id, "modified": "2026-11-01T00:00:00Z",
        "affected": [{"package": {"ecosystem": "npm", "name": pkg},
                      "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "9.9.9"}]}]}]
    })
}

// ---- a webhook receiver ---------------------------------------------------------------

#[derive(Debug, Clone)]
struct Hit {
    path: String,
    delivery: String,
    timestamp: String,
    signature: String,
    event: String,
    body: Vec<u8>,
}

const OK: u8 = 0;
const FAIL_500: u8 = 1;
const SLOW: u8 = 2;

struct Receiver {
    port: u16,
    mode: Arc<AtomicU8>,
    hits: Arc<Mutex<Vec<Hit>>>,
    rt: Option<tokio::runtime::Runtime>,
}

impl Receiver {
    fn start(port: u16) -> Receiver {
        use axum::extract::{Request, State};
        use axum::http::StatusCode;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let mode = Arc::new(AtomicU8::new(OK));
        let hits: Arc<Mutex<Vec<Hit>>> = Arc::new(Mutex::new(Vec::new()));
        let listener = rt
            .block_on(tokio::net::TcpListener::bind(("127.0.0.1", port)))
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        type St = (Arc<AtomicU8>, Arc<Mutex<Vec<Hit>>>);
        async fn handle(State((mode, hits)): State<St>, req: Request) -> StatusCode {
            let (path, delivery, timestamp, signature, event) = {
                let h = |n: &str| {
                    req.headers()
                        .get(n)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .to_string()
                };
                (
                    req.uri().path().to_string(),
                    h("x-bulwark-delivery"),
                    h("x-bulwark-timestamp"),
                    h("x-bulwark-signature-256"),
                    h("x-bulwark-event"),
                )
            };
            let body = axum::body::to_bytes(req.into_body(), 1 << 20)
                .await
                .unwrap()
                .to_vec();
            hits.lock().unwrap().push(Hit {
                path,
                delivery,
                timestamp,
                signature,
                event,
                body,
            });
            match mode.load(Ordering::SeqCst) {
                FAIL_500 => StatusCode::INTERNAL_SERVER_ERROR,
                SLOW => {
                    tokio::time::sleep(Duration::from_secs(3)).await;
                    StatusCode::OK
                }
                _ => StatusCode::NO_CONTENT,
            }
        }
        let app = axum::Router::new()
            .fallback(handle)
            .with_state((mode.clone(), hits.clone()));
        rt.spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Receiver {
            port,
            mode,
            hits,
            rt: Some(rt),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn hits(&self) -> Vec<Hit> {
        self.hits.lock().unwrap().clone()
    }

    fn set(&self, mode: u8) {
        self.mode.store(mode, Ordering::SeqCst);
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if let Some(rt) = self.rt.take() {
            rt.shutdown_timeout(Duration::from_secs(1));
        }
    }
}

fn sign(body: &[u8]) -> String {
    let mut m = Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    m.update(body);
    format!("sha256={}", hex::encode(m.finalize().into_bytes()))
}

fn wait_for(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("timed out waiting for {what}");
}

fn import(s: &TestServer, token: &str, records: Value) -> Value {
    let r = s.post_json(
        "/v1/vulndb/osv",
        token,
        &serde_json::to_vec(&records).unwrap(),
    );
    assert_eq!(r.status, 201, "import: {}", r.json);
    r.json
}

fn events(s: &TestServer, token: &str, kind: &str) -> Vec<Value> {
    let r = s.get(&format!("/v1/events?kind={kind}"), token);
    assert_eq!(r.status, 200, "{}", r.json);
    r.json["items"].as_array().unwrap().clone()
}

fn webhook(s: &TestServer, admin: &str, url: &str, format: &str) -> String {
    let r = s.post_json(
        "/v1/webhooks",
        admin,
        &serde_json::to_vec(&json!({"url": url, "secret": SECRET, "format": format})).unwrap(),
    );
    assert_eq!(r.status, 201, "{}", r.json);
    assert!(r.json.get("secret").is_none(), "the secret is never echoed");
    r.json["id"].as_str().unwrap().to_string()
}

/// Three images of team shop: A and B on the same base image (a root-fs layer and a
/// package layer with openssl), C on another base without openssl. A's app layer has
/// lodash 4.17.20, B's express.
struct Fleet {
    a: String,
    b: String,
    c: String,
    base_pkgs: String,
}

fn upload_fleet(s: &TestServer, token: &str) -> Fleet {
    let (a, b, c) = (digest(0xa), digest(0xb), digest(0xc));
    let rootfs = layer(1);
    let base_pkgs = layer(2);
    let rootfs_c = layer(3);
    let rootfs_line = "/bin/sh -c #(nop) ADD file:9a8b7c in / ";
    let base_line = "RUN /bin/sh -c apt-get install -y openssl # buildkit";
    let images = [
        (
            &a,
            "registry.example/shop/a:1",
            vec![
                (rootfs.clone(), rootfs_line),
                (base_pkgs.clone(), base_line),
                (layer(10), "COPY app /app"),
            ],
            vec![
                deb("libc6", "glibc", "2.36-9+deb12u4", &rootfs),
                deb("libssl3", "openssl", "3.0.11-1~deb12u2", &base_pkgs),
                npm("lodash", "4.17.20", &layer(10)),
            ],
        ),
        (
            &b,
            "registry.example/shop/b:1",
            vec![
                (rootfs.clone(), rootfs_line),
                (base_pkgs.clone(), base_line),
                (layer(11), "COPY app /app"),
            ],
            vec![
                deb("libc6", "glibc", "2.36-9+deb12u4", &rootfs),
                deb("libssl3", "openssl", "3.0.11-1~deb12u2", &base_pkgs),
                npm("express", "4.19.2", &layer(11)),
            ],
        ),
        (
            &c,
            "registry.example/shop/c:1",
            vec![
                (rootfs_c.clone(), rootfs_line),
                (layer(12), "COPY app /app"),
            ],
            vec![
                deb("zlib1g", "zlib", "1:1.2.13.dfsg-1", &rootfs_c),
                npm("express", "4.19.2", &layer(12)),
            ],
        ),
    ];
    for (d, repo, layers, pkgs) in &images {
        let r = s.post_json(
            &format!("/v1/reports?digest={d}"),
            token,
            &report(d, repo, layers, pkgs),
        );
        assert_eq!(r.status, 201, "{}", r.json);
    }
    Fleet { a, b, c, base_pkgs }
}

#[test]
fn delta_rematch_events_base_layer_webhooks_and_withdrawal() {
    let s = TestServer::start();
    let rx = Receiver::start(0);
    let admin = s.token("admin", &[]);
    let security = s.token("security", &[]);
    let ci = s.token("ci-uploader", &[]);

    // The first DB the server sees is a baseline: no events.
    let first = import(
        &s,
        &security,
        json!([unrelated_record("TEST-0", "left-pad")]),
    );
    assert_eq!(first["rematch"]["mode"], "baseline", "{first}");
    webhook(&s, &admin, &rx.url("/generic"), "generic");
    webhook(&s, &admin, &rx.url("/dispatch"), "repository-dispatch");
    let fleet = upload_fleet(&s, &ci);
    // The second base layer is the base image's only by registration (its history line
    // looks like any RUN).
    let r = s.post_json(
        "/v1/base-images",
        &security,
        &serde_json::to_vec(&json!({"name": "acme/base:1", "layers": [layer(1), layer(2)]}))
            .unwrap(),
    );
    assert_eq!(r.status, 201, "{}", r.json);
    assert_eq!(r.json["image_layers_marked"], 2, "{}", r.json);

    // The delta: openssl (base layer of A and B) and lodash (A's app layer).
    let out = import(
        &s,
        &security,
        json!([
            openssl_record("2026-12-02T00:00:00Z", None, None),
            lodash_record()
        ]),
    );
    assert_eq!(out["delta"]["new"], 2, "{out}");
    assert_eq!(out["rematch"]["mode"], "delta", "{out}");
    // Only the packages the delta names were evaluated: libssl3 (source openssl; one
    // package row, in the layer A and B share) and lodash.
    assert_eq!(out["rematch"]["packages"], 2, "{out}");
    let newly = events(&s, &admin, "newly_affected");
    assert_eq!(newly.len(), 3, "{newly:#?}");
    let ssl: Vec<&Value> = newly
        .iter()
        .filter(|e| e["advisory"]["id"] == "CVE-2026-1000")
        .collect();
    let mut ssl_images: Vec<&str> = ssl
        .iter()
        .map(|e| e["image"]["digest"].as_str().unwrap())
        .collect();
    ssl_images.sort();
    assert_eq!(ssl_images, vec![fleet.a.as_str(), fleet.b.as_str()]);
    for e in &ssl {
        assert_eq!(e["layer"]["digest"], fleet.base_pkgs.as_str(), "{e}");
        assert_eq!(e["layer"]["origin"], "base", "{e}");
        assert_eq!(e["advice"]["action"], "rebuild_on_newer_base", "{e}");
        assert_eq!(e["package"]["name"], "libssl3", "{e}");
        assert!(e["advisory"]["fixed_version"].is_null(), "{e}");
    }
    let lodash: Vec<&Value> = newly
        .iter()
        .filter(|e| e["package"]["name"] == "lodash")
        .collect();
    assert_eq!(lodash.len(), 1);
    assert_eq!(lodash[0]["image"]["digest"], fleet.a.as_str());
    assert_eq!(lodash[0]["layer"]["origin"], "application");
    assert_eq!(lodash[0]["advice"]["action"], "bump_dependency");
    assert_eq!(lodash[0]["advisory"]["fixed_version"], "4.17.21");
    assert!(newly
        .iter()
        .all(|e| e["image"]["digest"] != fleet.c.as_str()));

    // Both webhooks get every event, signed.
    wait_for("6 deliveries", 30, || rx.hits().len() >= 6);
    let hits = rx.hits();
    for h in &hits {
        assert_eq!(
            h.signature,
            sign(&h.body),
            "signature of delivery {}",
            h.delivery
        );
        assert_eq!(h.delivery.len(), 32, "{h:?}");
        assert!(h.timestamp.parse::<i64>().unwrap() > 1_700_000_000);
        assert_eq!(h.event, "newly_affected");
    }
    let generic: Vec<Value> = hits
        .iter()
        .filter(|h| h.path == "/generic")
        .map(|h| serde_json::from_slice(&h.body).unwrap())
        .collect();
    let mut ids: Vec<&str> = generic.iter().map(|e| e["id"].as_str().unwrap()).collect();
    ids.sort();
    let mut want: Vec<&str> = newly.iter().map(|e| e["id"].as_str().unwrap()).collect();
    want.sort();
    assert_eq!(ids, want, "the generic body is the event itself");
    let dispatch: Vec<Value> = hits
        .iter()
        .filter(|h| h.path == "/dispatch")
        .map(|h| serde_json::from_slice(&h.body).unwrap())
        .collect();
    assert_eq!(dispatch.len(), 3);
    for d in &dispatch {
        assert_eq!(d["event_type"], "bulwark.newly_affected");
        assert!(d["client_payload"]["advice"]["action"].is_string());
        assert!(d["client_payload"].as_object().unwrap().len() <= 10);
    }

    // A fix appears upstream: fixed_upstream for A and B, nothing for lodash.
    let out = import(
        &s,
        &security,
        json!([openssl_record(
            "2026-12-03T00:00:00Z",
            Some("3.0.15-1~deb12u1"),
            None
        )]),
    );
    assert_eq!(out["delta"]["changed"], 1, "{out}");
    let fixed = events(&s, &admin, "fixed_upstream");
    assert_eq!(fixed.len(), 2, "{fixed:#?}");
    assert!(fixed
        .iter()
        .all(|e| e["advisory"]["fixed_version"] == "3.0.15-1~deb12u1"));

    // Withdrawn: no longer affected, for exactly A and B.
    let out = import(
        &s,
        &security,
        json!([openssl_record(
            "2026-12-04T00:00:00Z",
            Some("3.0.15-1~deb12u1"),
            Some("2026-11-30T00:00:00Z")
        )]),
    );
    assert_eq!(out["delta"]["withdrawn"], 1, "{out}");
    let gone = events(&s, &admin, "no_longer_affected");
    let mut gone_images: Vec<&str> = gone
        .iter()
        .map(|e| e["image"]["digest"].as_str().unwrap())
        .collect();
    gone_images.sort();
    assert_eq!(gone_images, vec![fleet.a.as_str(), fleet.b.as_str()]);
    assert!(gone
        .iter()
        .all(|e| e["advisory"]["state"] == "withdrawn" && e["advisory"]["reason"] == "withdrawn"));
    let f = s.get(&format!("/v1/images/{}/findings", fleet.a), &admin);
    let states: Vec<(String, String)> = f.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["id"].as_str().unwrap().to_string(),
                x["state"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(
        states.contains(&("CVE-2026-1000".into(), "withdrawn".into())),
        "{states:?}"
    );
    assert!(
        states.contains(&("CVE-2026-2000".into(), "affected".into())),
        "{states:?}"
    );

    // An unrelated delta evaluates nothing stored and records nothing.
    let before = s.count("events");
    let out = import(
        &s,
        &security,
        json!([unrelated_record("TEST-9", "leftpad-9")]),
    );
    assert_eq!(out["rematch"]["packages"], 0, "{out}");
    assert_eq!(s.count("events"), before);

    wait_for("all deliveries", 30, || s.count("outbox") == 0);
    let m = s.get("/metrics", &admin);
    let text = m.json.as_str().unwrap().to_string();
    assert!(
        text.contains("bulwark_rematch_duration_seconds_count 5"),
        "{text}"
    );
    assert!(
        text.contains("bulwark_rematch_events_total{kind=\"newly_affected\"} 3"),
        "{text}"
    );
    assert!(
        text.contains("bulwark_webhook_deliveries_total{result=\"delivered\"}"),
        "{text}"
    );
}

#[test]
fn a_developer_sees_only_its_teams_events() {
    let s = TestServer::start();
    let security = s.token("security", &[]);
    import(
        &s,
        &security,
        json!([unrelated_record("TEST-0", "left-pad")]),
    );
    upload_fleet(&s, &s.token("ci-uploader", &[]));
    import(&s, &security, json!([lodash_record()]));
    let other = s.token("developer", &["payments"]);
    assert!(events(&s, &other, "newly_affected").is_empty());
    let own = s.token("developer", &["shop"]);
    assert_eq!(events(&s, &own, "newly_affected").len(), 1);
}

#[test]
fn receiver_500_or_down_is_retried_then_dead_lettered_and_slow_recovers() {
    let s = TestServer::start_cfg(None, |c| {
        c.delivery.max_attempts = 3;
        c.delivery.timeout = Duration::from_millis(700);
        c.delivery.base_backoff = Duration::from_millis(50);
    });
    let rx = Receiver::start(0);
    let admin = s.token("admin", &[]);
    // A port nothing listens on.
    let down_port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    import(&s, &admin, json!([unrelated_record("TEST-0", "left-pad")]));
    upload_fleet(&s, &admin);
    rx.set(FAIL_500);
    let h500 = webhook(&s, &admin, &rx.url("/500"), "generic");
    let hdown = webhook(
        &s,
        &admin,
        &format!("http://127.0.0.1:{down_port}/down"),
        "generic",
    );
    import(&s, &admin, json!([lodash_record()]));
    wait_for("two dead letters", 30, || {
        s.get("/v1/dead-letters", &admin).json["items"]
            .as_array()
            .is_some_and(|a| a.len() == 2)
    });
    let dead = s.get("/v1/dead-letters", &s.token("security", &[])).json["items"]
        .as_array()
        .unwrap()
        .clone();
    let d500 = dead
        .iter()
        .find(|d| d["webhook_id"] == h500.as_str())
        .unwrap();
    assert_eq!(d500["attempts"], 3);
    assert_eq!(d500["last_status"], 500);
    assert_eq!(d500["event"]["package"]["name"], "lodash");
    let ddown = dead
        .iter()
        .find(|d| d["webhook_id"] == hdown.as_str())
        .unwrap();
    assert_eq!(ddown["attempts"], 3);
    assert!(ddown["last_status"].is_null());
    assert!(!ddown["last_error"].as_str().unwrap().is_empty());
    // The receiver saw three attempts of one delivery, each signed.
    let hits = rx.hits();
    assert_eq!(hits.len(), 3, "{hits:?}");
    assert!(hits.iter().all(|h| h.delivery == hits[0].delivery));
    assert!(hits.iter().all(|h| h.signature == sign(&h.body)));
    assert_eq!(s.count("outbox"), 0);

    // Slow: the first attempt times out, the retry (receiver quick again) lands.
    let r = s.call(
        "DELETE",
        &format!("/v1/webhooks/{hdown}"),
        Some(&admin),
        None,
    );
    assert_eq!(r.status, 200);
    rx.set(SLOW);
    let before = rx.hits().len();
    import(
        &s,
        &admin,
        json!([openssl_record("2026-12-02T00:00:00Z", None, None)]),
    );
    wait_for("a slow attempt", 30, || rx.hits().len() > before);
    rx.set(OK);
    wait_for("the retries delivered", 30, || s.count("outbox") == 0);
    let hits = rx.hits();
    let later = &hits[before..];
    // Two events (A and B), at least one retried after a timeout, none dead.
    let mut per: std::collections::BTreeMap<&str, usize> = Default::default();
    for h in later {
        *per.entry(h.delivery.as_str()).or_default() += 1;
    }
    assert_eq!(per.len(), 2, "{per:?}");
    assert!(per.values().any(|n| *n >= 2), "{per:?}");
    assert_eq!(
        s.get("/v1/dead-letters", &admin).json["items"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let text = s.get("/metrics", &admin).json.as_str().unwrap().to_string();
    assert!(
        text.contains("bulwark_webhook_deliveries_total{result=\"dead\"} 2"),
        "{text}"
    );
}

#[test]
fn queued_delivery_survives_a_restart() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut s = TestServer::start_cfg(None, |c| {
        c.delivery.max_attempts = 1000;
        c.delivery.max_backoff = Duration::from_millis(200);
    });
    let admin = s.token("admin", &[]);
    import(&s, &admin, json!([unrelated_record("TEST-0", "left-pad")]));
    upload_fleet(&s, &admin);
    webhook(
        &s,
        &admin,
        &format!("http://127.0.0.1:{port}/hook"),
        "generic",
    );
    import(&s, &admin, json!([lodash_record()]));
    // Nothing listens yet: the delivery stays queued.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(s.count("outbox"), 1);
    let dir = s.dir.clone();
    s.stop();
    drop(s);
    let rx = Receiver::start(port);
    let s2 = TestServer::start_cfg(Some(dir), |_| {});
    wait_for("delivery after restart", 30, || !rx.hits().is_empty());
    let h = &rx.hits()[0];
    assert_eq!(h.signature, sign(&h.body));
    let e: Value = serde_json::from_slice(&h.body).unwrap();
    assert_eq!(e["package"]["name"], "lodash");
    wait_for("outbox drained", 30, || s2.count("outbox") == 0);
}

/// A damaged payload part (its text no longer splits into the parts it must hold)
/// dead-letters the deliveries of the events that name it, at once and saying why;
/// every other delivery goes out, and the dead letters still list.
#[test]
fn a_damaged_payload_part_dead_letters_its_deliveries_and_the_rest_go_out() {
    let port = bulwark_testkit::free_port();
    let s = TestServer::start_cfg(None, |c| {
        c.delivery.max_attempts = 1000;
        c.delivery.max_backoff = Duration::from_millis(200);
    });
    let admin = s.token("admin", &[]);
    import(&s, &admin, json!([unrelated_record("TEST-0", "left-pad")]));
    upload_fleet(&s, &admin);
    webhook(
        &s,
        &admin,
        &format!("http://127.0.0.1:{port}/hook"),
        "generic",
    );
    import(
        &s,
        &admin,
        json!([
            openssl_record("2026-12-02T00:00:00Z", None, None),
            lodash_record()
        ]),
    );
    // Nothing listens yet: every delivery stays queued.
    let queued = s.count("outbox");
    assert!(queued >= 2, "{queued}");
    let part = s.db.query_strings(
        "SELECT match_part FROM events WHERE match_part IS NOT NULL ORDER BY id LIMIT 1",
    );
    assert_eq!(part.len(), 1);
    let broken = s.db.query_i64(&format!(
        "SELECT COUNT(*) FROM outbox o JOIN events e ON e.id = o.event_id WHERE e.match_part = '{}'",
        part[0]
    ));
    assert!(broken >= 1 && broken < queued, "{broken} of {queued}");
    s.db.batch(&format!(
        "UPDATE event_parts SET body = 'damaged' WHERE id = '{}'",
        part[0]
    ));
    let rx = Receiver::start(port);
    wait_for("the others delivered", 30, || {
        rx.hits().len() as i64 == queued - broken
    });
    wait_for("outbox drained", 30, || s.count("outbox") == 0);
    assert_eq!(s.count("dead_letters"), broken);
    let errors = s.db.query_strings("SELECT last_error FROM dead_letters");
    assert!(
        errors
            .iter()
            .all(|e| e.contains("cannot be assembled") && e.contains("malformed payload parts")),
        "{errors:?}"
    );
    let r = s.call("GET", "/v1/dead-letters", Some(&admin), None);
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(
        r.json["items"].as_array().map(Vec::len),
        Some(broken as usize)
    );
    for h in rx.hits() {
        assert_eq!(h.signature, sign(&h.body));
    }
}

/// Rows whose parent is missing (findings and outbox have no foreign keys since
/// migration 6: the writers keep them consistent).
fn dangling(s: &TestServer) -> Vec<i64> {
    [
        "SELECT COUNT(*) FROM findings f WHERE NOT EXISTS (SELECT 1 FROM images i WHERE i.digest = f.image_digest)",
        "SELECT COUNT(*) FROM findings f WHERE NOT EXISTS (SELECT 1 FROM packages p WHERE p.id = f.package_id)",
        "SELECT COUNT(*) FROM outbox o WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.id = o.event_id)",
        "SELECT COUNT(*) FROM outbox o WHERE NOT EXISTS (SELECT 1 FROM webhooks w WHERE w.id = o.webhook_id)",
    ]
    .iter()
    .map(|q| s.db.query_i64(q))
    .collect()
}

#[test]
fn deleting_a_webhook_deletes_its_queued_deliveries_and_nothing_dangles() {
    // Two receivers that are down: every delivery stays queued.
    let ports: Vec<u16> = (0..2)
        .map(|_| {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        })
        .collect();
    let s = TestServer::start_cfg(None, |c| {
        c.delivery.max_attempts = 1000;
    });
    let admin = s.token("admin", &[]);
    import(&s, &admin, json!([unrelated_record("TEST-0", "left-pad")]));
    upload_fleet(&s, &admin);
    let hooks: Vec<String> = ports
        .iter()
        .map(|p| webhook(&s, &admin, &format!("http://127.0.0.1:{p}/hook"), "generic"))
        .collect();
    let out = import(
        &s,
        &admin,
        json!([
            openssl_record("2026-12-02T00:00:00Z", None, None),
            lodash_record()
        ]),
    );
    assert_eq!(out["rematch"]["queued"], 6, "{out}");
    assert_eq!(s.count("outbox"), 6);
    assert_eq!(s.count("findings"), 3);
    assert_eq!(dangling(&s), vec![0, 0, 0, 0]);
    let r = s.call(
        "DELETE",
        &format!("/v1/webhooks/{}", hooks[0]),
        Some(&admin),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.json);
    // The deleted webhook's three deliveries went with it; the other's stay.
    assert_eq!(
        s.db.query_strings("SELECT DISTINCT webhook_id FROM outbox"),
        vec![hooks[1].clone()]
    );
    assert_eq!(s.count("outbox"), 3);
    assert_eq!(dangling(&s), vec![0, 0, 0, 0]);
}

#[test]
fn two_replicas_deliver_each_event_once() {
    // Replicas exist only on PostgreSQL (`BULWARK_TEST_BACKEND=postgres`); on SQLite one
    // server owns the file.
    if !common::pg::requested() {
        return;
    }
    let a = TestServer::start();
    // The second replica: same database, same vulnerability DB directory.
    let b = TestServer::start_cfg(Some(a.dir.clone()), |_| {});
    let rx = Receiver::start(0);
    let admin = a.token("admin", &[]);
    import(&a, &admin, json!([unrelated_record("TEST-0", "left-pad")]));
    upload_fleet(&b, &admin);
    webhook(&a, &admin, &rx.url("/hook"), "generic");
    webhook(&b, &admin, &rx.url("/hook2"), "generic");
    // A slow receiver (3 s per answer) keeps each delivery in flight on one replica
    // while the other polls the outbox many times.
    rx.set(SLOW);
    // Newly affected: A and B by openssl, A by lodash; two webhooks each.
    import(
        &b,
        &admin,
        json!([
            openssl_record("2026-12-02T00:00:00Z", Some("3.0.13-1~deb12u1"), None),
            lodash_record()
        ]),
    );
    let queued = a.db.query_i64("SELECT COUNT(*) FROM events") * 2;
    assert!(queued >= 6, "{queued} deliveries queued");
    wait_for("every delivery", 30, || rx.hits().len() as i64 >= queued);
    wait_for("outbox drained", 30, || a.count("outbox") == 0);
    // Both replicas kept polling meanwhile; give a duplicate time to show.
    std::thread::sleep(Duration::from_millis(500));
    let hits = rx.hits();
    let mut ids: Vec<&str> = hits.iter().map(|h| h.delivery.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), hits.len(), "a delivery was sent twice: {hits:?}");
    assert_eq!(hits.len() as i64, queued);
    drop(b);
}
