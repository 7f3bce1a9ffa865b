//! The `.bulwarkignore` file: a YAML list of findings the user has decided to accept,
//! each with a reason and an optional expiry date, so that accepted risks are written
//! down next to the code and come back once they expire.
//!
//! ```yaml
//! vulnerabilities:
//!   - id: CVE-2023-1234          # primary id or any alias
//!     purl: pkg:deb/debian/openssl   # or `package: openssl`; optional
//!     path: "usr/lib/**"         # optional glob on the package path
//!     reason: not reachable from our entry points
//!     expires: 2025-06-30        # optional, YYYY-MM-DD
//! misconfigurations:
//!   - id: BW-DF-0002             # check id or alias
//!     path: "**/Dockerfile.dev"
//!     reason: dev image only
//! secrets:
//!   - id: aws-access-key-id      # rule id
//!     path: "tests/fixtures/**"
//!     reason: fake keys in test fixtures
//! ```

use crate::vex::purl_matches;
use bulwark_core::{Misconfiguration, SecretFinding, VulnFinding};
use globset::{GlobBuilder, GlobMatcher};
use serde::{Deserialize, Deserializer};
use std::path::Path;
use time::Date;

/// The largest ignore file read (1 MiB): far above any hand-written file.
pub const MAX_IGNORE_BYTES: u64 = 1024 * 1024;

/// The most entries accepted in one ignore file.
pub const MAX_IGNORE_ENTRIES: usize = 100_000;

/// Errors reading an ignore file.
#[derive(Debug, thiserror::Error)]
pub enum IgnoreError {
    /// The file could not be read.
    #[error("reading ignore file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file is larger than [`MAX_IGNORE_BYTES`].
    #[error("ignore file {path} is over the {limit}-byte limit")]
    TooLarge {
        /// The file.
        path: String,
        /// The limit.
        limit: u64,
    },
    /// The YAML is malformed or an entry has a bad field.
    #[error("ignore file {path}: line {line}, column {column}: {message}")]
    Malformed {
        /// The file.
        path: String,
        /// 1-based line (0 when the parser could not say).
        line: usize,
        /// 1-based column (0 when unknown).
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// More entries than [`MAX_IGNORE_ENTRIES`].
    #[error("ignore file {path} has {count} entries, over the limit of {limit}")]
    TooManyEntries {
        /// The file.
        path: String,
        /// Entries found.
        count: usize,
        /// The limit.
        limit: usize,
    },
}

/// A path glob; `*` stays within one path segment, `**` crosses segments. Leading `/`
/// is ignored on both sides so `usr/lib/**` and `/usr/lib/**` mean the same.
#[derive(Debug, Clone)]
pub struct PathGlob {
    pattern: String,
    matcher: GlobMatcher,
}

impl PathGlob {
    /// Compiles `pattern`.
    pub fn new(pattern: &str) -> Result<Self, String> {
        let glob = GlobBuilder::new(pattern.trim_start_matches('/'))
            .literal_separator(true)
            .build()
            .map_err(|e| format!("invalid path glob {pattern:?}: {e}"))?;
        Ok(PathGlob {
            pattern: pattern.to_string(),
            matcher: glob.compile_matcher(),
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.pattern
    }

    /// Whether `path` matches.
    pub fn is_match(&self, path: &str) -> bool {
        self.matcher.is_match(path.trim_start_matches('/'))
    }
}

impl<'de> Deserialize<'de> for PathGlob {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        // Raised inside the scalar's deserialisation so the YAML error carries its line.
        PathGlob::new(&s).map_err(serde::de::Error::custom)
    }
}

fn deserialize_date<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Date>, D::Error> {
    let s = String::deserialize(d)?;
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    Date::parse(s.trim(), &fmt)
        .map(Some)
        .map_err(|e| serde::de::Error::custom(format!("expires {s:?} is not YYYY-MM-DD: {e}")))
}

fn deserialize_reason<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let s = String::deserialize(d)?;
    if s.trim().is_empty() {
        return Err(serde::de::Error::custom("reason must not be empty"));
    }
    Ok(s)
}

/// One ignore rule.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IgnoreEntry {
    /// Vulnerability id or alias, check id or alias, or secret rule id.
    pub id: String,
    /// Package name the rule is limited to (vulnerabilities only).
    #[serde(default)]
    pub package: Option<String>,
    /// Package purl the rule is limited to (vulnerabilities only); qualifiers and version
    /// are only compared when written here.
    #[serde(default)]
    pub purl: Option<String>,
    /// Glob on the finding's path.
    #[serde(default)]
    pub path: Option<PathGlob>,
    /// Why the finding is accepted.
    #[serde(deserialize_with = "deserialize_reason")]
    pub reason: String,
    /// Last day the rule applies (inclusive).
    #[serde(default, deserialize_with = "deserialize_date")]
    pub expires: Option<Date>,
}

