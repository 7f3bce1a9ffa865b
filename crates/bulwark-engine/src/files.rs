//! Secrets and misconfigurations in the files of a target (every layer of an image,
//! including files deleted later) and in the image config.
//!
//! The engine's one walk serves both scanners (beside the catalogers, see
//! [`crate::visitor`]): this visitor reads each wanted file once,
//! runs the secret scanner on it (every layer, so a key that a later layer deleted is
//! still reported, marked `deleted`) and the misconfiguration checks when the file is a
//! Dockerfile, a Compose file or Kubernetes YAML. Misconfigurations are kept only for the
//! copy visible in the final image, because a config file that was replaced or deleted
//! does not describe the image any more, while a leaked secret stays in the layer blob.

use crate::{Cancel, Engine, EngineError};
use bulwark_core::{Misconfiguration, Report, ReportTarget, SecretFinding, TargetKind, Warning};
use bulwark_image::{Deleted, FileEntry, MergedFile, Target, Visitor, Walk, WalkOptions};
use bulwark_misconfig::rego::CustomChecks;
use bulwark_misconfig::{
    CheckSelection, Checked, ComposeOptions, K8sOptions, MisconfigError, PssVersion,
};
use bulwark_secrets::{Scanner, SecretConfig};
use std::collections::HashSet;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Largest configuration file (Dockerfile, YAML) read for the misconfiguration checks;
/// real manifests are far smaller, and Helm-rendered bundles stay well under it.
pub const MAX_CONFIG_FILE: u64 = 16 << 20;

/// The path used for findings in the image config (ENV, labels, history).
pub const IMAGE_CONFIG_PATH: &str = "image config";

/// What the secret and misconfiguration scanners found in one target.
#[derive(Debug, Default, Clone)]
pub struct FileFindings {
    /// Secrets, in every layer (deleted ones flagged) and in the image config.
    pub secrets: Vec<SecretFinding>,
    /// Misconfigurations of the visible config files and of the image config.
    pub misconfigurations: Vec<Misconfiguration>,
    /// Files that could not be checked (malformed YAML, binary under a `.yaml` name...).
    pub warnings: Vec<Warning>,
}

/// Which kind of configuration file a path is, judged by name (Kubernetes YAML is only a
/// candidate until its content shows `apiVersion` and `kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigKind {
    /// `Dockerfile`, `Containerfile`, `Dockerfile.*`, `*.dockerfile`.
    Dockerfile,
    /// `docker-compose*.yml`, `compose*.yaml`.
    Compose,
    /// Any other `.yaml`/`.yml`/`.json` file: Kubernetes when the content says so.
    MaybeK8s,
}

/// Classifies a path by its file name; `None` for files no check looks at.
pub fn config_kind(path: &str) -> Option<ConfigKind> {
    let name = path.rsplit('/').next().unwrap_or(path);
    let lower = name.to_ascii_lowercase();
    if lower == "dockerfile"
        || lower == "containerfile"
        || lower.ends_with(".dockerfile")
        || lower.ends_with(".containerfile")
        || (lower.starts_with("dockerfile.") && !lower.ends_with(".dockerignore"))
        || lower.starts_with("containerfile.")
    {
        return Some(ConfigKind::Dockerfile);
    }
    let yaml = lower.ends_with(".yaml") || lower.ends_with(".yml");
    if yaml && (lower.starts_with("docker-compose") || lower.starts_with("compose")) {
        return Some(ConfigKind::Compose);
    }
    if yaml || lower.ends_with(".json") {
        return Some(ConfigKind::MaybeK8s);
    }
    None
}

/// Whether YAML/JSON text looks like a Kubernetes manifest: some line carries an
/// `apiVersion` key and some line a `kind` key (JSON keys are quoted).
pub fn looks_like_k8s(text: &[u8]) -> bool {
    // `{{` opens a Go template (a Helm chart's templates/), not a JSON object: sniff it as
    // YAML so that a templated manifest is reported as unreadable instead of skipped.
    let start = text.trim_ascii_start();
    if start.starts_with(b"{") && !start.starts_with(b"{{") {
        let has = |k: &[u8]| text.windows(k.len()).any(|w| w == k);
        return has(b"\"apiVersion\"") && has(b"\"kind\"");
    }
    let has_key = |key: &[u8]| {
        text.split(|b| *b == b'\n').any(|line| {
            let t = line.trim_ascii_start();
            let t = t.strip_prefix(b"- ").unwrap_or(t).trim_ascii_start();
            let t = t.strip_prefix(b"{").unwrap_or(t).trim_ascii_start();
            let unq = t.strip_prefix(b"\"").unwrap_or(t);
            unq.strip_prefix(key).is_some_and(|rest| {
                let rest = rest.strip_prefix(b"\"").unwrap_or(rest);
                rest.trim_ascii_start().starts_with(b":")
            })
        })
    };
    has_key(b"apiVersion") && has_key(b"kind")
}

