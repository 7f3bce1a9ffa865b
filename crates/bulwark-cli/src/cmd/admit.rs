//! `bulwark admit serve` (the admission webhook of `bulwark-admit`) and `bulwark admit
//! manifests` (the objects that install it).

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};

/// Arguments of `bulwark admit`.
#[derive(Debug, Args)]
pub struct AdmitArgs {
    #[command(subcommand)]
    command: AdmitCommand,
}

#[derive(Debug, Subcommand)]
enum AdmitCommand {
    /// Serve AdmissionReview v1 over HTTPS: /validate and /mutate.
    Serve(Box<ServeArgs>),
    /// Print the webhook configurations, Deployment, Service and PodDisruptionBudget.
    Manifests(ManifestArgs),
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// The policy file (re-read when it changes; a bad new policy keeps the last good one).
    #[arg(long)]
    policy: PathBuf,
    /// PEM certificate chain (re-read when it changes).
    #[arg(long)]
    cert: PathBuf,
    /// PEM private key (re-read when it changes).
    #[arg(long)]
    key: PathBuf,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8443")]
    listen: SocketAddr,
    /// Serve Prometheus metrics at GET /metrics over plain HTTP on this address (off
    /// unless given; e.g. 0.0.0.0:9090 in a pod).
    #[arg(long, value_name = "ADDR")]
    metrics_listen: Option<SocketAddr>,
    /// Overall budget of one decision in milliseconds (keep it under the webhook's
    /// timeoutSeconds); past it the request is denied.
    #[arg(long, default_value_t = 8000)]
    deadline_ms: u64,
    /// Largest request body in bytes.
    #[arg(long, default_value_t = bulwark_admit::DEFAULT_MAX_BODY)]
    max_body: usize,
    /// Allow plain-HTTP registries (loopback test registries).
    #[arg(long)]
    insecure: bool,
    /// PEM file of CA certificates to trust for registry TLS.
    #[arg(long, value_name = "FILE")]
    ca_file: Option<PathBuf>,
    /// Vulnerability DB for on-demand scans (vulnerability gates).
    #[arg(long = "db", env = "BULWARK_DB")]
    db: Option<PathBuf>,
    /// Cache directory for on-demand scans.
    #[arg(long, env = "BULWARK_CACHE_DIR")]
    cache_dir: Option<PathBuf>,
    /// A bulwark server (`https://host:8443`): vulnerability gates read its inventory
    /// first (the on-demand scan with --db is the fallback), every decision goes to its
    /// audit log, and the placements of admitted pods and the signature verifications
    /// that ran go to its inventory. Needs a token with the admission role.
    #[arg(long, value_name = "URL")]
    server: Option<String>,
    /// Environment variable holding the server's API token.
    #[arg(long, value_name = "VAR", default_value = "BULWARK_SERVER_TOKEN")]
    server_token_env: String,
    /// Read the server's API token from this file instead (first line; a mounted Secret).
    #[arg(long, value_name = "FILE")]
    server_token_file: Option<PathBuf>,
    /// CA certificates (PEM) to trust for the server's TLS.
    #[arg(long, value_name = "FILE")]
    server_ca_file: Option<PathBuf>,
    /// This cluster's name in the server's records.
    #[arg(long, default_value = "default")]
    cluster: String,
}

#[derive(Debug, Args)]
struct ManifestArgs {
    /// Namespace the webhook runs in.
    #[arg(long, default_value = "bulwark-system")]
    namespace: String,
    /// Container image of bulwark.
    #[arg(long, default_value = "ghcr.io/bulwark/bulwark:latest")]
    image: String,
    /// Base64 PEM of the CA that signed the serving certificate.
    #[arg(long, default_value = "")]
    ca_bundle: String,
    /// Replicas.
    #[arg(long, default_value_t = 2)]
    replicas: u32,
    /// timeoutSeconds of the webhooks (1–30).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=30))]
    timeout_seconds: u32,
    /// Serve metrics on this container port (--metrics-listen=0.0.0.0:PORT), with a
    /// `metrics` container port and prometheus.io scrape annotations on the pod.
    #[arg(long, value_name = "PORT", value_parser = clap::value_parser!(u16).range(1..))]
    metrics_port: Option<u16>,
}

/// Runs `bulwark admit`.
pub fn run(a: AdmitArgs) -> Result<u8> {
    match a.command {
        AdmitCommand::Serve(s) => serve(*s),
        AdmitCommand::Manifests(m) => {
            print!(
                "{}",
                bulwark_admit::manifests::render(&bulwark_admit::manifests::Options {
                    namespace: m.namespace,
                    image: m.image,
                    ca_bundle: m.ca_bundle,
                    replicas: m.replicas,
                    timeout_seconds: m.timeout_seconds,
                    metrics_port: m.metrics_port,
                    ..Default::default()
                })
            );
            Ok(0)
        }
    }
}

fn serve(s: ServeArgs) -> Result<u8> {
    let registry = crate::env::registry_config_for(s.insecure, s.ca_file.clone())?;
    let engine = match &s.db {
        None => None,
        Some(db) => {
            let mut cfg = bulwark_engine::EngineConfig::new(
                s.cache_dir
                    .clone()
                    .unwrap_or_else(crate::env::default_cache_dir),
            );
            cfg.db_dir = Some(db.clone());
            cfg.registry = registry.clone();
            Some(bulwark_engine::Engine::new(cfg).context("starting the scan engine")?)
        }
    };
    let mut cfg = bulwark_admit::Config::new(s.policy, s.cert, s.key);
    cfg.listen = s.listen;
    cfg.metrics_listen = s.metrics_listen;
    cfg.registry = registry;
    cfg.engine = engine;
    cfg.max_body = s.max_body;
    cfg.deadline = std::time::Duration::from_millis(s.deadline_ms.max(1));
    if let Some(url) = &s.server {
        let token = crate::cmd::server::read_server_token(
            s.server_token_file.as_deref(),
            &s.server_token_env,
        )?;
        let client = bulwark_server::client::ServerClient::new(
            url,
            &token,
            s.server_ca_file.as_deref(),
            std::time::Duration::from_secs(10),
        )
        .with_context(|| format!("--server {url}"))?;
        cfg.server = Some(bulwark_admit::inventory::ServerLink {
            client,
            cluster: s.cluster.clone(),
        });
    }
    bulwark_admit::run_blocking(cfg)?;
    Ok(0)
}
