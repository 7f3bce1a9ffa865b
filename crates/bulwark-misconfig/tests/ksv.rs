//! Parity with Trivy's Kubernetes KSV checks: for every check added under a KSV alias, a
//! manifest that fires it and a close variant that does not.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test may panic: that is its failure

use bulwark_misconfig::{scan_k8s, K8sOptions};

fn findings(yaml: &str) -> Vec<bulwark_core::Misconfiguration> {
    match scan_k8s("t.yaml", yaml.as_bytes(), &K8sOptions::default()) {
        Ok(v) => v,
        Err(e) => panic!("scan failed: {e}"),
    }
}

/// Findings of `id` (by check id or alias) in `yaml`.
fn hits(yaml: &str, id: &str) -> Vec<bulwark_core::Misconfiguration> {
    findings(yaml)
        .into_iter()
        .filter(|m| m.check_id == id || m.aliases.iter().any(|a| a == id))
        .collect()
}

/// `fail` fires `alias` (on `line` when given), `pass` does not.
fn pair(alias: &str, fail: &str, pass: &str, line: Option<u32>) {
    let h = hits(fail, alias);
    assert!(!h.is_empty(), "{alias} did not fire on:\n{fail}");
    if let Some(l) = line {
        assert!(
            h.iter().any(|m| m.start_line == Some(l)),
            "{alias} line {l}: {h:#?}"
        );
    }
    let p = hits(pass, alias);
    assert!(
        p.is_empty(),
        "{alias} fired on the passing manifest: {p:#?}"
    );
}

fn role(kind: &str, rules: &str) -> String {
    format!(
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: {kind}\nmetadata:\n  name: r\n  namespace: app\nrules:\n{rules}"
    )
}

#[test]
fn rbac_secrets_cluster_and_namespace() {
    let secrets = "- apiGroups: [\"\"]\n  resources: [secrets]\n  verbs: [get, list]\n";
    let configmaps = "- apiGroups: [\"\"]\n  resources: [configmaps]\n  verbs: [get, list]\n";
    pair(
        "KSV-0041",
        &role("ClusterRole", secrets),
        &role("ClusterRole", configmaps),
        Some(7),
    );
    // KSV-0041 is about ClusterRoles; the namespaced Role is KSV-0113.
    assert!(hits(&role("Role", secrets), "KSV-0041").is_empty());
    pair(
        "KSV-0113",
        &role("Role", secrets),
        &role("Role", configmaps),
        Some(7),
    );
}

#[test]
fn rbac_wildcards() {
    let any_any = "- apiGroups: ['*']\n  resources: ['*']\n  verbs: ['*']\n";
    let scoped = "- apiGroups: [apps]\n  resources: ['*']\n  verbs: ['*']\n";
    pair(
        "KSV-0044",
        &role("ClusterRole", any_any),
        &role("ClusterRole", scoped),
        None,
    );
    pair(
        "KSV-0045",
        &role(
            "Role",
            "- apiGroups: ['']\n  resources: [pods, services]\n  verbs: ['*']\n",
        ),
        &role(
            "Role",
            "- apiGroups: ['']\n  resources: [services]\n  verbs: ['*']\n",
        ),
        None,
    );
    let read_all = "- apiGroups: ['*']\n  resources: ['*']\n  verbs: [list]\n";
    let watch_all = "- apiGroups: ['*']\n  resources: ['*']\n  verbs: [watch]\n";
    pair(
        "KSV-0046",
        &role("ClusterRole", read_all),
        &role("ClusterRole", watch_all),
        None,
    );
    pair(
        "KSV-0112",
        &role("Role", read_all),
        &role("Role", watch_all),
        None,
    );
    assert!(hits(&role("Role", read_all), "KSV-0046").is_empty());
}

