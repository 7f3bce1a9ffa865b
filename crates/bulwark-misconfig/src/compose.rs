//! docker-compose checks, derived from CIS Docker Benchmark section 5 (container
//! runtime) since no other scanner covers compose files: privileged services, host
//! namespaces, runtime socket and host-directory mounts, capabilities, disabled
//! seccomp/AppArmor/SELinux, literal secrets in `environment`, and database ports
//! published on every interface.

use bulwark_core::{Misconfiguration, Severity};

use crate::check::{mark_inline, parse_ignore_list, CheckMeta, CheckSelection};
use crate::k8s::workload::{literal_secret_value, secret_like_name};
use crate::yaml::{self, Node, Value};
use crate::MisconfigError;

macro_rules! compose_check {
    ($name:ident, $id:literal, $title:literal, $sev:ident, $desc:literal, $fix:literal,
     [$($r:literal),*]) => {
        #[doc = $title]
        pub const $name: CheckMeta = CheckMeta {
            id: $id,
            title: $title,
            severity: Severity::$sev,
            description: $desc,
            remediation: $fix,
            references: &[$($r),*],
            aliases: &[],
            sets: &["compose"],
        };
    };
}

compose_check!(
    PRIVILEGED,
    "BW-COMPOSE-0001",
    "Privileged service",
    High,
    "privileged: true disables container isolation and gives full access to the host.",
    "Remove privileged: true; add only the capabilities the service needs.",
    ["CIS Docker 5.5", "NIST SP 800-190 4.4.3"]
);
compose_check!(
    HOST_NETWORK,
    "BW-COMPOSE-0002",
    "Host network namespace",
    High,
    "network_mode: host shares the host's network stack, including services bound to localhost.",
    "Use a user-defined bridge network and publish only needed ports.",
    ["CIS Docker 5.10", "NIST SP 800-190 4.4.3"]
);
compose_check!(
    HOST_PID,
    "BW-COMPOSE-0003",
    "Host PID namespace",
    High,
    "pid: host lets the container see and signal every host process.",
    "Remove pid: host.",
    ["CIS Docker 5.16", "NIST SP 800-190 4.4.3"]
);
compose_check!(
    HOST_IPC,
    "BW-COMPOSE-0004",
    "Host IPC namespace",
    High,
    "ipc: host shares host shared memory with the container.",
    "Remove ipc: host.",
    ["CIS Docker 5.17", "NIST SP 800-190 4.4.3"]
);
compose_check!(
    DOCKER_SOCKET,
    "BW-COMPOSE-0005",
    "Docker socket mounted",
    Critical,
    "Whoever can reach the Docker socket controls the Docker daemon and so the host.",
    "Do not mount docker.sock; use a socket proxy with a narrow API allow-list if unavoidable.",
    ["CIS Docker 5.32", "NIST SP 800-190 4.4.3"]
);
compose_check!(CAP_ADD, "BW-COMPOSE-0006", "Dangerous capability added", High,
    "Capabilities such as ALL, SYS_ADMIN, NET_ADMIN, SYS_MODULE or SYS_PTRACE give near-root control of the host kernel or network.",
    "Remove the capability from cap_add; use cap_drop: [ALL] and add back only what is needed.",
    ["CIS Docker 5.4", "NIST SP 800-190 4.4.3"]);
compose_check!(
    NO_USER,
    "BW-COMPOSE-0007",
    "No user set",
    Low,
    "Without user: the service runs as the image's user, which is root unless the image sets USER.",
    "Set user: to a non-root UID:GID.",
    ["CIS Docker 4.1", "NIST SP 800-190 4.4.3"]
);
compose_check!(ENV_SECRET, "BW-COMPOSE-0008", "Literal secret in environment", High,
    "Passwords, tokens and keys written into the compose file end up in version control and in `docker inspect`.",
    "Use compose secrets: or an env_file kept out of version control.",
    ["CIS Docker 4.10", "NIST SP 800-190 4.1.4"]);
