//! `bulwark db`: build, refresh, inspect and move the vulnerability database.
//!
//! Every subcommand writes a new DB generation and swaps it in atomically (the store's
//! job), so scans running at the same time keep reading the generation they opened.

use anyhow::{Context, Result};
use bulwark_vulndb::update::{update, UpdateMode, UpdateOptions};
use bulwark_vulndb::{ImportOptions, VulnDb};
use clap::{Args, Subcommand};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;

/// Arguments of `bulwark db`.
#[derive(Debug, Args)]
pub struct DbArgs {
    /// Vulnerability DB directory (default: `BULWARK_DB`, else the user cache).
    #[arg(long = "db", env = "BULWARK_DB", global = true)]
    db: Option<PathBuf>,
    #[command(subcommand)]
    command: DbCommand,
}

#[derive(Debug, Subcommand)]
enum DbCommand {
    /// Import OSV records (JSON/YAML files, directories, zips) or one export file.
    Import {
        /// Files, directories or zips of OSV records, or one `bulwark db export` file.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Replace the DB's records instead of merging into them.
        #[arg(long)]
        replace: bool,
    },
    /// Download new and changed records from osv.dev (or a mirror of its layout).
    Update {
        /// Base URL of the mirror.
        #[arg(long, default_value = bulwark_vulndb::update::DEFAULT_MIRROR)]
        mirror: String,
        /// Ecosystems to update, comma-separated (`PyPI,Debian`); default: all.
        #[arg(long, value_delimiter = ',')]
        ecosystems: Vec<String>,
    },
    /// Write the DB as one file that `bulwark db import` reads on another machine.
    Export {
        /// The file to write.
        file: PathBuf,
    },
    /// Show sources, record counts per ecosystem, last update and enrichment counts.
    Info {
        /// Output format: table or json.
        #[arg(short, long, default_value = "table")]
        format: String,
    },
    /// Import the CISA Known Exploited Vulnerabilities catalog (JSON file or URL).
    ImportKev {
        /// File path or http(s) URL.
        source: String,
    },
    /// Import FIRST EPSS scores (CSV, optionally gzipped; file path or URL).
    ImportEpss {
        /// File path or http(s) URL.
        source: String,
    },
}

fn db_dir(explicit: Option<PathBuf>) -> Result<PathBuf> {
    crate::env::db_dir(explicit.as_deref())
}

/// Runs `bulwark db`; returns the exit code.
pub fn run(args: DbArgs) -> Result<u8> {
    let dir = db_dir(args.db)?;
    match args.command {
        DbCommand::Import { paths, replace } => {
            let opts = ImportOptions {
                replace,
                ..ImportOptions::default()
            };
            let stats = bulwark_vulndb::import_paths(&dir, &paths, &opts)
                .with_context(|| format!("importing into {}", dir.display()))?;
            for e in &stats.errors {
                tracing::warn!("{e}");
            }
            let per: Vec<String> = stats
                .per_ecosystem
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect();
            eprintln!(
                "imported {} records from {} files ({} skipped, {} withdrawn) into {} (generation {}){}",
                stats.records,
                stats.files,
                stats.skipped,
                stats.withdrawn,
                dir.display(),
                stats.generation,
                if per.is_empty() {
                    String::new()
                } else {
                    format!(": {}", per.join(", "))
                }
            );
            Ok(0)
        }
        DbCommand::Update { mirror, ecosystems } => {
            let opts = UpdateOptions {
                mirror,
                ecosystems,
                progress: std::io::stderr().is_terminal(),
                ..UpdateOptions::default()
            };
            let stats = update(&dir, &opts)
                .with_context(|| format!("updating {} from {}", dir.display(), opts.mirror))?;
            for e in &stats.ecosystems {
                let mode = match e.mode {
                    UpdateMode::Full => "full download",
                    UpdateMode::Incremental => "incremental",
                    UpdateMode::Unchanged => "unchanged",
                };
                eprintln!(
                    "{}: {mode}, {} records stored, {} skipped, {} removed",
                    e.name, e.records, e.skipped, e.removed
                );
            }
            eprintln!(
                "DB {} at generation {} ({} requests)",
                dir.display(),
                stats.generation,
                stats.requests
            );
            Ok(0)
        }
        DbCommand::Export { file } => {
            let m = bulwark_vulndb::export(&dir, &file)
                .with_context(|| format!("exporting {} to {}", dir.display(), file.display()))?;
            eprintln!(
                "exported generation {} ({} bytes) to {}",
                m.generation,
                m.db_size,
                file.display()
            );
            Ok(0)
        }
        DbCommand::Info { format } => {
            let db = VulnDb::open(&dir)?;
            let info = db.info()?;
            let age = db.age().ok();
            crate::write_output(None, |w| match format.as_str() {
                "json" => {
                    let mut v = serde_json::to_value(&info)?;
                    if let (Some(obj), Some(age)) = (v.as_object_mut(), age) {
                        obj.insert("age_seconds".into(), age.as_secs().into());
                    }
                    serde_json::to_writer_pretty(&mut *w, &v)?;
                    writeln!(w)?;
                    Ok(())
                }
                "table" => write_info_table(&info, age, w),
                other => anyhow::bail!("--format {other}: expected table or json"),
            })?;
            Ok(0)
        }
        DbCommand::ImportKev { source } => {
            let s = bulwark_vulndb::enrich::import_kev(&dir, &source)
                .with_context(|| format!("importing KEV from {source}"))?;
            eprintln!(
                "imported {} KEV entries ({} skipped{}), generation {}",
                s.entries,
                s.skipped,
                s.version
                    .map(|v| format!(", catalog {v}"))
                    .unwrap_or_default(),
                s.generation
            );
            Ok(0)
        }
        DbCommand::ImportEpss { source } => {
            let s = bulwark_vulndb::enrich::import_epss(&dir, &source)
                .with_context(|| format!("importing EPSS from {source}"))?;
            eprintln!(
                "imported {} EPSS scores ({} skipped{}), generation {}",
                s.entries,
                s.skipped,
                s.version
                    .map(|v| format!(", model {v}"))
                    .unwrap_or_default(),
                s.generation
            );
            Ok(0)
        }
    }
}

fn write_info_table(
    info: &bulwark_vulndb::DbInfo,
    age: Option<std::time::Duration>,
    w: &mut dyn Write,
) -> Result<()> {
    writeln!(w, "path:        {}", info.path.display())?;
    writeln!(w, "generation:  {}", info.generation)?;
    writeln!(
        w,
        "created:     {}{}",
        info.created,
        age.map(|a| format!(" ({} ago)", bulwark_engine::vuln::human_duration(a)))
            .unwrap_or_default()
    )?;
    writeln!(w, "schema:      {}", info.schema_version)?;
    writeln!(
        w,
        "records:     {} ({} withdrawn)",
        info.records, info.withdrawn
    )?;
    writeln!(w, "KEV entries: {}", info.kev_count)?;
    writeln!(w, "EPSS scores: {}", info.epss_count)?;
    writeln!(w)?;
    let width = info
        .sources
        .iter()
        .map(|s| s.name.len())
        .max()
        .unwrap_or(0)
        .max("ECOSYSTEM".len());
    writeln!(w, "{:<width$}  {:>8}  UPDATED", "ECOSYSTEM", "RECORDS")?;
    for s in &info.sources {
        writeln!(w, "{:<width$}  {:>8}  {}", s.name, s.records, s.updated)?;
    }
    Ok(())
}
