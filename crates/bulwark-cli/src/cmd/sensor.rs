//! `bulwark sensor`: the eBPF runtime sensor (bulwark-sensor) — watch processes (all,
//! or containers only), evaluate the rules, write alerts as JSON lines, and kill or
//! pause where the rules say so; with `--server`, also record alerts there and report
//! the containers running on this node as placements (bulwark_sensor::placements);
//! `bulwark sensor rules check FILE...` validates rules files. Exit 0 after a clean stop, 2 when the sensor cannot start (the message names
//! what is missing). `rules check`: 0 valid, 1 invalid rules, 2 unreadable file.

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use bulwark_sensor::output::Sink;
use bulwark_sensor::rules::{
    read_rules_file, LoadError, RuleSet, DEFAULT_RULES, DEFAULT_RULES_NAME,
};
use clap::{Args, Subcommand};

/// Arguments of `bulwark sensor`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct SensorArgs {
    #[command(subcommand)]
    command: Option<SensorCommand>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Debug, Subcommand)]
enum SensorCommand {
    /// Rules files: check them.
    Rules(RulesArgs),
}

#[derive(Debug, Args)]
struct RulesArgs {
    #[command(subcommand)]
    command: RulesCommand,
}

#[derive(Debug, Subcommand)]
enum RulesCommand {
    /// Validate rules files (loaded after the shipped defaults, as the sensor would);
    /// errors name the file, line and field. Exit 0 valid, 1 invalid, 2 unreadable.
    Check(CheckArgs),
    /// Print the shipped default rules.
    Defaults,
}

#[derive(Debug, Args)]
struct CheckArgs {
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Check the files alone, without the shipped defaults.
    #[arg(long)]
    no_default_rules: bool,
}

#[derive(Debug, Args)]
struct RunArgs {
    /// Rules file, loaded after the shipped defaults (may override or append to them);
    /// repeat for several.
    #[arg(long = "rules", value_name = "FILE")]
    rules: Vec<PathBuf>,
    /// Do not load the shipped default rules.
    #[arg(long)]
    no_default_rules: bool,
    /// Write alerts (JSON lines) to FILE instead of stdout (appended).
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Record what kill and pause would do, without doing it.
    #[arg(long)]
    dry_run: bool,
    /// Watch container processes only (host processes are dropped in the kernel).
    #[arg(long)]
    containers_only: bool,
    /// On a kernel built without module support (no init_module/finit_module
    /// tracepoints, no /proc/modules), still watch module-load attempts, which can only
    /// fail there, on raw_syscalls:sys_enter: a BPF program run on every syscall of
    /// every process (~60 ns each here).
    #[arg(long)]
    module_attempts: bool,
    /// Stop after this many seconds (default: run until SIGINT/SIGTERM).
    #[arg(long, value_name = "SECONDS")]
    duration: Option<f64>,
    /// Docker-compatible API socket for container metadata and pause (default: the
    /// first of /run/podman/podman.sock, /var/run/docker.sock that exists).
    #[arg(long, value_name = "PATH", env = "BULWARK_API_SOCKET")]
    api_socket: Option<PathBuf>,
    /// Ring buffer size in MiB (a power of two).
    #[arg(long, default_value_t = 16)]
    ringbuf_mib: u32,
    /// Write run statistics (events, drops, alerts, kill latencies) as JSON to FILE at exit.
    #[arg(long, value_name = "FILE")]
    stats: Option<PathBuf>,
    /// Create FILE once the BPF programs are attached (for scripts and tests).
    #[arg(long, value_name = "FILE")]
    ready_file: Option<PathBuf>,
    /// Learned profiles: one JSON file per image in DIR (created when missing), loaded
    /// at start (a malformed one is refused), written when a learning window closes and
    /// at exit. After the window, anything new raises an "Anomaly: ..." alert.
    #[arg(long, value_name = "DIR")]
    profiles: Option<PathBuf>,
    /// Learning window per image, from the image's first event (`90s`, `10m`, `1h`;
    /// a bare number is seconds).
    #[arg(
        long,
        value_name = "DURATION",
        default_value = "10m",
        requires = "profiles"
    )]
    learn: String,
    /// Write observed outbound connections, aggregated, to FILE in the flow format
    /// `bulwark k8s netpol suggest` reads (every 10 s when changed, and at exit).
    #[arg(long, value_name = "FILE")]
    flows: Option<PathBuf>,
    /// Also send alerts to syslog (RFC 5424 over the Unix datagram socket
    /// --syslog-socket).
    #[arg(long)]
    syslog: bool,
    /// The syslog socket.
    #[arg(
        long,
        value_name = "PATH",
        default_value = "/dev/log",
        requires = "syslog"
    )]
    syslog_socket: PathBuf,
    /// The syslog facility: kern, user, mail, daemon, auth, syslog, authpriv, local0-7.
    #[arg(long, value_name = "NAME", default_value = "auth", requires = "syslog")]
    syslog_facility: String,
    /// Also POST each alert (its JSON line) to URL (http:// or https://), retried with
    /// backoff; a dead receiver makes alerts drop (counted), never the sensor wait.
    #[arg(long, value_name = "URL")]
    webhook: Option<String>,
    /// Trust this PEM CA for the webhook instead of the system roots.
    #[arg(long, value_name = "FILE", requires = "webhook")]
    webhook_ca_file: Option<PathBuf>,
    /// Also record alerts on the bulwark server (`POST /v1/runtime/alerts`, audit
    /// entries `runtime.alert`); https://, or http:// to a loopback address.
    #[arg(long, value_name = "URL", requires = "server_token_file")]
    server: Option<String>,
    /// File holding the server token (role sensor or admin).
    #[arg(long, value_name = "FILE", requires = "server")]
    server_token_file: Option<PathBuf>,
    /// Trust this PEM CA for the server.
    #[arg(long, value_name = "FILE", requires = "server")]
    server_ca_file: Option<PathBuf>,
    /// This node's name in the server's records (alerts and placements; default: the
    /// hostname).
    #[arg(long, value_name = "NAME", requires = "server")]
    node: Option<String>,
    /// This cluster's name in the server's records (placements).
    #[arg(
        long,
        value_name = "NAME",
        default_value = "default",
        requires = "server"
    )]
    cluster: String,
    /// How often the node's running containers are reported as placements (also at
    /// start and soon after a container starts or exits); `30s`, `5m`.
    #[arg(
        long,
        value_name = "DURATION",
        default_value = "60s",
        requires = "server"
    )]
    placements_every: String,
}