/// Whether YAML text not named like a Compose file still is one: a top-level `services:`
/// mapping whose first entry is a service name (`  web:`). Compose files are often kept
/// under other names (`docker-compose.prod.yml` copies, `-f` arguments, vendored files);
/// a GitLab CI `services:` list (`  - docker:dind`) does not match.
pub fn looks_like_compose(text: &[u8]) -> bool {
    let mut lines = text
        .split(|b| *b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .filter(|l| {
            let t = l.trim_ascii();
            !t.is_empty() && !t.starts_with(b"#")
        });
    while let Some(line) = lines.next() {
        let head = line
            .split(|b| *b == b'#')
            .next()
            .unwrap_or(line)
            .trim_ascii_end();
        if head != b"services:" {
            continue;
        }
        return lines.next().is_some_and(|next| {
            let t = next.trim_ascii_start();
            let key = t.split(|b| *b == b'#').next().unwrap_or(t).trim_ascii_end();
            next.len() > t.len()
                && key.len() > 1
                && key.ends_with(b":")
                && key[..key.len() - 1]
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(b))
        });
    }
    false
}

/// The misconfiguration settings of a scan, resolved once from the request.
#[derive(Debug, Clone, Default)]
pub struct ConfigChecks {
    /// Which built-in checks run.
    pub sel: CheckSelection,
    /// Which Pod Security Standards version applies.
    pub pss: PssVersion,
    /// Custom Rego checks (empty when none were given).
    pub custom: CustomChecks,
}

impl ConfigChecks {
    /// Resolves `--checks`, `--pss-version` and `--custom-checks`; bad values are
    /// [`EngineError::Config`] errors naming the option.
    pub fn from_parts(
        checks: Option<&str>,
        pss_version: Option<&str>,
        custom_checks: Option<&Path>,
    ) -> Result<Self, EngineError> {
        let sel = match checks {
            Some(s) => CheckSelection::parse(s).map_err(|e| EngineError::Config(e.to_string()))?,
            None => CheckSelection::all(),
        };
        let pss = match pss_version {
            Some(v) => v.parse().map_err(EngineError::Config)?,
            None => PssVersion::Latest,
        };
        let custom = match custom_checks {
            Some(dir) => CustomChecks::load_dir(dir)
                .map_err(|e| EngineError::Config(format!("custom checks: {e}")))?,
            None => CustomChecks::default(),
        };
        Ok(ConfigChecks { sel, pss, custom })
    }

    /// Checks one configuration file of a known kind: findings, and warnings about how
    /// the file was read (a repeated key in a manifest). `Ok(None)` when the file turned
    /// out not to be a config file (YAML without `apiVersion`/`kind`, binary content under
    /// a `.yaml` name).
    pub fn check_file(
        &self,
        kind: ConfigKind,
        path: &str,
        bytes: &[u8],
    ) -> Result<Option<Checked>, MisconfigError> {
        let result = match kind {
            ConfigKind::Dockerfile => self.dockerfile(path, bytes),
            ConfigKind::Compose => self.yaml_docs(path, bytes, |p, b| {
                bulwark_misconfig::scan_compose(
                    p,
                    b,
                    &ComposeOptions {
                        sets: self.sel.clone(),
                    },
                )
                .map(|findings| Checked {
                    findings,
                    warnings: Vec::new(),
                })
            }),
            ConfigKind::MaybeK8s if !looks_like_k8s(bytes) && looks_like_compose(bytes) => {
                return self.check_file(ConfigKind::Compose, path, bytes);
            }
            ConfigKind::MaybeK8s => {
                if !looks_like_k8s(bytes) {
                    return Ok(None);
                }
                self.yaml_docs(path, bytes, |p, b| {
                    bulwark_misconfig::check_k8s(
                        p,
                        b,
                        &K8sOptions {
                            sets: self.sel.clone(),
                            pss_version: self.pss,
                        },
                    )
                })
            }
        };
        match result {
            Err(e) if e.is_warning() && kind == ConfigKind::MaybeK8s => Ok(None),
            r => r.map(Some),
        }
    }

