//! Kubernetes Pod Security Standards, baseline and restricted, every control, at every
//! version from v1.0 to the newest known one.
//!
//! The semantics follow the Pod Security Admission library (the reference
//! implementation behind the built-in admission plugin): each control has version
//! ranges, and at the restricted level some restricted controls *replace* a baseline
//! control (restricted volumes replace hostPath, restricted seccomp/capabilities/procMount
//! replace their baseline forms) rather than adding to it; that matters for Windows pods,
//! which restricted exempts from some controls. Conformance is tested against the
//! library's own pass/fail fixtures for every version.

use bulwark_core::Severity;

use super::{container_name, PodView, Sink};
use crate::check::CheckMeta;
use crate::yaml::Node;

const BASE_SETS: &[&str] = &["pss-baseline", "pss-restricted"];
const RESTRICTED_SETS: &[&str] = &["pss-restricted"];

macro_rules! pss_check {
    ($name:ident, $id:literal, $title:literal, $sev:ident, $desc:literal, $fix:literal,
     [$($r:literal),*], [$($a:literal),*], $sets:expr) => {
        #[doc = $title]
        pub const $name: CheckMeta = CheckMeta {
            id: $id,
            title: $title,
            severity: Severity::$sev,
            description: $desc,
            remediation: $fix,
            references: &[$($r),*],
            aliases: &[$($a),*],
            sets: $sets,
        };
    };
}

pss_check!(
    HOST_PROCESS,
    "BW-PSS-host-process",
    "Windows HostProcess container",
    High,
    "Windows HostProcess containers have privileged access to the Windows node.",
    "Remove securityContext.windowsOptions.hostProcess or set it to false.",
    [
        "PSS baseline: HostProcess",
        "CIS Kubernetes 5.2.11",
        "NIST SP 800-190 4.4.3"
    ],
    ["KSV-0103", "KSV103"],
    &["pss-baseline", "pss-restricted", "cis-k8s"]
);
pss_check!(
    HOST_NAMESPACES,
    "BW-PSS-host-namespaces",
    "Host namespaces shared",
    High,
    "Sharing the host network, PID or IPC namespace lets the pod see and talk to host processes.",
    "Remove spec.hostNetwork, spec.hostPID and spec.hostIPC or set them to false.",
    [
        "PSS baseline: Host Namespaces",
        "CIS Kubernetes 5.2.3, 5.2.4, 5.2.5",
        "NSA/CISA Kubernetes Hardening: Pod security (host namespaces)",
        "NIST SP 800-190 4.4.3"
    ],
    [
        "KSV-0008",
        "KSV008",
        "KSV-0009",
        "KSV009",
        "KSV-0010",
        "KSV010",
        "CKV_K8S_17",
        "CKV_K8S_18",
        "CKV_K8S_19"
    ],
    &["pss-baseline", "pss-restricted", "cis-k8s", "nsa"]
);
pss_check!(
    PRIVILEGED,
    "BW-PSS-privileged",
    "Privileged container",
    High,
    "Privileged containers disable most security mechanisms and have full access to the host.",
    "Remove securityContext.privileged or set it to false.",
    [
        "PSS baseline: Privileged Containers",
        "CIS Kubernetes 5.2.2",
        "NSA/CISA Kubernetes Hardening: Pod security (non-privileged containers)",
        "CIS Docker 5.5",
        "NIST SP 800-190 4.4.3"
    ],
    ["KSV-0017", "KSV017", "CKV_K8S_16"],
    &["pss-baseline", "pss-restricted", "cis-k8s", "nsa"]
);
pss_check!(CAPABILITIES_BASELINE, "BW-PSS-capabilities-baseline",
    "Capabilities beyond the default set added", High,
    "Adding capabilities beyond the container runtime's default set (for example SYS_ADMIN, NET_ADMIN, NET_RAW) widens what a compromised container can do to the host.",
    "Only add capabilities from AUDIT_WRITE, CHOWN, DAC_OVERRIDE, FOWNER, FSETID, KILL, MKNOD, NET_BIND_SERVICE, SETFCAP, SETGID, SETPCAP, SETUID, SYS_CHROOT.",
    ["PSS baseline: Capabilities", "CIS Kubernetes 5.2.8, 5.2.9", "CIS Docker 5.4",
     "NIST SP 800-190 4.4.3"],
    ["KSV-0022", "KSV022", "KSV-0005", "KSV005", "KSV-0119", "KSV-0120",
     "CKV_K8S_25", "CKV_K8S_39"], &["pss-baseline", "pss-restricted", "cis-k8s", "nsa"]);
