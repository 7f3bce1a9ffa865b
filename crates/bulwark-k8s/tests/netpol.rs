//! NetworkPolicy connectivity on the Kubernetes NetworkPolicy documentation's examples and
//! the common recipes (default deny ingress/egress/all, allow from a namespace, ipBlock
//! with except, egress to DNS only, named ports, endPort, AND vs OR peers, policyTypes
//! defaulting), each with its expected connectivity matrix written out.
//!
//! The cluster: `default` holds web (app=web, role=frontend, port http 8080) and db
//! (app=db, port pg 5432); `other` (labels team=other, project=myproject) holds client
//! (app=client, role=frontend); `kube-system` holds coredns (k8s-app=kube-dns, ports dns
//! 53/UDP and dns-tcp 53/TCP). A matrix row lists, for one source, what it may open to
//! every destination in the order web, db, client, dns, then external probe addresses
//! 10.0.0.5, 172.17.0.5, 172.17.1.5 and 8.8.8.8 ("-" itself, "none" nothing).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bulwark_k8s::load::{load_bytes, Loaded};
use bulwark_k8s::netpol::{diff, Model, Sensitive};

const CLUSTER: &str = r#"
apiVersion: v1
kind: Namespace
metadata: {name: default}
---
apiVersion: v1
kind: Namespace
metadata: {name: other, labels: {team: other, project: myproject}}
---
apiVersion: v1
kind: Namespace
metadata: {name: kube-system}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: default}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web, role: frontend}}
    spec:
      containers:
      - name: web
        image: nginx:1.27
        ports: [{name: http, containerPort: 8080}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: db, namespace: default}
spec:
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers:
      - name: db
        image: postgres:16
        ports: [{name: pg, containerPort: 5432}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: client, namespace: other}
spec:
  selector: {matchLabels: {app: client}}
  template:
    metadata: {labels: {app: client, role: frontend}}
    spec:
      containers: [{name: c, image: curl:8}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: coredns, namespace: kube-system}
spec:
  selector: {matchLabels: {k8s-app: kube-dns}}
  template:
    metadata: {labels: {k8s-app: kube-dns}}
    spec:
      containers:
      - name: coredns
        image: coredns:1.11
        ports:
        - {name: dns, containerPort: 53, protocol: UDP}
        - {name: dns-tcp, containerPort: 53, protocol: TCP}
"#;

const PODS: [(&str, &str); 4] = [
    ("web", "default/Deployment/web"),
    ("db", "default/Deployment/db"),
    ("client", "other/Deployment/client"),
    ("dns", "kube-system/Deployment/coredns"),
];
const PROBES: [&str; 4] = ["10.0.0.5", "172.17.0.5", "172.17.1.5", "8.8.8.8"];

fn model(policies: &str) -> Model {
    let mut l = Loaded::default();
    load_bytes("cluster.yaml", CLUSTER.as_bytes(), &mut l);
    if !policies.is_empty() {
        load_bytes("policies.yaml", policies.as_bytes(), &mut l);
    }
    let m = Model::build(&mut l);
    assert!(l.unreadable.is_empty(), "{:?}", l.unreadable);
    m
}

/// The full matrix, one row per source (pods, then probe addresses as sources).
fn matrix(m: &Model) -> Vec<String> {
    let c = m.connectivity(&[]);
    let mut rows = Vec::new();
    let cols: Vec<(&str, &str)> = PODS
        .iter()
        .copied()
        .chain(PROBES.iter().map(|p| (*p, *p)))
        .collect();
    let sources: Vec<(&str, &str)> = cols.clone();
    for (sname, sid) in &sources {
        let mut cells = Vec::new();
        for (dname, did) in &cols {
            let cell = if sname == dname {
                "-".to_string()
            } else if PROBES.contains(sname) && PROBES.contains(dname) {
                continue;
            } else {
                m.between(&c, sid, did).unwrap().display()
            };
            cells.push(format!("{dname}={cell}"));
        }
        rows.push(format!("{sname}: {}", cells.join(" ")));
    }
    rows
}

