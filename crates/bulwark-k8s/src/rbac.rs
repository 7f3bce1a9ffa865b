//! RBAC escalation analysis over a whole cluster's Roles, ClusterRoles (with
//! `aggregationRule` aggregation), RoleBindings, ClusterRoleBindings and
//! ServiceAccounts.
//!
//! The subject → permission graph is built the way the RBAC authorizer reads it: a
//! RoleBinding grants its role's rules in its own namespace only, a ClusterRoleBinding
//! everywhere; cluster-scoped resources (nodes, persistent volumes, CSRs, cluster roles
//! and bindings, webhook configurations, users and groups for impersonation) are granted
//! by ClusterRoleBindings only; a rule matches a request when its verbs, API groups,
//! resources (`*`, `res/sub`, `*/sub`) and resource names match, as in the authorizer's
//! `RuleAllows`. A service account also holds what is bound to its groups
//! (`system:serviceaccounts`, `system:serviceaccounts:<ns>`, `system:authenticated`).
//!
//! Escalation paths are capabilities known to lead to more privilege (see
//! docs/k8s-analysis.md for why each escalates). Several of them — creating pods or
//! pod-owning workloads, exec/attach/port-forward, reading secrets, requesting
//! service-account tokens, impersonating service accounts, namespace-admin through
//! `escalate`/`bind`/`*` — let the subject act as the service accounts of a namespace;
//! the path then continues through the strongest of those service accounts, found by a
//! fixpoint over all subjects, so "alice can create pods in `ci`, whose `builder` account
//! is bound to cluster-admin" is one CRITICAL path with its whole chain.

use std::collections::{BTreeMap, BTreeSet};

use bulwark_core::Severity;
use bulwark_misconfig::yaml::Node;
use serde::Serialize;

use crate::load::{pod_template, strings, Loaded, Object, POD_KINDS};
use crate::selector::Selector;

/// One rule of a role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Rule {
    /// `apiGroups`.
    pub api_groups: Vec<String>,
    /// `resources`.
    pub resources: Vec<String>,
    /// `verbs`.
    pub verbs: Vec<String>,
    /// `resourceNames`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub resource_names: Vec<String>,
    /// `nonResourceURLs`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub non_resource_urls: Vec<String>,
    /// Where the rule is written (`file:line`).
    pub location: String,
    /// The ClusterRole the rule was aggregated from, when it came by aggregation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aggregated_from: Option<String>,
}

impl Rule {
    fn parse(node: &Node, file: &str) -> Rule {
        Rule {
            api_groups: strings(node.get("apiGroups")),
            resources: strings(node.get("resources")),
            verbs: strings(node.get("verbs")),
            resource_names: strings(node.get("resourceNames")),
            non_resource_urls: strings(node.get("nonResourceURLs")),
            location: format!("{file}:{}", node.line),
            aggregated_from: None,
        }
    }

    fn same_grant(&self, o: &Rule) -> bool {
        self.api_groups == o.api_groups
            && self.resources == o.resources
            && self.verbs == o.verbs
            && self.resource_names == o.resource_names
            && self.non_resource_urls == o.non_resource_urls
    }

    /// `verbs [..] on resources [..] (apiGroups [..])`, for chains.
    pub fn display(&self) -> String {
        let mut s = format!(
            "{} on {}",
            self.verbs.join(","),
            if self.resources.is_empty() {
                self.non_resource_urls.join(",")
            } else {
                self.resources.join(",")
            }
        );
        if !self.resources.is_empty() {
            let groups: Vec<&str> = self
                .api_groups
                .iter()
                .map(|g| if g.is_empty() { "core" } else { g.as_str() })
                .collect();
            s.push_str(&format!(" [{}]", groups.join(",")));
        }
        if !self.resource_names.is_empty() {
            s.push_str(&format!(" names {}", self.resource_names.join(",")));
        }
        s
    }

    fn has_wildcard(&self) -> bool {
        let w = |v: &[String]| v.iter().any(|x| x == "*");
        w(&self.verbs) || w(&self.api_groups) || self.resources.iter().any(|r| r == "*")
    }

    fn all_wildcard(&self) -> bool {
        let w = |v: &[String]| v.iter().any(|x| x == "*");
        w(&self.verbs) && w(&self.api_groups) && w(&self.resources)
    }

    /// Whether the rule allows `verb` on `group`/`resource`[/`sub`] (`name` when the
    /// request names one object), as the RBAC authorizer's `RuleAllows` decides.
    pub fn allows(&self, verb: &str, group: &str, resource: &str, sub: &str, name: &str) -> bool {
        let verb_ok = self.verbs.iter().any(|v| v == "*" || v == verb);
        let group_ok = self.api_groups.iter().any(|g| g == "*" || g == group);
        let combined = if sub.is_empty() {
            resource.to_string()
        } else {
            format!("{resource}/{sub}")
        };
        let res_ok = self.resources.iter().any(|r| {
            r == "*" || *r == combined || (!sub.is_empty() && r.strip_prefix("*/") == Some(sub))
        });
        let name_ok = self.resource_names.is_empty()
            || (!name.is_empty() && self.resource_names.iter().any(|n| n == name));
        verb_ok && group_ok && res_ok && name_ok
    }

    /// Whether this rule grants `verb` on the non-resource URL `url` (`/metrics`,
    /// `/healthz/ready`): an exact entry, `*`, or an entry ending in `*` that is a prefix
    /// of it, as the RBAC authorizer matches them.
    pub fn allows_url(&self, verb: &str, url: &str) -> bool {
        let verb_ok = self.verbs.iter().any(|v| v == "*" || v == verb);
        let url_ok = self.non_resource_urls.iter().any(|u| {
            u == url
                || u == "*"
                || u.strip_suffix('*')
                    .is_some_and(|prefix| url.starts_with(prefix))
        });
        verb_ok && url_ok
    }
}

/// A Role or ClusterRole.
#[derive(Debug, Clone, Serialize)]
pub struct Role {
    /// `Role` or `ClusterRole`.
    pub kind: String,
    /// Namespace of a Role.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Name.
    pub name: String,
    /// Rules, aggregated ones included.
    pub rules: Vec<Rule>,
    /// `file:line`.
    pub location: String,
    #[serde(skip)]
    labels: BTreeMap<String, String>,
    #[serde(skip)]
    aggregation: Vec<Selector>,
}

impl Role {
    /// `ClusterRole/name` or `Role/ns/name`.
    pub fn display(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("Role/{ns}/{}", self.name),
            None => format!("ClusterRole/{}", self.name),
        }
    }
}

/// The kind of a binding subject.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Principal {
    /// A user.
    User(String),
    /// A group.
    Group(String),
    /// A service account (namespace, name).
    ServiceAccount(String, String),
}