pss_check!(
    HOST_PATH,
    "BW-PSS-host-path-volumes",
    "hostPath volume",
    High,
    "hostPath volumes give the pod access to the node's filesystem.",
    "Replace hostPath volumes with emptyDir, configMap, secret or persistent volume claims.",
    [
        "PSS baseline: HostPath Volumes",
        "CIS Kubernetes 5.2.12",
        "CIS Docker 5.6",
        "NIST SP 800-190 4.4.3"
    ],
    ["KSV-0023", "KSV023"],
    &["pss-baseline", "pss-restricted", "cis-k8s", "nsa"]
);
pss_check!(HOST_PORTS, "BW-PSS-host-ports", "Host port", Medium,
    "hostPort binds a port on the node's interfaces, bypassing network policy and exposing the pod.",
    "Remove ports[].hostPort (or set it to 0); expose the pod through a Service instead.",
    ["PSS baseline: Host Ports", "CIS Kubernetes 5.2.13", "NIST SP 800-190 4.4.2"],
    ["KSV-0024", "KSV024", "CKV_K8S_26"], &["pss-baseline", "pss-restricted", "cis-k8s"]);
pss_check!(APPARMOR, "BW-PSS-apparmor", "AppArmor profile overridden", Medium,
    "Setting the AppArmor profile to anything but the runtime default or a localhost profile disables AppArmor confinement.",
    "Use appArmorProfile.type RuntimeDefault or Localhost (annotation values runtime/default or localhost/*).",
    ["PSS baseline: AppArmor", "CIS Docker 5.2", "NSA/CISA Kubernetes Hardening: Pod security (AppArmor)",
     "NIST SP 800-190 4.4.3"],
    ["KSV-0002", "KSV002"], &["pss-baseline", "pss-restricted", "nsa"]);
pss_check!(SELINUX, "BW-PSS-selinux", "Custom SELinux options", Medium,
    "Custom SELinux user or role, or a type outside the container types, can escape SELinux confinement.",
    "Leave seLinuxOptions.user and .role unset and use only container_t, container_init_t, container_kvm_t or container_engine_t as type.",
    ["PSS baseline: SELinux", "CIS Docker 5.3", "NSA/CISA Kubernetes Hardening: Pod security (SELinux)",
     "NIST SP 800-190 4.4.3"],
    ["KSV-0025", "KSV025"], &["pss-baseline", "pss-restricted", "nsa"]);
pss_check!(
    PROC_MOUNT,
    "BW-PSS-proc-mount",
    "Unmasked /proc mount",
    Medium,
    "procMount: Unmasked removes the default /proc masks that hide sensitive kernel interfaces.",
    "Remove securityContext.procMount or set it to Default.",
    ["PSS baseline: /proc Mount Type", "NIST SP 800-190 4.4.3"],
    ["KSV-0027", "KSV027"],
    BASE_SETS
);
pss_check!(
    SECCOMP_BASELINE,
    "BW-PSS-seccomp-baseline",
    "Seccomp profile disabled",
    Medium,
    "A seccomp profile of Unconfined lets the container make any system call.",
    "Set seccompProfile.type to RuntimeDefault or Localhost, or leave it unset.",
    [
        "PSS baseline: Seccomp",
        "CIS Docker 5.22",
        "NIST SP 800-190 4.4.3"
    ],
    ["KSV-0104"],
    BASE_SETS
);
pss_check!(SYSCTLS, "BW-PSS-sysctls", "Unsafe sysctl", Medium,
    "Sysctls outside the safe, namespaced set can disable security mechanisms or affect every pod on the node.",
    "Only set the sysctls the Pod Security Standards list as safe.",
    ["PSS baseline: Sysctls", "NIST SP 800-190 4.4.3"],
    ["KSV-0026", "KSV026"], BASE_SETS);
pss_check!(HOST_PROBES, "BW-PSS-host-probes", "Probe or lifecycle handler with host", Medium,
    "A host in httpGet/tcpSocket probes or lifecycle handlers makes the kubelet connect to arbitrary hosts (server-side request forgery).",
    "Remove the host field from probes and lifecycle handlers.",
    ["PSS baseline: Probes / Lifecycle Hooks (v1.34+)", "NIST SP 800-190 4.4.3"],
    [], BASE_SETS);
