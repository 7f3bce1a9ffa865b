//! `bulwark policy test POLICY MANIFESTS...`: the admission policy evaluated offline, by
//! the same engine as the webhook (`bulwark-policy`), on Kubernetes manifests
//! (multi-document YAML, `*List` kinds) or AdmissionReview v1 JSON files. Each object is
//! mutated (digest pinning), the patch applied, and the result validated, as the API
//! server would. Exit 0 every object admitted, 1 some denied, 2 an input or the policy
//! could not be read.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use bulwark_policy::deps::{Dependencies, Live, Offline};
use clap::{Args, Subcommand};

/// Arguments of `bulwark policy`.
#[derive(Debug, Args)]
pub struct PolicyArgs {
    #[command(subcommand)]
    command: PolicyCommand,
}

#[derive(Debug, Subcommand)]
enum PolicyCommand {
    /// Evaluate an admission policy on manifests or AdmissionReview files (exit 0 all
    /// admitted, 1 some denied, 2 unreadable input or invalid policy).
    Test(TestArgs),
}

#[derive(Debug, Args)]
struct TestArgs {
    /// The policy file.
    policy: PathBuf,
    /// Manifests (YAML, multi-document) or AdmissionReview JSON files.
    #[arg(required = true)]
    manifests: Vec<PathBuf>,
    /// Output format: table or json.
    #[arg(short, long, default_value = "table")]
    format: String,
    /// Namespace of objects that name none.
    #[arg(short, long, default_value = "default")]
    namespace: String,
    /// Consult no registry and scan nothing: rules that need them decide by their
    /// `onError` direction.
    #[arg(long)]
    offline: bool,
    /// Allow plain-HTTP registries (loopback test registries).
    #[arg(long)]
    insecure: bool,
    /// PEM file of CA certificates to trust for registry TLS.
    #[arg(long, value_name = "FILE")]
    ca_file: Option<PathBuf>,
    /// Vulnerability DB for on-demand scans (vulnerability gates).
    #[arg(long = "db", env = "BULWARK_DB")]
    db: Option<PathBuf>,
}

/// Runs `bulwark policy`.
pub fn run(a: PolicyArgs) -> Result<u8> {
    match a.command {
        PolicyCommand::Test(t) => test(t),
    }
}

fn test(a: TestArgs) -> Result<u8> {
    if !matches!(a.format.as_str(), "table" | "json") {
        bail!("--format {:?}: use table or json", a.format);
    }
    let policy = bulwark_policy::load(&a.policy)?;
    let deps: Box<dyn Dependencies> = if a.offline {
        Box::new(Offline)
    } else {
        let registry = crate::env::registry_config_for(a.insecure, a.ca_file.clone())?;
        let engine = match &a.db {
            None => None,
            Some(db) => {
                let mut cfg = bulwark_engine::EngineConfig::new(crate::env::default_cache_dir());
                cfg.db_dir = Some(db.clone());
                cfg.registry = registry.clone();
                Some(bulwark_engine::Engine::new(cfg).context("starting the scan engine")?)
            }
        };
        Box::new(Live::new(registry, &policy.settings, engine))
    };
    // Read every input first: one unreadable file stops the run (exit 2) before any
    // verdict is printed.
    let mut items = Vec::new();
    for m in &a.manifests {
        items.extend(bulwark_policy::offline::read(m, &a.namespace)?);
    }
    let mut rows = Vec::new();
    let mut denied = 0usize;
    for item in &items {
        let (verdict, decision) = match &item.request {
            Err(why) => ("skipped", serde_json::json!({"skipped": why})),
            Ok(req) => {
                let (d, _) = bulwark_policy::admit(&policy, deps.as_ref(), req);
                if !d.allowed {
                    denied += 1;
                }
                (
                    if d.allowed { "admitted" } else { "denied" },
                    serde_json::to_value(&d).unwrap_or_default(),
                )
            }
        };
        let object = match &item.request {
            Ok(r) => r.display(),
            Err(_) => String::new(),
        };
        rows.push(serde_json::json!({
            "source": item.source,
            "object": object,
            "namespace": item.request.as_ref().map(|r| r.namespace.clone()).unwrap_or_default(),
            "verdict": verdict,
            "decision": decision,
        }));
    }
    if a.format == "json" {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "policy": a.policy.display().to_string(),
                "objects": rows,
                "denied": denied,
            }))?
        );
    } else {
        print_table(&rows);
    }
    Ok(if denied > 0 { 1 } else { 0 })
}

fn print_table(rows: &[serde_json::Value]) {
    let s = |v: &serde_json::Value| v.as_str().unwrap_or("").to_string();
    println!(
        "{:<9} {:<40} {:<16} SOURCE",
        "VERDICT", "OBJECT", "NAMESPACE"
    );
    for r in rows {
        println!(
            "{:<9} {:<40} {:<16} {}",
            s(&r["verdict"]),
            s(&r["object"]),
            s(&r["namespace"]),
            s(&r["source"])
        );
        let d = &r["decision"];
        for reason in d["reasons"].as_array().into_iter().flatten() {
            println!("          deny: {}", s(reason));
        }
        for w in d["warnings"].as_array().into_iter().flatten() {
            println!("          warn: {}", s(w));
        }
        for p in d["patch"].as_array().into_iter().flatten() {
            println!("          patch: {p}");
        }
        if let Some(e) = d["skipped"].as_str() {
            println!("          {e}");
        }
        if let Some(e) = d["exempt"].as_str() {
            println!("          exempt: {e}");
        }
    }
}
