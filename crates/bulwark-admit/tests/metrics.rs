//! The webhook's Prometheus metrics over real HTTP, next to the webhook over real TLS:
//! after a known set of reviews (allowed, denied, exempt, invalid, bad request, past
//! the deadline) the scrape shows exactly those counts, histogram counts and
//! evaluation paths; policy and certificate reloads (ok and failed) show; the format
//! is checked strictly (`common/prom.rs`); the metrics are served only where asked.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test may panic: that is its failure

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::prom::Scrape;
use common::*;
use serde_json::json;

const POLICY: &str = r#"apiVersion: bulwark.dev/v1alpha1
kind: AdmissionPolicy
exemptions:
  namespaces: [kube-system]
rules:
  - name: labels
    requireLabels: [team]
  - name: resources
    requireResources: {requests: [cpu, memory], limits: [memory]}
  - name: pss-baseline
    podSecurity: {level: baseline}
"#;

/// Replaces a file atomically (write aside, rename over), so the watcher never sees it
/// half written and each change is exactly one reload.
fn replace(path: &Path, data: &[u8]) {
    let tmp = path.with_extension("new");
    std::fs::write(&tmp, data).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

fn reviews(s: &Scrape, phase: &str, outcome: &str) -> f64 {
    s.get(&format!(
        "bulwark_admit_reviews_total{{phase=\"{phase}\",outcome=\"{outcome}\"}}"
    ))
}

/// Scrapes until `ok` holds (reloads happen on the watcher's tick), or panics.
fn scrape_until(hook: &Webhook, what: &str, ok: impl Fn(&Scrape) -> bool) -> Scrape {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let s = scrape(hook);
        if ok(&s) {
            return s;
        }
        assert!(Instant::now() < deadline, "{what}: not seen in the scrape");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn with_metrics(policy: &Path, pki: &Pki) -> bulwark_admit::Config {
    let mut c = config(policy, pki);
    c.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
    c
}

/// Known reviews give exact counts by phase and outcome, histogram counts and warm
/// evaluations; reloads of the policy and the certificate, refused and accepted, are
/// counted once each.
#[test]
fn scrape_counts_reviews_and_reloads() {
    let tmp = tempfile::tempdir().unwrap();
    let policy: PathBuf = tmp.path().join("policy.yaml");
    std::fs::write(&policy, POLICY).unwrap();
    let pki = make_pki(tmp.path(), "a");
    let hook = Webhook::start(with_metrics(&policy, &pki));
    let agent = client(&pki.ca);

    // Before any review: every series there, at zero.
    let s = scrape(&hook);
    for phase in ["validate", "mutate"] {
        for o in [
            "allowed",
            "denied",
            "exempt",
            "invalid",
            "bad_request",
            "failed",
        ] {
            assert_eq!(reviews(&s, phase, o), 0.0);
        }
        assert_eq!(
            s.get(&format!(
                "bulwark_admit_review_duration_seconds_count{{phase=\"{phase}\"}}"
            )),
            0.0
        );
    }
    assert_eq!(s.get("bulwark_admit_policy_rules"), 3.0);
    assert_eq!(s.get("bulwark_admit_signature_cache_hits_total"), 0.0);
    assert_eq!(s.get("bulwark_admit_signature_verifications_total"), 0.0);
    assert_eq!(s.get("bulwark_admit_tag_resolutions_total"), 0.0);
    assert_eq!(s.get("bulwark_admit_scans_total"), 0.0);
    // No server: its families are absent rather than zero.
    assert!(!s.has_family("bulwark_admit_server_decisions_recorded_total"));
    assert!(!s.has_family("bulwark_admit_report_placements_stored_total"));

    let validate = format!("{}/validate", hook.url);
    let mutate = format!("{}/mutate", hook.url);
    let good = pod("p", "nginx:1.27", json!({"team": "a"}));
    let unlabelled = pod("p", "nginx:1.27", json!({}));
    for _ in 0..2 {
        let r = admit(
            &agent,
            &validate,
            &review("CREATE", "dev", &good, None, &alice()),
        );
        assert_eq!(r["allowed"], true, "{r}");
    }
    let r = admit(
        &agent,
        &validate,
        &review("CREATE", "dev", &unlabelled, None, &alice()),
    );
    assert_eq!(r["allowed"], false, "{r}");
    let r = admit(
        &agent,
        &validate,
        &review("CREATE", "kube-system", &unlabelled, None, &alice()),
    );
    assert_eq!(r["allowed"], true, "{r}");
    // A readable review whose request is not: a denial, counted as invalid.
    let (status, body) = post(
        &agent,
        &validate,
        &json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {"uid": "u1"}}),
    );
    assert_eq!((status, &body["response"]["allowed"]), (200, &json!(false)));
    // Not an AdmissionReview with a uid: 400.
    for bad in [&b"{not json"[..], b"[]"] {
        let resp = agent.post(&validate).send(bad).unwrap();
        assert_eq!(resp.status().as_u16(), 400);
    }
    let r = admit(
        &agent,
        &mutate,
        &review("CREATE", "dev", &good, None, &alice()),
    );
    assert_eq!(r["allowed"], true, "{r}");
    let resp = agent.post(&mutate).send(&b"{}"[..]).unwrap();
    assert_eq!(resp.status().as_u16(), 400);

    let s = scrape(&hook);
    for (phase, outcome, n) in [
        ("validate", "allowed", 2.0),
        ("validate", "denied", 1.0),
        ("validate", "exempt", 1.0),
        ("validate", "invalid", 1.0),
        ("validate", "bad_request", 2.0),
        ("validate", "failed", 0.0),
        ("mutate", "allowed", 1.0),
        ("mutate", "denied", 0.0),
        ("mutate", "exempt", 0.0),
        ("mutate", "invalid", 0.0),
        ("mutate", "bad_request", 1.0),
        ("mutate", "failed", 0.0),
    ] {
        assert_eq!(reviews(&s, phase, outcome), n, "{phase} {outcome}");
    }
    for (phase, n, warm) in [("validate", 7.0, 4.0), ("mutate", 2.0, 1.0)] {
        assert_eq!(
            s.get(&format!(
                "bulwark_admit_review_duration_seconds_count{{phase=\"{phase}\"}}"
            )),
            n
        );
        assert!(
            s.get(&format!(
                "bulwark_admit_review_duration_seconds_sum{{phase=\"{phase}\"}}"
            )) > 0.0
        );
        // Nothing here needs a registry: every evaluation was warm.
        assert_eq!(
            s.get(&format!(
                "bulwark_admit_evaluations_total{{phase=\"{phase}\",path=\"warm\"}}"
            )),
            warm
        );
        assert_eq!(
            s.get(&format!(
                "bulwark_admit_evaluations_total{{phase=\"{phase}\",path=\"blocking\"}}"
            )),
            0.0
        );
    }
    // The in-process counters agree with the scrape.
    let m = &hook.running.as_ref().unwrap().metrics;
    assert_eq!(
        m.reviews(
            bulwark_policy::Phase::Validate,
            bulwark_admit::metrics::Outcome::Allowed
        ),
        2
    );

    // Served only on the metrics address, and only /metrics there.
    let resp = agent.get(format!("{}/metrics", hook.url)).call().unwrap();
    assert_eq!(resp.status().as_u16(), 404, "not on the TLS port");
    let maddr = hook.running.as_ref().unwrap().metrics_addr.unwrap();
    assert!(maddr.ip().is_loopback());
    let plain: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let resp = plain
        .post(format!("http://{maddr}/validate"))
        .send(&b"{}"[..])
        .unwrap();
    assert_eq!(
        resp.status().as_u16(),
        404,
        "no webhook on the metrics port"
    );

    // Policy: a refused reload, then an accepted one.
    replace(
        &policy,
        POLICY
            .replace(
                "requireLabels: [team]",
                "requireLabels: [team]\n    colour: red",
            )
            .as_bytes(),
    );
    let s = scrape_until(&hook, "failed policy reload", |s| {
        s.get("bulwark_admit_policy_reloads_total{result=\"failed\"}") >= 1.0
    });
    assert_eq!(
        s.get("bulwark_admit_policy_reloads_total{result=\"failed\"}"),
        1.0
    );
    assert_eq!(
        s.get("bulwark_admit_policy_reloads_total{result=\"ok\"}"),
        0.0
    );
    assert_eq!(s.get("bulwark_admit_policy_rules"), 3.0, "last good kept");
    replace(
        &policy,
        b"apiVersion: bulwark.dev/v1alpha1\nkind: AdmissionPolicy\nrules:\n  - name: b\n    podSecurity: {level: baseline}\n",
    );
    let s = scrape_until(&hook, "policy reload", |s| {
        s.get("bulwark_admit_policy_reloads_total{result=\"ok\"}") >= 1.0
    });
    assert_eq!(
        s.get("bulwark_admit_policy_reloads_total{result=\"ok\"}"),
        1.0
    );
    assert_eq!(
        s.get("bulwark_admit_policy_reloads_total{result=\"failed\"}"),
        1.0
    );
    assert_eq!(s.get("bulwark_admit_policy_rules"), 1.0);

    // Certificate: another CA's certificate without its key is refused; with the key,
    // it is served.
    assert_eq!(
        s.get("bulwark_admit_certificate_reloads_total{result=\"ok\"}"),
        0.0
    );
    let second = make_pki(tmp.path(), "b");
    replace(&pki.cert, &std::fs::read(&second.cert).unwrap());
    let s = scrape_until(&hook, "failed certificate reload", |s| {
        s.get("bulwark_admit_certificate_reloads_total{result=\"failed\"}") >= 1.0
    });
    assert_eq!(
        s.get("bulwark_admit_certificate_reloads_total{result=\"failed\"}"),
        1.0
    );
    assert_eq!(
        s.get("bulwark_admit_certificate_reloads_total{result=\"ok\"}"),
        0.0
    );
    replace(&pki.key, &std::fs::read(&second.key).unwrap());
    let s = scrape_until(&hook, "certificate reload", |s| {
        s.get("bulwark_admit_certificate_reloads_total{result=\"ok\"}") >= 1.0
    });
    assert_eq!(
        s.get("bulwark_admit_certificate_reloads_total{result=\"ok\"}"),
        1.0
    );
    assert_eq!(
        s.get("bulwark_admit_certificate_reloads_total{result=\"failed\"}"),
        1.0
    );
    let r = client(&second.ca)
        .get(format!("{}/healthz", hook.url))
        .call()
        .unwrap();
    assert_eq!(r.status(), 200, "the new certificate is served");
    // Reloads are not reviews.
    assert_eq!(
        s.get("bulwark_admit_review_duration_seconds_count{phase=\"validate\"}"),
        7.0
    );
}