#[test]
fn rbac_escalation_paths() {
    pair(
        "KSV-0043",
        &role(
            "ClusterRole",
            "- apiGroups: ['*']\n  resources: [groups]\n  verbs: [impersonate]\n",
        ),
        &role(
            "ClusterRole",
            "- apiGroups: ['*']\n  resources: [users]\n  verbs: [impersonate]\n",
        ),
        None,
    );
    pair(
        "KSV-0050",
        &role("Role", "- apiGroups: [rbac.authorization.k8s.io]\n  resources: [roles]\n  verbs: [escalate]\n"),
        &role("Role", "- apiGroups: [rbac.authorization.k8s.io]\n  resources: [roles]\n  verbs: [get, list]\n"),
        None,
    );
    let create_rb = "- apiGroups: [rbac.authorization.k8s.io]\n  resources: [rolebindings]\n  verbs: [create]\n";
    let bind_any = "- apiGroups: [rbac.authorization.k8s.io]\n  resources: [clusterroles]\n  verbs: [bind]\n  resourceNames: ['*']\n";
    let bind_view = "- apiGroups: [rbac.authorization.k8s.io]\n  resources: [clusterroles]\n  verbs: [bind]\n  resourceNames: [view]\n";
    pair(
        "KSV-0051",
        &role("Role", &format!("{create_rb}{bind_any}")),
        &role("Role", &format!("{create_rb}{bind_view}")),
        Some(7),
    );
    // Rule order does not matter to the authorizer, nor here.
    assert!(!hits(&role("Role", &format!("{bind_any}{create_rb}")), "KSV-0051").is_empty());
    let create_crb = "- apiGroups: [rbac.authorization.k8s.io]\n  resources: [clusterrolebindings]\n  verbs: [create]\n";
    pair(
        "KSV-0052",
        &role("ClusterRole", &format!("{create_crb}{bind_any}")),
        &role("ClusterRole", &format!("{create_crb}{bind_view}")),
        None,
    );
    pair(
        "KSV-0055",
        &role(
            "Role",
            "- apiGroups: ['*']\n  resources: [rolebindings]\n  verbs: [get, patch]\n",
        ),
        &role(
            "Role",
            "- apiGroups: ['*']\n  resources: [rolebindings]\n  verbs: [get]\n",
        ),
        None,
    );
}

#[test]
fn rbac_pod_access() {
    pair(
        "KSV-0053",
        &role(
            "Role",
            "- apiGroups: ['']\n  resources: [pods, pods/exec]\n  verbs: [create]\n",
        ),
        &role(
            "Role",
            "- apiGroups: ['']\n  resources: [pods/exec]\n  verbs: [get]\n",
        ),
        None,
    );
    let attach = "- apiGroups: ['*']\n  resources: [pods/attach]\n  verbs: [create]\n";
    pair(
        "KSV-0054",
        &role(
            "Role",
            &format!("{attach}- apiGroups: ['*']\n  resources: [pods]\n  verbs: [get]\n"),
        ),
        &role("Role", attach),
        None,
    );
    pair(
        "KSV-0047",
        &role(
            "ClusterRole",
            "- apiGroups: ['']\n  resources: [nodes/proxy]\n  verbs: [get]\n",
        ),
        &role(
            "ClusterRole",
            "- apiGroups: ['']\n  resources: [nodes/proxy]\n  verbs: [list]\n",
        ),
        None,
    );
    pair(
        "KSV-0042",
        &role(
            "Role",
            "- apiGroups: ['']\n  resources: [pods/log]\n  verbs: [delete]\n",
        ),
        &role(
            "Role",
            "- apiGroups: ['']\n  resources: [pods/log]\n  verbs: [get]\n",
        ),
        None,
    );
    pair(
        "KSV-0048",
        &role(
            "Role",
            "- apiGroups: [apps]\n  resources: [deployments]\n  verbs: [patch]\n",
        ),
        &role(
            "Role",
            "- apiGroups: [apps]\n  resources: [deployments]\n  verbs: [get, watch]\n",
        ),
        None,
    );
}

#[test]
fn rbac_other_resources() {
    pair(
        "KSV-0049",
        &role(
            "Role",
            "- apiGroups: ['']\n  resources: [configmaps]\n  verbs: [update]\n",
        ),
        &role(
            "Role",
            "- apiGroups: ['']\n  resources: [configmaps]\n  verbs: [get]\n",
        ),
        None,
    );
    pair(
        "KSV-0056",
        &role(
            "Role",
            "- apiGroups: ['']\n  resources: [endpoints]\n  verbs: [create]\n",
        ),
        &role(
            "Role",
            "- apiGroups: ['']\n  resources: [endpoints]\n  verbs: [list]\n",
        ),
        None,
    );
    pair(
        "KSV-0114",
        &role("ClusterRole", "- apiGroups: [admissionregistration.k8s.io]\n  resources: [validatingwebhookconfigurations]\n  verbs: [patch]\n"),
        &role("ClusterRole", "- apiGroups: [admissionregistration.k8s.io]\n  resources: [validatingwebhookconfigurations]\n  verbs: [get]\n"),
        None,
    );
    pair(
        "KSV-0115",
        &role("Role", "- apiGroups: ['']\n  resources: [configmaps]\n  resourceNames: [aws-auth]\n  verbs: [update]\n"),
        &role("Role", "- apiGroups: ['']\n  resources: [configmaps]\n  resourceNames: [app-config]\n  verbs: [update]\n"),
        None,
    );
}

fn binding(kind: &str, role: &str, subject: &str) -> String {
    format!(
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: {kind}\nmetadata:\n  name: b\n  namespace: app\nroleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: ClusterRole\n  name: {role}\nsubjects:\n- kind: Group\n  name: {subject}\n  apiGroup: rbac.authorization.k8s.io\n"
    )
}

