//! The admission policy file: its YAML schema (serde types, unknown fields refused), and
//! loading with validation into a [`Policy`] ready to evaluate (keys read, identities
//! compiled, Rego compiled, durations parsed, exactly one kind per rule).
//!
//! Every error names the file, the field path (`rules[2].podSecurity.level`) and what is
//! wrong. Repeated keys are refused (unlike manifests, a policy file is ours to define,
//! and a repeated key in a security policy is a mistake, not something to resolve).
//! The schema is documented in docs/admission.md.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bulwark_misconfig::{PssLevel, PssVersion};
use bulwark_sign::{Matcher, PublicKey, TrustedRoot};
use serde::Deserialize;

use crate::glob::Glob;

/// Largest policy file read.
pub const MAX_POLICY_FILE: u64 = 1024 * 1024;
/// Largest key, trusted root or Rego file a policy names.
pub const MAX_REFERENCED_FILE: u64 = 4 * 1024 * 1024;

/// The `apiVersion` a policy file must declare.
pub const API_VERSION: &str = "bulwark.dev/v1alpha1";
/// The `kind` a policy file must declare.
pub const KIND: &str = "AdmissionPolicy";

/// Why a policy file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The file (or a file it names) could not be read.
    #[error("{path}: cannot read: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not a valid policy.
    #[error("{path}: {field}: {message}")]
    Invalid {
        /// The policy file.
        path: String,
        /// Field path (`rules[1].verifyImages[0].keys[0]`), or `(document)`.
        field: String,
        /// What is wrong.
        message: String,
    },
}

/// The policy file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PolicyFile {
    /// Must be [`API_VERSION`].
    pub api_version: String,
    /// Must be [`KIND`].
    pub kind: String,
    /// Time budgets and caches.
    #[serde(default)]
    pub settings: SettingsFile,
    /// Requests no rule sees.
    #[serde(default)]
    pub exemptions: Exemptions,
    /// The rules, evaluated in order; every rule is evaluated (all reasons are reported).
    #[serde(default)]
    pub rules: Vec<RuleFile>,
}

/// `settings`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SettingsFile {
    /// Budgets of each kind of dependency call.
    #[serde(default)]
    pub timeouts: TimeoutsFile,
    /// Cache sizes and lifetimes.
    #[serde(default)]
    pub cache: CacheFile,
}

/// `settings.timeouts`: durations like `500ms`, `2s`, `1m`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TimeoutsFile {
    /// Tag → digest resolution (default 2s).
    pub resolve: Option<String>,
    /// Signature / attestation verification of one image (default 4s).
    pub signature: Option<String>,
    /// On-demand vulnerability scan of one image (default 6s).
    pub vulnerability: Option<String>,
}

/// `settings.cache`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CacheFile {
    /// How long a verified signature is remembered (default 1h).
    pub success_ttl: Option<String>,
    /// How long a failed verification is remembered (default 5m).
    pub failure_ttl: Option<String>,
    /// How long a tag → digest resolution is remembered (default 30s).
    pub tag_ttl: Option<String>,
    /// How long an on-demand scan's findings are remembered (default 1h).
    pub scan_ttl: Option<String>,
    /// Most entries per cache (default 10000).
    pub capacity: Option<usize>,
}

/// Who is never checked (global) or not checked by one rule (`exclude`).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Exemptions {
    /// Namespace globs.
    #[serde(default)]
    pub namespaces: Vec<String>,
    /// Requesting user names (globs), e.g. `system:serviceaccount:ci:*`.
    #[serde(default)]
    pub usernames: Vec<String>,
    /// Requesting user's groups (globs).
    #[serde(default)]
    pub groups: Vec<String>,
    /// Requesting service accounts as `NAMESPACE/NAME` globs (the request's user
    /// `system:serviceaccount:NAMESPACE:NAME`).
    #[serde(default)]
    pub service_accounts: Vec<String>,
}