/// The bulwark server as an alert output: one `POST /v1/runtime/alerts` per alert.
struct ServerOutput {
    client: bulwark_server::client::ServerClient,
    node: String,
}

impl bulwark_sensor::outputs::Deliver for ServerOutput {
    fn deliver(
        &mut self,
        line: &str,
        _a: &bulwark_sensor::output::Alert,
    ) -> std::result::Result<(), String> {
        let v: serde_json::Value = serde_json::from_str(line).map_err(|e| e.to_string())?;
        self.client
            .record_runtime_alerts(&self.node, &[v])
            .map(|_| ())
            .map_err(|e| format!("{e:#}"))
    }
}

/// The server, its client and this node's name (with `--server`).
struct ServerLink {
    client: bulwark_server::client::ServerClient,
    node: String,
    cluster: String,
}

fn server_link(a: &RunArgs) -> Result<Option<ServerLink>> {
    let (Some(url), Some(tf)) = (&a.server, &a.server_token_file) else {
        return Ok(None);
    };
    let token = std::fs::read_to_string(tf)
        .with_context(|| format!("reading the server token {}", tf.display()))?;
    let token = token.trim();
    if token.is_empty() {
        anyhow::bail!("the server token file {} is empty", tf.display());
    }
    let client = bulwark_server::client::ServerClient::new(
        url,
        token,
        a.server_ca_file.as_deref(),
        Duration::from_secs(10),
    )?;
    let node = match &a.node {
        Some(n) => n.trim().to_string(),
        None => std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .ok()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "unknown".into()),
    };
    for (flag, v) in [("--node", &node), ("--cluster", &a.cluster)] {
        if v.is_empty() || v.len() > 253 || v.chars().any(char::is_control) {
            anyhow::bail!("{flag} {v:?}: 1-253 characters without control characters");
        }
    }
    Ok(Some(ServerLink {
        client,
        node,
        cluster: a.cluster.clone(),
    }))
}

/// The bulwark server as the placement reports' receiver.
struct ServerPlacements {
    client: bulwark_server::client::ServerClient,
    cluster: String,
}

impl bulwark_sensor::placements::Report for ServerPlacements {
    fn send(
        &mut self,
        node: &str,
        placements: &[bulwark_sensor::placements::Placement],
    ) -> std::result::Result<u64, bulwark_sensor::placements::SendError> {
        use bulwark_sensor::placements::SendError;
        use bulwark_server::client::ClientError;
        let items: Vec<bulwark_server::store::inventory::Placement> = placements
            .iter()
            .map(|p| bulwark_server::store::inventory::Placement {
                namespace: p.namespace.clone(),
                workload_kind: p.workload_kind.clone(),
                workload: p.workload.clone(),
                container: p.container.clone(),
                node: String::new(),
                image_digest: p.image_digest.clone(),
                image_ref: p.image_ref.clone(),
            })
            .collect();
        self.client
            .put_placements_as(Some("sensor"), &self.cluster, Some(node), true, &items)
            .map_err(|e| match e {
                ClientError::Refused { status, .. } if status < 500 && status != 429 => {
                    SendError::Refused(format!("{:#}", anyhow::Error::from(e)))
                }
                e => SendError::Retry(format!("{:#}", anyhow::Error::from(e))),
            })
    }
}

