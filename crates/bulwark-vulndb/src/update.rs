//! Updates from an osv.dev-layout mirror (`<Ecosystem>/all.zip`,
//! `<Ecosystem>/modified_id.csv`, `<Ecosystem>/<ID>.json`, `ecosystems.txt`).
//!
//! The first update of an ecosystem downloads its `all.zip`; later ones read
//! `modified_id.csv` (newest first) down to the last timestamp already processed and
//! fetch only those records, falling back to `all.zip` when the gap is large. All
//! ecosystems of one run land in one new generation: any failure (HTTP error, cut
//! download, corrupt zip or CSV) aborts the run and the current generation stays.

use std::collections::BTreeSet;
use std::fs::{self, File};
use std::io::{IsTerminal, Read, Write};
use std::path::Path;
use std::time::Duration;

use crate::error::{Result, VulnDbError};
use crate::import::{import_docs_into, import_zip_into, ImportOptions};
use crate::store::{ecosystem_base, now_unix, FeedState, Writer};

/// osv.dev's public bucket.
pub const DEFAULT_MIRROR: &str = "https://osv-vulnerabilities.storage.googleapis.com";
/// Largest `modified_id.csv` / `ecosystems.txt` read.
const MAX_INDEX_BYTES: u64 = 512 << 20;

/// What to update and how.
#[derive(Debug, Clone)]
pub struct UpdateOptions {
    /// Base URL of the mirror (no trailing slash needed).
    pub mirror: String,
    /// Ecosystem directories to update (`PyPI`, `Debian`, `Red Hat`); empty = every
    /// line of the mirror's `ecosystems.txt`.
    pub ecosystems: Vec<String>,
    /// Show a progress bar (only when stderr is a terminal).
    pub progress: bool,
    /// More modified records than this → download `all.zip` instead.
    pub max_incremental: usize,
    /// Largest `all.zip` downloaded.
    pub max_zip_bytes: u64,
    /// Connect timeout and per-read timeout of HTTP requests.
    pub timeout: Duration,
    /// Limits for the records themselves.
    pub import: ImportOptions,
}

impl Default for UpdateOptions {
    fn default() -> Self {
        UpdateOptions {
            mirror: DEFAULT_MIRROR.to_string(),
            ecosystems: Vec::new(),
            progress: false,
            max_incremental: 5_000,
            max_zip_bytes: 8 << 30,
            timeout: Duration::from_secs(60),
            import: ImportOptions::default(),
        }
    }
}

/// How one ecosystem was brought up to date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateMode {
    /// `all.zip` downloaded and imported.
    Full,
    /// Only modified records fetched.
    Incremental,
    /// Nothing changed on the mirror.
    Unchanged,
}

/// Result for one ecosystem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EcosystemUpdate {
    /// Ecosystem directory name.
    pub name: String,
    /// What was done.
    pub mode: UpdateMode,
    /// Records stored.
    pub records: u64,
    /// Records skipped as malformed.
    pub skipped: u64,
    /// Records removed because the mirror no longer has them.
    pub removed: u64,
}

/// What an update did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateStats {
    /// Per ecosystem.
    pub ecosystems: Vec<EcosystemUpdate>,
    /// HTTP requests made.
    pub requests: u64,
    /// The generation published.
    pub generation: String,
}

/// Percent-encodes one URL path segment (ecosystem names contain spaces).
fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b':' | b'@' | b'+')
        {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_connect(Some(timeout))
        .timeout_per_read(Some(timeout))
        .user_agent(concat!("bulwark/", env!("CARGO_PKG_VERSION")))
        .build()
        .into()
}

fn http_err(url: &str, reason: impl std::fmt::Display) -> VulnDbError {
    VulnDbError::Http {
        url: url.to_string(),
        reason: reason.to_string(),
    }
}

/// Downloads `url` into memory, at most `limit` bytes.
pub fn http_get_bytes(url: &str, limit: u64) -> Result<Vec<u8>> {
    let a = agent(Duration::from_secs(60));
    match get_bytes(&a, url, limit)? {
        Some(b) => Ok(b),
        None => Err(http_err(url, "404 Not Found")),
    }
}

/// GET into memory; `Ok(None)` on 404.
fn get_bytes(a: &ureq::Agent, url: &str, limit: u64) -> Result<Option<Vec<u8>>> {
    let resp = a.get(url).call().map_err(|e| http_err(url, e))?;
    let status = resp.status().as_u16();
    if status == 404 {
        return Ok(None);
    }
    if status != 200 {
        return Err(http_err(url, format!("HTTP status {status}")));
    }
    let mut buf = Vec::new();
    resp.into_body()
        .into_with_config()
        .limit(limit.saturating_add(1))
        .reader()
        .take(limit.saturating_add(1))
        .read_to_end(&mut buf)
        .map_err(|e| http_err(url, format!("reading the body: {e}")))?;
    if buf.len() as u64 > limit {
        return Err(VulnDbError::TooLarge {
            path: url.to_string(),
            limit,
        });
    }
    Ok(Some(buf))
}