pss_check!(RESTRICTED_VOLUMES, "BW-PSS-volume-types", "Non-core volume type", Medium,
    "The restricted standard only allows configMap, csi, downwardAPI, emptyDir, ephemeral, image, persistentVolumeClaim, projected and secret volumes.",
    "Use persistent volume claims instead of inline network or host volumes.",
    ["PSS restricted: Volume Types", "NIST SP 800-190 4.4.3"],
    ["KSV-0028", "KSV028"], RESTRICTED_SETS);
pss_check!(ALLOW_PRIVILEGE_ESCALATION, "BW-PSS-allow-privilege-escalation",
    "Privilege escalation allowed", Medium,
    "Unless allowPrivilegeEscalation is false, setuid binaries or file capabilities can give the process more privileges than its parent.",
    "Set securityContext.allowPrivilegeEscalation: false on every container.",
    ["PSS restricted: Privilege Escalation", "CIS Kubernetes 5.2.6", "CIS Docker 5.26",
     "NSA/CISA Kubernetes Hardening: Pod security", "NIST SP 800-190 4.4.3"],
    ["KSV-0001", "KSV001", "CKV_K8S_20"], &["pss-restricted", "cis-k8s", "nsa"]);
pss_check!(
    RUN_AS_NON_ROOT,
    "BW-PSS-run-as-non-root",
    "Not required to run as non-root",
    Medium,
    "Without runAsNonRoot: true the container may run as root (UID 0) if the image says so.",
    "Set securityContext.runAsNonRoot: true on the pod (or on every container).",
    [
        "PSS restricted: Running as Non-root",
        "CIS Kubernetes 5.2.7",
        "NSA/CISA Kubernetes Hardening: Pod security (non-root containers)",
        "NIST SP 800-190 4.4.3"
    ],
    ["KSV-0012", "KSV012", "CKV_K8S_23"],
    &["pss-restricted", "cis-k8s", "nsa"]
);
pss_check!(
    RUN_AS_USER,
    "BW-PSS-run-as-user",
    "Runs as UID 0",
    Medium,
    "runAsUser: 0 runs the container as root.",
    "Set runAsUser to a non-zero UID or leave it unset with runAsNonRoot: true.",
    [
        "PSS restricted: Running as Non-root user (v1.23+)",
        "CIS Kubernetes 5.2.7",
        "NSA/CISA Kubernetes Hardening: Pod security (non-root containers)",
        "NIST SP 800-190 4.4.3"
    ],
    ["KSV-0105"],
    &["pss-restricted", "cis-k8s", "nsa"]
);
pss_check!(
    SECCOMP_RESTRICTED,
    "BW-PSS-seccomp-restricted",
    "Seccomp profile not set",
    Medium,
    "The restricted standard requires an explicit RuntimeDefault or Localhost seccomp profile.",
    "Set spec.securityContext.seccompProfile.type: RuntimeDefault.",
    [
        "PSS restricted: Seccomp (v1.19+)",
        "CIS Kubernetes 5.7.2",
        "CIS Docker 5.22",
        "NSA/CISA Kubernetes Hardening: Pod security (seccomp)",
        "NIST SP 800-190 4.4.3"
    ],
    ["KSV-0030", "KSV030", "CKV_K8S_31"],
    &["pss-restricted", "cis-k8s", "nsa"]
);
pss_check!(CAPABILITIES_RESTRICTED, "BW-PSS-capabilities-restricted",
    "Capabilities not dropped", Medium,
    "The restricted standard requires every container to drop ALL capabilities and add back at most NET_BIND_SERVICE.",
    "Set securityContext.capabilities.drop: [\"ALL\"] and add only NET_BIND_SERVICE if needed.",
    ["PSS restricted: Capabilities (v1.22+)", "CIS Kubernetes 5.2.10", "CIS Docker 5.4",
     "NSA/CISA Kubernetes Hardening: Pod security (capabilities)", "NIST SP 800-190 4.4.3"],
    ["KSV-0003", "KSV003", "KSV-0106", "CKV_K8S_37"], &["pss-restricted", "cis-k8s", "nsa"]);
pss_check!(
    PROC_MOUNT_RESTRICTED,
    "BW-PSS-proc-mount-restricted",
    "Unmasked /proc mount (user-namespaced pod)",
    Medium,
    "The restricted standard forbids unmasked /proc even in user-namespaced pods.",
    "Remove securityContext.procMount or set it to Default.",
    [
        "PSS restricted: /proc Mount Type (v1.35+)",
        "NIST SP 800-190 4.4.3"
    ],
    ["KSV-0027", "KSV027"],
    RESTRICTED_SETS
);

