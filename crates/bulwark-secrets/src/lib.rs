//! Secret scanning for file contents: API keys, tokens, private keys, passwords in
//! connection URLs and high-entropy values assigned to secret-looking keys.
//!
//! The API is pure and synchronous so the image walker can call it from any thread:
//! [`Scanner::wants`] decides from the path and size alone whether a file is worth
//! reading, and [`Scanner::scan`] turns its bytes into [`SecretFinding`]s (the caller
//! fills `layer` and `deleted`).
//!
//! How a scan runs: one Aho-Corasick pass over the file finds every rule keyword
//! (ASCII-case-insensitively); most files contain none and are done. Only rules whose
//! keywords occurred run their regex: single-line rules only on the lines holding a
//! keyword hit; multi-line rules (private keys, custom rules) over the whole file when
//! it is small ([`WINDOW_THRESHOLD`]) or over line-aligned windows around the keyword
//! hits when it is large. Matches then go through the rule's check (entropy, placeholder, format
//! validation) and the allow-lists, and the secret part is redacted in the reported line.
//! The raw secret is never stored in a finding, never logged, and no type here prints it
//! through `Debug`.

pub mod checks;
pub mod config;
mod rules;

use std::ops::Range;
use std::sync::OnceLock;

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use regex::bytes::Regex as BytesRegex;
use regex::{Regex, RegexSet};

pub use bulwark_core::{SecretFinding, Severity};
pub use config::{CustomRule, SecretConfig, DEFAULT_MAX_FILE_SIZE};

/// Multi-line rules (private keys, custom rules) search files up to this size whole when
/// one of their keywords occurs, larger files only in windows around keyword hits.
/// Single-line built-in rules always search just the lines holding keyword hits.
pub const WINDOW_THRESHOLD: usize = 256 * 1024;
/// Bytes searched before a keyword hit in a large file.
const WINDOW_BEFORE: usize = 1024;
/// Bytes searched after a keyword hit (long enough for a 4096-bit RSA or a PGP key block).
const WINDOW_AFTER: usize = 16 * 1024;
/// How far a window is stretched to reach a line boundary.
const LINE_STRETCH: usize = 4096;
/// Content sniffing looks for a NUL byte in this many leading bytes.
pub const SNIFF_LEN: usize = 8192;
/// At most this many findings are reported per file.
pub const MAX_FINDINGS_PER_FILE: usize = 1000;
/// Redacted lines are cut to about this many bytes around the secret.
pub const MAX_REDACTED_LEN: usize = 240;
/// Compiled-program size limit for each rule's regex.
const REGEX_SIZE_LIMIT: usize = 4 * 1024 * 1024;
/// Lazy-DFA cache limit for each rule's regex.
const REGEX_DFA_LIMIT: usize = 8 * 1024 * 1024;
/// The replacement for the secret in [`SecretFinding::redacted`].
pub const REDACTION: &str = "*****";

/// Paths (relative to the image root, no leading `/`) never scanned because they hold
/// distribution-managed documentation, locale data, package databases or CA bundles:
/// large, numerous, and never a place where a user's secret ends up.
pub const NOISE_PREFIXES: &[&str] = &[
    "usr/share/doc/",
    "usr/share/man/",
    "usr/share/info/",
    "usr/share/locale/",
    "usr/share/i18n/",
    "usr/share/zoneinfo/",
    "usr/share/mime/",
    "usr/share/icons/",
    "usr/share/fonts/",
    "usr/share/terminfo/",
    "usr/share/X11/locale/",
    "usr/share/ca-certificates/",
    "usr/lib/locale/",
    "etc/ssl/certs/",
    "var/lib/dpkg/",
    "var/lib/apt/lists/",
    "var/cache/apt/",
    "var/cache/debconf/",
    "lib/apk/db/",
    "var/lib/rpm/",
    "var/cache/dnf/",
    "var/cache/yum/",
    "proc/",
    "sys/",
    "dev/",
];

