//! Fuzz target `admission`: arbitrary bytes as what the admission webhook and
//! `bulwark policy test` read — an AdmissionReview (JSON) and a manifest stream (YAML
//! 1.1, `*List` kinds) — each object then evaluated, mutate and validate, against a
//! policy with every offline rule kind (pinning, registries, labels, resources, PSS).
//! Errors and denials are expected; any panic, hang or runaway allocation is a bug.
#![no_main]

use bulwark_policy::{admit, offline, schema, Offline, Policy, Request};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

const POLICY: &str = r#"
apiVersion: bulwark.dev/v1alpha1
kind: AdmissionPolicy
rules:
  - name: pin
    pinDigests: {}
  - name: registries
    allowedRegistries: ["registry.example.com/*", "docker.io/library/*"]
  - name: labels
    requireLabels: [team]
    mode: audit
  - name: resources
    requireResources: {requests: [cpu, memory], limits: [memory]}
  - name: pss
    podSecurity: {level: restricted, version: latest}
"#;

fn policy() -> Option<&'static Policy> {
    static P: OnceLock<Option<Policy>> = OnceLock::new();
    P.get_or_init(|| schema::parse("policy.yaml", std::path::Path::new("."), POLICY).ok())
        .as_ref()
}

fuzz_target!(|data: &[u8]| {
    // The harness's own policy must load: a failure here is a bug, not an input.
    let Some(p) = policy() else {
        panic!("the fuzz policy does not load")
    };
    if let Ok(review) = serde_json::from_slice::<serde_json::Value>(data) {
        if let Ok(req) = Request::from_review(&review) {
            let _ = admit(p, &Offline, &req);
        }
    }
    if let Ok(items) = offline::parse("input.yaml", data, "default") {
        for item in items {
            if let Ok(req) = item.request {
                let _ = admit(p, &Offline, &req);
            }
        }
    }
});
