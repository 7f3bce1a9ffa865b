//! `bulwark server` (run the inventory server; `server token create|list|revoke` work
//! offline against its store), `bulwark audit verify|export`, and the upload step of
//! `bulwark scan --server`.

use anyhow::{Context, Result};
use bulwark_server::serve::{Bound, ServerConfig, Transport};
use bulwark_server::store::{audit, tokens};
use bulwark_server::{DatabaseUrl, LogFormat, Store};
use clap::{Args, Subcommand};
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Arguments of `bulwark server`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct ServerArgs {
    #[command(subcommand)]
    command: Option<ServerCommand>,
    #[command(flatten)]
    run: Box<RunFlags>,
}

#[derive(Debug, Args)]
struct RunFlags {
    /// The store: `sqlite:PATH` (created if absent) or `postgres://USER@HOST:PORT/DB`.
    #[arg(long, env = "BULWARK_DATABASE", required = true)]
    database: Option<String>,
    /// TLS certificate chain (PEM).
    #[arg(long, value_name = "FILE", required_unless_present = "insecure_http")]
    cert: Option<PathBuf>,
    /// TLS private key (PEM).
    #[arg(long, value_name = "FILE", required_unless_present = "insecure_http")]
    key: Option<PathBuf>,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8443")]
    listen: SocketAddr,
    /// Serve plain HTTP (loopback addresses only; for tests).
    #[arg(long, conflicts_with_all = ["cert", "key"])]
    insecure_http: bool,
    /// Largest SBOM or report upload, in bytes.
    #[arg(long, default_value_t = bulwark_server::api::DEFAULT_MAX_UPLOAD)]
    max_upload: usize,
    /// Log format: text or json.
    #[arg(long, default_value = "text")]
    log_format: String,
    /// Seconds in-flight requests get to finish after SIGTERM/SIGINT.
    #[arg(long, default_value_t = 30)]
    shutdown_grace: u64,
    /// Accept OIDC JWT bearer tokens from this issuer (exact `iss`).
    #[arg(long, value_name = "URL", requires_all = ["oidc_audience", "oidc_jwks"])]
    oidc_issuer: Option<String>,
    /// Accepted `aud` (repeatable; required with --oidc-issuer).
    #[arg(long = "oidc-audience", value_name = "AUD")]
    oidc_audience: Vec<String>,
    /// The issuer's keys: a JWKS file, or an https:// URL (its jwks_uri).
    #[arg(long, value_name = "FILE|URL")]
    oidc_jwks: Option<String>,
    /// Accepted signature algorithms (HMAC and `none` are always refused).
    #[arg(long, value_name = "LIST", default_value = "RS256,ES256")]
    oidc_algorithms: String,
    /// The claim naming the caller's bulwark role (no claim: refused).
    #[arg(long, value_name = "CLAIM", default_value = "bulwark_role")]
    oidc_role_claim: String,
    /// The claim naming the caller's team or teams.
    #[arg(long, value_name = "CLAIM", default_value = "bulwark_teams")]
    oidc_teams_claim: String,
    /// CA certificates (PEM) trusted, instead of the built-in web roots, when fetching
    /// an https:// JWKS.
    #[arg(long, value_name = "FILE")]
    oidc_jwks_ca: Option<PathBuf>,
    /// Accept client certificates (mTLS) signed by this CA (PEM): CN is the caller, the
    /// first OU its role, each O a team.
    #[arg(long, value_name = "FILE")]
    client_ca: Option<PathBuf>,
    /// Refuse connections without a client certificate (needs --client-ca).
    #[arg(long, requires = "client_ca")]
    require_client_cert: bool,
    /// Vulnerability DB directory uploads are matched against and whose new generations
    /// are re-matched (default: the CLI's DB cache directory, as `bulwark scan` uses).
    #[arg(long, env = "BULWARK_DB", value_name = "DIR")]
    db: Option<PathBuf>,
    /// How often (milliseconds) the DB's `current` pointer is read for a new generation.
    #[arg(long, default_value_t = 2000)]
    db_poll_ms: u64,
    #[command(flatten)]
    jobs: crate::cmd::worker::JobFlags,
}