impl Principal {
    /// `User:alice`, `Group:system:masters`, `ServiceAccount:ns/name`.
    pub fn display(&self) -> String {
        match self {
            Principal::User(n) => format!("User:{n}"),
            Principal::Group(n) => format!("Group:{n}"),
            Principal::ServiceAccount(ns, n) => format!("ServiceAccount:{ns}/{n}"),
        }
    }

    /// Whether a binding subject `s` applies to this principal (directly, or through a
    /// group every service account belongs to).
    fn bound_by(&self, s: &Principal) -> bool {
        if self == s {
            return true;
        }
        match (self, s) {
            (Principal::ServiceAccount(ns, _), Principal::Group(g)) => {
                g == "system:serviceaccounts"
                    || g == "system:authenticated"
                    || g.strip_prefix("system:serviceaccounts:") == Some(ns.as_str())
            }
            _ => false,
        }
    }
}

/// A RoleBinding or ClusterRoleBinding.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Binding {
    /// `RoleBinding` or `ClusterRoleBinding`.
    pub kind: String,
    /// Namespace of a RoleBinding.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Name.
    pub name: String,
    /// `roleRef.kind`.
    pub role_kind: String,
    /// `roleRef.name`.
    pub role_name: String,
    /// Subjects.
    pub subjects: Vec<Principal>,
    /// `file:line`.
    pub location: String,
}

impl Binding {
    /// `ClusterRoleBinding/name` or `RoleBinding/ns/name`.
    pub fn display(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("RoleBinding/{ns}/{}", self.name),
            None => format!("ClusterRoleBinding/{}", self.name),
        }
    }
}

/// The RBAC objects of a cluster, resolved.
#[derive(Debug, Clone, Default)]
pub struct Graph {
    /// Roles and cluster roles.
    pub roles: Vec<Role>,
    /// Bindings.
    pub bindings: Vec<Binding>,
    /// Known service accounts (objects, binding subjects, pods' `serviceAccountName`,
    /// and `default` of every namespace seen).
    pub service_accounts: BTreeSet<(String, String)>,
    /// Namespaces seen.
    pub namespaces: BTreeSet<String>,
    /// Bindings whose role is not among the inputs (they grant nothing here).
    pub dangling: Vec<String>,
}

/// Resources that are cluster-scoped: only a ClusterRoleBinding grants them.
const CLUSTER_SCOPED: &[&str] = &[
    "nodes",
    "persistentvolumes",
    "namespaces",
    "clusterroles",
    "clusterrolebindings",
    "certificatesigningrequests",
    "signers",
    "validatingwebhookconfigurations",
    "mutatingwebhookconfigurations",
    "validatingadmissionpolicies",
    "validatingadmissionpolicybindings",
    "users",
    "groups",
    "customresourcedefinitions",
    "apiservices",
    "storageclasses",
    "priorityclasses",
    "csidrivers",
    "csinodes",
    "ingressclasses",
    "runtimeclasses",
    "tokenreviews",
    "subjectaccessreviews",
    "selfsubjectaccessreviews",
    "selfsubjectrulesreviews",
    "componentstatuses",
    "volumeattachments",
];

/// Whether `resource` (without subresource) is cluster-scoped.
pub fn cluster_scoped(resource: &str) -> bool {
    CLUSTER_SCOPED.contains(&resource)
}

/// The API group of a built-in resource, for `--who-can` without a group.
pub fn builtin_group(resource: &str) -> Option<&'static str> {
    Some(match resource {
        "pods"
        | "services"
        | "secrets"
        | "configmaps"
        | "serviceaccounts"
        | "nodes"
        | "namespaces"
        | "persistentvolumes"
        | "persistentvolumeclaims"
        | "endpoints"
        | "events"
        | "replicationcontrollers"
        | "limitranges"
        | "resourcequotas"
        | "podtemplates"
        | "users"
        | "groups"
        | "componentstatuses" => "",
        "deployments" | "replicasets" | "statefulsets" | "daemonsets" | "controllerrevisions" => {
            "apps"
        }
        "jobs" | "cronjobs" => "batch",
        "roles" | "clusterroles" | "rolebindings" | "clusterrolebindings" => {
            "rbac.authorization.k8s.io"
        }
        "networkpolicies" | "ingresses" | "ingressclasses" => "networking.k8s.io",
        "certificatesigningrequests" | "signers" => "certificates.k8s.io",
        "validatingwebhookconfigurations"
        | "mutatingwebhookconfigurations"
        | "validatingadmissionpolicies"
        | "validatingadmissionpolicybindings" => "admissionregistration.k8s.io",
        "customresourcedefinitions" => "apiextensions.k8s.io",
        "horizontalpodautoscalers" => "autoscaling",
        "poddisruptionbudgets" => "policy",
        "storageclasses" | "csidrivers" | "csinodes" | "volumeattachments" => "storage.k8s.io",
        "priorityclasses" => "scheduling.k8s.io",
        "leases" => "coordination.k8s.io",
        "tokenreviews" => "authentication.k8s.io",
        "subjectaccessreviews" | "selfsubjectaccessreviews" => "authorization.k8s.io",
        _ => return None,
    })
}

fn principal_of(node: &Node, binding_ns: Option<&str>) -> Option<Principal> {
    let kind = node.get("kind").and_then(Node::as_str)?;
    let name = node.get("name").and_then(Node::as_str)?.to_string();
    Some(match kind {
        "User" => Principal::User(name),
        "Group" => Principal::Group(name),
        "ServiceAccount" => {
            // A ServiceAccount subject without namespace means the binding's namespace
            // (kubectl fills it in; the API server requires it on ClusterRoleBindings).
            let ns = node
                .get("namespace")
                .and_then(Node::as_string_value)
                .or(binding_ns)?
                .to_string();
            Principal::ServiceAccount(ns, name)
        }
        _ => return None,
    })
}

/// The line of a field that is present but neither a list nor null (it would read as
/// an empty list and grant, or show, nothing).
fn not_list(n: Option<&Node>) -> Option<u32> {
    let n = n?;
    match n.value {
        bulwark_misconfig::yaml::Value::Seq(_) => None,
        _ if n.is_null() => None,
        _ => Some(n.line),
    }
}

fn is_rbac(o: &Object) -> bool {
    o.group() == "rbac.authorization.k8s.io"
}

