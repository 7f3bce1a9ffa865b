//! Every `bulwark host` check: its stable id, title, severity, why it matters, how to
//! fix it, the standards it implements and its aliases, as
//! [`bulwark_misconfig::CheckMeta`] values (the type every `bulwark config` check uses),
//! so findings, `--checks`, the ignore file and the report writers treat host findings
//! exactly like configuration findings.
//!
//! Ids: `BW-HOST-*` for the container runtime (CIS Docker Benchmark v1.6.0 sections 2, 3,
//! 4.1 and 5), `BW-NODE-*` for the kubelet (CIS Kubernetes section 4) and `BW-CP-*` for
//! the control plane (sections 1 and 2). Aliases: the CIS section as `CIS-DOCKER-5.5` /
//! `CIS-K8S-1.2.1` (CIS Kubernetes Benchmark v1.10 numbering, kube-bench's `cis-1.10`
//! ids; an item the v1.10 benchmark dropped keeps its older number, named in the
//! references), Trivy's `KCV-00NN` ids (and the short `KCV00NN` form) and Trivy's
//! node-collector `CMD-00NN` ids for the file checks.

use bulwark_core::Severity;
use bulwark_misconfig::CheckMeta;

macro_rules! check {
    ($name:ident, $id:literal, $title:literal, $sev:ident, $desc:literal, $fix:literal,
     [$($r:literal),* $(,)?], [$($a:literal),* $(,)?], $set:literal) => {
        #[doc = $title]
        pub const $name: CheckMeta = CheckMeta {
            id: $id,
            title: $title,
            severity: Severity::$sev,
            description: $desc,
            remediation: $fix,
            references: &[$($r),*],
            aliases: &[$($a),*],
            sets: &[$set],
        };
    };
}

// ---- Container runtime daemon (CIS Docker section 2) ----
check!(DAEMON_USERNS, "BW-HOST-0001", "User namespace remapping not enabled", Medium,
    "Without user namespace remapping, root in a container is root on the host: a container breakout lands with full host privileges.",
    "Docker: set \"userns-remap\": \"default\" in daemon.json. Podman: set userns = \"auto\" in containers.conf ([containers]), or run containers rootless.",
    ["CIS Docker 2.9", "NIST SP 800-190 4.4.3"], ["CIS-DOCKER-2.9"], "cis-docker");
check!(DAEMON_LIVE_RESTORE, "BW-HOST-0002", "Live restore not enabled", Low,
    "Without live restore, stopping or upgrading the Docker daemon stops every container, which pushes operators to postpone daemon security updates.",
    "Set \"live-restore\": true in /etc/docker/daemon.json.",
    ["CIS Docker 2.15"], ["CIS-DOCKER-2.15"], "cis-docker");
check!(DAEMON_ICC, "BW-HOST-0003", "Inter-container communication allowed on the default bridge", Medium,
    "With icc enabled, every container on the default bridge can reach every other one on any port: one compromised container can attack its neighbours.",
    "Set \"icc\": false in /etc/docker/daemon.json and link containers through user-defined networks.",
    ["CIS Docker 2.2"], ["CIS-DOCKER-2.2"], "cis-docker");
check!(DAEMON_LOG_DRIVER, "BW-HOST-0004", "Container logs kept only on the host", Low,
    "A local log driver (json-file, k8s-file, local, none) keeps container logs on the host an attacker may control; an incident then has no trustworthy record.",
    "Use a log driver that ships logs off the host (journald or syslog forwarded to a collector, fluentd, gelf, ...): \"log-driver\" in daemon.json, log_driver in containers.conf.",
    ["CIS Docker 2.13"], ["CIS-DOCKER-2.13"], "cis-docker");
check!(DAEMON_TCP_NO_TLS, "BW-HOST-0005", "Runtime API reachable over TCP without TLS", Critical,
    "Anyone who can reach an unauthenticated runtime API port can start a privileged container and own the host.",
    "Serve the API on its Unix socket only, or require mutual TLS (\"tlsverify\": true with tlscacert, tlscert, tlskey).",
    ["CIS Docker 2.7", "NIST SP 800-190 4.3.1"], ["CIS-DOCKER-2.7"], "cis-docker");
check!(DAEMON_NO_NEW_PRIVS, "BW-HOST-0006", "no-new-privileges not the daemon default", Low,
    "Unless the daemon applies no-new-privileges by default, every container whose run command forgets it can gain privileges through setuid binaries.",
    "Docker: \"no-new-privileges\": true in daemon.json. Podman: no_new_privileges = true in containers.conf ([containers]).",
    ["CIS Docker 2.14"], ["CIS-DOCKER-2.14"], "cis-docker");
check!(
    DAEMON_INSECURE_REGISTRY,
    "BW-HOST-0007",
    "Insecure registry configured",
    High,
    "Images pulled from a registry without TLS verification can be replaced in transit.",
    "Remove the registry from \"insecure-registries\" and give it a trusted certificate.",
    ["CIS Docker 2.5"],
    ["CIS-DOCKER-2.5"],
    "cis-docker"
);
check!(
    DAEMON_NO_SECCOMP,
    "BW-HOST-0008",
    "Runtime runs without seccomp",
    High,
    "The runtime reports no seccomp support, so no container gets the default system-call filter.",
    "Use a runtime and kernel built with seccomp; do not disable the default profile daemon-wide.",
    ["CIS Docker 2.17", "CIS Docker 5.22"],
    ["CIS-DOCKER-2.17"],
    "cis-docker"
);

// ---- Runtime files and sockets (CIS Docker section 3) ----
check!(FILE_SOCKET_PERMS, "BW-HOST-0101", "Runtime socket permissions too open", Critical,
    "Whoever can write to the runtime socket controls the runtime and so the host; the socket must not be writable beyond its owner and group.",
    "chmod 660 the socket (for systemd socket units: SocketMode=0660).",
    ["CIS Docker 3.16", "CIS Docker 3.24"], ["CIS-DOCKER-3.16", "CIS-DOCKER-3.24"], "cis-docker");
check!(
    FILE_SOCKET_OWNER,
    "BW-HOST-0102",
    "Runtime socket not owned by root",
    High,
    "A runtime socket owned by another user or group gives that user or group control of the host.",
    "chown root:docker the Docker socket (root:root for podman and containerd sockets).",
    ["CIS Docker 3.15", "CIS Docker 3.23"],
    ["CIS-DOCKER-3.15", "CIS-DOCKER-3.23"],
    "cis-docker"
);
check!(FILE_CONFIG_PERMS, "BW-HOST-0103", "Runtime configuration writable by others", High,
    "Whoever can change daemon.json, containers.conf or the directory holding them can change how every container runs.",
    "chmod 644 the file (755 the directory) and keep them owned by root.",
    ["CIS Docker 3.6", "CIS Docker 3.18"], ["CIS-DOCKER-3.6", "CIS-DOCKER-3.18"], "cis-docker");
check!(FILE_CONFIG_OWNER, "BW-HOST-0104", "Runtime configuration not owned by root", High,
    "A runtime configuration file or directory owned by another user lets that user reconfigure the runtime.",
    "chown root:root the file and its directory.",
    ["CIS Docker 3.5", "CIS Docker 3.17"], ["CIS-DOCKER-3.5", "CIS-DOCKER-3.17"], "cis-docker");
