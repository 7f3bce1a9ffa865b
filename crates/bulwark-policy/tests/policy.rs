//! The policy engine without a network: schema validation (errors name file, field
//! and problem), selection, exemptions, audit mode, failure directions with
//! dependencies that are down, digest pinning applied and re-validated, Rego, and
//! manifests / AdmissionReview files read for `policy test`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test may panic: that is its failure

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bulwark_policy::deps::{DepError, Dependencies, ImageRef, Offline};
use bulwark_policy::schema::{parse, VerifyEntry};
use bulwark_policy::{admit, evaluate, Phase, Request};
use serde_json::{json, Value};

const HEAD: &str = "apiVersion: bulwark.dev/v1alpha1\nkind: AdmissionPolicy\n";

fn err(text: &str) -> String {
    parse("p.yaml", Path::new("."), text)
        .unwrap_err()
        .to_string()
}

#[test]
fn schema_errors_name_the_field() {
    let cases = [
        (format!("{HEAD}rules:\n  - name: a\n    podSecurity: {{level: strict}}\n"), "p.yaml: rules[0].podSecurity.level: unknown Pod Security Standards level \"strict\""),
        (format!("{HEAD}rules:\n  - name: a\n    podSecurity: {{level: baseline, colour: red}}\n"), "p.yaml: rules[0].podSecurity.colour: unknown field `colour`, expected `level` or `version` at line 5"),
        (format!("{HEAD}rules:\n  - name: a\n    mode: warn\n    requireLabels: [x]\n"), "p.yaml: rules[0].mode: unknown variant `warn`"),
        (format!("{HEAD}rules:\n  - name: a\n    requireLabels: [x]\n    rego: x.rego\n"), "p.yaml: rules[0]: exactly one of"),
        (format!("{HEAD}rules:\n  - name: a\n"), "found none"),
        (format!("{HEAD}rules:\n  - name: a\n    requireLabels: [x]\n  - name: a\n    requireLabels: [y]\n"), "p.yaml: rules[1].name: \"a\" is used by an earlier rule"),
        (format!("{HEAD}settings:\n  timeouts: {{signature: 2 seconds}}\n"), "p.yaml: settings.timeouts.signature: invalid duration"),
        (format!("{HEAD}settings:\n  timeouts: {{signature: 60s}}\n"), "between 1ms and 30s"),
        (format!("{HEAD}rules:\n  - name: a\n    allowedRegistries: []\n"), "rules[0].allowedRegistries: an empty allow-list"),
        (format!("{HEAD}rules:\n  - name: a\n    vulnerabilities: {{maxEpss: 3}}\n"), "rules[0].vulnerabilities.maxEpss: 3 is not a probability"),
        (format!("{HEAD}rules:\n  - name: a\n    verifyImages:\n      - images: ['*']\n        keys: [nope.pub]\n"), "rules[0].verifyImages[0].keys[0]: ./nope.pub"),
        (format!("{HEAD}rules:\n  - name: a\n    verifyImages:\n      - images: ['*']\n        identities: [{{subject: a, issuer: b}}]\n"), "rules[0].verifyImages[0].trustedRoot: keyless identities need a trusted root"),
        (format!("{HEAD}rules:\n  - name: a\n    match: {{kinds: [Service]}}\n    requireLabels: [x]\n"), "rules[0].match.kinds[0]: \"Service\" is not a pod-owning kind"),
        (format!("{HEAD}exemptions:\n  serviceAccounts: [deployer]\n"), "exemptions.serviceAccounts[0]: \"deployer\" is not NAMESPACE/NAME"),
        (format!("{HEAD}rules:\n  - name: a\n    onError: maybe\n    requireLabels: [x]\n"), "rules[0].onError: unknown variant `maybe`"),
        ("apiVersion: v1\nkind: AdmissionPolicy\n".to_string(), "p.yaml: apiVersion: \"v1\" is not bulwark.dev/v1alpha1"),
        (format!("{HEAD}rules:\n  - name: a\n    requireLabels: [x]\n    requireLabels: [y]\n"), "duplicate"),
        ("rules: [".to_string(), "p.yaml: rules: did not find expected node content at line 2"),
    ];
    for (text, want) in cases {
        let got = err(&text);
        assert!(got.contains(want), "want {want:?} in {got:?}\nfor:\n{text}");
    }
}

