//! `netpol suggest` round trip: the policies written from a flow file, analysed together
//! with the observed workloads, allow exactly the observed flows — every observed flow,
//! and nothing else between those workloads or to and from the outside.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};

use bulwark_k8s::load::{load_bytes, Loaded};
use bulwark_k8s::netpol::{Endpoint, Model, Proto};
use bulwark_k8s::suggest::{parse_flows, suggest, FlowFile};

const FLOWS: &str = r#"{
  "version": 1,
  "flows": [
    {"source": {"namespace": "shop", "workload": "Deployment/web", "labels": {"app": "web"}},
     "destination": {"namespace": "shop", "workload": "Deployment/api", "labels": {"app": "api"}},
     "port": 8080, "protocol": "TCP", "first_seen": "2026-12-01T10:00:00Z", "last_seen": "2026-12-02T09:00:00Z", "count": 5120},
    {"source": {"namespace": "shop", "workload": "Deployment/api", "labels": {"app": "api"}},
     "destination": {"namespace": "data", "workload": "StatefulSet/pg", "labels": {"app": "pg"}},
     "port": 5432, "protocol": "TCP", "count": 900},
    {"source": {"namespace": "shop", "workload": "Deployment/api", "labels": {"app": "api"}},
     "destination": {"namespace": "shop", "workload": "Deployment/api-canary", "labels": {"app": "api", "track": "canary"}},
     "port": 8081, "protocol": "TCP", "count": 3},
    {"source": {"namespace": "shop", "workload": "Deployment/api", "labels": {"app": "api"}},
     "destination": {"namespace": "shop", "workload": "Deployment/api-canary", "labels": {"app": "api", "track": "canary"}},
     "port": 8082, "protocol": "TCP", "count": 3},
    {"source": {"namespace": "shop", "workload": "Deployment/api", "labels": {"app": "api"}},
     "destination": {"namespace": "kube-system", "workload": "Deployment/coredns", "labels": {"k8s-app": "kube-dns"}},
     "port": 53, "protocol": "UDP", "count": 77},
    {"source": {"ip": "203.0.113.7"},
     "destination": {"namespace": "shop", "workload": "Deployment/web", "labels": {"app": "web"}},
     "port": 443, "protocol": "TCP", "count": 10},
    {"source": {"namespace": "data", "workload": "StatefulSet/pg", "labels": {"app": "pg"}},
     "destination": {"cidr": "198.51.100.0/24"},
     "port": 443, "protocol": "TCP", "count": 1}
  ]
}"#;

/// The workloads of the flows as pod manifests, so the analysis has pods to select.
fn pods(f: &FlowFile) -> String {
    let mut seen = BTreeSet::new();
    let mut out = String::new();
    for fl in &f.flows {
        for e in [&fl.source, &fl.destination] {
            let (Some(ns), Some(labels), Some(w)) = (&e.namespace, &e.labels, &e.workload) else {
                continue;
            };
            if !seen.insert((ns.clone(), w.clone())) {
                continue;
            }
            let name = w.rsplit('/').next().unwrap();
            let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}: {v}")).collect();
            out.push_str(&format!(
                "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  namespace: {ns}\n  labels: {{{}}}\nspec:\n  containers: [{{name: c, image: x}}]\n",
                labels.join(", ")
            ));
        }
    }
    out
}

#[test]
fn suggested_policies_allow_exactly_the_observed_flows() {
    let flows = parse_flows("flows.json", FLOWS.as_bytes()).unwrap();
    let s = suggest("flows.json", &flows).unwrap();
    assert!(s.warnings.is_empty(), "{:?}", s.warnings);
    assert_eq!(s.policies.len(), 5);
    let yaml = s.to_yaml();
    let mut l = Loaded::default();
    load_bytes("pods.yaml", pods(&flows).as_bytes(), &mut l);
    load_bytes("suggested.yaml", yaml.as_bytes(), &mut l);
    let m = Model::build(&mut l);
    assert!(l.unreadable.is_empty(), "{:?}\n{yaml}", l.unreadable);
    assert_eq!(m.policies.len(), 5);
    let c = m.connectivity(&[]);
    // Every allowed (src, dst, proto, port) — expanded — must be an observed flow.
    let mut got: BTreeMap<(String, String), BTreeSet<(Proto, u16)>> = BTreeMap::new();
    for ((s, d), conns) in &c.allowed {
        let name = |e: &Endpoint| m.name(&c, *e);
        for (p, a, b) in conns.ranges() {
            assert!(
                u32::from(b) - u32::from(a) < 100,
                "{} -> {} allows {}\n{yaml}",
                name(s),
                name(d),
                conns.display()
            );
            for port in a..=b {
                got.entry((name(s), name(d))).or_default().insert((p, port));
            }
        }
    }
    let mut want: BTreeMap<(String, String), BTreeSet<(Proto, u16)>> = BTreeMap::new();
    let w = |ns: &str, kind: &str, n: &str| format!("{ns}/{kind}/{n}");
    let mut add = |s: String, d: String, p: Proto, port: u16| {
        want.entry((s, d)).or_default().insert((p, port));
    };
    add(
        w("shop", "Pod", "web"),
        w("shop", "Pod", "api"),
        Proto::Tcp,
        8080,
    );
    add(
        w("shop", "Pod", "api"),
        w("data", "Pod", "pg"),
        Proto::Tcp,
        5432,
    );
    add(
        w("shop", "Pod", "api"),
        w("shop", "Pod", "api-canary"),
        Proto::Tcp,
        8081,
    );
    add(
        w("shop", "Pod", "api"),
        w("shop", "Pod", "api-canary"),
        Proto::Tcp,
        8082,
    );
    add(
        w("shop", "Pod", "api"),
        w("kube-system", "Pod", "coredns"),
        Proto::Udp,
        53,
    );
    add(
        "external 203.0.113.7/32".into(),
        w("shop", "Pod", "web"),
        Proto::Tcp,
        443,
    );
    add(
        w("data", "Pod", "pg"),
        "external 198.51.100.0/24".into(),
        Proto::Tcp,
        443,
    );
    assert_eq!(got, want, "\n{yaml}");
    // Adjacent ports were merged into one endPort range.
    assert!(yaml.contains("endPort: 8082"), "{yaml}");
    // The canary shares app=api: api's policy excludes it with DoesNotExist.
    assert!(yaml.contains("operator: DoesNotExist"), "{yaml}");
}

#[test]
fn bad_flow_files_name_the_problem() {
    let e = parse_flows("f.json", b"{\"version\": 1, \"flows\": [ {\"port\": 1}").unwrap_err();
    assert!(e.to_string().starts_with("f.json: line 1"), "{e}");
    let f = parse_flows(
        "f.json",
        br#"{"version": 1, "flows": [{"source": {"namespace": "a"}, "destination": {"ip": "10.0.0.1"}, "port": 80, "protocol": "TCP"}]}"#,
    )
    .unwrap();
    let e = suggest("f.json", &f).unwrap_err();
    assert_eq!(
        e.to_string(),
        "f.json: flows[0]: source needs namespace and labels, or ip/cidr"
    );
    let f = parse_flows(
        "f.json",
        br#"{"version": 1, "flows": [{"source": {"ip": "1.2.3.4"}, "destination": {"namespace": "a", "labels": {"x": "y"}}, "port": 80, "protocol": "ICMP"}]}"#,
    )
    .unwrap();
    assert!(suggest("f.json", &f)
        .unwrap_err()
        .to_string()
        .contains("unknown protocol"));
}
