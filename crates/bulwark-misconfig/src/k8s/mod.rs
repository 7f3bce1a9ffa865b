//! Kubernetes manifests: finds the resources in a YAML stream (multi-document files,
//! `kind: *List` items, Helm-rendered output), locates the pod spec of every pod-bearing
//! kind, and runs the Pod Security Standards ([`pss`]), workload hardening
//! ([`workload`]), RBAC ([`rbac`]) and other cluster-object ([`cluster`]) checks on it,
//! honouring inline suppressions. Together they cover every Kubernetes KSV check of
//! Trivy under its alias (see docs/side-by-side.md for the mapping).

/// Declares a `CheckMeta` constant of a Kubernetes check family.
macro_rules! k8s_check {
    ($name:ident, $id:literal, $title:literal, $sev:ident, $desc:literal, $fix:literal,
     [$($r:expr),*], [$($a:literal),*], [$($s:literal),*]) => {
        #[doc = $title]
        pub const $name: CheckMeta = CheckMeta {
            id: $id,
            title: $title,
            severity: Severity::$sev,
            description: $desc,
            remediation: $fix,
            references: &[$($r),*],
            aliases: &[$($a),*],
            sets: &[$($s),*],
        };
    };
}

pub mod cluster;
pub mod pss;
pub mod rbac;
pub mod workload;

use bulwark_core::Misconfiguration;

use crate::check::{mark_inline, parse_ignore_list, CheckMeta, CheckSelection};
use crate::yaml::{self, Node};
use crate::{Checked, MisconfigError};

/// Annotation listing check ids (or aliases) to suppress on a resource.
pub const IGNORE_ANNOTATION: &str = "bulwark.dev/ignore";
/// Comment prefix, on the line(s) right above a resource, listing ids to suppress.
pub const IGNORE_COMMENT: &str = "# bulwark:ignore=";

/// The newest Pod Security Standards version whose rules are known. Later versions are
/// evaluated with these rules, as the admission library itself does.
pub const PSS_LATEST_MINOR: u32 = 37;

/// A Pod Security Standards version: `v1.N` or `latest`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PssVersion {
    /// The newest known version.
    #[default]
    Latest,
    /// Kubernetes `v1.N` (the minor number).
    V1(u32),
}

impl PssVersion {
    /// The minor version whose rules apply.
    pub fn minor(self) -> u32 {
        match self {
            PssVersion::Latest => PSS_LATEST_MINOR,
            PssVersion::V1(m) => m.min(PSS_LATEST_MINOR),
        }
    }
}

impl std::str::FromStr for PssVersion {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let t = s.trim();
        if t.eq_ignore_ascii_case("latest") {
            return Ok(PssVersion::Latest);
        }
        let bad =
            || format!("invalid Pod Security Standards version {s:?} (expected v1.N or latest)");
        let rest = t.strip_prefix('v').unwrap_or(t);
        let minor = rest.strip_prefix("1.").ok_or_else(bad)?;
        minor.parse::<u32>().map(PssVersion::V1).map_err(|_| bad())
    }
}

impl std::fmt::Display for PssVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PssVersion::Latest => f.write_str("latest"),
            PssVersion::V1(m) => write!(f, "v1.{m}"),
        }
    }
}

/// Options for [`scan_k8s`].
#[derive(Debug, Clone, Default)]
pub struct K8sOptions {
    /// Which checks run.
    pub sets: CheckSelection,
    /// Which Pod Security Standards version the PSS checks follow.
    pub pss_version: PssVersion,
}

/// Where a resource keeps its pod: the pod (template) metadata and spec.
#[derive(Debug, Clone, Copy)]
pub struct PodView<'a> {
    /// `metadata` of the pod or pod template (annotations live here).
    pub meta: Option<&'a Node>,
    /// The pod spec.
    pub spec: &'a Node,
}