#[test]
fn bindings() {
    pair(
        "KSV-0111",
        &binding("ClusterRoleBinding", "cluster-admin", "ops"),
        &binding("ClusterRoleBinding", "view", "ops"),
        Some(9),
    );
    pair(
        "KSV-0111",
        &binding("RoleBinding", "edit", "ops"),
        &binding("RoleBinding", "app-editor", "ops"),
        None,
    );
    pair(
        "KSV-0122",
        &binding("ClusterRoleBinding", "view", "system:unauthenticated"),
        &binding("ClusterRoleBinding", "view", "ops"),
        Some(11),
    );
    pair(
        "KSV-0123",
        &binding("RoleBinding", "view", "system:masters"),
        &binding("RoleBinding", "view", "ops"),
        None,
    );
    pair(
        "KSV-01011",
        &binding("ClusterRoleBinding", "view", "system:authenticated"),
        &binding("ClusterRoleBinding", "view", "system:serviceaccounts:app"),
        None,
    );
}

/// A hardened pod whose fields the workload tests vary.
const POD: &str = "apiVersion: v1
kind: Pod
metadata:
  name: p
  namespace: app
spec:
  automountServiceAccountToken: false
  securityContext:
    runAsNonRoot: true
    runAsUser: 20000
    runAsGroup: 20000
    seccompProfile: {type: RuntimeDefault}
  containers:
  - name: c
    image: gcr.io/acme/app:1.2@sha256:0123
    ports:
    - containerPort: 8080
    resources:
      limits: {cpu: 500m, memory: 256Mi}
      requests: {cpu: 100m, memory: 128Mi}
    securityContext:
      allowPrivilegeEscalation: false
      readOnlyRootFilesystem: true
      capabilities: {drop: [ALL]}
";

fn edit(from: &str, to: &str) -> String {
    assert!(POD.contains(from), "bad edit {from:?}");
    POD.replacen(from, to, 1)
}

#[test]
fn hardened_pod_is_clean() {
    let f = findings(POD);
    assert!(f.is_empty(), "{f:#?}");
}

#[test]
fn workload_security_context() {
    pair(
        "KSV-0004",
        &edit(
            "      capabilities: {drop: [ALL]}\n",
            "      capabilities: {add: [CHOWN]}\n",
        ),
        POD,
        Some(24),
    );
    pair(
        "KSV-0021",
        &edit("    runAsGroup: 20000\n", "    runAsGroup: 1000\n"),
        POD,
        None,
    );
    // Unset is the image's group, which the manifest does not state (as for KSV-0020).
    assert!(hits(&edit("    runAsGroup: 20000\n", ""), "KSV-0021").is_empty());
    // The container overrides the pod.
    assert!(!hits(
        &edit(
            "      readOnlyRootFilesystem: true\n",
            "      readOnlyRootFilesystem: true\n      runAsGroup: 10\n"
        ),
        "KSV-0021"
    )
    .is_empty());
    pair(
        "KSV-0020",
        &edit("    runAsUser: 20000\n", "    runAsUser: 1000\n"),
        POD,
        None,
    );
    pair(
        "KSV-0116",
        &edit(
            "    runAsGroup: 20000\n",
            "    runAsGroup: 20000\n    supplementalGroups: [4, 0]\n",
        ),
        POD,
        Some(12),
    );
    pair(
        "KSV-0116",
        &edit(
            "    runAsGroup: 20000\n",
            "    runAsGroup: 20000\n    fsGroup: 0\n",
        ),
        POD,
        Some(12),
    );
}

#[test]
fn workload_ports_aliases_images() {
    pair(
        "KSV-0117",
        &edit("containerPort: 8080", "containerPort: 80"),
        POD,
        Some(17),
    );
    pair(
        "KSV-0007",
        &edit(
            "  containers:\n",
            "  hostAliases:\n  - {ip: 10.0.0.1, hostnames: [db]}\n  containers:\n",
        ),
        POD,
        Some(13),
    );
    pair(
        "KSV-0125",
        &edit("gcr.io/acme/app", "quay.io/acme/app"),
        POD,
        Some(15),
    );
    // A Docker Hub name without a registry is Docker Hub, not trusted either.
    assert!(!hits(&edit("gcr.io/acme/app", "app"), "KSV-0125").is_empty());
    assert!(hits(&edit("gcr.io/acme/app", "acme.azurecr.io/app"), "KSV-0125").is_empty());
    pair(
        "KSV-0102",
        &edit("gcr.io/acme/app", "gcr.io/kubernetes-helm/tiller"),
        POD,
        None,
    );
    pair(
        "KSV-0102",
        &edit("  name: p\n", "  name: tiller-deploy\n"),
        POD,
        None,
    );
}