    fn dockerfile(&self, path: &str, bytes: &[u8]) -> Result<Checked, MisconfigError> {
        let mut out = bulwark_misconfig::check_dockerfile(path, bytes, &self.sel)?;
        if !self.custom.policies.is_empty() {
            let df = bulwark_misconfig::dockerfile::parse(path, bytes)?;
            let input = bulwark_misconfig::rego::dockerfile_input(&df, path);
            out.findings.extend(self.custom.evaluate(&input, path)?);
        }
        Ok(out)
    }

    fn yaml_docs(
        &self,
        path: &str,
        bytes: &[u8],
        builtin: impl Fn(&str, &[u8]) -> Result<Checked, MisconfigError>,
    ) -> Result<Checked, MisconfigError> {
        let mut out = builtin(path, bytes)?;
        if !self.custom.policies.is_empty() {
            let docs = bulwark_misconfig::yaml::parse_stream(path, bytes)?;
            for root in docs.iter().filter_map(|d| d.root.as_ref()) {
                let input = bulwark_misconfig::rego::node_to_json(root, 0);
                out.findings.extend(self.custom.evaluate(&input, path)?);
            }
        }
        Ok(out)
    }
}

/// Builds the secret scanner from its config file (the built-in rules when none).
pub fn secret_scanner(config: Option<&Path>) -> Result<Scanner, EngineError> {
    secret_scanner_and_fingerprint(config).map(|(s, _)| s)
}

/// [`secret_scanner`], and a text that changes whenever the scanner's configuration
/// does (part of the layer-result cache's analyzer key).
pub fn secret_scanner_and_fingerprint(
    config: Option<&Path>,
) -> Result<(Scanner, String), EngineError> {
    let config = match config {
        Some(p) => SecretConfig::load(p).map_err(|e| EngineError::Config(e.to_string()))?,
        None => SecretConfig::default(),
    };
    let scanner = Scanner::new(&config).map_err(|e| EngineError::Config(e.to_string()))?;
    Ok((scanner, format!("{config:?}")))
}

/// What the visitor produced for one file.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct FileOut {
    secrets: Vec<SecretFinding>,
    /// Misconfigurations of this copy; used only when it is the visible one.
    misconfig: Option<Vec<Misconfiguration>>,
    /// Why this copy could not be checked, or how parts of it were read; reported only
    /// when visible.
    config_warnings: Vec<String>,
    /// A read error (reported whatever the copy's visibility).
    read_warning: Option<String>,
}

impl FileOut {
    /// Whether this output may be kept in the layer-result cache: a read error is a
    /// failure of this run (a full spool disk, say), not a property of the layer.
    pub fn cacheable(&self) -> bool {
        self.read_warning.is_none()
    }

    /// Whether nothing was found in the file: no secret, no misconfiguration, no
    /// warning. The walk does not keep such outputs ([`Visitor::keep`]).
    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
            && self.misconfig.as_ref().is_none_or(Vec::is_empty)
            && self.config_warnings.is_empty()
            && self.read_warning.is_none()
    }

    /// The output for a file that could not be read.
    pub fn read_failed(e: &std::io::Error) -> FileOut {
        FileOut {
            read_warning: Some(format!("cannot read file: {e}")),
            ..FileOut::default()
        }
    }
}

/// The secret scanner and the misconfiguration checks as a walk visitor.
pub struct FilesVisitor<'a> {
    secrets: Option<&'a Scanner>,
    config: Option<&'a ConfigChecks>,
    /// Image targets skip config files under distribution noise paths
    /// (`usr/share/doc` is full of sample YAML that does not configure the image).
    image: bool,
}