impl<'a> PodView<'a> {
    /// Every container of the pod: init, regular and ephemeral, with its list's name.
    pub fn containers(&self) -> impl Iterator<Item = (&'static str, &'a Node)> + 'a {
        let spec = self.spec;
        ["initContainers", "containers", "ephemeralContainers"]
            .into_iter()
            .flat_map(move |field| {
                spec.get(field)
                    .map(Node::items)
                    .unwrap_or(&[])
                    .iter()
                    .map(move |c| (field, c))
            })
    }

    /// `spec.securityContext`.
    pub fn security_context(&self) -> Option<&'a Node> {
        self.spec.get("securityContext").filter(|n| !n.is_null())
    }

    /// A pod annotation's value.
    pub fn annotation(&self, key: &str) -> Option<&'a Node> {
        self.meta?.path(&["annotations", key])
    }

    /// True when `spec.os.name` is `windows` (exempts pods from some restricted checks).
    pub fn is_windows(&self) -> bool {
        self.spec.path(&["os", "name"]).and_then(Node::as_str) == Some("windows")
    }

    /// True when `spec.hostUsers` is explicitly false (the pod runs in a user namespace).
    pub fn user_namespaced(&self) -> bool {
        self.spec.get("hostUsers").and_then(Node::as_bool) == Some(false)
    }
}

/// A container's name for messages.
pub fn container_name(c: &Node) -> &str {
    c.get("name").and_then(Node::as_str).unwrap_or("<unnamed>")
}

/// One Kubernetes object of the file.
#[derive(Debug, Clone)]
pub struct Resource<'a> {
    /// `kind`.
    pub kind: &'a str,
    /// `apiVersion`.
    pub api_version: &'a str,
    /// `metadata.name` (or `<unnamed>`).
    pub name: &'a str,
    /// `metadata.namespace`, when set.
    pub namespace: Option<&'a str>,
    /// The object's own node.
    pub node: &'a Node,
    /// The pod, for pod-bearing kinds.
    pub pod: Option<PodView<'a>>,
}

impl Resource<'_> {
    /// `Kind/name`, as shown in findings.
    pub fn display(&self) -> String {
        format!("{}/{}", self.kind, self.name)
    }
}

/// Whether `api_version` belongs to the built-in group that defines `kind`, so custom
/// resources that reuse a built-in kind name are not mistaken for it.
fn builtin_group(api_version: &str, kind: &str) -> bool {
    let group = api_version.rsplit_once('/').map(|(g, _)| g).unwrap_or("");
    match kind {
        "Pod"
        | "ReplicationController"
        | "PodTemplate"
        | "Service"
        | "Namespace"
        | "ConfigMap"
        | "LimitRange"
        | "ResourceQuota" => group.is_empty(),
        "Role" | "ClusterRole" | "RoleBinding" | "ClusterRoleBinding" => {
            group == "rbac.authorization.k8s.io"
        }
        "NetworkPolicy" => matches!(group, "networking.k8s.io" | "extensions"),
        "Deployment" | "ReplicaSet" | "DaemonSet" => {
            matches!(group, "apps" | "extensions")
        }
        "StatefulSet" => group == "apps",
        "Job" | "CronJob" => group == "batch",
        _ => false,
    }
}

/// Where an object of `kind` keeps its pod: (the pod template's metadata, the pod spec)
/// for a Pod, every pod-owning workload (Deployment, ReplicaSet, StatefulSet, DaemonSet,
/// Job, ReplicationController, CronJob) and a PodTemplate; `None` for other kinds or a
/// spec that is not a mapping. Shared with the cluster analysis (`bulwark-k8s`).
pub fn pod_template<'a>(kind: &str, node: &'a Node) -> Option<(Option<&'a Node>, &'a Node)> {
    let (meta, spec) = match kind {
        "Pod" => (node.get("metadata"), node.get("spec")?),
        "Deployment"
        | "ReplicaSet"
        | "StatefulSet"
        | "DaemonSet"
        | "Job"
        | "ReplicationController" => {
            let t = node.path(&["spec", "template"])?;
            (t.get("metadata"), t.get("spec")?)
        }
        "CronJob" => {
            let t = node.path(&["spec", "jobTemplate", "spec", "template"])?;
            (t.get("metadata"), t.get("spec")?)
        }
        "PodTemplate" => {
            let t = node.get("template")?;
            (t.get("metadata"), t.get("spec")?)
        }
        _ => return None,
    };
    spec.is_map().then_some((meta, spec))
}

