//! `bulwark`: the command-line program. Thin on purpose: it parses arguments and the
//! environment, calls the engine, prints, and maps outcomes to exit codes (0 fine, the
//! `--exit-code` of a failing gate, 2 usage or input error).

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

mod cmd;
mod engine;

/// mimalloc instead of the system allocator: per-thread free lists make the many small,
/// short-lived allocations of a JSON request (the webhook, the server) several times
/// cheaper than glibc's malloc, which profiling showed at ~20% of the webhook's CPU.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
mod env;
mod output;

/// bulwark: container security from build to run.
#[derive(Debug, Parser)]
#[command(name = "bulwark", version, about, long_about = None)]
struct Cli {
    /// More log output (-v info, -vv debug, -vvv trace). Logs go to stderr.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    /// Only errors on stderr.
    #[arg(short, long, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// List everything inside an image, root filesystem, directory or SBOM as an SBOM.
    Sbom(SbomArgs),
    /// Scan a target for vulnerabilities (and secrets, misconfigurations with --scanners).
    Scan(cmd::scan::ScanArgs),
    /// Check Dockerfiles, Kubernetes manifests and Compose files for misconfigurations.
    Config(cmd::config::ConfigArgs),
    /// Check the container host: CIS Docker runtime checks, kubelet and control plane, outdated runtimes.
    Host(Box<cmd::host::HostArgs>),
    /// Manage the vulnerability database (import, update, export, info).
    Db(cmd::db::DbArgs),
    /// Manage signing keys (generate).
    Key(cmd::sign::KeyArgs),
    /// Verify a Sigstore bundle over a file or a sha256 digest (exit 0 verified, 1 not).
    VerifyBlob(cmd::sign::VerifyBlobArgs),
    /// Copy a local image (docker-archive, OCI layout or archive) to a registry.
    Push(cmd::push::PushArgs),
    /// Sign an image in a registry or OCI layout (cosign formats: .sig tag and bundle referrer).
    Sign(cmd::cosign::SignArgs),
    /// Verify an image's signatures (exit 0 one verified, 1 none, 2 unreadable), or
    /// with --integrity re-hash its blobs.
    Verify(cmd::cosign::VerifyArgs),
    /// Attach a signed in-toto attestation (SBOM, provenance, vulnerabilities, ...) to an image.
    Attest(cmd::cosign::AttestArgs),
    /// Verify an image's attestations, optionally against a Rego policy.
    VerifyAttestation(cmd::cosign::VerifyAttestationArgs),
    /// Show or prune the caches (registry blobs, daemon exports, layer results).
    Cache(cmd::cache::CacheArgs),
    /// Cluster-wide analysis: RBAC escalation paths, NetworkPolicy connectivity, scan.
    K8s(cmd::k8s::K8sArgs),
    /// Run the inventory server (HTTPS API), or manage its API tokens offline.
    Server(cmd::server::ServerArgs),
    /// Verify or export the server's hash-chained audit log.
    Audit(cmd::server::AuditArgs),
    /// Test admission policies offline on manifests or AdmissionReview files.
    Policy(cmd::policy::PolicyArgs),
    /// The Kubernetes admission webhook (serve, manifests).
    Admit(cmd::admit::AdmitArgs),
    /// The eBPF runtime sensor: alert on (or kill) container breakouts; `rules check`.
    Sensor(cmd::sensor::SensorArgs),
    /// Run the server's pull-and-scan jobs on its database (beside `bulwark server`).
    Worker(cmd::worker::WorkerArgs),
}