check!(
    FILE_UNIT_PERMS,
    "BW-HOST-0105",
    "Runtime service unit writable by others",
    Medium,
    "Whoever can edit the runtime's systemd unit can change the daemon's flags at its next start.",
    "chmod 644 the docker.service / docker.socket / podman.socket unit files.",
    ["CIS Docker 3.2", "CIS Docker 3.4"],
    ["CIS-DOCKER-3.2", "CIS-DOCKER-3.4"],
    "cis-docker"
);
check!(
    FILE_UNIT_OWNER,
    "BW-HOST-0106",
    "Runtime service unit not owned by root",
    Medium,
    "A unit file owned by another user lets that user change the daemon's flags.",
    "chown root:root the unit files.",
    ["CIS Docker 3.1", "CIS Docker 3.3"],
    ["CIS-DOCKER-3.1", "CIS-DOCKER-3.3"],
    "cis-docker"
);
check!(
    FILE_TLS_KEY_PERMS,
    "BW-HOST-0107",
    "Runtime TLS key readable by others",
    High,
    "The daemon's TLS private key lets whoever reads it impersonate the daemon.",
    "chmod 400 the key named by \"tlskey\" and keep it owned by root.",
    ["CIS Docker 3.13", "CIS Docker 3.14"],
    ["CIS-DOCKER-3.13", "CIS-DOCKER-3.14"],
    "cis-docker"
);

// ---- Running containers (CIS Docker sections 4.1 and 5) ----
check!(CT_PRIVILEGED, "BW-HOST-0201", "Privileged container", Critical,
    "A privileged container has every capability, every device and no seccomp or LSM confinement: root in it is root on the host.",
    "Run it without --privileged; add only the capabilities and devices it needs.",
    ["CIS Docker 5.5", "NIST SP 800-190 4.4.3"], ["CIS-DOCKER-5.5"], "cis-docker");
check!(CT_HOST_NETWORK, "BW-HOST-0202", "Container shares the host network namespace", High,
    "--network host gives the container the host's interfaces and every service the host binds to localhost.",
    "Use a bridge or user-defined network and publish only the ports needed.",
    ["CIS Docker 5.10", "NIST SP 800-190 4.4.3"], ["CIS-DOCKER-5.10"], "cis-docker");
check!(
    CT_HOST_PID,
    "BW-HOST-0203",
    "Container shares the host PID namespace",
    High,
    "--pid host lets the container see, signal and (with ptrace) enter every host process.",
    "Remove --pid host.",
    ["CIS Docker 5.16", "NIST SP 800-190 4.4.3"],
    ["CIS-DOCKER-5.16"],
    "cis-docker"
);
check!(
    CT_HOST_IPC,
    "BW-HOST-0204",
    "Container shares the host IPC namespace",
    High,
    "--ipc host gives the container the host's shared memory and semaphores.",
    "Remove --ipc host.",
    ["CIS Docker 5.17", "NIST SP 800-190 4.4.3"],
    ["CIS-DOCKER-5.17"],
    "cis-docker"
);
check!(
    CT_HOST_UTS,
    "BW-HOST-0205",
    "Container shares the host UTS namespace",
    Medium,
    "--uts host lets the container change the host's hostname and domain name.",
    "Remove --uts host.",
    ["CIS Docker 5.21"],
    ["CIS-DOCKER-5.21"],
    "cis-docker"
);
check!(CT_SENSITIVE_MOUNT, "BW-HOST-0206", "Sensitive host directory mounted", High,
    "Mounting /, /etc, /proc, /sys, /dev, /boot, /usr, /lib, /root, /run or a runtime's state directory gives the container the host's configuration, credentials or kernel interfaces.",
    "Mount only the data directories the workload needs, read-only where possible.",
    ["CIS Docker 5.6", "NIST SP 800-190 4.4.3"], ["CIS-DOCKER-5.6"], "cis-docker");
check!(CT_SOCKET_MOUNT, "BW-HOST-0207", "Container runtime socket mounted", Critical,
    "A container that can reach the runtime's API socket can start a privileged container and own the host.",
    "Do not mount docker.sock / podman.sock / containerd.sock; if a tool must talk to the runtime, put an API proxy with a narrow allow-list in between.",
    ["CIS Docker 5.32", "NIST SP 800-190 4.4.3"], ["CIS-DOCKER-5.32"], "cis-docker");
check!(CT_CAP_ADD, "BW-HOST-0208", "Capabilities added", High,
    "Capabilities beyond the runtime's default set (SYS_ADMIN, NET_ADMIN, SYS_PTRACE, SYS_MODULE, ...) give near-root control of the kernel or the network.",
    "Remove --cap-add; start from --cap-drop ALL and add back only what the process needs.",
    ["CIS Docker 5.4", "NIST SP 800-190 4.4.3"], ["CIS-DOCKER-5.4"], "cis-docker");
check!(CT_NO_MEMORY_LIMIT, "BW-HOST-0209", "No memory limit", Medium,
    "A container without a memory limit can exhaust the host's memory and take down its neighbours.",
    "Run it with --memory.",
    ["CIS Docker 5.11"], ["CIS-DOCKER-5.11"], "cis-docker");
check!(CT_NO_CPU_LIMIT, "BW-HOST-0210", "No CPU limit or share", Low,
    "A container without a CPU limit or share competes equally with every other and can starve them.",
    "Run it with --cpus (or --cpu-shares / --cpu-quota).",
    ["CIS Docker 5.12"], ["CIS-DOCKER-5.12"], "cis-docker");
check!(
    CT_NO_PIDS_LIMIT,
    "BW-HOST-0211",
    "No PIDs limit",
    Low,
    "Without a PIDs limit a fork bomb in the container exhausts the host's process table.",
    "Run it with --pids-limit.",
    ["CIS Docker 5.29"],
    ["CIS-DOCKER-5.29"],
    "cis-docker"
);
check!(CT_ROOT_USER, "BW-HOST-0212", "Container runs as root", Medium,
    "A process running as root in the container is root on the host after any breakout (without user namespaces).",
    "Run it with --user UID:GID (or set USER in the image).",
    ["CIS Docker 4.1", "NIST SP 800-190 4.4.3"], ["CIS-DOCKER-4.1"], "cis-docker");
check!(CT_NO_NEW_PRIVS, "BW-HOST-0213", "no-new-privileges not set", Medium,
    "Without no-new-privileges, a process in the container can gain privileges through setuid or file-capability binaries.",
    "Run it with --security-opt no-new-privileges.",
    ["CIS Docker 5.26"], ["CIS-DOCKER-5.26"], "cis-docker");
check!(CT_SECCOMP_UNCONFINED, "BW-HOST-0214", "Seccomp disabled", High,
    "seccomp=unconfined removes the default system-call filter, exposing the whole kernel API (keyctl, unshare, bpf, ...).",
    "Remove --security-opt seccomp=unconfined; if one call is missing, use a custom profile that adds only it.",
    ["CIS Docker 5.22", "NIST SP 800-190 4.4.3"], ["CIS-DOCKER-5.22"], "cis-docker");
