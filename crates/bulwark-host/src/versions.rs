//! Container runtimes and orchestrator components found on the host, as Go-module
//! packages the vulnerability DB can be matched against (as Trivy reports Go binaries:
//! `pkg:golang/<module>@v<version>`; OSV's Go ecosystem carries the advisories of runc,
//! containerd, moby, podman and Kubernetes under these module paths).
//!
//! Sources: the runtime API's `/version` (engine and its components: runc, containerd),
//! `--version` of binaries found on `PATH` (podman, runc, containerd, dockerd, kubelet;
//! run with a 5 s timeout and 64 KiB of output at most), and the image tags of
//! control-plane static pods (`registry.k8s.io/kube-apiserver:v1.28.2`). Binaries under
//! `--node-root` are **never executed** (that tree may not be trusted); the node's
//! components are known from its manifests.
//!
//! A version is reported as the component reports it, minus distribution build suffixes
//! (`1.1.5+ds1` → `v1.1.5`). Distribution packages that backport fixes without changing
//! the upstream version are then reported vulnerable although patched: suppress those
//! with the ignore file or VEX, as for any Go binary.

use std::ffi::OsStr;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bulwark_core::{Ecosystem, Location, Package};
use serde_json::Value;

use crate::docker::Runtime;
use crate::Collector;

/// Binaries looked for on `PATH`, with the `--version` argument list.
const BINARIES: &[(&str, &[&str])] = &[
    ("podman", &["--version"]),
    ("runc", &["--version"]),
    ("containerd", &["--version"]),
    ("dockerd", &["--version"]),
    ("kubelet", &["--version"]),
];

/// Time allowed for one `--version` run.
const EXEC_TIMEOUT: Duration = Duration::from_secs(5);
/// Output read from one `--version` run.
const MAX_OUTPUT: u64 = 64 * 1024;

/// The first version-looking word of `text` after `after` (a component name): digits
/// and dots, an optional leading `v`, build suffixes (`+ds1`, `~`) dropped.
pub fn version_in(text: &str, after: &str) -> Option<String> {
    let start = text
        .to_ascii_lowercase()
        .find(&after.to_ascii_lowercase())
        .map(|i| i + after.len())
        .unwrap_or(0);
    let rest = text.get(start..)?;
    rest.split(|c: char| c.is_whitespace() || c == ',')
        .find_map(|w| {
            let w = w.trim_start_matches('v');
            let core: String = w
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == '-')
                .collect();
            let mut parts = core.split('.');
            let ok = parts
                .next()
                .is_some_and(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
                && parts
                    .next()
                    .is_some_and(|p| p.chars().next().is_some_and(|c| c.is_ascii_digit()));
            ok.then(|| format!("v{core}"))
        })
}

/// The Go module a component's advisories are filed under, for its version.
pub fn module_for(component: &str, version: &str) -> Option<String> {
    let major: u32 = version
        .trim_start_matches('v')
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())?;
    Some(match component {
        "podman" if major >= 2 => format!("github.com/containers/podman/v{major}"),
        "podman" => "github.com/containers/libpod".into(),
        "runc" => "github.com/opencontainers/runc".into(),
        "containerd" if major >= 2 => format!("github.com/containerd/containerd/v{major}"),
        "containerd" => "github.com/containerd/containerd".into(),
        "docker" | "dockerd" | "moby" => "github.com/docker/docker".into(),
        "kubelet"
        | "kube-apiserver"
        | "kube-controller-manager"
        | "kube-scheduler"
        | "kube-proxy"
        | "kubernetes" => "k8s.io/kubernetes".into(),
        "etcd" if major >= 3 => "go.etcd.io/etcd/server/v3".into(),
        "etcd" => "go.etcd.io/etcd".into(),
        _ => return None,
    })
}

/// Records `component` at `version`, found at `where_`.
pub fn add(c: &mut Collector, component: &str, version: &str, where_: &str, found_by: &str) {
    let Some(module) = module_for(component, version) else {
        tracing::debug!("{where_}: no Go module known for {component} {version}");
        return;
    };
    let version = if module == "github.com/docker/docker" {
        format!("{version}+incompatible")
    } else {
        version.to_string()
    };
    let mut p = Package::new(Ecosystem::Golang, module, version, found_by);
    p.locations.push(Location {
        path: where_.to_string(),
        layer_digest: None,
        layer_diff_id: None,
    });
    c.packages.push(p);
}

/// The engine and its components from the API's `/version`.
pub fn from_api(rt: &Runtime, c: &mut Collector) {
    let v = &rt.version;
    let comps = v
        .get("Components")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for comp in comps {
        let name = comp.get("Name").and_then(Value::as_str).unwrap_or("");
        let ver = comp.get("Version").and_then(Value::as_str).unwrap_or("");
        let (component, after) = match name {
            "Podman Engine" => ("podman", ""),
            "Engine" => ("docker", ""),
            "containerd" => ("containerd", ""),
            "runc" => ("runc", ""),
            n if n.contains("OCI Runtime (runc)") => ("runc", "runc version"),
            _ => continue,
        };
        if let Some(found) = version_in(ver, after) {
            add(
                c,
                component,
                &found,
                &format!("runtime API /version ({name})"),
                "runtime-api",
            );
        }
    }
}

