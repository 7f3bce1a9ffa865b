//! Checks on cluster objects that are not workloads or RBAC: ConfigMaps holding secrets or
//! personal data, NetworkPolicies without selectors, incomplete LimitRanges and
//! ResourceQuotas, API versions the API server no longer serves, and open-ended
//! Gatekeeper repository allow-lists.

use bulwark_core::Severity;

use super::{Resource, Sink};
use crate::check::CheckMeta;
use crate::yaml::Node;

k8s_check!(CONFIGMAP_SECRET, "BW-K8S-0055", "ConfigMap holds secrets", High,
    "ConfigMaps are not encrypted at rest by default and are readable by many roles; passwords and tokens belong in Secrets.",
    "Move the value into a Secret (or an external secret store) and reference it from there.",
    ["CIS Kubernetes 5.4.1", "NIST SP 800-190 4.1.4"], ["KSV-0109"], ["cis-k8s", "nsa"]);
k8s_check!(CONFIGMAP_SENSITIVE, "BW-K8S-0056", "ConfigMap holds personal or key data", Medium,
    "User names, e-mail addresses, phone numbers, keys or hashes in a ConfigMap are readable by every role that can read ConfigMaps.",
    "Keep personal data and key material in Secrets.",
    ["NIST SP 800-190 4.1.4"], ["KSV-01010"], []);
k8s_check!(NETWORKPOLICY_SELECTOR, "BW-K8S-0057", "NetworkPolicy selects nothing", Medium,
    "A NetworkPolicy without a podSelector or peer selectors does not say which traffic it restricts.",
    "Set spec.podSelector (`{}` for every pod of the namespace) and selectors on the ingress/egress peers.",
    ["CIS Kubernetes 5.3.2", "NSA/CISA Kubernetes Hardening: Network separation (network policies)"],
    ["KSV-0038", "KSV038"], ["cis-k8s", "nsa"]);
k8s_check!(LIMIT_RANGE, "BW-K8S-0058", "LimitRange without defaults and bounds", Low,
    "A LimitRange only protects a namespace when a limit sets type, min, max, default and defaultRequest.",
    "Give one spec.limits entry type, min, max, default and defaultRequest.",
    ["NSA/CISA Kubernetes Hardening: Network separation (resource policies)"], ["KSV-0039", "KSV039"], ["nsa"]);
k8s_check!(RESOURCE_QUOTA, "BW-K8S-0059", "ResourceQuota without CPU and memory quotas", Low,
    "A ResourceQuota bounds a namespace only when spec.hard caps requests and limits of CPU and memory.",
    "Set requests.cpu, requests.memory, limits.cpu and limits.memory in spec.hard.",
    ["NSA/CISA Kubernetes Hardening: Network separation (resource policies)"], ["KSV-0040", "KSV040"], ["nsa"]);
k8s_check!(REMOVED_API, "BW-K8S-0060", "API version no longer served", Low,
    "The apiVersion/kind was removed from Kubernetes; current API servers reject the object, and the manifest is probably unmaintained.",
    "Move the object to the API version that replaced it.",
    ["CIS Kubernetes 5.7"], ["KSV-0107"], []);
k8s_check!(GATEKEEPER_OPEN_REPO, "BW-K8S-0061", "Gatekeeper allowed-repos prefix is open-ended", High,
    "K8sAllowedRepos matches by prefix: `docker.io/library` or a bare name also admits every repository whose name merely starts with it.",
    "End each allowed prefix with `/` (or a full repository name and `:`).",
    ["NIST SP 800-190 4.1.5"], ["KSV-0124"], []);

/// Every check of this module.
pub const CHECKS: &[CheckMeta] = &[
    CONFIGMAP_SECRET,
    CONFIGMAP_SENSITIVE,
    NETWORKPOLICY_SELECTOR,
    LIMIT_RANGE,
    RESOURCE_QUOTA,
    REMOVED_API,
    GATEKEEPER_OPEN_REPO,
];