check!(CT_APPARMOR_UNCONFINED, "BW-HOST-0215", "AppArmor disabled", High,
    "apparmor=unconfined removes the AppArmor profile that keeps the container away from /proc and /sys writes and mounts.",
    "Remove --security-opt apparmor=unconfined.",
    ["CIS Docker 5.2", "NIST SP 800-190 4.4.3"], ["CIS-DOCKER-5.2"], "cis-docker");
check!(CT_WRITABLE_ROOTFS, "BW-HOST-0216", "Writable root filesystem", Low,
    "A writable root filesystem lets an intruder drop and run tools and change the application's own files.",
    "Run it with --read-only and mount writable volumes or tmpfs only where the application writes.",
    ["CIS Docker 5.13", "NIST SP 800-190 4.4.3"], ["CIS-DOCKER-5.13"], "cis-docker");
check!(CT_RESTART_POLICY, "BW-HOST-0217", "Unbounded restart policy", Low,
    "A container that restarts forever (always, unless-stopped, on-failure without a bound) hides crashes and keeps retrying an exploit.",
    "Use --restart on-failure:5 (or no restart policy).",
    ["CIS Docker 5.15"], ["CIS-DOCKER-5.15"], "cis-docker");
check!(
    CT_HOST_USERNS,
    "BW-HOST-0218",
    "Container shares the host user namespace",
    Medium,
    "--userns host opts the container out of the daemon's user namespace remapping.",
    "Remove --userns host.",
    ["CIS Docker 5.31"],
    ["CIS-DOCKER-5.31"],
    "cis-docker"
);
check!(
    CT_SHARED_PROPAGATION,
    "BW-HOST-0219",
    "Mount with shared propagation",
    Medium,
    "A shared or rshared mount lets mounts made inside the container appear on the host.",
    "Use private (the default) or slave propagation.",
    ["CIS Docker 5.20"],
    ["CIS-DOCKER-5.20"],
    "cis-docker"
);
check!(CT_HOST_DEVICES, "BW-HOST-0220", "Host devices exposed", Medium,
    "A host device passed into the container (--device) gives raw access to that hardware or kernel interface.",
    "Remove --device unless the workload needs it; never pass disks or /dev/mem.",
    ["CIS Docker 5.18"], ["CIS-DOCKER-5.18"], "cis-docker");

// ---- Kubelet and worker node files (CIS Kubernetes section 4) ----
check!(NODE_SERVICE_PERMS, "BW-NODE-0001", "Kubelet service file permissions too open", High,
    "Whoever can edit the kubelet's systemd unit or drop-in can change its flags (disable authentication, open the read-only port).",
    "chmod 600 the kubelet unit and drop-in files.",
    ["CIS Kubernetes 4.1.1"], ["CIS-K8S-4.1.1", "KCV-0069", "KCV0069", "CMD-0022"], "cis-k8s");
check!(
    NODE_SERVICE_OWNER,
    "BW-NODE-0002",
    "Kubelet service file not owned by root",
    High,
    "A kubelet unit owned by another user lets that user change the kubelet's flags.",
    "chown root:root the kubelet unit and drop-in files.",
    ["CIS Kubernetes 4.1.2"],
    ["CIS-K8S-4.1.2", "KCV-0070", "KCV0070", "CMD-0023"],
    "cis-k8s"
);
check!(
    NODE_PROXY_KUBECONFIG_PERMS,
    "BW-NODE-0003",
    "kube-proxy kubeconfig permissions too open",
    High,
    "The kube-proxy kubeconfig holds its credentials for the API server.",
    "chmod 600 the kube-proxy kubeconfig.",
    ["CIS Kubernetes 4.1.3"],
    ["CIS-K8S-4.1.3", "KCV-0071", "KCV0071", "CMD-0024"],
    "cis-k8s"
);
check!(
    NODE_PROXY_KUBECONFIG_OWNER,
    "BW-NODE-0004",
    "kube-proxy kubeconfig not owned by root",
    High,
    "A kube-proxy kubeconfig owned by another user exposes its credentials to that user.",
    "chown root:root the kube-proxy kubeconfig.",
    ["CIS Kubernetes 4.1.4"],
    ["CIS-K8S-4.1.4", "KCV-0072", "KCV0072", "CMD-0025"],
    "cis-k8s"
);
check!(
    NODE_KUBECONFIG_PERMS,
    "BW-NODE-0005",
    "kubelet.conf permissions too open",
    High,
    "kubelet.conf holds the kubelet's client credentials for the API server.",
    "chmod 600 /etc/kubernetes/kubelet.conf.",
    ["CIS Kubernetes 4.1.5"],
    ["CIS-K8S-4.1.5", "KCV-0073", "KCV0073", "CMD-0026"],
    "cis-k8s"
);
check!(
    NODE_KUBECONFIG_OWNER,
    "BW-NODE-0006",
    "kubelet.conf not owned by root",
    High,
    "A kubelet.conf owned by another user exposes the node's credentials to that user.",
    "chown root:root /etc/kubernetes/kubelet.conf.",
    ["CIS Kubernetes 4.1.6"],
    ["CIS-K8S-4.1.6", "KCV-0074", "KCV0074", "CMD-0027"],
    "cis-k8s"
);
check!(
    NODE_CA_PERMS,
    "BW-NODE-0007",
    "Kubelet client CA file permissions too open",
    Critical,
    "Whoever can replace the client CA file decides which client certificates the kubelet trusts.",
    "chmod 600 the file named by authentication.x509.clientCAFile.",
    ["CIS Kubernetes 4.1.7"],
    ["CIS-K8S-4.1.7", "KCV-0075", "KCV0075", "CMD-0028"],
    "cis-k8s"
);
check!(
    NODE_CA_OWNER,
    "BW-NODE-0008",
    "Kubelet client CA file not owned by root",
    Critical,
    "A client CA file owned by another user lets that user add a CA the kubelet trusts.",
    "chown root:root the client CA file.",
    ["CIS Kubernetes 4.1.8"],
    ["CIS-K8S-4.1.8", "KCV-0076", "KCV0076", "CMD-0029"],
    "cis-k8s"
);
check!(
    NODE_CONFIG_PERMS,
    "BW-NODE-0009",
    "Kubelet config file permissions too open",
    High,
    "Whoever can edit the kubelet's config.yaml can turn off its authentication and authorization.",
    "chmod 600 /var/lib/kubelet/config.yaml.",
    ["CIS Kubernetes 4.1.9"],
    ["CIS-K8S-4.1.9", "KCV-0077", "KCV0077", "CMD-0030"],
    "cis-k8s"
);
check!(
    NODE_CONFIG_OWNER,
    "BW-NODE-0010",
    "Kubelet config file not owned by root",
    High,
    "A kubelet config owned by another user lets that user reconfigure the kubelet.",
    "chown root:root /var/lib/kubelet/config.yaml.",
    ["CIS Kubernetes 4.1.10"],
    ["CIS-K8S-4.1.10", "KCV-0078", "KCV0078", "CMD-0031"],
    "cis-k8s"
);
check!(NODE_ANONYMOUS_AUTH, "BW-NODE-0011", "Kubelet allows anonymous requests", Critical,
    "With anonymous authentication on, unauthenticated requests reach the kubelet API (exec, logs, pod lists) as system:anonymous.",
    "Set authentication.anonymous.enabled: false in the kubelet config (or --anonymous-auth=false).",
    ["CIS Kubernetes 4.2.1"], ["CIS-K8S-4.2.1", "KCV-0079", "KCV0079"], "cis-k8s");
