//! Kubernetes scanning: per-check pass/fail manifests, resource discovery (multi-doc,
//! `*List`, every pod-bearing kind), suppression, and hostile or broken input.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test may panic: that is its failure

use std::time::{Duration, Instant};

use bulwark_misconfig::{scan_k8s, CheckSelection, K8sOptions, MisconfigError};

fn scan(yaml: &str) -> Vec<bulwark_core::Misconfiguration> {
    match scan_k8s("t.yaml", yaml.as_bytes(), &K8sOptions::default()) {
        Ok(v) => v,
        Err(e) => panic!("scan failed: {e}"),
    }
}

/// Ids of the findings not suppressed inline (suppressed ones are kept, marked).
fn ids(yaml: &str) -> Vec<String> {
    scan(yaml)
        .into_iter()
        .filter(|m| m.suppressed.is_none())
        .map(|m| m.check_id)
        .collect()
}

/// A Deployment that passes every check: hardened pod, pinned image, probes, limits.
const GOOD: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  template:
    metadata:
      labels: {app: web}
    spec:
      automountServiceAccountToken: false
      securityContext:
        runAsNonRoot: true
        runAsUser: 20000
        seccompProfile: {type: RuntimeDefault}
      containers:
      - name: web
        image: acme.azurecr.io/web:1.2.3@sha256:0123456789abcdef
        env:
        - name: LOG_LEVEL
          value: info
        livenessProbe: {httpGet: {path: /, port: 8080}}
        readinessProbe: {httpGet: {path: /, port: 8080}}
        resources:
          limits: {cpu: 500m, memory: 256Mi}
          requests: {cpu: 100m, memory: 128Mi}
        securityContext:
          allowPrivilegeEscalation: false
          readOnlyRootFilesystem: true
          capabilities: {drop: [ALL]}
"#;

#[test]
fn hardened_deployment_has_no_findings() {
    let found = scan(GOOD);
    assert!(found.is_empty(), "{found:#?}");
}

/// Applies `edit` (a text replacement) to GOOD and expects exactly check `id` (and maybe
/// others in `also`) to fire, on line `line` when given.
fn expect(from: &str, to: &str, id: &str, line: Option<u32>) {
    assert!(GOOD.contains(from), "bad test edit {from:?}");
    let yaml = GOOD.replacen(from, to, 1);
    let found = scan(&yaml);
    let hit: Vec<_> = found.iter().filter(|m| m.check_id == id).collect();
    assert!(!hit.is_empty(), "{id} did not fire for {to:?}: {found:#?}");
    if let Some(l) = line {
        assert!(
            hit.iter().any(|m| m.start_line == Some(l)),
            "{id} line: {hit:#?}"
        );
    }
    assert!(hit
        .iter()
        .all(|m| m.resource.as_deref() == Some("Deployment/web")));
}

