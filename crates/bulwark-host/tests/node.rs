//! Kubelet and control-plane checks on node directories written by the test: a
//! kubeadm-style node as kubeadm lays it out by default (weak: world-readable files,
//! the kubelet's command-line defaults, the API server without audit logging or
//! encryption), and the same node hardened as the CIS Kubernetes Benchmark asks, which
//! must give no finding at all.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use bulwark_host::{collect, HostError, HostOptions};

fn write(root: &Path, rel: &str, text: &str, mode: u32) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, text).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// kubeadm's kubelet drop-in (10-kubeadm.conf) as its documentation shows it.
const DROPIN: &str = "# Note: This dropin only works with kubeadm and kubelet v1.11+
[Service]
Environment=\"KUBELET_KUBECONFIG_ARGS=--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf --kubeconfig=/etc/kubernetes/kubelet.conf\"
Environment=\"KUBELET_CONFIG_ARGS=--config=/var/lib/kubelet/config.yaml\"
EnvironmentFile=-/var/lib/kubelet/kubeadm-flags.env
EnvironmentFile=-/etc/default/kubelet
ExecStart=
ExecStart=/usr/bin/kubelet $KUBELET_KUBECONFIG_ARGS $KUBELET_CONFIG_ARGS $KUBELET_KUBEADM_ARGS $KUBELET_EXTRA_ARGS
";

fn kubelet_config(hardened: bool) -> String {
    let mut s = String::from(
        "apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
authentication:
  anonymous:
    enabled: ANON
  webhook:
    cacheTTL: 0s
    enabled: true
  x509:
    clientCAFile: /etc/kubernetes/pki/ca.crt
authorization:
  mode: MODE
cgroupDriver: systemd
clusterDNS:
- 10.96.0.10
clusterDomain: cluster.local
rotateCertificates: true
staticPodPath: /etc/kubernetes/manifests
",
    );
    if hardened {
        s = s.replace("ANON", "false").replace("MODE", "Webhook");
        s.push_str("readOnlyPort: 0\nprotectKernelDefaults: true\nserverTLSBootstrap: true\ntlsCipherSuites:\n- TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256\n- TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384\n");
    } else {
        // A node someone "debugged": anonymous access and AlwaysAllow, read-only port.
        s = s.replace("ANON", "true").replace("MODE", "AlwaysAllow");
        s.push_str("readOnlyPort: 10255\nstreamingConnectionIdleTimeout: 0s\ntlsCipherSuites:\n- TLS_RSA_WITH_AES_128_CBC_SHA\n");
    }
    s
}

