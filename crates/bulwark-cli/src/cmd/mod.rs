//! One module per subcommand beyond `sbom`.

pub mod admit;
pub mod cache;
pub mod config;
pub mod cosign;
pub mod db;
pub mod host;
pub mod k8s;
pub mod policy;
pub mod push;
pub mod scan;
pub mod sensor;
pub mod server;
pub mod sign;
pub mod worker;