/// File extensions (lower-case, without the dot) of binary or compressed formats; such
/// files are skipped by name. Shared objects with version suffixes (`libz.so.1.3`) are
/// recognised too. Everything else is sniffed: a NUL byte in the first [`SNIFF_LEN`]
/// bytes marks it binary (this also skips UTF-16 text).
pub const BINARY_EXTENSIONS: &[&str] = &[
    "so", "a", "o", "ko", "dll", "exe", "dylib", "bin", "node", "wasm", "jar", "war", "ear",
    "class", "pyc", "pyo", "whl", "egg", "zip", "gz", "tgz", "bz2", "xz", "zst", "lz4", "7z",
    "rar", "tar", "deb", "rpm", "apk", "png", "jpg", "jpeg", "gif", "bmp", "ico", "webp", "tif",
    "tiff", "svgz", "woff", "woff2", "ttf", "otf", "eot", "pdf", "mo", "gmo", "db", "sqlite",
    "sqlite3", "mp3", "mp4", "wav", "ogg", "avi", "mov", "iso", "img", "pack", "idx", "pdb",
];

/// Documentation-only files inside dependency trees (`node_modules`, Python
/// `*.dist-info` metadata): README/CHANGELOG examples are the main source of false
/// positives there.
fn is_dependency_doc(path: &str, file_name: &str, ext: &str) -> bool {
    if path.contains("node_modules/") {
        let upper = file_name.to_ascii_uppercase();
        return matches!(ext, "md" | "markdown" | "txt" | "map")
            || file_name.ends_with(".d.ts")
            || upper.starts_with("README")
            || upper.starts_with("CHANGELOG")
            || upper.starts_with("LICENSE");
    }
    (path.contains(".dist-info/") && file_name == "METADATA")
        || (path.contains(".egg-info/") && file_name == "PKG-INFO")
}

/// Built-in allowed paths (regexes on the path without its leading `/`): test data
/// shipped inside third-party dependencies and language runtimes, which is full of
/// deliberately published sample keys (CPython's `test/` suite, Go's `testdata/`,
/// libraries' `tests/` directories). A user's own `tests/` directory at any other place
/// is still scanned. Turned off by `disable-default-allow-paths`.
pub const DEFAULT_ALLOW_PATHS: &[&str] = &[
    r"(^|/)(site|dist)-packages/.+/tests?/",
    r"(^|/)lib/python[0-9.]+/test/",
    r"(^|/)node_modules/.+/(test|tests|__tests__|fixtures?)/",
    r"(^|/)go/(src|pkg/mod)/.+/testdata/",
    r"(^|/)gems/[^/]+/(test|spec)/",
];

/// Why a scanner could not be built. Every variant names what was wrong and where.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// The config file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// File.
        path: String,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The config file is not valid YAML or does not have the expected shape.
    #[error("{origin}: invalid secret scanning config: {message}")]
    Config {
        /// File (or other origin).
        origin: String,
        /// What is wrong, with line and column where known.
        message: String,
    },
    /// A regex in a rule or allow-list does not compile (or exceeds the size limits).
    #[error("rule {rule}: invalid {what} regex: {source}")]
    Regex {
        /// Rule id, or `allow-paths` / `allow-regexes`.
        rule: String,
        /// Which regex (`match`, `path`, `allow`).
        what: &'static str,
        /// Cause.
        #[source]
        source: Box<regex::Error>,
    },
    /// A rule is malformed in another way.
    #[error("rule {rule}: {reason}")]
    Rule {
        /// Rule id.
        rule: String,
        /// What is wrong.
        reason: String,
    },
}

/// A compiled rule.
struct Rule {
    id: String,
    category: String,
    title: String,
    severity: Severity,
    regex: BytesRegex,
    /// Capture group index of the secret; `None`: the whole match.
    secret_group: Option<usize>,
    path: Option<Regex>,
    allow: Vec<BytesRegex>,
    check: rules::Check,
    /// Every match lies on one line with a keyword, so the regex only needs to search
    /// the lines holding keyword hits. False for multi-line rules (private keys) and
    /// for custom rules, whose shape we cannot know.
    single_line: bool,
}