fn policy(rules: &str) -> bulwark_policy::Policy {
    parse("p.yaml", Path::new("."), &format!("{HEAD}{rules}")).unwrap()
}

fn pod(image: &str, labels: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "labels": labels},
           "spec": {"containers": [{"name": "c", "image": image}]}})
}

/// Dependencies answering from fixed tables (the registry's behaviour is tested over
/// the network in bulwark-admit).
struct Fake {
    digest: Result<String, DepError>,
    verified: bool,
    vulns: Vec<bulwark_core::VulnFinding>,
}

impl Dependencies for Fake {
    fn resolve(&self, i: &ImageRef, _: Duration) -> Result<String, DepError> {
        match i.digest() {
            Some(d) => Ok(d.to_string()),
            None => self.digest.clone(),
        }
    }
    fn verify(
        &self,
        _: &ImageRef,
        _: &str,
        _: &VerifyEntry,
        _: Duration,
    ) -> Result<Result<(), String>, DepError> {
        Ok(if self.verified {
            Ok(())
        } else {
            Err("no valid signature".into())
        })
    }
    fn vulnerabilities(
        &self,
        _: &ImageRef,
        _: &str,
        _: Duration,
        _: bulwark_policy::deps::VulnNeeds,
    ) -> Result<Arc<Vec<bulwark_core::VulnFinding>>, DepError> {
        Ok(Arc::new(self.vulns.clone()))
    }
}

const DIGEST: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";

#[test]
fn pinning_patch_applies_and_revalidates() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("pinned.rego"),
        "package admission.pinned\nimport rego.v1\ndeny contains msg if {\n  some c in input.pod.spec.containers\n  not contains(c.image, \"@sha256:\")\n  msg := sprintf(\"container %s is not pinned\", [c.name])\n}\n",
    )
    .unwrap();
    std::fs::write(
        tmp.path().join("p.yaml"),
        format!("{HEAD}rules:\n  - name: pin\n    pinDigests: {{}}\n  - name: only-pinned\n    rego: pinned.rego\n"),
    )
    .unwrap();
    let p = bulwark_policy::load(&tmp.path().join("p.yaml")).unwrap();
    let deps = Fake {
        digest: Ok(DIGEST.into()),
        verified: true,
        vulns: vec![],
    };
    let req = Request::from_object(pod("nginx:1.27", json!({})), "default");
    // Without mutation, the Rego rule denies.
    let v = evaluate(&p, &deps, &req, Phase::Validate);
    assert!(!v.allowed);
    assert_eq!(v.reasons, ["only-pinned: container c is not pinned"]);
    // Mutation gives the patch; admit() applies it and validation passes.
    let m = evaluate(&p, &deps, &req, Phase::Mutate);
    assert_eq!(
        m.patch,
        [
            json!({"op": "replace", "path": "/spec/containers/0/image", "value": format!("nginx:1.27@{DIGEST}")})
        ]
    );
    let (d, patched) = admit(&p, &deps, &req);
    assert!(d.allowed, "{d:?}");
    assert_eq!(
        patched["spec"]["containers"][0]["image"],
        format!("nginx:1.27@{DIGEST}")
    );
    // Registry down: fail closed by default.
    let down = Fake {
        digest: Err(DepError::Unavailable("connection refused".into())),
        verified: true,
        vulns: vec![],
    };
    let (d, _) = admit(&p, &down, &req);
    assert!(!d.allowed);
    assert!(
        d.reasons[0].starts_with("pin: cannot check (connection refused); onError: deny"),
        "{:?}",
        d.reasons
    );
}

