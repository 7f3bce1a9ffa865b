//! kube-bench-style checks of a Kubernetes node from its files, under a root directory
//! (`--node-root /` on the node itself, or a copy/mount of a node's filesystem):
//!
//! - **kubelet** (CIS Kubernetes 4.1, 4.2): the unit files and drop-ins
//!   (`kubelet.service`, `kubelet.service.d/*.conf`), the flags they and their
//!   environment files (`/var/lib/kubelet/kubeadm-flags.env`, `/etc/default/kubelet`,
//!   `/etc/sysconfig/kubelet`) pass, the `KubeletConfiguration` file (`--config`, else
//!   `/var/lib/kubelet/config.yaml`), the kubeconfig and the client CA file.
//! - **control plane** (CIS Kubernetes 1.1 to 2): the static pod manifests in
//!   `/etc/kubernetes/manifests` (kube-apiserver, kube-controller-manager,
//!   kube-scheduler, etcd: the flags of their `command`/`args`), the control-plane
//!   kubeconfigs, the PKI directory and the etcd data directory.
//!
//! Design choice: a setting is judged by the value the kubelet would **actually use**:
//! a flag wins over the config file (as the kubelet does), and an unset setting takes
//! the config file's `v1beta1` default when a config file is in use (anonymous auth off,
//! authorization `Webhook`, read-only port 0) and the command-line default otherwise
//! (anonymous auth on, `AlwaysAllow`, port 10255). kube-bench instead fails most unset
//! settings; bulwark reports what is exposed.
//!
//! Paths named inside the files (the client CA, `--data-dir`) are host paths and are
//! looked up under the node root. Nothing found under the root is an error, so a wrong
//! `--node-root` never looks like a clean node.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::checks::*;
use crate::files::{check_file, read_small};
use crate::{Collector, HostError, HostOptions};

/// Flags as given: name (without dashes) → last value (`true` for a bare boolean flag).
pub type Flags = BTreeMap<String, String>;

/// Parses command-line tokens into flags: `--k=v`, `--k v` (when the next token is not
/// a flag), and bare `--k` (boolean `true`). Later occurrences win, as in Go's flag
/// package.
pub fn parse_flags<'a>(tokens: impl IntoIterator<Item = &'a str>) -> Flags {
    let toks: Vec<&str> = tokens.into_iter().collect();
    let mut out = Flags::new();
    let mut i = 0;
    while i < toks.len() {
        let t = toks[i];
        if let Some(f) = t
            .strip_prefix("--")
            .or_else(|| t.strip_prefix('-').filter(|f| !f.is_empty()))
        {
            if let Some((k, v)) = f.split_once('=') {
                out.insert(k.to_string(), unquote(v).to_string());
            } else if toks.get(i + 1).is_some_and(|n| !n.starts_with('-')) {
                out.insert(f.to_string(), unquote(toks[i + 1]).to_string());
                i += 1;
            } else {
                out.insert(f.to_string(), "true".into());
            }
        }
        i += 1;
    }
    out
}

fn unquote(v: &str) -> &str {
    v.trim_matches('"').trim_matches('\'')
}

fn flag_bool(f: &Flags, k: &str) -> Option<bool> {
    f.get(k).map(|v| v.eq_ignore_ascii_case("true") || v == "1")
}

/// `path` (absolute on the node) under `root`.
pub fn under(root: &Path, path: &str) -> PathBuf {
    root.join(path.trim_start_matches('/'))
}

/// Runs the node and control-plane checks on the files under `root`.
pub fn check(root: &Path, opts: &HostOptions, c: &mut Collector) -> Result<(), HostError> {
    if !root.is_dir() {
        return Err(HostError::NothingToCheck(format!(
            "--node-root {}: not a directory",
            root.display()
        )));
    }
    let kubelet = kubelet(root, c);
    let cp = control_plane(root, opts, c);
    if !kubelet && !cp {
        return Err(HostError::NothingToCheck(format!(
            "--node-root {}: no kubelet (unit, flags or /var/lib/kubelet/config.yaml) and no static pod manifests (/etc/kubernetes/manifests) found",
            root.display()
        )));
    }
    Ok(())
}

const UNIT_DIRS: &[&str] = &[
    "etc/systemd/system",
    "usr/lib/systemd/system",
    "lib/systemd/system",
];

const ENV_FILES: &[&str] = &[
    "var/lib/kubelet/kubeadm-flags.env",
    "etc/default/kubelet",
    "etc/sysconfig/kubelet",
];