check!(NODE_AUTHZ_ALWAYS_ALLOW, "BW-NODE-0012", "Kubelet authorizes every request", Critical,
    "authorization mode AlwaysAllow lets any authenticated (or anonymous) client run commands in every pod of the node.",
    "Set authorization.mode: Webhook in the kubelet config (or --authorization-mode=Webhook).",
    ["CIS Kubernetes 4.2.2"], ["CIS-K8S-4.2.2", "KCV-0080", "KCV0080"], "cis-k8s");
check!(NODE_CLIENT_CA, "BW-NODE-0013", "Kubelet client CA not set", Critical,
    "Without a client CA the kubelet cannot authenticate the API server's and users' client certificates.",
    "Set authentication.x509.clientCAFile (or --client-ca-file) to the cluster CA.",
    ["CIS Kubernetes 4.2.3"], ["CIS-K8S-4.2.3", "KCV-0081", "KCV0081"], "cis-k8s");
check!(
    NODE_READ_ONLY_PORT,
    "BW-NODE-0014",
    "Kubelet read-only port open",
    High,
    "The read-only port (10255) serves pod and node information with no authentication at all.",
    "Set readOnlyPort: 0 in the kubelet config (or --read-only-port=0).",
    ["CIS Kubernetes 4.2.4"],
    ["CIS-K8S-4.2.4", "KCV-0082", "KCV0082"],
    "cis-k8s"
);
check!(
    NODE_STREAMING_TIMEOUT,
    "BW-NODE-0015",
    "Kubelet streaming connections never time out",
    Medium,
    "streamingConnectionIdleTimeout 0 keeps idle exec and port-forward sessions open forever.",
    "Set streamingConnectionIdleTimeout to a bounded value (the default 4h, or less).",
    ["CIS Kubernetes 4.2.5"],
    ["CIS-K8S-4.2.5", "KCV-0085", "KCV0085"],
    "cis-k8s"
);
check!(NODE_PROTECT_KERNEL_DEFAULTS, "BW-NODE-0016", "Kubelet does not protect kernel defaults", Medium,
    "Without protectKernelDefaults the kubelet silently changes kernel tunables its defaults need instead of failing, so a node drifts from its hardened sysctls.",
    "Set protectKernelDefaults: true in the kubelet config (and the sysctls it needs on the host).",
    ["CIS Kubernetes v1.9 4.2.6 (dropped from v1.10)"], ["KCV-0083", "KCV0083"], "cis-k8s");
check!(NODE_IPTABLES_CHAINS, "BW-NODE-0017", "Kubelet does not manage iptables chains", Low,
    "makeIPTablesUtilChains: false leaves the node's iptables rules out of step with pod networking.",
    "Set makeIPTablesUtilChains: true (the default).",
    ["CIS Kubernetes 4.2.6"], ["CIS-K8S-4.2.6", "KCV-0084", "KCV0084"], "cis-k8s");
check!(NODE_HOSTNAME_OVERRIDE, "BW-NODE-0018", "Kubelet hostname overridden", Low,
    "--hostname-override can break TLS between the API server and the kubelet (the certificate no longer matches the node name).",
    "Remove --hostname-override.",
    ["CIS Kubernetes 4.2.7"], ["CIS-K8S-4.2.7", "KCV-0086", "KCV0086"], "cis-k8s");
check!(NODE_TLS_FILES, "BW-NODE-0019", "Kubelet serving certificate not configured", Medium,
    "Without tlsCertFile/tlsPrivateKeyFile (or serverTLSBootstrap) the kubelet serves a self-signed certificate that clients cannot verify.",
    "Set tlsCertFile and tlsPrivateKeyFile, or serverTLSBootstrap: true with the kubelet serving-certificate approver.",
    ["CIS Kubernetes 4.2.9"], ["CIS-K8S-4.2.9", "KCV-0088", "KCV0088", "KCV-0089", "KCV0089"], "cis-k8s");
check!(NODE_ROTATE_CERTS, "BW-NODE-0020", "Kubelet client certificate rotation off", Medium,
    "Without rotateCertificates the kubelet's client certificate is never renewed and ends up expired or long-lived.",
    "Set rotateCertificates: true (kubeadm does).",
    ["CIS Kubernetes 4.2.10"], ["CIS-K8S-4.2.10", "KCV-0090", "KCV0090"], "cis-k8s");
check!(NODE_ROTATE_SERVER_CERT, "BW-NODE-0021", "Kubelet server certificate rotation disabled", Medium,
    "The RotateKubeletServerCertificate feature gate is off, so the kubelet's serving certificate is never renewed.",
    "Remove RotateKubeletServerCertificate=false from the feature gates.",
    ["CIS Kubernetes 4.2.11"], ["CIS-K8S-4.2.11", "KCV-0091", "KCV0091"], "cis-k8s");
check!(
    NODE_WEAK_CIPHERS,
    "BW-NODE-0022",
    "Kubelet accepts weak TLS cipher suites",
    Medium,
    "tlsCipherSuites lists suites without forward secrecy or with CBC/RC4/3DES.",
    "List only ECDHE suites with AES-GCM or ChaCha20-Poly1305 in tlsCipherSuites.",
    ["CIS Kubernetes 4.2.12"],
    ["CIS-K8S-4.2.12", "KCV-0092", "KCV0092"],
    "cis-k8s"
);

// ---- Control plane: files (CIS Kubernetes 1.1) ----
check!(CP_MANIFEST_PERMS, "BW-CP-0001", "Static pod manifest permissions too open", High,
    "Whoever can edit a control-plane static pod manifest changes the flags of the API server, controller manager, scheduler or etcd at the kubelet's next sync.",
    "chmod 600 the files in /etc/kubernetes/manifests.",
    ["CIS Kubernetes 1.1.1", "CIS Kubernetes 1.1.3", "CIS Kubernetes 1.1.5", "CIS Kubernetes 1.1.7"],
    ["CIS-K8S-1.1.1", "CIS-K8S-1.1.3", "CIS-K8S-1.1.5", "CIS-K8S-1.1.7", "KCV-0048", "KCV0048", "KCV-0050", "KCV0050", "KCV-0052", "KCV0052", "KCV-0054", "KCV0054", "CMD-0001", "CMD-0003", "CMD-0005", "CMD-0007"], "cis-k8s");