#[test]
fn on_error_directions_offline() {
    let tmp = tempfile::tempdir().unwrap();
    let key = bulwark_sign::PrivateKey::generate(bulwark_sign::Algorithm::EcdsaP256);
    std::fs::write(tmp.path().join("k.pub"), key.public_key().to_pem().unwrap()).unwrap();
    std::fs::write(
        tmp.path().join("p.yaml"),
        format!("{HEAD}rules:\n  - name: closed\n    match: {{namespaces: [a]}}\n    verifyImages: [{{images: ['*'], keys: [k.pub]}}]\n  - name: open\n    match: {{namespaces: [b]}}\n    onError: allow\n    verifyImages: [{{images: ['*'], keys: [k.pub]}}]\n  - name: audit\n    match: {{namespaces: [c]}}\n    mode: audit\n    vulnerabilities: {{noKev: true}}\n"),
    )
    .unwrap();
    let p = bulwark_policy::load(&tmp.path().join("p.yaml")).unwrap();
    let mut req = Request::from_object(pod("nginx", json!({})), "a");
    let d = evaluate(&p, &Offline, &req, Phase::Validate);
    assert!(!d.allowed);
    assert!(
        d.reasons[0].contains("closed: cannot check"),
        "{:?}",
        d.reasons
    );
    req.namespace = "b".into();
    let d = evaluate(&p, &Offline, &req, Phase::Validate);
    assert!(d.allowed);
    assert!(
        d.warnings[0].starts_with("open: not checked"),
        "{:?}",
        d.warnings
    );
    req.namespace = "c".into();
    let d = evaluate(&p, &Offline, &req, Phase::Validate);
    assert!(
        d.allowed,
        "audit rules never deny, even when their dependency is down"
    );
    assert_eq!(d.warnings.len(), 1);
}

#[test]
fn vulnerability_gates() {
    let p = policy("rules:\n  - name: vulns\n    vulnerabilities: {noCriticalWithFix: true, noKev: true, maxEpss: 0.5}\n");
    let finding = |id: &str, sev: bulwark_core::Severity, fixed: bool, kev: bool, epss: f64| {
        serde_json::from_value::<bulwark_core::VulnFinding>(json!({
            "id": id, "package": "openssl", "purl": "pkg:deb/debian/openssl@3.0.1",
            "installed_version": "3.0.1", "fixed_versions": if fixed { vec!["3.0.2"] } else { vec![] },
            "status": if fixed { "fixed" } else { "affected" },
            "severity": sev, "kev": kev, "epss": [epss, 0.9],
        }))
        .unwrap()
    };
    use bulwark_core::Severity::*;
    let req = Request::from_object(pod(&format!("nginx@{DIGEST}"), json!({})), "default");
    for (vulns, denied) in [
        (vec![finding("CVE-1", Critical, false, false, 0.1)], false),
        (vec![finding("CVE-2", Critical, true, false, 0.1)], true),
        (vec![finding("CVE-3", Medium, false, true, 0.1)], true),
        (vec![finding("CVE-4", Low, false, false, 0.7)], true),
        (vec![finding("CVE-5", High, true, false, 0.2)], false),
    ] {
        let id = vulns[0].id.clone();
        let deps = Fake {
            digest: Ok(DIGEST.into()),
            verified: true,
            vulns,
        };
        let d = evaluate(&p, &deps, &req, Phase::Validate);
        assert_eq!(!d.allowed, denied, "{id}: {:?}", d.reasons);
        if denied {
            assert!(d.reasons[0].contains(&id));
        }
    }
}

