//! CIS Kubernetes Benchmark section 5 and NSA/CISA hardening checks that go beyond the
//! Pod Security Standards (those live in [`super::pss`] and are also members of the
//! `cis-k8s`/`nsa` sets): resources, read-only root filesystem, service-account tokens,
//! image pinning, namespaces, probes, sensitive host mounts, literal secrets in env, and
//! exposed Services.

use bulwark_core::Severity;

use super::{container_name, PodView, Resource, Sink};
use crate::check::CheckMeta;
use crate::yaml::Node;

k8s_check!(
    CPU_LIMIT,
    "BW-K8S-0001",
    "CPU limit not set",
    Low,
    "Without a CPU limit a container can starve its neighbours.",
    "Set resources.limits.cpu.",
    [
        "CIS Docker 5.12",
        "NSA/CISA Kubernetes Hardening: Network separation (resource policies)",
        "NIST SP 800-190 4.4.1"
    ],
    ["KSV-0011", "KSV011", "CKV_K8S_11"],
    ["nsa"]
);
k8s_check!(
    MEMORY_LIMIT,
    "BW-K8S-0002",
    "Memory limit not set",
    Low,
    "Without a memory limit a container can exhaust the node's memory.",
    "Set resources.limits.memory.",
    [
        "CIS Docker 5.11",
        "NSA/CISA Kubernetes Hardening: Network separation (resource policies)",
        "NIST SP 800-190 4.4.1"
    ],
    ["KSV-0018", "KSV018", "CKV_K8S_13"],
    ["nsa"]
);
k8s_check!(
    CPU_REQUEST,
    "BW-K8S-0003",
    "CPU request not set",
    Low,
    "Without CPU requests the scheduler cannot place the pod sensibly.",
    "Set resources.requests.cpu.",
    ["CIS Docker 5.12", "NIST SP 800-190 4.4.1"],
    ["KSV-0015", "KSV015", "CKV_K8S_10"],
    []
);
k8s_check!(
    MEMORY_REQUEST,
    "BW-K8S-0004",
    "Memory request not set",
    Low,
    "Without memory requests the scheduler cannot place the pod sensibly.",
    "Set resources.requests.memory.",
    ["CIS Docker 5.11", "NIST SP 800-190 4.4.1"],
    ["KSV-0016", "KSV016", "CKV_K8S_12"],
    []
);
k8s_check!(READ_ONLY_ROOT, "BW-K8S-0005", "Root filesystem is writable", Medium,
    "An immutable root filesystem stops an attacker from installing tools or tampering with the application.",
    "Set securityContext.readOnlyRootFilesystem: true and mount emptyDir volumes where writes are needed.",
    ["CIS Docker 5.13", "NSA/CISA Kubernetes Hardening: Pod security (immutable container filesystems)", "NIST SP 800-190 4.4.3"],
    ["KSV-0014", "KSV014", "CKV_K8S_22"], ["nsa"]);
k8s_check!(SA_TOKEN, "BW-K8S-0006", "Service account token mounted", Low,
    "Unless automountServiceAccountToken is false, every container gets API credentials an attacker can use.",
    "Set spec.automountServiceAccountToken: false where the pod does not call the Kubernetes API.",
    ["CIS Kubernetes 5.1.6", "NSA/CISA Kubernetes Hardening: Pod security (service account tokens)", "NIST SP 800-190 4.3.1"],
    ["KSV-0036", "KSV036", "CKV_K8S_38"], ["cis-k8s", "nsa"]);
k8s_check!(IMAGE_TAG, "BW-K8S-0007", "Image tag is latest or missing", Medium,
    "A mutable or missing tag makes deployments unreproducible and can silently pull a different image.",
    "Pin the image to a specific version tag, ideally with a digest.",
    ["CIS Docker 5.28", "NIST SP 800-190 4.1.5"],
    ["KSV-0013", "KSV013", "CKV_K8S_14"], []);