check!(
    CP_MANIFEST_OWNER,
    "BW-CP-0002",
    "Static pod manifest not owned by root",
    High,
    "A control-plane manifest owned by another user lets that user reconfigure the control plane.",
    "chown root:root the files in /etc/kubernetes/manifests.",
    [
        "CIS Kubernetes 1.1.2",
        "CIS Kubernetes 1.1.4",
        "CIS Kubernetes 1.1.6",
        "CIS Kubernetes 1.1.8"
    ],
    [
        "CIS-K8S-1.1.2",
        "CIS-K8S-1.1.4",
        "CIS-K8S-1.1.6",
        "CIS-K8S-1.1.8",
        "KCV-0049",
        "KCV0049",
        "KCV-0051",
        "KCV0051",
        "KCV-0053",
        "KCV0053",
        "KCV-0055",
        "KCV0055",
        "CMD-0002",
        "CMD-0004",
        "CMD-0006",
        "CMD-0008"
    ],
    "cis-k8s"
);
check!(
    CP_ETCD_DATA_PERMS,
    "BW-CP-0003",
    "etcd data directory permissions too open",
    High,
    "The etcd data directory holds every object of the cluster, Secrets included.",
    "chmod 700 the etcd data directory (--data-dir).",
    ["CIS Kubernetes 1.1.11"],
    ["CIS-K8S-1.1.11", "KCV-0058", "KCV0058", "CMD-0011"],
    "cis-k8s"
);
check!(CP_KUBECONFIG_PERMS, "BW-CP-0004", "Control-plane kubeconfig permissions too open", Critical,
    "admin.conf, super-admin.conf, controller-manager.conf and scheduler.conf hold cluster credentials (admin.conf is cluster-admin).",
    "chmod 600 the kubeconfig files in /etc/kubernetes.",
    ["CIS Kubernetes 1.1.13", "CIS Kubernetes 1.1.15", "CIS Kubernetes 1.1.17"],
    ["CIS-K8S-1.1.13", "CIS-K8S-1.1.15", "CIS-K8S-1.1.17", "KCV-0060", "KCV0060", "KCV-0062", "KCV0062", "KCV-0064", "KCV0064", "CMD-0013", "CMD-0015", "CMD-0017"], "cis-k8s");
check!(
    CP_KUBECONFIG_OWNER,
    "BW-CP-0005",
    "Control-plane kubeconfig not owned by root",
    Critical,
    "A control-plane kubeconfig owned by another user hands that user the credentials in it.",
    "chown root:root the kubeconfig files in /etc/kubernetes.",
    [
        "CIS Kubernetes 1.1.14",
        "CIS Kubernetes 1.1.16",
        "CIS Kubernetes 1.1.18"
    ],
    [
        "CIS-K8S-1.1.14",
        "CIS-K8S-1.1.16",
        "CIS-K8S-1.1.18",
        "KCV-0061",
        "KCV0061",
        "KCV-0063",
        "KCV0063",
        "KCV-0065",
        "KCV0065",
        "CMD-0014",
        "CMD-0016",
        "CMD-0018"
    ],
    "cis-k8s"
);
check!(CP_PKI_OWNER, "BW-CP-0006", "Kubernetes PKI not owned by root", Critical,
    "A PKI directory or file owned by another user lets that user read CA keys or replace certificates.",
    "chown -R root:root /etc/kubernetes/pki.",
    ["CIS Kubernetes 1.1.19"], ["CIS-K8S-1.1.19", "KCV-0066", "KCV0066", "CMD-0019"], "cis-k8s");
check!(CP_PKI_CERT_PERMS, "BW-CP-0007", "Kubernetes PKI certificate permissions too open", Low,
    "Certificates are public, but a writable one can be swapped for an attacker's; CIS asks for 600.",
    "chmod 600 /etc/kubernetes/pki/*.crt.",
    ["CIS Kubernetes 1.1.20"], ["CIS-K8S-1.1.20", "KCV-0068", "KCV0068", "CMD-0020"], "cis-k8s");
check!(CP_PKI_KEY_PERMS, "BW-CP-0008", "Kubernetes PKI key permissions too open", Critical,
    "The PKI keys (the cluster CA's among them) let whoever reads them mint any identity in the cluster.",
    "chmod 600 /etc/kubernetes/pki/*.key.",
    ["CIS Kubernetes 1.1.21"], ["CIS-K8S-1.1.21", "KCV-0067", "KCV0067", "CMD-0021"], "cis-k8s");

// ---- Control plane: kube-apiserver (CIS Kubernetes 1.2) ----
check!(API_ANONYMOUS_AUTH, "BW-CP-0101", "API server allows anonymous requests", Medium,
    "Unless --anonymous-auth=false, requests without credentials reach the API server as system:anonymous; one over-broad binding then opens the cluster.",
    "Add --anonymous-auth=false (or an AuthenticationConfiguration limiting anonymous access to health endpoints).",
    ["CIS Kubernetes 1.2.1"], ["CIS-K8S-1.2.1", "KCV-0001", "KCV0001"], "cis-k8s");
check!(API_TOKEN_AUTH_FILE, "BW-CP-0102", "API server uses a static token file", High,
    "--token-auth-file keeps long-lived bearer tokens in clear text that cannot be revoked without a restart.",
    "Remove --token-auth-file; use client certificates, OIDC or service-account tokens.",
    ["CIS Kubernetes 1.2.2"], ["CIS-K8S-1.2.2", "KCV-0002", "KCV0002"], "cis-k8s");
check!(API_KUBELET_CLIENT_CERT, "BW-CP-0103", "API server has no kubelet client certificate", High,
    "Without --kubelet-client-certificate/--kubelet-client-key the API server cannot authenticate to kubelets, which must then allow anonymous access.",
    "Set --kubelet-client-certificate and --kubelet-client-key.",
    ["CIS Kubernetes 1.2.4"], ["CIS-K8S-1.2.4", "KCV-0005", "KCV0005"], "cis-k8s");
check!(API_KUBELET_CA, "BW-CP-0104", "API server does not verify kubelet certificates", Medium,
    "Without --kubelet-certificate-authority the API server connects to kubelets without verifying them, open to interception.",
    "Set --kubelet-certificate-authority to the CA that signs kubelet serving certificates.",
    ["CIS Kubernetes 1.2.5"], ["CIS-K8S-1.2.5", "KCV-0006", "KCV0006"], "cis-k8s");
check!(API_AUTHZ_ALWAYS_ALLOW, "BW-CP-0105", "API server authorizes every request", Critical,
    "--authorization-mode AlwaysAllow (the default when unset) lets every authenticated user do anything.",
    "Set --authorization-mode=Node,RBAC.",
    ["CIS Kubernetes 1.2.6"], ["CIS-K8S-1.2.6", "KCV-0007", "KCV0007"], "cis-k8s");
check!(API_AUTHZ_NODE, "BW-CP-0106", "API server authorization lacks Node", High,
    "Without the Node authorizer, kubelets are authorized by RBAC alone and can read objects of pods on other nodes.",
    "Include Node in --authorization-mode (Node,RBAC).",
    ["CIS Kubernetes 1.2.7"], ["CIS-K8S-1.2.7", "KCV-0008", "KCV0008"], "cis-k8s");