/// Every Pod Security Standards check.
pub const CHECKS: &[CheckMeta] = &[
    HOST_PROCESS,
    HOST_NAMESPACES,
    PRIVILEGED,
    CAPABILITIES_BASELINE,
    HOST_PATH,
    HOST_PORTS,
    APPARMOR,
    SELINUX,
    PROC_MOUNT,
    SECCOMP_BASELINE,
    SYSCTLS,
    HOST_PROBES,
    RESTRICTED_VOLUMES,
    ALLOW_PRIVILEGE_ESCALATION,
    RUN_AS_NON_ROOT,
    RUN_AS_USER,
    SECCOMP_RESTRICTED,
    CAPABILITIES_RESTRICTED,
    PROC_MOUNT_RESTRICTED,
];

/// A violation: line of the offending field and what is wrong.
type Hits = Vec<(u32, String)>;
type ControlFn = fn(&PodView<'_>, u32, &mut Hits);

struct Control {
    meta: CheckMeta,
    restricted: bool,
    since: u32,
    /// Baseline control this one replaces at the restricted level.
    overrides: Option<&'static str>,
    run: ControlFn,
}

const CONTROLS: &[Control] = &[
    Control {
        meta: HOST_PROCESS,
        restricted: false,
        since: 0,
        overrides: None,
        run: host_process,
    },
    Control {
        meta: HOST_NAMESPACES,
        restricted: false,
        since: 0,
        overrides: None,
        run: host_namespaces,
    },
    Control {
        meta: PRIVILEGED,
        restricted: false,
        since: 0,
        overrides: None,
        run: privileged,
    },
    Control {
        meta: CAPABILITIES_BASELINE,
        restricted: false,
        since: 0,
        overrides: None,
        run: capabilities_baseline,
    },
    Control {
        meta: HOST_PATH,
        restricted: false,
        since: 0,
        overrides: None,
        run: host_path,
    },
    Control {
        meta: HOST_PORTS,
        restricted: false,
        since: 0,
        overrides: None,
        run: host_ports,
    },
    Control {
        meta: APPARMOR,
        restricted: false,
        since: 0,
        overrides: None,
        run: apparmor,
    },
    Control {
        meta: SELINUX,
        restricted: false,
        since: 0,
        overrides: None,
        run: selinux,
    },
    Control {
        meta: PROC_MOUNT,
        restricted: false,
        since: 0,
        overrides: None,
        run: proc_mount_baseline,
    },
    Control {
        meta: SECCOMP_BASELINE,
        restricted: false,
        since: 0,
        overrides: None,
        run: seccomp_baseline,
    },
    Control {
        meta: SYSCTLS,
        restricted: false,
        since: 0,
        overrides: None,
        run: sysctls,
    },
    Control {
        meta: HOST_PROBES,
        restricted: false,
        since: 34,
        overrides: None,
        run: host_probes,
    },
    Control {
        meta: RESTRICTED_VOLUMES,
        restricted: true,
        since: 0,
        overrides: Some(HOST_PATH.id),
        run: restricted_volumes,
    },
    Control {
        meta: ALLOW_PRIVILEGE_ESCALATION,
        restricted: true,
        since: 8,
        overrides: None,
        run: allow_privilege_escalation,
    },
    Control {
        meta: RUN_AS_NON_ROOT,
        restricted: true,
        since: 0,
        overrides: None,
        run: run_as_non_root,
    },
    Control {
        meta: RUN_AS_USER,
        restricted: true,
        since: 23,
        overrides: None,
        run: run_as_user,
    },
    Control {
        meta: SECCOMP_RESTRICTED,
        restricted: true,
        since: 19,
        overrides: Some(SECCOMP_BASELINE.id),
        run: seccomp_restricted,
    },
    Control {
        meta: CAPABILITIES_RESTRICTED,
        restricted: true,
        since: 22,
        overrides: Some(CAPABILITIES_BASELINE.id),
        run: capabilities_restricted,
    },
    Control {
        meta: PROC_MOUNT_RESTRICTED,
        restricted: true,
        since: 35,
        overrides: Some(PROC_MOUNT.id),
        run: proc_mount_unconditional,
    },
];

/// Runs every selected control that exists at `minor` on one pod.
pub(crate) fn evaluate(pod: &PodView<'_>, minor: u32, sink: &mut Sink<'_>) {
    let active: Vec<&Control> = CONTROLS
        .iter()
        .filter(|c| c.since <= minor && sink.enabled(&c.meta))
        .collect();
    // A restricted control replaces its baseline counterpart only when it runs itself.
    let overridden: Vec<&str> = active
        .iter()
        .filter(|c| c.restricted)
        .filter_map(|c| c.overrides)
        .collect();
    for c in active {
        if overridden.contains(&c.meta.id) {
            continue;
        }
        let mut hits = Vec::new();
        (c.run)(pod, minor, &mut hits);
        for (line, msg) in hits {
            sink.report(&c.meta, line, msg);
        }
    }
}

fn sc(n: &Node) -> Option<&Node> {
    n.get("securityContext").filter(|s| !s.is_null())
}

/// A field that is present and not null.
fn present<'a>(n: &'a Node, key: &str) -> Option<&'a Node> {
    n.get(key).filter(|v| !v.is_null())
}

