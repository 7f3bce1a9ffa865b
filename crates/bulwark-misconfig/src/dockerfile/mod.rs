//! Dockerfile checks: a BuildKit-compatible parser ([`parser`]), a small shell
//! tokenizer for `RUN` analysis ([`shell`]) and the rules ([`rules`]) covering the
//! Hadolint rules that need no ShellCheck, Trivy's DS checks and CIS Docker Benchmark
//! section 4.
//!
//! Suppression: `# hadolint ignore=DL3008,DL3009` or `# bulwark:ignore=BW-DF-0008` on
//! the comment lines directly above an instruction suppress those ids (or aliases) for
//! findings on that instruction; `# hadolint global ignore=` / `# bulwark:global-ignore=`
//! anywhere suppress them for the file; the [`CheckSelection`] disables checks globally.

pub mod parser;
pub mod rules;
pub mod shell;

use bulwark_core::Misconfiguration;

use crate::check::{is_ignored, mark_inline, CheckSelection};
use crate::{Checked, MisconfigError};

pub use parser::{parse, Dockerfile, Instruction, Stage};

/// Type a label must have under a label schema (Hadolint's `label-schema`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LabelType {
    /// Any text, but not empty.
    Text,
    /// An absolute URL.
    Url,
    /// An RFC 3339 date-time.
    Rfc3339,
    /// An SPDX license expression.
    Spdx,
    /// A git commit hash (short or full).
    GitHash,
    /// A semantic version.
    SemVer,
    /// An e-mail address.
    Email,
}

/// Options of the configurable rules.
#[derive(Debug, Clone, Default)]
pub struct DockerfileOptions {
    /// Allowed registries for `FROM` (DL3026); empty disables the rule.
    pub trusted_registries: Vec<String>,
    /// Required labels and their types (DL3049, DL3051–DL3056, DL3058); empty disables them.
    pub label_schema: Vec<(String, LabelType)>,
    /// Report labels not in the schema (DL3050).
    pub strict_labels: bool,
}

/// Scans one Dockerfile with the default options.
pub fn scan_dockerfile(
    path: &str,
    bytes: &[u8],
    sel: &CheckSelection,
) -> Result<Vec<Misconfiguration>, MisconfigError> {
    scan_dockerfile_with(path, bytes, sel, &DockerfileOptions::default())
}

/// Scans one Dockerfile: the findings, with the warnings of [`check_dockerfile_with`]
/// logged (callers that show warnings use that).
pub fn scan_dockerfile_with(
    path: &str,
    bytes: &[u8],
    sel: &CheckSelection,
    opts: &DockerfileOptions,
) -> Result<Vec<Misconfiguration>, MisconfigError> {
    let checked = check_dockerfile_with(path, bytes, sel, opts)?;
    for w in &checked.warnings {
        tracing::warn!("{path}: {w}");
    }
    Ok(checked.findings)
}

/// Checks one Dockerfile with the default options; see [`check_dockerfile_with`].
pub fn check_dockerfile(
    path: &str,
    bytes: &[u8],
    sel: &CheckSelection,
) -> Result<Checked, MisconfigError> {
    check_dockerfile_with(path, bytes, sel, &DockerfileOptions::default())
}

/// Checks one Dockerfile: findings, and warnings for `RUN` scripts that could not be
/// analysed in full (too large, or not parseable as shell so the fallback tokenizer
/// was used).
pub fn check_dockerfile_with(
    path: &str,
    bytes: &[u8],
    sel: &CheckSelection,
    opts: &DockerfileOptions,
) -> Result<Checked, MisconfigError> {
    let df = parse(path, bytes)?;
    let (raw, warnings) = rules::run(&df, path, sel, opts);
    let mut out: Vec<Misconfiguration> =
        raw.into_iter()
            .map(|f| mark_inline(&df.global_ignores, "a global ignore comment", f))
            .map(|f| {
                // Suppressions attach to the instruction whose lines contain the finding.
                let Some(line) = f.start_line else {
                    return f;
                };
                match df.instructions.iter().find(|i| {
                    i.start_line <= line && line <= i.end_line && is_ignored(&i.ignores, &f)
                }) {
                    Some(i) => mark_inline(
                        &i.ignores,
                        &format!("the ignore comment above line {}", i.start_line),
                        f,
                    ),
                    None => f,
                }
            })
            .collect();
    out.sort_by(|a, b| (a.start_line, &a.check_id).cmp(&(b.start_line, &b.check_id)));
    out.dedup_by(|a, b| {
        a.check_id == b.check_id && a.start_line == b.start_line && a.message == b.message
    });
    Ok(Checked {
        findings: out,
        warnings,
    })
}