check!(
    API_AUTHZ_RBAC,
    "BW-CP-0107",
    "API server authorization lacks RBAC",
    High,
    "Without RBAC there are no Roles and bindings to grant least privilege.",
    "Include RBAC in --authorization-mode (Node,RBAC).",
    ["CIS Kubernetes 1.2.8"],
    ["CIS-K8S-1.2.8", "KCV-0009", "KCV0009"],
    "cis-k8s"
);
check!(
    API_EVENT_RATE_LIMIT,
    "BW-CP-0108",
    "EventRateLimit admission plugin not enabled",
    Low,
    "Without EventRateLimit, a client can flood the API server and etcd with events.",
    "Add EventRateLimit to --enable-admission-plugins with an --admission-control-config-file.",
    ["CIS Kubernetes 1.2.9"],
    ["CIS-K8S-1.2.9", "KCV-0010", "KCV0010"],
    "cis-k8s"
);
check!(
    API_ALWAYS_ADMIT,
    "BW-CP-0109",
    "AlwaysAdmit admission plugin enabled",
    High,
    "AlwaysAdmit admits every request, bypassing the admission chain.",
    "Remove AlwaysAdmit from --enable-admission-plugins.",
    ["CIS Kubernetes 1.2.10"],
    ["CIS-K8S-1.2.10", "KCV-0011", "KCV0011"],
    "cis-k8s"
);
check!(API_ALWAYS_PULL, "BW-CP-0110", "AlwaysPullImages admission plugin not enabled", Low,
    "Without AlwaysPullImages, a pod can run a private image already pulled on its node without the credentials to pull it.",
    "Add AlwaysPullImages to --enable-admission-plugins (on multi-tenant clusters).",
    ["CIS Kubernetes 1.2.11"], ["CIS-K8S-1.2.11", "KCV-0012", "KCV0012"], "cis-k8s");
check!(API_CORE_ADMISSION_DISABLED, "BW-CP-0111", "Core admission plugin disabled", High,
    "ServiceAccount and NamespaceLifecycle are on by default; disabling them lets pods use any service account and objects be created in terminating namespaces.",
    "Remove ServiceAccount and NamespaceLifecycle from --disable-admission-plugins.",
    ["CIS Kubernetes 1.2.12", "CIS Kubernetes 1.2.13"], ["CIS-K8S-1.2.12", "CIS-K8S-1.2.13", "KCV-0014", "KCV0014", "KCV-0015", "KCV0015"], "cis-k8s");
check!(API_NODE_RESTRICTION, "BW-CP-0112", "NodeRestriction admission plugin not enabled", High,
    "Without NodeRestriction a kubelet can modify other nodes' Node and Pod objects and set restricted labels.",
    "Add NodeRestriction to --enable-admission-plugins.",
    ["CIS Kubernetes 1.2.14"], ["CIS-K8S-1.2.14", "KCV-0016", "KCV0016"], "cis-k8s");
check!(API_PROFILING, "BW-CP-0113", "API server profiling enabled", Low,
    "--profiling (on by default) exposes pprof endpoints that reveal internals and can be used to load the server.",
    "Add --profiling=false.",
    ["CIS Kubernetes 1.2.15"], ["CIS-K8S-1.2.15", "KCV-0018", "KCV0018"], "cis-k8s");
check!(
    API_AUDIT_LOG,
    "BW-CP-0114",
    "API server audit logging off",
    High,
    "Without --audit-log-path (and an audit policy) nothing records who did what in the cluster.",
    "Set --audit-log-path and --audit-policy-file.",
    ["CIS Kubernetes 1.2.16"],
    ["CIS-K8S-1.2.16", "KCV-0019", "KCV0019"],
    "cis-k8s"
);
check!(API_AUDIT_RETENTION, "BW-CP-0115", "API server audit log retention too short", Low,
    "Audit logs rotated away too fast (maxage < 30 days, maxbackup < 10, maxsize < 100 MB) are gone when an incident is found.",
    "Set --audit-log-maxage=30, --audit-log-maxbackup=10, --audit-log-maxsize=100 (or more).",
    ["CIS Kubernetes 1.2.17", "CIS Kubernetes 1.2.18", "CIS Kubernetes 1.2.19"],
    ["CIS-K8S-1.2.17", "CIS-K8S-1.2.18", "CIS-K8S-1.2.19", "KCV-0020", "KCV0020", "KCV-0021", "KCV0021", "KCV-0022", "KCV0022"], "cis-k8s");
check!(
    API_SA_LOOKUP,
    "BW-CP-0116",
    "Service account tokens not checked against etcd",
    Medium,
    "--service-account-lookup=false keeps tokens of deleted service accounts valid.",
    "Remove --service-account-lookup=false (the default is true).",
    ["CIS Kubernetes 1.2.21"],
    ["CIS-K8S-1.2.21", "KCV-0024", "KCV0024"],
    "cis-k8s"
);
check!(API_SA_KEY_FILE, "BW-CP-0117", "API server service-account key not set", Medium,
    "Without --service-account-key-file the API server verifies service-account tokens with its TLS key, so the tokens cannot be rotated independently.",
    "Set --service-account-key-file to the public key matching the controller manager's --service-account-private-key-file.",
    ["CIS Kubernetes 1.2.22"], ["CIS-K8S-1.2.22", "KCV-0025", "KCV0025"], "cis-k8s");
check!(API_ETCD_CLIENT_CERT, "BW-CP-0118", "API server talks to etcd without a client certificate", High,
    "Without --etcd-certfile/--etcd-keyfile the API server cannot authenticate to etcd, which must then accept anyone.",
    "Set --etcd-certfile and --etcd-keyfile.",
    ["CIS Kubernetes 1.2.23"], ["CIS-K8S-1.2.23", "KCV-0026", "KCV0026"], "cis-k8s");
check!(API_TLS, "BW-CP-0119", "API server TLS certificate not set", High,
    "Without --tls-cert-file/--tls-private-key-file the API server serves a self-signed certificate clients cannot verify.",
    "Set --tls-cert-file and --tls-private-key-file.",
    ["CIS Kubernetes 1.2.24"], ["CIS-K8S-1.2.24", "KCV-0027", "KCV0027"], "cis-k8s");
check!(API_CLIENT_CA, "BW-CP-0120", "API server client CA not set", High,
    "Without --client-ca-file no client certificate is accepted, and kubelets and components cannot authenticate with certificates.",
    "Set --client-ca-file.",
    ["CIS Kubernetes 1.2.25"], ["CIS-K8S-1.2.25", "KCV-0028", "KCV0028"], "cis-k8s");
check!(
    API_ETCD_CA,
    "BW-CP-0121",
    "API server does not verify etcd",
    High,
    "Without --etcd-cafile the API server cannot verify it is talking to the real etcd.",
    "Set --etcd-cafile.",
    ["CIS Kubernetes 1.2.26"],
    ["CIS-K8S-1.2.26", "KCV-0029", "KCV0029"],
    "cis-k8s"
);
check!(
    API_ENCRYPTION,
    "BW-CP-0122",
    "Secrets not encrypted at rest",
    Medium,
    "Without --encryption-provider-config Secrets are stored in etcd in clear text (base64).",
    "Set --encryption-provider-config to an EncryptionConfiguration with aescbc, secretbox or kms.",
    ["CIS Kubernetes 1.2.27"],
    ["CIS-K8S-1.2.27", "KCV-0030", "KCV0030"],
    "cis-k8s"
);
check!(
    API_SECURE_PORT,
    "BW-CP-0123",
    "API server secure port disabled",
    High,
    "--secure-port=0 turns off the API server's TLS endpoint.",
    "Remove --secure-port=0.",
    ["CIS Kubernetes v1.23 1.2.17 (dropped from v1.10)"],
    ["KCV-0017", "KCV0017"],
    "cis-k8s"
);