/// Splits a systemd/env-file value into shell-like words (double and single quotes
/// group; no expansion).
fn words(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut any = false;
    for ch in s.chars() {
        match (quote, ch) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => cur.push(c),
            (None, '"' | '\'') => {
                quote = Some(ch);
                any = true
            }
            (None, c) if c.is_whitespace() => {
                if any || !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
                any = false;
            }
            (None, c) => {
                cur.push(c);
                any = true
            }
        }
    }
    if any || !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// The flag tokens in a unit file or drop-in: every `--flag` word of `ExecStart=` and of
/// `Environment=` values.
fn unit_flag_tokens(text: &str) -> Vec<String> {
    let mut toks = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if let Some(v) = line.strip_prefix("ExecStart=") {
            toks.extend(words(v).into_iter().filter(|w| !w.starts_with('$')));
        } else if let Some(v) = line.strip_prefix("Environment=") {
            for w in words(v) {
                if let Some((_, val)) = w.split_once('=') {
                    toks.extend(words(val));
                }
            }
        }
    }
    toks
}

/// The flag tokens of an environment file (`NAME="--a=b --c"` lines).
fn env_flag_tokens(text: &str) -> Vec<String> {
    let mut toks = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') {
            continue;
        }
        if let Some((_, v)) = line.split_once('=') {
            // The value is one quoted word holding the flags.
            for w in words(v) {
                toks.extend(words(&w));
            }
        }
    }
    toks
}

fn read_yaml(c: &mut Collector, path: &Path, shown: &str) -> Option<(Value, String)> {
    match read_small(path) {
        Ok(Some(text)) => match serde_yaml_ng::from_str::<Value>(&text) {
            Ok(v) => Some((v, text)),
            Err(e) => {
                c.unreadable(shown, &format!("invalid YAML: {e}"));
                None
            }
        },
        Ok(None) => None,
        Err(e) => {
            c.unreadable(shown, &e);
            None
        }
    }
}

/// The 1-based line of the first occurrence of `needle` in `text`.
fn line_of(text: &str, needle: &str) -> Option<u32> {
    text.lines()
        .position(|l| l.contains(needle))
        .and_then(|i| u32::try_from(i + 1).ok())
}