k8s_check!(
    IMAGE_DIGEST,
    "BW-K8S-0008",
    "Image not pinned by digest",
    Low,
    "Tags can be moved; only a digest names exactly one image.",
    "Reference the image as name@sha256:<digest>.",
    ["CIS Docker 5.28", "NIST SP 800-190 4.1.5"],
    ["CKV_K8S_43"],
    []
);
k8s_check!(
    DEFAULT_NAMESPACE,
    "BW-K8S-0009",
    "Workload in the default namespace",
    Low,
    "The default namespace gives no administrative boundary between workloads.",
    "Deploy into a dedicated namespace.",
    [
        "CIS Kubernetes 5.7.4",
        "NSA/CISA Kubernetes Hardening: Network separation (namespaces)",
        "NIST SP 800-190 4.3.3"
    ],
    ["KSV-0110", "CKV_K8S_21"],
    ["cis-k8s", "nsa"]
);
k8s_check!(NET_RAW, "BW-K8S-0010", "NET_RAW not dropped", Medium,
    "NET_RAW, granted by default by most runtimes, allows packet spoofing and sniffing on the pod network.",
    "Add NET_RAW (or ALL) to securityContext.capabilities.drop.",
    ["CIS Kubernetes 5.2.8", "CIS Docker 5.4", "NIST SP 800-190 4.4.3"],
    // Not KSV-0119: Trivy's rule only flags NET_RAW in capabilities.add (that is
    // BW-PSS-capabilities-baseline); this one also flags a NET_RAW that is not dropped.
    ["CKV_K8S_28"], ["cis-k8s"]);
k8s_check!(
    LIVENESS,
    "BW-K8S-0011",
    "No liveness probe",
    Low,
    "Without a liveness probe a hung container is never restarted.",
    "Add a livenessProbe.",
    ["CIS Docker 5.27"],
    ["CKV_K8S_8"],
    []
);
k8s_check!(
    READINESS,
    "BW-K8S-0012",
    "No readiness probe",
    Low,
    "Without a readiness probe traffic is sent to containers that are not ready.",
    "Add a readinessProbe.",
    ["CIS Docker 5.27"],
    ["CKV_K8S_9"],
    []
);
k8s_check!(
    RUNTIME_SOCKET,
    "BW-K8S-0013",
    "Container runtime socket mounted",
    Critical,
    "Mounting docker.sock (or the containerd/CRI-O socket) gives the container root on the node.",
    "Do not mount the container runtime socket.",
    [
        "CIS Docker 5.32",
        "CIS Kubernetes 5.2.12",
        "NIST SP 800-190 4.4.3"
    ],
    ["KSV-0006", "KSV006", "CKV_K8S_27"],
    ["cis-k8s", "nsa"]
);
k8s_check!(SENSITIVE_HOST_PATH, "BW-K8S-0014", "Sensitive host directory mounted", High,
    "Mounting system directories of the node (/, /etc, /proc, /sys, /var/lib/kubelet, ...) exposes host secrets and allows host takeover.",
    "Do not mount host system directories.",
    ["CIS Docker 5.6", "CIS Kubernetes 5.2.12", "NIST SP 800-190 4.4.3"],
    ["KSV-0121"], ["cis-k8s", "nsa"]);
k8s_check!(ENV_SECRET, "BW-K8S-0015", "Literal secret in environment", High,
    "A password, token or key written as a literal env value is stored in the manifest and visible to anyone who can read the object.",
    "Move the value into a Secret and mount it as a file (or at least use valueFrom.secretKeyRef).",
    ["CIS Kubernetes 5.4.1", "NIST SP 800-190 4.1.4"], [], ["cis-k8s", "nsa"]);
