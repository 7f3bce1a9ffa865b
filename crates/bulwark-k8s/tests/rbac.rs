//! RBAC escalation paths on manifests with known paths (tests/data/rbac, written from the
//! Kubernetes RBAC documentation's escalation examples and rbac-police's path classes):
//! each path found with its chain, none on a least-privilege set, `--who-can` answers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use bulwark_core::Severity;
use bulwark_k8s::rbac::{EscalationPath, Graph, PathKind, Query, RbacReport};
use bulwark_k8s::{load_paths, Loaded};

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/rbac")
        .join(name)
}

fn analyse(files: &[&str]) -> (Graph, RbacReport, Loaded) {
    let paths: Vec<PathBuf> = files.iter().map(|f| data(f)).collect();
    let mut loaded = load_paths(&paths);
    let g = Graph::build(&mut loaded);
    assert!(loaded.unreadable.is_empty(), "{:?}", loaded.unreadable);
    let r = g.analyse();
    (g, r, loaded)
}

fn path<'a>(r: &'a RbacReport, subject: &str, kind: PathKind) -> &'a EscalationPath {
    r.paths
        .iter()
        .find(|p| p.subject == subject && p.kind == kind)
        .unwrap_or_else(|| {
            panic!(
                "no {kind:?} path for {subject}; paths: {:#?}",
                r.paths
                    .iter()
                    .map(|p| format!("{} {:?} {}", p.subject, p.kind, p.chain_text()))
                    .collect::<Vec<_>>()
            )
        })
}

fn names(p: &EscalationPath) -> Vec<&str> {
    p.chain.iter().map(|s| s.name.as_str()).collect()
}

#[test]
fn pod_creation_continues_through_the_stronger_service_account() {
    let (_, r, _) = analyse(&["escalation.yaml", "dump.yaml"]);
    let p = path(&r, "User:alice", PathKind::CreatePods);
    assert_eq!(p.severity, Severity::Critical);
    assert!(p.cluster_admin);
    assert_eq!(p.scope, "namespace ci");
    let n = names(p);
    assert_eq!(n[0], "User:alice");
    assert_eq!(n[1], "RoleBinding/ci/alice-pods");
    assert_eq!(n[2], "Role/ci/pod-creator");
    assert!(n[3].starts_with("create,get,list on pods"), "{n:?}");
    assert_eq!(n[4], "acts as ServiceAccount:ci/builder");
    assert_eq!(n[5], "ClusterRoleBinding/builder-admin");
    assert_eq!(n[6], "ClusterRole/cluster-admin");
    // Every binding and role step points at its file and line.
    let binding = &p.chain[1];
    assert!(binding
        .location
        .as_deref()
        .unwrap()
        .contains("escalation.yaml:"));
}