/// A review past the deadline (a registry that never answers) is denied, counted as
/// failed, evaluated on the blocking pool, and its latency lands past the deadline.
/// Without `metrics_listen` nothing more listens, and the counters still count.
#[test]
fn deadline_is_a_failed_review_on_the_blocking_path() {
    let hang = bulwark_testkit::hanging_listener();
    let tmp = tempfile::tempdir().unwrap();
    let key = bulwark_sign::PrivateKey::generate(bulwark_sign::Algorithm::EcdsaP256);
    std::fs::write(
        tmp.path().join("cosign.pub"),
        key.public_key().to_pem().unwrap(),
    )
    .unwrap();
    let policy = tmp.path().join("policy.yaml");
    std::fs::write(
        &policy,
        "apiVersion: bulwark.dev/v1alpha1\nkind: AdmissionPolicy\nsettings:\n  timeouts: {resolve: 5s, signature: 5s}\nrules:\n  - name: signed\n    verifyImages:\n      - images: [\"*\"]\n        keys: [cosign.pub]\n",
    )
    .unwrap();
    let pki = make_pki(tmp.path(), "a");
    let mut c = with_metrics(&policy, &pki);
    c.deadline = Duration::from_millis(300);
    c.registry = bulwark_image::registry::RegistryConfig {
        ca_file: Some(pki.ca.clone()),
        ..Default::default()
    };
    let hook = Webhook::start(c);
    let agent = client(&pki.ca);
    let p = pod("p", &format!("{}/app:1", hang.host()), json!({}));
    let r = admit(
        &agent,
        &format!("{}/validate", hook.url),
        &review("CREATE", "dev", &p, None, &alice()),
    );
    assert_eq!(r["allowed"], false, "{r}");
    assert!(
        r["status"]["message"]
            .as_str()
            .unwrap()
            .contains("deadline"),
        "{r}"
    );
    let s = scrape(&hook);
    assert_eq!(reviews(&s, "validate", "failed"), 1.0);
    assert_eq!(reviews(&s, "validate", "denied"), 0.0);
    assert_eq!(
        s.get("bulwark_admit_evaluations_total{phase=\"validate\",path=\"blocking\"}"),
        1.0
    );
    assert_eq!(
        s.get("bulwark_admit_evaluations_total{phase=\"validate\",path=\"warm\"}"),
        0.0
    );
    // The handler waited at least the 300 ms deadline: not in the 0.25 s bucket.
    let b = "bulwark_admit_review_duration_seconds_bucket{phase=\"validate\",le=";
    assert_eq!(s.get(&format!("{b}\"0.25\"}}")), 0.0);
    assert_eq!(s.get(&format!("{b}\"+Inf\"}}")), 1.0);
    assert!(s.get("bulwark_admit_review_duration_seconds_sum{phase=\"validate\"}") >= 0.3);
    drop(hook);

    // Off by default: no metrics address, the counters still kept in process.
    let hook = Webhook::start(config(&policy, &pki));
    let running = hook.running.as_ref().unwrap();
    assert!(running.metrics_addr.is_none());
    let resp = agent
        .post(format!("{}/validate", hook.url))
        .send(&b"[]"[..])
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    assert_eq!(
        running.metrics.reviews(
            bulwark_policy::Phase::Validate,
            bulwark_admit::metrics::Outcome::BadRequest
        ),
        1
    );
}

/// A metrics address that cannot be bound refuses to start, naming it.
#[test]
fn metrics_address_in_use_refuses_to_start() {
    let tmp = tempfile::tempdir().unwrap();
    let policy = tmp.path().join("policy.yaml");
    std::fs::write(&policy, POLICY).unwrap();
    let pki = make_pki(tmp.path(), "a");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let mut c = config(&policy, &pki);
    c.metrics_listen = Some(addr);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let err = rt.block_on(bulwark_admit::start(c)).err().unwrap();
    assert!(err.to_string().contains(&addr.to_string()), "{err}");
}