fn line_of(n: &Node, key: &str) -> u32 {
    n.key_line(key).unwrap_or(n.line)
}

fn where_(field: &str, c: &Node) -> String {
    format!("{} {:?}", field.trim_end_matches('s'), container_name(c))
}

fn host_process(pod: &PodView<'_>, _: u32, hits: &mut Hits) {
    let check = |s: &Node, who: String, hits: &mut Hits| {
        if let Some(w) = s.get("windowsOptions") {
            if w.get("hostProcess").and_then(Node::as_bool) == Some(true) {
                hits.push((
                    line_of(w, "hostProcess"),
                    format!("{who} sets securityContext.windowsOptions.hostProcess=true"),
                ));
            }
        }
    };
    if let Some(s) = pod.security_context() {
        check(s, "pod".into(), hits);
    }
    for (f, c) in pod.containers() {
        if let Some(s) = sc(c) {
            check(s, where_(f, c), hits);
        }
    }
}

fn host_namespaces(pod: &PodView<'_>, _: u32, hits: &mut Hits) {
    for key in ["hostNetwork", "hostPID", "hostIPC"] {
        if pod.spec.get(key).and_then(Node::as_bool) == Some(true) {
            hits.push((line_of(pod.spec, key), format!("pod sets {key}=true")));
        }
    }
}

fn privileged(pod: &PodView<'_>, _: u32, hits: &mut Hits) {
    for (f, c) in pod.containers() {
        if let Some(s) = sc(c) {
            if s.get("privileged").and_then(Node::as_bool) == Some(true) {
                hits.push((
                    line_of(s, "privileged"),
                    format!("{} sets securityContext.privileged=true", where_(f, c)),
                ));
            }
        }
    }
}

const DEFAULT_CAPABILITIES: &[&str] = &[
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
];

fn capabilities_baseline(pod: &PodView<'_>, _: u32, hits: &mut Hits) {
    for (f, c) in pod.containers() {
        let Some(caps) = sc(c).and_then(|s| s.get("capabilities")) else {
            continue;
        };
        for cap in caps.get("add").map(Node::items).unwrap_or(&[]) {
            let name = cap.as_str().unwrap_or("");
            if !DEFAULT_CAPABILITIES.contains(&name) {
                hits.push((
                    cap.line,
                    format!("{} adds capability {name:?}", where_(f, c)),
                ));
            }
        }
    }
}

fn host_path(pod: &PodView<'_>, _: u32, hits: &mut Hits) {
    for v in pod.spec.get("volumes").map(Node::items).unwrap_or(&[]) {
        if let Some(hp) = present(v, "hostPath") {
            let p = hp.get("path").and_then(Node::as_str).unwrap_or("");
            let name = v.get("name").and_then(Node::as_str).unwrap_or("");
            hits.push((
                line_of(v, "hostPath"),
                format!("volume {name:?} mounts host path {p:?}"),
            ));
        }
    }
}

fn host_ports(pod: &PodView<'_>, _: u32, hits: &mut Hits) {
    for (f, c) in pod.containers() {
        for p in c.get("ports").map(Node::items).unwrap_or(&[]) {
            if let Some(hp) = present(p, "hostPort") {
                if hp.as_i64() != Some(0) {
                    hits.push((
                        hp.line,
                        format!(
                            "{} uses hostPort {}",
                            where_(f, c),
                            hp.as_str().unwrap_or("?")
                        ),
                    ));
                }
            }
        }
    }
}