k8s_check!(
    SERVICE_EXPOSED,
    "BW-K8S-0016",
    "Service exposed outside the cluster",
    Low,
    "NodePort and LoadBalancer Services open ports on every node or an external address.",
    "Prefer ClusterIP behind an ingress with authentication; restrict loadBalancerSourceRanges.",
    [
        "NSA/CISA Kubernetes Hardening: Network separation",
        "NIST SP 800-190 4.3.2"
    ],
    [],
    ["nsa"]
);
k8s_check!(
    EXTERNAL_IPS,
    "BW-K8S-0017",
    "Service with externalIPs",
    High,
    "Service externalIPs can be abused to intercept cluster traffic (CVE-2020-8554).",
    "Remove spec.externalIPs.",
    ["NIST SP 800-190 4.3.2"],
    ["KSV-0108"],
    ["nsa"]
);
k8s_check!(
    LOW_UID,
    "BW-K8S-0018",
    "Runs with UID at most 10000",
    Low,
    "UIDs of 10000 or less may collide with host users.",
    "Set runAsUser above 10000.",
    ["NIST SP 800-190 4.4.3"],
    ["KSV-0020", "KSV020", "CKV_K8S_40"],
    []
);
k8s_check!(KUBE_SYSTEM, "BW-K8S-0019", "Workload in kube-system", Medium,
    "User workloads in kube-system sit next to control-plane components and their privileged service accounts.",
    "Deploy user workloads into their own namespace.",
    ["NSA/CISA Kubernetes Hardening: Network separation (namespaces)", "CIS Kubernetes 5.7.1"],
    ["KSV-0037", "KSV037"], ["nsa"]);
k8s_check!(
    NAMESPACE_PSA,
    "BW-K8S-0020",
    "Namespace without Pod Security admission",
    Low,
    "A Namespace without a pod-security.kubernetes.io/enforce label admits any pod.",
    "Label the namespace pod-security.kubernetes.io/enforce: restricted (or baseline).",
    [
        "CIS Kubernetes 5.2.1",
        "NSA/CISA Kubernetes Hardening: Pod security (pod security admission)"
    ],
    [],
    ["cis-k8s", "nsa"]
);
k8s_check!(NO_SECURITY_CONTEXT, "BW-K8S-0021", "No security context", Low,
    "Neither the pod nor the container sets a securityContext, so every runtime default applies.",
    "Set pod and container securityContext (runAsNonRoot, allowPrivilegeEscalation, capabilities, seccompProfile).",
    ["CIS Kubernetes 5.7.3", "NIST SP 800-190 4.4.3"],
    ["KSV-0118", "CKV_K8S_29", "CKV_K8S_30"], ["cis-k8s"]);
k8s_check!(
    MOUNT_PROPAGATION,
    "BW-K8S-0022",
    "Bidirectional mount propagation",
    Medium,
    "Bidirectional propagation lets the container create mounts visible on the host.",
    "Remove mountPropagation: Bidirectional.",
    ["CIS Docker 5.20", "NIST SP 800-190 4.4.3"],
    [],
    []
);
k8s_check!(SECRET_ENV_REF, "BW-K8S-0023", "Secret exposed as environment variable", Low,
    "Environment variables leak into logs, crash dumps and child processes; secrets are safer as files.",
    "Mount the secret as a volume instead of env valueFrom.secretKeyRef / envFrom.secretRef.",
    ["CIS Kubernetes 5.4.1"], ["CKV_K8S_35"], ["cis-k8s"]);

k8s_check!(NO_CAPS_DROP, "BW-K8S-0048", "Container drops no capabilities", Low,
    "A container that sets no capabilities.drop keeps every capability the runtime grants by default.",
    "Set securityContext.capabilities.drop: [ALL] and add back only what is needed.",
    ["CIS Kubernetes 5.2.9", "NSA/CISA Kubernetes Hardening: Pod security", "NIST SP 800-190 4.4.3"],
    ["KSV-0004", "KSV004"], []);
k8s_check!(HOST_ALIASES, "BW-K8S-0049", "Pod manages /etc/hosts", Low,
    "hostAliases write entries into the pod's /etc/hosts, which can redirect names the application trusts and stops the kubelet from managing the file.",
    "Use DNS (a Service or an ExternalName) instead of spec.hostAliases.",
    ["NIST SP 800-190 4.4.3"], ["KSV-0007", "KSV007"], []);