fn kubelet(root: &Path, c: &mut Collector) -> bool {
    let mut found = false;
    let mut tokens: Vec<String> = Vec::new();
    let mut unit_files: Vec<PathBuf> = Vec::new();
    for d in UNIT_DIRS {
        let unit = root.join(d).join("kubelet.service");
        if unit.exists() {
            unit_files.push(unit);
        }
        let dropins = root.join(d).join("kubelet.service.d");
        if let Ok(rd) = std::fs::read_dir(&dropins) {
            let mut list: Vec<PathBuf> = rd
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "conf"))
                .collect();
            list.sort();
            unit_files.extend(list);
        }
    }
    for u in &unit_files {
        found = true;
        let shown = shown(root, u);
        check_file(
            c,
            u,
            &shown,
            0o600,
            Some(&NODE_SERVICE_PERMS),
            Some(&NODE_SERVICE_OWNER),
            &[],
        );
        match read_small(u) {
            Ok(Some(t)) => tokens.extend(unit_flag_tokens(&t)),
            Ok(None) => {}
            Err(e) => c.unreadable(&shown, &e),
        }
    }
    for e in ENV_FILES {
        let p = root.join(e);
        match read_small(&p) {
            Ok(Some(t)) => {
                found = true;
                tokens.extend(env_flag_tokens(&t));
            }
            Ok(None) => {}
            Err(err) => c.unreadable(&shown(root, &p), &err),
        }
    }
    let flags = parse_flags(tokens.iter().map(String::as_str));
    let config_path = flags
        .get("config")
        .cloned()
        .unwrap_or_else(|| "/var/lib/kubelet/config.yaml".into());
    let config_file = under(root, &config_path);
    let config_shown = config_path.clone();
    let config = if config_file.exists() {
        found = true;
        check_file(
            c,
            &config_file,
            &config_shown,
            0o600,
            Some(&NODE_CONFIG_PERMS),
            Some(&NODE_CONFIG_OWNER),
            &[],
        );
        read_yaml(c, &config_file, &config_shown)
    } else {
        None
    };
    if !found {
        return false;
    }
    let kubeconfig = flags
        .get("kubeconfig")
        .cloned()
        .unwrap_or_else(|| "/etc/kubernetes/kubelet.conf".into());
    check_file(
        c,
        &under(root, &kubeconfig),
        &kubeconfig,
        0o600,
        Some(&NODE_KUBECONFIG_PERMS),
        Some(&NODE_KUBECONFIG_OWNER),
        &[],
    );
    for proxy in [
        "/var/lib/kube-proxy/kubeconfig.conf",
        "/etc/kubernetes/proxy.conf",
    ] {
        check_file(
            c,
            &under(root, proxy),
            proxy,
            0o600,
            Some(&NODE_PROXY_KUBECONFIG_PERMS),
            Some(&NODE_PROXY_KUBECONFIG_OWNER),
            &[],
        );
    }
    let (cfg, cfg_text) = match &config {
        Some((v, t)) => (Some(v), t.as_str()),
        None => (None, ""),
    };
    let eff = Effective { flags: &flags, cfg };
    // Where a finding points: the config file (with the key's line) when one is used,
    // else the kubelet's unit.
    let unit_shown = unit_files
        .first()
        .map(|u| shown(root, u))
        .unwrap_or_else(|| "kubelet flags".into());
    let at = |key: &str, flag: &str| -> (String, Option<u32>) {
        if eff.flags.contains_key(flag) {
            (unit_shown.clone(), None)
        } else if cfg.is_some() {
            (config_shown.clone(), line_of(cfg_text, key))
        } else {
            (unit_shown.clone(), None)
        }
    };
    let source = |flag: &str, key: &str| -> String {
        if eff.flags.contains_key(flag) {
            format!(
                "--{flag}={}",
                eff.flags.get(flag).map(String::as_str).unwrap_or("")
            )
        } else if eff.cfg.and_then(|v| v.pointer(key)).is_some() {
            format!(
                "{} in the config file",
                key.trim_start_matches('/').replace('/', ".")
            )
        } else if eff.cfg.is_some() {
            format!(
                "{} unset in the config file (default)",
                key.trim_start_matches('/').replace('/', ".")
            )
        } else {
            format!("--{flag} unset and no config file (command-line default)")
        }
    };

    // 4.2.1 anonymous auth.
    if eff.bool(
        "anonymous-auth",
        "/authentication/anonymous/enabled",
        false,
        true,
    ) {
        let (p, l) = at("anonymous:", "anonymous-auth");
        c.finding(
            &NODE_ANONYMOUS_AUTH,
            &p,
            l,
            Some("kubelet".into()),
            format!(
                "anonymous requests are allowed ({})",
                source("anonymous-auth", "/authentication/anonymous/enabled")
            ),
        );
    }
    // 4.2.2 authorization mode.
    let mode = eff.string(
        "authorization-mode",
        "/authorization/mode",
        "Webhook",
        "AlwaysAllow",
    );
    if mode.eq_ignore_ascii_case("AlwaysAllow") {
        let (p, l) = at("mode:", "authorization-mode");
        c.finding(
            &NODE_AUTHZ_ALWAYS_ALLOW,
            &p,
            l,
            Some("kubelet".into()),
            format!(
                "authorization mode is AlwaysAllow ({})",
                source("authorization-mode", "/authorization/mode")
            ),
        );
    }
    // 4.2.3 client CA.
    let ca = eff.string(
        "client-ca-file",
        "/authentication/x509/clientCAFile",
        "",
        "",
    );
    if ca.is_empty() {
        let (p, l) = at("x509", "client-ca-file");
        c.finding(
            &NODE_CLIENT_CA,
            &p,
            l,
            Some("kubelet".into()),
            "no client CA file (authentication.x509.clientCAFile / --client-ca-file)".into(),
        );
    } else {
        check_file(
            c,
            &under(root, &ca),
            &ca,
            0o600,
            Some(&NODE_CA_PERMS),
            Some(&NODE_CA_OWNER),
            &[],
        );
    }
    // 4.2.4 read-only port.
    let port = eff.string("read-only-port", "/readOnlyPort", "0", "10255");
    if port.trim() != "0" {
        let (p, l) = at("readOnlyPort", "read-only-port");
        c.finding(
            &NODE_READ_ONLY_PORT,
            &p,
            l,
            Some("kubelet".into()),
            format!(
                "the read-only port is {port} ({})",
                source("read-only-port", "/readOnlyPort")
            ),
        );
    }
    // 4.2.5 streaming idle timeout.
    let idle = eff.string(
        "streaming-connection-idle-timeout",
        "/streamingConnectionIdleTimeout",
        "4h",
        "4h",
    );
    if matches!(idle.trim(), "0" | "0s" | "0m" | "0h") {
        let (p, l) = at(
            "streamingConnectionIdleTimeout",
            "streaming-connection-idle-timeout",
        );
        c.finding(
            &NODE_STREAMING_TIMEOUT,
            &p,
            l,
            Some("kubelet".into()),
            format!("streaming connection idle timeout is {idle}"),
        );
    }
    // protect-kernel-defaults.
    if !eff.bool(
        "protect-kernel-defaults",
        "/protectKernelDefaults",
        false,
        false,
    ) {
        let (p, l) = at("protectKernelDefaults", "protect-kernel-defaults");
        c.finding(
            &NODE_PROTECT_KERNEL_DEFAULTS,
            &p,
            l,
            Some("kubelet".into()),
            format!(
                "protectKernelDefaults is false ({})",
                source("protect-kernel-defaults", "/protectKernelDefaults")
            ),
        );
    }
    // 4.2.6 iptables chains.
    if !eff.bool(
        "make-iptables-util-chains",
        "/makeIPTablesUtilChains",
        true,
        true,
    ) {
        let (p, l) = at("makeIPTablesUtilChains", "make-iptables-util-chains");
        c.finding(
            &NODE_IPTABLES_CHAINS,
            &p,
            l,
            Some("kubelet".into()),
            "makeIPTablesUtilChains is false".into(),
        );
    }
    // 4.2.7 hostname override.
    if let Some(h) = flags.get("hostname-override") {
        c.finding(
            &NODE_HOSTNAME_OVERRIDE,
            &unit_shown,
            None,
            Some("kubelet".into()),
            format!("--hostname-override={h}"),
        );
    }
    // 4.2.9 serving certificate.
    let cert = eff.string("tls-cert-file", "/tlsCertFile", "", "");
    let key = eff.string("tls-private-key-file", "/tlsPrivateKeyFile", "", "");
    let bootstrap = eff.bool("server-tls-bootstrap", "/serverTLSBootstrap", false, false);
    if (cert.is_empty() || key.is_empty()) && !bootstrap {
        let (p, l) = at("tlsCertFile", "tls-cert-file");
        c.finding(&NODE_TLS_FILES, &p, l, Some("kubelet".into()),
            "neither tlsCertFile/tlsPrivateKeyFile nor serverTLSBootstrap is set: the kubelet serves a self-signed certificate".into());
    }
    // 4.2.10 rotate certificates.
    if !eff.bool("rotate-certificates", "/rotateCertificates", false, false) {
        let (p, l) = at("rotateCertificates", "rotate-certificates");
        c.finding(
            &NODE_ROTATE_CERTS,
            &p,
            l,
            Some("kubelet".into()),
            format!(
                "client certificate rotation is off ({})",
                source("rotate-certificates", "/rotateCertificates")
            ),
        );
    }
    // 4.2.11 RotateKubeletServerCertificate feature gate.
    let gate_off = flags.get("feature-gates").is_some_and(|g| {
        g.split(',').any(|kv| {
            kv.trim()
                .eq_ignore_ascii_case("RotateKubeletServerCertificate=false")
        })
    }) || cfg
        .and_then(|v| v.pointer("/featureGates/RotateKubeletServerCertificate"))
        == Some(&Value::Bool(false));
    if gate_off {
        let (p, l) = at("RotateKubeletServerCertificate", "feature-gates");
        c.finding(
            &NODE_ROTATE_SERVER_CERT,
            &p,
            l,
            Some("kubelet".into()),
            "the RotateKubeletServerCertificate feature gate is false".into(),
        );
    }
    // 4.2.12 cipher suites.
    let suites: Vec<String> = match flags.get("tls-cipher-suites") {
        Some(v) => v.split(',').map(|s| s.trim().to_string()).collect(),
        None => cfg
            .and_then(|v| v.get("tlsCipherSuites"))
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default(),
    };
    let weak: Vec<&String> = suites.iter().filter(|s| !strong_cipher(s)).collect();
    if !weak.is_empty() {
        let (p, l) = at("tlsCipherSuites", "tls-cipher-suites");
        c.finding(
            &NODE_WEAK_CIPHERS,
            &p,
            l,
            Some("kubelet".into()),
            format!(
                "weak cipher suites allowed: {}",
                weak.iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
    }
    true
}

/// Strong suites: ECDHE key exchange with an AEAD (AES-GCM, ChaCha20-Poly1305), and the
/// TLS 1.3 suites.
fn strong_cipher(s: &str) -> bool {
    let s = s.to_ascii_uppercase();
    s.starts_with("TLS_AES_")
        || s.starts_with("TLS_CHACHA20_")
        || (s.starts_with("TLS_ECDHE_") && (s.contains("_GCM_") || s.contains("CHACHA20_POLY1305")))
}

struct Effective<'a> {
    flags: &'a Flags,
    cfg: Option<&'a Value>,
}