impl Graph {
    /// Builds the graph from loaded objects; an RBAC object the API server would refuse
    /// (a binding without `roleRef`, a rule that is not a mapping, a bad aggregation
    /// selector) is recorded in `loaded.unreadable` with its line.
    pub fn build(loaded: &mut Loaded) -> Graph {
        let mut g = Graph::default();
        let mut problems: Vec<(usize, u32, String)> = Vec::new();
        for (i, o) in loaded.objects.iter().enumerate() {
            let ns_or_default = || o.namespace.clone().unwrap_or_else(|| "default".into());
            if POD_KINDS.contains(&o.kind.as_str()) || o.kind == "ServiceAccount" {
                g.namespaces.insert(ns_or_default());
            }
            match o.kind.as_str() {
                "Namespace" if o.group().is_empty() => {
                    g.namespaces.insert(o.name.clone());
                }
                "ServiceAccount" if o.group().is_empty() => {
                    g.service_accounts.insert((ns_or_default(), o.name.clone()));
                }
                "Role" | "ClusterRole" if is_rbac(o) => {
                    let namespace = (o.kind == "Role").then(ns_or_default);
                    if let Some(ns) = &namespace {
                        g.namespaces.insert(ns.clone());
                    }
                    let mut rules = Vec::new();
                    if let Some(bad) = not_list(o.node.get("rules")) {
                        problems.push((i, bad, "rules is not a list".into()));
                    }
                    for r in o.node.get("rules").map(Node::items).unwrap_or(&[]) {
                        let bad_field = [
                            "apiGroups",
                            "resources",
                            "verbs",
                            "resourceNames",
                            "nonResourceURLs",
                        ]
                        .into_iter()
                        .find_map(|k| not_list(r.get(k)).map(|l| (k, l)));
                        if !r.is_map() {
                            problems.push((i, r.line, "rule is not a mapping".into()));
                        } else if let Some((k, l)) = bad_field {
                            problems.push((i, l, format!("{k} is not a list")));
                        } else {
                            rules.push(Rule::parse(r, &o.file));
                        }
                    }
                    let mut aggregation = Vec::new();
                    if o.kind == "ClusterRole" {
                        for s in o
                            .node
                            .path(&["aggregationRule", "clusterRoleSelectors"])
                            .map(Node::items)
                            .unwrap_or(&[])
                        {
                            match Selector::parse(s) {
                                Ok(sel) => aggregation.push(sel),
                                Err((line, m)) => problems.push((i, line, m)),
                            }
                        }
                    }
                    g.roles.push(Role {
                        kind: o.kind.clone(),
                        namespace,
                        name: o.name.clone(),
                        rules,
                        location: o.location(),
                        labels: o.labels.clone(),
                        aggregation,
                    });
                }
                "RoleBinding" | "ClusterRoleBinding" if is_rbac(o) => {
                    let namespace = (o.kind == "RoleBinding").then(ns_or_default);
                    let role_ref = o.node.get("roleRef");
                    let role_kind = role_ref
                        .and_then(|r| r.get("kind"))
                        .and_then(Node::as_str)
                        .unwrap_or("");
                    let role_name = role_ref
                        .and_then(|r| r.get("name"))
                        .and_then(Node::as_str)
                        .unwrap_or("");
                    if role_name.is_empty() || !matches!(role_kind, "Role" | "ClusterRole") {
                        problems.push((
                            i,
                            o.node.key_line("roleRef").unwrap_or(o.line),
                            "roleRef must name a Role or ClusterRole".into(),
                        ));
                        continue;
                    }
                    if o.kind == "ClusterRoleBinding" && role_kind == "Role" {
                        problems.push((
                            i,
                            o.line,
                            "a ClusterRoleBinding cannot refer to a Role".into(),
                        ));
                        continue;
                    }
                    if let Some(bad) = not_list(o.node.get("subjects")) {
                        problems.push((i, bad, "subjects is not a list".into()));
                    }
                    let mut subjects = Vec::new();
                    for s in o.node.get("subjects").map(Node::items).unwrap_or(&[]) {
                        match principal_of(s, namespace.as_deref()) {
                            Some(p) => {
                                if let Principal::ServiceAccount(ns, n) = &p {
                                    g.service_accounts.insert((ns.clone(), n.clone()));
                                    g.namespaces.insert(ns.clone());
                                }
                                subjects.push(p);
                            }
                            None => problems.push((
                                i,
                                s.line,
                                "subject needs kind User, Group or ServiceAccount, a name, and a namespace for a ServiceAccount".into(),
                            )),
                        }
                    }
                    if let Some(ns) = &namespace {
                        g.namespaces.insert(ns.clone());
                    }
                    g.bindings.push(Binding {
                        kind: o.kind.clone(),
                        namespace,
                        name: o.name.clone(),
                        role_kind: role_kind.to_string(),
                        role_name: role_name.to_string(),
                        subjects,
                        location: o.location(),
                    });
                }
                k if POD_KINDS.contains(&k) => {
                    if let Some((_, spec)) = pod_template(o) {
                        let sa = spec
                            .get("serviceAccountName")
                            .or_else(|| spec.get("serviceAccount"))
                            .and_then(Node::as_string_value)
                            .unwrap_or("default");
                        g.service_accounts.insert((ns_or_default(), sa.to_string()));
                    }
                }
                _ => {}
            }
        }
        for (i, line, m) in problems {
            if let Some(o) = loaded.objects.get(i).cloned() {
                loaded.invalid(&o, line, m);
            }
        }
        for ns in g.namespaces.clone() {
            g.service_accounts.insert((ns, "default".into()));
        }
        g.aggregate();
        for b in &g.bindings {
            if g.role_of(b).is_none() {
                g.dangling.push(format!(
                    "{} ({}) refers to {} {} which is not among the inputs",
                    b.display(),
                    b.location,
                    b.role_kind,
                    b.role_name
                ));
            }
        }
        g
    }

    /// Applies `aggregationRule`s until nothing changes (aggregated roles may feed other
    /// aggregated roles), as the cluster-role aggregation controller does.
    fn aggregate(&mut self) {
        for _ in 0..self.roles.len().max(1) {
            let mut changed = false;
            for i in 0..self.roles.len() {
                if self.roles[i].aggregation.is_empty() {
                    continue;
                }
                let mut add = Vec::new();
                for (j, other) in self.roles.iter().enumerate() {
                    if i == j || other.namespace.is_some() {
                        continue;
                    }
                    if self.roles[i]
                        .aggregation
                        .iter()
                        .any(|s| s.matches(&other.labels))
                    {
                        for r in &other.rules {
                            let mut r = r.clone();
                            if r.aggregated_from.is_none() {
                                r.aggregated_from = Some(other.display());
                            }
                            add.push(r);
                        }
                    }
                }
                for r in add {
                    if !self.roles[i].rules.iter().any(|x| x.same_grant(&r)) {
                        self.roles[i].rules.push(r);
                        changed = true;
                    }
                }
            }
            if !changed {
                break;
            }
        }
    }

    fn role_of(&self, b: &Binding) -> Option<usize> {
        self.roles.iter().position(|r| {
            r.name == b.role_name
                && match b.role_kind.as_str() {
                    "ClusterRole" => r.namespace.is_none(),
                    _ => r.namespace.is_some() && r.namespace == b.namespace,
                }
        })
    }

