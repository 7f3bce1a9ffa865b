//! RBAC checks (CIS Kubernetes Benchmark 5.1): what the rules of a Role or ClusterRole
//! grant (wildcards, secrets, exec/attach into pods, node proxy, escalate/bind/impersonate,
//! workload creation, webhook and networking control) and whom a RoleBinding or
//! ClusterRoleBinding grants it to (cluster-admin, anonymous users, `system:masters`,
//! every authenticated user).
//!
//! The grants follow Trivy's KSV checks of the same alias: a rule matches when one of its
//! `resources` is literally one of the check's resources and one of its `verbs` one of the
//! check's verbs (`*` counts only where the check lists it; a `resources: ["*"]` grant is
//! the business of the "all resources" checks). Checks that need two grants (create a
//! binding *and* bind any role; attach *and* get pods) look at the union of the object's
//! rules, in any order, as the authorizer does.

use bulwark_core::Severity;

use super::{Resource, Sink};
use crate::check::CheckMeta;
use crate::yaml::Node;

const CIS_511: &str = "CIS Kubernetes 5.1.1";
const CIS_512: &str = "CIS Kubernetes 5.1.2";
const CIS_513: &str = "CIS Kubernetes 5.1.3";
const CIS_514: &str = "CIS Kubernetes 5.1.4";
const CIS_518: &str = "CIS Kubernetes 5.1.8";

k8s_check!(CLUSTER_SECRETS, "BW-K8S-0024", "ClusterRole can read or manage secrets", Critical,
    "Reading secrets cluster-wide is close to cluster-admin: service-account tokens and credentials of every namespace are secrets.",
    "Remove secrets from the ClusterRole's resources, or grant access per namespace with a Role limited by resourceNames.",
    ["CIS Kubernetes 5.1.2", "NSA/CISA Kubernetes Hardening: Authentication and authorization"],
    ["KSV-0041", "KSV041"], ["cis-k8s", "nsa"]);
k8s_check!(
    DELETE_POD_LOGS,
    "BW-K8S-0025",
    "Role can delete pod logs",
    Medium,
    "Deleting pods/log lets an attacker cover their tracks.",
    "Remove delete/deletecollection on pods/log.",
    [
        "CIS Kubernetes 5.1.1",
        "NSA/CISA Kubernetes Hardening: Audit logging"
    ],
    ["KSV-0042", "KSV042"],
    ["cis-k8s"]
);
k8s_check!(
    IMPERSONATE_GROUPS,
    "BW-K8S-0026",
    "Role can impersonate groups",
    Critical,
    "Impersonating a group (system:masters among them) grants that group's permissions.",
    "Remove the impersonate verb on groups.",
    [CIS_518],
    ["KSV-0043", "KSV043"],
    ["cis-k8s", "nsa"]
);
k8s_check!(
    WILDCARD_ALL,
    "BW-K8S-0027",
    "Role grants every verb on every resource",
    Critical,
    "apiGroups, resources and verbs all `*` is cluster-admin (within the Role's scope).",
    "List the API groups, resources and verbs the subject needs.",
    [CIS_513],
    ["KSV-0044", "KSV044"],
    ["cis-k8s", "nsa"]
);
k8s_check!(WILDCARD_VERB, "BW-K8S-0028", "Role grants every verb on a sensitive resource", Critical,
    "A `*` verb on secrets, pods, workloads, RBAC objects, users or groups includes escalate, bind, impersonate and delete.",
    "List the verbs the subject needs instead of `*`.",
    [CIS_513], ["KSV-0045", "KSV045"], ["cis-k8s", "nsa"]);
k8s_check!(CLUSTER_ALL_RESOURCES, "BW-K8S-0029", "ClusterRole manages all resources", Critical,
    "Write or read access to every resource of the cluster is control of the cluster and of every node that runs its workloads.",
    "List the resources the subject needs instead of `*`.",
    [CIS_513], ["KSV-0046", "KSV046"], ["cis-k8s", "nsa"]);
k8s_check!(NODE_PROXY, "BW-K8S-0030", "Role can use the node proxy", High,
    "nodes/proxy reaches the kubelet API directly (exec into any pod on the node, bypassing audit and admission).",
    "Remove get/create on nodes/proxy.",
    ["CIS Kubernetes 5.1.10"], ["KSV-0047", "KSV047"], ["cis-k8s", "nsa"]);