k8s_check!(
    LOW_GID,
    "BW-K8S-0050",
    "Runs with GID at most 10000",
    Low,
    "GIDs of 10000 or less may collide with host groups.",
    "Set runAsGroup above 10000.",
    ["NIST SP 800-190 4.4.3"],
    ["KSV-0021", "KSV021"],
    []
);
k8s_check!(ROOT_GROUP, "BW-K8S-0051", "Runs with the root group", Low,
    "A root primary, supplementary or filesystem group (GID 0) gives access to files owned by group root.",
    "Set runAsGroup, fsGroup and supplementalGroups to non-zero GIDs.",
    ["NIST SP 800-190 4.4.3"], ["KSV-0116"], []);
k8s_check!(
    PRIVILEGED_PORT,
    "BW-K8S-0052",
    "Container port below 1024",
    Medium,
    "Binding a port below 1024 needs root or NET_BIND_SERVICE inside the container.",
    "Listen on a port of 1024 or more and map it in the Service.",
    ["CIS Docker 5.8", "NIST SP 800-190 4.4.3"],
    ["KSV-0117"],
    []
);
k8s_check!(TILLER, "BW-K8S-0053", "Helm Tiller deployed", Critical,
    "Helm 2's Tiller runs with cluster-admin and an unauthenticated gRPC port: anyone in the cluster network can install anything.",
    "Remove Tiller and move to Helm 3.",
    ["CIS Kubernetes 5.1.1", "NIST SP 800-190 4.3.1"], ["KSV-0102", "CKV_K8S_34"], ["cis-k8s"]);
k8s_check!(UNTRUSTED_REGISTRY, "BW-K8S-0054", "Image from an untrusted registry", Medium,
    "Images should come from registries the organisation controls; by default those are the cloud registries (Azure ACR, AWS ECR, Google GCR).",
    "Mirror the image into a trusted registry and reference it there.",
    ["CIS Docker 4.2", "NIST SP 800-190 4.1.5"], ["KSV-0125", "KSV0125"], []);

/// Every workload hardening check.
pub const CHECKS: &[CheckMeta] = &[
    CPU_LIMIT,
    MEMORY_LIMIT,
    CPU_REQUEST,
    MEMORY_REQUEST,
    READ_ONLY_ROOT,
    SA_TOKEN,
    IMAGE_TAG,
    IMAGE_DIGEST,
    DEFAULT_NAMESPACE,
    NET_RAW,
    LIVENESS,
    READINESS,
    RUNTIME_SOCKET,
    SENSITIVE_HOST_PATH,
    ENV_SECRET,
    SERVICE_EXPOSED,
    EXTERNAL_IPS,
    LOW_UID,
    KUBE_SYSTEM,
    NAMESPACE_PSA,
    NO_SECURITY_CONTEXT,
    MOUNT_PROPAGATION,
    SECRET_ENV_REF,
    NO_CAPS_DROP,
    HOST_ALIASES,
    LOW_GID,
    ROOT_GROUP,
    PRIVILEGED_PORT,
    TILLER,
    UNTRUSTED_REGISTRY,
];

/// Host paths whose mount exposes the node (exact or as a parent of the mount).
const SENSITIVE_PATHS: &[&str] = &[
    "/",
    "/etc",
    "/proc",
    "/sys",
    "/boot",
    "/dev",
    "/lib",
    "/usr",
    "/root",
    "/var/run",
    "/run",
    "/var/lib/kubelet",
    "/var/lib/docker",
    "/var/lib/containerd",
    "/etc/kubernetes",
    "/var/log",
];

const RUNTIME_SOCKETS: &[&str] = &[
    "/var/run/docker.sock",
    "/run/docker.sock",
    "/var/run/containerd/containerd.sock",
    "/run/containerd/containerd.sock",
    "/var/run/crio/crio.sock",
    "/run/crio/crio.sock",
    "/var/run/cri-dockerd.sock",
];

/// Env names that suggest a credential.
pub(crate) fn secret_like_name(name: &str) -> bool {
    let n = name.to_ascii_uppercase();
    [
        "PASSWORD",
        "PASSWD",
        "SECRET",
        "TOKEN",
        "API_KEY",
        "APIKEY",
        "PRIVATE_KEY",
        "ACCESS_KEY",
        "CREDENTIAL",
    ]
    .iter()
    .any(|k| n.contains(k))
}