fn check(policies: &str, expected: &[&str]) {
    let got = matrix(&model(policies));
    let want: Vec<String> = expected.iter().map(|s| s.to_string()).collect();
    assert_eq!(got, want, "\ngot:\n{}\n", got.join("\n"));
}

#[test]
fn no_policy_allows_everything() {
    check(
        "",
        &[
            "web: web=- db=all client=all dns=all 10.0.0.5=all 172.17.0.5=all 172.17.1.5=all 8.8.8.8=all",
            "db: web=all db=- client=all dns=all 10.0.0.5=all 172.17.0.5=all 172.17.1.5=all 8.8.8.8=all",
            "client: web=all db=all client=- dns=all 10.0.0.5=all 172.17.0.5=all 172.17.1.5=all 8.8.8.8=all",
            "dns: web=all db=all client=all dns=- 10.0.0.5=all 172.17.0.5=all 172.17.1.5=all 8.8.8.8=all",
            "10.0.0.5: web=all db=all client=all dns=all 10.0.0.5=-",
            "172.17.0.5: web=all db=all client=all dns=all 172.17.0.5=-",
            "172.17.1.5: web=all db=all client=all dns=all 172.17.1.5=-",
            "8.8.8.8: web=all db=all client=all dns=all 8.8.8.8=-",
        ],
    );
}

const DENY_INGRESS: &str = r#"
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny-ingress, namespace: default}
spec:
  podSelector: {}
  policyTypes: [Ingress]
"#;

#[test]
fn default_deny_ingress() {
    check(
        DENY_INGRESS,
        &[
            "web: web=- db=none client=all dns=all 10.0.0.5=all 172.17.0.5=all 172.17.1.5=all 8.8.8.8=all",
            "db: web=none db=- client=all dns=all 10.0.0.5=all 172.17.0.5=all 172.17.1.5=all 8.8.8.8=all",
            "client: web=none db=none client=- dns=all 10.0.0.5=all 172.17.0.5=all 172.17.1.5=all 8.8.8.8=all",
            "dns: web=none db=none client=all dns=- 10.0.0.5=all 172.17.0.5=all 172.17.1.5=all 8.8.8.8=all",
            "10.0.0.5: web=none db=none client=all dns=all 10.0.0.5=-",
            "172.17.0.5: web=none db=none client=all dns=all 172.17.0.5=-",
            "172.17.1.5: web=none db=none client=all dns=all 172.17.1.5=-",
            "8.8.8.8: web=none db=none client=all dns=all 8.8.8.8=-",
        ],
    );
}

#[test]
fn default_deny_egress() {
    check(
        r#"
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny-egress, namespace: default}
spec:
  podSelector: {}
  policyTypes: [Egress]
"#,
        &[
            "web: web=- db=none client=none dns=none 10.0.0.5=none 172.17.0.5=none 172.17.1.5=none 8.8.8.8=none",
            "db: web=none db=- client=none dns=none 10.0.0.5=none 172.17.0.5=none 172.17.1.5=none 8.8.8.8=none",
            "client: web=all db=all client=- dns=all 10.0.0.5=all 172.17.0.5=all 172.17.1.5=all 8.8.8.8=all",
            "dns: web=all db=all client=all dns=- 10.0.0.5=all 172.17.0.5=all 172.17.1.5=all 8.8.8.8=all",
            "10.0.0.5: web=all db=all client=all dns=all 10.0.0.5=-",
            "172.17.0.5: web=all db=all client=all dns=all 172.17.0.5=-",
            "172.17.1.5: web=all db=all client=all dns=all 172.17.1.5=-",
            "8.8.8.8: web=all db=all client=all dns=all 8.8.8.8=-",
        ],
    );
}