/// `rules[*].match`: every given selector must match (absent selectors match all).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct MatchFile {
    /// Namespace globs.
    #[serde(default)]
    pub namespaces: Vec<String>,
    /// Pod labels that must all be present with these values (`*` globs allowed).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Image globs on `registry/repository` (`ghcr.io/acme/*`): image rules apply to the
    /// matching containers only; pod rules apply when any container matches.
    #[serde(default)]
    pub images: Vec<String>,
    /// Requesting user globs.
    #[serde(default)]
    pub usernames: Vec<String>,
    /// Requesting user's group globs (any group).
    #[serde(default)]
    pub groups: Vec<String>,
    /// Object kinds (`Pod`, `Deployment`, ...).
    #[serde(default)]
    pub kinds: Vec<String>,
}

/// `mode`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Violations deny (validation) or patch (mutation).
    #[default]
    Enforce,
    /// Violations are warnings only; nothing is denied or patched.
    Audit,
}

/// `onError`: what a rule decides when a dependency it needs (registry, vulnerability
/// DB, scan) cannot answer within its budget.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OnError {
    /// Fail closed: the request is denied (audit rules warn).
    #[default]
    Deny,
    /// Fail open: the request passes this rule, with a warning saying it was not checked.
    Allow,
}

/// One rule as written: a name, selection, mode, and exactly one kind.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RuleFile {
    /// Unique name (shown in reasons).
    pub name: String,
    /// `enforce` (default) or `audit`.
    #[serde(default)]
    pub mode: Mode,
    /// Which requests the rule sees.
    #[serde(default, rename = "match")]
    pub match_: MatchFile,
    /// Which requests it ignores.
    #[serde(default)]
    pub exclude: Exemptions,
    /// Failure direction when a dependency is down.
    #[serde(default)]
    pub on_error: OnError,
    /// Images must come from these `registry/repository` globs.
    pub allowed_registries: Option<Vec<String>>,
    /// Tags are replaced by `tag@digest` (mutation).
    pub pin_digests: Option<PinFile>,
    /// Pod labels that must be present.
    pub require_labels: Option<Vec<String>>,
    /// Container resources that must be set.
    pub require_resources: Option<ResourcesFile>,
    /// Pod Security Standards level and version.
    pub pod_security: Option<PodSecurityFile>,
    /// Signatures / attestations required.
    pub verify_images: Option<Vec<VerifyFile>>,
    /// Vulnerability gates.
    pub vulnerabilities: Option<VulnFile>,
    /// A Rego file whose `deny` set gives violations.
    pub rego: Option<String>,
}

/// `pinDigests` (no options yet; `{}`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PinFile {}

/// `requireResources`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourcesFile {
    /// Resource names every container must request (`cpu`, `memory`).
    #[serde(default)]
    pub requests: Vec<String>,
    /// Resource names every container must limit.
    #[serde(default)]
    pub limits: Vec<String>,
}

/// `podSecurity`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PodSecurityFile {
    /// `privileged`, `baseline` or `restricted`.
    pub level: String,
    /// `v1.N` or `latest` (default).
    pub version: Option<String>,
}

/// One `verifyImages` entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct VerifyFile {
    /// Image globs this entry covers.
    pub images: Vec<String>,
    /// Public key files (PEM), relative to the policy file.
    #[serde(default)]
    pub keys: Vec<String>,
    /// Keyless identities.
    #[serde(default)]
    pub identities: Vec<IdentityFile>,
    /// Sigstore trusted root (needed by identities).
    pub trusted_root: Option<String>,
    /// Require a transparency-log proof for key signatures (default false).
    #[serde(default)]
    pub require_tlog: bool,
    /// Attestation predicate types that must also be present and verified.
    #[serde(default)]
    pub attestations: Vec<String>,
}

/// A keyless identity: certificate SAN and OIDC issuer, exact or regex.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct IdentityFile {
    /// Exact SAN.
    pub subject: Option<String>,
    /// SAN regex (anchored).
    pub subject_regexp: Option<String>,
    /// Exact issuer.
    pub issuer: Option<String>,
    /// Issuer regex (anchored).
    pub issuer_regexp: Option<String>,
}