fn pod(name: &str, image: &str, flags: &[String]) -> String {
    let mut s = format!(
        "apiVersion: v1
kind: Pod
metadata:
  labels:
    component: {name}
    tier: control-plane
  name: {name}
  namespace: kube-system
spec:
  containers:
  - command:
    - {name}
"
    );
    for f in flags {
        s.push_str(&format!("    - {f}\n"));
    }
    s.push_str(&format!(
        "    image: {image}
    imagePullPolicy: IfNotPresent
    name: {name}
  hostNetwork: true
  priorityClassName: system-node-critical
"
    ));
    s
}

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// Writes a kubeadm v1.28-style control-plane node under `root`.
fn node(root: &Path, hardened: bool) {
    let fmode = if hardened { 0o600 } else { 0o644 };
    write(
        root,
        "etc/systemd/system/kubelet.service.d/10-kubeadm.conf",
        DROPIN,
        fmode,
    );
    write(
        root,
        "var/lib/kubelet/kubeadm-flags.env",
        "KUBELET_KUBEADM_ARGS=\"--container-runtime-endpoint=unix:///var/run/containerd/containerd.sock --pod-infra-container-image=registry.k8s.io/pause:3.9\"\n",
        0o644,
    );
    write(
        root,
        "var/lib/kubelet/config.yaml",
        &kubelet_config(hardened),
        fmode,
    );
    for conf in [
        "kubelet.conf",
        "admin.conf",
        "super-admin.conf",
        "controller-manager.conf",
        "scheduler.conf",
    ] {
        write(
            root,
            &format!("etc/kubernetes/{conf}"),
            "apiVersion: v1\nkind: Config\n",
            if hardened { 0o600 } else { 0o644 },
        );
    }
    for f in [
        "ca",
        "apiserver",
        "apiserver-kubelet-client",
        "apiserver-etcd-client",
        "front-proxy-ca",
        "front-proxy-client",
        "etcd/ca",
        "etcd/server",
        "etcd/peer",
    ] {
        write(
            root,
            &format!("etc/kubernetes/pki/{f}.crt"),
            "-----BEGIN CERTIFICATE-----\n",
            if hardened { 0o600 } else { 0o644 },
        );
        write(
            root,
            &format!("etc/kubernetes/pki/{f}.key"),
            "-----BEGIN PRIVATE KEY-----\n",
            0o600,
        );
    }
    write(root, "etc/kubernetes/pki/sa.key", "k", 0o600);
    write(root, "etc/kubernetes/pki/sa.pub", "p", 0o644);
    std::fs::create_dir_all(root.join("var/lib/etcd")).unwrap();
    std::fs::set_permissions(
        root.join("var/lib/etcd"),
        std::fs::Permissions::from_mode(if hardened { 0o700 } else { 0o755 }),
    )
    .unwrap();

    let mut api = strs(&[
        "--advertise-address=192.168.0.10",
        "--allow-privileged=true",
        "--authorization-mode=Node,RBAC",
        "--client-ca-file=/etc/kubernetes/pki/ca.crt",
        "--enable-bootstrap-token-auth=true",
        "--etcd-cafile=/etc/kubernetes/pki/etcd/ca.crt",
        "--etcd-certfile=/etc/kubernetes/pki/apiserver-etcd-client.crt",
        "--etcd-keyfile=/etc/kubernetes/pki/apiserver-etcd-client.key",
        "--etcd-servers=https://127.0.0.1:2379",
        "--kubelet-client-certificate=/etc/kubernetes/pki/apiserver-kubelet-client.crt",
        "--kubelet-client-key=/etc/kubernetes/pki/apiserver-kubelet-client.key",
        "--kubelet-preferred-address-types=InternalIP,ExternalIP,Hostname",
        "--proxy-client-cert-file=/etc/kubernetes/pki/front-proxy-client.crt",
        "--proxy-client-key-file=/etc/kubernetes/pki/front-proxy-client.key",
        "--requestheader-allowed-names=front-proxy-client",
        "--requestheader-client-ca-file=/etc/kubernetes/pki/front-proxy-ca.crt",
        "--secure-port=6443",
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        "--service-account-key-file=/etc/kubernetes/pki/sa.pub",
        "--service-account-signing-key-file=/etc/kubernetes/pki/sa.key",
        "--service-cluster-ip-range=10.96.0.0/12",
        "--tls-cert-file=/etc/kubernetes/pki/apiserver.crt",
        "--tls-private-key-file=/etc/kubernetes/pki/apiserver.key",
    ]);
    let mut cm = strs(&[
        "--authentication-kubeconfig=/etc/kubernetes/controller-manager.conf",
        "--authorization-kubeconfig=/etc/kubernetes/controller-manager.conf",
        "--bind-address=127.0.0.1",
        "--client-ca-file=/etc/kubernetes/pki/ca.crt",
        "--cluster-name=kubernetes",
        "--cluster-signing-cert-file=/etc/kubernetes/pki/ca.crt",
        "--cluster-signing-key-file=/etc/kubernetes/pki/ca.key",
        "--controllers=*,bootstrapsigner,tokencleaner",
        "--kubeconfig=/etc/kubernetes/controller-manager.conf",
        "--leader-elect=true",
        "--requestheader-client-ca-file=/etc/kubernetes/pki/front-proxy-ca.crt",
        "--root-ca-file=/etc/kubernetes/pki/ca.crt",
        "--service-account-private-key-file=/etc/kubernetes/pki/sa.key",
        "--use-service-account-credentials=true",
    ]);
    let mut sched = strs(&[
        "--authentication-kubeconfig=/etc/kubernetes/scheduler.conf",
        "--authorization-kubeconfig=/etc/kubernetes/scheduler.conf",
        "--bind-address=127.0.0.1",
        "--kubeconfig=/etc/kubernetes/scheduler.conf",
        "--leader-elect=true",
    ]);
    let etcd = strs(&[
        "--advertise-client-urls=https://192.168.0.10:2379",
        "--cert-file=/etc/kubernetes/pki/etcd/server.crt",
        "--client-cert-auth=true",
        "--data-dir=/var/lib/etcd",
        "--key-file=/etc/kubernetes/pki/etcd/server.key",
        "--listen-client-urls=https://127.0.0.1:2379,https://192.168.0.10:2379",
        "--peer-cert-file=/etc/kubernetes/pki/etcd/peer.crt",
        "--peer-client-cert-auth=true",
        "--peer-key-file=/etc/kubernetes/pki/etcd/peer.key",
        "--peer-trusted-ca-file=/etc/kubernetes/pki/etcd/ca.crt",
        "--trusted-ca-file=/etc/kubernetes/pki/etcd/ca.crt",
    ]);
    if hardened {
        api.extend(strs(&[
            "--anonymous-auth=false",
            "--kubelet-certificate-authority=/etc/kubernetes/pki/ca.crt",
            "--enable-admission-plugins=NodeRestriction,EventRateLimit,AlwaysPullImages",
            "--admission-control-config-file=/etc/kubernetes/admission.yaml",
            "--profiling=false",
            "--audit-log-path=/var/log/kubernetes/audit.log",
            "--audit-policy-file=/etc/kubernetes/audit-policy.yaml",
            "--audit-log-maxage=30",
            "--audit-log-maxbackup=10",
            "--audit-log-maxsize=100",
            "--encryption-provider-config=/etc/kubernetes/encryption.yaml",
        ]));
        cm.extend(strs(&[
            "--profiling=false",
            "--terminated-pod-gc-threshold=10",
        ]));
        sched.push("--profiling=false".into());
    } else {
        api.push("--enable-admission-plugins=NodeRestriction".into());
    }
    write(
        root,
        "etc/kubernetes/manifests/kube-apiserver.yaml",
        &pod(
            "kube-apiserver",
            "registry.k8s.io/kube-apiserver:v1.28.2",
            &api,
        ),
        fmode,
    );
    write(
        root,
        "etc/kubernetes/manifests/kube-controller-manager.yaml",
        &pod(
            "kube-controller-manager",
            "registry.k8s.io/kube-controller-manager:v1.28.2",
            &cm,
        ),
        fmode,
    );
    write(
        root,
        "etc/kubernetes/manifests/kube-scheduler.yaml",
        &pod(
            "kube-scheduler",
            "registry.k8s.io/kube-scheduler:v1.28.2",
            &sched,
        ),
        fmode,
    );
    write(
        root,
        "etc/kubernetes/manifests/etcd.yaml",
        &pod("etcd", "registry.k8s.io/etcd:3.5.9-0", &etcd),
        fmode,
    );
}