impl Effective<'_> {
    /// A boolean setting: the flag, else the config file's value, else the config
    /// default (a config file is used) or the flag default (none is).
    fn bool(&self, flag: &str, ptr: &str, cfg_default: bool, flag_default: bool) -> bool {
        if let Some(b) = flag_bool(self.flags, flag) {
            return b;
        }
        match self.cfg {
            Some(v) => match v.pointer(ptr) {
                Some(Value::Bool(b)) => *b,
                Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
                _ => cfg_default,
            },
            None => flag_default,
        }
    }

    fn string(&self, flag: &str, ptr: &str, cfg_default: &str, flag_default: &str) -> String {
        if let Some(v) = self.flags.get(flag) {
            return v.clone();
        }
        match self.cfg {
            Some(v) => match v.pointer(ptr) {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Number(n)) => n.to_string(),
                Some(Value::Bool(b)) => b.to_string(),
                _ => cfg_default.to_string(),
            },
            None => flag_default.to_string(),
        }
    }
}

fn shown(root: &Path, p: &Path) -> String {
    match p.strip_prefix(root) {
        Ok(rel) => format!("/{}", rel.display()),
        Err(_) => p.display().to_string(),
    }
}

/// One static pod manifest: the component, its flags, the file text (for lines).
struct Manifest {
    shown: String,
    component: &'static str,
    flags: Flags,
    text: String,
    image: String,
}