fn pod_of<'a>(kind: &str, node: &'a Node) -> Option<PodView<'a>> {
    pod_template(kind, node).map(|(meta, spec)| PodView { meta, spec })
}

/// Collects the objects of one document, expanding `*List` kinds (one level deep, as
/// the API server does).
fn collect<'a>(node: &'a Node, out: &mut Vec<Resource<'a>>, in_list: bool) {
    if !node.is_map() {
        return;
    }
    let kind = node.get("kind").and_then(Node::as_str).unwrap_or("");
    let api_version = node.get("apiVersion").and_then(Node::as_str).unwrap_or("");
    if !in_list && kind.ends_with("List") {
        if let Some(items) = node.get("items") {
            for item in items.items() {
                collect(item, out, true);
            }
        }
        return;
    }
    if !builtin_group(api_version, kind) && !cluster::wants(api_version, kind) {
        return;
    }
    // `generateName` objects (Jobs created with `kubectl create`) have no name yet.
    let name = node
        .path(&["metadata", "name"])
        .or_else(|| node.path(&["metadata", "generateName"]))
        .and_then(Node::as_str)
        .unwrap_or("<unnamed>");
    let namespace = node.path(&["metadata", "namespace"]).and_then(Node::as_str);
    out.push(Resource {
        kind,
        api_version,
        name,
        namespace,
        node,
        pod: pod_of(kind, node),
    });
}

/// Suppressions written on the resource: its annotation, its pod template's annotation,
/// and `# bulwark:ignore=` comments directly above its first line.
fn suppressions(res: &Resource<'_>, lines: &[&str]) -> Vec<String> {
    let mut ids = Vec::new();
    let metas = [res.node.get("metadata"), res.pod.and_then(|p| p.meta)];
    for meta in metas.into_iter().flatten() {
        if let Some(v) = meta
            .path(&["annotations", IGNORE_ANNOTATION])
            .and_then(Node::as_str)
        {
            ids.extend(parse_ignore_list(v));
        }
    }
    // Walk up over the comments right above the resource; a `---` separator may sit
    // between the comment and the resource, anything else ends the block.
    let mut i = usize::try_from(res.node.line)
        .unwrap_or(0)
        .saturating_sub(1);
    while i > 0 {
        i -= 1;
        let Some(line) = lines.get(i) else { break };
        let t = line.trim().trim_start_matches("- ").trim();
        if let Some(list) = t.strip_prefix(IGNORE_COMMENT) {
            ids.extend(parse_ignore_list(list));
        } else if !(t.starts_with('#') || t == "---" || t.is_empty()) {
            break;
        }
    }
    ids
}

/// Collects findings of one resource, dropping disabled checks.
pub(crate) struct Sink<'a> {
    path: &'a str,
    resource: String,
    sel: &'a CheckSelection,
    out: Vec<Misconfiguration>,
}

impl Sink<'_> {
    /// Whether `meta` is selected.
    pub(crate) fn enabled(&self, meta: &CheckMeta) -> bool {
        self.sel.enabled(meta)
    }

    /// Records a finding if `meta` is selected.
    pub(crate) fn report(&mut self, meta: &CheckMeta, line: u32, message: String) {
        if self.sel.enabled(meta) {
            self.out.push(meta.finding(
                self.path,
                Some(line),
                Some(self.resource.clone()),
                message,
            ));
        }
    }
}

/// Scans one Kubernetes YAML file; the findings only, with the warnings of
/// [`check_k8s`] logged (callers that show warnings use [`check_k8s`]).
pub fn scan_k8s(
    path: &str,
    bytes: &[u8],
    opts: &K8sOptions,
) -> Result<Vec<Misconfiguration>, MisconfigError> {
    let checked = check_k8s(path, bytes, opts)?;
    for w in &checked.warnings {
        tracing::warn!("{path}: {w}");
    }
    Ok(checked.findings)
}