k8s_check!(MANAGE_WORKLOADS, "BW-K8S-0031", "Role can create or change workloads", Medium,
    "Whoever can create pods or workloads can run any image with any service account of the namespace and, without admission control, privileged containers.",
    "Grant workload write access only to deployment tooling; enforce Pod Security admission.",
    [CIS_514], ["KSV-0048", "KSV048"], ["cis-k8s"]);
k8s_check!(MANAGE_CONFIGMAPS, "BW-K8S-0032", "Role can change configmaps", Medium,
    "ConfigMaps often hold configuration that changes how workloads behave, or data that should have been a secret.",
    "Remove write verbs on configmaps or limit them with resourceNames.",
    [CIS_511], ["KSV-0049", "KSV049"], ["cis-k8s"]);
k8s_check!(RBAC_ESCALATION, "BW-K8S-0033", "Role can escalate, bind or impersonate on RBAC objects", Critical,
    "escalate and bind on roles or rolebindings let a subject grant itself permissions it does not hold.",
    "Remove escalate, bind, impersonate and `*` on roles and rolebindings.",
    [CIS_518], ["KSV-0050", "KSV050"], ["cis-k8s", "nsa"]);
k8s_check!(BIND_ANY_ROLE, "BW-K8S-0034", "Role can create rolebindings to any role", High,
    "Creating rolebindings together with bind on any (cluster)role lets a subject grant itself any role.",
    "Limit bind to named roles (resourceNames) or drop rolebinding creation.",
    [CIS_518], ["KSV-0051", "KSV051"], ["cis-k8s"]);
k8s_check!(BIND_ANY_CLUSTER_ROLE, "BW-K8S-0035", "Role can create clusterrolebindings to any clusterrole", High,
    "Creating clusterrolebindings together with bind on any clusterrole lets a subject make itself cluster-admin.",
    "Limit bind to named clusterroles (resourceNames) or drop clusterrolebinding creation.",
    [CIS_518], ["KSV-0052", "KSV052"], ["cis-k8s"]);
k8s_check!(POD_EXEC, "BW-K8S-0036", "Role can exec into pods", High,
    "pods/exec runs commands in any container of the scope, with that container's service account and host access.",
    "Remove pods/exec, or grant it only for debugging with a short-lived binding.",
    ["CIS Kubernetes 5.1.10"], ["KSV-0053", "KSV053"], ["cis-k8s", "nsa"]);
k8s_check!(POD_ATTACH, "BW-K8S-0037", "Role can attach to pods", High,
    "create on pods/attach together with get on pods lets a subject attach to the shell of a running container.",
    "Remove create on pods/attach.",
    ["CIS Kubernetes 5.1.10"], ["KSV-0054", "KSV054"], ["cis-k8s"]);
k8s_check!(EDIT_ROLEBINDINGS, "BW-K8S-0038", "Role can change rolebindings", Low,
    "get and patch on rolebindings let a subject add others (or itself) to the bindings it can see.",
    "Remove patch on rolebindings.",
    [CIS_518], ["KSV-0055", "KSV055"], ["cis-k8s"]);
k8s_check!(MANAGE_NETWORKING, "BW-K8S-0039", "Role can change Services, endpoints, ingresses or network policies", High,
    "Controlling which pods receive a Service's traffic, or the network policies, allows interception and lateral movement.",
    "Remove write verbs on services, endpoints, endpointslices, networkpolicies and ingresses.",
    [CIS_511, "NSA/CISA Kubernetes Hardening: Network separation"], ["KSV-0056", "KSV056"], ["cis-k8s"]);
k8s_check!(NAMESPACE_ALL_RESOURCES, "BW-K8S-0040", "Role manages all resources of its namespace", Critical,
    "Read or write access to every resource of a namespace includes its secrets, pods and role bindings.",
    "List the resources the subject needs instead of `*`.",
    [CIS_513], ["KSV-0112"], ["cis-k8s", "nsa"]);
k8s_check!(NAMESPACE_SECRETS, "BW-K8S-0041", "Role can read or manage secrets", Medium,
    "Secrets of a namespace include tokens of its service accounts, which may be bound to more powerful roles.",
    "Remove secrets from the Role's resources, or limit it with resourceNames.",
    [CIS_512], ["KSV-0113"], ["cis-k8s"]);
