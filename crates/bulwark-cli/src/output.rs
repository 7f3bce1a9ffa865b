//! What every command prints besides its report, through one code path: warnings (with
//! path and layer, control characters escaped so an image cannot drive the terminal),
//! the suppression summary, per-layer counters at `-v`, and whether colour is allowed.

use bulwark_core::Warning;
use std::io::IsTerminal;
use std::path::Path;

/// Escapes control characters (ESC, CR, BEL...) so an image cannot drive the terminal.
pub fn escape_controls(s: &str) -> String {
    bulwark_core::text::terminal_safe(s).into_owned()
}

/// Logs each warning at warn level as `path (layer digest): message`.
pub fn print_warnings(warnings: &[Warning]) {
    for w in warnings {
        let loc = match (&w.path, &w.layer) {
            (Some(p), Some(l)) => format!("{p} (layer {l}): "),
            (Some(p), None) => format!("{p}: "),
            _ => String::new(),
        };
        tracing::warn!("{}", escape_controls(&format!("{loc}{}", w.message)));
    }
}

/// Logs a report's warnings and the reasons it is incomplete.
pub fn print_report_problems(report: &bulwark_core::Report) {
    print_warnings(&report.warnings);
    for r in &report.incomplete {
        tracing::warn!("incomplete scan: {}", escape_controls(&r.describe()));
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
        assert_eq!(escape_controls("a\u{1b}[2Jb"), "a\\x1b[2Jb");
        assert_eq!(escape_controls("tab\tok"), "tab\\tok");
    }
}