    /// Every principal named in a binding, plus every known service account.
    pub fn principals(&self) -> BTreeSet<Principal> {
        let mut out: BTreeSet<Principal> = self
            .bindings
            .iter()
            .flat_map(|b| b.subjects.iter().cloned())
            .collect();
        for (ns, n) in &self.service_accounts {
            out.insert(Principal::ServiceAccount(ns.clone(), n.clone()));
        }
        out
    }

    /// What `p` is granted: every (binding, role, rule) that applies to it.
    pub fn grants(&self, p: &Principal) -> Vec<Grant> {
        let mut out = Vec::new();
        for (bi, b) in self.bindings.iter().enumerate() {
            let Some(via) = b.subjects.iter().find(|s| p.bound_by(s)) else {
                continue;
            };
            let Some(ri) = self.role_of(b) else { continue };
            for rule in 0..self.roles[ri].rules.len() {
                out.push(Grant {
                    binding: bi,
                    role: ri,
                    rule,
                    scope: b.namespace.clone(),
                    via: (via != p).then(|| via.display()),
                });
            }
        }
        out
    }

    fn rule(&self, g: &Grant) -> &Rule {
        &self.roles[g.role].rules[g.rule]
    }

    /// The chain steps of a grant: binding, role, rule.
    fn steps(&self, g: &Grant) -> Vec<Step> {
        let b = &self.bindings[g.binding];
        let r = &self.roles[g.role];
        let rule = self.rule(g);
        let mut v = Vec::new();
        if let Some(via) = &g.via {
            v.push(Step {
                kind: "group",
                name: via.clone(),
                location: None,
            });
        }
        v.push(Step {
            kind: "binding",
            name: b.display(),
            location: Some(b.location.clone()),
        });
        v.push(Step {
            kind: "role",
            name: r.display(),
            location: Some(r.location.clone()),
        });
        let mut name = rule.display();
        if let Some(from) = &rule.aggregated_from {
            name.push_str(&format!(" (aggregated from {from})"));
        }
        v.push(Step {
            kind: "rule",
            name,
            location: Some(rule.location.clone()),
        });
        v
    }
}

/// One rule granted to a principal through one binding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// Index into [`Graph::bindings`].
    pub binding: usize,
    /// Index into [`Graph::roles`].
    pub role: usize,
    /// Index into the role's rules.
    pub rule: usize,
    /// Namespace of a RoleBinding; `None` for a ClusterRoleBinding (cluster-wide).
    pub scope: Option<String>,
    /// The group through which the principal holds the binding, if not directly.
    pub via: Option<String>,
}

/// One hop of a chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    /// `subject`, `group`, `binding`, `role`, `rule`, `pivot` or `serviceaccount`.
    pub kind: &'static str,
    /// What it is.
    pub name: String,
    /// `file:line`, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
}

/// The kinds of escalation path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PathKind {
    /// `*` verbs on `*` resources in `*` groups.
    WildcardAll,
    /// A `*` in verbs, resources or apiGroups.
    Wildcard,
    /// get/list/watch on secrets.
    ReadSecrets,
    /// create pods or pod-owning workloads.
    CreatePods,
    /// exec, attach, port-forward, ephemeral containers.
    ExecPods,
    /// `escalate` on roles.
    Escalate,
    /// `bind` on roles plus creating bindings.
    Bind,
    /// `impersonate` users or groups.
    Impersonate,
    /// `impersonate` service accounts.
    ImpersonateServiceAccount,
    /// nodes/proxy.
    NodesProxy,
    /// create serviceaccounts/token.
    TokenRequest,
    /// approve CSRs (approval subresource and signers approve).
    ApproveCsr,
    /// sign CSRs (status subresource and signers sign).
    SignCsr,
    /// edit mutating webhook configurations.
    MutatingWebhooks,
    /// edit validating webhook configurations.
    ValidatingWebhooks,
    /// create persistent volumes (hostPath).
    PersistentVolumes,
    /// update/patch running pods (their image).
    ModifyPods,
    /// create secrets (service-account token secrets).
    CreateTokenSecrets,
}

impl PathKind {
    /// Stable rule id.
    pub fn id(self) -> &'static str {
        match self {
            PathKind::WildcardAll => "BW-RBAC-0001",
            PathKind::Wildcard => "BW-RBAC-0002",
            PathKind::ReadSecrets => "BW-RBAC-0003",
            PathKind::CreatePods => "BW-RBAC-0004",
            PathKind::ExecPods => "BW-RBAC-0005",
            PathKind::Escalate => "BW-RBAC-0006",
            PathKind::Bind => "BW-RBAC-0007",
            PathKind::Impersonate => "BW-RBAC-0008",
            PathKind::ImpersonateServiceAccount => "BW-RBAC-0009",
            PathKind::NodesProxy => "BW-RBAC-0010",
            PathKind::TokenRequest => "BW-RBAC-0011",
            PathKind::ApproveCsr => "BW-RBAC-0012",
            PathKind::SignCsr => "BW-RBAC-0013",
            PathKind::MutatingWebhooks => "BW-RBAC-0014",
            PathKind::ValidatingWebhooks => "BW-RBAC-0015",
            PathKind::PersistentVolumes => "BW-RBAC-0016",
            PathKind::ModifyPods => "BW-RBAC-0017",
            PathKind::CreateTokenSecrets => "BW-RBAC-0018",
        }
    }

    /// Short title.
    pub fn title(self) -> &'static str {
        match self {
            PathKind::WildcardAll => "every verb on every resource",
            PathKind::Wildcard => "wildcard grant",
            PathKind::ReadSecrets => "read secrets",
            PathKind::CreatePods => "create pods or workloads",
            PathKind::ExecPods => "exec/attach/port-forward into pods",
            PathKind::Escalate => "escalate roles",
            PathKind::Bind => "bind roles",
            PathKind::Impersonate => "impersonate users or groups",
            PathKind::ImpersonateServiceAccount => "impersonate service accounts",
            PathKind::NodesProxy => "kubelet API through nodes/proxy",
            PathKind::TokenRequest => "request service-account tokens",
            PathKind::ApproveCsr => "approve certificate signing requests",
            PathKind::SignCsr => "sign certificate signing requests",
            PathKind::MutatingWebhooks => "edit mutating webhook configurations",
            PathKind::ValidatingWebhooks => "edit validating webhook configurations",
            PathKind::PersistentVolumes => "create persistent volumes (hostPath)",
            PathKind::ModifyPods => "modify running pods",
            PathKind::CreateTokenSecrets => "create service-account token secrets",
        }
    }

    /// Why it escalates (one sentence; docs/k8s-analysis.md says more).
    pub fn why(self) -> &'static str {
        match self {
            PathKind::WildcardAll => "all verbs on all resources is cluster-admin within the binding's scope",
            PathKind::Wildcard => "a wildcard also grants every verb, resource or group the API adds later, escalate/bind/impersonate included",
            PathKind::ReadSecrets => "secrets hold credentials, service-account token secrets among them",
            PathKind::CreatePods => "a new pod can run as any service account of its namespace and, without admission control, mount the node",
            PathKind::ExecPods => "a shell in a running pod is its service account's token and its data",
            PathKind::Escalate => "escalate lets a subject write roles with permissions it does not hold",
            PathKind::Bind => "bind plus creating bindings lets a subject grant itself any role it may bind",
            PathKind::Impersonate => "impersonating a user or group (system:masters) acts with its permissions",
            PathKind::ImpersonateServiceAccount => "impersonating a service account acts with its permissions",
            PathKind::NodesProxy => "the kubelet API runs commands in every pod of the node, bypassing admission and audit",
            PathKind::TokenRequest => "a token for a service account acts with its permissions",
            PathKind::ApproveCsr => "creating and approving a client CSR for the kube-apiserver-client signer yields a certificate for any user or group, system:masters included",
            PathKind::SignCsr => "signing CSRs issues certificates for the signer's purpose",
            PathKind::MutatingWebhooks => "a mutating webhook sees and rewrites every object it selects: secrets, and pods of privileged namespaces",
            PathKind::ValidatingWebhooks => "a validating webhook sees every object it selects (secrets included) and can deny any change",
            PathKind::PersistentVolumes => "a hostPath persistent volume mounts any node directory into a pod that claims it",
            PathKind::ModifyPods => "changing a running pod's image runs any code with its service account",
            PathKind::CreateTokenSecrets => "a Secret of type kubernetes.io/service-account-token naming an account is filled with that account's token",
        }
    }
}