const COMPONENTS: &[&str] = &[
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "etcd",
];

fn manifests(root: &Path, c: &mut Collector) -> (Vec<Manifest>, bool) {
    let dir = root.join("etc/kubernetes/manifests");
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(&dir) else {
        return (out, false);
    };
    let mut files: Vec<PathBuf> = rd
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.extension()
                .is_some_and(|e| e == "yaml" || e == "yml" || e == "json" || e == "manifest")
        })
        .collect();
    files.sort();
    for f in &files {
        let shown = shown(root, f);
        check_file(
            c,
            f,
            &shown,
            0o600,
            Some(&CP_MANIFEST_PERMS),
            Some(&CP_MANIFEST_OWNER),
            &[],
        );
        let Some((v, text)) = read_yaml(c, f, &shown) else {
            continue;
        };
        let containers = v
            .pointer("/spec/containers")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for ct in containers {
            let cmd: Vec<String> = ["command", "args"]
                .iter()
                .flat_map(|k| {
                    ct.get(*k)
                        .and_then(Value::as_array)
                        .cloned()
                        .unwrap_or_default()
                })
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect();
            let name = ct.get("name").and_then(Value::as_str).unwrap_or("");
            let bin = cmd.first().and_then(|c| c.rsplit('/').next()).unwrap_or("");
            let Some(component) = COMPONENTS.iter().find(|k| **k == bin || **k == name) else {
                continue;
            };
            out.push(Manifest {
                shown: shown.clone(),
                component,
                flags: parse_flags(cmd.iter().skip(1).map(String::as_str)),
                text: text.clone(),
                image: ct
                    .get("image")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
            });
        }
    }
    (out, !files.is_empty())
}

fn control_plane(root: &Path, opts: &HostOptions, c: &mut Collector) -> bool {
    let (list, any) = manifests(root, c);
    for m in &list {
        if opts.versions {
            crate::versions::from_image(m.component, &m.image, &m.shown, c);
        }
        match m.component {
            "kube-apiserver" => apiserver(m, c),
            "kube-controller-manager" => controller_manager(m, c),
            "kube-scheduler" => scheduler(m, c),
            _ => etcd(root, m, c),
        }
    }
    let mut found = any;
    for conf in [
        "admin.conf",
        "super-admin.conf",
        "controller-manager.conf",
        "scheduler.conf",
    ] {
        let p = format!("/etc/kubernetes/{conf}");
        found |= check_file(
            c,
            &under(root, &p),
            &p,
            0o600,
            Some(&CP_KUBECONFIG_PERMS),
            Some(&CP_KUBECONFIG_OWNER),
            &[],
        );
    }
    let pki = root.join("etc/kubernetes/pki");
    if pki.is_dir() {
        pki_walk(root, &pki, 0, c);
    }
    found
}