impl IgnoreEntry {
    fn path_ok(&self, path: Option<&str>) -> bool {
        match (&self.path, path) {
            (None, _) => true,
            (Some(g), Some(p)) => g.is_match(p),
            (Some(_), None) => false,
        }
    }

    fn expired(&self, now: Date) -> bool {
        self.expires.is_some_and(|d| d < now)
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    vulnerabilities: Vec<IgnoreEntry>,
    #[serde(default)]
    misconfigurations: Vec<IgnoreEntry>,
    #[serde(default)]
    secrets: Vec<IgnoreEntry>,
}

/// The YAML parser reports errors raised while checking a field value at the start of
/// the entry's mapping; this finds the line of the offending `key:` inside that entry
/// (recognised from the messages this module raises) so the error points at the value.
fn field_position(text: &str, line: usize, column: usize, message: &str) -> Option<(usize, usize)> {
    let key = if message.contains("expires ") {
        "expires:"
    } else if message.contains("invalid path glob") {
        "path:"
    } else if message.contains("reason must not be empty") {
        "reason:"
    } else {
        return None;
    };
    // Lines of the entry: from its first line while indented deeper than its `- `.
    let indent = column.checked_sub(3)?;
    for (i, l) in text.lines().enumerate().skip(line.checked_sub(1)?) {
        let lead = l.len() - l.trim_start().len();
        let body = l.trim_start().trim_start_matches("- ").trim_start();
        if i + 1 > line && lead <= indent && !l.trim().is_empty() {
            break;
        }
        if body.starts_with(key) {
            return Some((i + 1, l.len() - body.len() + 1));
        }
    }
    None
}

/// A parsed `.bulwarkignore` file.
#[derive(Debug, Clone, Default)]
pub struct IgnoreFile {
    /// Where it was read from (for messages).
    pub source: String,
    /// Rules for vulnerabilities.
    pub vulnerabilities: Vec<IgnoreEntry>,
    /// Rules for misconfigurations.
    pub misconfigurations: Vec<IgnoreEntry>,
    /// Rules for secrets.
    pub secrets: Vec<IgnoreEntry>,
}

/// The outcome of looking a finding up in the ignore file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IgnoreMatch {
    /// No rule matches.
    None,
    /// A live rule matches: the text to record as the suppression reason.
    Suppressed(String),
    /// Only expired rules match: the warning to show.
    Expired(String),
}

impl IgnoreFile {
    /// Reads and parses `path`, refusing files over [`MAX_IGNORE_BYTES`].
    pub fn load(path: &Path) -> Result<Self, IgnoreError> {
        use std::io::Read;
        let name = path.display().to_string();
        let io = |source| IgnoreError::Io {
            path: name.clone(),
            source,
        };
        let f = std::fs::File::open(path).map_err(io)?;
        let mut buf = Vec::new();
        f.take(MAX_IGNORE_BYTES + 1)
            .read_to_end(&mut buf)
            .map_err(io)?;
        if buf.len() as u64 > MAX_IGNORE_BYTES {
            return Err(IgnoreError::TooLarge {
                path: name,
                limit: MAX_IGNORE_BYTES,
            });
        }
        let text = String::from_utf8(buf).map_err(|e| IgnoreError::Malformed {
            path: name.clone(),
            line: 0,
            column: 0,
            message: format!("not UTF-8 (at byte {})", e.utf8_error().valid_up_to()),
        })?;
        Self::parse(&text, &name)
    }

    /// Parses ignore-file text; `source` names it in messages.
    pub fn parse(text: &str, source: &str) -> Result<Self, IgnoreError> {
        if text.len() as u64 > MAX_IGNORE_BYTES {
            return Err(IgnoreError::TooLarge {
                path: source.to_string(),
                limit: MAX_IGNORE_BYTES,
            });
        }
        // An empty or comment-only file is a valid, empty ignore file.
        let raw: RawFile = if text
            .lines()
            .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'))
        {
            RawFile::default()
        } else {
            serde_yaml_ng::from_str(text).map_err(|e| {
                let (mut line, mut column) = e
                    .location()
                    .map(|l| (l.line(), l.column()))
                    .unwrap_or((0, 0));
                let mut message = e.to_string();
                // The location is already in our fields; drop the parser's copy.
                if let Some(i) = message.rfind(" at line ") {
                    message.truncate(i);
                }
                if let Some((l, c)) = field_position(text, line, column, &message) {
                    (line, column) = (l, c);
                }
                IgnoreError::Malformed {
                    path: source.to_string(),
                    line,
                    column,
                    message,
                }
            })?
        };
        let count = raw.vulnerabilities.len() + raw.misconfigurations.len() + raw.secrets.len();
        if count > MAX_IGNORE_ENTRIES {
            return Err(IgnoreError::TooManyEntries {
                path: source.to_string(),
                count,
                limit: MAX_IGNORE_ENTRIES,
            });
        }
        Ok(IgnoreFile {
            source: source.to_string(),
            vulnerabilities: raw.vulnerabilities,
            misconfigurations: raw.misconfigurations,
            secrets: raw.secrets,
        })
    }