#[test]
fn pss_controls_fire_with_lines() {
    expect(
        "      automountServiceAccountToken: false\n",
        "      automountServiceAccountToken: false\n      hostNetwork: true\n",
        "BW-PSS-host-namespaces",
        Some(12),
    );
    expect(
        "          allowPrivilegeEscalation: false\n",
        "          allowPrivilegeEscalation: false\n          privileged: true\n",
        "BW-PSS-privileged",
        Some(29),
    );
    expect(
        "          allowPrivilegeEscalation: false\n",
        "          allowPrivilegeEscalation: true\n",
        "BW-PSS-allow-privilege-escalation",
        Some(28),
    );
    // With every check on, restricted capabilities replaces the baseline control (as the
    // PSA library does at the restricted level), so the added capability is reported once.
    expect(
        "capabilities: {drop: [ALL]}",
        "capabilities: {drop: [ALL], add: [SYS_ADMIN]}",
        "BW-PSS-capabilities-restricted",
        Some(30),
    );
    expect(
        "capabilities: {drop: [ALL]}",
        "capabilities: {drop: [NET_RAW]}",
        "BW-PSS-capabilities-restricted",
        None,
    );
    expect(
        "        runAsNonRoot: true\n",
        "        runAsNonRoot: false\n",
        "BW-PSS-run-as-non-root",
        Some(13),
    );
    expect(
        "runAsUser: 20000",
        "runAsUser: 0",
        "BW-PSS-run-as-user",
        Some(14),
    );
    expect(
        "{type: RuntimeDefault}",
        "{type: Unconfined}",
        "BW-PSS-seccomp-restricted",
        Some(15),
    );
    expect(
        "      - name: web\n",
        "      - name: web\n        ports: [{containerPort: 80, hostPort: 80}]\n",
        "BW-PSS-host-ports",
        Some(18),
    );
    expect(
        "      containers:\n",
        "      volumes: [{name: d, hostPath: {path: /data}}]\n      containers:\n",
        "BW-PSS-volume-types",
        Some(16),
    );
    expect(
        "      containers:\n",
        "      volumes: [{name: d, nfs: {server: x, path: /}}]\n      containers:\n",
        "BW-PSS-volume-types",
        None,
    );
    expect(
        "        runAsNonRoot: true\n",
        "        runAsNonRoot: true\n        sysctls: [{name: kernel.msgmax, value: '1'}]\n",
        "BW-PSS-sysctls",
        Some(14),
    );
    expect(
        "livenessProbe: {httpGet: {path: /, port: 8080}}",
        "livenessProbe: {httpGet: {host: 10.0.0.1, path: /, port: 8080}}",
        "BW-PSS-host-probes",
        Some(22),
    );
    expect(
        "          readOnlyRootFilesystem: true\n",
        "          readOnlyRootFilesystem: true\n          procMount: Unmasked\n",
        "BW-PSS-proc-mount-restricted",
        Some(30),
    );
    expect(
        "          readOnlyRootFilesystem: true\n",
        "          readOnlyRootFilesystem: true\n          seLinuxOptions: {type: spc_t}\n",
        "BW-PSS-selinux",
        None,
    );
    expect(
        "          readOnlyRootFilesystem: true\n",
        "          readOnlyRootFilesystem: true\n          appArmorProfile: {type: Unconfined}\n",
        "BW-PSS-apparmor",
        None,
    );
    expect(
        "          readOnlyRootFilesystem: true\n",
        "          readOnlyRootFilesystem: true\n          windowsOptions: {hostProcess: true}\n",
        "BW-PSS-host-process",
        None,
    );
}

#[test]
fn workload_checks_fire() {
    expect(
        "          readOnlyRootFilesystem: true\n",
        "",
        "BW-K8S-0005",
        None,
    );
    expect(
        "limits: {cpu: 500m, memory: 256Mi}",
        "limits: {memory: 256Mi}",
        "BW-K8S-0001",
        Some(17),
    );
    expect(
        "limits: {cpu: 500m, memory: 256Mi}",
        "limits: {cpu: 500m}",
        "BW-K8S-0002",
        None,
    );
    expect(
        "requests: {cpu: 100m, memory: 128Mi}",
        "requests: {memory: 128Mi}",
        "BW-K8S-0003",
        None,
    );
    expect(
        "requests: {cpu: 100m, memory: 128Mi}",
        "requests: {cpu: 100m}",
        "BW-K8S-0004",
        None,
    );
    expect(
        "      automountServiceAccountToken: false\n",
        "",
        "BW-K8S-0006",
        None,
    );
    expect(
        "acme.azurecr.io/web:1.2.3@sha256:0123456789abcdef",
        "nginx:latest",
        "BW-K8S-0007",
        Some(18),
    );
    expect(
        "acme.azurecr.io/web:1.2.3@sha256:0123456789abcdef",
        "nginx",
        "BW-K8S-0007",
        None,
    );
    expect(
        "acme.azurecr.io/web:1.2.3@sha256:0123456789abcdef",
        "nginx:1.27",
        "BW-K8S-0008",
        Some(18),
    );
    expect(
        "  namespace: shop\n",
        "  namespace: default\n",
        "BW-K8S-0009",
        Some(5),
    );
    expect(
        "  namespace: shop\n",
        "  namespace: kube-system\n",
        "BW-K8S-0019",
        Some(5),
    );
    expect(
        "capabilities: {drop: [ALL]}",
        "capabilities: {drop: [SETUID]}",
        "BW-K8S-0010",
        None,
    );
    expect(
        "        livenessProbe: {httpGet: {path: /, port: 8080}}\n",
        "",
        "BW-K8S-0011",
        None,
    );
    expect(
        "        readinessProbe: {httpGet: {path: /, port: 8080}}\n",
        "",
        "BW-K8S-0012",
        None,
    );
    expect(
        "      containers:\n",
        "      volumes: [{name: d, hostPath: {path: /var/run/docker.sock}}]\n      containers:\n",
        "BW-K8S-0013",
        Some(16),
    );
    expect(
        "      containers:\n",
        "      volumes: [{name: d, hostPath: {path: /etc/}}]\n      containers:\n",
        "BW-K8S-0014",
        None,
    );
    expect(
        "          value: info\n",
        "          value: info\n        - name: DB_PASSWORD\n          value: s3cr3t-pass\n",
        "BW-K8S-0015",
        Some(23),
    );
    expect("runAsUser: 20000", "runAsUser: 1000", "BW-K8S-0018", None);
    expect("          value: info\n", "          value: info\n        - name: DB\n          valueFrom: {secretKeyRef: {name: s, key: k}}\n", "BW-K8S-0023", None);
    expect("      - name: web\n", "      - name: web\n        volumeMounts: [{name: d, mountPath: /d, mountPropagation: Bidirectional}]\n", "BW-K8S-0022", None);
    // A placeholder or a reference is not a literal secret.
    let yaml = GOOD.replacen(
        "          value: info\n",
        "          value: info\n        - name: API_TOKEN\n          value: $(TOKEN_FROM_FILE)\n",
        1,
    );
    assert!(!ids(&yaml).contains(&"BW-K8S-0015".to_string()));
}