/// An escalation path of one subject.
#[derive(Debug, Clone, Serialize)]
pub struct EscalationPath {
    /// Rule id (`BW-RBAC-0004`).
    pub id: &'static str,
    /// The kind.
    pub kind: PathKind,
    /// `User:alice`.
    pub subject: String,
    /// Severity.
    pub severity: Severity,
    /// Whether following the path gives cluster-admin-equivalent power.
    pub cluster_admin: bool,
    /// `cluster` or the namespace.
    pub scope: String,
    /// One-line summary.
    pub message: String,
    /// subject -> binding -> role -> rule [-> service account -> binding -> ...].
    pub chain: Vec<Step>,
}

impl EscalationPath {
    /// The chain as one line.
    pub fn chain_text(&self) -> String {
        self.chain
            .iter()
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>()
            .join(" -> ")
    }

    fn rank(&self) -> (bool, Severity) {
        (self.cluster_admin, self.severity)
    }
}

/// The result of the RBAC analysis.
#[derive(Debug, Clone, Serialize)]
pub struct RbacReport {
    /// Paths, most severe first.
    pub paths: Vec<EscalationPath>,
    /// Subjects whose paths reach cluster-admin-equivalent power.
    pub cluster_admin_subjects: Vec<String>,
    /// Counts of what was read.
    pub roles: usize,
    /// Bindings read.
    pub bindings: usize,
    /// Service accounts known.
    pub service_accounts: usize,
    /// Bindings to roles that are not among the inputs.
    pub dangling_bindings: Vec<String>,
}

struct Hit {
    kind: PathKind,
    severity: Severity,
    admin: bool,
    scope: Option<String>,
    steps: Vec<Step>,
    message: String,
    /// Service accounts the subject can then act as (for pivoting kinds).
    targets: Option<Targets>,
}

#[derive(Clone)]
enum Targets {
    /// Every service account of the namespace (None: of every namespace).
    Namespace(Option<String>),
    /// Only these names (resourceNames), in the namespace or everywhere.
    Named(Option<String>, Vec<String>),
}

fn scope_text(s: &Option<String>) -> String {
    match s {
        Some(ns) => format!("namespace {ns}"),
        None => "cluster".into(),
    }
}

const PRIVILEGED_NS: &[&str] = &["kube-system"];

impl Graph {
    fn any_rule(
        &self,
        grants: &[Grant],
        verbs: &[&str],
        group: &str,
        resources: &[(&str, &str)],
        cluster_only: bool,
    ) -> Vec<Grant> {
        grants
            .iter()
            .filter(|g| !cluster_only || g.scope.is_none())
            .filter(|g| {
                let r = self.rule(g);
                // `*` on `*` is reported once, as WildcardAll.
                !r.all_wildcard()
                    && r.resource_names.is_empty()
                    && verbs.iter().any(|v| {
                        resources
                            .iter()
                            .any(|(res, sub)| r.allows(v, group, res, sub, ""))
                    })
            })
            .cloned()
            .collect()
    }

    /// Grants allowing one verb on one resource, resourceNames kept (the names are
    /// returned so the caller can judge them).
    fn named_rule(
        &self,
        grants: &[Grant],
        verb: &str,
        group: &str,
        res: &str,
        sub: &str,
    ) -> Vec<Grant> {
        self.named_rule_in(grants, verb, group, res, sub, cluster_scoped(res))
    }

    /// [`Graph::named_rule`]; `cluster_only` keeps ClusterRoleBinding grants only.
    /// `bind` on clusterroles is the exception to scoping: a RoleBinding granting it
    /// lets the subject bind those cluster roles in its namespace (the RBAC
    /// documentation's delegated role-granting example).
    fn named_rule_in(
        &self,
        grants: &[Grant],
        verb: &str,
        group: &str,
        res: &str,
        sub: &str,
        cluster_only: bool,
    ) -> Vec<Grant> {
        grants
            .iter()
            .filter(|g| {
                let r = self.rule(g);
                let mut probe = r.clone();
                probe.resource_names.clear();
                !r.all_wildcard()
                    && probe.allows(verb, group, res, sub, "")
                    && (!cluster_only || g.scope.is_none())
            })
            .cloned()
            .collect()
    }