k8s_check!(
    MANAGE_WEBHOOKS,
    "BW-K8S-0042",
    "Role can change admission webhooks",
    Critical,
    "Admission webhooks see, change or block every object sent to the API server.",
    "Remove write verbs on mutating/validatingwebhookconfigurations.",
    ["CIS Kubernetes 5.1.12"],
    ["KSV-0114"],
    ["cis-k8s", "nsa"]
);
k8s_check!(MANAGE_AWS_AUTH, "BW-K8S-0043", "Role can change the EKS aws-auth ConfigMap", Critical,
    "The aws-auth ConfigMap maps AWS IAM identities to Kubernetes users and groups (system:masters included).",
    "Remove write verbs on the aws-auth configmap.",
    [CIS_518], ["KSV-0115"], ["cis-k8s"]);
k8s_check!(ADMIN_BINDING, "BW-K8S-0044", "Binding to cluster-admin, admin or edit", Medium,
    "The built-in cluster-admin, admin and edit roles grant broad write access; they are rarely what a workload or user needs.",
    "Bind a role that lists only the permissions needed.",
    [CIS_511], ["KSV-0111"], ["cis-k8s", "nsa"]);
k8s_check!(ANONYMOUS_BINDING, "BW-K8S-0045", "Binding to anonymous or unauthenticated users", Critical,
    "A binding to system:anonymous or system:unauthenticated grants its role to anyone who can reach the API server.",
    "Remove those subjects from the binding.",
    [CIS_511, "CIS Kubernetes 1.2.1"], ["KSV-0122"], ["cis-k8s", "nsa"]);
k8s_check!(MASTERS_BINDING, "BW-K8S-0046", "Binding to system:masters", Critical,
    "system:masters bypasses RBAC entirely; binding roles to it is meaningless at best and hides who holds it.",
    "Do not name system:masters in bindings; give administrators their own group.",
    ["CIS Kubernetes 5.1.7"], ["KSV-0123", "KSV0123"], ["cis-k8s", "nsa"]);
k8s_check!(AUTHENTICATED_BINDING, "BW-K8S-0047", "Binding to every authenticated user", Critical,
    "system:authenticated is every user with any valid credential (on GKE: any Google account), so its bindings are as good as public.",
    "Bind the role to the users, groups or service accounts that need it.",
    [CIS_511], ["KSV-01011", "KSV01011"], ["cis-k8s", "nsa"]);

/// Every RBAC check.
pub const CHECKS: &[CheckMeta] = &[
    CLUSTER_SECRETS,
    DELETE_POD_LOGS,
    IMPERSONATE_GROUPS,
    WILDCARD_ALL,
    WILDCARD_VERB,
    CLUSTER_ALL_RESOURCES,
    NODE_PROXY,
    MANAGE_WORKLOADS,
    MANAGE_CONFIGMAPS,
    RBAC_ESCALATION,
    BIND_ANY_ROLE,
    BIND_ANY_CLUSTER_ROLE,
    POD_EXEC,
    POD_ATTACH,
    EDIT_ROLEBINDINGS,
    MANAGE_NETWORKING,
    NAMESPACE_ALL_RESOURCES,
    NAMESPACE_SECRETS,
    MANAGE_WEBHOOKS,
    MANAGE_AWS_AUTH,
    ADMIN_BINDING,
    ANONYMOUS_BINDING,
    MASTERS_BINDING,
    AUTHENTICATED_BINDING,
];

const ROLES: &[&str] = &["Role", "ClusterRole"];
const READ_OR_WRITE: &[&str] = &[
    "get",
    "list",
    "watch",
    "create",
    "update",
    "patch",
    "delete",
    "deletecollection",
    "impersonate",
    "*",
];
const WRITE: &[&str] = &[
    "create",
    "update",
    "patch",
    "delete",
    "deletecollection",
    "impersonate",
    "*",
];
const ALL_RESOURCES_VERBS: &[&str] = &[
    "create",
    "update",
    "delete",
    "deletecollection",
    "impersonate",
    "*",
    "list",
    "get",
];
const WORKLOADS: &[&str] = &[
    "pods",
    "deployments",
    "jobs",
    "cronjobs",
    "statefulsets",
    "daemonsets",
    "replicasets",
    "replicationcontrollers",
];
const RBAC_GROUP: &str = "rbac.authorization.k8s.io";

/// One grant a single rule must contain for a check to fire.
struct Grant {
    meta: &'static CheckMeta,
    /// Which role kinds the check looks at.
    kinds: &'static [&'static str],
    /// The rule names one of these resources...
    resources: &'static [&'static str],
    /// ...with one of these verbs (or, with `all_verbs`, every one of them).
    verbs: &'static [&'static str],
    all_verbs: bool,
    /// The rule's apiGroups must contain this.
    api_group: Option<&'static str>,
    /// The rule's resourceNames must contain this.
    resource_name: Option<&'static str>,
}