/// Options shared by every command that reads a target.
#[derive(Debug, Args)]
pub struct TargetArgs {
    /// What to read: a path (auto-detected: docker-archive tar, OCI layout dir, OCI
    /// archive tar, directory, file, SBOM) or `docker-archive:`, `oci:`, `oci-archive:`,
    /// `dir:`, `docker://` (registry), `docker-daemon:`, `sbom:` transports.
    pub target: String,
    /// Platform to pick from a multi-platform image (`linux/arm64`).
    #[arg(long)]
    pub platform: Option<String>,
    /// Allow plain-HTTP registries (loopback test registries).
    #[arg(long)]
    pub insecure: bool,
    /// PEM file of CA certificates to trust for registry TLS (instead of the built-in
    /// roots).
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
    /// Cache directory for downloaded blobs and spooled files.
    #[arg(long, env = "BULWARK_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Largest decompressed size accepted for one layer, in bytes (decompression-bomb
    /// guard).
    #[arg(long, default_value_t = 64 << 30)]
    pub max_layer_size: u64,
    /// Give up after this long (`90s`, `5m`): the run fails with exit 2 and no result.
    #[arg(long)]
    pub timeout: Option<String>,
    /// Accept a single file that no cataloger recognises (a warning instead of exit 2).
    #[arg(long)]
    pub allow_unknown: bool,
    /// Neither read nor write the layer-result cache (every layer is analysed again).
    #[arg(long)]
    pub no_cache: bool,
}

#[derive(Debug, Args)]
struct SbomArgs {
    #[command(flatten)]
    target: TargetArgs,
    /// Output format: cyclonedx, spdx, json or table.
    #[arg(short, long, default_value = "cyclonedx")]
    format: String,
    /// Write to this file instead of standard output.
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Also attach the SBOM to the image as a signed attestation (registry images and
    /// OCI layouts only; cyclonedx or spdx format). Needs --key.
    #[arg(long, requires = "key")]
    attest: bool,
    /// Private key for --attest (path, `file://PATH` or `env://NAME`).
    #[arg(long)]
    key: Option<String>,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let own_logging = match &cli.command {
        Command::Server(a) => cmd::server::own_logging(a),
        Command::Worker(_) => true,
        _ => false,
    };
    if !own_logging {
        init_logging(cli.verbose, cli.quiet);
    }
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {}", render_error(&e));
            ExitCode::from(2)
        }
    }
}

/// An error and its causes on one line, each cause named once, control characters
/// escaped.
///
/// Library errors name their path and often embed their source's text (`x: No such
/// file`), while anyhow's `{:#}` prints every cause again; and a CLI context (`reading x`)
/// would repeat the path the error starts with. A cause already contained in the line is
/// dropped, and a cause starting with `P: ` right after a context ending in `P` loses
/// that prefix.
fn render_error(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let msg = cause.to_string();
        if out.is_empty() {
            out = msg;
            continue;
        }
        if msg.is_empty() || out.contains(&msg) {
            continue;
        }
        let msg = match msg.split_once(": ") {
            Some((head, rest)) if !head.is_empty() && out.ends_with(head) => rest.to_string(),
            _ => msg,
        };
        out.push_str(": ");
        out.push_str(&msg);
    }
    bulwark_core::text::terminal_safe(&out).into_owned()
}

fn init_logging(verbose: u8, quiet: bool) {
    let level = if quiet {
        "error"
    } else {
        match verbose {
            0 => "warn",
            1 => "info",
            2 => "debug",
            _ => "trace",
        }
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("BULWARK_LOG")
        // The webhook's decisions and reloads are always logged (one line each).
        .unwrap_or_else(|_| {
            tracing_subscriber::EnvFilter::new(format!("{level},bulwark_admit=info"))
        });
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour only on a terminal, and never with NO_COLOR set, as for table output.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()) && !env::no_color())
        .with_target(false)
        .try_init();
}

