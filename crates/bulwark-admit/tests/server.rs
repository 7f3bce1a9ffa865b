//! The webhook with a real bulwark server (in-process, TLS on 127.0.0.1; the store on
//! SQLite, or on a throwaway PostgreSQL with `BULWARK_TEST_BACKEND=postgres`):
//! vulnerability gates decided from the server's inventory, every decision recorded in
//! the server's hash-chained audit log, and the webhook's metrics counting both.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
#[path = "../../bulwark-server/tests/common/pg.rs"]
mod pg;

use std::time::{Duration, Instant};

use bulwark_server::client::ServerClient;
use bulwark_server::serve::{Bound, ServerConfig, Transport};
use bulwark_server::store::audit;
use bulwark_server::{DatabaseUrl, Store};
use common::*;
use serde_json::{json, Value};

const LAYER: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";

/// The server's store: SQLite in `dir`, or a database of this process's PostgreSQL.
fn database(dir: &std::path::Path) -> DatabaseUrl {
    let file = dir.join("server.db");
    if pg::requested() {
        let cluster = pg::PgCluster::shared().unwrap_or_else(|| {
            panic!("BULWARK_TEST_BACKEND=postgres but PostgreSQL is not installed")
        });
        cluster.database(&pg::db_name_for(&file)).parse().unwrap()
    } else {
        DatabaseUrl::Sqlite(file)
    }
}

fn digest(n: u32) -> String {
    format!("sha256:{n:064x}")
}

/// A bulwark JSON report of `digest` with these findings (id, severity, fix, kev).
fn report(digest: &str, findings: &[(&str, &str, Option<&str>, bool)]) -> Vec<u8> {
    let vulns: Vec<Value> = findings
        .iter()
        .map(|(id, sev, fix, kev)| {
            json!({"id": id, "aliases": [], "package": "openssl", "purl": "pkg:deb/debian/openssl@3.0.11",
                   "installed_version": "3.0.11", "fixed_versions": fix.iter().collect::<Vec<_>>(),
                   "status": if fix.is_some() { "fixed" } else { "affected" },
                   "severity": sev, "title": "t", "layer": LAYER, "kev": kev})
        })
        .collect();
    serde_json::to_vec(&json!({
        "schema_version": 2, "tool": "bulwark 0.1.0", "created_at": "2026-12-02T12:00:00Z",
        "target": {"name": "registry.example:5000/acme/shop:1", "kind": "image",
            "image": {"id": digest, "manifest_digest": digest,
                      "repo_tags": ["registry.example:5000/acme/shop:1"],
                      "layers": [{"digest": LAYER, "diff_id": LAYER, "size": 1, "created_by": "ADD rootfs /"}]}},
        "packages": [{"name": "openssl", "version": "3.0.11", "ecosystem": "deb",
                      "purl": "pkg:deb/debian/openssl@3.0.11",
                      "locations": [{"path": "/var/lib/dpkg/status", "layer_digest": LAYER}],
                      "found_by": "dpkg"}],
        "vulnerabilities": vulns
    }))
    .unwrap()
}

struct Server {
    rt: tokio::runtime::Runtime,
    store: Store,
    url: String,
    ca: std::path::PathBuf,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Server {
    fn start(dir: &std::path::Path) -> Server {
        let pki = make_pki(dir, "server");
        let store = Store::open(&database(dir)).unwrap();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let bound = rt
            .block_on(Bound::bind(ServerConfig {
                max_upload: 1 << 20,
                grace: Duration::from_secs(1),
                ..ServerConfig::new(
                    "127.0.0.1:0".parse().unwrap(),
                    Transport::Tls {
                        cert: pki.cert.clone(),
                        key: pki.key.clone(),
                    },
                )
            }))
            .unwrap();
        let url = format!("https://127.0.0.1:{}", bound.local_addr().unwrap().port());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let s = store.clone();
        rt.spawn(async move {
            bound
                .run(s, async {
                    let _ = rx.await;
                })
                .await
        });
        Server {
            rt,
            store,
            url,
            ca: pki.ca,
            stop: Some(tx),
        }
    }

    fn token(&self, role: &str) -> String {
        let t = bulwark_server::api::make_token("t", role, vec![], None, "test").unwrap();
        let row = t.row.clone();
        self.store
            .write_blocking(move |c| bulwark_server::api::insert_token(c, &row, ("test", "admin")))
            .unwrap();
        t.token
    }

    fn client(&self, role: &str) -> ServerClient {
        ServerClient::new(
            &self.url,
            &self.token(role),
            Some(&self.ca),
            Duration::from_secs(10),
        )
        .unwrap()
    }

    fn decisions(&self) -> Vec<audit::Entry> {
        self.store
            .read_blocking(|c| audit::list(c, 0, 10_000))
            .unwrap()
            .into_iter()
            .filter(|e| e.action == "admission.decision")
            .collect()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        let _g = self.rt.enter();
    }
}

const POLICY: &str = r#"
apiVersion: bulwark.dev/v1alpha1
kind: AdmissionPolicy
rules:
  - name: vulns
    onError: deny
    vulnerabilities: {noCriticalWithFix: true, noKev: true}
"#;

#[test]
fn gates_decide_from_the_inventory_and_decisions_reach_the_audit_log() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let up = server.client("ci-uploader");
    let (bad, kev, clean, unknown) = (digest(1), digest(2), digest(3), digest(4));
    up.upload_report(&report(
        &bad,
        &[("CVE-2024-0001", "CRITICAL", Some("3.0.12"), false)],
    ))
    .unwrap();
    up.upload_report(&report(&kev, &[("CVE-2024-0002", "MEDIUM", None, true)]))
        .unwrap();
    // A CRITICAL without a fix and a LOW: neither gate fires.
    up.upload_report(&report(
        &clean,
        &[
            ("CVE-2024-0003", "CRITICAL", None, false),
            ("CVE-2024-0004", "LOW", Some("3.0.12"), false),
        ],
    ))
    .unwrap();