#[derive(Debug, Subcommand)]
enum ServerCommand {
    /// Manage API tokens directly in the store (works while the server is down: use it
    /// to create the first admin token).
    #[command(subcommand)]
    Token(TokenCommand),
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Create a token and print it once on standard output.
    Create {
        /// The store: `sqlite:PATH` or `postgres://USER@HOST:PORT/DB`.
        #[arg(long, env = "BULWARK_DATABASE")]
        database: String,
        /// admin, security, developer, ci-uploader, auditor, sensor or admission.
        #[arg(long)]
        role: String,
        /// Team (repeatable); developer tokens need at least one.
        #[arg(long = "team")]
        teams: Vec<String>,
        /// Lifetime (`30d`, `12h`); default: never expires.
        #[arg(long)]
        expires: Option<String>,
        /// A name to recognise it by.
        #[arg(long)]
        name: Option<String>,
    },
    /// List tokens (ids, roles, teams, expiry; never secrets) as JSON lines.
    List {
        /// The store: `sqlite:PATH` or `postgres://USER@HOST:PORT/DB`.
        #[arg(long, env = "BULWARK_DATABASE")]
        database: String,
    },
    /// Revoke a token by id (the 16 hex digits after `bwk_`).
    Revoke {
        /// The store: `sqlite:PATH` or `postgres://USER@HOST:PORT/DB`.
        #[arg(long, env = "BULWARK_DATABASE")]
        database: String,
        /// Token id.
        id: String,
    },
}