/// True when a literal value looks like a real secret rather than a placeholder or a
/// reference (file path, `$(VAR)` expansion, boolean).
pub(crate) fn literal_secret_value(value: &str) -> bool {
    let v = value.trim();
    v.len() >= 4
        && !v.starts_with('/')
        && !v.starts_with("$(")
        && !v.starts_with("${")
        && !matches!(
            v.to_ascii_lowercase().as_str(),
            "true" | "false" | "none" | "null" | "changeme"
        )
}

/// `(has tag other than latest, has digest)` for an image reference.
pub(crate) fn image_pinning(image: &str) -> (bool, bool) {
    let (name, digest) = match image.split_once('@') {
        Some((n, _)) => (n, true),
        None => (image, false),
    };
    // A colon after the last slash is a tag; one before it is a registry port.
    let last = name.rsplit('/').next().unwrap_or(name);
    let tag = last.split_once(':').map(|(_, t)| t);
    (matches!(tag, Some(t) if t != "latest"), digest)
}

/// Runs the workload checks on one resource.
pub(crate) fn evaluate(res: &Resource<'_>, sink: &mut Sink<'_>) {
    let first = res.node.line;
    match res.kind {
        "Service" => return service(res, sink),
        "Namespace" => return namespace(res, sink),
        _ => {}
    }
    let Some(pod) = res.pod else { return };
    let ns_line = res
        .node
        .get("metadata")
        .and_then(|m| m.key_line("namespace"))
        .unwrap_or(first);
    match res.namespace {
        Some("default") => sink.report(
            &DEFAULT_NAMESPACE,
            ns_line,
            format!("{} is in namespace \"default\"", res.display()),
        ),
        Some("kube-system") => sink.report(
            &KUBE_SYSTEM,
            ns_line,
            format!("{} is in namespace \"kube-system\"", res.display()),
        ),
        _ => {}
    }
    match pod
        .spec
        .get("automountServiceAccountToken")
        .and_then(Node::as_bool)
    {
        Some(false) => {}
        Some(true) => sink.report(
            &SA_TOKEN,
            pod.spec
                .key_line("automountServiceAccountToken")
                .unwrap_or(first),
            "pod sets automountServiceAccountToken=true".into(),
        ),
        None => sink.report(
            &SA_TOKEN,
            pod.spec.line,
            "pod does not set automountServiceAccountToken=false".into(),
        ),
    }
    volumes(&pod, sink);
    let long_running = !matches!(res.kind, "Job" | "CronJob" | "Pod");
    let pod_sc = pod.security_context();
    let pod_uid = pod_sc
        .and_then(|s| s.get("runAsUser"))
        .and_then(Node::as_i64);
    let pod_gid = pod_sc
        .and_then(|s| s.get("runAsGroup"))
        .and_then(Node::as_i64);
    pod_level(res, &pod, sink);
    for (field, c) in pod.containers() {
        let who = format!("{} {:?}", field.trim_end_matches('s'), container_name(c));
        let regular = field == "containers";
        container(c, &who, regular, sink);
        if regular && long_running {
            if c.get("livenessProbe").is_none() {
                sink.report(&LIVENESS, c.line, format!("{who} has no livenessProbe"));
            }
            if c.get("readinessProbe").is_none() {
                sink.report(&READINESS, c.line, format!("{who} has no readinessProbe"));
            }
        }
        let csc = c.get("securityContext").filter(|s| !s.is_null());
        // `securityContext: {}` sets nothing: every runtime default still applies.
        let unset = |s: Option<&Node>| s.is_none_or(|s| s.entries().is_empty());
        if unset(csc) && unset(pod_sc) {
            sink.report(
                &NO_SECURITY_CONTEXT,
                c.line,
                format!("neither the pod nor {who} sets a securityContext"),
            );
        }
        let uid = csc
            .and_then(|s| s.get("runAsUser"))
            .and_then(Node::as_i64)
            .or(pod_uid);
        // Like the UID rule, only what the manifest states: an unset GID is the image's.
        if let Some(u) = uid.filter(|u| *u <= 10000) {
            sink.report(&LOW_UID, c.line, format!("{who} runs as UID {u}"));
        }
        let cgid = csc.and_then(|s| s.get("runAsGroup")).and_then(Node::as_i64);
        if let Some(g) = cgid.or(pod_gid).filter(|g| *g <= 10000) {
            sink.report(&LOW_GID, c.line, format!("{who} runs as GID {g}"));
        }
        if cgid == Some(0) {
            let line = csc.and_then(|s| s.key_line("runAsGroup")).unwrap_or(c.line);
            sink.report(&ROOT_GROUP, line, format!("{who} sets runAsGroup 0"));
        }
    }
}