/// `(apiVersion, kinds, removed in 1.N, replacement)` of built-in APIs that Kubernetes
/// stopped serving (from the Kubernetes deprecated API migration guide).
const REMOVED: &[(&str, &[&str], u32, &str)] = &[
    (
        "extensions/v1beta1",
        &["Deployment", "DaemonSet", "ReplicaSet"],
        16,
        "apps/v1",
    ),
    (
        "extensions/v1beta1",
        &["NetworkPolicy"],
        16,
        "networking.k8s.io/v1",
    ),
    (
        "extensions/v1beta1",
        &["PodSecurityPolicy"],
        16,
        "Pod Security admission",
    ),
    (
        "extensions/v1beta1",
        &["Ingress"],
        22,
        "networking.k8s.io/v1",
    ),
    (
        "apps/v1beta1",
        &[
            "Deployment",
            "StatefulSet",
            "ReplicaSet",
            "DaemonSet",
            "ControllerRevision",
        ],
        16,
        "apps/v1",
    ),
    (
        "apps/v1beta2",
        &[
            "Deployment",
            "StatefulSet",
            "ReplicaSet",
            "DaemonSet",
            "ControllerRevision",
        ],
        16,
        "apps/v1",
    ),
    (
        "networking.k8s.io/v1beta1",
        &["Ingress", "IngressClass"],
        22,
        "networking.k8s.io/v1",
    ),
    (
        "rbac.authorization.k8s.io/v1beta1",
        &["Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"],
        22,
        "rbac.authorization.k8s.io/v1",
    ),
    (
        "rbac.authorization.k8s.io/v1alpha1",
        &["Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"],
        22,
        "rbac.authorization.k8s.io/v1",
    ),
    (
        "apiextensions.k8s.io/v1beta1",
        &["CustomResourceDefinition"],
        22,
        "apiextensions.k8s.io/v1",
    ),
    (
        "admissionregistration.k8s.io/v1beta1",
        &[
            "MutatingWebhookConfiguration",
            "ValidatingWebhookConfiguration",
        ],
        22,
        "admissionregistration.k8s.io/v1",
    ),
    (
        "apiregistration.k8s.io/v1beta1",
        &["APIService"],
        22,
        "apiregistration.k8s.io/v1",
    ),
    (
        "scheduling.k8s.io/v1beta1",
        &["PriorityClass"],
        22,
        "scheduling.k8s.io/v1",
    ),
    (
        "storage.k8s.io/v1beta1",
        &["CSIDriver", "CSINode", "StorageClass", "VolumeAttachment"],
        22,
        "storage.k8s.io/v1",
    ),
    (
        "storage.k8s.io/v1beta1",
        &["CSIStorageCapacity"],
        27,
        "storage.k8s.io/v1",
    ),
    (
        "coordination.k8s.io/v1beta1",
        &["Lease"],
        22,
        "coordination.k8s.io/v1",
    ),
    (
        "certificates.k8s.io/v1beta1",
        &["CertificateSigningRequest"],
        22,
        "certificates.k8s.io/v1",
    ),
    ("batch/v1beta1", &["CronJob"], 25, "batch/v1"),
    ("batch/v2alpha1", &["CronJob"], 21, "batch/v1"),
    ("policy/v1beta1", &["PodDisruptionBudget"], 25, "policy/v1"),
    (
        "policy/v1beta1",
        &["PodSecurityPolicy"],
        25,
        "Pod Security admission",
    ),
    (
        "discovery.k8s.io/v1beta1",
        &["EndpointSlice"],
        25,
        "discovery.k8s.io/v1",
    ),
    ("events.k8s.io/v1beta1", &["Event"], 25, "events.k8s.io/v1"),
    (
        "node.k8s.io/v1beta1",
        &["RuntimeClass"],
        25,
        "node.k8s.io/v1",
    ),
    (
        "autoscaling/v2beta1",
        &["HorizontalPodAutoscaler"],
        25,
        "autoscaling/v2",
    ),
    (
        "autoscaling/v2beta2",
        &["HorizontalPodAutoscaler"],
        26,
        "autoscaling/v2",
    ),
    (
        "flowcontrol.apiserver.k8s.io/v1beta1",
        &["FlowSchema", "PriorityLevelConfiguration"],
        26,
        "flowcontrol.apiserver.k8s.io/v1",
    ),
    (
        "flowcontrol.apiserver.k8s.io/v1beta2",
        &["FlowSchema", "PriorityLevelConfiguration"],
        29,
        "flowcontrol.apiserver.k8s.io/v1",
    ),
    (
        "flowcontrol.apiserver.k8s.io/v1beta3",
        &["FlowSchema", "PriorityLevelConfiguration"],
        32,
        "flowcontrol.apiserver.k8s.io/v1",
    ),
];

/// The Kubernetes minor release that stopped serving `api_version`/`kind`, and what
/// replaces it.
pub(crate) fn removed_api(api_version: &str, kind: &str) -> Option<(u32, &'static str)> {
    REMOVED
        .iter()
        .find(|(v, kinds, _, _)| *v == api_version && kinds.contains(&kind))
        .map(|(_, _, minor, repl)| (*minor, *repl))
}

/// Whether this module checks objects of `api_version`/`kind` that the workload scanner
/// does not know (removed APIs of any kind, Gatekeeper constraints).
pub(crate) fn wants(api_version: &str, kind: &str) -> bool {
    removed_api(api_version, kind).is_some()
        || (kind == "K8sAllowedRepos" && api_version.starts_with("constraints.gatekeeper.sh/"))
}