#[test]
fn default_deny_all_and_allow_all_ingress_union() {
    // Deny all in and out in default; a second policy allows all ingress to db
    // (`ingress: [{}]`): policies add up, so db accepts everything, and web still
    // cannot send (egress denied).
    check(
        r#"
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny-all, namespace: default}
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-all-ingress-db, namespace: default}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress: [{}]
"#,
        &[
            "web: web=- db=none client=none dns=none 10.0.0.5=none 172.17.0.5=none 172.17.1.5=none 8.8.8.8=none",
            "db: web=none db=- client=none dns=none 10.0.0.5=none 172.17.0.5=none 172.17.1.5=none 8.8.8.8=none",
            "client: web=none db=all client=- dns=all 10.0.0.5=all 172.17.0.5=all 172.17.1.5=all 8.8.8.8=all",
            "dns: web=none db=all client=all dns=- 10.0.0.5=all 172.17.0.5=all 172.17.1.5=all 8.8.8.8=all",
            "10.0.0.5: web=none db=all client=all dns=all 10.0.0.5=-",
            "172.17.0.5: web=none db=all client=all dns=all 172.17.0.5=-",
            "172.17.1.5: web=none db=all client=all dns=all 172.17.1.5=-",
            "8.8.8.8: web=none db=all client=all dns=all 8.8.8.8=-",
        ],
    );
}

#[test]
fn docs_example_ipblock_except_namespace_and_pod_selectors() {
    // The documentation's "test-network-policy", on this cluster's db.
    check(
        r#"
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: test-network-policy, namespace: default}
spec:
  podSelector:
    matchLabels: {app: db}
  policyTypes: [Ingress, Egress]
  ingress:
  - from:
    - ipBlock:
        cidr: 172.17.0.0/16
        except: [172.17.1.0/24]
    - namespaceSelector:
        matchLabels: {project: myproject}
    - podSelector:
        matchLabels: {role: frontend}
    ports:
    - {protocol: TCP, port: 6379}
  egress:
  - to:
    - ipBlock: {cidr: 10.0.0.0/24}
    ports:
    - {protocol: TCP, port: 5978}
"#,
        &[
            "web: web=- db=TCP/6379 client=all dns=all 10.0.0.5=all 172.17.0.5=all 172.17.1.5=all 8.8.8.8=all",
            "db: web=none db=- client=none dns=none 10.0.0.5=TCP/5978 172.17.0.5=none 172.17.1.5=none 8.8.8.8=none",
            "client: web=all db=TCP/6379 client=- dns=all 10.0.0.5=all 172.17.0.5=all 172.17.1.5=all 8.8.8.8=all",
            "dns: web=all db=none client=all dns=- 10.0.0.5=all 172.17.0.5=all 172.17.1.5=all 8.8.8.8=all",
            "10.0.0.5: web=all db=none client=all dns=all 10.0.0.5=-",
            "172.17.0.5: web=all db=TCP/6379 client=all dns=all 172.17.0.5=-",
            "172.17.1.5: web=all db=none client=all dns=all 172.17.1.5=-",
            "8.8.8.8: web=all db=none client=all dns=all 8.8.8.8=-",
        ],
    );
}

#[test]
fn allow_from_a_namespace_by_metadata_name_and_named_port() {
    // Recipe "allow traffic from a namespace", selecting it by the default
    // kubernetes.io/metadata.name label, to db's named port pg.
    check(
        r#"
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db-from-other, namespace: default}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress:
  - from:
    - namespaceSelector:
        matchLabels: {kubernetes.io/metadata.name: other}
    ports: [{port: pg}]
"#,
        &[
            "web: web=- db=none client=all dns=all 10.0.0.5=all 172.17.0.5=all 172.17.1.5=all 8.8.8.8=all",
            "db: web=all db=- client=all dns=all 10.0.0.5=all 172.17.0.5=all 172.17.1.5=all 8.8.8.8=all",
            "client: web=all db=TCP/5432 client=- dns=all 10.0.0.5=all 172.17.0.5=all 172.17.1.5=all 8.8.8.8=all",
            "dns: web=all db=none client=all dns=- 10.0.0.5=all 172.17.0.5=all 172.17.1.5=all 8.8.8.8=all",
            "10.0.0.5: web=all db=none client=all dns=all 10.0.0.5=-",
            "172.17.0.5: web=all db=none client=all dns=all 172.17.0.5=-",
            "172.17.1.5: web=all db=none client=all dns=all 172.17.1.5=-",
            "8.8.8.8: web=all db=none client=all dns=all 8.8.8.8=-",
        ],
    );
}