fn outputs(a: &RunArgs, sink: &mut Sink, server: Option<&ServerLink>) -> Result<()> {
    use bulwark_sensor::outputs::{AsyncOutput, Syslog, Webhook, FACILITIES};
    if a.syslog {
        let facility = FACILITIES
            .iter()
            .find(|(n, _)| *n == a.syslog_facility)
            .map(|(_, f)| *f)
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "--syslog-facility {:?}: not one of {}",
                    a.syslog_facility,
                    FACILITIES
                        .iter()
                        .map(|(n, _)| *n)
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })?;
        // A socket that is not there at start is a configuration error, not a
        // receiver that is briefly down.
        std::os::unix::net::UnixDatagram::unbound()
            .and_then(|u| u.connect(&a.syslog_socket))
            .with_context(|| {
                format!(
                    "--syslog: connecting to the syslog socket {}",
                    a.syslog_socket.display()
                )
            })?;
        sink.add(AsyncOutput::start(
            "syslog",
            Box::new(Syslog::new(&a.syslog_socket, facility)),
        ));
    }
    if let Some(url) = &a.webhook {
        let w = Webhook::new(url, a.webhook_ca_file.as_deref())?;
        sink.add(AsyncOutput::start("webhook", Box::new(w)));
    }
    if let Some(link) = server {
        sink.add(AsyncOutput::start(
            "server",
            Box::new(ServerOutput {
                client: link.client.clone(),
                node: link.node.clone(),
            }),
        ));
    }
    Ok(())
}

/// Runs `bulwark sensor`.
pub fn run(a: SensorArgs) -> Result<u8> {
    match a.command {
        Some(SensorCommand::Rules(r)) => match r.command {
            RulesCommand::Check(c) => check(c),
            RulesCommand::Defaults => {
                print!("{DEFAULT_RULES}");
                Ok(0)
            }
        },
        None => run_sensor(a.run),
    }
}

fn load_rules(files: &[PathBuf], no_defaults: bool) -> Result<RuleSet, LoadError> {
    let mut sources = Vec::new();
    if !no_defaults {
        sources.push((DEFAULT_RULES_NAME.to_string(), DEFAULT_RULES.to_string()));
    }
    for f in files {
        sources.push((f.display().to_string(), read_rules_file(f)?));
    }
    RuleSet::from_sources(&sources)
}