/// `vulnerabilities`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct VulnFile {
    /// Deny CRITICAL vulnerabilities that have a fixed version.
    #[serde(default)]
    pub no_critical_with_fix: bool,
    /// Deny vulnerabilities in CISA's KEV catalog.
    #[serde(default)]
    pub no_kev: bool,
    /// Deny vulnerabilities whose EPSS probability is above this (0–1).
    pub max_epss: Option<f64>,
}

/// Loaded settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Tag resolution budget.
    pub resolve_timeout: Duration,
    /// Verification budget per image.
    pub signature_timeout: Duration,
    /// Scan budget per image.
    pub vulnerability_timeout: Duration,
    /// Verified-signature TTL.
    pub success_ttl: Duration,
    /// Failed-verification TTL.
    pub failure_ttl: Duration,
    /// Tag resolution TTL.
    pub tag_ttl: Duration,
    /// Scan result TTL.
    pub scan_ttl: Duration,
    /// Entries per cache.
    pub capacity: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            resolve_timeout: Duration::from_secs(2),
            signature_timeout: Duration::from_secs(4),
            vulnerability_timeout: Duration::from_secs(6),
            success_ttl: Duration::from_secs(3600),
            failure_ttl: Duration::from_secs(300),
            tag_ttl: Duration::from_secs(30),
            scan_ttl: Duration::from_secs(3600),
            capacity: 10_000,
        }
    }
}

/// Compiled selectors.
#[derive(Debug, Clone, Default)]
pub struct Selector {
    /// Namespace globs.
    pub namespaces: Vec<Glob>,
    /// Label globs.
    pub labels: Vec<(String, Glob)>,
    /// Image globs.
    pub images: Vec<Glob>,
    /// User globs.
    pub usernames: Vec<Glob>,
    /// Group globs.
    pub groups: Vec<Glob>,
    /// Kinds.
    pub kinds: Vec<String>,
}

/// Compiled exemptions.
#[derive(Debug, Clone, Default)]
pub struct Exempt {
    /// Namespace globs.
    pub namespaces: Vec<Glob>,
    /// User globs.
    pub usernames: Vec<Glob>,
    /// Group globs.
    pub groups: Vec<Glob>,
    /// `NAMESPACE/NAME` globs.
    pub service_accounts: Vec<Glob>,
}

/// Who may have signed, compiled.
#[derive(Debug, Clone)]
pub struct VerifyEntry {
    /// Image globs.
    pub images: Vec<Glob>,
    /// Accepted signers; any one suffices.
    pub signers: Vec<PolicySigner>,
    /// Transparency-log proof required for keys.
    pub require_tlog: bool,
    /// Trusted root for key signatures with log entries.
    pub root: Option<Box<TrustedRoot>>,
    /// Predicate types required.
    pub attestations: Vec<String>,
}

/// An accepted signer with its [`Signer::id`](bulwark_cosign::verify::Signer::id),
/// computed when the policy is loaded (it names the signer in verification-cache keys,
/// looked up on every review).
#[derive(Debug, Clone)]
pub struct PolicySigner {
    /// The signer.
    pub signer: bulwark_cosign::verify::Signer,
    /// Its identity.
    pub id: String,
}

/// What a rule checks.
#[derive(Debug, Clone)]
pub enum RuleKind {
    /// Registry allow-list.
    AllowedRegistries(Vec<Glob>),
    /// Tag → digest pinning (mutation).
    PinDigests,
    /// Labels required on the pod.
    RequireLabels(Vec<String>),
    /// Requests and limits every container must set.
    RequireResources {
        /// Requests.
        requests: Vec<String>,
        /// Limits.
        limits: Vec<String>,
    },
    /// Pod Security Standards.
    PodSecurity {
        /// Level.
        level: PssLevel,
        /// Version.
        version: PssVersion,
    },
    /// Signatures and attestations.
    VerifyImages(Vec<VerifyEntry>),
    /// Vulnerability gates.
    Vulnerabilities {
        /// No CRITICAL with a fix.
        no_critical_with_fix: bool,
        /// No KEV.
        no_kev: bool,
        /// Highest EPSS accepted.
        max_epss: Option<f64>,
    },
    /// Rego escape hatch: file name and source.
    Rego {
        /// Path as given.
        path: String,
        /// Source.
        source: String,
    },
}