#[test]
fn egress_to_dns_only() {
    // Recipe: every pod of default may only resolve names (kube-dns, UDP and TCP 53).
    check(
        r#"
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: egress-dns-only, namespace: default}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress:
  - to:
    - namespaceSelector:
        matchLabels: {kubernetes.io/metadata.name: kube-system}
      podSelector:
        matchLabels: {k8s-app: kube-dns}
    ports:
    - {protocol: UDP, port: 53}
    - {protocol: TCP, port: 53}
"#,
        &[
            "web: web=- db=none client=none dns=TCP/53,UDP/53 10.0.0.5=none 172.17.0.5=none 172.17.1.5=none 8.8.8.8=none",
            "db: web=none db=- client=none dns=TCP/53,UDP/53 10.0.0.5=none 172.17.0.5=none 172.17.1.5=none 8.8.8.8=none",
            "client: web=all db=all client=- dns=all 10.0.0.5=all 172.17.0.5=all 172.17.1.5=all 8.8.8.8=all",
            "dns: web=all db=all client=all dns=- 10.0.0.5=all 172.17.0.5=all 172.17.1.5=all 8.8.8.8=all",
            "10.0.0.5: web=all db=all client=all dns=all 10.0.0.5=-",
            "172.17.0.5: web=all db=all client=all dns=all 172.17.0.5=-",
            "172.17.1.5: web=all db=all client=all dns=all 172.17.1.5=-",
            "8.8.8.8: web=all db=all client=all dns=all 8.8.8.8=-",
        ],
    );
}

#[test]
fn end_port_range_and_named_egress_port() {
    // The documentation's endPort example (egress to 10.0.0.0/24 on 32000-32768), plus
    // egress to db by its named port: named ports resolve on the destination pod, and
    // never on an external address.
    check(
        r#"
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: multi-port-egress, namespace: default}
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Egress]
  egress:
  - to:
    - ipBlock: {cidr: 10.0.0.0/24}
    ports:
    - {protocol: TCP, port: 32000, endPort: 32768}
  - to:
    - podSelector: {matchLabels: {app: db}}
    - ipBlock: {cidr: 8.8.8.0/24}
    ports:
    - {port: pg}
"#,
        &[
            "web: web=- db=TCP/5432 client=none dns=none 10.0.0.5=TCP/32000-32768 172.17.0.5=none 172.17.1.5=none 8.8.8.8=none",
            "db: web=all db=- client=all dns=all 10.0.0.5=all 172.17.0.5=all 172.17.1.5=all 8.8.8.8=all",
            "client: web=all db=all client=- dns=all 10.0.0.5=all 172.17.0.5=all 172.17.1.5=all 8.8.8.8=all",
            "dns: web=all db=all client=all dns=- 10.0.0.5=all 172.17.0.5=all 172.17.1.5=all 8.8.8.8=all",
            "10.0.0.5: web=all db=all client=all dns=all 10.0.0.5=-",
            "172.17.0.5: web=all db=all client=all dns=all 172.17.0.5=-",
            "172.17.1.5: web=all db=all client=all dns=all 172.17.1.5=-",
            "8.8.8.8: web=all db=all client=all dns=all 8.8.8.8=-",
        ],
    );
}

#[test]
fn and_versus_or_peers_and_match_expressions() {
    // One peer with both selectors (AND: frontends of `other`), against db; and web
    // admits pods of namespaces whose team is NotIn [other] (matchExpressions), i.e.
    // default and kube-system pods but not client.
    check(
        r#"
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db-and, namespace: default}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress:
  - from:
    - namespaceSelector: {matchLabels: {team: other}}
      podSelector: {matchLabels: {role: frontend}}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-notin, namespace: default}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
  - from:
    - namespaceSelector:
        matchExpressions:
        - {key: team, operator: NotIn, values: [other]}
