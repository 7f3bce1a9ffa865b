//! What every command prints besides its report, through one code path: warnings (with
//! path and layer, control characters escaped so an image cannot drive the terminal),
//! the suppression summary, per-layer counters at `-v`, and whether colour is allowed.

use bulwark_core::text::terminal_safe;
use std::io::IsTerminal;
use std::path::Path;

/// Logs a report's warnings (`path (layer digest): message`) and the reasons it is
/// incomplete, every control character escaped.
pub fn print_report_problems(report: &bulwark_core::Report) {
    for w in &report.warnings {
        let loc = match (&w.path, &w.layer) {
            (Some(p), Some(l)) => format!("{p} (layer {l}): "),
            (Some(p), None) => format!("{p}: "),
            _ => String::new(),
        };
        tracing::warn!("{}", terminal_safe(&format!("{loc}{}", w.message)));
    }
    for r in &report.incomplete {
        tracing::warn!("incomplete scan: {}", terminal_safe(&r.describe()));
    }
}

/// Logs how many findings the ignore file and VEX suppressed.
pub fn print_suppressed(ignored: usize, vexed: usize, shown: bool) {
    if ignored + vexed == 0 {
        return;
    }
    let verb = if shown {
        "marked suppressed"
    } else {
        "suppressed (--show-suppressed to list them)"
    };
    tracing::warn!(
        "{} finding(s) {verb}: {ignored} by the ignore file, {vexed} by VEX",
        ignored + vexed
    );
}

/// The end of every command that scans: logs the report's problems and the suppression
/// summary, writes the report (`-o` or stdout), logs the verdict's reasons and returns
/// its exit code.
pub fn finish(
    outcome: &bulwark_engine::ScanOutcome,
    format: bulwark_report::Format,
    output: Option<&Path>,
    show_suppressed: bool,
) -> anyhow::Result<u8> {
    print_report_problems(&outcome.report);
    print_suppressed(outcome.ignored, outcome.vexed, show_suppressed);
    let wopts = bulwark_report::WriteOptions {
        color: use_color(output),
    };
    crate::write_output(output, |w| {
        bulwark_report::write_with(&outcome.report, format, &wopts, w).map_err(anyhow::Error::from)
    })?;
    let v = &outcome.verdict;
    for r in &v.reasons {
        if v.incomplete && v.exit_code != 0 {
            tracing::error!("failing the --exit-code gate: {}", terminal_safe(r));
        } else {
            tracing::info!("gate: {}", terminal_safe(r));
        }
    }
    Ok(v.exit_code)
}

/// Whether table output may use colour: only to a terminal, never with `NO_COLOR` set.
pub fn use_color(output: Option<&Path>) -> bool {
    output.is_none() && !crate::env::no_color() && std::io::stdout().is_terminal()
}

/// Parses `--severity` values (comma-separated, repeatable) the same way for every
/// command.
pub fn severities(list: &[String]) -> anyhow::Result<Vec<bulwark_core::Severity>> {
    bulwark_engine::parse_severities(list).map_err(anyhow::Error::msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_are_escaped() {
        assert_eq!(terminal_safe("a\u{1b}[2Jb"), "a\\x1b[2Jb");
        assert_eq!(terminal_safe("tab\tok"), "tab\\tok");
    }
}

/// The report flags of the check commands (`config`, `host`): format, output file,
/// severities, exit code, ignore file, suppressed findings.
#[derive(Debug, clap::Args)]
pub struct CheckReportArgs {
    /// Output format: table, json, sarif or html.
    #[arg(short, long, default_value = "table")]
    pub format: String,
    /// Write to this file instead of standard output.
    #[arg(short, long)]
    pub output: Option<std::path::PathBuf>,
    /// Severities to report, comma-separated (default: all).
    #[arg(long, value_delimiter = ',')]
    pub severity: Vec<String>,
    /// Exit with this code when a finding remains after filtering.
    #[arg(long, default_value_t = 0)]
    pub exit_code: u8,
    /// Ignore file (default: `.bulwarkignore` in the current directory, when present).
    #[arg(long)]
    pub ignorefile: Option<std::path::PathBuf>,
    /// Keep suppressed findings (ignore file, inline comments) in the output, marked with
    /// the reason; they never count towards --exit-code.
    #[arg(long)]
    pub show_suppressed: bool,
}

impl CheckReportArgs {
    /// The `--format`, which must be one a check report is written in.
    pub fn check_format(&self, command: &str) -> anyhow::Result<bulwark_report::Format> {
        use bulwark_report::Format;
        let format: Format = self
            .format
            .parse()
            .map_err(|e| anyhow::anyhow!("--format {}: {e}", self.format))?;
        if !matches!(
            format,
            Format::Table | Format::Json | Format::Sarif | Format::Html
        ) {
            anyhow::bail!("--format {format}: bulwark {command} writes table, json, sarif or html");
        }
        Ok(format)
    }
}