#[test]
fn every_documented_path_is_found() {
    let (_, r, _) = analyse(&["escalation.yaml", "dump.yaml"]);
    let expect: &[(&str, PathKind, Severity, bool)] = &[
        (
            "ServiceAccount:ci/builder",
            PathKind::WildcardAll,
            Severity::Critical,
            true,
        ),
        ("User:alice", PathKind::CreatePods, Severity::Critical, true),
        ("User:bob", PathKind::ReadSecrets, Severity::Critical, true),
        ("User:carol", PathKind::ExecPods, Severity::High, false),
        ("User:dave", PathKind::Escalate, Severity::Critical, true),
        ("User:erin", PathKind::Bind, Severity::Critical, true),
        (
            "User:frank",
            PathKind::Impersonate,
            Severity::Critical,
            true,
        ),
        ("Group:ops", PathKind::NodesProxy, Severity::Critical, true),
        (
            "ServiceAccount:tools/tokenmaker",
            PathKind::TokenRequest,
            Severity::Critical,
            true,
        ),
        ("User:gina", PathKind::ApproveCsr, Severity::Critical, true),
        (
            "User:hank",
            PathKind::MutatingWebhooks,
            Severity::Critical,
            false,
        ),
        (
            "User:ivy",
            PathKind::ValidatingWebhooks,
            Severity::High,
            false,
        ),
        (
            "User:jack",
            PathKind::PersistentVolumes,
            Severity::High,
            false,
        ),
        ("User:kim", PathKind::CreatePods, Severity::Critical, true),
        ("User:lee", PathKind::Wildcard, Severity::Medium, false),
    ];
    for (subject, kind, sev, admin) in expect {
        let p = path(&r, subject, *kind);
        assert_eq!(p.severity, *sev, "{subject} {kind:?}: {}", p.chain_text());
        assert_eq!(
            p.cluster_admin,
            *admin,
            "{subject} {kind:?}: {}",
            p.chain_text()
        );
        assert!(p.chain.iter().any(|s| s.kind == "binding"), "{subject}");
        assert!(p.chain.iter().any(|s| s.kind == "rule"), "{subject}");
    }
    // Nobody else: every subject with a path is one of the above.
    for p in &r.paths {
        assert!(
            expect.iter().any(|(s, _, _, _)| *s == p.subject),
            "unexpected path {} {:?}: {}",
            p.subject,
            p.kind,
            p.chain_text()
        );
    }
    // carol's exec reaches only dev's weak default account: it stays HIGH, no pivot.
    let carol = path(&r, "User:carol", PathKind::ExecPods);
    assert!(!carol.chain.iter().any(|s| s.kind == "pivot"));
    // bob reads secrets cluster-wide, so ci/builder's token: the chain pivots to it.
    let bob = path(&r, "User:bob", PathKind::ReadSecrets);
    assert!(names(bob).contains(&"acts as ServiceAccount:ci/builder"));
    // kim's permission came by aggregation, and the chain says from where.
    let kim = path(&r, "User:kim", PathKind::CreatePods);
    assert!(
        names(kim)
            .iter()
            .any(|n| n.contains("aggregated from ClusterRole/deployer-apps")),
        "{}",
        kim.chain_text()
    );
    // erin's chain holds both grants: bind and create clusterrolebindings.
    let erin = path(&r, "User:erin", PathKind::Bind);
    let rules: Vec<_> = erin.chain.iter().filter(|s| s.kind == "rule").collect();
    assert_eq!(rules.len(), 2);
    let admins = &r.cluster_admin_subjects;
    for s in [
        "User:alice",
        "User:bob",
        "User:dave",
        "User:erin",
        "User:frank",
        "Group:ops",
        "User:gina",
        "User:kim",
    ] {
        assert!(admins.iter().any(|a| a == s), "{s} not admin: {admins:?}");
    }
    assert!(!admins.iter().any(|a| a == "User:carol" || a == "User:hank"));
}

#[test]
fn weak_service_accounts_do_not_raise_the_path() {
    // Without the builder's cluster-admin binding, alice's pod creation is MEDIUM.
    let text = std::fs::read_to_string(data("escalation.yaml")).unwrap();
    let cut = text
        .replace("name: builder-admin}", "name: builder-admin-x}\n")
        .replace(
            "- {kind: ServiceAccount, name: builder, namespace: ci}",
            "- {kind: User, name: nobody-here}",
        );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("e.yaml"), cut).unwrap();
    let mut loaded = load_paths(&[dir.path()]);
    let r = Graph::build(&mut loaded).analyse();
    let p = path(&r, "User:alice", PathKind::CreatePods);
    assert_eq!(p.severity, Severity::Medium);
    assert!(!p.cluster_admin);
}

#[test]
fn least_privilege_set_has_no_path() {
    let (_, r, _) = analyse(&["least-privilege.yaml"]);
    assert!(
        r.paths.is_empty(),
        "{:#?}",
        r.paths.iter().map(|p| p.chain_text()).collect::<Vec<_>>()
    );
    assert_eq!(r.bindings, 2);
}

#[test]
fn who_can_answers() {
    let (g, _, _) = analyse(&["escalation.yaml", "dump.yaml", "least-privilege.yaml"]);
    let subjects = |q: &Query| {
        let mut v: Vec<String> = g.who_can(q).into_iter().map(|a| a.subject).collect();
        v.dedup();
        v
    };
    let mut q = Query::parse("create", "pods");
    q.namespace = Some("ci".into());
    assert_eq!(subjects(&q), ["ServiceAccount:ci/builder", "User:alice"]);
    let mut q = Query::parse("create", "pods");
    q.namespace = Some("dev".into());
    assert_eq!(subjects(&q), ["ServiceAccount:ci/builder"]);
    let q = Query::parse("list", "secrets");
    assert_eq!(subjects(&q), ["ServiceAccount:ci/builder", "User:bob"]);
    // A named secret: sam's resourceNames grant answers only for that name.
    let mut q = Query::parse("get", "secrets");
    q.namespace = Some("shop".into());
    q.name = "shop-db-credentials".into();
    assert_eq!(
        subjects(&q),
        [
            "ServiceAccount:ci/builder",
            "ServiceAccount:shop/lister",
            "User:bob",
            "User:sam"
        ]
    );
    q.name = "other".into();
    assert_eq!(subjects(&q), ["ServiceAccount:ci/builder", "User:bob"]);
    // Subresources: exec is carol's in dev only.
    let mut q = Query::parse("create", "pods/exec");
    q.namespace = Some("dev".into());
    assert_eq!(subjects(&q), ["ServiceAccount:ci/builder", "User:carol"]);
    q.namespace = Some("ci".into());
    assert_eq!(subjects(&q), ["ServiceAccount:ci/builder"]);
    // Aggregated rules answer too, with the chain naming the binding.
    let mut q = Query::parse("create", "deployments");
    q.namespace = Some("ci".into());
    let a = g.who_can(&q);
    let kim = a.iter().find(|a| a.subject == "User:kim").unwrap();
    assert_eq!(kim.chain[0].name, "RoleBinding/ci/kim-deploy");
    assert_eq!(kim.scope, "namespace ci");
    // A cluster-scoped resource is never granted through a RoleBinding.
    let q = Query::parse("create", "persistentvolumes");
    assert_eq!(subjects(&q), ["ServiceAccount:ci/builder", "User:jack"]);
}