"#,
        &[
            "web: web=- db=none client=all dns=all 10.0.0.5=all 172.17.0.5=all 172.17.1.5=all 8.8.8.8=all",
            "db: web=all db=- client=all dns=all 10.0.0.5=all 172.17.0.5=all 172.17.1.5=all 8.8.8.8=all",
            "client: web=none db=all client=- dns=all 10.0.0.5=all 172.17.0.5=all 172.17.1.5=all 8.8.8.8=all",
            "dns: web=all db=none client=all dns=- 10.0.0.5=all 172.17.0.5=all 172.17.1.5=all 8.8.8.8=all",
            "10.0.0.5: web=none db=none client=all dns=all 10.0.0.5=-",
            "172.17.0.5: web=none db=none client=all dns=all 172.17.0.5=-",
            "172.17.1.5: web=none db=none client=all dns=all 172.17.1.5=-",
            "8.8.8.8: web=none db=none client=all dns=all 8.8.8.8=-",
        ],
    );
}

#[test]
fn policy_types_default_from_egress_rules() {
    // No policyTypes: Ingress always, Egress because egress rules exist. The empty
    // ingress list then denies all ingress to web.
    check(
        r#"
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-egress-db, namespace: default}
spec:
  podSelector: {matchLabels: {app: web}}
  egress:
  - to: [{podSelector: {matchLabels: {app: db}}}]
    ports: [{port: 5432, protocol: TCP}]
"#,
        &[
            "web: web=- db=TCP/5432 client=none dns=none 10.0.0.5=none 172.17.0.5=none 172.17.1.5=none 8.8.8.8=none",
            "db: web=none db=- client=all dns=all 10.0.0.5=all 172.17.0.5=all 172.17.1.5=all 8.8.8.8=all",
            "client: web=none db=all client=- dns=all 10.0.0.5=all 172.17.0.5=all 172.17.1.5=all 8.8.8.8=all",
            "dns: web=none db=all client=all dns=- 10.0.0.5=all 172.17.0.5=all 172.17.1.5=all 8.8.8.8=all",
            "10.0.0.5: web=none db=all client=all dns=all 10.0.0.5=-",
            "172.17.0.5: web=none db=all client=all dns=all 172.17.0.5=-",
            "172.17.1.5: web=none db=all client=all dns=all 172.17.1.5=-",
            "8.8.8.8: web=none db=all client=all dns=all 8.8.8.8=-",
        ],
    );
}

#[test]
fn diff_names_what_a_change_opens() {
    let old = model(DENY_INGRESS);
    let new = model(&format!(
        "{DENY_INGRESS}---\n{}",
        r#"
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db-from-client, namespace: default}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress:
  - from: [{namespaceSelector: {matchLabels: {team: other}}, podSelector: {matchLabels: {app: client}}}]
    ports: [{port: 5432}]
"#
    ));
    let changes = diff(&old, &new);
    let s: Vec<String> = changes.iter().map(|c| c.sentence()).collect();
    assert_eq!(
        s,
        ["this change opens other/Deployment/client -> default/Deployment/db on TCP/5432"]
    );
    let back: Vec<String> = diff(&new, &old).iter().map(|c| c.sentence()).collect();
    assert_eq!(
        back,
        ["this change closes other/Deployment/client -> default/Deployment/db on TCP/5432"]
    );
}

#[test]
fn report_exposure_and_lateral_movement() {
    // web is behind a LoadBalancer and admits the world; db admits web only; client's
    // namespace and kube-system have no policy.
    let m = model(
        r#"
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  type: LoadBalancer
  selector: {app: web}
  ports: [{port: 80, targetPort: http}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-public, namespace: default}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
  - from: [{ipBlock: {cidr: 0.0.0.0/0}}]
    ports: [{port: http}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db-from-web, namespace: default}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: web}}}]
    ports: [{port: 5432}]