/// Pod-level checks of the KSV family: root groups, hostAliases, Tiller.
fn pod_level(res: &Resource<'_>, pod: &PodView<'_>, sink: &mut Sink<'_>) {
    if let Some(sc) = pod.security_context() {
        for key in ["runAsGroup", "fsGroup"] {
            if sc.get(key).and_then(Node::as_i64) == Some(0) {
                let line = sc.key_line(key).unwrap_or(sc.line);
                sink.report(&ROOT_GROUP, line, format!("pod sets {key} 0"));
            }
        }
        let groups = sc.get("supplementalGroups").map(Node::items).unwrap_or(&[]);
        if let Some(g) = groups.iter().find(|g| g.as_i64() == Some(0)) {
            sink.report(
                &ROOT_GROUP,
                g.line,
                "pod lists group 0 in supplementalGroups".into(),
            );
        }
    }
    if let Some((k, v)) = pod.spec.entry("hostAliases") {
        if !v.is_null() {
            sink.report(&HOST_ALIASES, k.line, "pod sets spec.hostAliases".into());
        }
    }
    let tiller_meta = |m: Option<&Node>| {
        m.is_some_and(|m| {
            m.get("name")
                .and_then(Node::as_str)
                .is_some_and(|n| n.contains("tiller"))
                || m.path(&["labels", "app"]).and_then(Node::as_str) == Some("helm")
                || m.path(&["labels", "name"]).and_then(Node::as_str) == Some("tiller")
        })
    };
    let tiller_image = pod.containers().any(|(_, c)| {
        c.get("image")
            .and_then(Node::as_str)
            .is_some_and(|i| i.contains("tiller"))
    });
    if tiller_meta(res.node.get("metadata")) || tiller_meta(pod.meta) || tiller_image {
        sink.report(
            &TILLER,
            res.node.line,
            format!(
                "{} looks like Helm's Tiller (name, labels or image)",
                res.display()
            ),
        );
    }
}

/// The registry an image is pulled from: the first path component when it names a host
/// (has a `.` or `:`, or is `localhost`), else Docker Hub.
pub(crate) fn image_registry(image: &str) -> &str {
    match image.split_once('/') {
        Some((first, _)) if first.contains(['.', ':']) || first == "localhost" => first,
        _ => "docker.io",
    }
}

/// Trivy's default trusted registries: Azure Container Registry, Amazon ECR and Google
/// Container Registry hosts.
pub(crate) fn trusted_registry(registry: &str) -> bool {
    let host = registry
        .split(':')
        .next()
        .unwrap_or(registry)
        .to_ascii_lowercase();
    host.ends_with(".azurecr.io")
        || host == "gcr.io"
        || host.ends_with(".gcr.io")
        || (host.contains(".ecr.")
            && (host.ends_with(".amazonaws.com") || host.ends_with(".amazonaws.com.cn")))
}