    fn direct_hits(&self, grants: &[Grant]) -> Vec<Hit> {
        let mut hits = Vec::new();
        let mut push =
            |kind, severity, admin, g: &Grant, steps: Vec<Step>, msg: String, targets| {
                hits.push(Hit {
                    kind,
                    severity,
                    admin,
                    scope: g.scope.clone(),
                    steps,
                    message: msg,
                    targets,
                });
            };
        for g in grants {
            let r = self.rule(g);
            if r.all_wildcard() {
                let cluster = g.scope.is_none();
                push(
                    PathKind::WildcardAll,
                    if cluster {
                        Severity::Critical
                    } else {
                        Severity::High
                    },
                    cluster,
                    g,
                    self.steps(g),
                    format!("every verb on every resource ({})", scope_text(&g.scope)),
                    Some(Targets::Namespace(g.scope.clone())),
                );
            } else if r.has_wildcard() && !r.resources.is_empty() {
                push(
                    PathKind::Wildcard,
                    Severity::Medium,
                    false,
                    g,
                    self.steps(g),
                    format!("wildcard in {} ({})", r.display(), scope_text(&g.scope)),
                    None,
                );
            }
        }
        for g in self.any_rule(
            grants,
            &["get", "list", "watch"],
            "",
            &[("secrets", "")],
            false,
        ) {
            let cluster = g.scope.is_none();
            let privileged = g
                .scope
                .as_deref()
                .is_some_and(|s| PRIVILEGED_NS.contains(&s));
            push(
                PathKind::ReadSecrets,
                if cluster || privileged {
                    Severity::Critical
                } else {
                    Severity::High
                },
                false,
                &g,
                self.steps(&g),
                format!("read secrets ({})", scope_text(&g.scope)),
                Some(Targets::Namespace(g.scope.clone())),
            );
        }
        let workloads: &[(&str, &[&str], &[&str])] = &[
            ("", &["pods"], &["create"]),
            (
                "",
                &["replicationcontrollers"],
                &["create", "update", "patch"],
            ),
            (
                "apps",
                &["deployments", "replicasets", "statefulsets", "daemonsets"],
                &["create", "update", "patch"],
            ),
            (
                "batch",
                &["jobs", "cronjobs"],
                &["create", "update", "patch"],
            ),
        ];
        let mut seen = BTreeSet::new();
        for (group, resources, verbs) in workloads {
            let res: Vec<(&str, &str)> = resources.iter().map(|r| (*r, "")).collect();
            for g in self.any_rule(grants, verbs, group, &res, false) {
                if !seen.insert((g.binding, g.role, g.rule)) {
                    continue;
                }
                push(
                    PathKind::CreatePods,
                    Severity::Medium,
                    false,
                    &g,
                    self.steps(&g),
                    format!("create pods or workloads ({})", scope_text(&g.scope)),
                    Some(Targets::Namespace(g.scope.clone())),
                );
            }
        }
        for g in self.any_rule(grants, &["update", "patch"], "", &[("pods", "")], false) {
            push(
                PathKind::ModifyPods,
                Severity::High,
                false,
                &g,
                self.steps(&g),
                format!("change running pods' images ({})", scope_text(&g.scope)),
                Some(Targets::Namespace(g.scope.clone())),
            );
        }
        for g in self.any_rule(grants, &["create"], "", &[("secrets", "")], false) {
            push(
                PathKind::CreateTokenSecrets,
                Severity::High,
                false,
                &g,
                self.steps(&g),
                format!(
                    "create service-account token secrets ({})",
                    scope_text(&g.scope)
                ),
                Some(Targets::Namespace(g.scope.clone())),
            );
        }
        let mut exec = self.any_rule(
            grants,
            &["create", "get"],
            "",
            &[
                ("pods", "exec"),
                ("pods", "attach"),
                ("pods", "portforward"),
            ],
            false,
        );
        exec.extend(self.any_rule(
            grants,
            &["update", "patch"],
            "",
            &[("pods", "ephemeralcontainers")],
            false,
        ));
        exec.dedup();
        for g in exec {
            push(
                PathKind::ExecPods,
                Severity::High,
                false,
                &g,
                self.steps(&g),
                format!(
                    "exec, attach or port-forward into pods ({})",
                    scope_text(&g.scope)
                ),
                Some(Targets::Namespace(g.scope.clone())),
            );
        }
        let rbac = "rbac.authorization.k8s.io";
        for g in self.any_rule(
            grants,
            &["escalate"],
            rbac,
            &[("roles", ""), ("clusterroles", "")],
            false,
        ) {
            if self.rule(&g).all_wildcard() {
                continue;
            }
            let cluster = g.scope.is_none();
            push(
                PathKind::Escalate,
                if cluster {
                    Severity::Critical
                } else {
                    Severity::High
                },
                cluster,
                &g,
                self.steps(&g),
                format!(
                    "escalate: write roles with any permission ({})",
                    scope_text(&g.scope)
                ),
                Some(Targets::Namespace(g.scope.clone())),
            );
        }
        // bind needs a second grant: creating (or changing) bindings in the same scope.
        let binds = self.named_rule_in(grants, "bind", rbac, "clusterroles", "", false);
        let binds_roles = self.named_rule(grants, "bind", rbac, "roles", "");
        for bg in binds.iter().chain(binds_roles.iter()) {
            if self.rule(bg).all_wildcard() {
                continue;
            }
            let mut makers = Vec::new();
            for v in ["create", "update", "patch"] {
                if bg.scope.is_none() {
                    makers.extend(self.named_rule(grants, v, rbac, "clusterrolebindings", ""));
                }
                makers.extend(
                    self.named_rule(grants, v, rbac, "rolebindings", "")
                        .into_iter()
                        .filter(|m| m.scope.is_none() || m.scope == bg.scope),
                );
            }
            let Some(mg) = makers.into_iter().next() else {
                continue;
            };
            let names = &self.rule(bg).resource_names;
            let cluster = bg.scope.is_none() && mg.scope.is_none();
            let any_role = names.is_empty();
            let mut steps = self.steps(bg);
            steps.extend(self.steps(&mg));
            push(
                PathKind::Bind,
                if cluster && any_role {
                    Severity::Critical
                } else {
                    Severity::High
                },
                cluster && any_role,
                bg,
                steps,
                if any_role {
                    format!(
                        "bind any role and create bindings ({})",
                        scope_text(&bg.scope)
                    )
                } else {
                    format!(
                        "bind roles {} and create bindings ({})",
                        names.join(","),
                        scope_text(&bg.scope)
                    )
                },
                any_role.then(|| Targets::Namespace(bg.scope.clone())),
            );
        }
        for res in ["users", "groups"] {
            for g in self.named_rule(grants, "impersonate", "", res, "") {
                if self.rule(&g).all_wildcard() {
                    continue;
                }
                let names = &self.rule(&g).resource_names;
                let admin = names.is_empty()
                    || (res == "groups" && names.iter().any(|n| n == "system:masters"));
                push(
                    PathKind::Impersonate,
                    if admin {
                        Severity::Critical
                    } else {
                        Severity::High
                    },
                    admin,
                    &g,
                    self.steps(&g),
                    if names.is_empty() {
                        format!("impersonate any of {res}")
                    } else {
                        format!("impersonate {res} {}", names.join(","))
                    },
                    None,
                );
            }
        }
        for g in self.named_rule(grants, "impersonate", "", "serviceaccounts", "") {
            if self.rule(&g).all_wildcard() {
                continue;
            }
            let names = self.rule(&g).resource_names.clone();
            push(
                PathKind::ImpersonateServiceAccount,
                Severity::High,
                false,
                &g,
                self.steps(&g),
                format!("impersonate service accounts ({})", scope_text(&g.scope)),
                Some(if names.is_empty() {
                    Targets::Namespace(g.scope.clone())
                } else {
                    Targets::Named(g.scope.clone(), names)
                }),
            );
        }
        for g in self.any_rule(
            grants,
            &["get", "create", "update", "patch", "delete"],
            "",
            &[("nodes", "proxy")],
            true,
        ) {
            push(
                PathKind::NodesProxy,
                Severity::Critical,
                true,
                &g,
                self.steps(&g),
                "nodes/proxy: the kubelet API of every node".into(),
                None,
            );
        }
        for g in self.named_rule(grants, "create", "", "serviceaccounts", "token") {
            let names = self.rule(&g).resource_names.clone();
            push(
                PathKind::TokenRequest,
                Severity::High,
                false,
                &g,
                self.steps(&g),
                format!("request service-account tokens ({})", scope_text(&g.scope)),
                Some(if names.is_empty() {
                    Targets::Namespace(g.scope.clone())
                } else {
                    Targets::Named(g.scope.clone(), names)
                }),
            );
        }
        let certs = "certificates.k8s.io";
        let approval = self.any_rule(
            grants,
            &["update", "patch"],
            certs,
            &[("certificatesigningrequests", "approval")],
            true,
        );
        let approve = self.named_rule(grants, "approve", certs, "signers", "");
        if let (Some(a), Some(s)) = (approval.first(), approve.first()) {
            let signer_names = &self.rule(s).resource_names;
            let client_signer = signer_names.is_empty()
                || signer_names
                    .iter()
                    .any(|n| n == "kubernetes.io/kube-apiserver-client" || n == "kubernetes.io/*");
            let create = self.any_rule(
                grants,
                &["create"],
                certs,
                &[("certificatesigningrequests", "")],
                true,
            );
            let mut steps = self.steps(a);
            steps.extend(self.steps(s));
            let admin = client_signer && !create.is_empty();
            if let Some(c) = create.first() {
                steps.extend(self.steps(c));
            }
            push(
                PathKind::ApproveCsr,
                if admin {
                    Severity::Critical
                } else {
                    Severity::High
                },
                admin,
                a,
                steps,
                if admin {
                    "create and approve client CSRs: a certificate for any user or group".into()
                } else {
                    "approve certificate signing requests".into()
                },
                None,
            );
        }
        let status = self.any_rule(
            grants,
            &["update", "patch"],
            certs,
            &[("certificatesigningrequests", "status")],
            true,
        );
        let sign = self.named_rule(grants, "sign", certs, "signers", "");
        if let (Some(a), Some(s)) = (status.first(), sign.first()) {
            let mut steps = self.steps(a);
            steps.extend(self.steps(s));
            push(
                PathKind::SignCsr,
                Severity::High,
                false,
                a,
                steps,
                "sign certificate signing requests".into(),
                None,
            );
        }
        let adm = "admissionregistration.k8s.io";
        for (res, kind, sev) in [
            (
                "mutatingwebhookconfigurations",
                PathKind::MutatingWebhooks,
                Severity::Critical,
            ),
            (
                "validatingwebhookconfigurations",
                PathKind::ValidatingWebhooks,
                Severity::High,
            ),
        ] {
            for g in self.any_rule(
                grants,
                &["create", "update", "patch"],
                adm,
                &[(res, "")],
                true,
            ) {
                if self.rule(&g).all_wildcard() {
                    continue;
                }
                push(
                    kind,
                    sev,
                    false,
                    &g,
                    self.steps(&g),
                    format!("edit {res}"),
                    None,
                );
            }
        }
        for g in self.any_rule(grants, &["create"], "", &[("persistentvolumes", "")], true) {
            if self.rule(&g).all_wildcard() {
                continue;
            }
            push(
                PathKind::PersistentVolumes,
                Severity::High,
                false,
                &g,
                self.steps(&g),
                "create persistent volumes (hostPath mounts of any node directory)".into(),
                None,
            );
        }
        hits
    }

