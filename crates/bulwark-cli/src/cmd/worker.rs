//! `bulwark worker`: runs the server's pull-and-scan jobs in a process of its own, on the
//! server's database (`--database postgres://…`), next to any number of `bulwark server`
//! replicas and other workers; and the job flags `bulwark server` shares for its
//! in-process workers.
//!
//! The worker talks to the database, not to the server's API: it is a server replica
//! without a listener (same store code, same audit chain, claims with `FOR UPDATE SKIP
//! LOCKED`, results stored through the same upload path). See docs/server.md, "Jobs and
//! workers", for why.

use anyhow::{Context, Result};
use bulwark_server::jobs::WorkerConfig;
use bulwark_server::{DatabaseUrl, LogFormat, Store};
use clap::Args;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// How jobs run (shared by `bulwark server` and `bulwark worker`).
#[derive(Debug, Args, Clone)]
pub struct JobFlags {
    /// Concurrent jobs in this process (`bulwark server`: default 1 on SQLite, 0 on
    /// PostgreSQL, where `bulwark worker` processes run them; 0 disables).
    #[arg(long, value_name = "N")]
    pub workers: Option<usize>,
    /// Cache directory of the workers' image pulls (registry blobs; default: the CLI's
    /// cache directory).
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Pull over plain HTTP (loopback test registries only).
    #[arg(long)]
    pub registry_insecure: bool,
    /// PEM file of CA certificates trusted for registries' TLS (instead of the built-in
    /// roots). Registry credentials come from the Docker config (`DOCKER_CONFIG`) or
    /// `BULWARK_REGISTRY_USERNAME`/`_PASSWORD`, as for `bulwark scan`.
    #[arg(long, value_name = "FILE")]
    pub registry_ca_file: Option<PathBuf>,
    /// A registry jobs may pull from: `HOST[:PORT]`, or `*.DOMAIN` for any host below
    /// DOMAIN (repeatable; `docker.io` for Docker Hub). Without one, any registry the
    /// worker can reach: a job's image is the caller's choice, so set this (or narrow
    /// the workers' egress) where callers are not fully trusted.
    #[arg(long = "job-registry", value_name = "HOST")]
    pub job_registries: Vec<String>,
    /// Seconds a claimed job is leased for; renewed every third of it while the job
    /// runs. A worker killed mid-job loses its job to another after this long.
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub job_lease: u64,
    /// Longest one job may run.
    #[arg(long, value_name = "DURATION", default_value = "30m")]
    pub job_timeout: String,
    /// How often (milliseconds) an idle worker looks for a due job.
    #[arg(long, value_name = "MS", default_value_t = 1000)]
    pub job_poll_ms: u64,
}

impl JobFlags {
    /// The worker configuration, with `workers` loops.
    pub fn config(&self, workers: usize, vulndb: Option<PathBuf>) -> Result<WorkerConfig> {
        let mut engine = bulwark_engine::EngineConfig::new(
            self.cache_dir
                .clone()
                .unwrap_or_else(crate::env::default_cache_dir),
        );
        engine.registry =
            crate::env::registry_config_for(self.registry_insecure, self.registry_ca_file.clone())?;
        // Layer results live in the store only (shared by every worker); the cache
        // directory keeps the pulled blobs and their verified stamps.
        engine.layer_cache = false;
        let mut cfg = WorkerConfig::new(engine);
        cfg.workers = workers;
        cfg.vulndb = vulndb;
        cfg.registries = self.job_registries.clone();
        if self.job_lease == 0 {
            anyhow::bail!("--job-lease: at least 1 second");
        }
        cfg.lease = Duration::from_secs(self.job_lease);
        cfg.poll = Duration::from_millis(self.job_poll_ms.max(10));
        cfg.job_timeout = bulwark_core::duration::parse(&self.job_timeout, None)
            .map_err(|e| anyhow::anyhow!("--job-timeout: {e}"))?;
        Ok(cfg)
    }
}

/// Arguments of `bulwark worker`.
#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// The store: `postgres://USER@HOST:PORT/DB` (or `sqlite:PATH` on the server's
    /// machine; `bulwark server` runs workers itself there).
    #[arg(long, env = "BULWARK_DATABASE")]
    database: String,
    /// Vulnerability DB directory results are matched against (default: the CLI's DB
    /// cache directory).
    #[arg(long, env = "BULWARK_DB", value_name = "DIR")]
    db: Option<PathBuf>,
    /// Log format: text or json.
    #[arg(long, default_value = "text")]
    log_format: String,
    #[command(flatten)]
    jobs: JobFlags,
}

/// Runs `bulwark worker` until SIGTERM/SIGINT.
pub fn run(args: WorkerArgs, verbose: u8) -> Result<u8> {
    let format = match args.log_format.as_str() {
        "json" => LogFormat::Json,
        "text" => LogFormat::Text,
        other => anyhow::bail!("--log-format {other:?}: expected text or json"),
    };
    bulwark_server::init_logging(format, if verbose > 0 { "debug" } else { "info" });
    let vulndb = args.db.clone().or_else(crate::env::default_db_dir);
    if vulndb.is_none() {
        tracing::warn!("no vulnerability DB directory (set --db): results are stored unmatched");
    }
    let cfg = args.jobs.config(args.jobs.workers.unwrap_or(1), vulndb)?;
    if cfg.workers == 0 {
        anyhow::bail!("--workers 0: a worker process with no workers has nothing to do");
    }
    let url: DatabaseUrl = args.database.parse()?;
    let store =
        Store::open(&url).with_context(|| format!("opening the store {}", url.redacted()))?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("bulwark-worker")
        .build()
        .context("starting the async runtime")?;
    rt.block_on(async move {
        let metrics = Arc::new(bulwark_server::metrics::Metrics::default());
        let wake = Arc::new(tokio::sync::Notify::new());
        let workers = bulwark_server::jobs::spawn(store.clone(), cfg, metrics, wake)
            .context("starting the scan engine")?;
        tracing::info!(database = %store.describe(), workers = workers.len(), "bulwark worker running");
        bulwark_server::serve::shutdown_signal().await;
        workers.stop();
        anyhow::Ok(())
    })?;
    // Dropping the runtime waits for the cancelled scans to return.
    drop(rt);
    tracing::info!("stopped");
    Ok(0)
}