/// Scans one Kubernetes YAML file as the API server reads it (see [`crate::yaml`]:
/// repeated keys keep the last value, YAML 1.1 booleans), with a warning for every
/// repeated key. Files without Kubernetes objects yield no findings; malformed YAML is
/// an error naming file and line; binary content is a [`MisconfigError::NotText`] (a
/// warning).
pub fn check_k8s(path: &str, bytes: &[u8], opts: &K8sOptions) -> Result<Checked, MisconfigError> {
    let text = yaml::decode(path, bytes)?;
    let parsed = yaml::parse_with(path, text, yaml::Dialect::Kubernetes)?;
    let docs = parsed.docs;
    let lines: Vec<&str> = text.lines().collect();
    let mut resources = Vec::new();
    for doc in &docs {
        if let Some(root) = &doc.root {
            collect(root, &mut resources, false);
        }
    }
    let mut findings = Vec::new();
    for res in &resources {
        let mut sink = Sink {
            path,
            resource: res.display(),
            sel: &opts.sets,
            out: Vec::new(),
        };
        if let Some(pod) = res.pod {
            pss::evaluate(&pod, opts.pss_version.minor(), &mut sink);
        }
        workload::evaluate(res, &mut sink);
        rbac::evaluate(res, &mut sink);
        cluster::evaluate(res, &mut sink);
        let ignored = suppressions(res, &lines);
        findings.extend(sink.out.into_iter().map(|f| {
            mark_inline(
                &ignored,
                "the resource's bulwark.dev/ignore annotation or # bulwark:ignore= comment",
                f,
            )
        }));
    }
    Ok(Checked {
        findings,
        warnings: parsed.warnings,
    })
}

/// A Pod Security Standards level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PssLevel {
    /// No restriction.
    Privileged,
    /// The baseline controls.
    Baseline,
    /// Baseline plus the restricted controls.
    Restricted,
}

impl std::str::FromStr for PssLevel {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "privileged" => Ok(PssLevel::Privileged),
            "baseline" => Ok(PssLevel::Baseline),
            "restricted" => Ok(PssLevel::Restricted),
            o => Err(format!(
                "unknown Pod Security Standards level {o:?} (expected privileged, baseline or restricted)"
            )),
        }
    }
}

/// Checks one pod — its (template) `metadata` and its `spec` — against the Pod
/// Security Standards `level` at `version`, with the same controls as [`check_k8s`]
/// (the admission webhook's entry point). Findings name `resource` and `path`; lines
/// are those of the nodes (0 for nodes built with [`Node::from_json`]).
pub fn check_pod_security(
    path: &str,
    resource: &str,
    meta: Option<&Node>,
    spec: &Node,
    level: PssLevel,
    version: PssVersion,
) -> Vec<Misconfiguration> {
    let set = match level {
        PssLevel::Privileged => return Vec::new(),
        PssLevel::Baseline => "pss-baseline",
        PssLevel::Restricted => "pss-restricted",
    };
    let sel = CheckSelection::of([set]);
    let mut sink = Sink {
        path,
        resource: resource.to_string(),
        sel: &sel,
        out: Vec::new(),
    };
    pss::evaluate(&PodView { meta, spec }, version.minor(), &mut sink);
    sink.out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_parsing() {
        assert_eq!("v1.37".parse(), Ok(PssVersion::V1(37)));
        assert_eq!("1.0".parse(), Ok(PssVersion::V1(0)));
        assert_eq!("latest".parse(), Ok(PssVersion::Latest));
        assert!("v2.1".parse::<PssVersion>().is_err());
        assert!("v1.x".parse::<PssVersion>().is_err());
        assert_eq!(PssVersion::V1(99).minor(), PSS_LATEST_MINOR);
    }
}