#[test]
fn services_and_namespaces() {
    let yaml = "apiVersion: v1\nkind: Service\nmetadata: {name: db}\nspec:\n  type: NodePort\n  externalIPs: [1.2.3.4]\n  ports:\n  - {port: 5432, nodePort: 30432}\n---\napiVersion: v1\nkind: Service\nmetadata: {name: internal}\nspec: {ports: [{port: 80}]}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: open}\n---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: locked\n  labels: {pod-security.kubernetes.io/enforce: restricted}\n";
    let found = scan(yaml);
    let exposed: Vec<_> = found
        .iter()
        .filter(|m| m.check_id == "BW-K8S-0016")
        .collect();
    assert_eq!(exposed.len(), 1);
    assert_eq!(exposed[0].start_line, Some(5));
    assert!(exposed[0].message.contains("5432") && exposed[0].message.contains("30432"));
    assert!(found
        .iter()
        .any(|m| m.check_id == "BW-K8S-0017" && m.start_line == Some(6)));
    let ns: Vec<_> = found
        .iter()
        .filter(|m| m.check_id == "BW-K8S-0020")
        .collect();
    assert_eq!(ns.len(), 1);
    assert_eq!(ns[0].resource.as_deref(), Some("Namespace/open"));
}

const PRIV_POD_SPEC: &str =
    "containers: [{name: c, image: x:1, securityContext: {privileged: true}}]";

#[test]
fn every_pod_bearing_kind_is_found() {
    let kinds = [
        ("v1", "Pod", format!("spec: {{{PRIV_POD_SPEC}}}")),
        (
            "apps/v1",
            "Deployment",
            format!("spec: {{template: {{spec: {{{PRIV_POD_SPEC}}}}}}}"),
        ),
        (
            "apps/v1",
            "ReplicaSet",
            format!("spec: {{template: {{spec: {{{PRIV_POD_SPEC}}}}}}}"),
        ),
        (
            "apps/v1",
            "StatefulSet",
            format!("spec: {{template: {{spec: {{{PRIV_POD_SPEC}}}}}}}"),
        ),
        (
            "apps/v1",
            "DaemonSet",
            format!("spec: {{template: {{spec: {{{PRIV_POD_SPEC}}}}}}}"),
        ),
        (
            "batch/v1",
            "Job",
            format!("spec: {{template: {{spec: {{{PRIV_POD_SPEC}}}}}}}"),
        ),
        (
            "batch/v1",
            "CronJob",
            format!("spec: {{jobTemplate: {{spec: {{template: {{spec: {{{PRIV_POD_SPEC}}}}}}}}}}}"),
        ),
        (
            "v1",
            "ReplicationController",
            format!("spec: {{template: {{spec: {{{PRIV_POD_SPEC}}}}}}}"),
        ),
        (
            "v1",
            "PodTemplate",
            format!("template: {{spec: {{{PRIV_POD_SPEC}}}}}"),
        ),
    ];
    let mut doc = String::new();
    for (api, kind, body) in &kinds {
        doc.push_str(&format!(
            "---\napiVersion: {api}\nkind: {kind}\nmetadata: {{name: x}}\n{body}\n"
        ));
    }
    let found = scan(&doc);
    for (_, kind, _) in &kinds {
        let r = format!("{kind}/x");
        assert!(
            found
                .iter()
                .any(|m| m.check_id == "BW-PSS-privileged"
                    && m.resource.as_deref() == Some(r.as_str())),
            "{kind} not scanned"
        );
    }
}

