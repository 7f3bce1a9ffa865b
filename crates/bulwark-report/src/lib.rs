//! Output formats for bulwark reports (CycloneDX 1.6, SPDX 2.3, the JSON report, tables,
//! SARIF 2.1.0, a self-contained HTML page), SBOM input (reading CycloneDX/SPDX back as a
//! target), and filtering of findings (severity filters, `.bulwarkignore`, VEX).
//!
//! Every format renders the same [`Report`]; nothing here re-derives scan facts. All
//! output is deterministic except document timestamps taken from the report and the
//! random serial number / namespace UUIDs that the SBOM specifications require to be
//! unique per document.

mod common;
pub mod cyclonedx;
pub mod filter;
pub mod html;
pub mod ignore;
pub mod license;
pub mod read;
pub mod sarif;
pub mod spdx_doc;
pub mod table;
pub mod vex;

use bulwark_core::Report;
use std::io::Write;
use std::str::FromStr;

pub use read::{read_sbom, SbomDocument, MAX_SBOM_BYTES};

/// The output formats `bulwark` can write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// CycloneDX 1.6 JSON.
    CycloneDx,
    /// SPDX 2.3 JSON.
    Spdx,
    /// bulwark's own JSON report (see `docs/report-schema.md`).
    Json,
    /// A human-readable table.
    Table,
    /// SARIF 2.1.0 JSON (code-scanning tools).
    Sarif,
    /// One self-contained HTML page.
    Html,
}

impl Format {
    /// Every format, in the order the CLI lists them.
    pub const ALL: [Format; 6] = [
        Format::Table,
        Format::Json,
        Format::CycloneDx,
        Format::Spdx,
        Format::Sarif,
        Format::Html,
    ];
}

/// Options that change how a format is rendered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WriteOptions {
    /// Colour severities with ANSI escapes (table only). The CLI sets it when writing to
    /// a terminal (`std::io::IsTerminal`).
    pub color: bool,
}

impl Format {
    /// The name the CLI accepts for this format.
    pub fn cli_name(self) -> &'static str {
        match self {
            Format::CycloneDx => "cyclonedx",
            Format::Spdx => "spdx",
            Format::Json => "json",
            Format::Table => "table",
            Format::Sarif => "sarif",
            Format::Html => "html",
        }
    }
}

impl FromStr for Format {
    type Err = ReportError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "cyclonedx" => Ok(Format::CycloneDx),
            "spdx" => Ok(Format::Spdx),
            "json" => Ok(Format::Json),
            "table" => Ok(Format::Table),
            "sarif" => Ok(Format::Sarif),
            "html" => Ok(Format::Html),
            _ => Err(ReportError::UnknownFormat(s.to_string())),
        }
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.cli_name())
    }
}

/// Errors from writing a report or reading an SBOM.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// Writing the output failed.
    #[error("writing report: {0}")]
    Io(#[from] std::io::Error),
    /// Serialising to JSON failed.
    #[error("serialising report: {0}")]
    Serialize(#[source] serde_json::Error),
    /// The format name is not one of `cyclonedx`, `spdx`, `json`, `table`, `sarif`, `html`.
    #[error("unknown output format {0:?} (expected cyclonedx, spdx, json, table, sarif or html)")]
    UnknownFormat(String),
    /// The SBOM document is larger than [`MAX_SBOM_BYTES`].
    #[error("SBOM document is {size} bytes, over the {limit}-byte limit")]
    TooLarge {
        /// Size of the input.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The input is not JSON (or is nested too deeply for the JSON parser).
    #[error("SBOM is not valid JSON at line {line}, column {column}: {message}")]
    InvalidJson {
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
        /// What the parser said.
        message: String,
    },
    /// The document is JSON but neither CycloneDX nor SPDX.
    #[error("not a CycloneDX or SPDX document: {0}")]
    NotAnSbom(String),
    /// A CycloneDX/SPDX version this reader does not understand.
    #[error("unsupported {format} version {version:?}")]
    UnsupportedVersion {
        /// `CycloneDX` or `SPDX`.
        format: &'static str,
        /// The version as written in the document.
        version: String,
    },
    /// A field has the wrong shape.
    #[error("malformed SBOM at {at}: {what}")]
    Malformed {
        /// JSON pointer-like location of the problem.
        at: String,
        /// What is wrong.
        what: String,
    },
    /// Components are nested deeper than the reader allows.
    #[error("components nested deeper than {limit} levels at {at}")]
    TooDeep {
        /// Location of the component that exceeded the limit.
        at: String,
        /// The limit.
        limit: usize,
    },
}

/// Writes `report` in `format` to `out` with default options (no colour).
pub fn write(report: &Report, format: Format, out: &mut dyn Write) -> Result<(), ReportError> {
    write_with(report, format, &WriteOptions::default(), out)
}

/// Writes `report` in `format` to `out`.
pub fn write_with(
    report: &Report,
    format: Format,
    opts: &WriteOptions,
    out: &mut dyn Write,
) -> Result<(), ReportError> {
    match format {
        Format::CycloneDx => {
            let doc = cyclonedx::to_json(report);
            write_json(&doc, out)
        }
        Format::Spdx => {
            let doc = spdx_doc::to_json(report);
            write_json(&doc, out)
        }
        Format::Json => write_report_json(report, out),
        Format::Table => table::write_table_with(report, opts.color, out),
        Format::Sarif => {
            let doc = sarif::to_json(report);
            write_json(&doc, out)
        }
        Format::Html => html::write_html(report, out),
    }
}

/// The JSON report: the [`Report`] itself, packages in the report's stable order.
fn write_report_json(report: &Report, out: &mut dyn Write) -> Result<(), ReportError> {
    let mut sorted = report.clone();
    sorted.sort();
    write_json(&sorted, out)
}

fn write_json<T: serde::Serialize>(value: &T, out: &mut dyn Write) -> Result<(), ReportError> {
    serde_json::to_writer_pretty(&mut *out, value).map_err(|e| {
        if e.is_io() {
            ReportError::Io(std::io::Error::other(e))
        } else {
            ReportError::Serialize(e)
        }
    })?;
    out.write_all(b"\n")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_names_round_trip() {
        for f in Format::ALL {
            assert_eq!(f.cli_name().parse::<Format>().ok(), Some(f));
        }
        assert!(matches!(
            "xml".parse::<Format>(),
            Err(ReportError::UnknownFormat(_))
        ));
    }
}
