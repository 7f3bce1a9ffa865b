//! Enrichment feeds stored beside the OSV records: CISA's Known Exploited
//! Vulnerabilities catalog (JSON) and FIRST's EPSS scores (CSV, optionally gzipped),
//! read from a file or a URL. Each import replaces that feed's table in a new
//! generation, so a failed or partial download never leaves a half-filled table.

use std::io::Read;
use std::path::Path;

use rusqlite::params;
use serde::Deserialize;

use crate::error::{Result, VulnDbError};
use crate::store::{KevEntry, Writer, WriterOptions};

/// Largest KEV catalog accepted (the real one is about 1.5 MB).
pub const MAX_KEV_BYTES: u64 = 64 << 20;
/// Largest EPSS file accepted after decompression (the real one is about 12 MB).
pub const MAX_EPSS_BYTES: u64 = 512 << 20;

/// What an enrichment import stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnrichStats {
    /// Entries stored.
    pub entries: u64,
    /// Entries skipped as malformed.
    pub skipped: u64,
    /// Catalog version (KEV) or model version (EPSS), when the feed states it.
    pub version: Option<String>,
    /// The generation that was published.
    pub generation: String,
}

fn is_url(s: &str) -> bool {
    s.starts_with("http://") || s.starts_with("https://")
}

/// Reads a feed from a file path or an http(s) URL, bounded.
fn fetch_source(source: &str, limit: u64) -> Result<Vec<u8>> {
    if is_url(source) {
        return crate::update::http_get_bytes(source, limit);
    }
    let path = Path::new(source);
    let f = std::fs::File::open(path).map_err(|e| VulnDbError::io("opening", path, e))?;
    let mut buf = Vec::new();
    f.take(limit.saturating_add(1))
        .read_to_end(&mut buf)
        .map_err(|e| VulnDbError::io("reading", path, e))?;
    if buf.len() as u64 > limit {
        return Err(VulnDbError::TooLarge {
            path: source.into(),
            limit,
        });
    }
    Ok(buf)
}

/// Un-gzips `bytes` if they carry the gzip magic, bounded.
fn maybe_gunzip(bytes: Vec<u8>, source: &str, limit: u64) -> Result<Vec<u8>> {
    if !bytes.starts_with(&[0x1f, 0x8b]) {
        return Ok(bytes);
    }
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes.as_slice())
        .take(limit.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|e| VulnDbError::bad(source, format!("bad gzip data: {e}")))?;
    if out.len() as u64 > limit {
        return Err(VulnDbError::TooLarge {
            path: source.into(),
            limit,
        });
    }
    Ok(out)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct KevCatalog {
    #[serde(default)]
    catalog_version: Option<String>,
    vulnerabilities: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct KevRaw {
    #[serde(rename = "cveID")]
    cve_id: String,
    #[serde(default)]
    vendor_project: String,
    #[serde(default)]
    product: String,
    #[serde(default)]
    vulnerability_name: String,
    #[serde(default)]
    date_added: String,
    #[serde(default)]
    short_description: String,
    #[serde(default)]
    required_action: String,
    #[serde(default)]
    due_date: String,
    #[serde(default)]
    known_ransomware_campaign_use: Option<String>,
    #[serde(default)]
    notes: Option<String>,
}

/// Parses a CISA KEV catalog (JSON). Entries without a `cveID` are skipped and
/// counted; unknown fields are ignored (CISA adds fields over time).
pub fn parse_kev(bytes: &[u8], source: &str) -> Result<(Vec<KevEntry>, u64, Option<String>)> {
    let cat: KevCatalog = serde_json::from_slice(bytes).map_err(|e| {
        VulnDbError::bad(
            source,
            format!(
                "not a KEV catalog at line {}, column {}: {e}",
                e.line(),
                e.column()
            ),
        )
    })?;
    let mut out = Vec::with_capacity(cat.vulnerabilities.len());
    let mut skipped = 0;
    for (i, v) in cat.vulnerabilities.into_iter().enumerate() {
        match serde_json::from_value::<KevRaw>(v) {
            Ok(r) if r.cve_id.starts_with("CVE-") => out.push(KevEntry {
                cve: r.cve_id,
                vendor_project: r.vendor_project,
                product: r.product,
                vulnerability_name: r.vulnerability_name,
                date_added: r.date_added,
                short_description: r.short_description,
                required_action: r.required_action,
                due_date: r.due_date,
                known_ransomware_campaign_use: r.known_ransomware_campaign_use,
                notes: r.notes,
            }),
            Ok(r) => {
                skipped += 1;
                tracing::warn!(source, index = i, cve = %r.cve_id, "KEV entry without a CVE id skipped");
            }
            Err(e) => {
                skipped += 1;
                tracing::warn!(source, index = i, error = %e, "malformed KEV entry skipped");
            }
        }
    }
    Ok((out, skipped, cat.catalog_version))
}

/// Imports a KEV catalog from a file or URL into a new generation.
pub fn import_kev(db_dir: &Path, source: &str) -> Result<EnrichStats> {
    let bytes = fetch_source(source, MAX_KEV_BYTES)?;
    let (entries, skipped, version) = parse_kev(&bytes, source)?;
    let w = Writer::begin(db_dir, true, &WriterOptions::default())?;
    let tmp = w.tmp_path().to_path_buf();
    let sql = |e| VulnDbError::sql(&tmp, e);
    {
        let conn = w.conn()?;
        conn.execute("DELETE FROM kev", []).map_err(sql)?;
        let mut ins = conn
            .prepare(
                "INSERT OR REPLACE INTO kev (cve, vendor_project, product, vulnerability_name,
                 date_added, short_description, required_action, due_date,
                 known_ransomware_campaign_use, notes) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10)",
            )
            .map_err(sql)?;
        for e in &entries {
            ins.execute(params![
                e.cve,
                e.vendor_project,
                e.product,
                e.vulnerability_name,
                e.date_added,
                e.short_description,
                e.required_action,
                e.due_date,
                e.known_ransomware_campaign_use,
                e.notes
            ])
            .map_err(sql)?;
        }
        conn.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('kev_catalog_version', ?1)",
            [version.clone().unwrap_or_default()],
        )
        .map_err(sql)?;
    }
    let generation = w.commit()?;
    Ok(EnrichStats {
        entries: entries.len() as u64,
        skipped,
        version,
        generation,
    })
}