compose_check!(
    SECCOMP_UNCONFINED,
    "BW-COMPOSE-0009",
    "Seccomp disabled",
    High,
    "security_opt seccomp:unconfined removes the default system call filter.",
    "Remove seccomp:unconfined or use a custom profile.",
    ["CIS Docker 5.22", "NIST SP 800-190 4.4.3"]
);
compose_check!(
    APPARMOR_UNCONFINED,
    "BW-COMPOSE-0010",
    "AppArmor disabled",
    High,
    "security_opt apparmor:unconfined removes AppArmor confinement.",
    "Remove apparmor:unconfined.",
    ["CIS Docker 5.2", "NIST SP 800-190 4.4.3"]
);
compose_check!(
    SELINUX_DISABLED,
    "BW-COMPOSE-0011",
    "SELinux separation disabled",
    Medium,
    "security_opt label:disable (or label=disable) turns off SELinux labelling for the container.",
    "Remove label:disable.",
    ["CIS Docker 5.3", "NIST SP 800-190 4.4.3"]
);
compose_check!(DB_PORT_PUBLIC, "BW-COMPOSE-0012", "Database port published on all interfaces", Medium,
    "A database port published without a host IP listens on 0.0.0.0, reachable from any network the host is on.",
    "Publish as 127.0.0.1:PORT:PORT, or do not publish and use the compose network.",
    ["CIS Docker 5.14", "NIST SP 800-190 4.4.2"]);
compose_check!(
    HOST_UTS_USERNS,
    "BW-COMPOSE-0013",
    "Host UTS or user namespace",
    Medium,
    "uts: host or userns_mode: host shares the host's hostname or user namespace.",
    "Remove uts: host / userns_mode: host.",
    [
        "CIS Docker 5.21",
        "CIS Docker 5.31",
        "NIST SP 800-190 4.4.3"
    ]
);
compose_check!(SENSITIVE_MOUNT, "BW-COMPOSE-0014", "Sensitive host directory mounted", High,
    "Mounting host system directories (/, /etc, /proc, /sys, /boot, /dev, /root, /var/lib/docker) exposes or lets the container alter the host.",
    "Mount only application data directories.",
    ["CIS Docker 5.6", "NIST SP 800-190 4.4.3"]);
compose_check!(
    NO_MEMORY_LIMIT,
    "BW-COMPOSE-0015",
    "No memory limit",
    Low,
    "Without a memory limit one service can exhaust host memory.",
    "Set mem_limit or deploy.resources.limits.memory.",
    ["CIS Docker 5.11", "NIST SP 800-190 4.4.1"]
);
compose_check!(
    NO_PIDS_LIMIT,
    "BW-COMPOSE-0016",
    "No PIDs limit",
    Low,
    "Without pids_limit a fork bomb in the container can exhaust the host's process table.",
    "Set pids_limit (or deploy.resources.limits.pids).",
    ["CIS Docker 5.29", "NIST SP 800-190 4.4.1"]
);
compose_check!(
    WRITABLE_ROOT,
    "BW-COMPOSE-0017",
    "Root filesystem is writable",
    Low,
    "A read-only root filesystem stops tampering with the container's files.",
    "Set read_only: true and use tmpfs/volumes for writable paths.",
    ["CIS Docker 5.13", "NIST SP 800-190 4.4.3"]
);
compose_check!(
    NO_NEW_PRIVILEGES,
    "BW-COMPOSE-0018",
    "no-new-privileges not set",
    Low,
    "Without no-new-privileges, setuid binaries can raise the process's privileges.",
    "Add security_opt: [\"no-new-privileges:true\"].",
    ["CIS Docker 5.26", "NIST SP 800-190 4.4.3"]
);
compose_check!(
    DEVICES,
    "BW-COMPOSE-0019",
    "Host device exposed",
    Medium,
    "devices: passes host devices straight into the container.",
    "Remove devices: unless the service needs the hardware.",
    ["CIS Docker 5.18", "NIST SP 800-190 4.4.3"]
);
compose_check!(
    IMAGE_TAG,
    "BW-COMPOSE-0020",
    "Image tag is latest or missing",
    Low,
    "A mutable tag makes deployments unreproducible.",
    "Pin the image to a version tag or digest.",
    ["CIS Docker 5.28", "NIST SP 800-190 4.1.5"]
);
compose_check!(
    PRIVILEGED_PORT,
    "BW-COMPOSE-0021",
    "Privileged host port mapped",
    Low,
    "Host ports below 1024 are privileged; mapping them widens exposure.",
    "Map to a host port of 1024 or above, or justify the exception.",
    ["CIS Docker 5.8"]
);
compose_check!(
    SHARED_PROPAGATION,
    "BW-COMPOSE-0022",
    "Shared mount propagation",
    Medium,
    "Shared or rshared propagation lets mounts made in the container appear on the host.",
    "Use the default private propagation.",
    ["CIS Docker 5.20", "NIST SP 800-190 4.4.3"]
);