    fn targets(&self, t: &Targets) -> Vec<Principal> {
        self.service_accounts
            .iter()
            .filter(|(ns, n)| match t {
                Targets::Namespace(scope) => scope.as_ref().is_none_or(|s| s == ns),
                Targets::Named(scope, names) => {
                    scope.as_ref().is_none_or(|s| s == ns) && names.contains(n)
                }
            })
            .map(|(ns, n)| Principal::ServiceAccount(ns.clone(), n.clone()))
            .collect()
    }

    /// Finds every escalation path.
    pub fn analyse(&self) -> RbacReport {
        let principals: Vec<Principal> = self.principals().into_iter().collect();
        let hits: Vec<Vec<Hit>> = principals
            .iter()
            .map(|p| self.direct_hits(&self.grants(p)))
            .collect();
        let index: BTreeMap<&Principal, usize> =
            principals.iter().enumerate().map(|(i, p)| (p, i)).collect();
        let targets: Vec<Vec<Vec<usize>>> = hits
            .iter()
            .map(|hs| {
                hs.iter()
                    .map(|h| {
                        h.targets
                            .as_ref()
                            .map(|t| {
                                self.targets(t)
                                    .iter()
                                    .filter_map(|p| index.get(p).copied())
                                    .collect()
                            })
                            .unwrap_or_default()
                    })
                    .collect()
            })
            .collect();
        // best[i]: the strongest path of principal i: (rank, chain, message).
        let mut best: Vec<Option<EscalationPath>> = principals
            .iter()
            .zip(&hits)
            .map(|(p, hs)| {
                hs.iter()
                    .map(|h| to_path(p, h, Vec::new(), None))
                    .max_by_key(EscalationPath::rank)
            })
            .collect();
        for _ in 0..principals.len() {
            let mut changed = false;
            for i in 0..principals.len() {
                for (hi, h) in hits[i].iter().enumerate() {
                    for &t in &targets[i][hi] {
                        if t == i {
                            continue;
                        }
                        let Some(tb) = best[t].clone() else { continue };
                        let cand = to_path(&principals[i], h, tb.chain.clone(), Some(&tb));
                        let better = best[i].as_ref().is_none_or(|b| {
                            cand.rank() > b.rank()
                                || (cand.rank() == b.rank() && cand.chain.len() < b.chain.len())
                        });
                        if better {
                            best[i] = Some(cand);
                            changed = true;
                        }
                    }
                }
            }
            if !changed {
                break;
            }
        }
        let mut paths = Vec::new();
        for (i, p) in principals.iter().enumerate() {
            for (hi, h) in hits[i].iter().enumerate() {
                let base = to_path(p, h, Vec::new(), None);
                let strongest = targets[i][hi]
                    .iter()
                    .filter(|&&t| t != i)
                    .filter_map(|&t| best[t].as_ref())
                    .filter(|tb| tb.rank() > base.rank())
                    // The strongest account; among equals, the shortest chain.
                    .max_by_key(|tb| (tb.rank(), std::cmp::Reverse(tb.chain.len())));
                match strongest {
                    Some(tb) => paths.push(to_path(p, h, tb.chain.clone(), Some(tb))),
                    None => paths.push(base),
                }
            }
        }
        paths.sort_by(|a, b| {
            b.rank()
                .cmp(&a.rank())
                .then_with(|| a.subject.cmp(&b.subject))
                .then_with(|| a.kind.cmp(&b.kind))
                .then_with(|| a.chain_text().cmp(&b.chain_text()))
        });
        paths.dedup_by(|a, b| a.subject == b.subject && a.chain == b.chain && a.kind == b.kind);
        let cluster_admin_subjects: BTreeSet<String> = paths
            .iter()
            .filter(|p| p.cluster_admin)
            .map(|p| p.subject.clone())
            .collect();
        RbacReport {
            paths,
            cluster_admin_subjects: cluster_admin_subjects.into_iter().collect(),
            roles: self.roles.len(),
            bindings: self.bindings.len(),
            service_accounts: self.service_accounts.len(),
            dangling_bindings: self.dangling.clone(),
        }
    }
}