fn apparmor(pod: &PodView<'_>, _: u32, hits: &mut Hits) {
    let check = |s: &Node, who: String, hits: &mut Hits| {
        if let Some(p) = present(s, "appArmorProfile") {
            let t = p.get("type").and_then(Node::as_str).unwrap_or("");
            if !matches!(t, "RuntimeDefault" | "Localhost") {
                hits.push((
                    line_of(s, "appArmorProfile"),
                    format!("{who} sets appArmorProfile.type {t:?}"),
                ));
            }
        }
    };
    if let Some(s) = pod.security_context() {
        check(s, "pod".into(), hits);
    }
    for (f, c) in pod.containers() {
        if let Some(s) = sc(c) {
            check(s, where_(f, c), hits);
        }
    }
    let annotations = pod.meta.and_then(|m| m.get("annotations"));
    for (k, v) in annotations.map(Node::entries).unwrap_or(&[]) {
        let key = k.as_str().unwrap_or("");
        if key.starts_with("container.apparmor.security.beta.kubernetes.io/") {
            let val = v.as_string_value().unwrap_or("");
            if !(val.is_empty() || val == "runtime/default" || val.starts_with("localhost/")) {
                hits.push((k.line, format!("annotation {key}={val:?}")));
            }
        }
    }
}

fn selinux(pod: &PodView<'_>, minor: u32, hits: &mut Hits) {
    let mut types = vec!["", "container_t", "container_init_t", "container_kvm_t"];
    if minor >= 31 {
        types.push("container_engine_t");
    }
    let check = |s: &Node, who: String, hits: &mut Hits| {
        let Some(o) = present(s, "seLinuxOptions") else {
            return;
        };
        let t = o.get("type").and_then(Node::as_string_value).unwrap_or("");
        if !types.contains(&t) {
            hits.push((
                line_of(o, "type"),
                format!("{who} sets seLinuxOptions.type {t:?}"),
            ));
        }
        for key in ["user", "role"] {
            if o.get(key)
                .and_then(Node::as_string_value)
                .is_some_and(|v| !v.is_empty())
            {
                hits.push((line_of(o, key), format!("{who} sets seLinuxOptions.{key}")));
            }
        }
    };
    if let Some(s) = pod.security_context() {
        check(s, "pod".into(), hits);
    }
    for (f, c) in pod.containers() {
        if let Some(s) = sc(c) {
            check(s, where_(f, c), hits);
        }
    }
}

fn proc_mount_unconditional(pod: &PodView<'_>, _: u32, hits: &mut Hits) {
    for (f, c) in pod.containers() {
        let Some(s) = sc(c) else { continue };
        if let Some(pm) = present(s, "procMount") {
            let v = pm.as_str().unwrap_or("");
            if v != "Default" {
                hits.push((
                    line_of(s, "procMount"),
                    format!("{} sets procMount {v:?}", where_(f, c)),
                ));
            }
        }
    }
}

fn proc_mount_baseline(pod: &PodView<'_>, minor: u32, hits: &mut Hits) {
    // Since v1.35 a pod in its own user namespace may unmask /proc at baseline.
    if minor >= 35 && pod.user_namespaced() {
        return;
    }
    proc_mount_unconditional(pod, minor, hits);
}

fn valid_seccomp_type(n: &Node) -> bool {
    matches!(
        n.get("type").and_then(Node::as_str),
        Some("RuntimeDefault" | "Localhost")
    )
}

fn seccomp_baseline(pod: &PodView<'_>, minor: u32, hits: &mut Hits) {
    if minor < 19 {
        // Before the field existed, seccomp was set by alpha annotations.
        let valid = |v: &str| {
            v == "runtime/default" || v == "docker/default" || v.starts_with("localhost/")
        };
        let key = "seccomp.security.alpha.kubernetes.io/pod";
        if let Some(v) = pod.annotation(key) {
            let val = v.as_string_value().unwrap_or("");
            if !valid(val) {
                hits.push((v.line, format!("annotation {key}={val:?}")));
            }
        }
        for (_, c) in pod.containers() {
            let key = format!(
                "container.seccomp.security.alpha.kubernetes.io/{}",
                container_name(c)
            );
            if let Some(v) = pod.annotation(&key) {
                let val = v.as_string_value().unwrap_or("");
                if !valid(val) {
                    hits.push((v.line, format!("annotation {key}={val:?}")));
                }
            }
        }
        return;
    }
    if let Some(s) = pod.security_context() {
        if let Some(p) = present(s, "seccompProfile") {
            if !valid_seccomp_type(p) {
                hits.push((
                    line_of(s, "seccompProfile"),
                    "pod sets a seccompProfile.type other than RuntimeDefault or Localhost".into(),
                ));
            }
        }
    }
    for (f, c) in pod.containers() {
        if let Some(p) = sc(c).and_then(|s| present(s, "seccompProfile")) {
            if !valid_seccomp_type(p) {
                hits.push((
                    p.line,
                    format!(
                        "{} sets a seccompProfile.type other than RuntimeDefault or Localhost",
                        where_(f, c)
                    ),
                ));
            }
        }
    }
}