fn container(c: &Node, who: &str, regular: bool, sink: &mut Sink<'_>) {
    let image = c.get("image").and_then(Node::as_str).unwrap_or("");
    let image_line = c.key_line("image").unwrap_or(c.line);
    if !image.is_empty() {
        let (tagged, digest) = image_pinning(image);
        if !tagged && !digest {
            sink.report(
                &IMAGE_TAG,
                image_line,
                format!("{who} uses image {image:?} without a fixed tag"),
            );
        }
        let registry = image_registry(image);
        if !trusted_registry(registry) {
            sink.report(
                &UNTRUSTED_REGISTRY,
                image_line,
                format!("{who} uses image {image:?} from registry {registry}"),
            );
        }
        if !digest {
            sink.report(
                &IMAGE_DIGEST,
                image_line,
                format!("{who} uses image {image:?} without a digest"),
            );
        }
    }
    if regular {
        let res = c.get("resources");
        for (meta, path) in [
            (&CPU_LIMIT, ["limits", "cpu"]),
            (&MEMORY_LIMIT, ["limits", "memory"]),
            (&CPU_REQUEST, ["requests", "cpu"]),
            (&MEMORY_REQUEST, ["requests", "memory"]),
        ] {
            if res.and_then(|r| r.path(&path)).is_none_or(Node::is_null) {
                sink.report(
                    meta,
                    c.line,
                    format!("{who} does not set resources.{}.{}", path[0], path[1]),
                );
            }
        }
    }
    let sc = c.get("securityContext").filter(|s| !s.is_null());
    if sc
        .and_then(|s| s.get("readOnlyRootFilesystem"))
        .and_then(Node::as_bool)
        != Some(true)
    {
        let line = sc
            .and_then(|s| s.key_line("readOnlyRootFilesystem"))
            .unwrap_or(c.line);
        sink.report(
            &READ_ONLY_ROOT,
            line,
            format!("{who} does not set securityContext.readOnlyRootFilesystem=true"),
        );
    }
    let caps = sc.and_then(|s| s.get("capabilities"));
    let names = |k: &str| -> Vec<String> {
        caps.and_then(|cp| cp.get(k))
            .map(Node::items)
            .unwrap_or(&[])
            .iter()
            .filter_map(Node::as_str)
            .map(|s| s.trim_start_matches("CAP_").to_ascii_uppercase())
            .collect()
    };
    if caps.and_then(|cp| cp.get("drop")).is_none() {
        sink.report(
            &NO_CAPS_DROP,
            caps.map_or(c.line, |cp| cp.line),
            format!("{who} does not set securityContext.capabilities.drop"),
        );
    }
    for p in c.get("ports").map(Node::items).unwrap_or(&[]) {
        if let Some(port) = p.get("containerPort").and_then(Node::as_i64) {
            if port < 1024 {
                sink.report(
                    &PRIVILEGED_PORT,
                    p.key_line("containerPort").unwrap_or(p.line),
                    format!("{who} listens on port {port}"),
                );
            }
        }
    }
    let dropped = names("drop");
    let added = names("add");
    if added.iter().any(|a| a == "NET_RAW" || a == "ALL") {
        sink.report(
            &NET_RAW,
            caps.map_or(c.line, |cp| cp.line),
            format!("{who} adds NET_RAW"),
        );
    } else if !dropped.iter().any(|d| d == "NET_RAW" || d == "ALL") {
        sink.report(
            &NET_RAW,
            caps.map_or(c.line, |cp| cp.line),
            format!("{who} does not drop NET_RAW (or ALL)"),
        );
    }
    for e in c.get("env").map(Node::items).unwrap_or(&[]) {
        let name = e.get("name").and_then(Node::as_str).unwrap_or("");
        if let Some(v) = e.get("value").and_then(Node::as_string_value) {
            if secret_like_name(name) && literal_secret_value(v) {
                sink.report(
                    &ENV_SECRET,
                    e.key_line("value").unwrap_or(e.line),
                    format!("{who} sets {name} to a literal value"),
                );
            }
        }
        if e.path(&["valueFrom", "secretKeyRef"]).is_some() {
            sink.report(
                &SECRET_ENV_REF,
                e.line,
                format!("{who} reads secret into env {name}"),
            );
        }
    }
    for e in c.get("envFrom").map(Node::items).unwrap_or(&[]) {
        if e.get("secretRef").is_some() {
            sink.report(
                &SECRET_ENV_REF,
                e.line,
                format!("{who} loads a secret with envFrom"),
            );
        }
    }
    for m in c.get("volumeMounts").map(Node::items).unwrap_or(&[]) {
        if m.get("mountPropagation").and_then(Node::as_str) == Some("Bidirectional") {
            sink.report(
                &MOUNT_PROPAGATION,
                m.key_line("mountPropagation").unwrap_or(m.line),
                format!("{who} mounts with Bidirectional propagation"),
            );
        }
    }
}