/// Arguments of `bulwark audit`.
#[derive(Debug, Args)]
pub struct AuditArgs {
    #[command(subcommand)]
    command: AuditCommand,
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Check the hash chain (exit 0 intact, 1 broken, 2 unreadable).
    Verify {
        /// The store: `sqlite:PATH` or `postgres://USER@HOST:PORT/DB`.
        #[arg(long, env = "BULWARK_DATABASE")]
        database: String,
        /// A head recorded earlier (`SEQ:HASH`, as printed by verify) that must still be
        /// in the chain: finds entries removed from the end.
        #[arg(long)]
        head: Option<String>,
    },
    /// Write every entry as JSON lines.
    Export {
        /// The store: `sqlite:PATH` or `postgres://USER@HOST:PORT/DB`.
        #[arg(long, env = "BULWARK_DATABASE")]
        database: String,
        /// Write here instead of standard output.
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
}

fn open(database: &str) -> Result<Store> {
    let url: DatabaseUrl = database.parse()?;
    Store::open(&url).with_context(|| format!("opening the store {}", url.redacted()))
}

/// Whether the command sets up its own logging (the server's JSON logs).
pub fn own_logging(args: &ServerArgs) -> bool {
    args.command.is_none()
}

/// Runs `bulwark server`.
pub fn run(args: ServerArgs, verbose: u8) -> Result<u8> {
    match args.command {
        Some(ServerCommand::Token(t)) => run_token(t),
        None => run_server(*args.run, verbose),
    }
}

fn run_server(f: RunFlags, verbose: u8) -> Result<u8> {
    let format = match f.log_format.as_str() {
        "json" => LogFormat::Json,
        "text" => LogFormat::Text,
        other => anyhow::bail!("--log-format {other:?}: expected text or json"),
    };
    bulwark_server::init_logging(format, if verbose > 0 { "debug" } else { "info" });
    let database = f.database.context("--database is required")?;
    let transport = match (f.insecure_http, f.cert, f.key) {
        (true, _, _) => Transport::InsecureHttp,
        (false, Some(cert), Some(key)) => Transport::Tls { cert, key },
        _ => anyhow::bail!("--cert and --key are required (or --insecure-http on loopback)"),
    };
    let vulndb = match &f.db {
        Some(d) => {
            // An explicit --db must be a DB (or a directory one will be imported into).
            if d.exists() && !d.is_dir() {
                anyhow::bail!("--db {}: not a directory", d.display());
            }
            Some(d.clone())
        }
        None => crate::env::default_db_dir(),
    };
    match &vulndb {
        Some(d)
            if bulwark_vulndb::current_generation(d)
                .ok()
                .flatten()
                .is_none() =>
        {
            tracing::warn!(db = %d.display(), "no vulnerability DB there yet: uploads are stored unmatched until one appears (bulwark db update/import, or POST /v1/vulndb/osv), then matched")
        }
        None => tracing::warn!(
            "no vulnerability DB directory (set --db): matching and re-match are off"
        ),
        _ => {}
    }
    let config = ServerConfig {
        max_upload: f.max_upload,
        grace: Duration::from_secs(f.shutdown_grace),
        mtls: f
            .client_ca
            .clone()
            .map(|ca| bulwark_server::serve::MtlsConfig {
                ca,
                required: f.require_client_cert,
            }),
        oidc: match &f.oidc_issuer {
            None => None,
            Some(issuer) => Some(bulwark_server::oidc::OidcConfig {
                issuer: issuer.clone(),
                audiences: f.oidc_audience.clone(),
                jwks: bulwark_server::oidc::JwksSource::parse(
                    f.oidc_jwks.as_deref().unwrap_or_default(),
                )?,
                algorithms: bulwark_server::oidc::OidcConfig::parse_algorithms(&f.oidc_algorithms)?,
                role_claim: f.oidc_role_claim.clone(),
                teams_claim: f.oidc_teams_claim.clone(),
                jwks_ca: f.oidc_jwks_ca.clone(),
                refresh_min: bulwark_server::oidc::REFRESH_MIN,
            }),
        },
        vulndb,
        vulndb_poll: Duration::from_millis(f.db_poll_ms.max(50)),
        ..ServerConfig::new(f.listen, transport)
    };
    let store = open(&database)?;
    // In-process job workers: on by default with SQLite (one machine), off with
    // PostgreSQL (run `bulwark worker` processes beside the replicas).
    let default_workers = match store.dialect() {
        bulwark_server::store::Dialect::Sqlite => 1,
        bulwark_server::store::Dialect::Postgres => 0,
    };
    let workers = f.jobs.workers.unwrap_or(default_workers);
    let config = ServerConfig {
        jobs: (workers > 0)
            .then(|| f.jobs.config(workers, config.vulndb.clone()))
            .transpose()?,
        ..config
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("bulwark-server")
        .build()
        .context("starting the async runtime")?;
    rt.block_on(async move {
        let bound = Bound::bind(config).await?;
        let addr = bound.local_addr();
        tracing::info!(
            listen = %addr.map(|a| a.to_string()).unwrap_or_default(),
            database = %store.describe(),
            "bulwark server listening"
        );
        bound
            .run(store, bulwark_server::serve::shutdown_signal())
            .await;
        anyhow::Ok(())
    })?;
    // The store (and its writer thread) was dropped with the server: everything
    // acknowledged is committed.
    tracing::info!("stopped");
    Ok(0)
}

fn run_token(t: TokenCommand) -> Result<u8> {
    match t {
        TokenCommand::Create {
            database,
            role,
            teams,
            expires,
            name,
        } => {
            let store = open(&database)?;
            let name = name.unwrap_or_else(|| format!("{role} token"));
            let new =
                bulwark_server::api::make_token(&name, &role, teams, expires.as_deref(), "cli")
                    .map_err(|e| anyhow::anyhow!("{}", e.message))?;
            let row = new.row.clone();
            store
                .write_blocking(move |c| {
                    bulwark_server::api::insert_token(c, &row, ("cli", "admin"))
                })
                .context("storing the token")?;
            eprintln!(
                "created token {} (role {}{}{}); it is shown once, below:",
                new.row.id,
                new.row.role,
                if new.row.teams.is_empty() {
                    String::new()
                } else {
                    format!(", teams {}", new.row.teams.join(","))
                },
                match new.row.expires_at {
                    Some(e) => format!(", expires {}", bulwark_server::store::rfc3339(e)),
                    None => String::new(),
                }
            );
            println!("{}", new.token);
            Ok(0)
        }
        TokenCommand::List { database } => {
            let store = open(&database)?;
            let rows = store.read_blocking(tokens::list)?;
            let mut out = std::io::stdout().lock();
            for r in rows {
                let line = serde_json::to_string(&bulwark_server::api::TokenOut::from(r))?;
                writeln!(out, "{line}")?;
            }
            Ok(0)
        }
        TokenCommand::Revoke { database, id } => {
            let store = open(&database)?;
            let rid = id.clone();
            let found = store.write_blocking(move |c| {
                let now = bulwark_server::store::now_ms();
                if !tokens::revoke(c, &rid, now)? {
                    return Ok(false);
                }
                audit::append(
                    c,
                    audit::NewEntry {
                        actor: "cli".into(),
                        role: "admin".into(),
                        action: "token.revoke".into(),
                        resource: rid,
                        decision: "done".into(),
                        detail: "{}".into(),
                    },
                    now,
                )?;
                Ok(true)
            })?;
            if !found {
                anyhow::bail!("no token with id {id:?}");
            }
            eprintln!("revoked token {id}");
            Ok(0)
        }
    }
}

/// Runs `bulwark audit`.
pub fn run_audit(args: AuditArgs) -> Result<u8> {
    match args.command {
        AuditCommand::Verify { database, head } => {
            let expect = match &head {
                None => None,
                Some(h) => {
                    let (s, hash) = h
                        .split_once(':')
                        .context("--head: expected SEQ:HASH (as printed by audit verify)")?;
                    let s: i64 = s.parse().context("--head: SEQ is not a number")?;
                    Some((s, hash.to_string()))
                }
            };
            let store = open(&database)?;
            let v = store.read_blocking(move |c| {
                audit::verify(c, expect.as_ref().map(|(s, h)| (*s, h.as_str())))
            })?;
            for b in &v.breaks {
                println!("entry {}: {}", b.seq, b.problem);
            }
            if v.ok() {
                println!(
                    "audit log intact: {} entries, head {}:{}",
                    v.entries, v.head_seq, v.head_hash
                );
                Ok(0)
            } else {
                println!(
                    "audit log BROKEN: {} problem(s) in {} entries",
                    v.breaks.len(),
                    v.entries
                );
                Ok(1)
            }
        }
        AuditCommand::Export { database, output } => {
            let store = open(&database)?;
            crate::write_output(output.as_deref(), |w| {
                store.read_blocking(|c| {
                    audit::for_each(c, |e| {
                        let line = serde_json::to_string(e)
                            .map_err(|x| bulwark_server::StoreError::Corrupt(x.to_string()))?;
                        writeln!(w, "{line}")
                            .map_err(|x| bulwark_server::StoreError::Task(format!("writing: {x}")))
                    })
                })?;
                Ok(())
            })?;
            Ok(0)
        }
    }
}

/// Where and how `bulwark scan --server` uploads its report, and `bulwark verify` /
/// `verify-attestation --server` report what they checked.
#[derive(Debug, Args)]
pub struct UploadArgs {
    /// Send the result to this bulwark server (`https://host:8443`): `scan` uploads its
    /// JSON report, `verify` and `verify-attestation` the signatures they checked.
    #[arg(long, value_name = "URL")]
    pub server: Option<String>,
    /// Environment variable holding the server's API token (never a flag value, which
    /// would land in shell history and process lists).
    #[arg(long, value_name = "VAR", default_value = "BULWARK_SERVER_TOKEN")]
    pub server_token_env: String,
    /// Read the API token from this file instead (first line).
    #[arg(long, value_name = "FILE")]
    pub server_token_file: Option<PathBuf>,
    /// CA certificates (PEM) to trust for the server's TLS (default: --ca-file, else
    /// the built-in roots).
    #[arg(long, value_name = "FILE")]
    pub server_ca_file: Option<PathBuf>,
}

fn read_token(args: &UploadArgs) -> Result<String> {
    read_server_token(args.server_token_file.as_deref(), &args.server_token_env)
}

/// The server API token from a file (first line) or else an environment variable.
pub fn read_server_token(file: Option<&std::path::Path>, env: &str) -> Result<String> {
    let token = match file {
        Some(p) => {
            let meta =
                std::fs::metadata(p).with_context(|| format!("token file {}", p.display()))?;
            if meta.len() > 4096 {
                anyhow::bail!("token file {}: larger than 4096 bytes", p.display());
            }
            let s = std::fs::read_to_string(p)
                .with_context(|| format!("token file {}", p.display()))?;
            s.lines().next().unwrap_or("").trim().to_string()
        }
        None => std::env::var(env)
            .map(|s| s.trim().to_string())
            .unwrap_or_default(),
    };
    if token.is_empty() {
        anyhow::bail!("--server needs an API token: set ${env} or pass --server-token-file");
    }
    Ok(token)
}

/// Checks the upload settings before a scan starts (so a missing token fails fast).
pub fn prepare_upload(args: &UploadArgs) -> Result<Option<String>> {
    match &args.server {
        None => Ok(None),
        Some(_) => read_token(args).map(Some),
    }
}

/// Uploads the report; prints what was stored on stderr.
pub fn upload(
    args: &UploadArgs,
    token: &str,
    fallback_ca: Option<&std::path::Path>,
    report: &bulwark_core::Report,
) -> Result<()> {
    let Some(server) = &args.server else {
        return Ok(());
    };
    let mut buf = Vec::new();
    bulwark_report::write(report, bulwark_report::Format::Json, &mut buf)?;
    let ca = args.server_ca_file.as_deref().or(fallback_ca);
    let stored = bulwark_server::client::upload_report(server, token, ca, &buf)
        .with_context(|| format!("uploading the report to {server}"))?;
    eprintln!(
        "uploaded to {server}: image {}, {} packages, {} findings, scan {}",
        stored.digest,
        stored.packages,
        stored.findings.unwrap_or(0),
        stored.scan_id
    );
    Ok(())
}