// ---- Control plane: kube-controller-manager (1.3) and kube-scheduler (1.4) ----
check!(CM_GC_THRESHOLD, "BW-CP-0201", "Terminated pod GC threshold not set", Low,
    "Without --terminated-pod-gc-threshold, up to 12,500 terminated pods are kept, loading etcd and the controllers.",
    "Set --terminated-pod-gc-threshold (e.g. 10).",
    ["CIS Kubernetes 1.3.1"], ["CIS-K8S-1.3.1", "KCV-0033", "KCV0033"], "cis-k8s");
check!(
    CM_PROFILING,
    "BW-CP-0202",
    "Controller manager profiling enabled",
    Low,
    "--profiling (on by default) exposes pprof endpoints.",
    "Add --profiling=false.",
    ["CIS Kubernetes 1.3.2"],
    ["CIS-K8S-1.3.2", "KCV-0034", "KCV0034"],
    "cis-k8s"
);
check!(CM_SA_CREDENTIALS, "BW-CP-0203", "Controllers share the controller manager's credentials", Medium,
    "Without --use-service-account-credentials every controller acts with the controller manager's own broad permissions.",
    "Add --use-service-account-credentials=true.",
    ["CIS Kubernetes 1.3.3"], ["CIS-K8S-1.3.3", "KCV-0035", "KCV0035"], "cis-k8s");
check!(CM_SA_PRIVATE_KEY, "BW-CP-0204", "Service-account signing key not set", Medium,
    "Without --service-account-private-key-file service-account tokens cannot be signed with a key of their own.",
    "Set --service-account-private-key-file.",
    ["CIS Kubernetes 1.3.4"], ["CIS-K8S-1.3.4", "KCV-0036", "KCV0036"], "cis-k8s");
check!(CM_ROOT_CA, "BW-CP-0205", "Controller manager root CA not set", Medium,
    "Without --root-ca-file pods cannot verify the API server's certificate with the CA bundle in their service-account volume.",
    "Set --root-ca-file.",
    ["CIS Kubernetes 1.3.5"], ["CIS-K8S-1.3.5", "KCV-0037", "KCV0037"], "cis-k8s");
check!(CM_ROTATE_SERVER_CERT, "BW-CP-0206", "Kubelet server certificate rotation disabled in the controller manager", Medium,
    "RotateKubeletServerCertificate=false stops the controller manager from issuing renewed kubelet serving certificates.",
    "Remove RotateKubeletServerCertificate=false from --feature-gates.",
    ["CIS Kubernetes 1.3.6"], ["CIS-K8S-1.3.6", "KCV-0038", "KCV0038"], "cis-k8s");
check!(CM_BIND_ADDRESS, "BW-CP-0207", "Controller manager listens beyond localhost", Medium,
    "The controller manager's health and metrics endpoints should not be reachable from the network.",
    "Set --bind-address=127.0.0.1.",
    ["CIS Kubernetes 1.3.7"], ["CIS-K8S-1.3.7", "KCV-0039", "KCV0039"], "cis-k8s");
check!(
    SCHED_PROFILING,
    "BW-CP-0301",
    "Scheduler profiling enabled",
    Low,
    "--profiling (on by default) exposes pprof endpoints.",
    "Add --profiling=false.",
    ["CIS Kubernetes 1.4.1"],
    ["CIS-K8S-1.4.1", "KCV-0040", "KCV0040"],
    "cis-k8s"
);
check!(
    SCHED_BIND_ADDRESS,
    "BW-CP-0302",
    "Scheduler listens beyond localhost",
    Medium,
    "The scheduler's health and metrics endpoints should not be reachable from the network.",
    "Set --bind-address=127.0.0.1.",
    ["CIS Kubernetes 1.4.2"],
    ["CIS-K8S-1.4.2", "KCV-0041", "KCV0041"],
    "cis-k8s"
);

// ---- Control plane: etcd (CIS Kubernetes 2) ----
check!(ETCD_TLS, "BW-CP-0401", "etcd serves clients without TLS", Critical,
    "Without --cert-file/--key-file etcd serves every object of the cluster, Secrets included, in clear text.",
    "Set --cert-file and --key-file.",
    ["CIS Kubernetes 2.1"], ["CIS-K8S-2.1", "KCV-0042", "KCV0042"], "cis-k8s");
check!(ETCD_CLIENT_CERT_AUTH, "BW-CP-0402", "etcd does not require client certificates", Critical,
    "Without --client-cert-auth=true anyone who reaches etcd's client port can read and write the whole cluster state.",
    "Set --client-cert-auth=true with --trusted-ca-file.",
    ["CIS Kubernetes 2.2"], ["CIS-K8S-2.2", "KCV-0043", "KCV0043"], "cis-k8s");
check!(
    ETCD_AUTO_TLS,
    "BW-CP-0403",
    "etcd uses self-signed client certificates",
    High,
    "--auto-tls=true makes etcd generate self-signed certificates clients cannot verify.",
    "Remove --auto-tls=true and use certificates from the etcd CA.",
    ["CIS Kubernetes 2.3"],
    ["CIS-K8S-2.3", "KCV-0044", "KCV0044"],
    "cis-k8s"
);
check!(ETCD_PEER_TLS, "BW-CP-0404", "etcd peers talk without TLS", Critical,
    "Without --peer-cert-file/--peer-key-file etcd members replicate the cluster state in clear text.",
    "Set --peer-cert-file and --peer-key-file.",
    ["CIS Kubernetes 2.4"], ["CIS-K8S-2.4", "KCV-0045", "KCV0045"], "cis-k8s");
check!(ETCD_PEER_CLIENT_CERT_AUTH, "BW-CP-0405", "etcd does not authenticate peers", Critical,
    "Without --peer-client-cert-auth=true anyone who reaches the peer port can join the etcd cluster.",
    "Set --peer-client-cert-auth=true with --peer-trusted-ca-file.",
    ["CIS Kubernetes 2.5"], ["CIS-K8S-2.5", "KCV-0046", "KCV0046"], "cis-k8s");
check!(
    ETCD_PEER_AUTO_TLS,
    "BW-CP-0406",
    "etcd peers use self-signed certificates",
    High,
    "--peer-auto-tls=true makes etcd members use self-signed certificates for replication.",
    "Remove --peer-auto-tls=true.",
    ["CIS Kubernetes 2.6"],
    ["CIS-K8S-2.6", "KCV-0047", "KCV0047"],
    "cis-k8s"
);