/// Every compose check.
pub const CHECKS: &[CheckMeta] = &[
    PRIVILEGED,
    HOST_NETWORK,
    HOST_PID,
    HOST_IPC,
    DOCKER_SOCKET,
    CAP_ADD,
    NO_USER,
    ENV_SECRET,
    SECCOMP_UNCONFINED,
    APPARMOR_UNCONFINED,
    SELINUX_DISABLED,
    DB_PORT_PUBLIC,
    HOST_UTS_USERNS,
    SENSITIVE_MOUNT,
    NO_MEMORY_LIMIT,
    NO_PIDS_LIMIT,
    WRITABLE_ROOT,
    NO_NEW_PRIVILEGES,
    DEVICES,
    IMAGE_TAG,
    PRIVILEGED_PORT,
    SHARED_PROPAGATION,
];

/// Options for [`scan_compose`].
#[derive(Debug, Clone, Default)]
pub struct ComposeOptions {
    /// Which checks run.
    pub sets: CheckSelection,
}

const DANGEROUS_CAPS: &[&str] = &[
    "ALL",
    "SYS_ADMIN",
    "NET_ADMIN",
    "SYS_MODULE",
    "SYS_PTRACE",
    "SYS_RAWIO",
    "SYS_TIME",
    "DAC_READ_SEARCH",
    "BPF",
    "PERFMON",
    "SYS_BOOT",
    "MAC_ADMIN",
    "MAC_OVERRIDE",
    "NET_RAW",
];

const DB_PORTS: &[u32] = &[
    1433, 1521, 3306, 5432, 5984, 6379, 7000, 7001, 8086, 9042, 9200, 9300, 11211, 26257, 27017,
    27018, 28015,
];

const SENSITIVE_DIRS: &[&str] = &[
    "/",
    "/etc",
    "/proc",
    "/sys",
    "/boot",
    "/dev",
    "/root",
    "/var/lib/docker",
    "/run",
    "/var/run",
];

struct Svc<'a> {
    name: String,
    sel: &'a CheckSelection,
    path: &'a str,
    out: Vec<Misconfiguration>,
}

impl Svc<'_> {
    fn report(&mut self, meta: &CheckMeta, line: u32, msg: String) {
        if self.sel.enabled(meta) {
            self.out.push(meta.finding(
                self.path,
                Some(line),
                Some(format!("service {}", self.name)),
                msg,
            ));
        }
    }
}

/// A scalar list or a single scalar, as strings with lines.
fn strings(n: Option<&Node>) -> Vec<(u32, String)> {
    match n.map(|n| &n.value) {
        Some(Value::Seq(items)) => items
            .iter()
            .filter_map(|i| i.as_str().map(|s| (i.line, s.to_string())))
            .collect(),
        Some(Value::Scalar { text, .. }) => vec![(n.map_or(0, |n| n.line), text.clone())],
        _ => Vec::new(),
    }
}

/// Scans one docker-compose file. A file without a `services` mapping yields nothing.
pub fn scan_compose(
    path: &str,
    bytes: &[u8],
    opts: &ComposeOptions,
) -> Result<Vec<Misconfiguration>, MisconfigError> {
    let text = yaml::decode(path, bytes)?;
    let docs = yaml::parse_with(path, text, yaml::Dialect::Compose)?.docs;
    let lines: Vec<&str> = text.lines().collect();
    let mut findings = Vec::new();
    for root in docs.iter().filter_map(|d| d.root.as_ref()) {
        for (k, svc) in root.get("services").map(Node::entries).unwrap_or(&[]) {
            let mut s = Svc {
                name: k.as_str().unwrap_or("?").to_string(),
                sel: &opts.sets,
                path,
                out: Vec::new(),
            };
            service(svc, k.line, &mut s);
            let mut ignored = Vec::new();
            // `# bulwark:ignore=` on the lines right above the service key.
            let mut i = usize::try_from(k.line).unwrap_or(0).saturating_sub(1);
            while i > 0 {
                i -= 1;
                let t = lines.get(i).map_or("", |l| l.trim());
                if let Some(list) = t.strip_prefix(crate::k8s::IGNORE_COMMENT) {
                    ignored.extend(parse_ignore_list(list));
                } else if !t.starts_with('#') {
                    break;
                }
            }
            findings.extend(s.out.into_iter().map(|f| {
                mark_inline(&ignored, "a # bulwark:ignore= comment above the service", f)
            }));
        }
    }
    Ok(findings)
}