fn to_path(
    p: &Principal,
    h: &Hit,
    tail: Vec<Step>,
    via: Option<&EscalationPath>,
) -> EscalationPath {
    let mut chain = vec![Step {
        kind: "subject",
        name: p.display(),
        location: None,
    }];
    chain.extend(h.steps.iter().cloned());
    let (severity, admin, message) = match via {
        Some(t) => {
            chain.push(Step {
                kind: "pivot",
                name: format!("acts as {}", t.subject),
                location: None,
            });
            chain.extend(tail.into_iter().skip(1).map(|mut s| {
                if s.kind == "subject" {
                    s.kind = "serviceaccount";
                }
                s
            }));
            (
                t.severity.max(h.severity),
                t.cluster_admin || h.admin,
                format!("{}, then as {}: {}", h.message, t.subject, t.message),
            )
        }
        None => (h.severity, h.admin, h.message.clone()),
    };
    EscalationPath {
        id: h.kind.id(),
        kind: h.kind,
        subject: p.display(),
        severity,
        cluster_admin: admin,
        scope: scope_text(&h.scope),
        message,
        chain,
    }
}

/// A `--who-can` question.
#[derive(Debug, Clone, Default)]
pub struct Query {
    /// Verb.
    pub verb: String,
    /// Resource (plural, lower case).
    pub resource: String,
    /// API group; `None` when unknown (then any group's rule for the resource counts).
    pub group: Option<String>,
    /// Subresource.
    pub subresource: String,
    /// Namespace (`None`: any namespace, or a cluster-scoped resource).
    pub namespace: Option<String>,
    /// Object name.
    pub name: String,
    /// A non-resource URL (`/metrics`) instead of a resource.
    pub non_resource_url: Option<String>,
}

impl Query {
    /// Parses `RESOURCE[.GROUP][/SUB]` with its verb; the group of a built-in resource
    /// is filled in.
    /// A RESOURCE starting with `/` is a non-resource URL (`get /metrics`).
    pub fn parse(verb: &str, resource: &str) -> Query {
        if resource.starts_with('/') {
            return Query {
                verb: verb.to_string(),
                non_resource_url: Some(resource.to_string()),
                ..Query::default()
            };
        }
        let (res, sub) = resource.split_once('/').unwrap_or((resource, ""));
        let (res, group) = match res.split_once('.') {
            Some((r, g)) => (r, Some(g.to_string())),
            None => (res, builtin_group(res).map(str::to_string)),
        };
        Query {
            verb: verb.to_string(),
            resource: res.to_ascii_lowercase(),
            group,
            subresource: sub.to_string(),
            namespace: None,
            name: String::new(),
            non_resource_url: None,
        }
    }
}

/// One answer to `--who-can`.
#[derive(Debug, Clone, Serialize)]
pub struct WhoCan {
    /// The subject named in the binding.
    pub subject: String,
    /// Where the grant applies (`cluster` or a namespace).
    pub scope: String,
    /// binding -> role -> rule.
    pub chain: Vec<Step>,
}

impl Graph {
    /// Who can do `q`, and through which binding, role and rule.
    pub fn who_can(&self, q: &Query) -> Vec<WhoCan> {
        let mut out = Vec::new();
        if let Some(url) = &q.non_resource_url {
            // Non-resource URLs are granted only cluster-wide: a RoleBinding's rules
            // about them are ignored by the authorizer.
            for (bi, b) in self.bindings.iter().enumerate() {
                if b.namespace.is_some() {
                    continue;
                }
                let Some(ri) = self.role_of(b) else { continue };
                for (rule_i, r) in self.roles[ri].rules.iter().enumerate() {
                    if !r.allows_url(&q.verb, url) {
                        continue;
                    }
                    let g = Grant {
                        binding: bi,
                        role: ri,
                        rule: rule_i,
                        scope: None,
                        via: None,
                    };
                    for s in &b.subjects {
                        out.push(WhoCan {
                            subject: s.display(),
                            scope: scope_text(&None),
                            chain: self.steps(&g),
                        });
                    }
                }
            }
            out.sort_by(|a, b| a.subject.cmp(&b.subject));
            return out;
        }
        // `bind` on clusterroles through a RoleBinding holds in that namespace.
        let cluster_res = cluster_scoped(&q.resource)
            && !(q.verb == "bind" && q.resource == "clusterroles" && q.namespace.is_some());
        for (bi, b) in self.bindings.iter().enumerate() {
            if cluster_res && b.namespace.is_some() {
                continue;
            }
            if let (Some(ns), Some(bns)) = (&q.namespace, &b.namespace) {
                if ns != bns {
                    continue;
                }
            }
            let Some(ri) = self.role_of(b) else { continue };
            for (rule_i, r) in self.roles[ri].rules.iter().enumerate() {
                let ok = match &q.group {
                    Some(g) => r.allows(&q.verb, g, &q.resource, &q.subresource, &q.name),
                    None => r
                        .api_groups
                        .iter()
                        .any(|g| r.allows(&q.verb, g, &q.resource, &q.subresource, &q.name)),
                };
                if !ok {
                    continue;
                }
                let g = Grant {
                    binding: bi,
                    role: ri,
                    rule: rule_i,
                    scope: b.namespace.clone(),
                    via: None,
                };
                for s in &b.subjects {
                    out.push(WhoCan {
                        subject: s.display(),
                        scope: scope_text(&b.namespace),
                        chain: self.steps(&g),
                    });
                }
            }
        }
        out.sort_by(|a, b| {
            a.subject
                .cmp(&b.subject)
                .then_with(|| a.scope.cmp(&b.scope))
        });
        out
    }
}