fn opts(root: &Path) -> HostOptions {
    let mut o = HostOptions::new(None, Some(root.to_path_buf()));
    o.search_path = None;
    o
}

fn ids(c: &bulwark_host::Collector) -> BTreeSet<String> {
    c.findings.iter().map(|f| f.check_id.clone()).collect()
}

#[test]
fn hardened_node_passes() {
    let dir = tempfile::tempdir().unwrap();
    node(dir.path(), true);
    let c = collect(&opts(dir.path())).unwrap();
    assert!(
        c.findings.is_empty(),
        "hardened node has findings: {:#?}",
        c.findings
            .iter()
            .map(|f| format!("{} {} {}", f.check_id, f.path, f.message))
            .collect::<Vec<_>>()
    );
    assert!(c.incomplete.is_empty(), "{:?}", c.incomplete);
    // The control plane's versions come from the static pod images.
    let pkgs: Vec<String> = c
        .packages
        .iter()
        .map(|p| format!("{}@{}", p.name, p.version))
        .collect();
    assert_eq!(
        pkgs,
        vec![
            "go.etcd.io/etcd/server/v3@v3.5.9",
            "k8s.io/kubernetes@v1.28.2"
        ]
    );
}

#[test]
fn kubeadm_default_node_fails_each_rule() {
    let dir = tempfile::tempdir().unwrap();
    node(dir.path(), false);
    // One file owned by another user, as after a careless copy.
    std::os::unix::fs::chown(
        dir.path().join("etc/kubernetes/admin.conf"),
        Some(1000),
        Some(1000),
    )
    .unwrap();
    let c = collect(&opts(dir.path())).unwrap();
    let got = ids(&c);
    let want = [
        // kubelet files and settings
        "BW-NODE-0001",
        "BW-NODE-0005",
        "BW-NODE-0007",
        "BW-NODE-0009",
        "BW-NODE-0011",
        "BW-NODE-0012",
        "BW-NODE-0014",
        "BW-NODE-0015",
        "BW-NODE-0016",
        "BW-NODE-0019",
        "BW-NODE-0022",
        // control-plane files
        "BW-CP-0001",
        "BW-CP-0003",
        "BW-CP-0004",
        "BW-CP-0005",
        "BW-CP-0007",
        // kube-apiserver as kubeadm writes it
        "BW-CP-0101",
        "BW-CP-0104",
        "BW-CP-0108",
        "BW-CP-0110",
        "BW-CP-0113",
        "BW-CP-0114",
        "BW-CP-0122",
        // controller manager and scheduler
        "BW-CP-0201",
        "BW-CP-0202",
        "BW-CP-0301",
    ];
    for id in want {
        assert!(got.contains(id), "{id} did not fire; got {got:?}");
    }
    // Settings kubeadm does configure do not fire.
    for id in [
        "BW-CP-0105",
        "BW-CP-0106",
        "BW-CP-0107",
        "BW-CP-0112",
        "BW-CP-0119",
        "BW-CP-0207",
        "BW-CP-0302",
        "BW-CP-0401",
        "BW-CP-0402",
        "BW-NODE-0013",
        "BW-NODE-0020",
        "BW-CP-0008",
    ] {
        assert!(
            !got.contains(id),
            "{id} fired on a kubeadm default that satisfies it"
        );
    }
    // Findings name the file and, for flags, the line.
    let anon = c
        .findings
        .iter()
        .find(|f| f.check_id == "BW-NODE-0011")
        .unwrap();
    assert_eq!(anon.path, "/var/lib/kubelet/config.yaml");
    assert_eq!(anon.start_line, Some(4));
    assert!(
        anon.aliases.iter().any(|a| a == "KCV-0079")
            && anon.aliases.iter().any(|a| a == "CIS-K8S-4.2.1")
    );
    let owner = c
        .findings
        .iter()
        .find(|f| f.check_id == "BW-CP-0005")
        .unwrap();
    assert!(owner.message.contains("uid 1000"), "{}", owner.message);
    let rate = c
        .findings
        .iter()
        .find(|f| f.check_id == "BW-CP-0108")
        .unwrap();
    assert_eq!(rate.path, "/etc/kubernetes/manifests/kube-apiserver.yaml");
    assert!(rate.start_line.is_some());
}