fn compile_bytes(pattern: &str, rule: &str, what: &'static str) -> Result<BytesRegex, SecretError> {
    if pattern.len() > config::MAX_REGEX_LEN {
        return Err(SecretError::Rule {
            rule: rule.to_string(),
            reason: format!(
                "{what} regex is {} bytes, over the {}-byte limit",
                pattern.len(),
                config::MAX_REGEX_LEN
            ),
        });
    }
    regex::bytes::RegexBuilder::new(pattern)
        .unicode(false)
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(REGEX_DFA_LIMIT)
        .build()
        .map_err(|e| SecretError::Regex {
            rule: rule.to_string(),
            what,
            source: Box::new(e),
        })
}

fn compile_str(pattern: &str, rule: &str, what: &'static str) -> Result<Regex, SecretError> {
    if pattern.len() > config::MAX_REGEX_LEN {
        return Err(SecretError::Rule {
            rule: rule.to_string(),
            reason: format!(
                "{what} regex is over the {}-byte limit",
                config::MAX_REGEX_LEN
            ),
        });
    }
    regex::RegexBuilder::new(pattern)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|e| SecretError::Regex {
            rule: rule.to_string(),
            what,
            source: Box::new(e),
        })
}

/// The secret scanner: compiled rules, the keyword prefilter and the allow-lists.
/// Cheap to share across threads (`Send + Sync`); build it once per scan.
pub struct Scanner {
    rules: Vec<Rule>,
    /// Aho-Corasick over every distinct keyword; `None` when no rule has keywords.
    prefilter: Option<AhoCorasick>,
    /// For each prefilter pattern, the rules that listed it.
    pattern_rules: Vec<Vec<usize>>,
    /// Rules without keywords: they run on every scanned file.
    unkeyed: Vec<usize>,
    allow_paths: Option<RegexSet>,
    allow_values: Vec<BytesRegex>,
    max_file_size: u64,
}

impl std::fmt::Debug for Scanner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scanner")
            .field("rules", &self.rules.len())
            .field("max_file_size", &self.max_file_size)
            .finish_non_exhaustive()
    }
}

/// A regex match accepted as a secret, before it becomes a finding. Holds offsets only,
/// never a copy of the secret, and deliberately has no `Debug`.
struct Hit {
    rule: usize,
    /// Start of the match (the reported line is the line of this offset).
    start: usize,
    secret: Range<usize>,
}