const fn grant(
    meta: &'static CheckMeta,
    kinds: &'static [&'static str],
    resources: &'static [&'static str],
    verbs: &'static [&'static str],
) -> Grant {
    Grant {
        meta,
        kinds,
        resources,
        verbs,
        all_verbs: false,
        api_group: None,
        resource_name: None,
    }
}

const GRANTS: &[Grant] = &[
    grant(
        &CLUSTER_SECRETS,
        &["ClusterRole"],
        &["secrets"],
        READ_OR_WRITE,
    ),
    grant(&NAMESPACE_SECRETS, &["Role"], &["secrets"], READ_OR_WRITE),
    grant(
        &DELETE_POD_LOGS,
        ROLES,
        &["pods/log"],
        &["delete", "deletecollection", "*"],
    ),
    Grant {
        api_group: Some("*"),
        ..grant(&IMPERSONATE_GROUPS, ROLES, &["groups"], &["impersonate"])
    },
    Grant {
        api_group: Some("*"),
        ..grant(&WILDCARD_ALL, ROLES, &["*"], &["*"])
    },
    grant(
        &WILDCARD_VERB,
        ROLES,
        &[
            "secrets",
            "pods",
            "deployments",
            "daemonsets",
            "statefulsets",
            "replicationcontrollers",
            "replicasets",
            "cronjobs",
            "jobs",
            "roles",
            "clusterroles",
            "rolebindings",
            "clusterrolebindings",
            "users",
            "groups",
        ],
        &["*"],
    ),
    grant(
        &CLUSTER_ALL_RESOURCES,
        &["ClusterRole"],
        &["*"],
        ALL_RESOURCES_VERBS,
    ),
    grant(
        &NAMESPACE_ALL_RESOURCES,
        &["Role"],
        &["*"],
        ALL_RESOURCES_VERBS,
    ),
    grant(&NODE_PROXY, ROLES, &["nodes/proxy"], &["get", "create"]),
    grant(&MANAGE_WORKLOADS, ROLES, WORKLOADS, WRITE),
    grant(&MANAGE_CONFIGMAPS, ROLES, &["configmaps"], WRITE),
    grant(
        &RBAC_ESCALATION,
        ROLES,
        &["roles", "rolebindings"],
        &["escalate", "bind", "impersonate", "*"],
    ),
    grant(&POD_EXEC, ROLES, &["pods/exec"], WRITE),
    Grant {
        api_group: Some("*"),
        all_verbs: true,
        ..grant(
            &EDIT_ROLEBINDINGS,
            ROLES,
            &["rolebindings"],
            &["get", "patch"],
        )
    },
    grant(
        &MANAGE_NETWORKING,
        ROLES,
        &[
            "services",
            "endpoints",
            "endpointslices",
            "networkpolicies",
            "ingresses",
        ],
        WRITE,
    ),
    grant(
        &MANAGE_WEBHOOKS,
        ROLES,
        &[
            "mutatingwebhookconfigurations",
            "validatingwebhookconfigurations",
        ],
        WRITE,
    ),
    Grant {
        resource_name: Some("aws-auth"),
        ..grant(&MANAGE_AWS_AUTH, ROLES, &["configmaps"], WRITE)
    },
];

/// The strings of a rule's list field (`verbs`, `resources`, ...).
fn list<'a>(rule: &'a Node, key: &str) -> Vec<&'a str> {
    rule.get(key)
        .map(Node::items)
        .unwrap_or(&[])
        .iter()
        .filter_map(Node::as_str)
        .collect()
}

/// One rule of a Role or ClusterRole, read once.
struct Rule<'a> {
    line: u32,
    api_groups: Vec<&'a str>,
    resources: Vec<&'a str>,
    verbs: Vec<&'a str>,
    resource_names: Vec<&'a str>,
}

impl<'a> Rule<'a> {
    fn read(node: &'a Node) -> Self {
        Rule {
            line: node.line,
            api_groups: list(node, "apiGroups"),
            resources: list(node, "resources"),
            verbs: list(node, "verbs"),
            resource_names: list(node, "resourceNames"),
        }
    }