/// Outcome of a conditional download to a file.
enum Download {
    NotModified,
    Done {
        etag: Option<String>,
        last_modified: Option<String>,
    },
}

/// Streams `url` into `dest`, bounded, with an optional progress bar.
fn download_to(
    a: &ureq::Agent,
    url: &str,
    dest: &Path,
    limit: u64,
    prev: Option<&FeedState>,
    progress: bool,
) -> Result<Download> {
    let mut req = a.get(url);
    if let Some(etag) = prev.and_then(|p| p.etag.as_deref()) {
        req = req.header("If-None-Match", etag);
    } else if let Some(lm) = prev.and_then(|p| p.last_modified.as_deref()) {
        req = req.header("If-Modified-Since", lm);
    }
    let resp = req.call().map_err(|e| http_err(url, e))?;
    let status = resp.status().as_u16();
    if status == 304 {
        return Ok(Download::NotModified);
    }
    if status != 200 {
        return Err(http_err(url, format!("HTTP status {status}")));
    }
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let etag = header("etag");
    let last_modified = header("last-modified");
    let len = resp.body().content_length();
    if len.is_some_and(|l| l > limit) {
        return Err(VulnDbError::TooLarge {
            path: url.to_string(),
            limit,
        });
    }
    let bar = (progress && std::io::stderr().is_terminal()).then(|| {
        let b = indicatif::ProgressBar::new(len.unwrap_or(0));
        b.set_style(
            indicatif::ProgressStyle::with_template("{msg} {bytes}/{total_bytes} {wide_bar} {eta}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b.set_message(url.to_string());
        b
    });
    let mut out =
        File::create(dest).map_err(|e| crate::store::map_write_err(dest, "creating", e))?;
    let mut reader = resp
        .into_body()
        .into_with_config()
        .limit(limit.saturating_add(1))
        .reader();
    let mut buf = vec![0u8; 256 << 10];
    let mut total: u64 = 0;
    loop {
        let n = reader.read(&mut buf).map_err(|e| {
            http_err(
                url,
                format!("download interrupted after {total} bytes: {e}"),
            )
        })?;
        if n == 0 {
            break;
        }
        total += n as u64;
        if total > limit {
            return Err(VulnDbError::TooLarge {
                path: url.to_string(),
                limit,
            });
        }
        out.write_all(buf.get(..n).unwrap_or_default())
            .map_err(|e| VulnDbError::io("writing", dest, e))?;
        if let Some(b) = &bar {
            b.set_position(total);
        }
    }
    if let Some(l) = len {
        if total != l {
            return Err(http_err(
                url,
                format!("download cut short: {total} of {l} bytes"),
            ));
        }
    }
    out.sync_all()
        .map_err(|e| VulnDbError::io("syncing", dest, e))?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    Ok(Download::Done {
        etag,
        last_modified,
    })
}

/// Parses `modified_id.csv` (`<RFC 3339 time>,<id>`, newest first) down to `cursor`
/// (exclusive). Returns the ids newer than the cursor and the newest time in the file.
fn parse_modified_csv(
    text: &str,
    cursor: Option<&str>,
    url: &str,
) -> Result<(Vec<String>, Option<String>)> {
    let mut ids = Vec::new();
    let mut newest: Option<String> = None;
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let (ts, id) = line.split_once(',').ok_or_else(|| {
            http_err(
                url,
                format!("line {}: expected `<time>,<id>`, found {line:?}", i + 1),
            )
        })?;
        let (ts, id) = (ts.trim(), id.trim());
        if !ts
            .get(..4)
            .is_some_and(|y| y.bytes().all(|b| b.is_ascii_digit()))
            || id.is_empty()
        {
            return Err(http_err(
                url,
                format!("line {}: malformed entry {line:?}", i + 1),
            ));
        }
        if newest.is_none() {
            newest = Some(ts.to_string());
        }
        if cursor.is_some_and(|c| ts <= c) {
            break;
        }
        // The root file prefixes the ecosystem directory; per-ecosystem files do not.
        let id = id.rsplit('/').next().unwrap_or(id);
        ids.push(id.to_string());
    }
    Ok((ids, newest))
}

/// Brings the DB in `db_dir` up to date from an osv.dev-layout mirror.
pub fn update(db_dir: &Path, opts: &UpdateOptions) -> Result<UpdateStats> {
    let mirror = opts.mirror.trim_end_matches('/');
    if !(mirror.starts_with("http://") || mirror.starts_with("https://")) {
        return Err(http_err(
            mirror,
            "the mirror must be an http:// or https:// URL",
        ));
    }
    let a = agent(opts.timeout);
    let mut requests: u64 = 0;
    let ecosystems: Vec<String> = if opts.ecosystems.is_empty() {
        let url = format!("{mirror}/ecosystems.txt");
        requests += 1;
        let bytes =
            get_bytes(&a, &url, MAX_INDEX_BYTES)?.ok_or_else(|| http_err(&url, "404 Not Found"))?;
        String::from_utf8_lossy(&bytes)
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(str::to_string)
            .collect()
    } else {
        opts.ecosystems.clone()
    };

    let mut writer = Writer::begin(db_dir, true, &opts.import.writer)?;
    let mut results = Vec::new();
    for eco in &ecosystems {
        let seg = encode_segment(eco);
        let feed = format!("osv:{eco}");
        let prev = writer.feed_state(&feed)?;
        let csv_url = format!("{mirror}/{seg}/modified_id.csv");
        requests += 1;
        let csv = get_bytes(&a, &csv_url, MAX_INDEX_BYTES)?;
        let csv_text = csv.as_deref().map(String::from_utf8_lossy);
        let cursor = prev.as_ref().and_then(|p| p.cursor.clone());
        let (changed, newest) = match &csv_text {
            Some(t) => parse_modified_csv(t, cursor.as_deref(), &csv_url)?,
            None => (Vec::new(), None),
        };
        let incremental =
            cursor.is_some() && csv_text.is_some() && changed.len() <= opts.max_incremental;
        if incremental {
            let mut docs = Vec::with_capacity(changed.len());
            for id in &changed {
                let url = format!("{mirror}/{seg}/{}.json", encode_segment(id));
                requests += 1;
                let body = get_bytes(&a, &url, opts.import.max_file_bytes)?
                    .ok_or_else(|| http_err(&url, "404 Not Found (listed in modified_id.csv)"))?;
                docs.push((url, body));
            }
            let stats = import_docs_into(&mut writer, docs, &opts.import)?;
            writer.touch(ecosystem_base(eco));
            let st = FeedState {
                cursor: newest.or(cursor),
                updated: now_unix(),
                ..prev.clone().unwrap_or_default()
            };
            writer.set_feed_state(&feed, &st)?;
            results.push(EcosystemUpdate {
                name: eco.clone(),
                mode: if changed.is_empty() {
                    UpdateMode::Unchanged
                } else {
                    UpdateMode::Incremental
                },
                records: stats.records,
                skipped: stats.skipped,
                removed: 0,
            });
            continue;
        }
        let zip_url = format!("{mirror}/{seg}/all.zip");
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        // `tmp-` prefix: a killed run's leftovers are removed by the next writer.
        let dest = db_dir.join(format!("tmp-dl-{}-{nanos}.zip", std::process::id()));
        requests += 1;
        let dl = download_to(
            &a,
            &zip_url,
            &dest,
            opts.max_zip_bytes,
            prev.as_ref(),
            opts.progress,
        );
        let outcome = (|| -> Result<EcosystemUpdate> {
            match dl? {
                Download::NotModified => {
                    let st = FeedState {
                        cursor: newest.clone().or(cursor.clone()),
                        updated: now_unix(),
                        ..prev.clone().unwrap_or_default()
                    };
                    writer.set_feed_state(&feed, &st)?;
                    Ok(EcosystemUpdate {
                        name: eco.clone(),
                        mode: UpdateMode::Unchanged,
                        records: 0,
                        skipped: 0,
                        removed: 0,
                    })
                }
                Download::Done {
                    etag,
                    last_modified,
                } => {
                    let base = ecosystem_base(eco).to_string();
                    let before = writer.ids_in_ecosystem(&base)?;
                    let (stats, ids) = import_zip_into(&mut writer, &dest, &opts.import)?;
                    let mut removed = 0;
                    let gone: BTreeSet<&String> =
                        before.iter().filter(|id| !ids.contains(*id)).collect();
                    for id in gone {
                        writer.delete(id)?;
                        removed += 1;
                    }
                    writer.touch(&base);
                    writer.set_feed_state(
                        &feed,
                        &FeedState {
                            etag,
                            last_modified,
                            cursor: newest.clone(),
                            updated: now_unix(),
                        },
                    )?;
                    Ok(EcosystemUpdate {
                        name: eco.clone(),
                        mode: UpdateMode::Full,
                        records: stats.records,
                        skipped: stats.skipped,
                        removed,
                    })
                }
            }
        })();
        let _ = fs::remove_file(&dest);
        results.push(outcome?);
    }
    let generation = writer.commit()?;
    Ok(UpdateStats {
        ecosystems: results,
        requests,
        generation,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_stops_at_cursor() {
        let t = "2024-03-01T00:00:00Z,PyPI/B\n2024-02-01T00:00:00Z,A\n2024-01-01T00:00:00Z,C\n";
        let (ids, newest) = parse_modified_csv(t, Some("2024-02-01T00:00:00Z"), "u").expect("csv");
        assert_eq!(ids, vec!["B".to_string()]);
        assert_eq!(newest.as_deref(), Some("2024-03-01T00:00:00Z"));
    }

    #[test]
    fn csv_rejects_garbage_with_line() {
        let e = parse_modified_csv("2024-03-01T00:00:00Z,A\ngarbage\n", None, "u").unwrap_err();
        assert!(e.to_string().contains("line 2"), "{e}");
    }

    #[test]
    fn segments_are_encoded() {
        assert_eq!(encode_segment("Red Hat"), "Red%20Hat");
        assert_eq!(encode_segment("ALSA-2022:1234"), "ALSA-2022:1234");
    }
}