/// Runs the checks of this module on one resource.
pub(crate) fn evaluate(res: &Resource<'_>, sink: &mut Sink<'_>) {
    if let Some((minor, repl)) = removed_api(res.api_version, res.kind) {
        let line = res.node.key_line("apiVersion").unwrap_or(res.node.line);
        sink.report(
            &REMOVED_API,
            line,
            format!(
                "{} uses apiVersion {}, removed in Kubernetes v1.{minor}; use {repl}",
                res.display(),
                res.api_version
            ),
        );
    }
    match res.kind {
        "ConfigMap" => configmap(res, sink),
        "NetworkPolicy" => network_policy(res, sink),
        "LimitRange" => limit_range(res, sink),
        "ResourceQuota" => resource_quota(res, sink),
        "K8sAllowedRepos" => allowed_repos(res, sink),
        _ => {}
    }
}

/// Words that make a ConfigMap key, or a `word: value` / `word=value` line in a value,
/// a secret.
const SECRET_WORDS: &[&str] = &[
    "password",
    "pass",
    "pword",
    "passphrase",
    "passwrd",
    "passwd",
    "secret",
    "secretkey",
    "appsecret",
    "clientsecret",
    "aws_access_key_id",
    "pswrd",
    "token",
    "pwd",
];
/// Words that make a key or a `word: value` line personal or key data.
const SENSITIVE_WORDS: &[&str] = &["username", "email", "key", "phone", "iban"];
/// Words that mark a hash, anywhere.
const HASH_WORDS: &[&str] = &["sha1", "md5"];

/// True when `value` (after the delimiter) is a placeholder for something filled in
/// later: empty, or an interpolation (`${X}`, `$(X)`, `{{ x }}`).
fn placeholder(value: &str) -> bool {
    let v = value.trim().trim_start_matches(['"', '\'']);
    v.is_empty() || v.starts_with("${") || v.starts_with("$(") || v.starts_with("{{")
}

/// The first `word` of `words` in `line` (lower-cased) that is followed, after optional
/// spaces, by `:` or `=` and a value that is not a placeholder.
fn assigned<'w>(line: &str, words: &[&'w str]) -> Option<&'w str> {
    let low = line.to_ascii_lowercase();
    words.iter().copied().find(|w| {
        low.match_indices(w).any(|(i, _)| {
            let rest = low[i + w.len()..].trim_start_matches([' ', '\t']);
            match rest.strip_prefix([':', '=']) {
                Some(v) => !placeholder(v),
                None => false,
            }
        })
    })
}

/// True when `s` contains something shaped like an e-mail address.
fn has_email(s: &str) -> bool {
    s.split(|c: char| c.is_whitespace() || "\"'<>(),;".contains(c))
        .any(|tok| {
            let Some((local, domain)) = tok.split_once('@') else {
                return false;
            };
            let local_ok = !local.is_empty()
                && local
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-+".contains(c));
            let labels: Vec<&str> = domain.trim_end_matches('.').split('.').collect();
            let tld = labels.last().copied().unwrap_or("");
            local_ok
                && labels.len() >= 2
                && labels.iter().all(|l| {
                    !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                })
                && (2..=6).contains(&tld.len())
                && tld.chars().all(|c| c.is_ascii_alphabetic())
        })
}

fn configmap(res: &Resource<'_>, sink: &mut Sink<'_>) {
    let Some(data) = res.node.get("data") else {
        return;
    };
    let mut secret = Vec::new();
    let mut sensitive = Vec::new();
    let mut first_secret = None;
    let mut first_sensitive = None;
    for (k, v) in data.entries() {
        let Some(key) = k.as_str() else { continue };
        let low = key.to_ascii_lowercase();
        let value = v.as_str().unwrap_or("");
        let key_secret = SECRET_WORDS.iter().any(|w| low.contains(w));
        let value_secret = value.lines().any(|l| assigned(l, SECRET_WORDS).is_some());
        if key_secret || value_secret {
            secret.push(key);
            first_secret.get_or_insert(k.line);
        }
        let key_sensitive = SENSITIVE_WORDS
            .iter()
            .chain(HASH_WORDS)
            .any(|w| low.contains(w));
        let value_sensitive = value.lines().any(|l| {
            assigned(l, SENSITIVE_WORDS).is_some()
                || HASH_WORDS
                    .iter()
                    .any(|w| l.to_ascii_lowercase().contains(w))
                || has_email(l)
        });
        if key_sensitive || value_sensitive {
            sensitive.push(key);
            first_sensitive.get_or_insert(k.line);
        }
    }
    if let Some(line) = first_secret {
        sink.report(
            &CONFIGMAP_SECRET,
            line,
            format!(
                "{} stores secrets in key(s) {}",
                res.display(),
                secret.join(", ")
            ),
        );
    }
    if let Some(line) = first_sensitive {
        sink.report(
            &CONFIGMAP_SENSITIVE,
            line,
            format!(
                "{} stores personal or key data in key(s) {}",
                res.display(),
                sensitive.join(", ")
            ),
        );
    }
}

