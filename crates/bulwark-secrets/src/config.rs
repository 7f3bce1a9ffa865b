//! Scanner configuration and its YAML file form (`bulwark-secret.yaml`).
//!
//! ```yaml
//! max-file-size: 10485760          # bytes; larger files are skipped
//! disable-rules: [jwt]             # built-in or custom rule ids
//! allow-paths: ['^opt/demo/']      # regexes on the file path (no leading `/`)
//! allow-regexes: ['DEMO[0-9]+']    # regexes on the secret value, for every rule
//! disable-default-allow-paths: false
//! rules:
//!   - id: acme-api-token
//!     category: ACME
//!     title: ACME API token
//!     severity: HIGH
//!     regex: 'acme_(?P<secret>[a-z0-9]{32})'
//!     keywords: [acme_]            # prefilter; without keywords the rule runs on every file
//!     secret-group: secret         # optional; default: the group named `secret` if any
//!     path: '\.env$'               # optional: only scan matching paths
//!     allow-regexes: ['^0+$']      # optional: per-rule allowed secret values
//! ```
//!
//! Unknown keys are an error, so a typo (`disabled-rules`) is caught instead of being
//! silently ignored.

use std::path::Path;

use bulwark_core::Severity;
use serde::Deserialize;

use crate::SecretError;

/// Default for [`SecretConfig::max_file_size`]: 10 MiB.
pub const DEFAULT_MAX_FILE_SIZE: u64 = 10 * 1024 * 1024;
/// The largest config file read.
pub const MAX_CONFIG_FILE_SIZE: u64 = 1024 * 1024;
/// The most custom rules a config may define.
pub const MAX_CUSTOM_RULES: usize = 1000;
/// The longest regex (in bytes) a config may contain.
pub const MAX_REGEX_LEN: usize = 4096;

/// A user-defined rule.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct CustomRule {
    /// Unique id, reported as the finding's `rule_id`.
    pub id: String,
    /// Category (`ACME`).
    pub category: String,
    /// Human title.
    pub title: String,
    /// Severity (`LOW`, `MEDIUM`, `HIGH`, `CRITICAL`; case-insensitive).
    #[serde(deserialize_with = "de_severity")]
    pub severity: Severity,
    /// Regex (Rust `regex` syntax, Unicode off by default: use `(?u)` to enable).
    pub regex: String,
    /// Prefilter keywords (ASCII-case-insensitive). Empty: run on every file.
    #[serde(default)]
    pub keywords: Vec<String>,
    /// Name of the capture group holding the secret; default `secret` when the regex
    /// has such a group, else the whole match.
    #[serde(default, alias = "secret-group-name")]
    pub secret_group: Option<String>,
    /// Only files whose path matches this regex are scanned with this rule.
    #[serde(default)]
    pub path: Option<String>,
    /// Secret values matching any of these regexes are not reported.
    #[serde(default)]
    pub allow_regexes: Vec<String>,
}

/// Everything a [`crate::Scanner`] can be told. `Default` gives the built-in behaviour.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct SecretConfig {
    /// Files larger than this many bytes are skipped by [`crate::Scanner::wants`].
    pub max_file_size: u64,
    /// Extra rules, checked before the built-in ones.
    pub rules: Vec<CustomRule>,
    /// Rule ids (built-in or custom) to turn off. An unknown id is an error.
    pub disable_rules: Vec<String>,
    /// Extra path regexes whose files are not scanned.
    pub allow_paths: Vec<String>,
    /// Extra regexes on the secret value that suppress a finding for every rule.
    pub allow_regexes: Vec<String>,
    /// Turn off the built-in allowed paths (third-party test data; see
    /// [`crate::DEFAULT_ALLOW_PATHS`]).
    pub disable_default_allow_paths: bool,
}

impl Default for SecretConfig {
    fn default() -> Self {
        SecretConfig {
            max_file_size: DEFAULT_MAX_FILE_SIZE,
            rules: Vec::new(),
            disable_rules: Vec::new(),
            allow_paths: Vec::new(),
            allow_regexes: Vec::new(),
            disable_default_allow_paths: false,
        }
    }
}

fn de_severity<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Severity, D::Error> {
    let s = String::deserialize(d)?;
    s.parse().map_err(serde::de::Error::custom)
}

impl SecretConfig {
    /// Parse the YAML form. `origin` names the source in error messages.
    pub fn from_yaml_str(text: &str, origin: &str) -> Result<Self, SecretError> {
        if text.trim().is_empty() {
            return Ok(SecretConfig::default());
        }
        let config: SecretConfig =
            serde_yaml_ng::from_str(text).map_err(|e| SecretError::Config {
                origin: origin.to_string(),
                message: e.to_string(),
            })?;
        if config.rules.len() > MAX_CUSTOM_RULES {
            return Err(SecretError::Config {
                origin: origin.to_string(),
                message: format!(
                    "{} custom rules exceed the limit of {MAX_CUSTOM_RULES}",
                    config.rules.len()
                ),
            });
        }
        Ok(config)
    }

    /// Read and parse a config file (at most [`MAX_CONFIG_FILE_SIZE`] bytes).
    pub fn load(path: &Path) -> Result<Self, SecretError> {
        use std::io::Read as _;
        let origin = path.display().to_string();
        let io_err = |source| SecretError::Io {
            path: origin.clone(),
            source,
        };
        let file = std::fs::File::open(path).map_err(io_err)?;
        let mut text = String::new();
        let read = file
            .take(MAX_CONFIG_FILE_SIZE.saturating_add(1))
            .read_to_string(&mut text)
            .map_err(io_err)?;
        if read as u64 > MAX_CONFIG_FILE_SIZE {
            return Err(SecretError::Config {
                origin,
                message: format!("larger than the {MAX_CONFIG_FILE_SIZE}-byte limit"),
            });
        }
        Self::from_yaml_str(&text, &origin)
    }
}