impl<'a> FilesVisitor<'a> {
    /// A visitor running `secrets` and/or `config`; `image` is true for image targets.
    pub fn new(
        secrets: Option<&'a Scanner>,
        config: Option<&'a ConfigChecks>,
        image: bool,
    ) -> Self {
        FilesVisitor {
            secrets,
            config,
            image,
        }
    }

    fn config_kind(&self, path: &str, size: u64) -> Option<ConfigKind> {
        self.config?;
        if size > MAX_CONFIG_FILE {
            return None;
        }
        if self.image
            && bulwark_secrets::NOISE_PREFIXES
                .iter()
                .any(|p| path.starts_with(p))
        {
            return None;
        }
        config_kind(path)
    }
}

impl Visitor for FilesVisitor<'_> {
    type Output = FileOut;

    fn keep(&self, out: &FileOut) -> bool {
        !out.is_empty()
    }

    fn wants(&self, path: &str, size: u64, mode: u32) -> bool {
        // Links are not followed: their target is scanned as itself wherever it is, and
        // following `bin -> usr/bin` would only produce "not a regular file" warnings.
        if mode & 0o170_000 == 0o120_000 {
            return false;
        }
        self.secrets.is_some_and(|s| s.wants(path, size)) || self.config_kind(path, size).is_some()
    }

    fn visit(&self, file: FileEntry<'_>) -> FileOut {
        let mut out = FileOut::default();
        let want_secret = self.secrets.is_some_and(|s| s.wants(file.path, file.size));
        let kind = self.config_kind(file.path, file.size);
        let limit = if want_secret {
            file.size
        } else {
            file.size.min(MAX_CONFIG_FILE)
        };
        let mut data = Vec::new();
        // `wants` bounded the size already (secret max size or MAX_CONFIG_FILE); the
        // take() keeps a lying tar header from making us read more.
        if let Err(e) = file
            .reader
            .take(limit.saturating_add(1))
            .read_to_end(&mut data)
        {
            out.read_warning = Some(format!("cannot read file: {e}"));
            return out;
        }
        if let (true, Some(scanner)) = (want_secret, self.secrets) {
            out.secrets = scanner.scan(file.path, &data);
        }
        if let (Some(kind), Some(checks)) = (kind, self.config) {
            match checks.check_file(kind, file.path, &data) {
                Ok(Some(checked)) => {
                    out.misconfig = Some(checked.findings);
                    out.config_warnings = checked.warnings.iter().map(|w| w.to_string()).collect();
                }
                Ok(None) => {}
                Err(e) => out.config_warnings.push(e.to_string()),
            }
        }
        out
    }
}

fn display_path(image: bool, path: &str) -> String {
    if image {
        format!("/{}", path.trim_start_matches('/'))
    } else {
        path.to_string()
    }
}

/// Checks one file named on the command line. The kind comes from the name; a file
/// whose name says nothing (`pod.txt`) is still checked when its content is Kubernetes
/// YAML. Problems (unreadable, too large, malformed, not a config file) are warnings.
pub fn check_config_file(path: &Path, shown: &str, checks: &ConfigChecks) -> FileFindings {
    let warn = |message: String| FileFindings {
        warnings: vec![Warning {
            path: Some(shown.to_string()),
            layer: None,
            message,
        }],
        ..FileFindings::default()
    };
    let data = match std::fs::File::open(path).and_then(|f| {
        let mut buf = Vec::new();
        f.take(MAX_CONFIG_FILE + 1).read_to_end(&mut buf)?;
        Ok(buf)
    }) {
        Ok(d) => d,
        Err(e) => return warn(format!("cannot read file: {e}")),
    };
    if data.len() as u64 > MAX_CONFIG_FILE {
        return warn(format!("larger than {MAX_CONFIG_FILE} bytes; skipped"));
    }
    let kind = config_kind(shown).unwrap_or(ConfigKind::MaybeK8s);
    match checks.check_file(kind, shown, &data) {
        Ok(Some(f)) => FileFindings {
            misconfigurations: f.findings,
            warnings: f
                .warnings
                .iter()
                .map(|w| Warning {
                    path: Some(shown.to_string()),
                    layer: None,
                    message: w.to_string(),
                })
                .collect(),
            ..FileFindings::default()
        },
        Ok(None) => warn("not a Dockerfile, Compose file or Kubernetes manifest; skipped".into()),
        Err(e) => warn(e.to_string()),
    }
}