/// Runs `--version` of the known binaries found on `search_path`.
pub fn from_path(search_path: &OsStr, c: &mut Collector) {
    for (bin, args) in BINARIES {
        let Some(path) = std::env::split_paths(search_path)
            .map(|d| d.join(bin))
            .find(|p| is_executable(p))
        else {
            continue;
        };
        match run_version(&path, args) {
            Ok(out) => {
                let after = match *bin {
                    "kubelet" => "kubernetes",
                    "dockerd" => "docker version",
                    "containerd" => "containerd",
                    b => b,
                };
                let component = if *bin == "dockerd" { "docker" } else { bin };
                match version_in(&out, after) {
                    Some(v) => add(
                        c,
                        component,
                        &v,
                        &path.display().to_string(),
                        "binary-version",
                    ),
                    None => c.warn(
                        Some(&path.display().to_string()),
                        format!("no version in the output of {} --version", path.display()),
                    ),
                }
            }
            Err(e) => c.warn(Some(&path.display().to_string()), e),
        }
    }
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Runs `path args`, bounded in time and output.
fn run_version(path: &PathBuf, args: &[&str]) -> Result<String, String> {
    let mut child = Command::new(path)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot run {} --version: {e}", path.display()))?;
    let stdout = child.stdout.take();
    let reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(s) = stdout {
            let _ = s.take(MAX_OUTPUT).read_to_end(&mut buf);
        }
        buf
    });
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if start.elapsed() > EXEC_TIMEOUT => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "{} --version did not finish within {}s",
                    path.display(),
                    EXEC_TIMEOUT.as_secs()
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(format!("waiting for {}: {e}", path.display())),
        }
    }
    let out = reader.join().unwrap_or_default();
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// A control-plane component from its static pod's image tag
/// (`registry.k8s.io/kube-apiserver:v1.28.2`, `registry.k8s.io/etcd:3.5.9-0`).
pub fn from_image(component: &str, image: &str, where_: &str, c: &mut Collector) {
    let name = image.split('@').next().unwrap_or(image);
    let Some((_, tag)) = name.rsplit_once(':').filter(|(repo, _)| !repo.is_empty()) else {
        return;
    };
    // etcd images carry a packaging revision (`3.5.9-0`).
    let tag = if component == "etcd" {
        tag.split('-').next().unwrap_or(tag)
    } else {
        tag
    };
    if let Some(v) = version_in(tag, "") {
        add(
            c,
            component,
            &v,
            &format!("{where_} (image {image})"),
            "static-pod-image",
        );
    }
}

/// One package per (module, version), with every location.
pub fn dedupe(pkgs: &mut Vec<Package>) {
    let mut out: Vec<Package> = Vec::new();
    for p in pkgs.drain(..) {
        match out
            .iter_mut()
            .find(|q| q.name == p.name && q.version == p.version)
        {
            Some(q) => {
                for l in p.locations {
                    if !q.locations.contains(&l) {
                        q.locations.push(l);
                    }
                }
            }
            None => out.push(p),
        }
    }
    out.sort_by(|a, b| (&a.name, &a.version).cmp(&(&b.name, &b.version)));
    *pkgs = out;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_from_outputs() {
        assert_eq!(
            version_in("podman version 4.3.1", "podman").as_deref(),
            Some("v4.3.1")
        );
        assert_eq!(
            version_in(
                "runc version 1.1.5+ds1\ncommit: 1.1.5+ds1-1+deb12u1\nspec: 1.0.2-dev",
                "runc version"
            )
            .as_deref(),
            Some("v1.1.5")
        );
        assert_eq!(
            version_in(
                "containerd github.com/containerd/containerd v1.7.2 0cae528",
                "containerd github.com/containerd/containerd"
            )
            .as_deref(),
            Some("v1.7.2")
        );
        assert_eq!(
            version_in("Kubernetes v1.28.2", "kubernetes").as_deref(),
            Some("v1.28.2")
        );
        assert_eq!(
            version_in("Docker version 24.0.5, build a61e2b4", "docker version").as_deref(),
            Some("v24.0.5")
        );
        assert_eq!(version_in("no digits here", ""), None);
    }

    #[test]
    fn modules() {
        assert_eq!(
            module_for("podman", "v4.3.1").as_deref(),
            Some("github.com/containers/podman/v4")
        );
        assert_eq!(
            module_for("containerd", "v2.0.1").as_deref(),
            Some("github.com/containerd/containerd/v2")
        );
        assert_eq!(
            module_for("kube-apiserver", "v1.28.2").as_deref(),
            Some("k8s.io/kubernetes")
        );
        let mut c = Collector::default();
        from_image(
            "etcd",
            "registry.k8s.io/etcd:3.5.9-0",
            "/etc/kubernetes/manifests/etcd.yaml",
            &mut c,
        );
        from_image(
            "kube-apiserver",
            "registry.k8s.io/kube-apiserver:v1.28.2",
            "m",
            &mut c,
        );
        from_image(
            "kube-scheduler",
            "registry.k8s.io/kube-scheduler:v1.28.2",
            "s",
            &mut c,
        );
        dedupe(&mut c.packages);
        let got: Vec<_> = c
            .packages
            .iter()
            .map(|p| format!("{}@{}", p.name, p.version))
            .collect();
        assert_eq!(
            got,
            vec![
                "go.etcd.io/etcd/server/v3@v3.5.9",
                "k8s.io/kubernetes@v1.28.2"
            ]
        );
        assert_eq!(c.packages[1].locations.len(), 2);
    }
}