#[test]
fn lists_helm_output_and_unknown_kinds() {
    let yaml = format!(
        "# Source: chart/templates/a.yaml\napiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Pod\n  metadata: {{name: a}}\n  spec: {{{PRIV_POD_SPEC}}}\n---\n# Source: chart/templates/crd.yaml\napiVersion: example.com/v1\nkind: Deployment\nmetadata: {{name: custom}}\nspec: {{template: {{spec: {{{PRIV_POD_SPEC}}}}}}}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c}}\ndata: {{a: b}}\n---\n"
    );
    let found = scan(&yaml);
    let res: Vec<_> = found.iter().filter_map(|m| m.resource.clone()).collect();
    assert!(res.iter().any(|r| r == "Pod/a"));
    assert!(!res
        .iter()
        .any(|r| r.contains("custom") || r.contains("ConfigMap")));
    assert!(found
        .iter()
        .any(|m| m.check_id == "BW-PSS-privileged" && m.start_line == Some(8)));
}

#[test]
fn suppression_by_annotation_and_comment() {
    let base =
        format!("apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec: {{{PRIV_POD_SPEC}}}\n");
    assert!(ids(&base).contains(&"BW-PSS-privileged".to_string()));
    let annotated = base.replace(
        "  name: p\n",
        "  name: p\n  annotations:\n    bulwark.dev/ignore: \"BW-K8S-0001, BW-PSS-privileged\"\n",
    );
    let got = ids(&annotated);
    assert!(!got.contains(&"BW-PSS-privileged".to_string()));
    assert!(!got.contains(&"BW-K8S-0001".to_string()));
    assert!(
        got.contains(&"BW-K8S-0002".to_string()),
        "only the listed ids are suppressed"
    );
    let marked = scan(&annotated)
        .into_iter()
        .find(|m| m.check_id == "BW-PSS-privileged")
        .and_then(|m| m.suppressed);
    assert!(
        marked
            .as_deref()
            .is_some_and(|why| why.starts_with("inline: BW-PSS-privileged")),
        "{marked:?}"
    );
    let commented = format!("# bulwark:ignore=KSV017\n{base}");
    assert!(
        !ids(&commented).contains(&"BW-PSS-privileged".to_string()),
        "aliases suppress too"
    );
    // Pod template annotation of a Deployment.
    let dep = format!("apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: d}}\nspec:\n  template:\n    metadata:\n      annotations: {{bulwark.dev/ignore: BW-PSS-privileged}}\n    spec: {{{PRIV_POD_SPEC}}}\n");
    assert!(!ids(&dep).contains(&"BW-PSS-privileged".to_string()));
    // A comment further up, separated by another resource, does not apply.
    let far = format!("# bulwark:ignore=BW-PSS-privileged\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c}}\n---\n{base}");
    assert!(ids(&far).contains(&"BW-PSS-privileged".to_string()));
}

#[test]
fn check_selection_and_version() {
    let yaml = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: c, image: x}]\n";
    let opts = |sets: &str, v: &str| K8sOptions {
        sets: CheckSelection::parse(sets).unwrap_or_default(),
        pss_version: v.parse().unwrap_or_default(),
    };
    let run = |o: &K8sOptions| scan_k8s("p.yaml", yaml.as_bytes(), o).unwrap_or_default();
    assert!(
        run(&opts("pss-baseline", "latest")).is_empty(),
        "bare pod meets baseline"
    );
    let restricted = run(&opts("pss-restricted", "v1.37"));
    assert!(restricted.iter().all(|m| m.check_id.starts_with("BW-PSS-")));
    assert!(restricted
        .iter()
        .any(|m| m.check_id == "BW-PSS-seccomp-restricted"));
    // Seccomp became required in restricted at v1.19, allowPrivilegeEscalation at v1.8.
    let old = run(&opts("pss-restricted", "v1.18"));
    assert!(!old
        .iter()
        .any(|m| m.check_id == "BW-PSS-seccomp-restricted"));
    assert!(old
        .iter()
        .any(|m| m.check_id == "BW-PSS-allow-privilege-escalation"));
    let older = run(&opts("pss-restricted", "v1.7"));
    assert!(!older
        .iter()
        .any(|m| m.check_id == "BW-PSS-allow-privilege-escalation"));
    let caps = yaml.replace(
        "image: x}",
        "image: x, securityContext: {capabilities: {add: [SYS_ADMIN]}}}",
    );
    let r =
        scan_k8s("p.yaml", caps.as_bytes(), &opts("pss-baseline", "latest")).unwrap_or_default();
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].check_id, "BW-PSS-capabilities-baseline");
    assert_eq!(r[0].start_line, Some(5));
    let one = run(&opts("BW-K8S-0007", "latest"));
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].start_line, Some(5));
}