fn network_policy(res: &Resource<'_>, sink: &mut Sink<'_>) {
    let spec = res.node.get("spec");
    let has_pod_selector = spec.is_some_and(|s| s.get("podSelector").is_some());
    let peers = |dir: &str, side: &str| -> bool {
        spec.and_then(|s| s.get(dir))
            .map(Node::items)
            .unwrap_or(&[])
            .iter()
            .flat_map(|r| r.get(side).map(Node::items).unwrap_or(&[]))
            .any(|p| p.get("podSelector").is_some() || p.get("namespaceSelector").is_some())
    };
    let selects = has_pod_selector
        || spec.is_some_and(|s| s.get("namespaceSelector").is_some())
        || peers("ingress", "from")
        || peers("egress", "to");
    if !selects {
        sink.report(
            &NETWORKPOLICY_SELECTOR,
            spec.map_or(res.node.line, |s| s.line),
            format!("{} has no podSelector or peer selectors", res.display()),
        );
    }
}

fn limit_range(res: &Resource<'_>, sink: &mut Sink<'_>) {
    let limits = res.node.path(&["spec", "limits"]);
    let complete = limits.map(Node::items).unwrap_or(&[]).iter().any(|l| {
        ["type", "max", "min", "default", "defaultRequest"]
            .iter()
            .all(|k| l.get(k).is_some())
    });
    if !complete {
        sink.report(
            &LIMIT_RANGE,
            limits.map_or(res.node.line, |l| l.line),
            format!(
                "{} has no limit with type, min, max, default and defaultRequest",
                res.display()
            ),
        );
    }
}

fn resource_quota(res: &Resource<'_>, sink: &mut Sink<'_>) {
    let hard = res.node.path(&["spec", "hard"]);
    let missing: Vec<&str> = [
        "requests.cpu",
        "requests.memory",
        "limits.cpu",
        "limits.memory",
    ]
    .into_iter()
    .filter(|k| hard.and_then(|h| h.get(k)).is_none())
    .collect();
    if !missing.is_empty() {
        sink.report(
            &RESOURCE_QUOTA,
            hard.map_or(res.node.line, |h| h.line),
            format!("{} does not cap {}", res.display(), missing.join(", ")),
        );
    }
}

/// True when an allowed-repos prefix admits more than the repository it seems to name.
pub(crate) fn open_ended_repo(prefix: &str) -> bool {
    let parts: Vec<&str> = prefix.split('/').collect();
    (!prefix.contains('/') && !prefix.contains(':'))
        || (parts.first() == Some(&"docker.io") && parts.len() <= 2)
}

fn allowed_repos(res: &Resource<'_>, sink: &mut Sink<'_>) {
    let repos = res.node.path(&["spec", "parameters", "repos"]);
    for r in repos.map(Node::items).unwrap_or(&[]) {
        if let Some(prefix) = r.as_str().filter(|p| open_ended_repo(p)) {
            sink.report(
                &GATEKEEPER_OPEN_REPO,
                r.line,
                format!("{} allows the open-ended prefix {prefix:?}", res.display()),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configmap_words() {
        assert_eq!(
            assigned("DB_PASSWORD=hunter2", SECRET_WORDS),
            Some("password")
        );
        assert_eq!(assigned("password: ${DB_PASSWORD}", SECRET_WORDS), None);
        assert_eq!(assigned("password:", SECRET_WORDS), None);
        assert_eq!(assigned("log_level: info", SECRET_WORDS), None);
        assert!(has_email("contact: ops@example.com"));
        assert!(!has_email("image: nginx@sha256:abc"));
        assert!(!has_email("user@localhost"));
    }

    #[test]
    fn repo_prefixes() {
        assert!(open_ended_repo("nginx"));
        assert!(open_ended_repo("docker.io/library"));
        assert!(!open_ended_repo("docker.io/library/nginx"));
        assert!(!open_ended_repo("registry.example.com/team/"));
        assert!(!open_ended_repo("nginx:"));
    }

    #[test]
    fn removed_apis() {
        assert_eq!(
            removed_api("batch/v1beta1", "CronJob"),
            Some((25, "batch/v1"))
        );
        assert_eq!(removed_api("batch/v1", "CronJob"), None);
        assert!(removed_api("extensions/v1beta1", "Ingress").is_some());
    }
}