#[test]
fn flags_override_the_config_file() {
    let dir = tempfile::tempdir().unwrap();
    node(dir.path(), true);
    // The hardened config says anonymous: false, but a flag in /etc/default/kubelet wins.
    write(
        dir.path(),
        "etc/default/kubelet",
        "KUBELET_EXTRA_ARGS=\"--anonymous-auth=true --read-only-port=10255\"\n",
        0o600,
    );
    let c = collect(&opts(dir.path())).unwrap();
    let got = ids(&c);
    assert!(
        got.contains("BW-NODE-0011") && got.contains("BW-NODE-0014"),
        "{got:?}"
    );
    let f = c
        .findings
        .iter()
        .find(|f| f.check_id == "BW-NODE-0014")
        .unwrap();
    assert!(
        f.message.contains("--read-only-port=10255"),
        "{}",
        f.message
    );
}

#[test]
fn no_config_file_means_command_line_defaults() {
    let dir = tempfile::tempdir().unwrap();
    // Only a unit: no --config, so the kubelet runs with its flag defaults.
    write(
        dir.path(),
        "etc/systemd/system/kubelet.service",
        "[Service]\nExecStart=/usr/bin/kubelet --kubeconfig=/etc/kubernetes/kubelet.conf\n",
        0o600,
    );
    let c = collect(&opts(dir.path())).unwrap();
    let got = ids(&c);
    for id in [
        "BW-NODE-0011",
        "BW-NODE-0012",
        "BW-NODE-0013",
        "BW-NODE-0014",
    ] {
        assert!(got.contains(id), "{id} missing: {got:?}");
    }
}

#[test]
fn empty_or_broken_node_root_is_not_clean() {
    let dir = tempfile::tempdir().unwrap();
    let e = collect(&opts(dir.path())).unwrap_err();
    assert!(matches!(e, HostError::NothingToCheck(_)), "{e}");
    assert!(
        e.to_string().contains(&dir.path().display().to_string()),
        "{e}"
    );
    // A config that cannot be parsed marks the run incomplete.
    node(dir.path(), true);
    write(
        dir.path(),
        "var/lib/kubelet/config.yaml",
        "authentication: [unclosed\n",
        0o600,
    );
    let c = collect(&opts(dir.path())).unwrap();
    assert!(
        c.incomplete
            .iter()
            .any(|r| r.path.as_deref() == Some("/var/lib/kubelet/config.yaml")),
        "{:?}",
        c.incomplete
    );
}

#[test]
fn checks_selection_limits_findings() {
    let dir = tempfile::tempdir().unwrap();
    node(dir.path(), false);
    let mut o = opts(dir.path());
    o.checks = bulwark_host::Selection::parse("KCV-0001,CIS-K8S-4.2.4").unwrap();
    let c = collect(&o).unwrap();
    assert_eq!(
        ids(&c).into_iter().collect::<Vec<_>>(),
        vec!["BW-CP-0101", "BW-NODE-0014"]
    );
}