/// A boolean field as Docker Compose reads it: compose-go casts the string value of a
/// known boolean field (`privileged`, `read_only`, ...) case-insensitively, accepting
/// `true`/`false` and the YAML 1.1 forms `y`/`yes`/`on` and `n`/`no`/`off`, quoted or
/// not (its loader's `toBoolean`); YAML 1.2 plain `true`/`false` are booleans already.
fn compose_bool(n: &Node) -> Option<bool> {
    match n.as_str()?.to_ascii_lowercase().as_str() {
        "true" | "y" | "yes" | "on" => Some(true),
        "false" | "n" | "no" | "off" => Some(false),
        _ => None,
    }
}

fn service(svc: &Node, line: u32, s: &mut Svc<'_>) {
    let kl = |key: &str| svc.key_line(key).unwrap_or(line);
    if svc.get("privileged").and_then(compose_bool) == Some(true) {
        s.report(&PRIVILEGED, kl("privileged"), "privileged: true".into());
    }
    for (key, meta) in [
        ("network_mode", &HOST_NETWORK),
        ("pid", &HOST_PID),
        ("ipc", &HOST_IPC),
        ("uts", &HOST_UTS_USERNS),
        ("userns_mode", &HOST_UTS_USERNS),
    ] {
        if svc.get(key).and_then(Node::as_str) == Some("host") {
            s.report(meta, kl(key), format!("{key}: host"));
        }
    }
    for (l, cap) in strings(svc.get("cap_add")) {
        let c = cap.trim_start_matches("CAP_").to_ascii_uppercase();
        if DANGEROUS_CAPS.contains(&c.as_str()) {
            s.report(&CAP_ADD, l, format!("cap_add: {cap}"));
        }
    }
    if svc.get("user").and_then(Node::as_string_value).is_none() {
        s.report(&NO_USER, line, "no user: set".into());
    } else if matches!(
        svc.get("user").and_then(Node::as_str),
        Some("root" | "0" | "0:0" | "root:root")
    ) {
        s.report(&NO_USER, kl("user"), "user: root".into());
    }
    environment(svc.get("environment"), s);
    let opts = strings(svc.get("security_opt"));
    let mut nnp = false;
    for (l, o) in &opts {
        let norm = o.replace('=', ":").replace(' ', "").to_ascii_lowercase();
        if norm == "seccomp:unconfined" {
            s.report(&SECCOMP_UNCONFINED, *l, format!("security_opt {o}"));
        } else if norm == "apparmor:unconfined" {
            s.report(&APPARMOR_UNCONFINED, *l, format!("security_opt {o}"));
        } else if norm == "label:disable" {
            s.report(&SELINUX_DISABLED, *l, format!("security_opt {o}"));
        } else if norm == "no-new-privileges" || norm == "no-new-privileges:true" {
            nnp = true;
        }
    }
    if !nnp {
        s.report(
            &NO_NEW_PRIVILEGES,
            line,
            "security_opt does not set no-new-privileges:true".into(),
        );
    }
    volumes(svc.get("volumes"), s);
    ports(svc.get("ports"), s);
    let limits = svc.path(&["deploy", "resources", "limits"]);
    if svc.get("mem_limit").is_none() && limits.and_then(|l| l.get("memory")).is_none() {
        s.report(
            &NO_MEMORY_LIMIT,
            line,
            "no mem_limit or deploy.resources.limits.memory".into(),
        );
    }
    if svc.get("pids_limit").is_none() && limits.and_then(|l| l.get("pids")).is_none() {
        s.report(&NO_PIDS_LIMIT, line, "no pids_limit".into());
    }
    if svc.get("read_only").and_then(compose_bool) != Some(true) {
        s.report(
            &WRITABLE_ROOT,
            svc.key_line("read_only").unwrap_or(line),
            "read_only is not true".into(),
        );
    }
    for (l, d) in strings(svc.get("devices")) {
        s.report(&DEVICES, l, format!("device {d}"));
    }
    if let Some(image) = svc.get("image").and_then(Node::as_str) {
        let (tagged, digest) = crate::k8s::workload::image_pinning(image);
        if !tagged && !digest {
            s.report(
                &IMAGE_TAG,
                kl("image"),
                format!("image {image:?} has no fixed tag"),
            );
        }
    }
}