    /// The rule's resources that are among `wanted`, and its verbs among `verbs`.
    fn grants(&self, g: &Grant) -> Option<(Vec<&'a str>, Vec<&'a str>)> {
        let res: Vec<&str> = self
            .resources
            .iter()
            .copied()
            .filter(|r| g.resources.contains(r))
            .collect();
        let verbs: Vec<&str> = self
            .verbs
            .iter()
            .copied()
            .filter(|v| g.verbs.contains(v))
            .collect();
        let verbs_ok = if g.all_verbs {
            g.verbs.iter().all(|v| self.verbs.contains(v))
        } else {
            !verbs.is_empty()
        };
        let group_ok = g.api_group.is_none_or(|a| self.api_groups.contains(&a));
        let name_ok = g
            .resource_name
            .is_none_or(|n| self.resource_names.contains(&n));
        (!res.is_empty() && verbs_ok && group_ok && name_ok).then_some((res, verbs))
    }

    fn has(&self, group: Option<&str>, resources: &[&str], verb: &str) -> bool {
        group.is_none_or(|g| self.api_groups.contains(&g))
            && self.resources.iter().any(|r| resources.contains(r))
            && self.verbs.contains(&verb)
    }
}

/// Runs the RBAC checks on one resource (other kinds are ignored).
pub(crate) fn evaluate(res: &Resource<'_>, sink: &mut Sink<'_>) {
    match res.kind {
        "Role" | "ClusterRole" => roles(res, sink),
        "RoleBinding" | "ClusterRoleBinding" => binding(res, sink),
        _ => {}
    }
}

fn roles(res: &Resource<'_>, sink: &mut Sink<'_>) {
    let rules: Vec<Rule<'_>> = res
        .node
        .get("rules")
        .map(Node::items)
        .unwrap_or(&[])
        .iter()
        .map(Rule::read)
        .collect();
    for g in GRANTS.iter().filter(|g| g.kinds.contains(&res.kind)) {
        if !sink.enabled(g.meta) {
            continue;
        }
        for rule in &rules {
            if let Some((resources, verbs)) = rule.grants(g) {
                sink.report(
                    g.meta,
                    rule.line,
                    format!(
                        "{} grants {} on {}{}",
                        res.display(),
                        verbs.join(", "),
                        resources.join(", "),
                        g.resource_name
                            .map(|n| format!(" (resourceNames {n})"))
                            .unwrap_or_default()
                    ),
                );
            }
        }
    }
    // Two grants that are harmless apart: binding creation plus `bind` on any role.
    let bind_any = |kinds: &[&str]| {
        rules
            .iter()
            .find(|r| r.has(Some(RBAC_GROUP), kinds, "bind") && r.resource_names.contains(&"*"))
    };
    let pairs = [
        (
            &BIND_ANY_ROLE,
            rules
                .iter()
                .find(|r| r.has(Some(RBAC_GROUP), &["rolebindings"], "create")),
            bind_any(&["clusterroles", "roles"]),
            "create rolebindings and bind any role",
        ),
        (
            &BIND_ANY_CLUSTER_ROLE,
            rules
                .iter()
                .find(|r| r.has(Some(RBAC_GROUP), &["clusterrolebindings"], "create")),
            bind_any(&["clusterroles"]),
            "create clusterrolebindings and bind any clusterrole",
        ),
        (
            &POD_ATTACH,
            rules
                .iter()
                .find(|r| r.has(Some("*"), &["pods/attach"], "create")),
            rules.iter().find(|r| r.has(Some("*"), &["pods"], "get")),
            "create pods/attach and get pods",
        ),
    ];
    for (meta, first, second, what) in pairs {
        if let (Some(a), Some(_)) = (first, second) {
            sink.report(meta, a.line, format!("{} can {what}", res.display()));
        }
    }
}

fn binding(res: &Resource<'_>, sink: &mut Sink<'_>) {
    let role = res.node.path(&["roleRef", "name"]).and_then(Node::as_str);
    if let Some(r @ ("cluster-admin" | "admin" | "edit")) = role {
        let line = res
            .node
            .get("roleRef")
            .and_then(|rr| rr.key_line("name"))
            .unwrap_or(res.node.line);
        sink.report(
            &ADMIN_BINDING,
            line,
            format!("{} binds the built-in role {r:?}", res.display()),
        );
    }
    for s in res.node.get("subjects").map(Node::items).unwrap_or(&[]) {
        let Some(name) = s.get("name").and_then(Node::as_str) else {
            continue;
        };
        let meta = match name {
            "system:anonymous" | "system:unauthenticated" => &ANONYMOUS_BINDING,
            "system:masters" => &MASTERS_BINDING,
            "system:authenticated" => &AUTHENTICATED_BINDING,
            _ => continue,
        };
        sink.report(
            meta,
            s.line,
            format!(
                "{} grants {:?} to {name}",
                res.display(),
                role.unwrap_or("?")
            ),
        );
    }
}