/// One parsed EPSS file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EpssFile {
    /// `(cve, score, percentile)` rows.
    pub rows: Vec<(String, f64, f64)>,
    /// `model_version` from the comment line.
    pub model_version: Option<String>,
    /// `score_date` from the comment line.
    pub score_date: Option<String>,
    /// Rows skipped as malformed.
    pub skipped: u64,
}

/// Parses an EPSS CSV (`#model_version:...,score_date:...` comment line, header
/// `cve,epss,percentile`, then rows). Rows that do not parse are skipped, counted and
/// logged with their line number; a missing header is an error.
pub fn parse_epss(text: &str, source: &str) -> Result<EpssFile> {
    let mut out = EpssFile::default();
    let mut header_seen = false;
    for (i, line) in text.lines().enumerate() {
        let lineno = i + 1;
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            for part in comment.split(',') {
                match part.split_once(':') {
                    Some(("model_version", v)) => out.model_version = Some(v.trim().to_string()),
                    Some(("score_date", v)) => out.score_date = Some(v.trim().to_string()),
                    _ => {}
                }
            }
            continue;
        }
        if !header_seen {
            let cols: Vec<&str> = line.split(',').map(str::trim).collect();
            if cols.first() != Some(&"cve") || cols.get(1) != Some(&"epss") {
                return Err(VulnDbError::bad(
                    source,
                    format!(
                        "line {lineno}: expected the header `cve,epss,percentile`, found {line:?}"
                    ),
                ));
            }
            header_seen = true;
            continue;
        }
        let mut f = line.split(',').map(str::trim);
        let parsed = match (f.next(), f.next(), f.next()) {
            (Some(cve), Some(s), Some(p)) if cve.starts_with("CVE-") => {
                match (s.parse::<f64>(), p.parse::<f64>()) {
                    (Ok(s), Ok(p)) if (0.0..=1.0).contains(&s) && (0.0..=1.0).contains(&p) => {
                        Some((cve.to_string(), s, p))
                    }
                    _ => None,
                }
            }
            _ => None,
        };
        match parsed {
            Some(r) => out.rows.push(r),
            None => {
                out.skipped += 1;
                tracing::warn!(source, line = lineno, "malformed EPSS row skipped");
            }
        }
    }
    if !header_seen {
        return Err(VulnDbError::bad(source, "no `cve,epss,percentile` header"));
    }
    Ok(out)
}

/// Imports EPSS scores (CSV or gzipped CSV) from a file or URL into a new generation.
pub fn import_epss(db_dir: &Path, source: &str) -> Result<EnrichStats> {
    let raw = fetch_source(source, MAX_EPSS_BYTES)?;
    let bytes = maybe_gunzip(raw, source, MAX_EPSS_BYTES)?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|e| VulnDbError::bad(source, format!("not UTF-8 text: {e}")))?;
    let file = parse_epss(text, source)?;
    let w = Writer::begin(db_dir, true, &WriterOptions::default())?;
    let tmp = w.tmp_path().to_path_buf();
    let sql = |e| VulnDbError::sql(&tmp, e);
    {
        let conn = w.conn()?;
        conn.execute("DELETE FROM epss", []).map_err(sql)?;
        let mut ins = conn
            .prepare("INSERT OR REPLACE INTO epss (cve, score, percentile, date) VALUES (?1, ?2, ?3, ?4)")
            .map_err(sql)?;
        for (cve, s, p) in &file.rows {
            ins.execute(params![cve, s, p, file.score_date])
                .map_err(sql)?;
        }
        conn.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('epss_model_version', ?1)",
            [file.model_version.clone().unwrap_or_default()],
        )
        .map_err(sql)?;
    }
    let generation = w.commit()?;
    Ok(EnrichStats {
        entries: file.rows.len() as u64,
        skipped: file.skipped,
        version: file.model_version,
        generation,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epss_header_and_rows() {
        let f = parse_epss(
            "#model_version:v2025.03.14,score_date:2026-02-12T00:00:00+0000\ncve,epss,percentile\nCVE-2024-1,0.5,0.9\nCVE-2024-2,abc,0.1\nnot-a-cve,0.1,0.1\n",
            "t",
        )
        .expect("parse");
        assert_eq!(f.rows, vec![("CVE-2024-1".to_string(), 0.5, 0.9)]);
        assert_eq!(f.skipped, 2);
        assert_eq!(f.model_version.as_deref(), Some("v2025.03.14"));
        assert_eq!(f.score_date.as_deref(), Some("2026-02-12T00:00:00+0000"));
    }

    #[test]
    fn epss_without_header_is_an_error() {
        let e = parse_epss("CVE-2024-1,0.5,0.9\n", "f.csv").unwrap_err();
        assert!(e.to_string().contains("line 1"), "{e}");
    }
}