fn allowed_sysctls(minor: u32) -> Vec<&'static str> {
    let mut v = vec![
        "kernel.shm_rmid_forced",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.tcp_syncookies",
        "net.ipv4.ping_group_range",
        "net.ipv4.ip_unprivileged_port_start",
    ];
    if minor >= 27 {
        v.push("net.ipv4.ip_local_reserved_ports");
    }
    if minor >= 29 {
        v.extend([
            "net.ipv4.tcp_keepalive_time",
            "net.ipv4.tcp_fin_timeout",
            "net.ipv4.tcp_keepalive_intvl",
            "net.ipv4.tcp_keepalive_probes",
        ]);
    }
    if minor >= 32 {
        v.extend(["net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem"]);
    }
    if minor >= 37 {
        v.extend([
            "net.ipv4.tcp_slow_start_after_idle",
            "net.ipv4.tcp_notsent_lowat",
        ]);
    }
    v
}

fn sysctls(pod: &PodView<'_>, minor: u32, hits: &mut Hits) {
    let allowed = allowed_sysctls(minor);
    let Some(s) = pod.security_context() else {
        return;
    };
    for item in s.get("sysctls").map(Node::items).unwrap_or(&[]) {
        let name = item.get("name").and_then(Node::as_str).unwrap_or("");
        if !allowed.contains(&name) {
            hits.push((item.line, format!("pod sets sysctl {name:?}")));
        }
    }
}

fn host_probes(pod: &PodView<'_>, _: u32, hits: &mut Hits) {
    for (f, c) in pod.containers() {
        let handlers = ["livenessProbe", "readinessProbe", "startupProbe"]
            .into_iter()
            .filter_map(|k| c.get(k).map(|n| (k.to_string(), n)))
            .chain(["postStart", "preStop"].into_iter().filter_map(|k| {
                c.path(&["lifecycle", k])
                    .map(|n| (format!("lifecycle.{k}"), n))
            }));
        for (what, h) in handlers {
            for kind in ["httpGet", "tcpSocket"] {
                if let Some(host) = h.path(&[kind, "host"]).and_then(Node::as_string_value) {
                    if !host.is_empty() {
                        hits.push((
                            h.get(kind).map_or(h.line, |k| line_of(k, "host")),
                            format!("{} sets {what}.{kind}.host {host:?}", where_(f, c)),
                        ));
                    }
                }
            }
        }
    }
}

const ALLOWED_VOLUMES: &[&str] = &[
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "image",
    "persistentVolumeClaim",
    "projected",
    "secret",
];

fn restricted_volumes(pod: &PodView<'_>, _: u32, hits: &mut Hits) {
    for v in pod.spec.get("volumes").map(Node::items).unwrap_or(&[]) {
        if ALLOWED_VOLUMES.iter().any(|k| present(v, k).is_some()) {
            continue;
        }
        let name = v.get("name").and_then(Node::as_str).unwrap_or("");
        let source = v
            .entries()
            .iter()
            .find(|(k, val)| k.as_str() != Some("name") && !val.is_null());
        // A volume naming no source is defaulted to emptyDir by the API server.
        let Some((k, _)) = source else { continue };
        let (line, kind) = (k.line, k.as_str().unwrap_or("unknown"));
        hits.push((
            line,
            format!("volume {name:?} uses restricted volume type {kind:?}"),
        ));
    }
}

fn allow_privilege_escalation(pod: &PodView<'_>, minor: u32, hits: &mut Hits) {
    if minor >= 25 && pod.is_windows() {
        return;
    }
    for (f, c) in pod.containers() {
        let v = sc(c).and_then(|s| s.get("allowPrivilegeEscalation"));
        if v.and_then(Node::as_bool) != Some(false) {
            let line = sc(c).map_or(c.line, |s| line_of(s, "allowPrivilegeEscalation"));
            hits.push((
                line,
                format!(
                    "{} must set securityContext.allowPrivilegeEscalation=false",
                    where_(f, c)
                ),
            ));
        }
    }
}

