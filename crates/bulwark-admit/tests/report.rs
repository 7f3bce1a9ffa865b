//! What the webhook reports to a real bulwark server (in-process, TLS on 127.0.0.1; the
//! store on SQLite, or on a throwaway PostgreSQL with `BULWARK_TEST_BACKEND=postgres`)
//! besides its decisions: the placements of the pods it admits and the signature and
//! attestation verifications it ran against a real registry (bulwark-testkit's
//! `docker-registry`, TLS and auth). Read back through the server's API
//! (`GET /v1/images/{digest}/placements`, `…/signatures`); a server that is down when
//! the webhook decides gets the reports once it is back.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test may panic: that is its failure

mod common;
#[path = "../../bulwark-server/tests/common/pg.rs"]
mod pg;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bulwark_image::registry::RegistryConfig;
use bulwark_server::client::ServerClient;
use bulwark_server::serve::{Bound, ServerConfig, Transport};
use bulwark_server::{DatabaseUrl, Store};
use common::*;
use serde_json::{json, Value};

const LAYER: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
const SLSA: &str = "https://slsa.dev/provenance/v1";

/// The server's store: SQLite in `dir`, or a database of this process's PostgreSQL.
fn database(dir: &Path) -> DatabaseUrl {
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

/// A server on `port` (0: any) over `store`, stopped when dropped.
struct Server {
    rt: Option<tokio::runtime::Runtime>,
    port: u16,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Server {
    fn start(store: &Store, pki: &Pki, port: u16) -> Server {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        // The port of a server just stopped may take a moment to free.
        let deadline = Instant::now() + Duration::from_secs(10);
        let bound = loop {
            let r = rt.block_on(Bound::bind(ServerConfig {
                max_upload: 1 << 20,
                grace: Duration::from_secs(1),
                ..ServerConfig::new(
                    format!("127.0.0.1:{port}").parse().unwrap(),
                    Transport::Tls {
                        cert: pki.cert.clone(),
                        key: pki.key.clone(),
                    },
                )
            }));
            match r {
                Ok(b) => break b,
                Err(e) if Instant::now() < deadline => {
                    eprintln!("bind 127.0.0.1:{port}: {e}; retrying");
                    std::thread::sleep(Duration::from_millis(200));
                }
                Err(e) => panic!("bind 127.0.0.1:{port}: {e}"),
            }
        };
        let port = bound.local_addr().unwrap().port();
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
            rt: Some(rt),
            port,
            stop: Some(tx),
        }
    }

    fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(rt) = self.rt.take() {
            rt.shutdown_timeout(Duration::from_secs(5));
        }
    }
}

fn token(store: &Store, role: &str) -> String {
    let t = bulwark_server::api::make_token("t", role, vec![], None, "test").unwrap();
    let row = t.row.clone();
    store
        .write_blocking(move |c| bulwark_server::api::insert_token(c, &row, ("test", "admin")))
        .unwrap();
    t.token
}

/// A bulwark JSON report of `digest` (one package, no findings): puts the image in the
/// inventory, which signature reports need.
fn report(digest: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "schema_version": 2, "tool": "bulwark 0.1.0", "created_at": "2026-12-03T12:00:00Z",
        "target": {"name": "registry.example:5000/acme/app:1", "kind": "image",
            "image": {"id": digest, "manifest_digest": digest,
                      "repo_tags": ["registry.example:5000/acme/app:1"],
                      "layers": [{"digest": LAYER, "diff_id": LAYER, "size": 1, "created_by": "ADD rootfs /"}]}},
        "packages": [{"name": "openssl", "version": "3.0.11", "ecosystem": "deb",
                      "purl": "pkg:deb/debian/openssl@3.0.11",
                      "locations": [{"path": "/var/lib/dpkg/status", "layer_digest": LAYER}],
                      "found_by": "dpkg"}],
        "vulnerabilities": []
    }))
    .unwrap()
}

/// A registry with `signed/app:1` (signed and attested with `key`) and `unsigned/app:1`.
struct Images {
    reg: bulwark_testkit::Registry,
    cfg: RegistryConfig,
    signed: String,
    unsigned: String,
    key: bulwark_sign::PrivateKey,
}