    /// Looks up a vulnerability finding.
    pub fn match_vuln(&self, f: &VulnFinding, now: Date) -> IgnoreMatch {
        self.lookup("vulnerabilities", &self.vulnerabilities, now, |e| {
            let id_ok = e.id.eq_ignore_ascii_case(&f.id)
                || f.aliases.iter().any(|a| a.eq_ignore_ascii_case(&e.id));
            id_ok
                && e.package.as_deref().is_none_or(|p| p == f.package)
                && e.purl.as_deref().is_none_or(|p| purl_matches(p, &f.purl))
                && e.path_ok(f.path.as_deref())
        })
    }

    /// Looks up a misconfiguration.
    pub fn match_misconfig(&self, m: &Misconfiguration, now: Date) -> IgnoreMatch {
        self.lookup("misconfigurations", &self.misconfigurations, now, |e| {
            let id_ok = e.id.eq_ignore_ascii_case(&m.check_id)
                || m.aliases.iter().any(|a| a.eq_ignore_ascii_case(&e.id));
            id_ok && e.path_ok(Some(&m.path))
        })
    }

    /// Looks up a secret.
    pub fn match_secret(&self, s: &SecretFinding, now: Date) -> IgnoreMatch {
        self.lookup("secrets", &self.secrets, now, |e| {
            e.id.eq_ignore_ascii_case(&s.rule_id) && e.path_ok(Some(&s.path))
        })
    }

    fn lookup(
        &self,
        section: &str,
        entries: &[IgnoreEntry],
        now: Date,
        matches: impl Fn(&IgnoreEntry) -> bool,
    ) -> IgnoreMatch {
        let mut expired = None;
        for (i, e) in entries.iter().enumerate() {
            if !matches(e) {
                continue;
            }
            if e.expired(now) {
                if expired.is_none() {
                    let when = e.expires.map(|d| d.to_string()).unwrap_or_default();
                    expired = Some(format!(
                        "ignore rule {section}[{i}] for {} in {} expired on {when}; \
                         the finding is reported again",
                        e.id, self.source
                    ));
                }
                continue;
            }
            let mut text = format!("ignored: {} ({})", e.reason.trim(), self.source);
            if let Some(d) = e.expires {
                text.push_str(&format!(", until {d}"));
            }
            return IgnoreMatch::Suppressed(text);
        }
        expired.map_or(IgnoreMatch::None, IgnoreMatch::Expired)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn globs_respect_segments_and_leading_slash() {
        let g = PathGlob::new("/usr/lib/*.so").unwrap();
        assert!(g.is_match("usr/lib/libssl.so"));
        assert!(g.is_match("/usr/lib/libssl.so"));
        assert!(!g.is_match("/usr/lib/x86_64/libssl.so"));
        let g = PathGlob::new("app/**").unwrap();
        assert!(g.is_match("/app/node_modules/a/package.json"));
        assert!(PathGlob::new("a/[b").is_err());
    }

    #[test]
    fn bad_date_reports_line() {
        let text = "vulnerabilities:\n  - id: CVE-1\n    reason: ok\n  - id: CVE-2\n    reason: x\n    expires: 2024-13-01\n";
        match IgnoreFile::parse(text, "f") {
            Err(IgnoreError::Malformed { line, message, .. }) => {
                assert_eq!(line, 6, "{message}");
                assert!(!message.contains("at line"), "{message}");
                assert!(message.contains("YYYY-MM-DD"), "{message}");
            }
            other => panic!("expected error, got {other:?}"),
        }
    }

    #[test]
    fn expiry_is_inclusive() {
        let f = IgnoreFile::parse(
            "secrets:\n  - id: r\n    reason: test\n    expires: 2024-05-01\n",
            "f",
        )
        .unwrap();
        let e = &f.secrets[0];
        assert!(!e.expired(date!(2024 - 05 - 01)));
        assert!(e.expired(date!(2024 - 05 - 02)));
    }
}