"#,
    );
    let mut sens = Sensitive::default();
    sens.add("app=db").unwrap();
    let r = m.report(&sens);
    assert_eq!(r.namespaces_without_policy, ["kube-system", "other"]);
    assert_eq!(
        r.pods_without_ingress_policy,
        ["other/Deployment/client", "kube-system/Deployment/coredns"]
    );
    let web = r
        .reachable_from_outside
        .iter()
        .find(|x| x.pod == "default/Deployment/web")
        .unwrap();
    assert!(web.entry_point);
    assert_eq!(
        web.exposed_by[0].via,
        "Service/default/web type LoadBalancer"
    );
    assert_eq!(web.from[0].1.display(), "TCP/8080");
    assert!(!r
        .reachable_from_outside
        .iter()
        .any(|x| x.pod == "default/Deployment/db"));
    // client is reachable (no policy) but not an entry point (nothing routes to it).
    let client = r
        .reachable_from_outside
        .iter()
        .find(|x| x.pod == "other/Deployment/client")
        .unwrap();
    assert!(!client.entry_point);
    assert_eq!(r.lateral_movement.len(), 1);
    let l = &r.lateral_movement[0];
    assert_eq!(l.entry, "default/Deployment/web");
    assert_eq!(l.target, "default/Deployment/db");
    assert_eq!(l.hops.len(), 1);
    assert_eq!(l.hops[0].conns.display(), "TCP/5432");
    // Without a sensitive label, no lateral path is reported.
    assert!(m.report(&Sensitive::default()).lateral_movement.is_empty());
}

#[test]
fn malformed_policy_is_an_error_with_file_and_line() {
    let mut l = Loaded::default();
    load_bytes(
        "bad.yaml",
        b"apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: x}\nspec:\n  podSelector: {}\n  ingress:\n  - ports:\n    - {port: 80, endPort: 70}\n",
        &mut l,
    );
    let _ = Model::build(&mut l);
    assert_eq!(l.unreadable.len(), 1, "{:?}", l.unreadable);
    assert_eq!(l.unreadable[0].file, "bad.yaml");
    assert_eq!(l.unreadable[0].line, 8);
    assert!(l.unreadable[0].message.contains("endPort"));
    let mut l = Loaded::default();
    load_bytes("broken.yaml", b"kind: NetworkPolicy\nspec: [\n", &mut l);
    assert_eq!(l.unreadable.len(), 1);
    assert_eq!(l.unreadable[0].file, "broken.yaml");
    assert!(l.unreadable[0].line >= 2, "{:?}", l.unreadable);
}

#[test]
fn egress_only_policy_ignores_ingress_rules_sctp_exists_and_ipv6() {
    // policyTypes [Egress] with ingress rules: the ingress rules are ignored (db stays
    // open for ingress). Egress: SCTP 9999 to pods of namespaces having a `team` label
    // (Exists), and everything to 2001:db8::/32.
    let p = r#"
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db-egress, namespace: default}
spec:
  podSelector: {matchLabels: {app: db}}
  policyTypes: [Egress]
  ingress:
  - from: [{podSelector: {matchLabels: {app: nothing}}}]
  egress:
  - to: [{namespaceSelector: {matchExpressions: [{key: team, operator: Exists}]}}]
    ports: [{protocol: SCTP, port: 9999}]
  - to: [{ipBlock: {cidr: "2001:db8::/32"}}]
"#;
    check(
        p,
        &[
            "web: web=- db=all client=all dns=all 10.0.0.5=all 172.17.0.5=all 172.17.1.5=all 8.8.8.8=all",
            "db: web=none db=- client=SCTP/9999 dns=none 10.0.0.5=none 172.17.0.5=none 172.17.1.5=none 8.8.8.8=none",
            "client: web=all db=all client=- dns=all 10.0.0.5=all 172.17.0.5=all 172.17.1.5=all 8.8.8.8=all",
            "dns: web=all db=all client=all dns=- 10.0.0.5=all 172.17.0.5=all 172.17.1.5=all 8.8.8.8=all",
            "10.0.0.5: web=all db=all client=all dns=all 10.0.0.5=-",
            "172.17.0.5: web=all db=all client=all dns=all 172.17.0.5=-",
            "172.17.1.5: web=all db=all client=all dns=all 172.17.1.5=-",
            "8.8.8.8: web=all db=all client=all dns=all 8.8.8.8=-",
        ],
    );
    let m = model(p);
    let c = m.connectivity(&[]);
    let db = "default/Deployment/db";
    assert!(m.between(&c, db, "2001:db8::1").unwrap().is_all());
    assert!(m.between(&c, db, "2001:db9::1").unwrap().is_empty());
    assert!(m.between(&c, "2001:db9::1", db).unwrap().is_all());
}