#[test]
fn a_binding_without_role_ref_is_an_error_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("bad.yaml");
    std::fs::write(
        &f,
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: x, namespace: a}\nsubjects:\n- {kind: User, name: u}\n",
    )
    .unwrap();
    let mut loaded = load_paths(&[&f]);
    let _ = Graph::build(&mut loaded);
    assert_eq!(loaded.unreadable.len(), 1);
    let u = &loaded.unreadable[0];
    assert!(u.file.ends_with("bad.yaml"));
    assert_eq!(u.line, 1);
    assert!(u.message.contains("roleRef"), "{}", u.message);
}

#[test]
fn outputs_carry_the_paths() {
    let (g, r, _) = analyse(&["escalation.yaml", "dump.yaml"]);
    let sarif = bulwark_k8s::rbac_out::sarif(&r, "tests");
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), r.paths.len());
    assert!(results.iter().any(|x| x["message"]["text"]
        .as_str()
        .unwrap()
        .contains("User:alice (cluster-admin equivalent)")));
    let dot = bulwark_k8s::rbac_out::dot(&g, &r);
    assert!(
        dot.contains("\"User:alice\" -> \"RoleBinding/ci/alice-pods\""),
        "{dot}"
    );
    assert!(
        dot.contains("\"Role/ci/pod-creator\" -> \"ServiceAccount:ci/builder\" [color=red"),
        "{dot}"
    );
    let mm = bulwark_k8s::rbac_out::mermaid(&g, &r);
    assert!(mm.starts_with("flowchart LR\n"));
    assert!(
        mm.contains("-. \"CRITICAL create pods or workloads\" .->"),
        "{mm}"
    );
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["paths"][0]["severity"], "CRITICAL");
    let t = bulwark_k8s::rbac_out::table(&r);
    assert!(t.contains("User:alice"));
}

const MORE: &str = r#"
apiVersion: v1
kind: ServiceAccount
metadata: {name: builder, namespace: ci}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: runner, namespace: ci}
---
apiVersion: v1
kind: Namespace
metadata: {name: dev}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: cluster-admin}
rules: [{apiGroups: ["*"], resources: ["*"], verbs: ["*"]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: builder-admin}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
subjects: [{kind: ServiceAccount, name: builder, namespace: ci}]
---
# Every account of ci, through its group, reaches the kubelet API.
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: node-proxier}
rules: [{apiGroups: [""], resources: ["nodes/proxy"], verbs: ["get"]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: ci-accounts-proxy}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: node-proxier}
subjects: [{kind: Group, name: "system:serviceaccounts:ci"}]
---
# mona impersonates service accounts named builder.
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: impersonate-builder}
rules: [{apiGroups: [""], resources: ["serviceaccounts"], verbs: ["impersonate"], resourceNames: ["builder"]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: mona}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: impersonate-builder}
subjects: [{kind: User, name: mona}]
---
# ned binds any clusterrole inside dev only.
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: binder, namespace: dev}
rules:
- {apiGroups: ["rbac.authorization.k8s.io"], resources: ["rolebindings"], verbs: ["create"]}
- {apiGroups: ["rbac.authorization.k8s.io"], resources: ["clusterroles"], verbs: ["bind"]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: ned, namespace: dev}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: binder}
subjects: [{kind: User, name: ned}]
---
# olga signs CSRs; quinn approves CSRs of a custom signer without creating them.
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: csr-signer}
rules:
- {apiGroups: ["certificates.k8s.io"], resources: ["certificatesigningrequests/status"], verbs: ["update"]}
- {apiGroups: ["certificates.k8s.io"], resources: ["signers"], verbs: ["sign"], resourceNames: ["example.com/signer"]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: olga}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: csr-signer}
subjects: [{kind: User, name: olga}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: csr-approver-custom}
rules:
- {apiGroups: ["certificates.k8s.io"], resources: ["certificatesigningrequests/approval"], verbs: ["update"]}
- {apiGroups: ["certificates.k8s.io"], resources: ["signers"], verbs: ["approve"], resourceNames: ["example.com/signer"]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: quinn}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: csr-approver-custom}
subjects: [{kind: User, name: quinn}]
---
# pat may request tokens for ci/runner only (resourceNames).
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: runner-token, namespace: ci}
rules: [{apiGroups: [""], resources: ["serviceaccounts/token"], verbs: ["create"], resourceNames: ["runner"]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: pat, namespace: ci}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: runner-token}
subjects: [{kind: User, name: pat}]
"#;