fn images() -> Option<Images> {
    let reg = bulwark_testkit::Registry::start(bulwark_testkit::RegistryOptions::tls_with_auth(
        "ci-bot", "s3cret",
    ))?;
    let cfg = registry_config(&reg);
    let host = reg.host();
    let signed = push_image(&cfg, &host, "signed/app", "1", "signed");
    let unsigned = push_image(&cfg, &host, "unsigned/app", "1", "unsigned");
    let key = bulwark_sign::PrivateKey::generate(bulwark_sign::Algorithm::EcdsaP256);
    let image =
        bulwark_cosign::location::Image::open(&format!("{host}/signed/app:1"), &cfg).unwrap();
    bulwark_cosign::store::sign(
        &image,
        &key,
        &BTreeMap::new(),
        None,
        bulwark_cosign::store::Format::Both,
    )
    .unwrap();
    bulwark_cosign::store::attest(
        &image,
        &key,
        SLSA,
        json!({"buildDefinition": {"buildType": "test"}}),
        bulwark_cosign::store::Format::Both,
    )
    .unwrap();
    Some(Images {
        reg,
        cfg,
        signed,
        unsigned,
        key,
    })
}

/// The webhook's config: signatures and the SLSA attestation required of both
/// repositories, reporting to `server` as cluster `test-cluster`.
fn hook_config(
    dir: &Path,
    im: &Images,
    server: Option<(&str, &Pki, &str)>,
) -> bulwark_admit::Config {
    std::fs::write(
        dir.join("cosign.pub"),
        im.key.public_key().to_pem().unwrap(),
    )
    .unwrap();
    std::fs::write(
        dir.join("policy.yaml"),
        format!(
            r#"apiVersion: bulwark.dev/v1alpha1
kind: AdmissionPolicy
settings:
  timeouts: {{resolve: 3s, signature: 3s}}
rules:
  - name: signed
    verifyImages:
      - images: ["127.0.0.1:*/signed/*", "127.0.0.1:*/unsigned/*"]
        keys: [cosign.pub]
        attestations: ["{SLSA}"]
"#
        ),
    )
    .unwrap();
    let pki = make_pki(dir, "webhook");
    let mut c = config(&dir.join("policy.yaml"), &pki);
    c.registry = im.cfg.clone();
    if let Some((url, server_pki, token)) = server {
        c.server = Some(bulwark_admit::inventory::ServerLink {
            client: ServerClient::new(url, token, Some(&server_pki.ca), Duration::from_secs(5))
                .unwrap(),
            cluster: "test-cluster".into(),
        });
    }
    c
}

/// A pod of the Deployment `web` (through its ReplicaSet `web-7d4b9c`).
fn deployment_pod(name: &str, image: &str) -> Value {
    let mut p = pod(
        name,
        image,
        json!({"app": "web", "pod-template-hash": "7d4b9c"}),
    );
    p["metadata"]["ownerReferences"] = json!([{"apiVersion": "apps/v1", "kind": "ReplicaSet",
        "name": "web-7d4b9c", "uid": "0b6e", "controller": true, "blockOwnerDeletion": true}]);
    p
}

/// `GET path` on the server as `token`: the `items`.
fn items(url: &str, ca: &Path, token: &str, path: &str) -> Vec<Value> {
    let resp = client(ca)
        .get(&format!("{url}{path}"))
        .header("Authorization", &format!("Bearer {token}"))
        .call()
        .unwrap();
    let status = resp.status().as_u16();
    let body: Value =
        serde_json::from_str(&resp.into_body().read_to_string().unwrap()).unwrap_or(Value::Null);
    assert_eq!(status, 200, "{path}: {body}");
    body["items"].as_array().cloned().unwrap_or_default()
}