impl RuleKind {
    /// Whether the rule mutates (evaluated by the mutating webhook).
    pub fn is_mutation(&self) -> bool {
        matches!(self, RuleKind::PinDigests)
    }
}

/// A compiled rule.
#[derive(Debug, Clone)]
pub struct Rule {
    /// Name.
    pub name: String,
    /// Mode.
    pub mode: Mode,
    /// Selection.
    pub select: Selector,
    /// Per-rule exemptions.
    pub exclude: Exempt,
    /// Failure direction.
    pub on_error: OnError,
    /// What it checks.
    pub kind: RuleKind,
}

/// A loaded, validated policy.
#[derive(Debug, Clone)]
pub struct Policy {
    /// File it came from.
    pub path: String,
    /// Settings.
    pub settings: Settings,
    /// Global exemptions.
    pub exemptions: Exempt,
    /// Rules in file order.
    pub rules: Vec<Rule>,
}

struct Ctx<'a> {
    path: &'a str,
    dir: &'a Path,
}

impl Ctx<'_> {
    fn err(&self, field: impl Into<String>, message: impl Into<String>) -> PolicyError {
        PolicyError::Invalid {
            path: self.path.to_string(),
            field: field.into(),
            message: message.into(),
        }
    }

    fn read(&self, field: &str, rel: &str) -> Result<String, PolicyError> {
        let p: PathBuf = self.dir.join(rel);
        let shown = p.display().to_string();
        let meta = std::fs::metadata(&p).map_err(|e| self.err(field, format!("{shown}: {e}")))?;
        if meta.len() > MAX_REFERENCED_FILE {
            return Err(self.err(
                field,
                format!(
                    "{shown}: {} bytes (at most {MAX_REFERENCED_FILE})",
                    meta.len()
                ),
            ));
        }
        std::fs::read_to_string(&p).map_err(|e| self.err(field, format!("{shown}: {e}")))
    }

    fn duration(
        &self,
        field: &str,
        v: &Option<String>,
        default: Duration,
    ) -> Result<Duration, PolicyError> {
        match v {
            None => Ok(default),
            Some(s) => parse_duration(s).map_err(|m| self.err(field, m)),
        }
    }

    fn globs(&self, field: &str, v: &[String]) -> Result<Vec<Glob>, PolicyError> {
        v.iter()
            .enumerate()
            .map(|(i, g)| Glob::new(g).map_err(|m| self.err(format!("{field}[{i}]"), m)))
            .collect()
    }

    fn exempt(&self, field: &str, e: &Exemptions) -> Result<Exempt, PolicyError> {
        for (i, sa) in e.service_accounts.iter().enumerate() {
            if sa.split('/').count() != 2 {
                return Err(self.err(
                    format!("{field}.serviceAccounts[{i}]"),
                    format!("{sa:?} is not NAMESPACE/NAME (globs allowed)"),
                ));
            }
        }
        Ok(Exempt {
            namespaces: self.globs(&format!("{field}.namespaces"), &e.namespaces)?,
            usernames: self.globs(&format!("{field}.usernames"), &e.usernames)?,
            groups: self.globs(&format!("{field}.groups"), &e.groups)?,
            service_accounts: self
                .globs(&format!("{field}.serviceAccounts"), &e.service_accounts)?,
        })
    }
}

/// Parses `500ms`, `2s`, `5m`, `1h` (one number and one unit; `bulwark_core::duration`,
/// a bare number refused).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    bulwark_core::duration::parse(s, None)
}