#[test]
fn malformed_yaml_names_file_and_line() {
    let bad = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: [unclosed\nspec: {}\n";
    match scan_k8s("bad.yaml", bad.as_bytes(), &K8sOptions::default()) {
        Err(MisconfigError::Yaml { path, line, .. }) => {
            assert_eq!(path, "bad.yaml");
            assert!((4..=6).contains(&line), "line {line}");
        }
        other => panic!("expected a YAML error, got {other:?}"),
    }
    let e = scan_k8s("bad.yaml", b"a: b\n c: d\n  - x", &K8sOptions::default());
    assert!(
        e.as_ref()
            .is_err_and(|e| e.to_string().starts_with("bad.yaml:")),
        "{e:?}"
    );
}

#[test]
fn billion_laughs_is_bounded() {
    let mut y = String::from(
        "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    for (i, c) in ('b'..='j').enumerate() {
        let prev = (b'a' + i as u8) as char;
        y.push_str(&format!(
            "{c}: &{c} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]\n"
        ));
    }
    let start = Instant::now();
    let r = scan_k8s("lol.yaml", y.as_bytes(), &K8sOptions::default());
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "took {:?}",
        start.elapsed()
    );
    assert!(matches!(r, Err(MisconfigError::Yaml { .. })), "{r:?}");
    assert!(r.is_err_and(|e| e.to_string().contains("alias")));
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let deep = format!("{}{}", "[".repeat(1000), "]".repeat(1000));
    let r = scan_k8s("deep.yaml", deep.as_bytes(), &K8sOptions::default());
    assert!(
        r.as_ref().is_err_and(|e| {
            let m = e.to_string();
            m.contains("nesting") || m.contains("recursion")
        }),
        "{r:?}"
    );
    let deep_block: String = (0..1000)
        .map(|i| format!("{}k:\n", " ".repeat(i)))
        .collect();
    let r = scan_k8s("deep2.yaml", deep_block.as_bytes(), &K8sOptions::default());
    assert!(r.is_err());
}

#[test]
fn binary_empty_and_oversized_input() {
    let r = scan_k8s(
        "img.yaml",
        &[0x89, b'P', b'N', b'G', 0, 0, 0xff],
        &K8sOptions::default(),
    );
    assert!(r.as_ref().is_err_and(MisconfigError::is_warning), "{r:?}");
    let r = scan_k8s("latin1.yaml", b"name: caf\xe9\n", &K8sOptions::default());
    assert!(r.is_err_and(|e| e.is_warning()));
    assert!(scan("").is_empty());
    assert!(scan("---\n---\n# only comments\n").is_empty());
    assert!(scan("just a string\n").is_empty());
    assert!(scan("- 1\n- 2\n").is_empty());
    let big = vec![b' '; 16 * 1024 * 1024 + 1];
    let r = scan_k8s("big.yaml", &big, &K8sOptions::default());
    assert!(matches!(r, Err(MisconfigError::TooLarge { .. })));
}

/// Found by the side-by-side harness (docs/side-by-side.md): `securityContext: {}` on
/// both pod and container sets nothing, so it is the same as no security context.
#[test]
fn empty_security_context_counts_as_none() {
    let yaml = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  securityContext: {}\n  containers:\n  - {name: c, image: x, securityContext: {}}\n  - {name: d, image: x, securityContext: {runAsNonRoot: true}}\n";
    let found = scan(yaml);
    let hits: Vec<_> = found
        .iter()
        .filter(|m| m.check_id == "BW-K8S-0021")
        .collect();
    assert_eq!(hits.len(), 1, "{found:#?}");
    assert!(hits[0].message.contains("\"c\""), "{hits:#?}");
    assert_eq!(hits[0].start_line, Some(7));
}

