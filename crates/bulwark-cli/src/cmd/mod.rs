//! One module per subcommand beyond `sbom`.

pub mod cache;
pub mod config;
pub mod cosign;
pub mod db;
pub mod k8s;
pub mod push;
pub mod scan;
pub mod server;
pub mod sign;