/// Walks `target` with the file scanners alone (the `config` command's directories).
pub fn scan_files_with(
    target: &Target,
    walk_opts: &WalkOptions,
    scanner: Option<&Scanner>,
    checks: Option<&ConfigChecks>,
) -> Result<FileFindings, EngineError> {
    let image = matches!(target, Target::Image(_));
    if scanner.is_none() && checks.is_none() {
        return Ok(FileFindings::default());
    }
    let visitor = FilesVisitor::new(scanner, checks, image);
    let walk = bulwark_image::walk(target, &visitor, walk_opts)?;
    let (merged, deleted) = walk.merged_and_deleted();
    let mut found = collect(
        target,
        &walk,
        (&merged, &deleted),
        |o| Some(o),
        scanner,
        checks,
    );
    found
        .warnings
        .splice(0..0, walk.warnings.iter().chain(&walk.skipped).cloned());
    Ok(found)
}

/// Turns the file scanners' part of a finished walk into findings: secrets of every
/// copy (deleted ones flagged), misconfigurations of the visible copies, the image
/// config's checks and secrets. The walk's own warnings are not included (the caller
/// reports them once).
pub fn collect<O>(
    target: &Target,
    walk: &Walk<O>,
    (merged, deleted): (&[MergedFile<'_, O>], &Deleted<'_, O>),
    part: impl Fn(&O) -> Option<&FileOut>,
    scanner: Option<&Scanner>,
    checks: Option<&ConfigChecks>,
) -> FileFindings {
    let image = matches!(target, Target::Image(_));
    let mut found = FileFindings::default();
    let digest_of = |i: usize| {
        walk.layers
            .get(i)
            .map(|l| l.digest.clone())
            .filter(|d| !d.is_empty())
    };
    let mut push_secrets = |path: &str, layer: usize, out: &O, deleted: bool| {
        let Some(out) = part(out) else { return };
        for s in &out.secrets {
            let mut s = s.clone();
            s.path = display_path(image, path);
            s.layer = digest_of(layer);
            s.deleted = deleted;
            found.secrets.push(s);
        }
    };
    for m in merged {
        push_secrets(m.path, m.layer, m.output, false);
        for (l, o) in &m.lower {
            push_secrets(m.path, *l, o, true);
        }
    }
    for &(path, layer, out) in deleted {
        push_secrets(path, layer, out, true);
    }
    // Read errors matter in every copy; config problems only in the visible one.
    for (li, layer) in walk.layers.iter().enumerate() {
        for (path, out) in &layer.files {
            if let Some(w) = part(out).and_then(|o| o.read_warning.as_ref()) {
                found.warnings.push(Warning {
                    path: Some(display_path(image, path)),
                    layer: digest_of(li),
                    message: w.clone(),
                });
            }
        }
    }
    for m in merged {
        let Some(output) = part(m.output) else {
            continue;
        };
        let layer = digest_of(m.layer);
        for w in &output.config_warnings {
            found.warnings.push(Warning {
                path: Some(display_path(image, m.path)),
                layer: layer.clone(),
                message: w.clone(),
            });
        }
        for f in output.misconfig.iter().flatten() {
            let mut f = f.clone();
            f.path = display_path(image, m.path);
            f.layer.clone_from(&layer);
            found.misconfigurations.push(f);
        }
    }

    if let Target::Image(img) = target {
        if let Some(cfg) = &img.meta.config {
            if let Some(checks) = checks {
                found
                    .misconfigurations
                    .extend(bulwark_misconfig::scan_image_config(cfg, &checks.sel));
            }
            if let Some(scanner) = scanner {
                let secrets = config_secrets(scanner, cfg);
                let kept = merge_config_secrets(&mut found.misconfigurations, secrets);
                found.secrets.extend(kept);
            }
        }
    }
    dedup_secrets(&mut found.secrets);
    found
}

/// The `config` command's report: each path checked (directories walked, files checked
/// by name or content), findings and warnings under the paths as typed.
pub fn check_paths(
    engine: &Engine,
    paths: &[PathBuf],
    checks: &ConfigChecks,
    cancel: &Cancel,
) -> Result<Report, EngineError> {
    for p in paths {
        if !p.exists() {
            return Err(EngineError::Config(format!(
                "{}: no such file or directory",
                p.display()
            )));
        }
    }
    let mut found = FileFindings::default();
    let mut walk_opts = engine.walk_options(cancel);
    // Configuration files are small and local: nothing is spooled into the cache.
    walk_opts.spool_dir = None;
    for p in paths {
        cancel.check()?;
        let part = check_path(p, &walk_opts, checks)?;
        found.misconfigurations.extend(part.misconfigurations);
        found.warnings.extend(part.warnings);
    }
    let name = paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(" ");
    let kind = if paths.len() == 1 && paths.iter().all(|p| p.is_file()) {
        TargetKind::File
    } else {
        TargetKind::Directory
    };
    let mut report = Report::new(
        ReportTarget {
            name,
            kind,
            image: None,
        },
        crate::now_rfc3339(),
    );
    report.misconfigurations = found.misconfigurations;
    report.warnings = found.warnings;
    report.sort();
    Ok(report)
}

/// Checks one argument: a directory is walked (paths in findings are the directory as
/// typed joined with the relative path), a file is checked by its name or, when the name
/// says nothing, by content.
fn check_path(
    p: &Path,
    walk_opts: &WalkOptions,
    checks: &ConfigChecks,
) -> Result<FileFindings, EngineError> {
    let shown = p.display().to_string();
    if p.is_dir() {
        let target = Target::Dir(p.to_path_buf());
        let mut found = scan_files_with(&target, walk_opts, None, Some(checks))?;
        let prefix = |rel: &str| {
            if shown == "." {
                rel.to_string()
            } else {
                format!("{}/{rel}", shown.trim_end_matches('/'))
            }
        };
        for m in &mut found.misconfigurations {
            m.path = prefix(&m.path);
        }
        for w in &mut found.warnings {
            if let Some(path) = &w.path {
                w.path = Some(prefix(path));
            }
        }
        return Ok(found);
    }
    Ok(check_config_file(p, &shown, checks))
}

/// Where in the image config a secret was found, so that the misconfiguration checks'
/// report of the same secret ([`bulwark_misconfig::image_config`]) can absorb it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Place {
    /// The Env entry of this variable.
    Env(String),
    /// An assignment (`ENV K=V`, build argument `K=V`) in history entry N.
    History(usize, String),
    /// Anywhere else (labels, a RUN line).
    Other,
}