/// Found by the side-by-side harness: Trivy's KSV-0119 flags NET_RAW in
/// `capabilities.add` only, so selecting (or ignoring) KSV-0119 must not touch the
/// "NET_RAW not dropped" check, only the baseline capabilities check.
#[test]
fn ksv0119_means_net_raw_added() {
    let opts = K8sOptions {
        sets: CheckSelection::parse("KSV-0119").unwrap_or_default(),
        pss_version: Default::default(),
    };
    let bare = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: c, image: x}]\n";
    let r = scan_k8s("p.yaml", bare.as_bytes(), &opts).unwrap_or_default();
    assert!(r.is_empty(), "not dropping NET_RAW is not KSV-0119: {r:#?}");
    let added = bare.replace(
        "image: x}",
        "image: x, securityContext: {capabilities: {add: [NET_RAW]}}}",
    );
    let r = scan_k8s("p.yaml", added.as_bytes(), &opts).unwrap_or_default();
    let got: Vec<_> = r.iter().map(|m| m.check_id.as_str()).collect();
    assert_eq!(got, ["BW-PSS-capabilities-baseline"], "{r:#?}");
    // The full run still reports the missing drop, under CKV_K8S_28.
    let all = scan(bare);
    let net_raw = all.iter().find(|m| m.check_id == "BW-K8S-0010");
    assert!(
        net_raw.is_some_and(|m| m.aliases.iter().any(|a| a == "CKV_K8S_28")
            && !m.aliases.iter().any(|a| a.contains("0119"))),
        "{all:#?}"
    );
}

// --- Reading manifests as the API server does (issue 11, item 2) -------------------

fn pss_ids(yaml: &str) -> (Vec<String>, Vec<bulwark_misconfig::CheckWarning>) {
    let opts = K8sOptions {
        sets: CheckSelection::of(["pss-baseline"]),
        ..K8sOptions::default()
    };
    match bulwark_misconfig::check_k8s("dup.yaml", yaml.as_bytes(), &opts) {
        Ok(c) => (
            c.findings.into_iter().map(|m| m.check_id).collect(),
            c.warnings,
        ),
        Err(e) => panic!("scan failed: {e}"),
    }
}

const POD_HEAD: &str = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n";

/// The reported case: `hostPID: false` then `hostPID: true`. The API server keeps the
/// last value, so this is a host-PID pod; bulwark used to read the first and pass it.
#[test]
fn duplicate_key_last_wins_with_warning() {
    let yaml = format!(
        "{POD_HEAD}  hostPID: false\n  hostPID: true\n  containers:\n  - name: c\n    image: x\n"
    );
    let (ids, warnings) = pss_ids(&yaml);
    assert_eq!(ids, ["BW-PSS-host-namespaces"]);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert_eq!(warnings[0].line, 7);
    assert!(
        warnings[0].message.contains("\"hostPID\"") && warnings[0].message.contains("line 6"),
        "{}",
        warnings[0]
    );
    // The other order passes (last value false) and still warns.
    let yaml = format!(
        "{POD_HEAD}  hostPID: true\n  hostPID: false\n  containers:\n  - name: c\n    image: x\n"
    );
    let (ids, warnings) = pss_ids(&yaml);
    assert!(ids.is_empty(), "{ids:?}");
    assert_eq!(warnings.len(), 1);
    // A repeated `privileged` inside a container's securityContext, quoted key first.
    let yaml = format!(
        "{POD_HEAD}  containers:\n  - name: c\n    image: x\n    securityContext:\n      \"privileged\": false\n      privileged: true\n"
    );
    let (ids, warnings) = pss_ids(&yaml);
    assert_eq!(ids, ["BW-PSS-privileged"]);
    assert_eq!(warnings.len(), 1);
}

