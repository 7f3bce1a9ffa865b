//! `bulwark host`: CIS Docker Benchmark checks of the container runtime (through its
//! Docker-compatible API socket) and the host's runtime files, kubelet and control-plane
//! checks of a node's files (`--node-root`), and the runtimes' versions matched against
//! the vulnerability DB. The findings go through the same filters, writers and exit
//! codes as `bulwark config`; an unreachable socket, an empty `--node-root` or a missing
//! DB exit 2.

use anyhow::{bail, Result};
use bulwark_engine::{Gate, Suppression};
use bulwark_host::{Endpoint, HostOptions, Selection, Verdicts};
use clap::Args;
use std::path::PathBuf;

/// Sockets tried, in order, when no address is given and no `--node-root` either.
const DEFAULT_SOCKETS: &[&str] = &["/var/run/docker.sock", "/run/podman/podman.sock"];

/// Arguments of `bulwark host`.
#[derive(Debug, Args)]
pub struct HostArgs {
    /// The runtime's API socket (Docker's or podman's).
    #[arg(long, conflicts_with = "docker_host")]
    pub socket: Option<PathBuf>,
    /// The runtime's API address: unix:///PATH or tcp://HOST:PORT (plain HTTP; the
    /// check then reports the unauthenticated TCP endpoint).
    #[arg(long, env = "DOCKER_HOST")]
    pub docker_host: Option<String>,
    /// A Kubernetes node's root directory (`/` on the node): kubelet and control-plane
    /// checks from its files.
    #[arg(long)]
    pub node_root: Option<PathBuf>,
    /// Checks to run: ids, aliases (`CIS-DOCKER-5.5`, `KCV-0001`) or sets (`cis-docker`,
    /// `cis-k8s`, `all`), comma-separated.
    #[arg(long, default_value = "all")]
    pub checks: String,
    /// What to do: misconfig (the checks) and/or vuln (runtime versions against the
    /// vulnerability DB), comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "misconfig,vuln")]
    pub scanners: Vec<String>,
    /// Vulnerability DB directory (needed for the vuln scanner).
    #[arg(long = "db", env = "BULWARK_DB")]
    pub db: Option<PathBuf>,
    /// Warn when the DB is older than this (`7d`, `12h`).
    #[arg(long, default_value = "7d")]
    pub max_db_age: String,
    /// Docker's daemon configuration file.
    #[arg(long, default_value = "/etc/docker/daemon.json")]
    pub daemon_json: PathBuf,
    /// podman's containers.conf (repeatable; later files override earlier ones).
    /// Default: /usr/share/containers/containers.conf, /etc/containers/containers.conf.
    #[arg(long)]
    pub containers_conf: Vec<PathBuf>,
    /// Do not confirm namespace sharing from /proc (when bulwark does not run in the
    /// runtime's host PID namespace).
    #[arg(long)]
    pub no_proc: bool,
    #[command(flatten)]
    pub report: crate::output::CheckReportArgs,
}

/// Runs `bulwark host`; returns the exit code.
pub fn run(args: HostArgs) -> Result<u8> {
    let format = args.report.check_format("host")?;
    let (mut misconfig, mut vuln) = (false, false);
    for s in &args.scanners {
        match s.trim().to_ascii_lowercase().as_str() {
            "misconfig" | "config" => misconfig = true,
            "vuln" | "vulnerability" | "vulnerabilities" => vuln = true,
            "" => {}
            other => bail!("--scanners: unknown scanner {other:?} (expected misconfig, vuln)"),
        }
    }
    if !misconfig && !vuln {
        bail!("--scanners: choose misconfig and/or vuln");
    }
    let checks = if misconfig {
        Selection::parse(&args.checks).map_err(|e| anyhow::anyhow!("--checks: {e}"))?
    } else {
        // Only versions: no check is selected (a name no check has).
        Selection::none()
    };
    let severities = crate::output::severities(&args.report.severity)?;
    let ignore = bulwark_engine::load_ignore(args.report.ignorefile.as_deref())
        .map_err(anyhow::Error::msg)?;
    let max_db_age = bulwark_engine::vuln::parse_duration(&args.max_db_age)
        .map_err(|e| anyhow::anyhow!("--max-db-age: {e}"))?;

    let endpoint = match (&args.socket, &args.docker_host) {
        (Some(s), _) => Some(Endpoint::Unix(s.clone())),
        (None, Some(h)) => Some(Endpoint::parse(h)?),
        (None, None) if args.node_root.is_some() => None,
        (None, None) => match DEFAULT_SOCKETS.iter().find(|p| std::path::Path::new(p).exists()) {
            Some(p) => Some(Endpoint::Unix(PathBuf::from(p))),
            None => bail!(
                "no runtime API socket found (tried {}); give --socket PATH, --docker-host URL or --node-root DIR",
                DEFAULT_SOCKETS.join(", ")
            ),
        },
    };
    if let Some(Endpoint::Unix(p)) = &endpoint {
        if !p.exists() {
            bail!("runtime API socket {}: no such file", p.display());
        }
    }
    let mut opts = HostOptions::new(endpoint, args.node_root.clone());
    opts.checks = checks;
    opts.versions = vuln;
    opts.paths.daemon_json = args.daemon_json.clone();
    if !args.containers_conf.is_empty() {
        opts.paths.containers_conf = args.containers_conf.clone();
    }
    if args.no_proc {
        opts.proc_root = None;
    }
    let db_dir = if vuln {
        Some(crate::env::db_dir(args.db.as_deref())?)
    } else {
        None
    };
    let v = Verdicts {
        db_dir,
        max_db_age: Some(max_db_age),
        suppression: Suppression {
            ignore,
            vex: Vec::new(),
            show_suppressed: args.report.show_suppressed,
        },
        gate: Gate {
            severities,
            exit_code: args.report.exit_code,
            ..Gate::default()
        },
    };
    let outcome = bulwark_host::run(&opts, &v)?;
    crate::output::finish(
        &outcome,
        format,
        args.report.output.as_deref(),
        args.report.show_suppressed,
    )
}