/// Secrets in the image config: ENV values, labels, and the history's `created_by`
/// lines (a `RUN` with an inline token, an `ENV` that a later `ENV` overwrote). Env
/// entries and history assignments are scanned one by one so each finding knows its
/// variable; an `ENV K=V` in history that the Env list holds unchanged is the same
/// secret in the same place and is left to the Env entry.
fn config_secrets(scanner: &Scanner, cfg: &serde_json::Value) -> Vec<(SecretFinding, Place)> {
    use bulwark_misconfig::image_config::env_repeats;
    let inner = cfg
        .get("config")
        .or_else(|| cfg.get("Config"))
        .unwrap_or(cfg);
    let env: Vec<&str> = inner
        .get("Env")
        .and_then(|v| v.as_array())
        .map(|a| a.iter().filter_map(|v| v.as_str()).collect())
        .unwrap_or_default();
    let mut out = Vec::new();
    let mut scan = |what: &str, line: usize, text: &str, place: Place| {
        for mut s in scanner.scan(IMAGE_CONFIG_PATH, text.as_bytes()) {
            s.path = format!("{IMAGE_CONFIG_PATH}: {what}");
            let within = s.line.unwrap_or(1) as usize;
            s.line = Some(u32::try_from(line + within - 1).unwrap_or(u32::MAX));
            out.push((s, place.clone()));
        }
    };
    for (i, e) in env.iter().enumerate() {
        let key = e.split_once('=').map_or(*e, |(k, _)| k);
        scan("ENV", i + 1, e, Place::Env(key.to_string()));
    }
    if let Some(labels) = inner.get("Labels").and_then(|v| v.as_object()) {
        let text: Vec<String> = labels
            .iter()
            .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
            .collect();
        scan("LABEL", 1, &text.join("\n"), Place::Other);
    }
    let history = cfg
        .get("history")
        .and_then(|v| v.as_array())
        .map(Vec::as_slice)
        .unwrap_or_default();
    for (n, h) in history.iter().enumerate() {
        let Some(line) = h.get("created_by").and_then(|v| v.as_str()) else {
            continue;
        };
        let body = line.trim();
        let (args, rest): (Vec<&str>, &str) = match body.strip_prefix('|') {
            // `|2 A=1 B=2 /bin/sh -c ...`: build arguments, then the command.
            Some(r) => {
                let mut it = r.splitn(2, char::is_whitespace);
                let count: usize = it.next().and_then(|c| c.parse().ok()).unwrap_or(0);
                let tail = it.next().unwrap_or("");
                let words: Vec<&str> = tail.split_whitespace().take(count.min(1000)).collect();
                let rest = words
                    .last()
                    .and_then(|w| tail.split_once(*w).map(|(_, r)| r))
                    .unwrap_or(tail);
                (words, rest)
            }
            None => (Vec::new(), body),
        };
        let instr = rest
            .split_once("#(nop)")
            .map_or(rest, |(_, r)| r)
            .trim_start();
        let env_line = instr
            .get(..4)
            .is_some_and(|k| k.eq_ignore_ascii_case("ENV "));
        for w in &args {
            let key = w.split_once('=').map_or(*w, |(k, _)| k);
            scan("history", n + 1, w, Place::History(n, key.to_string()));
        }
        if env_line {
            for w in instr.split_whitespace().skip(1) {
                let Some((key, _)) = w.split_once('=') else {
                    continue;
                };
                if !env_repeats(w, &env) {
                    scan("history", n + 1, w, Place::History(n, key.to_string()));
                }
            }
        } else {
            scan("history", n + 1, rest, Place::Other);
        }
    }
    out
}