/// go-yaml v2 (what the API server decodes with) reads these plain scalars as true.
#[test]
fn yaml11_booleans_count_where_kubernetes_reads_a_bool() {
    for t in [
        "yes", "Yes", "YES", "y", "Y", "on", "On", "ON", "true", "True", "TRUE",
    ] {
        let yaml = format!(
            "{POD_HEAD}  containers:\n  - name: c\n    image: x\n    securityContext:\n      privileged: {t}\n"
        );
        assert_eq!(pss_ids(&yaml).0, ["BW-PSS-privileged"], "privileged: {t}");
        let yaml =
            format!("{POD_HEAD}  hostNetwork: {t}\n  containers:\n  - name: c\n    image: x\n");
        assert_eq!(
            pss_ids(&yaml).0,
            ["BW-PSS-host-namespaces"],
            "hostNetwork: {t}"
        );
    }
    // Not booleans in go-yaml v2: mixed case, quoted (a string, which the API server
    // refuses for a boolean field), and other words.
    for t in ["yES", "oN", "\"yes\"", "'on'", "enabled", "1"] {
        let yaml = format!(
            "{POD_HEAD}  containers:\n  - name: c\n    image: x\n    securityContext:\n      privileged: {t}\n"
        );
        assert!(pss_ids(&yaml).0.is_empty(), "privileged: {t}");
    }
    // An explicit tag decides: `!!bool "yes"` is true, `!!str yes` a string.
    let yaml = format!(
        "{POD_HEAD}  hostIPC: !!bool \"yes\"\n  hostPID: !!str yes\n  containers:\n  - name: c\n    image: x\n"
    );
    let (ids, _) = pss_ids(&yaml);
    assert_eq!(ids, ["BW-PSS-host-namespaces"]);
    // `no`/`off` are false: allowPrivilegeEscalation: no satisfies restricted.
    let opts = K8sOptions {
        sets: CheckSelection::of(["BW-PSS-allow-privilege-escalation"]),
        ..K8sOptions::default()
    };
    for f in ["no", "Off", "N", "false"] {
        let yaml = format!(
            "{POD_HEAD}  containers:\n  - name: c\n    image: x\n    securityContext:\n      allowPrivilegeEscalation: {f}\n"
        );
        let found = scan_k8s("t.yaml", yaml.as_bytes(), &opts).unwrap_or_default();
        assert!(found.is_empty(), "allowPrivilegeEscalation: {f}: {found:?}");
    }
}

/// Integers as go-yaml v2 and JSON give them to the API server: `runAsUser: 0x0` is
/// root, so is `0.0`; `010` is octal 8.
#[test]
fn go_yaml_integers_reach_run_as_user() {
    let opts = K8sOptions {
        sets: CheckSelection::of(["BW-PSS-run-as-user"]),
        ..K8sOptions::default()
    };
    let run = |v: &str| {
        let yaml = format!(
            "{POD_HEAD}  securityContext:\n    runAsNonRoot: true\n    runAsUser: {v}\n  containers:\n  - name: c\n    image: x\n"
        );
        scan_k8s("t.yaml", yaml.as_bytes(), &opts)
            .unwrap_or_default()
            .len()
    };
    for root in [
        "0", "00", "+0", "-0", "0x0", "0o0", "0b0", "0_0", "0.0", "0e0", ".0",
    ] {
        assert_eq!(run(root), 1, "runAsUser: {root}");
    }
    for not_root in ["1000", "010", "0x10", "\"0\"", "0.5", "zero"] {
        assert_eq!(run(not_root), 0, "runAsUser: {not_root}");
    }
}

/// Merge keys (`<<`) apply as go-yaml v2 applies them: in place, so a merge after an
/// explicit key overrides it (warned), and a merge before it is overridden.
#[test]
fn merge_keys_follow_go_yaml_v2() {
    let yaml = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  annotations:\n    base: &priv {privileged: true}\nspec:\n  containers:\n  - name: c\n    image: x\n    securityContext:\n      privileged: false\n      <<: *priv\n";
    let (ids, warnings) = pss_ids(yaml);
    assert_eq!(ids, ["BW-PSS-privileged"]);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].message.contains("merge"), "{}", warnings[0]);
    let yaml = yaml.replace(
        "      privileged: false\n      <<: *priv\n",
        "      <<: *priv\n      privileged: false\n",
    );
    let (ids, warnings) = pss_ids(&yaml);
    assert!(ids.is_empty(), "{ids:?}");
    assert!(warnings.is_empty(), "{warnings:?}");
    // A merge of a non-mapping is refused, as go-yaml v2 refuses it.
    let bad = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  <<: [1, 2]\n";
    assert!(matches!(
        scan_k8s("t.yaml", bad.as_bytes(), &K8sOptions::default()),
        Err(MisconfigError::Yaml { line: 5, .. })
    ));
}