/// Reads and validates the policy file at `path`.
pub fn load(path: &Path) -> Result<Policy, PolicyError> {
    let shown = path.display().to_string();
    let read_err = |source| PolicyError::Read {
        path: shown.clone(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(read_err)?;
    if meta.len() > MAX_POLICY_FILE {
        return Err(PolicyError::Invalid {
            path: shown,
            field: "(document)".into(),
            message: format!("{} bytes (at most {MAX_POLICY_FILE})", meta.len()),
        });
    }
    let text = std::fs::read_to_string(path).map_err(read_err)?;
    let dir = path.parent().unwrap_or(Path::new("."));
    parse(&shown, dir, &text)
}

/// Validates policy `text` (shown as `path`; referenced files relative to `dir`).
pub fn parse(path: &str, dir: &Path, text: &str) -> Result<Policy, PolicyError> {
    let ctx = Ctx { path, dir };
    let de = serde_yaml_ng::Deserializer::from_str(text);
    let file: PolicyFile = serde_path_to_error::deserialize(de).map_err(|e| {
        let field = e.path().to_string();
        let field = if field.is_empty() || field == "." {
            "(document)".to_string()
        } else {
            field
        };
        // serde_yaml_ng prefixes its message with the path it knows; the field path
        // above already names it.
        let msg = e.into_inner().to_string();
        let msg = match msg.split_once(": ") {
            Some((head, rest)) if !head.contains(' ') && field.starts_with(head) => {
                rest.to_string()
            }
            _ => msg,
        };
        ctx.err(field, msg)
    })?;
    if file.api_version != API_VERSION {
        return Err(ctx.err(
            "apiVersion",
            format!("{:?} is not {API_VERSION}", file.api_version),
        ));
    }
    if file.kind != KIND {
        return Err(ctx.err("kind", format!("{:?} is not {KIND}", file.kind)));
    }
    let d = Settings::default();
    let t = &file.settings.timeouts;
    let c = &file.settings.cache;
    let settings = Settings {
        resolve_timeout: ctx.duration(
            "settings.timeouts.resolve",
            &t.resolve,
            d.resolve_timeout,
        )?,
        signature_timeout: ctx.duration(
            "settings.timeouts.signature",
            &t.signature,
            d.signature_timeout,
        )?,
        vulnerability_timeout: ctx.duration(
            "settings.timeouts.vulnerability",
            &t.vulnerability,
            d.vulnerability_timeout,
        )?,
        success_ttl: ctx.duration("settings.cache.successTtl", &c.success_ttl, d.success_ttl)?,
        failure_ttl: ctx.duration("settings.cache.failureTtl", &c.failure_ttl, d.failure_ttl)?,
        tag_ttl: ctx.duration("settings.cache.tagTtl", &c.tag_ttl, d.tag_ttl)?,
        scan_ttl: ctx.duration("settings.cache.scanTtl", &c.scan_ttl, d.scan_ttl)?,
        capacity: c.capacity.unwrap_or(d.capacity),
    };
    for (f, v) in [
        ("settings.timeouts.resolve", settings.resolve_timeout),
        ("settings.timeouts.signature", settings.signature_timeout),
        (
            "settings.timeouts.vulnerability",
            settings.vulnerability_timeout,
        ),
    ] {
        if v.is_zero() || v > Duration::from_secs(30) {
            return Err(ctx.err(
                f,
                "must be between 1ms and 30s (the API server waits at most 30s for a webhook)",
            ));
        }
    }
    if settings.capacity == 0 {
        return Err(ctx.err("settings.cache.capacity", "must be at least 1"));
    }
    let exemptions = ctx.exempt("exemptions", &file.exemptions)?;
    let mut rules = Vec::new();
    let mut names = std::collections::BTreeSet::new();
    for (i, r) in file.rules.iter().enumerate() {
        let at = format!("rules[{i}]");
        if r.name.trim().is_empty() {
            return Err(ctx.err(format!("{at}.name"), "must not be empty"));
        }
        if !names.insert(r.name.clone()) {
            return Err(ctx.err(
                format!("{at}.name"),
                format!("{:?} is used by an earlier rule", r.name),
            ));
        }
        rules.push(rule(&ctx, &at, r)?);
    }
    Ok(Policy {
        path: path.to_string(),
        settings,
        exemptions,
        rules,
    })
}

fn rule(ctx: &Ctx<'_>, at: &str, r: &RuleFile) -> Result<Rule, PolicyError> {
    let set: Vec<&str> = [
        ("allowedRegistries", r.allowed_registries.is_some()),
        ("pinDigests", r.pin_digests.is_some()),
        ("requireLabels", r.require_labels.is_some()),
        ("requireResources", r.require_resources.is_some()),
        ("podSecurity", r.pod_security.is_some()),
        ("verifyImages", r.verify_images.is_some()),
        ("vulnerabilities", r.vulnerabilities.is_some()),
        ("rego", r.rego.is_some()),
    ]
    .into_iter()
    .filter(|(_, on)| *on)
    .map(|(n, _)| n)
    .collect();
    if set.len() != 1 {
        return Err(ctx.err(
            at,
            format!(
                "exactly one of allowedRegistries, pinDigests, requireLabels, requireResources, podSecurity, verifyImages, vulnerabilities, rego must be set (found {})",
                if set.is_empty() { "none".to_string() } else { set.join(", ") }
            ),
        ));
    }
    let m = &r.match_;
    let mut labels = Vec::new();
    for (k, v) in &m.labels {
        let g = Glob::new(v).map_err(|e| ctx.err(format!("{at}.match.labels.{k}"), e))?;
        labels.push((k.clone(), g));
    }
    let select = Selector {
        namespaces: ctx.globs(&format!("{at}.match.namespaces"), &m.namespaces)?,
        labels,
        images: ctx.globs(&format!("{at}.match.images"), &m.images)?,
        usernames: ctx.globs(&format!("{at}.match.usernames"), &m.usernames)?,
        groups: ctx.globs(&format!("{at}.match.groups"), &m.groups)?,
        kinds: m.kinds.clone(),
    };
    for (i, k) in m.kinds.iter().enumerate() {
        if !crate::input::POD_KINDS.contains(&k.as_str()) {
            return Err(ctx.err(
                format!("{at}.match.kinds[{i}]"),
                format!(
                    "{k:?} is not a pod-owning kind ({})",
                    crate::input::POD_KINDS.join(", ")
                ),
            ));
        }
    }
    let exclude = ctx.exempt(&format!("{at}.exclude"), &r.exclude)?;
    let kind = if let Some(list) = &r.allowed_registries {
        if list.is_empty() {
            return Err(ctx.err(
                format!("{at}.allowedRegistries"),
                "an empty allow-list would deny every image; list at least one glob",
            ));
        }
        RuleKind::AllowedRegistries(ctx.globs(&format!("{at}.allowedRegistries"), list)?)
    } else if r.pin_digests.is_some() {
        RuleKind::PinDigests
    } else if let Some(l) = &r.require_labels {
        if l.is_empty() {
            return Err(ctx.err(format!("{at}.requireLabels"), "list at least one label"));
        }
        RuleKind::RequireLabels(l.clone())
    } else if let Some(res) = &r.require_resources {
        if res.requests.is_empty() && res.limits.is_empty() {
            return Err(ctx.err(
                format!("{at}.requireResources"),
                "give requests and/or limits",
            ));
        }
        RuleKind::RequireResources {
            requests: res.requests.clone(),
            limits: res.limits.clone(),
        }
    } else if let Some(ps) = &r.pod_security {
        let level: PssLevel = ps
            .level
            .parse()
            .map_err(|e: String| ctx.err(format!("{at}.podSecurity.level"), e))?;
        let version: PssVersion = match &ps.version {
            None => PssVersion::Latest,
            Some(v) => v
                .parse()
                .map_err(|e: String| ctx.err(format!("{at}.podSecurity.version"), e))?,
        };
        RuleKind::PodSecurity { level, version }
    } else if let Some(entries) = &r.verify_images {
        if entries.is_empty() {
            return Err(ctx.err(format!("{at}.verifyImages"), "list at least one entry"));
        }
        let mut out = Vec::new();
        for (j, e) in entries.iter().enumerate() {
            out.push(verify_entry(ctx, &format!("{at}.verifyImages[{j}]"), e)?);
        }
        RuleKind::VerifyImages(out)
    } else if let Some(v) = &r.vulnerabilities {
        if let Some(e) = v.max_epss {
            if !(0.0..=1.0).contains(&e) {
                return Err(ctx.err(
                    format!("{at}.vulnerabilities.maxEpss"),
                    format!("{e} is not a probability between 0 and 1"),
                ));
            }
        }
        if !v.no_critical_with_fix && !v.no_kev && v.max_epss.is_none() {
            return Err(ctx.err(
                format!("{at}.vulnerabilities"),
                "turn on at least one gate (noCriticalWithFix, noKev, maxEpss)",
            ));
        }
        RuleKind::Vulnerabilities {
            no_critical_with_fix: v.no_critical_with_fix,
            no_kev: v.no_kev,
            max_epss: v.max_epss,
        }
    } else if let Some(file) = &r.rego {
        let field = format!("{at}.rego");
        let source = ctx.read(&field, file)?;
        let shown = ctx.dir.join(file).display().to_string();
        let (_, package) = bulwark_misconfig::rego::load_policy(
            &shown,
            &source,
            bulwark_misconfig::rego::EVAL_TIME_LIMIT,
        )
        .map_err(|e| ctx.err(&field, e.to_string()))?;
        if package.is_empty() {
            return Err(ctx.err(&field, "the policy declares no package"));
        }
        RuleKind::Rego {
            path: shown,
            source,
        }
    } else {
        return Err(ctx.err(at, "no rule kind"));
    };
    Ok(Rule {
        name: r.name.clone(),
        mode: r.mode,
        select,
        exclude,
        on_error: r.on_error,
        kind,
    })
}

fn verify_entry(ctx: &Ctx<'_>, at: &str, e: &VerifyFile) -> Result<VerifyEntry, PolicyError> {
    use bulwark_cosign::verify::Signer;
    if e.images.is_empty() {
        return Err(ctx.err(format!("{at}.images"), "list at least one image glob"));
    }
    if e.keys.is_empty() && e.identities.is_empty() {
        return Err(ctx.err(at, "give keys and/or identities"));
    }
    let root = match &e.trusted_root {
        None => None,
        Some(p) => {
            let f = format!("{at}.trustedRoot");
            let text = ctx.read(&f, p)?;
            Some(Box::new(
                TrustedRoot::from_json(text.as_bytes())
                    .map_err(|err| ctx.err(&f, err.to_string()))?,
            ))
        }
    };
    let mut signers = Vec::new();
    for (i, k) in e.keys.iter().enumerate() {
        let f = format!("{at}.keys[{i}]");
        let text = ctx.read(&f, k)?;
        let key = PublicKey::from_pem(&text).map_err(|err| ctx.err(&f, err.to_string()))?;
        let signer = Signer::Key(key);
        let id = signer.id().map_err(|err| ctx.err(&f, err.to_string()))?;
        signers.push(PolicySigner { signer, id });
    }
    for (i, id) in e.identities.iter().enumerate() {
        let f = format!("{at}.identities[{i}]");
        let matcher = |exact: &Option<String>, re: &Option<String>, what: &str| match (exact, re) {
            (Some(x), None) => Ok(Matcher::Exact(x.clone())),
            (None, Some(r)) => Matcher::regex(r)
                .map_err(|err| ctx.err(format!("{f}.{what}Regexp"), err.to_string())),
            _ => Err(ctx.err(&f, format!("give exactly one of {what} and {what}Regexp"))),
        };
        let san = matcher(&id.subject, &id.subject_regexp, "subject")?;
        let issuer = matcher(&id.issuer, &id.issuer_regexp, "issuer")?;
        let Some(r) = root.clone() else {
            return Err(ctx.err(
                format!("{at}.trustedRoot"),
                "keyless identities need a trusted root (bulwark never fetches one)",
            ));
        };
        let signer = Signer::Identity {
            san,
            issuer,
            root: r,
        };
        let id = signer.id().map_err(|err| ctx.err(&f, err.to_string()))?;
        signers.push(PolicySigner { signer, id });
    }
    Ok(VerifyEntry {
        images: ctx.globs(&format!("{at}.images"), &e.images)?,
        signers,
        require_tlog: e.require_tlog,
        root,
        attestations: e.attestations.clone(),
    })
}