/// Polls `GET path` until `done` holds of its items (the reporter is asynchronous).
fn wait_for(
    url: &str,
    ca: &Path,
    token: &str,
    path: &str,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let got = items(url, ca, token, path);
        if done(&got) {
            return got;
        }
        assert!(Instant::now() < deadline, "{path}: still {got:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn key_identity(key: &bulwark_sign::PrivateKey) -> String {
    format!("key:sha256:{}", key.public_key().fingerprint().unwrap())
}

#[test]
fn admitted_pods_and_verifications_reach_the_server() {
    let Some(im) = images() else { return };
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&database(dir.path())).unwrap();
    let spki = make_pki(dir.path(), "server");
    let server = Server::start(&store, &spki, 0);
    let url = server.url();
    let admin = token(&store, "admin");
    let up = ServerClient::new(
        &url,
        &token(&store, "ci-uploader"),
        Some(&spki.ca),
        Duration::from_secs(10),
    )
    .unwrap();
    up.upload_report(&report(&im.signed)).unwrap();
    up.upload_report(&report(&im.unsigned)).unwrap();

    let cfg = hook_config(
        dir.path(),
        &im,
        Some((&url, &spki, &token(&store, "admission"))),
    );
    let ca = dir.path().join("webhook-ca.pem");
    let hook = Webhook::start(cfg);
    let agent = client(&ca);
    let validate = format!("{}/validate", hook.url);
    let host = im.reg.host();
    let tagged = format!("{host}/signed/app:1");

    // A Deployment's pod, by tag: admitted; the digest comes from the tag the rule
    // resolved. A dry run and a denied pod are not placements.
    let r = admit(
        &agent,
        &validate,
        &review(
            "CREATE",
            "prod",
            &deployment_pod("web-7d4b9c-x2", &tagged),
            None,
            &alice(),
        ),
    );
    assert_eq!(r["allowed"], true, "{r}");
    let mut dry = review(
        "CREATE",
        "dry",
        &pod("dry", &tagged, json!({})),
        None,
        &alice(),
    );
    dry["request"]["dryRun"] = json!(true);
    assert_eq!(admit(&agent, &validate, &dry)["allowed"], true);
    let r = admit(
        &agent,
        &validate,
        &review(
            "CREATE",
            "prod",
            &pod("u", &format!("{host}/unsigned/app:1"), json!({})),
            None,
            &alice(),
        ),
    );
    assert_eq!(r["allowed"], false, "{r}");
    // A bare pod by digest, admitted.
    let pinned = format!("{host}/signed/app@{}", im.signed);
    let r = admit(
        &agent,
        &validate,
        &review(
            "CREATE",
            "tools",
            &pod("debug", &pinned, json!({})),
            None,
            &alice(),
        ),
    );
    assert_eq!(r["allowed"], true, "{r}");

    let placements = wait_for(
        &url,
        &spki.ca,
        &admin,
        &format!("/v1/images/{}/placements", im.signed),
        |v| v.len() >= 2,
    );
    let got: Vec<(String, String, String, String, String, String, String)> = placements
        .iter()
        .map(|p| {
            let s = |k: &str| p[k].as_str().unwrap_or("?").to_string();
            (
                s("cluster"),
                s("namespace"),
                s("workload_kind"),
                s("workload"),
                s("container"),
                s("node"),
                s("image_ref"),
            )
        })
        .collect();
    let row = |ns: &str, kind: &str, w: &str, image: &str| {
        (
            "test-cluster".to_string(),
            ns.to_string(),
            kind.to_string(),
            w.to_string(),
            "app".to_string(),
            String::new(),
            image.to_string(),
        )
    };
    assert_eq!(
        got,
        [
            row("prod", "Deployment", "web", &tagged),
            row("tools", "Pod", "debug", &pinned),
        ]
    );
    assert!(placements
        .iter()
        .all(|p| p["reporter"] == "admission" && p["image_digest"] == im.signed.as_str()));
    assert!(
        items(
            &url,
            &spki.ca,
            &admin,
            &format!("/v1/images/{}/placements", im.unsigned)
        )
        .is_empty(),
        "a denied pod is not a placement"
    );

    // The verifications that ran: the signed image's signature and attestation,
    // verified, with the key's fingerprint and where they were found; the unsigned
    // image's signature, not verified.
    let identity = key_identity(&im.key);
    let sigs = wait_for(
        &url,
        &spki.ca,
        &admin,
        &format!("/v1/images/{}/signatures", im.signed),
        |v| v.len() >= 2,
    );
    let mut kinds: Vec<(String, bool, Value)> = sigs
        .iter()
        .map(|s| {
            (
                s["kind"].as_str().unwrap().to_string(),
                s["verified"].as_bool().unwrap(),
                s["predicate_type"].clone(),
            )
        })
        .collect();
    kinds.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        kinds,
        [
            ("attestation".to_string(), true, json!(SLSA)),
            ("signature".to_string(), true, Value::Null),
        ]
    );
    for s in &sigs {
        assert_eq!(s["identity"], identity.as_str(), "{s}");
        let at = s["reference"].as_str().unwrap_or("");
        assert!(at.contains("legacy-tag") || at.contains("referrer"), "{s}");
        assert!(s["reported_by"].is_string(), "{s}");
    }
    let bad = wait_for(
        &url,
        &spki.ca,
        &admin,
        &format!("/v1/images/{}/signatures", im.unsigned),
        |v| !v.is_empty(),
    );
    assert_eq!(bad.len(), 1, "{bad:?}");
    assert_eq!(bad[0]["kind"], "signature");
    assert_eq!(bad[0]["verified"], false);
    assert_eq!(bad[0]["identity"], identity.as_str());

    // A cache hit is not a verification: nothing more is reported.
    let counters = hook.running.as_ref().unwrap().reports.clone().unwrap();
    let heard = counters.verifications.load(Ordering::Relaxed);
    assert_eq!(
        heard, 3,
        "signature + attestation of one, signature of the other"
    );
    let r = admit(
        &agent,
        &validate,
        &review(
            "CREATE",
            "prod",
            &deployment_pod("web-7d4b9c-y7", &tagged),
            None,
            &alice(),
        ),
    );
    assert_eq!(r["allowed"], true, "{r}");
    assert_eq!(counters.verifications.load(Ordering::Relaxed), heard);
    assert_eq!(counters.dropped.load(Ordering::Relaxed), 0);
    assert_eq!(counters.refused.load(Ordering::Relaxed), 0);
    assert_eq!(counters.unknown_images.load(Ordering::Relaxed), 0);
    // The two pods of one Deployment are one placement.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        items(
            &url,
            &spki.ca,
            &admin,
            &format!("/v1/images/{}/placements", im.signed)
        )
        .len(),
        2
    );

    // Without --server: no observer is set (one can still be), nothing is reported.
    let quiet_dir = tempfile::tempdir().unwrap();
    let quiet = Webhook::start(hook_config(quiet_dir.path(), &im, None));
    assert!(quiet.running.as_ref().unwrap().reports.is_none());
    assert!(
        quiet.deps().observe(std::sync::Arc::new(|_| {})),
        "an observer was set without --server"
    );
}