/// Checks the PKI tree (at most 4 levels, 10,000 entries).
fn pki_walk(root: &Path, dir: &Path, depth: usize, c: &mut Collector) {
    let shown_dir = shown(root, dir);
    check_file(c, dir, &shown_dir, 0o7777, None, Some(&CP_PKI_OWNER), &[]);
    if depth > 4 {
        return;
    }
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) => {
            c.unreadable(&shown_dir, &format!("cannot list: {e}"));
            return;
        }
    };
    let mut entries: Vec<PathBuf> = rd
        .filter_map(Result::ok)
        .map(|e| e.path())
        .take(10_000)
        .collect();
    entries.sort();
    for p in entries {
        let s = shown(root, &p);
        if p.is_dir() && !p.is_symlink() {
            pki_walk(root, &p, depth + 1, c);
        } else if p.extension().is_some_and(|e| e == "key") {
            check_file(
                c,
                &p,
                &s,
                0o600,
                Some(&CP_PKI_KEY_PERMS),
                Some(&CP_PKI_OWNER),
                &[],
            );
        } else if p.extension().is_some_and(|e| e == "crt" || e == "pem") {
            check_file(
                c,
                &p,
                &s,
                0o600,
                Some(&CP_PKI_CERT_PERMS),
                Some(&CP_PKI_OWNER),
                &[],
            );
        } else {
            check_file(c, &p, &s, 0o7777, None, Some(&CP_PKI_OWNER), &[]);
        }
    }
}