#[test]
fn groups_impersonation_namespaced_bind_csr_and_named_tokens() {
    let mut loaded = Loaded::default();
    bulwark_k8s::load::load_bytes("more.yaml", MORE.as_bytes(), &mut loaded);
    let r = Graph::build(&mut loaded).analyse();
    assert!(loaded.unreadable.is_empty(), "{:?}", loaded.unreadable);
    // ci/runner holds nodes/proxy through its namespace's group; the chain says so.
    let runner = path(&r, "ServiceAccount:ci/runner", PathKind::NodesProxy);
    assert!(runner.cluster_admin);
    assert_eq!(runner.chain[1].kind, "group");
    assert_eq!(runner.chain[1].name, "Group:system:serviceaccounts:ci");
    assert_eq!(runner.chain[2].name, "ClusterRoleBinding/ci-accounts-proxy");
    assert!(path(&r, "Group:system:serviceaccounts:ci", PathKind::NodesProxy).cluster_admin);
    // mona impersonates `builder` accounts: cluster-admin through ci/builder.
    let mona = path(&r, "User:mona", PathKind::ImpersonateServiceAccount);
    assert!(mona.cluster_admin);
    assert!(names(mona).contains(&"acts as ServiceAccount:ci/builder"));
    // ned binds roles in dev only: HIGH, not cluster-admin.
    let ned = path(&r, "User:ned", PathKind::Bind);
    assert_eq!((ned.severity, ned.cluster_admin), (Severity::High, false));
    assert_eq!(ned.scope, "namespace dev");
    // olga signs, quinn approves a custom signer without creating CSRs: HIGH.
    let olga = path(&r, "User:olga", PathKind::SignCsr);
    assert_eq!((olga.severity, olga.cluster_admin), (Severity::High, false));
    let quinn = path(&r, "User:quinn", PathKind::ApproveCsr);
    assert_eq!(
        (quinn.severity, quinn.cluster_admin),
        (Severity::High, false)
    );
    // pat's token request is limited to runner: the path goes through runner (not the
    // stronger-looking builder it may not request a token for).
    let pat = path(&r, "User:pat", PathKind::TokenRequest);
    assert!(pat.cluster_admin);
    assert!(
        names(pat).contains(&"acts as ServiceAccount:ci/runner"),
        "{}",
        pat.chain_text()
    );
    assert!(!names(pat).contains(&"acts as ServiceAccount:ci/builder"));
}

#[test]
fn who_can_bind_cluster_roles_in_a_namespace() {
    let mut loaded = Loaded::default();
    bulwark_k8s::load::load_bytes("more.yaml", MORE.as_bytes(), &mut loaded);
    let g = Graph::build(&mut loaded);
    let mut q = Query::parse("bind", "clusterroles");
    q.namespace = Some("dev".into());
    let who: Vec<String> = g.who_can(&q).into_iter().map(|a| a.subject).collect();
    assert_eq!(who, ["ServiceAccount:ci/builder", "User:ned"]);
    let q = Query::parse("bind", "clusterroles");
    let who: Vec<String> = g.who_can(&q).into_iter().map(|a| a.subject).collect();
    assert_eq!(who, ["ServiceAccount:ci/builder"]);
}

#[test]
fn fields_that_are_not_lists_are_errors() {
    for (text, line) in [
        ("kind: ClusterRole\nmetadata: {name: r}\nrules: {verbs: [get]}\n", 4),
        ("kind: ClusterRole\nmetadata: {name: r}\nrules:\n- {verbs: create, resources: [pods], apiGroups: [\"\"]}\n", 5),
        ("kind: ClusterRoleBinding\nmetadata: {name: b}\nroleRef: {kind: ClusterRole, name: r}\nsubjects: {kind: User, name: u}\n", 5),
    ] {
        let mut loaded = Loaded::default();
        let doc = format!("apiVersion: rbac.authorization.k8s.io/v1\n{text}");
        bulwark_k8s::load::load_bytes("r.yaml", doc.as_bytes(), &mut loaded);
        let _ = Graph::build(&mut loaded);
        assert_eq!(loaded.unreadable.len(), 1, "{text}: {:?}", loaded.unreadable);
        assert_eq!(loaded.unreadable[0].line, line, "{text}: {:?}", loaded.unreadable);
    }
}