#[test]
fn shapes_that_would_read_as_everything_are_refused() {
    // A selector written as a string, or peers written as a mapping, would read as
    // "select everything"; the API server refuses both, and so does the analysis.
    for (text, line) in [
        ("spec:\n  podSelector: app=web\n", 5),
        (
            "spec:\n  podSelector: {}\n  ingress:\n  - from: {podSelector: {}}\n",
            7,
        ),
        ("spec:\n  podSelector: {}\n  egress: {to: []}\n", 6),
    ] {
        let mut l = Loaded::default();
        let doc = format!(
            "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: x, namespace: a}}\n{text}"
        );
        load_bytes("p.yaml", doc.as_bytes(), &mut l);
        let m = Model::build(&mut l);
        assert_eq!(m.policies.len(), 0, "{text}");
        assert_eq!(l.unreadable.len(), 1, "{text}");
        assert_eq!(l.unreadable[0].line, line, "{text}: {:?}", l.unreadable);
    }
}

#[test]
fn host_ports_host_network_and_external_ips_expose_pods() {
    let mut l = Loaded::default();
    load_bytes(
        "x.yaml",
        br#"
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, namespace: mon}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      hostNetwork: true
      containers:
      - name: a
        image: agent:1
        ports: [{containerPort: 9100, hostPort: 9100}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: mon}
spec:
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      containers: [{name: a, image: api:1}]
---
apiVersion: v1
kind: Service
metadata: {name: api, namespace: mon}
spec:
  selector: {app: api}
  externalIPs: [192.0.2.10]
  ports: [{port: 80}]
"#,
        &mut l,
    );
    let m = Model::build(&mut l);
    assert!(l.unreadable.is_empty());
    let r = m.report(&Sensitive::default());
    let via = |pod: &str| -> Vec<String> {
        r.reachable_from_outside
            .iter()
            .find(|x| x.pod == pod)
            .map(|x| x.exposed_by.iter().map(|e| e.via.clone()).collect())
            .unwrap_or_default()
    };
    let agent = via("mon/DaemonSet/agent");
    assert_eq!(agent.len(), 2, "{agent:?}");
    assert!(agent[0].starts_with("hostNetwork"));
    assert_eq!(agent[1], "hostPort 9100 on its node");
    assert_eq!(
        via("mon/Deployment/api"),
        ["Service/mon/api type ClusterIP with externalIPs 192.0.2.10"]
    );
}

#[test]
fn sensitive_config_file_and_flags() {
    let s = Sensitive::from_config(
        "c.yaml",
        b"sensitive:\n  namespaces: [payments]\n  labels: {app: db}\n",
    )
    .unwrap();
    assert_eq!(s.namespaces, ["payments"]);
    assert_eq!(s.labels, [("app".to_string(), "db".to_string())]);
    let s = Sensitive::from_config("c.yaml", b"sensitive:\n  labels: [\"tier=data\"]\n").unwrap();
    assert_eq!(s.labels, [("tier".to_string(), "data".to_string())]);
    assert!(Sensitive::from_config("c.yaml", b"other: 1\n").is_err());
    assert!(Sensitive::from_config("c.yaml", b"sensitive: [\n").is_err());
    let mut f = Sensitive::default();
    assert!(f.add("ns:kube-system").is_ok());
    assert!(f.add("nonsense").is_err());
    assert_eq!(f.namespaces, ["kube-system"]);
}