impl Scanner {
    /// Compile the built-in rules plus the config's custom rules, minus disabled ones.
    pub fn new(config: &SecretConfig) -> Result<Scanner, SecretError> {
        let mut rules = Vec::new();
        let mut keywords: Vec<Vec<String>> = Vec::new();
        let mut seen = std::collections::HashSet::new();

        for custom in &config.rules {
            if custom.id.trim().is_empty() {
                return Err(SecretError::Rule {
                    rule: String::from("(unnamed)"),
                    reason: "custom rule has an empty id".into(),
                });
            }
            if !seen.insert(custom.id.clone()) {
                return Err(SecretError::Rule {
                    rule: custom.id.clone(),
                    reason: "rule id is defined twice".into(),
                });
            }
            if custom.keywords.iter().any(|k| k.is_empty()) {
                return Err(SecretError::Rule {
                    rule: custom.id.clone(),
                    reason: "empty keyword (it would match every file)".into(),
                });
            }
            let regex = compile_bytes(&custom.regex, &custom.id, "match")?;
            let secret_group = match &custom.secret_group {
                Some(name) => Some(regex_group(&regex, name).ok_or_else(|| SecretError::Rule {
                    rule: custom.id.clone(),
                    reason: format!("secret-group {name:?} is not a named group of the regex"),
                })?),
                None => regex_group(&regex, "secret"),
            };
            let path = custom
                .path
                .as_deref()
                .map(|p| compile_str(p, &custom.id, "path"))
                .transpose()?;
            let allow = custom
                .allow_regexes
                .iter()
                .map(|a| compile_bytes(a, &custom.id, "allow"))
                .collect::<Result<Vec<_>, _>>()?;
            rules.push(Rule {
                id: custom.id.clone(),
                category: custom.category.clone(),
                title: custom.title.clone(),
                severity: custom.severity,
                regex,
                secret_group,
                path,
                allow,
                check: rules::Check::None,
                single_line: false,
            });
            keywords.push(custom.keywords.clone());
        }

        for b in rules::BUILTINS {
            if !seen.insert(b.id.to_string()) {
                return Err(SecretError::Rule {
                    rule: b.id.to_string(),
                    reason: "custom rule reuses a built-in rule id".into(),
                });
            }
            let regex = compile_bytes(b.regex, b.id, "match")?;
            let secret_group = regex_group(&regex, "secret");
            let allow = b
                .allow
                .iter()
                .map(|a| compile_bytes(a, b.id, "allow"))
                .collect::<Result<Vec<_>, _>>()?;
            rules.push(Rule {
                id: b.id.to_string(),
                category: b.category.to_string(),
                title: b.title.to_string(),
                severity: b.severity,
                regex,
                secret_group,
                path: None,
                allow,
                check: b.check,
                single_line: b.check != rules::Check::PemBody,
            });
            keywords.push(b.keywords.iter().map(|k| k.to_string()).collect());
        }

        for id in &config.disable_rules {
            if !seen.contains(id) {
                return Err(SecretError::Rule {
                    rule: id.clone(),
                    reason: "disable-rules names an unknown rule id".into(),
                });
            }
        }
        let (rules, keywords): (Vec<Rule>, Vec<Vec<String>>) = rules
            .into_iter()
            .zip(keywords)
            .filter(|(r, _)| !config.disable_rules.contains(&r.id))
            .unzip();

        // One prefilter pattern per distinct (lower-cased) keyword.
        let mut patterns: Vec<String> = Vec::new();
        let mut pattern_rules: Vec<Vec<usize>> = Vec::new();
        let mut unkeyed = Vec::new();
        for (idx, kws) in keywords.iter().enumerate() {
            if kws.is_empty() {
                unkeyed.push(idx);
            }
            for kw in kws {
                let lower = kw.to_ascii_lowercase();
                match patterns.iter().position(|p| *p == lower) {
                    Some(pos) => {
                        if let Some(list) = pattern_rules.get_mut(pos) {
                            list.push(idx);
                        }
                    }
                    None => {
                        patterns.push(lower);
                        pattern_rules.push(vec![idx]);
                    }
                }
            }
        }
        let prefilter = if patterns.is_empty() {
            None
        } else {
            Some(
                AhoCorasick::builder()
                    .ascii_case_insensitive(true)
                    .match_kind(MatchKind::Standard)
                    .kind(Some(AhoCorasickKind::DFA))
                    .build(&patterns)
                    .map_err(|e| SecretError::Rule {
                        rule: String::from("(keywords)"),
                        reason: format!("cannot build the keyword prefilter: {e}"),
                    })?,
            )
        };

        let mut allow_path_patterns: Vec<&str> = Vec::new();
        if !config.disable_default_allow_paths {
            allow_path_patterns.extend(DEFAULT_ALLOW_PATHS);
        }
        allow_path_patterns.extend(config.allow_paths.iter().map(String::as_str));
        for p in &allow_path_patterns {
            // Compile one by one first so an error names the bad pattern.
            compile_str(p, "allow-paths", "path")?;
        }
        let allow_paths = if allow_path_patterns.is_empty() {
            None
        } else {
            Some(
                regex::RegexSetBuilder::new(&allow_path_patterns)
                    .size_limit(REGEX_SIZE_LIMIT)
                    .build()
                    .map_err(|e| SecretError::Regex {
                        rule: "allow-paths".into(),
                        what: "path",
                        source: Box::new(e),
                    })?,
            )
        };
        let allow_values = config
            .allow_regexes
            .iter()
            .map(|a| compile_bytes(a, "allow-regexes", "allow"))
            .collect::<Result<Vec<_>, _>>()?;

        Ok(Scanner {
            rules,
            prefilter,
            pattern_rules,
            unkeyed,
            allow_paths,
            allow_values,
            max_file_size: config.max_file_size,
        })
    }