#[test]
fn manifests_and_reviews_are_read() {
    let tmp = tempfile::tempdir().unwrap();
    let m = tmp.path().join("m.yaml");
    std::fs::write(
        &m,
        "apiVersion: v1\nkind: Service\nmetadata: {name: s}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d, namespace: prod}\nspec:\n  template:\n    metadata: {labels: {app: d}}\n    spec:\n      hostNetwork: yes\n      containers: [{name: c, image: nginx}]\n---\napiVersion: v1\nkind: List\nitems:\n  - {apiVersion: v1, kind: Pod, metadata: {name: p}, spec: {containers: [{name: c, image: nginx}]}}\n",
    )
    .unwrap();
    let items = bulwark_policy::offline::read(&m, "default").unwrap();
    assert_eq!(items.len(), 3);
    assert!(items[0].request.is_err(), "Service skipped");
    let d = items[1].request.as_ref().unwrap();
    assert_eq!(
        (d.kind.as_str(), d.namespace.as_str()),
        ("Deployment", "prod")
    );
    // YAML 1.1 boolean, as the API server reads it.
    assert_eq!(
        d.object["spec"]["template"]["spec"]["hostNetwork"],
        json!(true)
    );
    let p = items[2].request.as_ref().unwrap();
    assert_eq!(
        (p.kind.as_str(), p.namespace.as_str(), p.name.as_str()),
        ("Pod", "default", "p")
    );
    let r = tmp.path().join("r.json");
    std::fs::write(&r, json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "request": {"uid": "x", "kind": {"group": "", "version": "v1", "kind": "Pod"}, "operation": "CREATE",
                    "namespace": "ns1", "userInfo": {"username": "u", "groups": ["g"]},
                    "object": pod("nginx", json!({}))}}).to_string()).unwrap();
    let items = bulwark_policy::offline::read(&r, "default").unwrap();
    let req = items[0].request.as_ref().unwrap();
    assert_eq!(
        (
            req.uid.as_str(),
            req.namespace.as_str(),
            req.user.username.as_str()
        ),
        ("x", "ns1", "u")
    );
    std::fs::write(
        &r,
        "{\"apiVersion\": \"admission.k8s.io/v1\", \"kind\": \"AdmissionReview\"}",
    )
    .unwrap();
    assert!(bulwark_policy::offline::read(&r, "default")
        .unwrap_err()
        .to_string()
        .contains("no request"));
    assert!(bulwark_policy::offline::read(&tmp.path().join("missing.yaml"), "default").is_err());
}

/// The live dependencies without a vulnerability source: a vulnerability gate cannot
/// clear an image, so it denies by default (and only warns with `onError: allow`).
#[test]
fn vulnerability_gate_without_a_source_fails_closed() {
    let p = policy("rules:\n  - name: vulns\n    match: {namespaces: [a]}\n    vulnerabilities: {noKev: true}\n  - name: vulns-open\n    match: {namespaces: [b]}\n    onError: allow\n    vulnerabilities: {noKev: true}\n");
    let live = bulwark_policy::Live::new(Default::default(), &p.settings, None);
    let mut req = Request::from_object(pod(&format!("nginx@{DIGEST}"), json!({})), "a");
    let d = evaluate(&p, &live, &req, Phase::Validate);
    assert!(!d.allowed);
    assert!(
        d.reasons[0].contains("no vulnerability source configured"),
        "{:?}",
        d.reasons
    );
    req.namespace = "b".into();
    let d = evaluate(&p, &live, &req, Phase::Validate);
    assert!(d.allowed);
    assert!(
        d.warnings[0].starts_with("vulns-open: not checked"),
        "{:?}",
        d.warnings
    );
}

/// [`Fake`] with a cache in front: `cached` says whether every answer is in memory.
struct Warm {
    deps: Fake,
    cached: bool,
}