fn check(c: CheckArgs) -> Result<u8> {
    match load_rules(&c.files, c.no_default_rules) {
        Ok(set) => {
            for w in &set.warnings {
                eprintln!("warning: {w}");
            }
            let ours = set
                .rules
                .iter()
                .filter(|r| r.file != DEFAULT_RULES_NAME)
                .count();
            println!(
                "rules OK: {} rules enabled ({} from {})",
                set.rules.len(),
                ours,
                c.files
                    .iter()
                    .map(|f| f.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            Ok(0)
        }
        Err(LoadError::Invalid(errs)) => {
            for e in &errs {
                eprintln!("{e}");
            }
            eprintln!("{} error(s): rules refused", errs.len());
            Ok(1)
        }
        Err(e @ LoadError::Read { .. }) => Err(e.into()),
    }
}

fn default_socket() -> Option<PathBuf> {
    ["/run/podman/podman.sock", "/var/run/docker.sock"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

fn run_sensor(a: RunArgs) -> Result<u8> {
    let rules = load_rules(&a.rules, a.no_default_rules).context("loading the rules")?;
    for w in &rules.warnings {
        tracing::warn!("{w}");
    }
    if !a.ringbuf_mib.is_power_of_two() || a.ringbuf_mib > 1024 {
        anyhow::bail!(
            "--ringbuf-mib {} must be a power of two up to 1024",
            a.ringbuf_mib
        );
    }
    let out: Box<dyn Write + Send> = match &a.output {
        Some(p) => Box::new(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .with_context(|| format!("opening the alert output {}", p.display()))?,
        ),
        None => Box::new(std::io::stdout()),
    };
    let duration = match a.duration {
        Some(d) if !(d.is_finite() && d > 0.0) => {
            anyhow::bail!("--duration must be a positive number of seconds")
        }
        Some(d) => Some(Duration::from_secs_f64(d)),
        None => None,
    };
    let api_socket = a.api_socket.clone().or_else(default_socket);
    if api_socket.is_none() {
        tracing::warn!(
            "no container API socket found: alerts will carry container ids but no image metadata"
        );
        if a.profiles.is_some() || a.flows.is_some() {
            tracing::warn!(
                "--profiles and --flows need container metadata (image, labels): without an API socket nothing is learned or exported"
            );
        }
    }
    let profiles = match &a.profiles {
        Some(dir) => {
            let learn =
                bulwark_core::duration::parse(&a.learn, Some(bulwark_core::duration::Unit::Secs))
                    .map_err(|e| anyhow::anyhow!("--learn {:?}: {e}", a.learn))?;
            if learn.is_zero() {
                anyhow::bail!("--learn must be longer than zero");
            }
            Some(bulwark_sensor::profile::Profiles::load(dir, learn)?)
        }
        None => None,
    };
    let flows = a
        .flows
        .clone()
        .map(bulwark_sensor::flows::FlowRecorder::new);
    let every = bulwark_core::duration::parse(
        &a.placements_every,
        Some(bulwark_core::duration::Unit::Secs),
    )
    .map_err(|e| anyhow::anyhow!("--placements-every {:?}: {e}", a.placements_every))?;
    if every < Duration::from_secs(1) {
        anyhow::bail!("--placements-every must be at least 1s");
    }
    let server = server_link(&a)?;
    let mut sink = Sink::new(out);
    outputs(&a, &mut sink, server.as_ref())?;
    let placements = match (&server, &api_socket) {
        (Some(link), Some(sock)) => {
            let r = bulwark_sensor::placements::Reporter::start(
                bulwark_sensor::podman::Client::new(sock),
                Box::new(ServerPlacements {
                    client: link.client.clone(),
                    cluster: link.cluster.clone(),
                }),
                link.node.clone(),
                every,
            )
            .context("starting the placement reporter")?;
            Some(r)
        }
        (Some(_), None) => {
            tracing::warn!("no container API socket: this node's containers are not reported to the server as placements");
            None
        }
        _ => None,
    };
    let ready = a.ready_file.clone();
    let cfg = bulwark_sensor::Config {
        rules,
        sink,
        dry_run: a.dry_run,
        containers_only: a.containers_only,
        duration,
        api_socket,
        ringbuf_bytes: a.ringbuf_mib << 20,
        stop: Arc::new(AtomicBool::new(false)),
        on_ready: Some(Box::new(move || {
            if let Some(p) = ready {
                if let Err(e) = std::fs::write(&p, b"ready\n") {
                    tracing::error!(path = %p.display(), error = %e, "writing the ready file failed");
                }
            }
        })),
        profiles,
        flows,
        module_attempts: a.module_attempts,
        container_changes: placements.as_ref().map(|r| r.nudger()),
    };
    let stats = bulwark_sensor::run(cfg)?;
    let mut lat = stats.kill_latency_us.clone();
    lat.sort_unstable();
    let lat_txt = if lat.is_empty() {
        String::new()
    } else {
        format!(
            ", kill latency p50 {} us max {} us",
            lat[lat.len() / 2],
            lat[lat.len() - 1]
        )
    };
    let mut extra = String::new();
    if a.profiles.is_some() {
        extra.push_str(&format!(
            ", {} anomalies, {} profile writes",
            stats.anomalies, stats.profile_writes
        ));
    }
    if a.flows.is_some() {
        extra.push_str(&format!(", {} flows", stats.flows));
    }
    if let Some(r) = &placements {
        use std::sync::atomic::Ordering::Relaxed;
        let c = r.counters();
        extra.push_str(&format!(
            ", placement reports {} (last {} placed, {} without a repo digest, {} failed reads, {} failed sends, {} refused)",
            c.reports.load(Relaxed),
            c.placed.load(Relaxed),
            c.no_digest.load(Relaxed),
            c.list_errors.load(Relaxed),
            c.send_errors.load(Relaxed),
            c.refused.load(Relaxed),
        ));
    }
    if !stats.output_drops.is_empty() {
        let d: Vec<String> = stats
            .output_drops
            .iter()
            .map(|(name, n)| format!("{name} {n}"))
            .collect();
        extra.push_str(&format!(", alerts dropped by output: {}", d.join(", ")));
    }
    eprintln!(
        "bulwark sensor: {} events in {:.1} s, {} dropped, {} alerts, {} kills ({} in kernel){}{}",
        stats.events,
        stats.seconds,
        stats.drops,
        stats.alerts,
        stats.kills,
        stats.kernel_kills,
        lat_txt,
        extra
    );
    if let Some(p) = &a.stats {
        std::fs::write(p, serde_json::to_vec_pretty(&stats)?)
            .with_context(|| format!("writing the statistics to {}", p.display()))?;
    }
    Ok(0)
}