// ---- Versions ----
/// Every host check, in id order.
pub const ALL: &[CheckMeta] = &[
    DAEMON_USERNS,
    DAEMON_LIVE_RESTORE,
    DAEMON_ICC,
    DAEMON_LOG_DRIVER,
    DAEMON_TCP_NO_TLS,
    DAEMON_NO_NEW_PRIVS,
    DAEMON_INSECURE_REGISTRY,
    DAEMON_NO_SECCOMP,
    FILE_SOCKET_PERMS,
    FILE_SOCKET_OWNER,
    FILE_CONFIG_PERMS,
    FILE_CONFIG_OWNER,
    FILE_UNIT_PERMS,
    FILE_UNIT_OWNER,
    FILE_TLS_KEY_PERMS,
    CT_PRIVILEGED,
    CT_HOST_NETWORK,
    CT_HOST_PID,
    CT_HOST_IPC,
    CT_HOST_UTS,
    CT_SENSITIVE_MOUNT,
    CT_SOCKET_MOUNT,
    CT_CAP_ADD,
    CT_NO_MEMORY_LIMIT,
    CT_NO_CPU_LIMIT,
    CT_NO_PIDS_LIMIT,
    CT_ROOT_USER,
    CT_NO_NEW_PRIVS,
    CT_SECCOMP_UNCONFINED,
    CT_APPARMOR_UNCONFINED,
    CT_WRITABLE_ROOTFS,
    CT_RESTART_POLICY,
    CT_HOST_USERNS,
    CT_SHARED_PROPAGATION,
    CT_HOST_DEVICES,
    NODE_SERVICE_PERMS,
    NODE_SERVICE_OWNER,
    NODE_PROXY_KUBECONFIG_PERMS,
    NODE_PROXY_KUBECONFIG_OWNER,
    NODE_KUBECONFIG_PERMS,
    NODE_KUBECONFIG_OWNER,
    NODE_CA_PERMS,
    NODE_CA_OWNER,
    NODE_CONFIG_PERMS,
    NODE_CONFIG_OWNER,
    NODE_ANONYMOUS_AUTH,
    NODE_AUTHZ_ALWAYS_ALLOW,
    NODE_CLIENT_CA,
    NODE_READ_ONLY_PORT,
    NODE_STREAMING_TIMEOUT,
    NODE_PROTECT_KERNEL_DEFAULTS,
    NODE_IPTABLES_CHAINS,
    NODE_HOSTNAME_OVERRIDE,
    NODE_TLS_FILES,
    NODE_ROTATE_CERTS,
    NODE_ROTATE_SERVER_CERT,
    NODE_WEAK_CIPHERS,
    CP_MANIFEST_PERMS,
    CP_MANIFEST_OWNER,
    CP_ETCD_DATA_PERMS,
    CP_KUBECONFIG_PERMS,
    CP_KUBECONFIG_OWNER,
    CP_PKI_OWNER,
    CP_PKI_CERT_PERMS,
    CP_PKI_KEY_PERMS,
    API_ANONYMOUS_AUTH,
    API_TOKEN_AUTH_FILE,
    API_KUBELET_CLIENT_CERT,
    API_KUBELET_CA,
    API_AUTHZ_ALWAYS_ALLOW,
    API_AUTHZ_NODE,
    API_AUTHZ_RBAC,
    API_EVENT_RATE_LIMIT,
    API_ALWAYS_ADMIT,
    API_ALWAYS_PULL,
    API_CORE_ADMISSION_DISABLED,
    API_NODE_RESTRICTION,
    API_PROFILING,
    API_AUDIT_LOG,
    API_AUDIT_RETENTION,
    API_SA_LOOKUP,
    API_SA_KEY_FILE,
    API_ETCD_CLIENT_CERT,
    API_TLS,
    API_CLIENT_CA,
    API_ETCD_CA,
    API_ENCRYPTION,
    API_SECURE_PORT,
    CM_GC_THRESHOLD,
    CM_PROFILING,
    CM_SA_CREDENTIALS,
    CM_SA_PRIVATE_KEY,
    CM_ROOT_CA,
    CM_ROTATE_SERVER_CERT,
    CM_BIND_ADDRESS,
    SCHED_PROFILING,
    SCHED_BIND_ADDRESS,
    ETCD_TLS,
    ETCD_CLIENT_CERT_AUTH,
    ETCD_AUTO_TLS,
    ETCD_PEER_TLS,
    ETCD_PEER_CLIENT_CERT_AUTH,
    ETCD_PEER_AUTO_TLS,
];

/// Which host checks run: comma-separated ids, aliases or sets (`cis-docker`,
/// `cis-k8s`, `all`). An unknown name is an error, so a typo never runs nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection(Vec<String>);

impl Default for Selection {
    fn default() -> Self {
        Selection(vec!["all".into()])
    }
}

impl Selection {
    /// Parses `--checks`.
    pub fn parse(s: &str) -> Result<Selection, crate::HostError> {
        let mut names = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            if !ALL.iter().any(|c| c.matches(part)) {
                return Err(crate::HostError::UnknownCheck(part.to_string()));
            }
            names.push(part.to_string());
        }
        if names.is_empty() {
            return Ok(Selection::default());
        }
        Ok(Selection(names))
    }

    /// No check at all (only versions are looked for).
    pub fn none() -> Selection {
        Selection(Vec::new())
    }

    /// Whether `check` runs.
    pub fn enabled(&self, check: &CheckMeta) -> bool {
        self.0.iter().any(|n| check.matches(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_unique_documented_and_aliased() {
        let mut seen = std::collections::BTreeSet::new();
        for c in ALL {
            assert!(seen.insert(c.id), "duplicate id {}", c.id);
            assert!(
                !c.description.is_empty() && !c.remediation.is_empty(),
                "{}",
                c.id
            );
            assert!(!c.references.is_empty(), "{}", c.id);
            assert!(
                c.aliases
                    .iter()
                    .any(|a| a.starts_with("CIS-") || a.starts_with("KCV-")),
                "{} has no CIS/KCV alias",
                c.id
            );
        }
        // Host ids never collide with bulwark-misconfig's.
        for c in bulwark_misconfig::checks() {
            assert!(!seen.contains(c.id), "{} also in bulwark-misconfig", c.id);
        }
    }

    #[test]
    fn docs_list_every_check() {
        let doc = include_str!("../../../docs/host-checks.md");
        for c in ALL {
            assert!(
                doc.contains(&format!("| {} |", c.id)),
                "{} missing from docs/host-checks.md",
                c.id
            );
        }
    }

    #[test]
    fn selection_by_alias_and_set() {
        let s = Selection::parse("CIS-DOCKER-5.5").unwrap();
        let on: Vec<_> = ALL.iter().filter(|c| s.enabled(c)).map(|c| c.id).collect();
        assert_eq!(on, vec!["BW-HOST-0201"]);
        let s = Selection::parse("kcv0079").unwrap();
        assert!(s.enabled(&NODE_ANONYMOUS_AUTH) && !s.enabled(&API_ANONYMOUS_AUTH));
        let s = Selection::parse("cis-k8s").unwrap();
        assert!(s.enabled(&ETCD_TLS) && !s.enabled(&CT_PRIVILEGED));
        assert!(Selection::parse("CIS-DOCKER-9.9").is_err());
    }
}
