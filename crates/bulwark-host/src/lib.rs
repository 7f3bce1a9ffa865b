//! `bulwark host`: hardening checks of the machine containers run on.
//!
//! - [`docker`]: CIS Docker Benchmark checks through a Docker-compatible Engine API
//!   (Docker, or podman's compat socket) and the host's files: daemon configuration
//!   (user namespaces, live restore, icc, log driver, TLS on TCP, ...), ownership and
//!   permissions of runtime sockets, configs and units, and every running container
//!   (privileged, host namespaces, sensitive and socket mounts, capabilities, limits,
//!   root user, no-new-privileges, seccomp/AppArmor, read-only root, restart policy).
//! - [`kube`]: kube-bench-style checks of a Kubernetes node's files under a directory
//!   (`--node-root`): kubelet flags and config, kubeconfig and PKI ownership and
//!   permissions, and the control plane's static pod manifests (kube-apiserver,
//!   controller manager, scheduler, etcd: CIS Kubernetes sections 1-2).
//! - [`versions`]: the runtimes and orchestrator components found (API `/version`,
//!   `--version` of binaries on `PATH`, static pod images) as Go-module packages, matched
//!   against the vulnerability DB by the engine's matcher.
//!
//! Every finding is a [`bulwark_core::Misconfiguration`] of a check in [`checks`] (the
//! [`bulwark_misconfig::CheckMeta`] type of `bulwark config`), so the report, its
//! formats, the ignore file and the verdict are the ones every other scan uses.
//!
//! Fail closed: a runtime API that cannot be reached, a `--node-root` with nothing to
//! check, or a missing vulnerability DB are errors (the CLI exits 2); a file that exists
//! but cannot be read is a warning and marks the report incomplete.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use bulwark_core::{
    IncompleteKind, IncompleteReason, Misconfiguration, Package, Report, ReportTarget, TargetKind,
    Warning,
};
use bulwark_engine::{Gate, ScanOutcome, ScanStats, Suppression};
use bulwark_misconfig::CheckMeta;

pub mod api;
pub mod checks;
pub mod docker;
pub mod files;
pub mod kube;
pub mod versions;

pub use api::{ApiError, Endpoint};
pub use checks::Selection;

/// Why `bulwark host` could not do its job.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// The runtime API could not be used.
    #[error(transparent)]
    Api(#[from] ApiError),
    /// `--checks` names no host check, alias or set.
    #[error("unknown host check or set {0:?} (sets: cis-docker, cis-k8s, all)")]
    UnknownCheck(String),
    /// Nothing to check: no socket and no node root.
    #[error("nothing to check: {0}")]
    NothingToCheck(String),
    /// The vulnerability DB could not be used.
    #[error(transparent)]
    Engine(#[from] bulwark_engine::EngineError),
}

/// Where the runtime keeps its configuration, and which host files are checked. Every
/// path can be overridden (tests point them at temporary files).
#[derive(Debug, Clone)]
pub struct RuntimePaths {
    /// Docker's daemon configuration (`/etc/docker/daemon.json`).
    pub daemon_json: PathBuf,
    /// Podman's containers.conf files, lowest priority first
    /// (`/usr/share/containers/containers.conf`, `/etc/containers/containers.conf`).
    pub containers_conf: Vec<PathBuf>,
    /// Runtime sockets whose ownership and permissions are checked when they exist (the
    /// API socket in use is always checked).
    pub sockets: Vec<PathBuf>,
    /// systemd units of the runtime, checked when they exist.
    pub units: Vec<PathBuf>,
    /// The group file used to find the `docker` group (`/etc/group`).
    pub etc_group: PathBuf,
}

impl Default for RuntimePaths {
    fn default() -> Self {
        let p = |s: &str| PathBuf::from(s);
        RuntimePaths {
            daemon_json: p("/etc/docker/daemon.json"),
            containers_conf: vec![
                p("/usr/share/containers/containers.conf"),
                p("/etc/containers/containers.conf"),
            ],
            sockets: vec![
                p("/var/run/docker.sock"),
                p("/run/docker.sock"),
                p("/run/podman/podman.sock"),
                p("/run/containerd/containerd.sock"),
            ],
            units: [
                "/lib/systemd/system",
                "/usr/lib/systemd/system",
                "/etc/systemd/system",
            ]
            .iter()
            .flat_map(|d| {
                [
                    "docker.service",
                    "docker.socket",
                    "podman.service",
                    "podman.socket",
                    "containerd.service",
                ]
                .iter()
                .map(move |u| Path::new(d).join(u))
            })
            .collect(),
            etc_group: p("/etc/group"),
        }
    }
}

/// One `bulwark host` run.
#[derive(Debug, Clone)]
pub struct HostOptions {
    /// The runtime API; `None` skips the runtime checks.
    pub endpoint: Option<Endpoint>,
    /// A node's root directory for the kubelet and control-plane checks.
    pub node_root: Option<PathBuf>,
    /// Which checks run.
    pub checks: Selection,
    /// Runtime configuration and files.
    pub paths: RuntimePaths,
    /// Where `/proc` of the runtime's host is (namespace sharing is confirmed there from
    /// each container's pid); `None` when the API is remote.
    pub proc_root: Option<PathBuf>,
    /// Look for runtime versions (API, `PATH`, static pod images).
    pub versions: bool,
    /// The `PATH` searched for runtime binaries (`None`: no binaries are run).
    pub search_path: Option<OsString>,
}

impl HostOptions {
    /// Options with the defaults for the local host.
    pub fn new(endpoint: Option<Endpoint>, node_root: Option<PathBuf>) -> HostOptions {
        let proc_root = match &endpoint {
            Some(Endpoint::Unix(_)) => Some(PathBuf::from("/proc")),
            _ => None,
        };
        HostOptions {
            endpoint,
            node_root,
            checks: Selection::default(),
            paths: RuntimePaths::default(),
            proc_root,
            versions: true,
            search_path: std::env::var_os("PATH"),
        }
    }
}

/// What the checks produced, before matching and the verdict.
#[derive(Debug, Clone, Default)]
pub struct Collector {
    selection: Selection,
    /// Findings.
    pub findings: Vec<Misconfiguration>,
    /// Runtime and orchestrator components found, as packages.
    pub packages: Vec<Package>,
    /// Problems that did not stop the run.
    pub warnings: Vec<Warning>,
    /// Why the run did not check everything.
    pub incomplete: Vec<IncompleteReason>,
}

impl Collector {
    /// A collector for the checks `selection` enables.
    pub fn new(selection: Selection) -> Collector {
        Collector {
            selection,
            ..Collector::default()
        }
    }

    /// Whether `check` runs.
    pub fn enabled(&self, check: &CheckMeta) -> bool {
        self.selection.enabled(check)
    }

    /// Records a finding of `check` (when it is selected).
    pub fn finding(
        &mut self,
        check: &CheckMeta,
        path: &str,
        line: Option<u32>,
        resource: Option<String>,
        message: String,
    ) {
        if self.enabled(check) {
            self.findings
                .push(check.finding(path, line, resource, message));
        }
    }

    /// A warning that does not affect completeness.
    pub fn warn(&mut self, path: Option<&str>, message: String) {
        tracing::debug!("{}: {message}", path.unwrap_or("host"));
        self.warnings.push(Warning {
            path: path.map(str::to_string),
            layer: None,
            message,
        });
    }

    /// Something that should have been checked could not be read: a warning, and the
    /// report is incomplete (so it never passes a gate as clean).
    pub fn unreadable(&mut self, path: &str, message: &str) {
        self.warn(Some(path), message.to_string());
        let reason = IncompleteReason {
            kind: IncompleteKind::UnreadableFile,
            path: Some(path.to_string()),
            layer: None,
            message: message.to_string(),
        };
        if !self.incomplete.contains(&reason) {
            self.incomplete.push(reason);
        }
    }
}

/// Runs the checks (no DB, no verdict): the findings, packages and warnings.
pub fn collect(opts: &HostOptions) -> Result<Collector, HostError> {
    if opts.endpoint.is_none() && opts.node_root.is_none() {
        return Err(HostError::NothingToCheck(
            "give a runtime API socket (--socket, --docker-host) or a node directory (--node-root)"
                .into(),
        ));
    }
    let mut c = Collector::new(opts.checks.clone());
    if let Some(ep) = &opts.endpoint {
        let client = api::Client::new(ep.clone())?;
        docker::check(&client, opts, &mut c)?;
    }
    if let Some(root) = &opts.node_root {
        kube::check(root, opts, &mut c)?;
    }
    if opts.versions {
        if let Some(path) = &opts.search_path {
            versions::from_path(path, &mut c);
        }
    }
    versions::dedupe(&mut c.packages);
    c.findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| a.check_id.cmp(&b.check_id))
            .then_with(|| a.path.cmp(&b.path))
            .then_with(|| a.resource.cmp(&b.resource))
    });
    Ok(c)
}