/// One finding per secret and place: a secret the image-config misconfiguration checks
/// already report (an Env variable, a history assignment) is folded into that finding,
/// its rule id added as an alias; the others are returned.
fn merge_config_secrets(
    misconfigs: &mut [Misconfiguration],
    secrets: Vec<(SecretFinding, Place)>,
) -> Vec<SecretFinding> {
    use bulwark_misconfig::image_config::{env_secret_key, history_secret_key};
    let mut out = Vec::new();
    for (s, place) in secrets {
        let target = misconfigs.iter_mut().find(|m| match &place {
            Place::Env(k) => env_secret_key(m) == Some(k.as_str()),
            Place::History(n, k) => history_secret_key(m) == Some((*n, k.as_str())),
            Place::Other => false,
        });
        match target {
            Some(m) => {
                if !m.aliases.contains(&s.rule_id) {
                    m.aliases.push(s.rule_id);
                }
            }
            None => out.push(s),
        }
    }
    out
}

/// The same ENV secret usually shows up in `Env` and in the history line that set it;
/// keep both (different places), but drop exact repeats.
fn dedup_secrets(secrets: &mut Vec<SecretFinding>) {
    let mut seen = HashSet::new();
    secrets.retain(|s| {
        seen.insert((
            s.rule_id.clone(),
            s.path.clone(),
            s.line,
            s.layer.clone(),
            s.redacted.clone(),
        ))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reported case: one `DB_PASSWORD` in the image config came out four times
    /// (Env and history as misconfigurations, Env and history as secrets). Now one
    /// finding, the Env misconfiguration, carrying the other ids as aliases.
    #[test]
    fn image_config_secret_is_reported_once() {
        let pw = "q8Zr2LmV0xT4nB7wPz3K";
        let cfg = serde_json::json!({
            "config": {"Env": ["PATH=/usr/bin", format!("DB_PASSWORD={pw}")]},
            "history": [
                {"created_by": "/bin/sh -c #(nop) ADD file:abc in /"},
                {"created_by": format!("/bin/sh -c #(nop)  ENV DB_PASSWORD={pw}")},
                {"created_by": format!("|1 API_TOKEN=Zx9Lq2Vb7Nm4Kp1Rt6Wy /bin/sh -c echo hi")}
            ]
        });
        let scanner = match Scanner::new(&SecretConfig::default()) {
            Ok(s) => s,
            Err(e) => panic!("{e}"),
        };
        let mut mis = bulwark_misconfig::scan_image_config(&cfg, &CheckSelection::all());
        let secrets = merge_config_secrets(&mut mis, config_secrets(&scanner, &cfg));
        let env: Vec<&Misconfiguration> =
            mis.iter().filter(|m| m.check_id == "BW-IMG-0002").collect();
        assert_eq!(env.len(), 1, "{mis:#?}");
        for alias in ["DS-0031", "BW-IMG-0004", "generic-secret"] {
            assert!(
                env[0].aliases.iter().any(|a| a == alias),
                "{:?}",
                env[0].aliases
            );
        }
        // The build argument is a second secret in a second place: reported once too.
        let hist: Vec<&Misconfiguration> =
            mis.iter().filter(|m| m.check_id == "BW-IMG-0004").collect();
        assert_eq!(hist.len(), 1, "{mis:#?}");
        assert_eq!(hist[0].resource.as_deref(), Some("history[2]"));
        assert!(
            hist[0].aliases.iter().any(|a| a == "generic-secret"),
            "{hist:?}"
        );
        assert!(secrets.is_empty(), "{secrets:?}");

        // Secrets alone (no misconfiguration scanner): Env once, the history repeat not.
        let alone = merge_config_secrets(&mut [], config_secrets(&scanner, &cfg));
        let places: Vec<(&str, Option<u32>)> =
            alone.iter().map(|s| (s.path.as_str(), s.line)).collect();
        assert_eq!(
            places,
            [
                ("image config: ENV", Some(2)),
                ("image config: history", Some(3))
            ],
            "{alone:?}"
        );
    }

    #[test]
    fn kinds_by_name() {
        assert_eq!(config_kind("app/Dockerfile"), Some(ConfigKind::Dockerfile));
        assert_eq!(config_kind("Containerfile"), Some(ConfigKind::Dockerfile));
        assert_eq!(
            config_kind("x/web.dockerfile"),
            Some(ConfigKind::Dockerfile)
        );
        assert_eq!(config_kind("Dockerfile.prod"), Some(ConfigKind::Dockerfile));
        assert_eq!(config_kind("Dockerfile.dockerignore"), None);
        assert_eq!(config_kind("docker-compose.yml"), Some(ConfigKind::Compose));
        assert_eq!(
            config_kind("a/compose.prod.yaml"),
            Some(ConfigKind::Compose)
        );
        assert_eq!(config_kind("deploy/web.yaml"), Some(ConfigKind::MaybeK8s));
        assert_eq!(config_kind("main.go"), None);
    }

    #[test]
    fn compose_content_sniffing() {
        // The k8s-corpus keeps compose files as OWNER__REPO__docker-compose.yml.
        let compose = b"# stack\nversion: '3'\nservices:  # the app\n  web:\n    image: nginx\n";
        assert!(looks_like_compose(compose));
        assert!(looks_like_compose(b"services:\n\n  db-1:\n    image: pg\n"));
        // GitLab CI's services list, a nested key and a Kubernetes manifest are not.
        assert!(!looks_like_compose(b"services:\n  - docker:dind\n"));
        assert!(!looks_like_compose(b"spec:\n  services:\n    web:\n"));
        assert!(!looks_like_compose(b"services: {}\n"));
        assert!(!looks_like_compose(b"services:\nweb:\n"));
    }

    #[test]
    fn helm_templates_are_sniffed_as_yaml_not_json() {
        let tpl = b"{{- if .Values.enabled }}\napiVersion: apps/v1\nkind: Deployment\n{{- end }}\n";
        assert!(looks_like_k8s(tpl));
        assert!(looks_like_k8s(
            b"{\"apiVersion\": \"v1\", \"kind\": \"Pod\"}"
        ));
    }

    #[test]
    fn k8s_content_sniffing() {
        assert!(looks_like_k8s(b"apiVersion: v1\nkind: Pod\n"));
        assert!(looks_like_k8s(b"---\n- apiVersion: v1\n  kind: Pod\n"));
        assert!(looks_like_k8s(
            b"{\"apiVersion\": \"v1\", \"kind\": \"Pod\"}"
        ));
        assert!(!looks_like_k8s(b"services:\n  web:\n    image: x\n"));
        assert!(!looks_like_k8s(b"kind: Pod\n"));
        assert!(!looks_like_k8s(b"# apiVersion: v1\nkind: x\n"));
    }
}