    /// The ids of the active rules, in the order they take precedence.
    pub fn rule_ids(&self) -> impl Iterator<Item = &str> {
        self.rules.iter().map(|r| r.id.as_str())
    }

    /// Why a file would be skipped without reading it, or `None` when it should be
    /// scanned: `"too large"`, `"binary extension"`, `"noise path"`,
    /// `"dependency documentation"` or `"allowed path"`.
    pub fn skip_reason(&self, path: &str, size: u64) -> Option<&'static str> {
        if size > self.max_file_size {
            return Some("too large");
        }
        let rel = normalize_path(path);
        let file_name = rel.rsplit('/').next().unwrap_or(rel);
        let ext = file_name
            .rsplit_once('.')
            .map(|(_, e)| e.to_ascii_lowercase())
            .unwrap_or_default();
        if BINARY_EXTENSIONS.contains(&ext.as_str()) || is_versioned_shared_object(file_name) {
            return Some("binary extension");
        }
        if NOISE_PREFIXES.iter().any(|p| rel.starts_with(p)) || rel.contains("/__pycache__/") {
            return Some("noise path");
        }
        if is_dependency_doc(rel, file_name, &ext) {
            return Some("dependency documentation");
        }
        if self.path_allowed(rel) {
            return Some("allowed path");
        }
        None
    }

    /// Whether the file at `path` (absolute or image-relative) of `size` bytes should be
    /// read and passed to [`Scanner::scan`]. See [`Scanner::skip_reason`].
    pub fn wants(&self, path: &str, size: u64) -> bool {
        self.skip_reason(path, size).is_none()
    }

    fn path_allowed(&self, rel: &str) -> bool {
        self.allow_paths
            .as_ref()
            .is_some_and(|set| set.is_match(rel))
    }

    /// Scan one file's contents. Binary content (a NUL byte in the first [`SNIFF_LEN`]
    /// bytes), content over the size limit and allowed paths give no findings. Findings
    /// come sorted by line; at most [`MAX_FINDINGS_PER_FILE`].
    pub fn scan(&self, path: &str, data: &[u8]) -> Vec<SecretFinding> {
        if data.len() as u64 > self.max_file_size
            || memchr::memchr(0, data.get(..SNIFF_LEN).unwrap_or(data)).is_some()
            || self.path_allowed(normalize_path(path))
        {
            return Vec::new();
        }
        let windows = self.triggered(data);
        let mut hits: Vec<Hit> = Vec::new();
        'rules: for (idx, rule) in self.rules.iter().enumerate() {
            let Some(rule_windows) = windows.get(idx).and_then(Option::as_ref) else {
                continue;
            };
            if let Some(p) = &rule.path {
                if !p.is_match(path) && !p.is_match(normalize_path(path)) {
                    continue;
                }
            }
            for window in rule_windows {
                let Some(hay) = data.get(window.clone()) else {
                    continue;
                };
                for (start, secret) in rule_matches(rule, hay) {
                    let secret = (secret.start + window.start)..(secret.end + window.start);
                    let start = start + window.start;
                    let Some(value) = data.get(secret.clone()) else {
                        continue;
                    };
                    if value.is_empty()
                        || !checks::passes(rule.check, value)
                        || (rule.check == rules::Check::Generic
                            && checks::generic_context_is_code(data, &secret))
                        || rule.allow.iter().any(|a| a.is_match(value))
                        || self.allow_values.iter().any(|a| a.is_match(value))
                        || hits.iter().any(|h| overlaps(&h.secret, &secret))
                    {
                        continue;
                    }
                    hits.push(Hit {
                        rule: idx,
                        start,
                        secret,
                    });
                    if hits.len() >= MAX_FINDINGS_PER_FILE {
                        break 'rules;
                    }
                }
            }
        }
        self.findings(path, data, hits)
    }

    /// For each rule, the byte ranges its regex must search, or `None` when none of its
    /// keywords occur.
    fn triggered(&self, data: &[u8]) -> Vec<Option<Vec<Range<usize>>>> {
        let whole = data.len() <= WINDOW_THRESHOLD;
        let mut windows: Vec<Option<Vec<Range<usize>>>> = Vec::new();
        windows.resize_with(self.rules.len(), || None);
        for &idx in &self.unkeyed {
            if let Some(slot) = windows.get_mut(idx) {
                *slot = Some(std::iter::once(0..data.len()).collect());
            }
        }
        let Some(ac) = &self.prefilter else {
            return windows;
        };
        for m in ac.find_overlapping_iter(data) {
            let Some(rule_ids) = self.pattern_rules.get(m.pattern().as_usize()) else {
                continue;
            };
            // Computed at most once per hit, and only when some rule needs it.
            let mut line_w: Option<Range<usize>> = None;
            for &idx in rule_ids {
                let (Some(slot), Some(rule)) = (windows.get_mut(idx), self.rules.get(idx)) else {
                    continue;
                };
                let w = if rule.single_line {
                    // Already covered by the window of an earlier hit on this line.
                    if slot
                        .as_ref()
                        .and_then(|l| l.last())
                        .is_some_and(|last| last.start <= m.start() && m.end() <= last.end)
                    {
                        continue;
                    }
                    line_w
                        .get_or_insert_with(|| hit_line(data, m.start(), m.end()))
                        .clone()
                } else if whole {
                    if slot.is_none() {
                        *slot = Some(std::iter::once(0..data.len()).collect());
                    }
                    continue;
                } else {
                    line_window(data, m.start(), m.end())
                };
                let list = slot.get_or_insert_with(Vec::new);
                match list.last_mut() {
                    // Touching windows (consecutive lines) merge: fewer regex calls.
                    Some(last) if w.start <= last.end.saturating_add(1) => {
                        last.start = last.start.min(w.start);
                        last.end = last.end.max(w.end);
                    }
                    _ => list.push(w),
                }
            }
        }
        windows
    }

    fn findings(&self, path: &str, data: &[u8], mut hits: Vec<Hit>) -> Vec<SecretFinding> {
        hits.sort_by_key(|h| (h.start, h.rule));
        let all_secrets: Vec<Range<usize>> = hits.iter().map(|h| h.secret.clone()).collect();
        let mut out = Vec::with_capacity(hits.len());
        let mut line_no: usize = 1;
        let mut counted_to: usize = 0;
        for hit in &hits {
            let Some(rule) = self.rules.get(hit.rule) else {
                continue;
            };
            let at = hit.start.min(data.len());
            line_no = line_no.saturating_add(
                memchr::memchr_iter(b'\n', data.get(counted_to..at).unwrap_or_default()).count(),
            );
            counted_to = at.max(counted_to);
            out.push(SecretFinding {
                rule_id: rule.id.clone(),
                category: rule.category.clone(),
                title: rule.title.clone(),
                severity: rule.severity,
                path: path.to_string(),
                line: Some(u32::try_from(line_no).unwrap_or(u32::MAX)),
                redacted: redact_line(data, at, &hit.secret, &all_secrets),
                layer: None,
                deleted: false,
                suppressed: None,
            });
        }
        // Repeats of one secret on one line give indistinguishable findings.
        out.dedup_by(|a, b| a.rule_id == b.rule_id && a.line == b.line && a.redacted == b.redacted);
        out
    }
}