    let pki = make_pki(dir.path(), "webhook");
    let policy = dir.path().join("policy.yaml");
    std::fs::write(&policy, POLICY).unwrap();
    let mut cfg = config(&policy, &pki);
    cfg.server = Some(bulwark_admit::inventory::ServerLink {
        client: server.client("admission"),
        cluster: "test-cluster".into(),
    });
    cfg.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
    let hook = Webhook::start(cfg);
    let agent = client(&pki.ca);
    let url = format!("{}/validate", hook.url);
    let ask = |d: &str, name: &str| {
        let image = format!("registry.example:5000/acme/shop@{d}");
        admit(
            &agent,
            &url,
            &review(
                "CREATE",
                "shop",
                &pod(name, &image, json!({"app": name})),
                None,
                &alice(),
            ),
        )
    };
    let r = ask(&bad, "bad");
    assert_eq!(r["allowed"], false, "{r}");
    let msg = r["status"]["message"].as_str().unwrap();
    assert!(
        msg.contains("CVE-2024-0001") && msg.contains("CRITICAL with a fix"),
        "{msg}"
    );
    let r = ask(&kev, "kev");
    assert_eq!(r["allowed"], false, "{r}");
    assert!(
        r["status"]["message"]
            .as_str()
            .unwrap()
            .contains("in CISA KEV"),
        "{r}"
    );
    let r = ask(&clean, "clean");
    assert_eq!(r["allowed"], true, "{r}");
    // Not in the inventory and no DB for a scan: the gate cannot clear it (onError deny).
    let r = ask(&unknown, "unknown");
    assert_eq!(r["allowed"], false, "{r}");
    let msg = r["status"]["message"].as_str().unwrap();
    assert!(
        msg.contains("does not know") && msg.contains("onError: deny"),
        "{msg}"
    );

    // Every decision lands in the server's audit log, with its verdict.
    let started = Instant::now();
    let mut got = server.decisions();
    while got.len() < 4 && started.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(100));
        got = server.decisions();
    }
    assert_eq!(got.len(), 4, "{got:?}");
    let verdicts: Vec<(String, String)> = got
        .iter()
        .map(|e| (e.resource.clone(), e.decision.clone()))
        .collect();
    assert_eq!(
        verdicts,
        [
            ("test-cluster/shop/Pod/bad".to_string(), "deny".to_string()),
            ("test-cluster/shop/Pod/kev".into(), "deny".into()),
            ("test-cluster/shop/Pod/clean".into(), "allow".into()),
            ("test-cluster/shop/Pod/unknown".into(), "deny".into()),
        ]
    );
    assert!(got[0].detail.contains("CVE-2024-0001"), "{}", got[0].detail);
    assert!(got.iter().all(|e| e.role == "admission"));
    // And the chain still verifies with them in it.
    let v = server
        .store
        .read_blocking(|c| audit::verify(c, None))
        .unwrap();
    assert!(v.breaks.is_empty(), "{v:?}");

    // The metrics: the sink's and the inventory's counters, and the reporter's.
    let started = Instant::now();
    let mut s = scrape(&hook);
    while s.get("bulwark_admit_server_decisions_recorded_total") < 4.0
        && started.elapsed() < Duration::from_secs(20)
    {
        std::thread::sleep(Duration::from_millis(100));
        s = scrape(&hook);
    }
    assert_eq!(s.get("bulwark_admit_server_decisions_recorded_total"), 4.0);
    assert_eq!(s.get("bulwark_admit_server_decisions_dropped_total"), 0.0);
    // bad, kev and clean from the inventory; unknown fell back (and had no scan).
    assert_eq!(
        s.get("bulwark_admit_vulnerability_answers_total{source=\"server\"}"),
        3.0
    );
    assert_eq!(
        s.get("bulwark_admit_vulnerability_answers_total{source=\"fallback\"}"),
        1.0
    );
    assert_eq!(s.get("bulwark_admit_report_refused_total"), 0.0);
    assert_eq!(s.get("bulwark_admit_report_dropped_total"), 0.0);
    assert!(s.has_family("bulwark_admit_report_placements_stored_total"));
    assert_eq!(
        s.get("bulwark_admit_reviews_total{phase=\"validate\",outcome=\"denied\"}"),
        3.0
    );
    assert_eq!(
        s.get("bulwark_admit_reviews_total{phase=\"validate\",outcome=\"allowed\"}"),
        1.0
    );
}