#[test]
fn token_secrets_and_pod_modification_pivot_to_the_namespace_accounts() {
    // rbac-police's issue_token_secrets and modify_pods: creating a token Secret for an
    // account, or changing a running pod's image, acts as ci's accounts.
    let extra = r#"
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: secret-writer, namespace: ci}
rules: [{apiGroups: [""], resources: ["secrets"], verbs: ["create"]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: rita, namespace: ci}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: secret-writer}
subjects: [{kind: User, name: rita}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: pod-patcher, namespace: ci}
rules: [{apiGroups: [""], resources: ["pods"], verbs: ["get", "patch"]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: sid, namespace: ci}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: pod-patcher}
subjects: [{kind: User, name: sid}]
"#;
    let mut loaded = Loaded::default();
    bulwark_k8s::load::load_bytes("m.yaml", format!("{MORE}{extra}").as_bytes(), &mut loaded);
    let r = Graph::build(&mut loaded).analyse();
    for (who, kind) in [
        ("User:rita", PathKind::CreateTokenSecrets),
        ("User:sid", PathKind::ModifyPods),
    ] {
        let p = path(&r, who, kind);
        assert_eq!(p.severity, Severity::Critical, "{}", p.chain_text());
        assert!(p.cluster_admin);
        assert!(names(p)
            .iter()
            .any(|n| n.starts_with("acts as ServiceAccount:ci/")));
    }
}

/// Non-resource URLs, as the RBAC docs describe them: granted by ClusterRoles through
/// ClusterRoleBindings only, matched exactly or by a trailing `*`.
const URLS: &str = r#"
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: metrics-reader}
rules:
- nonResourceURLs: ["/metrics"]
  verbs: ["get"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: health}
rules:
- nonResourceURLs: ["/healthz/*", "/livez"]
  verbs: ["get", "head"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: prometheus-metrics}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: metrics-reader}
subjects:
- {kind: ServiceAccount, name: prometheus, namespace: monitoring}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: probes}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: health}
subjects:
- {kind: Group, name: "system:monitoring", apiGroup: rbac.authorization.k8s.io}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: no-effect, namespace: dev}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: metrics-reader}
subjects:
- {kind: User, name: dora, apiGroup: rbac.authorization.k8s.io}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: everything}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: all-urls}
subjects:
- {kind: User, name: root-ish, apiGroup: rbac.authorization.k8s.io}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: all-urls}
rules:
- nonResourceURLs: ["*"]
  verbs: ["*"]
"#;

#[test]
fn who_can_reach_non_resource_urls() {
    let mut loaded = Loaded::default();
    bulwark_k8s::load::load_bytes("urls.yaml", URLS.as_bytes(), &mut loaded);
    assert!(loaded.unreadable.is_empty(), "{:?}", loaded.unreadable);
    let g = Graph::build(&mut loaded);
    let who = |verb: &str, url: &str| -> Vec<String> {
        g.who_can(&Query::parse(verb, url))
            .into_iter()
            .map(|a| a.subject)
            .collect()
    };
    // The RoleBinding to dora grants nothing here: non-resource URLs are cluster-wide.
    assert_eq!(
        who("get", "/metrics"),
        ["ServiceAccount:monitoring/prometheus", "User:root-ish"]
    );
    assert_eq!(who("post", "/metrics"), ["User:root-ish"]);
    assert_eq!(
        who("get", "/healthz/etcd"),
        ["Group:system:monitoring", "User:root-ish"]
    );
    // `/healthz/*` does not cover `/healthz` itself; `/livez` is exact.
    assert_eq!(who("get", "/healthz"), ["User:root-ish"]);
    assert_eq!(
        who("head", "/livez"),
        ["Group:system:monitoring", "User:root-ish"]
    );
    assert_eq!(who("get", "/livez/ping"), ["User:root-ish"]);
    // The chain names the binding and the role.
    let a = g.who_can(&Query::parse("get", "/metrics"));
    assert_eq!(a[0].chain[0].name, "ClusterRoleBinding/prometheus-metrics");
    assert_eq!(a[0].scope, "cluster");
}