impl Dependencies for Warm {
    fn resolve(&self, i: &ImageRef, b: Duration) -> Result<String, DepError> {
        self.deps.resolve(i, b)
    }
    fn verify(
        &self,
        i: &ImageRef,
        d: &str,
        e: &VerifyEntry,
        b: Duration,
    ) -> Result<Result<(), String>, DepError> {
        self.deps.verify(i, d, e, b)
    }
    fn vulnerabilities(
        &self,
        i: &ImageRef,
        d: &str,
        b: Duration,
        n: bulwark_policy::deps::VulnNeeds,
    ) -> Result<Arc<Vec<bulwark_core::VulnFinding>>, DepError> {
        self.deps.vulnerabilities(i, d, b, n)
    }
    fn resolve_cached(&self, i: &ImageRef) -> Option<Result<String, DepError>> {
        (self.cached || i.digest().is_some()).then(|| self.deps.resolve(i, Duration::ZERO))
    }
    fn verify_cached(
        &self,
        i: &ImageRef,
        d: &str,
        e: &VerifyEntry,
    ) -> Option<Result<Result<(), String>, DepError>> {
        self.cached
            .then(|| self.deps.verify(i, d, e, Duration::ZERO))
    }
}

/// The webhook decides warm requests on its async thread with `evaluate_warm`: its
/// answer must be exactly `evaluate`'s, and it must give up (not guess) on a miss.
#[test]
fn warm_evaluation_is_the_full_evaluation_or_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let key = bulwark_sign::PrivateKey::generate(bulwark_sign::Algorithm::EcdsaP256);
    std::fs::write(tmp.path().join("k.pub"), key.public_key().to_pem().unwrap()).unwrap();
    std::fs::write(
        tmp.path().join("p.yaml"),
        format!("{HEAD}rules:\n  - name: pin\n    pinDigests: {{}}\n  - name: signed\n    verifyImages: [{{images: ['*'], keys: [k.pub]}}]\n  - name: team\n    requireLabels: [team]\n  - name: pss\n    podSecurity: {{level: restricted}}\n"),
    )
    .unwrap();
    let p = bulwark_policy::load(&tmp.path().join("p.yaml")).unwrap();
    let tagged = Request::from_object(pod("nginx:1.27", json!({})), "default");
    let pinned = Request::from_object(
        pod(&format!("nginx:1.27@{DIGEST}"), json!({"team": "a"})),
        "default",
    );
    let deps = |verified, cached| Warm {
        deps: Fake {
            digest: Ok(DIGEST.into()),
            verified,
            vulns: vec![],
        },
        cached,
    };
    let mut seen = std::collections::BTreeSet::new();
    for req in [&tagged, &pinned] {
        for phase in [Phase::Mutate, Phase::Validate] {
            for verified in [true, false] {
                let d = deps(verified, true);
                let full = serde_json::to_value(evaluate(&p, &d, req, phase)).unwrap();
                let warm = bulwark_policy::evaluate_warm(&p, &d, req, phase)
                    .expect("every answer is cached");
                assert_eq!(serde_json::to_value(warm).unwrap(), full);
                seen.insert((full["allowed"].as_bool(), full["patch"].to_string()));
                // Nothing cached: no decision, however it would have come out — except
                // mutating a pinned pod, which needs no registry at all.
                let cold = deps(verified, false);
                let expect_warm = phase == Phase::Mutate && std::ptr::eq(req, &pinned);
                assert_eq!(
                    bulwark_policy::evaluate_warm(&p, &cold, req, phase).is_some(),
                    expect_warm,
                    "{phase:?} {}",
                    req.object
                );
            }
        }
    }
    // The cases above differ (allowed and denied, with and without a patch), so the
    // equality is not between four identical answers.
    assert!(seen.len() >= 3, "{seen:?}");
    // A Rego rule always goes to the blocking pool, even when everything is cached.
    std::fs::write(
        tmp.path().join("r.rego"),
        "package admission.r\nimport rego.v1\ndeny contains msg if {\n  false\n  msg := \"never\"\n}\n",
    )
    .unwrap();
    std::fs::write(
        tmp.path().join("r.yaml"),
        format!("{HEAD}rules:\n  - name: r\n    rego: r.rego\n"),
    )
    .unwrap();
    let r = bulwark_policy::load(&tmp.path().join("r.yaml")).unwrap();
    assert!(
        bulwark_policy::evaluate_warm(&r, &deps(true, true), &pinned, Phase::Validate).is_none()
    );
}