#[test]
fn a_server_that_is_down_gets_the_reports_later() {
    let Some(im) = images() else { return };
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&database(dir.path())).unwrap();
    let spki = make_pki(dir.path(), "server");
    let server = Server::start(&store, &spki, 0);
    let (url, port) = (server.url(), server.port);
    let admin = token(&store, "admin");
    let up = ServerClient::new(
        &url,
        &token(&store, "ci-uploader"),
        Some(&spki.ca),
        Duration::from_secs(10),
    )
    .unwrap();
    up.upload_report(&report(&im.signed)).unwrap();
    drop(server);

    let hook = Webhook::start(hook_config(
        dir.path(),
        &im,
        Some((&url, &spki, &token(&store, "admission"))),
    ));
    let agent = client(&dir.path().join("webhook-ca.pem"));
    let validate = format!("{}/validate", hook.url);
    let pinned = format!("{}/signed/app@{}", im.reg.host(), im.signed);
    // The decision is the one a reachable server would get.
    let r = admit(
        &agent,
        &validate,
        &review(
            "CREATE",
            "prod",
            &deployment_pod("web-7d4b9c-x2", &pinned),
            None,
            &alice(),
        ),
    );
    assert_eq!(r["allowed"], true, "{r}");
    let counters = hook.running.as_ref().unwrap().reports.clone().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while counters.retries.load(Ordering::Relaxed) == 0 {
        assert!(
            Instant::now() < deadline,
            "no failed attempt while the server was down"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(counters.placements_stored.load(Ordering::Relaxed), 0);

    // Back on the same address: the reports arrive.
    let _server = Server::start(&store, &spki, port);
    let p = wait_for(
        &url,
        &spki.ca,
        &admin,
        &format!("/v1/images/{}/placements", im.signed),
        |v| !v.is_empty(),
    );
    assert_eq!(p.len(), 1, "{p:?}");
    assert_eq!(
        (p[0]["workload_kind"].as_str(), p[0]["workload"].as_str()),
        (Some("Deployment"), Some("web"))
    );
    let s = wait_for(
        &url,
        &spki.ca,
        &admin,
        &format!("/v1/images/{}/signatures", im.signed),
        |v| v.len() >= 2,
    );
    assert!(s.iter().all(|e| e["verified"] == true), "{s:?}");
    assert_eq!(counters.placements_stored.load(Ordering::Relaxed), 1);
}