fn run(cli: Cli) -> Result<u8> {
    match cli.command {
        Command::Sbom(args) => {
            let format: bulwark_report::Format = args
                .format
                .parse()
                .map_err(|e| anyhow::anyhow!("--format {}: {e}", args.format))?;
            if args.attest {
                cmd::cosign::check_attachable(&args.target.target)?;
            }
            let engine = engine::build(&args.target, None)?;
            let cancel = engine::cancel(&args.target)?;
            let report = engine
                .sbom(&engine::target(&args.target), &cancel)
                .with_context(|| format!("reading {}", args.target.target))?
                .report;
            output::print_report_problems(&report);
            write_output(args.output.as_deref(), |w| {
                bulwark_report::write(&report, format, w).map_err(anyhow::Error::from)
            })?;
            if let (true, Some(key)) = (args.attest, &args.key) {
                let kind = match format {
                    bulwark_report::Format::CycloneDx => "cyclonedx",
                    bulwark_report::Format::Spdx => "spdx",
                    _ => anyhow::bail!("--attest attaches a cyclonedx or spdx SBOM; use --format cyclonedx or spdx"),
                };
                let mut buf = Vec::new();
                bulwark_report::write(&report, format, &mut buf)?;
                let predicate: serde_json::Value =
                    serde_json::from_slice(&buf).context("the SBOM is not JSON")?;
                cmd::cosign::attach(
                    &args.target,
                    key,
                    &cmd::cosign::predicate_type(kind, None)?,
                    predicate,
                    report
                        .target
                        .image
                        .as_ref()
                        .and_then(|i| i.manifest_digest.as_deref()),
                )?;
            }
            Ok(0)
        }
        Command::Scan(args) => cmd::scan::run(args),
        Command::Config(args) => cmd::config::run(args),
        Command::Host(args) => cmd::host::run(*args),
        Command::Db(args) => cmd::db::run(args),
        Command::Key(args) => cmd::sign::run_key(args),
        Command::VerifyBlob(args) => cmd::sign::run_verify_blob(args),
        Command::Push(args) => cmd::push::run(args),
        Command::Sign(args) => cmd::cosign::run_sign(args),
        Command::Verify(args) => cmd::cosign::run_verify(args),
        Command::Attest(args) => cmd::cosign::run_attest(args),
        Command::VerifyAttestation(args) => cmd::cosign::run_verify_attestation(args),
        Command::Cache(args) => cmd::cache::run(args),
        Command::K8s(args) => cmd::k8s::run(args),
        Command::Server(args) => cmd::server::run(args, cli.verbose),
        Command::Audit(args) => cmd::server::run_audit(args),
        Command::Policy(args) => cmd::policy::run(args),
        Command::Admit(args) => cmd::admit::run(args),
        Command::Sensor(args) => cmd::sensor::run(args),
        Command::Worker(args) => cmd::worker::run(args, cli.verbose),
    }
}

/// Writes to a file atomically (temp file + rename, so a failed run never leaves half a
/// report), or to stdout.
///
/// Only a regular file (or a new path) is replaced that way. A device, FIFO or symlink
/// already at the path is written through in place: renaming over `-o /dev/null` would
/// put a regular file where the null device was, for every process on the machine.
pub(crate) fn write_output(
    path: Option<&std::path::Path>,
    f: impl FnOnce(&mut dyn Write) -> Result<()>,
) -> Result<()> {
    match path {
        Some(p) if std::fs::symlink_metadata(p).is_ok_and(|m| !m.file_type().is_file()) => {
            let file = std::fs::OpenOptions::new()
                .write(true)
                .truncate(std::fs::metadata(p).is_ok_and(|m| m.is_file()))
                .open(p)
                .with_context(|| format!("opening {}", p.display()))?;
            let mut w = std::io::BufWriter::new(file);
            f(&mut w)?;
            w.flush()
                .with_context(|| format!("writing {}", p.display()))
        }
        Some(p) => {
            let dir = p
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .unwrap_or(std::path::Path::new("."));
            let mut tmp = tempfile::NamedTempFile::new_in(dir)
                .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
            {
                let mut w = std::io::BufWriter::new(tmp.as_file_mut());
                f(&mut w)?;
                w.flush()
                    .with_context(|| format!("writing {}", p.display()))?;
            }
            tmp.persist(p)
                .with_context(|| format!("writing {}", p.display()))?;
            Ok(())
        }
        None => {
            let stdout = std::io::stdout();
            let mut w = std::io::BufWriter::new(stdout.lock());
            f(&mut w)?;
            match w.flush() {
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
                r => r.context("writing to standard output"),
            }
        }
    }
}