fn run_as_non_root(pod: &PodView<'_>, minor: u32, hits: &mut Hits) {
    if minor >= 35 && pod.user_namespaced() {
        return;
    }
    let mut pod_ok = false;
    if let Some(s) = pod.security_context() {
        match present(s, "runAsNonRoot").map(|v| v.as_bool()) {
            Some(Some(true)) => pod_ok = true,
            Some(_) => hits.push((
                line_of(s, "runAsNonRoot"),
                "pod sets runAsNonRoot=false".into(),
            )),
            None => {}
        }
    }
    for (f, c) in pod.containers() {
        let s = sc(c);
        match s.and_then(|s| present(s, "runAsNonRoot")) {
            Some(v) if v.as_bool() != Some(true) => {
                hits.push((v.line, format!("{} sets runAsNonRoot=false", where_(f, c))));
            }
            Some(_) => {}
            None if !pod_ok => hits.push((
                c.line,
                format!(
                    "pod or {} must set securityContext.runAsNonRoot=true",
                    where_(f, c)
                ),
            )),
            None => {}
        }
    }
}

fn run_as_user(pod: &PodView<'_>, minor: u32, hits: &mut Hits) {
    if minor >= 35 && pod.user_namespaced() {
        return;
    }
    if let Some(s) = pod.security_context() {
        if s.get("runAsUser").and_then(Node::as_i64) == Some(0) {
            hits.push((line_of(s, "runAsUser"), "pod sets runAsUser=0".into()));
        }
    }
    for (f, c) in pod.containers() {
        if let Some(s) = sc(c) {
            if s.get("runAsUser").and_then(Node::as_i64) == Some(0) {
                hits.push((
                    line_of(s, "runAsUser"),
                    format!("{} sets runAsUser=0", where_(f, c)),
                ));
            }
        }
    }
}

fn seccomp_restricted(pod: &PodView<'_>, minor: u32, hits: &mut Hits) {
    if minor >= 25 && pod.is_windows() {
        return;
    }
    let mut pod_set = false;
    if let Some(s) = pod.security_context() {
        if let Some(p) = present(s, "seccompProfile") {
            if valid_seccomp_type(p) {
                pod_set = true;
            } else {
                hits.push((
                    line_of(s, "seccompProfile"),
                    "pod sets a seccompProfile.type other than RuntimeDefault or Localhost".into(),
                ));
            }
        }
    }
    for (f, c) in pod.containers() {
        match sc(c).and_then(|s| present(s, "seccompProfile")) {
            Some(p) if !valid_seccomp_type(p) => hits.push((p.line, format!(
                "{} sets a seccompProfile.type other than RuntimeDefault or Localhost", where_(f, c)))),
            Some(_) => {}
            None if !pod_set => hits.push((c.line, format!(
                "pod or {} must set securityContext.seccompProfile.type to RuntimeDefault or Localhost", where_(f, c)))),
            None => {}
        }
    }
}

fn capabilities_restricted(pod: &PodView<'_>, minor: u32, hits: &mut Hits) {
    if minor >= 25 && pod.is_windows() {
        return;
    }
    for (f, c) in pod.containers() {
        let caps = sc(c).and_then(|s| present(s, "capabilities"));
        let Some(caps) = caps else {
            hits.push((
                c.line,
                format!(
                    "{} must set securityContext.capabilities.drop=[\"ALL\"]",
                    where_(f, c)
                ),
            ));
            continue;
        };
        let drops_all = caps
            .get("drop")
            .map(Node::items)
            .unwrap_or(&[])
            .iter()
            .any(|d| d.as_str() == Some("ALL"));
        if !drops_all {
            hits.push((
                caps.line,
                format!(
                    "{} must set securityContext.capabilities.drop=[\"ALL\"]",
                    where_(f, c)
                ),
            ));
        }
        for cap in caps.get("add").map(Node::items).unwrap_or(&[]) {
            let name = cap.as_str().unwrap_or("");
            if name != "NET_BIND_SERVICE" {
                hits.push((
                    cap.line,
                    format!(
                        "{} adds capability {name:?} (only NET_BIND_SERVICE is allowed)",
                        where_(f, c)
                    ),
                ));
            }
        }
    }
}