fn environment(env: Option<&Node>, s: &mut Svc<'_>) {
    let Some(env) = env else { return };
    let pairs: Vec<(u32, String, String)> = match &env.value {
        Value::Seq(items) => items
            .iter()
            .filter_map(|i| {
                let t = i.as_str()?;
                let (k, v) = t.split_once('=')?;
                Some((i.line, k.to_string(), v.to_string()))
            })
            .collect(),
        Value::Map(entries) => entries
            .iter()
            .filter_map(|(k, v)| {
                Some((
                    k.line,
                    k.as_str()?.to_string(),
                    v.as_string_value()?.to_string(),
                ))
            })
            .collect(),
        Value::Scalar { .. } => Vec::new(),
    };
    for (line, k, v) in pairs {
        if secret_like_name(&k) && literal_secret_value(&v) {
            s.report(
                &ENV_SECRET,
                line,
                format!("environment {k} has a literal value"),
            );
        }
    }
}

fn host_source(v: &Node) -> Option<(u32, String, Option<String>)> {
    match &v.value {
        Value::Scalar { text, .. } => {
            let mut parts = text.split(':');
            let src = parts.next()?.to_string();
            let _target = parts.next()?;
            let mode = parts.next().map(str::to_string);
            Some((v.line, src, mode))
        }
        Value::Map(_) => {
            if v.get("type").and_then(Node::as_str) != Some("bind") {
                return None;
            }
            let src = v.get("source").and_then(Node::as_str)?.to_string();
            let prop = v
                .path(&["bind", "propagation"])
                .and_then(Node::as_str)
                .map(str::to_string);
            Some((v.line, src, prop))
        }
        Value::Seq(_) => None,
    }
}

fn volumes(vols: Option<&Node>, s: &mut Svc<'_>) {
    for v in vols.map(Node::items).unwrap_or(&[]) {
        let Some((line, src, mode)) = host_source(v) else {
            continue;
        };
        if !src.starts_with('/') {
            continue;
        }
        let norm = if src.len() > 1 {
            src.trim_end_matches('/')
        } else {
            &src
        };
        if norm.ends_with("/docker.sock") {
            s.report(&DOCKER_SOCKET, line, format!("mounts {src}"));
        } else if SENSITIVE_DIRS.contains(&norm) {
            s.report(
                &SENSITIVE_MOUNT,
                line,
                format!("mounts host directory {src}"),
            );
        }
        if let Some(m) = mode {
            if m.split(',').any(|o| o == "shared" || o == "rshared") {
                s.report(
                    &SHARED_PROPAGATION,
                    line,
                    format!("mounts {src} with {m} propagation"),
                );
            }
        }
    }
}

fn ports(ports: Option<&Node>, s: &mut Svc<'_>) {
    for p in ports.map(Node::items).unwrap_or(&[]) {
        // (host ip, published port, container port)
        let (ip, published, target): (Option<String>, Option<String>, Option<String>) =
            match &p.value {
                Value::Scalar { text, .. } => {
                    let spec = text.split('/').next().unwrap_or("");
                    let parts: Vec<&str> = spec.rsplitn(3, ':').collect();
                    match parts.as_slice() {
                        [t] => (None, None, Some(t.to_string())),
                        [t, h] => (None, Some(h.to_string()), Some(t.to_string())),
                        [t, h, ip] => (
                            Some(ip.to_string()),
                            Some(h.to_string()),
                            Some(t.to_string()),
                        ),
                        _ => (None, None, None),
                    }
                }
                Value::Map(_) => (
                    p.get("host_ip").and_then(Node::as_str).map(str::to_string),
                    p.get("published")
                        .and_then(Node::as_str)
                        .map(str::to_string),
                    p.get("target").and_then(Node::as_str).map(str::to_string),
                ),
                Value::Seq(_) => continue,
            };
        let first_port = |s: &Option<String>| -> Option<u32> {
            s.as_deref()?.split('-').next()?.trim().parse().ok()
        };
        let all_ifaces = matches!(ip.as_deref(), None | Some("0.0.0.0" | "::" | "[::]" | ""));
        // Every `ports:` entry is published (without a host port, on a random one).
        if let Some(t) = first_port(&target) {
            if all_ifaces && DB_PORTS.contains(&t) {
                s.report(
                    &DB_PORT_PUBLIC,
                    p.line,
                    format!("database port {t} published on all interfaces"),
                );
            }
        }
        if let Some(h) = first_port(&published) {
            if h < 1024 {
                s.report(
                    &PRIVILEGED_PORT,
                    p.line,
                    format!("host port {h} is privileged"),
                );
            }
        }
    }
}