fn volumes(pod: &PodView<'_>, sink: &mut Sink<'_>) {
    for v in pod.spec.get("volumes").map(Node::items).unwrap_or(&[]) {
        let Some(hp) = v.get("hostPath").filter(|h| !h.is_null()) else {
            continue;
        };
        let path = hp.get("path").and_then(Node::as_str).unwrap_or("");
        let norm = if path.len() > 1 {
            path.trim_end_matches('/')
        } else {
            path
        };
        let line = hp.key_line("path").unwrap_or(hp.line);
        if RUNTIME_SOCKETS.contains(&norm) {
            sink.report(
                &RUNTIME_SOCKET,
                line,
                format!("hostPath volume mounts {path:?}"),
            );
        } else if SENSITIVE_PATHS.contains(&norm) {
            sink.report(
                &SENSITIVE_HOST_PATH,
                line,
                format!("hostPath volume mounts {path:?}"),
            );
        }
    }
}

fn service(res: &Resource<'_>, sink: &mut Sink<'_>) {
    let Some(spec) = res.node.get("spec") else {
        return;
    };
    let ty = spec
        .get("type")
        .and_then(Node::as_str)
        .unwrap_or("ClusterIP");
    if matches!(ty, "NodePort" | "LoadBalancer") {
        let ports: Vec<String> = spec
            .get("ports")
            .map(Node::items)
            .unwrap_or(&[])
            .iter()
            .map(|p| {
                let port = p.get("port").and_then(Node::as_str).unwrap_or("?");
                match p.get("nodePort").and_then(Node::as_str) {
                    Some(np) => format!("{port} (nodePort {np})"),
                    None => port.to_string(),
                }
            })
            .collect();
        sink.report(
            &SERVICE_EXPOSED,
            spec.key_line("type").unwrap_or(res.node.line),
            format!("Service type {ty} exposes port(s) {}", ports.join(", ")),
        );
    }
    if !spec
        .get("externalIPs")
        .map(Node::items)
        .unwrap_or(&[])
        .is_empty()
    {
        sink.report(
            &EXTERNAL_IPS,
            spec.key_line("externalIPs").unwrap_or(res.node.line),
            "Service sets externalIPs".into(),
        );
    }
}

fn namespace(res: &Resource<'_>, sink: &mut Sink<'_>) {
    let enforced = res
        .node
        .path(&["metadata", "labels", "pod-security.kubernetes.io/enforce"])
        .and_then(Node::as_str)
        .is_some_and(|v| v == "baseline" || v == "restricted");
    if !enforced {
        sink.report(
            &NAMESPACE_PSA,
            res.node.line,
            format!(
                "Namespace {:?} does not enforce baseline or restricted Pod Security",
                res.name
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_pinning_forms() {
        assert_eq!(image_pinning("nginx"), (false, false));
        assert_eq!(image_pinning("nginx:latest"), (false, false));
        assert_eq!(image_pinning("nginx:1.27"), (true, false));
        assert_eq!(image_pinning("registry:5000/nginx"), (false, false));
        assert_eq!(
            image_pinning("registry:5000/nginx:1.2@sha256:ab"),
            (true, true)
        );
        assert_eq!(image_pinning("nginx@sha256:ab"), (false, true));
    }

    #[test]
    fn secret_heuristics() {
        assert!(secret_like_name("DB_PASSWORD") && literal_secret_value("hunter22"));
        assert!(!secret_like_name("LOG_LEVEL"));
        assert!(!literal_secret_value("/run/secrets/db"));
        assert!(!literal_secret_value("$(DB_PASS)"));
    }
}