/// The index of the named capture group, if the regex has it.
fn regex_group(regex: &BytesRegex, name: &str) -> Option<usize> {
    regex.capture_names().position(|n| n == Some(name))
}

/// All matches of `rule` in `hay` as (match start, secret range), offsets into `hay`.
/// Leading line breaks of a match (rules that start with `(?:^|[^…])`) are skipped so
/// the reported line is the secret's.
fn rule_matches(rule: &Rule, hay: &[u8]) -> Vec<(usize, Range<usize>)> {
    let mut out = Vec::new();
    match rule.secret_group {
        Some(group) => {
            for caps in rule.regex.captures_iter(hay) {
                let (Some(whole), Some(secret)) = (caps.get(0), caps.get(group)) else {
                    continue;
                };
                let mut start = whole.start();
                while start < secret.start() && matches!(hay.get(start), Some(b'\n' | b'\r')) {
                    start += 1;
                }
                out.push((start, secret.range()));
            }
        }
        None => out.extend(rule.regex.find_iter(hay).map(|m| (m.start(), m.range()))),
    }
    out
}

fn overlaps(a: &Range<usize>, b: &Range<usize>) -> bool {
    a.start < b.end && b.start < a.end
}

/// The line holding a keyword hit at `start..end`, cut to [`LINE_STRETCH`] bytes on
/// either side for very long lines (minified code), and never shorter than the hit.
pub(crate) fn hit_line(data: &[u8], start: usize, end: usize) -> Range<usize> {
    let back_limit = start.saturating_sub(LINE_STRETCH);
    let ls = match data
        .get(back_limit..start)
        .and_then(|b| memchr::memrchr(b'\n', b))
    {
        Some(nl) => back_limit + nl + 1,
        None => back_limit,
    };
    let fwd_limit = end.saturating_add(LINE_STRETCH).min(data.len());
    let le = match data
        .get(end..fwd_limit)
        .and_then(|a| memchr::memchr(b'\n', a))
    {
        Some(nl) => end + nl,
        None => fwd_limit,
    };
    ls..le.max(end)
}