/// What to do with the findings: the DB (for version matching), suppression and gate.
#[derive(Debug, Clone, Default)]
pub struct Verdicts {
    /// Vulnerability DB directory; `None` skips version matching (the components are
    /// still listed as packages).
    pub db_dir: Option<PathBuf>,
    /// Warn when the DB is older than this.
    pub max_db_age: Option<std::time::Duration>,
    /// Ignore file and `show_suppressed`.
    pub suppression: Suppression,
    /// Severities, exit code.
    pub gate: Gate,
}

/// Runs the checks, matches the components found against the DB (when given; a DB that
/// is asked for but missing is an error before anything is checked), applies the
/// suppression and computes the verdict, like `Engine::check_config` does for files.
pub fn run(opts: &HostOptions, v: &Verdicts) -> Result<ScanOutcome, HostError> {
    let mut early = Vec::new();
    let db = match &v.db_dir {
        Some(dir) => Some(bulwark_engine::vuln::open_db(
            dir,
            v.max_db_age,
            &mut early,
        )?),
        None => None,
    };
    let c = collect(opts)?;
    let mut report = Report::new(
        ReportTarget {
            name: target_name(opts),
            kind: TargetKind::Directory,
            image: None,
        },
        now_rfc3339(),
    );
    report.misconfigurations = c.findings;
    report.packages = c.packages;
    for p in &mut report.packages {
        p.finalize(None);
    }
    report.warnings = early;
    report.warnings.extend(c.warnings);
    for r in c.incomplete {
        report.mark_incomplete(r);
    }
    if let Some(db) = &db {
        bulwark_engine::vuln::match_report(&mut report, db)?;
    }
    let applied = bulwark_engine::verdict::apply(&mut report, &v.suppression, &v.gate);
    Ok(ScanOutcome {
        report,
        verdict: applied.verdict,
        ignored: applied.ignored,
        vexed: applied.vexed,
        stats: ScanStats::default(),
    })
}

/// `host:` followed by what was checked (`host:unix:///run/podman/podman.sock`,
/// `host:/mnt/node`).
fn target_name(opts: &HostOptions) -> String {
    let mut parts = Vec::new();
    if let Some(e) = &opts.endpoint {
        parts.push(e.display());
    }
    if let Some(r) = &opts.node_root {
        parts.push(r.display().to_string());
    }
    format!("host:{}", parts.join(","))
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