impl Manifest {
    fn has(&self, k: &str) -> bool {
        self.flags.get(k).is_some_and(|v| !v.is_empty())
    }
    fn get(&self, k: &str) -> Option<&str> {
        self.flags.get(k).map(String::as_str)
    }
    fn list(&self, k: &str) -> Vec<String> {
        self.get(k)
            .map(|v| {
                v.split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    }
    fn line(&self, k: &str) -> Option<u32> {
        line_of(&self.text, &format!("--{k}")).or_else(|| line_of(&self.text, "command:"))
    }
    fn fire(
        &self,
        c: &mut Collector,
        check: &bulwark_misconfig::CheckMeta,
        flag: &str,
        msg: String,
    ) {
        c.finding(
            check,
            &self.shown,
            self.line(flag),
            Some(self.component.to_string()),
            msg,
        );
    }
    fn is_false(&self, k: &str) -> bool {
        self.get(k).is_some_and(|v| v.eq_ignore_ascii_case("false"))
    }
    fn is_true(&self, k: &str) -> bool {
        self.get(k).is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }
    fn require(&self, c: &mut Collector, check: &bulwark_misconfig::CheckMeta, flags: &[&str]) {
        let missing: Vec<&str> = flags.iter().copied().filter(|f| !self.has(f)).collect();
        if !missing.is_empty() {
            self.fire(
                c,
                check,
                missing[0],
                format!(
                    "{} not set",
                    missing
                        .iter()
                        .map(|f| format!("--{f}"))
                        .collect::<Vec<_>>()
                        .join(" and ")
                ),
            );
        }
    }
    fn profiling(&self, c: &mut Collector, check: &bulwark_misconfig::CheckMeta) {
        if !self.is_false("profiling") {
            self.fire(
                c,
                check,
                "profiling",
                "--profiling is not false (profiling is on by default)".into(),
            );
        }
    }
    fn bind_local(&self, c: &mut Collector, check: &bulwark_misconfig::CheckMeta) {
        let addr = self.get("bind-address").unwrap_or("0.0.0.0 (default)");
        if addr != "127.0.0.1" && addr != "::1" && addr != "localhost" {
            self.fire(
                c,
                check,
                "bind-address",
                format!("--bind-address is {addr}"),
            );
        }
    }
}

fn apiserver(m: &Manifest, c: &mut Collector) {
    if !m.is_false("anonymous-auth") {
        m.fire(
            c,
            &API_ANONYMOUS_AUTH,
            "anonymous-auth",
            "--anonymous-auth is not false (anonymous requests are allowed by default)".into(),
        );
    }
    if m.has("token-auth-file") {
        m.fire(
            c,
            &API_TOKEN_AUTH_FILE,
            "token-auth-file",
            format!(
                "--token-auth-file={}",
                m.get("token-auth-file").unwrap_or("")
            ),
        );
    }
    m.require(
        c,
        &API_KUBELET_CLIENT_CERT,
        &["kubelet-client-certificate", "kubelet-client-key"],
    );
    m.require(c, &API_KUBELET_CA, &["kubelet-certificate-authority"]);
    let modes = m.list("authorization-mode");
    let has_mode = |x: &str| modes.iter().any(|m| m.eq_ignore_ascii_case(x));
    if modes.is_empty() || has_mode("AlwaysAllow") {
        m.fire(
            c,
            &API_AUTHZ_ALWAYS_ALLOW,
            "authorization-mode",
            if modes.is_empty() {
                "--authorization-mode not set (defaults to AlwaysAllow)".into()
            } else {
                format!("--authorization-mode={}", modes.join(","))
            },
        );
    }
    if !has_mode("Node") {
        m.fire(
            c,
            &API_AUTHZ_NODE,
            "authorization-mode",
            format!("--authorization-mode={} lacks Node", modes.join(",")),
        );
    }
    if !has_mode("RBAC") {
        m.fire(
            c,
            &API_AUTHZ_RBAC,
            "authorization-mode",
            format!("--authorization-mode={} lacks RBAC", modes.join(",")),
        );
    }
    let enabled = m.list("enable-admission-plugins");
    let disabled = m.list("disable-admission-plugins");
    let on = |p: &str| enabled.iter().any(|x| x == p);
    if !on("EventRateLimit") {
        m.fire(
            c,
            &API_EVENT_RATE_LIMIT,
            "enable-admission-plugins",
            "EventRateLimit is not in --enable-admission-plugins".into(),
        );
    }
    if on("AlwaysAdmit") {
        m.fire(
            c,
            &API_ALWAYS_ADMIT,
            "enable-admission-plugins",
            "AlwaysAdmit is in --enable-admission-plugins".into(),
        );
    }
    if !on("AlwaysPullImages") {
        m.fire(
            c,
            &API_ALWAYS_PULL,
            "enable-admission-plugins",
            "AlwaysPullImages is not in --enable-admission-plugins".into(),
        );
    }
    let off: Vec<&String> = disabled
        .iter()
        .filter(|p| *p == "ServiceAccount" || *p == "NamespaceLifecycle")
        .collect();
    if !off.is_empty() {
        m.fire(
            c,
            &API_CORE_ADMISSION_DISABLED,
            "disable-admission-plugins",
            format!(
                "--disable-admission-plugins turns off {}",
                off.iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
    }
    if !on("NodeRestriction") {
        m.fire(
            c,
            &API_NODE_RESTRICTION,
            "enable-admission-plugins",
            "NodeRestriction is not in --enable-admission-plugins".into(),
        );
    }
    m.profiling(c, &API_PROFILING);
    if !m.has("audit-log-path") {
        m.fire(
            c,
            &API_AUDIT_LOG,
            "audit-log-path",
            "--audit-log-path not set".into(),
        );
    } else {
        let num = |k: &str| m.get(k).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        let mut short = Vec::new();
        for (k, min) in [
            ("audit-log-maxage", 30),
            ("audit-log-maxbackup", 10),
            ("audit-log-maxsize", 100),
        ] {
            if num(k) < min {
                short.push(format!("--{k}={} (< {min})", m.get(k).unwrap_or("unset")));
            }
        }
        if !short.is_empty() {
            m.fire(
                c,
                &API_AUDIT_RETENTION,
                "audit-log-maxage",
                short.join(", "),
            );
        }
    }
    if m.is_false("service-account-lookup") {
        m.fire(
            c,
            &API_SA_LOOKUP,
            "service-account-lookup",
            "--service-account-lookup=false".into(),
        );
    }
    m.require(c, &API_SA_KEY_FILE, &["service-account-key-file"]);
    m.require(c, &API_ETCD_CLIENT_CERT, &["etcd-certfile", "etcd-keyfile"]);
    m.require(c, &API_TLS, &["tls-cert-file", "tls-private-key-file"]);
    m.require(c, &API_CLIENT_CA, &["client-ca-file"]);
    m.require(c, &API_ETCD_CA, &["etcd-cafile"]);
    m.require(c, &API_ENCRYPTION, &["encryption-provider-config"]);
    if m.get("secure-port") == Some("0") {
        m.fire(c, &API_SECURE_PORT, "secure-port", "--secure-port=0".into());
    }
}

fn gate_false(m: &Manifest, gate: &str) -> bool {
    m.list("feature-gates")
        .iter()
        .any(|kv| kv.eq_ignore_ascii_case(&format!("{gate}=false")))
}

fn controller_manager(m: &Manifest, c: &mut Collector) {
    m.require(c, &CM_GC_THRESHOLD, &["terminated-pod-gc-threshold"]);
    m.profiling(c, &CM_PROFILING);
    if !m.is_true("use-service-account-credentials") {
        m.fire(
            c,
            &CM_SA_CREDENTIALS,
            "use-service-account-credentials",
            "--use-service-account-credentials is not true".into(),
        );
    }
    m.require(c, &CM_SA_PRIVATE_KEY, &["service-account-private-key-file"]);
    m.require(c, &CM_ROOT_CA, &["root-ca-file"]);
    if gate_false(m, "RotateKubeletServerCertificate") {
        m.fire(
            c,
            &CM_ROTATE_SERVER_CERT,
            "feature-gates",
            "--feature-gates sets RotateKubeletServerCertificate=false".into(),
        );
    }
    m.bind_local(c, &CM_BIND_ADDRESS);
}

fn scheduler(m: &Manifest, c: &mut Collector) {
    m.profiling(c, &SCHED_PROFILING);
    m.bind_local(c, &SCHED_BIND_ADDRESS);
}

fn etcd(root: &Path, m: &Manifest, c: &mut Collector) {
    m.require(c, &ETCD_TLS, &["cert-file", "key-file"]);
    if !m.is_true("client-cert-auth") {
        m.fire(
            c,
            &ETCD_CLIENT_CERT_AUTH,
            "client-cert-auth",
            "--client-cert-auth is not true".into(),
        );
    }
    if m.is_true("auto-tls") {
        m.fire(c, &ETCD_AUTO_TLS, "auto-tls", "--auto-tls=true".into());
    }
    m.require(c, &ETCD_PEER_TLS, &["peer-cert-file", "peer-key-file"]);
    if !m.is_true("peer-client-cert-auth") {
        m.fire(
            c,
            &ETCD_PEER_CLIENT_CERT_AUTH,
            "peer-client-cert-auth",
            "--peer-client-cert-auth is not true".into(),
        );
    }
    if m.is_true("peer-auto-tls") {
        m.fire(
            c,
            &ETCD_PEER_AUTO_TLS,
            "peer-auto-tls",
            "--peer-auto-tls=true".into(),
        );
    }
    let data = m.get("data-dir").unwrap_or("/var/lib/etcd").to_string();
    check_file(
        c,
        &under(root, &data),
        &data,
        0o700,
        Some(&CP_ETCD_DATA_PERMS),
        None,
        &[],
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_forms() {
        let f = parse_flags(["--a=1", "--b", "2", "--c", "--d=x=y", "--a=3"]);
        assert_eq!(f.get("a").map(String::as_str), Some("3"));
        assert_eq!(f.get("b").map(String::as_str), Some("2"));
        assert_eq!(f.get("c").map(String::as_str), Some("true"));
        assert_eq!(f.get("d").map(String::as_str), Some("x=y"));
    }

    #[test]
    fn unit_and_env_tokens() {
        let unit = "[Service]\nEnvironment=\"KUBELET_KUBECONFIG_ARGS=--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf --kubeconfig=/etc/kubernetes/kubelet.conf\"\nEnvironment=\"KUBELET_CONFIG_ARGS=--config=/var/lib/kubelet/config.yaml\"\nExecStart=\nExecStart=/usr/bin/kubelet $KUBELET_KUBECONFIG_ARGS $KUBELET_CONFIG_ARGS --read-only-port=10255\n";
        let t = unit_flag_tokens(unit);
        let f = parse_flags(t.iter().map(String::as_str));
        assert_eq!(
            f.get("config").map(String::as_str),
            Some("/var/lib/kubelet/config.yaml")
        );
        assert_eq!(
            f.get("kubeconfig").map(String::as_str),
            Some("/etc/kubernetes/kubelet.conf")
        );
        assert_eq!(f.get("read-only-port").map(String::as_str), Some("10255"));
        let env = "KUBELET_KUBEADM_ARGS=\"--container-runtime-endpoint=unix:///var/run/containerd/containerd.sock --anonymous-auth=true\"\n";
        let f = parse_flags(env_flag_tokens(env).iter().map(String::as_str));
        assert_eq!(f.get("anonymous-auth").map(String::as_str), Some("true"));
    }

    #[test]
    fn ciphers() {
        assert!(strong_cipher("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"));
        assert!(strong_cipher(
            "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"
        ));
        assert!(!strong_cipher("TLS_RSA_WITH_AES_128_CBC_SHA"));
        assert!(!strong_cipher("TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA"));
    }
}
