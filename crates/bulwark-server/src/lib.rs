//! `bulwark server`: the image inventory (images, SBOMs de-duplicated per layer, scan
//! results, signatures, where images run), its HTTPS JSON API, API-token authentication,
//! role-based authorization with per-team scoping, and a hash-chained audit log.
//!
//! - [`store`]: SQLite (one file, WAL, `synchronous=FULL`), portable SQL migrations, a
//!   group-committing writer thread and pooled readers;
//! - [`auth`], [`oidc`] and [`authz`]: who is calling (API tokens, OIDC JWTs), and the
//!   one endpoint → roles table;
//! - [`api`]: the axum router and handlers; [`serve`]: TLS listener and graceful shutdown;
//! - [`ingest`]: uploaded reports and SBOMs → store rows;
//! - [`rematch`]: matching stored packages on upload and on each feed delta, events with
//!   rebuild advice; [`webhooks`]: subscriptions and at-least-once signed delivery;
//! - [`jobs`]: server-side pull-and-scan jobs, the workers that run them with the
//!   scanning engine (in `bulwark server` and `bulwark worker`), and the layer-result
//!   cache shared through the store;
//! - [`client`]: the uploader `bulwark scan --server` uses.
//!
//! See docs/server.md.

pub mod api;
pub mod api_jobs;
pub mod api_rematch;
pub mod api_suppress;
pub mod auth;
pub mod authz;
pub mod client;
pub mod error;
pub mod ingest;
pub mod jobs;
pub mod metrics;
pub mod oidc;
pub mod rematch;
pub mod serve;
pub mod store;
pub mod suppress;
pub mod webhooks;

pub use store::{DatabaseUrl, Store, StoreError};

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line (tracing-subscriber's JSON formatter).
    Json,
}

/// Installs the global log subscriber for the server (stderr). `filter` is an
/// `EnvFilter` directive such as `info`.
pub fn init_logging(format: LogFormat, filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("BULWARK_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(filter));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    let _ = match format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder.try_init(),
    };
}
