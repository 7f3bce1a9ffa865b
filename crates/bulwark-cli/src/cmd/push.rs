//! `bulwark push SRC DEST`: copy a local image (docker-archive tar, OCI layout or
//! archive) to a registry, keeping its blobs (and, for OCI sources, its manifest digest)
//! as they are.

use anyhow::{Context, Result};
use clap::Args;
use std::path::PathBuf;

/// Arguments of `bulwark push`.
#[derive(Debug, Args)]
pub struct PushArgs {
    /// The local image: a docker-archive tar, an OCI layout directory or OCI archive (as
    /// `bulwark sbom` reads them, transports such as `oci:DIR:TAG` included).
    pub source: String,
    /// Where to: `[docker://]HOST[:PORT]/REPO[:TAG]` (`latest` when no tag; `@sha256:...`
    /// pushes by digest only).
    pub destination: String,
    /// Allow a plain-HTTP registry (loopback test registries).
    #[arg(long)]
    pub insecure: bool,
    /// PEM file of CA certificates to trust for the registry's TLS.
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
    /// Mount blobs from this repository on the same registry instead of uploading them.
    #[arg(long, value_name = "REPO")]
    pub mount_from: Option<String>,
    /// `os/arch[/variant]` to pick from a multi-platform OCI layout.
    #[arg(long)]
    pub platform: Option<String>,
}

/// Runs `bulwark push`; prints the pushed `registry/repo@digest`.
pub fn run(args: PushArgs) -> Result<u8> {
    let dest = bulwark_image::registry::Reference::parse(&args.destination)
        .with_context(|| format!("destination {}", args.destination))?;
    let config = crate::env::registry_config_for(args.insecure, args.ca_file.clone())?;
    let opts = bulwark_image::OpenOptions {
        platform: args.platform.clone(),
        cache_dir: crate::env::default_cache_dir(),
        registry: config.clone(),
        daemon_socket: crate::env::daemon_socket()?,
        cancel: bulwark_image::Cancel::default(),
    };
    let image = match bulwark_image::open(&args.source, &opts)
        .with_context(|| format!("reading {}", args.source))?
    {
        bulwark_image::Target::Image(i) => i,
        _ => anyhow::bail!("{} is not an image", args.source),
    };
    if let Some(d) = &dest.digest {
        let manifest = bulwark_image::registry::copy::manifest_for(&image)?;
        let have = bulwark_image::oci::sha256_digest(&manifest);
        if have != *d {
            anyhow::bail!(
                "{} has manifest digest {have}, not {d}; nothing pushed",
                args.source
            );
        }
    }
    let repo = bulwark_image::registry::Repository::open(&dest, &config)?;
    let tag = if dest.digest.is_some() {
        None
    } else {
        dest.tag.as_deref()
    };
    let report =
        bulwark_image::registry::copy::push_image(&image, &repo, tag, args.mount_from.as_deref())
            .with_context(|| format!("pushing {} to {dest}", args.source))?;
    tracing::info!(
        "{} blobs uploaded, {} already there, {} mounted",
        report.uploaded,
        report.existed,
        report.mounted
    );
    println!("{}@{}", dest.name(), report.manifest.digest);
    Ok(0)
}