#[test]
fn configmaps() {
    let cm = |data: &str| {
        format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\n  namespace: app\ndata:\n{data}")
    };
    pair(
        "KSV-0109",
        &cm("  DB_PASSWORD: hunter22\n"),
        &cm("  LOG_LEVEL: info\n"),
        Some(7),
    );
    pair(
        "KSV-0109",
        &cm("  app.properties: |\n    url=jdbc:pg://db\n    token=abcd1234\n"),
        &cm("  app.properties: |\n    url=jdbc:pg://db\n    token=${TOKEN}\n"),
        None,
    );
    pair(
        "KSV-01010",
        &cm("  owner: ops@example.com\n"),
        &cm("  owner: ops team\n"),
        None,
    );
    pair(
        "KSV-01010",
        &cm("  settings.ini: |\n    username = admin\n"),
        &cm("  settings.ini: |\n    level = admin\n"),
        None,
    );
}

#[test]
fn network_policy_limit_range_quota() {
    pair(
        "KSV-0038",
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: n, namespace: app}\nspec:\n  policyTypes: [Ingress]\n",
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: n, namespace: app}\nspec:\n  podSelector: {}\n  policyTypes: [Ingress]\n",
        None,
    );
    pair(
        "KSV-0039",
        "apiVersion: v1\nkind: LimitRange\nmetadata: {name: l, namespace: app}\nspec:\n  limits:\n  - type: Container\n    max: {cpu: '1'}\n",
        "apiVersion: v1\nkind: LimitRange\nmetadata: {name: l, namespace: app}\nspec:\n  limits:\n  - type: Container\n    max: {cpu: '1'}\n    min: {cpu: 10m}\n    default: {cpu: 500m}\n    defaultRequest: {cpu: 100m}\n",
        None,
    );
    pair(
        "KSV-0040",
        "apiVersion: v1\nkind: ResourceQuota\nmetadata: {name: q, namespace: app}\nspec:\n  hard: {requests.cpu: '1', requests.memory: 1Gi, limits.cpu: '2'}\n",
        "apiVersion: v1\nkind: ResourceQuota\nmetadata: {name: q, namespace: app}\nspec:\n  hard: {requests.cpu: '1', requests.memory: 1Gi, limits.cpu: '2', limits.memory: 2Gi}\n",
        None,
    );
}

#[test]
fn removed_apis_and_gatekeeper() {
    pair(
        "KSV-0107",
        "apiVersion: batch/v1beta1\nkind: CronJob\nmetadata: {name: c, namespace: app}\nspec: {}\n",
        "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: c, namespace: app}\nspec: {}\n",
        Some(1),
    );
    // Kinds bulwark has no other check for are still checked for removed APIs.
    pair(
        "KSV-0107",
        "apiVersion: apiextensions.k8s.io/v1beta1\nkind: CustomResourceDefinition\nmetadata: {name: x.example.com}\n",
        "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: x.example.com}\n",
        None,
    );
    let repos = |r: &str| {
        format!("apiVersion: constraints.gatekeeper.sh/v1beta1\nkind: K8sAllowedRepos\nmetadata: {{name: repos}}\nspec:\n  parameters:\n    repos:\n    - {r}\n")
    };
    pair(
        "KSV-0124",
        &repos("docker.io/library"),
        &repos("registry.example.com/team/"),
        Some(7),
    );
}

#[test]
fn every_trivy_ksv_id_is_mapped_or_explained() {
    // The KSV ids of Trivy 0.76's embedded bundle (trivy-checks@80e5382) that bulwark
    // carries as aliases; the rest are listed in docs/side-by-side.md with the reason.
    let not_aliased = ["KSV-0032", "KSV-0033", "KSV-0034", "KSV-0035"];
    let ids = (1..=56)
        .chain(102..=125)
        .map(|n| format!("KSV-{n:04}"))
        .chain(["KSV-01010".to_string(), "KSV-01011".to_string()])
        .filter(|id| !["KSV-0019", "KSV-0029", "KSV-0031"].contains(&id.as_str()))
        .filter(|id| !not_aliased.contains(&id.as_str()));
    let all = bulwark_misconfig::checks();
    for id in ids {
        assert!(
            all.iter().any(|c| c.aliases.contains(&id.as_str())),
            "no bulwark check carries {id}"
        );
    }
}

#[test]
fn checkov_psp_ids_are_not_aliases() {
    // Found by the k8s-corpus side-by-side: Checkov's CKV_K8S_6 ("Do not admit root
    // containers") and CKV_K8S_32 (default seccomp profile) look at PodSecurityPolicy
    // objects only, which bulwark reports as a removed API, not at pods; carrying them as
    // aliases of the runAsUser and seccomp checks paired unrelated findings.
    for c in bulwark_misconfig::checks() {
        for psp_only in ["CKV_K8S_6", "CKV_K8S_32"] {
            assert!(
                !c.aliases.contains(&psp_only),
                "{} carries {psp_only}",
                c.id
            );
        }
    }
}