/// A window around a keyword hit at `start..end`, stretched to whole lines (within
/// [`LINE_STRETCH`]) so anchors and word boundaries behave as on the whole file.
fn line_window(data: &[u8], start: usize, end: usize) -> Range<usize> {
    let mut ws = start.saturating_sub(WINDOW_BEFORE);
    let mut we = end.saturating_add(WINDOW_AFTER).min(data.len());
    let back_limit = ws.saturating_sub(LINE_STRETCH);
    if let Some(before) = data.get(back_limit..ws) {
        ws = match memchr::memrchr(b'\n', before) {
            Some(nl) => back_limit + nl + 1,
            None => back_limit,
        };
    }
    let fwd_limit = we.saturating_add(LINE_STRETCH).min(data.len());
    if let Some(after) = data.get(we..fwd_limit) {
        we = match memchr::memchr(b'\n', after) {
            Some(nl) => we + nl,
            None => fwd_limit,
        };
    }
    ws..we
}

/// The line holding offset `at`, with every secret range that touches it replaced by
/// [`REDACTION`], cut to about [`MAX_REDACTED_LEN`] bytes around this hit's secret.
/// Masks are applied before cutting, and a mask cut by the window edge is still
/// replaced whole, so no part of a secret survives.
fn redact_line(
    data: &[u8],
    at: usize,
    secret: &Range<usize>,
    all_secrets: &[Range<usize>],
) -> String {
    let line_start =
        memchr::memrchr(b'\n', data.get(..at).unwrap_or_default()).map_or(0, |p| p + 1);
    let line_end =
        memchr::memchr(b'\n', data.get(at..).unwrap_or_default()).map_or(data.len(), |p| at + p);
    let mut line_end = line_end;
    if line_end > line_start && data.get(line_end - 1) == Some(&b'\r') {
        line_end -= 1;
    }
    let line = line_start..line_end;

    let mut masks: Vec<Range<usize>> = all_secrets
        .iter()
        .filter(|s| overlaps(s, &line))
        .map(|s| s.start.max(line.start)..s.end.min(line.end))
        .collect();
    // Other copies of this secret on the same line (`KEY=x ... KEY2=x`).
    if let Some(value) = data.get(secret.clone()).filter(|v| v.len() >= 4) {
        if let Some(hay) = data.get(line.clone()) {
            for pos in memchr::memmem::find_iter(hay, value) {
                masks.push((line.start + pos)..(line.start + pos + value.len()));
            }
        }
    }
    masks.sort_by_key(|m| m.start);
    let mut merged: Vec<Range<usize>> = Vec::new();
    for m in masks {
        match merged.last_mut() {
            Some(last) if m.start <= last.end => last.end = last.end.max(m.end),
            _ => merged.push(m),
        }
    }

    // The part of the line to show: centred on this hit's secret (or the match start).
    let focus = if overlaps(secret, &line) {
        secret.start.max(line.start)
    } else {
        at
    };
    let (view_start, view_end) = view_bounds(&merged, &line, focus, MAX_REDACTED_LEN / 2);

    let mut out: Vec<u8> = Vec::with_capacity(view_end.saturating_sub(view_start) + 16);
    if view_start > line.start {
        out.extend_from_slice("…".as_bytes());
    }
    let mut pos = view_start;
    for m in merged
        .iter()
        .filter(|m| m.end > view_start && m.start < view_end)
    {
        out.extend_from_slice(data.get(pos..m.start.max(pos)).unwrap_or_default());
        out.extend_from_slice(REDACTION.as_bytes());
        pos = m.end.max(pos);
    }
    out.extend_from_slice(data.get(pos..view_end.max(pos)).unwrap_or_default());
    if view_end < line.end {
        out.extend_from_slice("…".as_bytes());
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The part of `line` to show around `focus`: about `budget` output bytes on each side,
/// where a mask counts as the length of [`REDACTION`]. Bounds never fall inside a mask,
/// so a mask is always shown whole (as `*****`) and no part of a secret survives.
fn view_bounds(
    masks: &[Range<usize>],
    line: &Range<usize>,
    focus: usize,
    budget: usize,
) -> (usize, usize) {
    let mask_len = REDACTION.len();
    // Forward from the focus.
    let mut end = focus;
    let mut left = budget;
    let mut ahead = masks.iter().filter(|m| m.end > focus).peekable();
    while end < line.end && left > 0 {
        match ahead.peek() {
            Some(m) if m.start <= end => {
                end = m.end.max(end);
                left = left.saturating_sub(mask_len);
                ahead.next();
            }
            Some(m) => {
                let step = (m.start - end).min(left);
                end += step;
                left -= step;
            }
            None => {
                end = end.saturating_add(left).min(line.end);
                left = 0;
            }
        }
    }
    // Backward from the focus.
    let mut start = focus;
    let mut left = budget;
    let mut behind = masks.iter().rev().filter(|m| m.start < focus).peekable();
    while start > line.start && left > 0 {
        match behind.peek() {
            Some(m) if m.end >= start => {
                start = m.start.min(start);
                left = left.saturating_sub(mask_len);
                behind.next();
            }
            Some(m) => {
                let step = (start - m.end).min(left);
                start -= step;
                left -= step;
            }
            None => {
                start = start.saturating_sub(left).max(line.start);
                left = 0;
            }
        }
    }
    (start.max(line.start), end.min(line.end))
}

/// The path as used for path rules: without a leading `/` or `./`.
fn normalize_path(path: &str) -> &str {
    let p = path.strip_prefix("./").unwrap_or(path);
    p.trim_start_matches('/')
}

/// `libfoo.so.1`, `libfoo.so.1.2.3`.
fn is_versioned_shared_object(file_name: &str) -> bool {
    match file_name.find(".so.") {
        Some(pos) => file_name.get(pos + 4..).is_some_and(|v| {
            !v.is_empty()
                && v.split('.')
                    .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        }),
        None => false,
    }
}

/// Fuzzing entry point: scan arbitrary bytes with the default rules. Must never panic
/// or hang; a `cargo fuzz` target just calls this (see `fuzz/` in this crate).
pub fn fuzz_scan(data: &[u8]) {
    static SCANNER: OnceLock<Option<Scanner>> = OnceLock::new();
    if let Some(scanner) = SCANNER.get_or_init(|| Scanner::new(&SecretConfig::default()).ok()) {
        let _ = scanner.scan("fuzz/input", data);
        // Exercise the windowed path too: pretend the input is a slice of a large file.
        if data.len() > 64 {
            let mut big = vec![b'\n'; WINDOW_THRESHOLD + 1];
            big.extend_from_slice(data);
            let _ = scanner.scan("fuzz/input", &big);
        }
    }
}

/// Fuzzing entry point for the config parser and rule compiler.
pub fn fuzz_config(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(config) = SecretConfig::from_yaml_str(&text, "fuzz") {
        let _ = Scanner::new(&config);
    }
}
