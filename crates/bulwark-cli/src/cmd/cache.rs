//! `bulwark cache`: what the cache directory holds (registry blobs, daemon exports, layer
//! results), and pruning it by age and size.

use anyhow::Result;
use bulwark_engine::cache::{self, PrunePolicy};
use clap::{Args, Subcommand};
use std::path::PathBuf;

/// Arguments of `bulwark cache`.
#[derive(Debug, Args)]
pub struct CacheArgs {
    /// Cache directory (default: `BULWARK_CACHE_DIR`, else the user cache).
    #[arg(long, env = "BULWARK_CACHE_DIR", global = true)]
    cache_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: CacheCommand,
}

#[derive(Debug, Subcommand)]
enum CacheCommand {
    /// Show where each cache is, its size and its entry count.
    Info {
        /// Output format: table or json.
        #[arg(short, long, default_value = "table")]
        format: String,
    },
    /// Remove entries not used for `--max-age`, then the least recently used ones until
    /// the caches fit in `--max-size`; or everything with `--all`. Safe while scans run.
    Prune {
        /// Total size to shrink to (`500M`, `2G`, `1GiB`, bytes).
        #[arg(long, value_name = "SIZE")]
        max_size: Option<String>,
        /// Remove entries unused for longer than this (`7d`, `12h`, `30m`).
        #[arg(long, value_name = "DURATION")]
        max_age: Option<String>,
        /// Remove every entry.
        #[arg(long, conflicts_with_all = ["max_size", "max_age"])]
        all: bool,
    },
}

/// Parses a size: a number with an optional unit (`K`, `M`, `G`, `T`, with or without
/// `B`/`iB`; powers of 1024).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("invalid size {s:?} (expected e.g. 500M, 2G, 1048576)"))?;
    let shift = match unit.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 0,
        "K" | "KB" | "KIB" => 10,
        "M" | "MB" | "MIB" => 20,
        "G" | "GB" | "GIB" => 30,
        "T" | "TB" | "TIB" => 40,
        _ => return Err(format!("invalid size unit in {s:?} (use K, M, G or T)")),
    };
    n.checked_mul(1u64 << shift)
        .ok_or_else(|| format!("size {s:?} is too large"))
}

fn human(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", UNITS.get(u).copied().unwrap_or("B"))
    }
}

/// Runs `bulwark cache`.
pub fn run(args: CacheArgs) -> Result<u8> {
    let root = args
        .cache_dir
        .clone()
        .unwrap_or_else(crate::env::default_cache_dir);
    match args.command {
        CacheCommand::Info { format } => {
            let info = cache::info(&root);
            crate::write_output(None, |w| match format.as_str() {
                "json" => {
                    let kinds: Vec<serde_json::Value> = info
                        .iter()
                        .map(|k| {
                            serde_json::json!({
                                "kind": k.kind.name(),
                                "dir": k.dir.display().to_string(),
                                "entries": k.entries,
                                "bytes": k.bytes,
                            })
                        })
                        .collect();
                    let v = serde_json::json!({
                        "cache_dir": root.display().to_string(),
                        "total_bytes": info.iter().map(|k| k.bytes).sum::<u64>(),
                        "kinds": kinds,
                    });
                    serde_json::to_writer_pretty(&mut *w, &v)?;
                    writeln!(w)?;
                    Ok(())
                }
                "table" => {
                    writeln!(w, "Cache directory: {}", root.display())?;
                    for k in &info {
                        writeln!(
                            w,
                            "  {:<15} {:>8} entries {:>12}  {}",
                            k.kind.name(),
                            k.entries,
                            human(k.bytes),
                            k.dir.display()
                        )?;
                    }
                    let total: u64 = info.iter().map(|k| k.bytes).sum();
                    writeln!(
                        w,
                        "  {:<15} {:>8}         {:>12}",
                        "total",
                        "",
                        human(total)
                    )?;
                    Ok(())
                }
                other => anyhow::bail!("--format {other}: expected table or json"),
            })?;
            Ok(0)
        }
        CacheCommand::Prune {
            max_size,
            max_age,
            all,
        } => {
            if max_size.is_none() && max_age.is_none() && !all {
                anyhow::bail!("cache prune: give --max-size, --max-age or --all");
            }
            let policy = PrunePolicy {
                max_size: max_size
                    .as_deref()
                    .map(parse_size)
                    .transpose()
                    .map_err(|e| anyhow::anyhow!("--max-size: {e}"))?,
                max_age: max_age
                    .as_deref()
                    .map(bulwark_engine::vuln::parse_duration)
                    .transpose()
                    .map_err(|e| anyhow::anyhow!("--max-age: {e}"))?,
                all,
            };
            let out = cache::prune(&root, &policy);
            for e in &out.failures {
                tracing::warn!(
                    "cache prune: {}",
                    bulwark_core::text::terminal_safe(&e.to_string())
                );
            }
            eprintln!(
                "removed {} file(s), {} freed; {} left in {}",
                out.removed_files,
                human(out.removed_bytes),
                human(out.kept_bytes),
                root.display()
            );
            if out.failures.is_empty() {
                Ok(0)
            } else {
                eprintln!(
                    "error: {} file(s) could not be removed (listed above)",
                    out.failures.len()
                );
                Ok(2)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1048576"), Ok(1 << 20));
        assert_eq!(parse_size("500M"), Ok(500 << 20));
        assert_eq!(parse_size("2GiB"), Ok(2 << 30));
        assert_eq!(parse_size("3kb"), Ok(3 << 10));
        assert!(parse_size("2X").is_err());
        assert!(parse_size("G").is_err());
        assert!(parse_size("99999999999T").is_err());
    }
}
