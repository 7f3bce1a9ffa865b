//! Custom checks written in Rego, evaluated with the `regorus` interpreter against the
//! JSON input model documented in `docs/custom-checks.md` (a Dockerfile becomes
//! [`dockerfile_input`]; a Kubernetes or compose document is passed as its own JSON).
//!
//! A policy file declares its metadata either in a `__bulwark_metadata` rule (an object
//! with `id`, `title`, `severity`, `description`, `remediation`, `references`) or in an
//! OPA `# METADATA` comment block (`title`, `description`, `custom.id`,
//! `custom.severity`, `custom.recommended_action`). Its `deny` rule (a set of strings or
//! objects, either `deny[msg]` or `deny contains result if`) yields findings; an object
//! result may give `msg`, `startline`/`endline` and `resource`.
//!
//! Bounds: policy files over [`MAX_POLICY_SIZE`] bytes, more than [`MAX_POLICIES`]
//! files, and inputs over [`MAX_INPUT_SIZE`] bytes of JSON are refused; each evaluation
//! runs under regorus' cooperative execution timer ([`EVAL_TIME_LIMIT`]).

use std::num::NonZeroU32;
use std::path::Path;
use std::time::Duration;

use bulwark_core::{Misconfiguration, Severity};
use regorus::utils::limits::ExecutionTimerConfig;
use regorus::Engine;
use serde_json::{json, Value};

use crate::dockerfile::parser::{key_values, Dockerfile};
use crate::MisconfigError;

/// Largest policy file accepted.
pub const MAX_POLICY_SIZE: usize = 256 * 1024;
/// Most policy files loaded from one directory.
pub const MAX_POLICIES: usize = 1000;
/// Largest serialized input evaluated.
pub const MAX_INPUT_SIZE: usize = 8 * 1024 * 1024;
/// Wall-clock limit of one policy evaluation.
pub const EVAL_TIME_LIMIT: Duration = Duration::from_secs(5);

/// Metadata of a custom check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomMeta {
    /// Check id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Severity.
    pub severity: Severity,
    /// Description.
    pub description: String,
    /// Remediation.
    pub remediation: String,
    /// References.
    pub references: Vec<String>,
}

/// One loaded policy.
#[derive(Debug, Clone)]
pub struct Policy {
    /// File it came from.
    pub path: String,
    /// Its package (`data.custom.dockerfile`).
    pub package: String,
    /// Its metadata.
    pub meta: CustomMeta,
    source: String,
}

/// A set of custom checks.
#[derive(Debug, Clone, Default)]
pub struct CustomChecks {
    /// Loaded policies, in file-name order.
    pub policies: Vec<Policy>,
}

fn rego_err(path: &str, line: u32, message: String) -> MisconfigError {
    MisconfigError::Invalid {
        path: path.to_string(),
        line,
        what: "Rego policy",
        message,
    }
}

/// An engine holding `source`. Rego v1 syntax is tried first; on a parse error the
/// policy is retried as Rego v0 (`deny[msg] { ... }`, as Trivy's checks are written),
/// and the v1 error is reported if both fail.
/// Evaluation stops after `limit`. Shared with the attestation policies of
/// `bulwark-cosign`.
pub fn load_policy(
    path: &str,
    source: &str,
    limit: std::time::Duration,
) -> Result<(Engine, String), MisconfigError> {
    let make = |v0: bool| {
        let mut engine = Engine::new();
        engine.set_rego_v0(v0);
        engine.set_execution_timer_config(ExecutionTimerConfig {
            limit,
            check_interval: NonZeroU32::MIN,
        });
        let package = engine.add_policy(path.to_string(), source.to_string());
        package.map(|p| (engine, p))
    };
    match make(false) {
        Ok(r) => Ok(r),
        Err(e1) => make(true).map_err(|_| {
            let m = e1.to_string();
            rego_err(path, error_line(&m), m.trim().to_string())
        }),
    }
}

/// Evaluates `rule` (a set or array of deny messages, `data.<package>.deny`) of a
/// policy loaded by [`load_policy`] on `input` (JSON text): its items, none when the
/// rule is undefined. A result that cannot be read is an error naming the policy,
/// never an empty (passing) answer.
pub fn deny_results(
    engine: &mut Engine,
    path: &str,
    rule: String,
    input: &str,
) -> Result<Vec<Value>, MisconfigError> {
    engine
        .set_input_json(input)
        .map_err(|e| rego_err(path, 0, format!("input: {e}")))?;
    let v = engine
        .eval_rule(rule.clone())
        .map_err(|e| rego_err(path, error_line(&e.to_string()), e.to_string()))?;
    if v == regorus::Value::Undefined {
        return Ok(Vec::new());
    }
    let json: Value = v
        .to_json_str()
        .map_err(|e| e.to_string())
        .and_then(|s| serde_json::from_str(&s).map_err(|e| e.to_string()))
        .map_err(|e| rego_err(path, 0, format!("reading the {rule} result: {e}")))?;
    Ok(match json {
        Value::Array(a) => a,
        Value::Null => Vec::new(),
        Value::Object(o) if o.is_empty() => Vec::new(),
        other => vec![other],
    })
}

/// Pulls `:LINE:` out of a regorus error message (`file:12:5: error: ...`).
fn error_line(msg: &str) -> u32 {
    msg.split(':')
        .skip(1)
        .find_map(|p| p.trim().parse::<u32>().ok())
        .unwrap_or(0)
}

impl CustomChecks {
    /// Loads every `*.rego` file of `dir` (not recursive; files ending `_test.rego` are
    /// skipped).
    pub fn load_dir(dir: &Path) -> Result<Self, MisconfigError> {
        let shown = dir.display().to_string();
        let rd = std::fs::read_dir(dir).map_err(|e| rego_err(&shown, 0, e.to_string()))?;
        let mut files: Vec<std::path::PathBuf> = rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.extension().is_some_and(|x| x == "rego")
                    && !p.to_string_lossy().ends_with("_test.rego")
            })
            .collect();
        files.sort();
        if files.len() > MAX_POLICIES {
            return Err(rego_err(
                &shown,
                0,
                format!("{} policy files, more than {MAX_POLICIES}", files.len()),
            ));
        }
        let mut out = CustomChecks::default();
        for f in files {
            let p = f.display().to_string();
            let size = std::fs::metadata(&f)
                .map_err(|e| rego_err(&p, 0, e.to_string()))?
                .len();
            if size > MAX_POLICY_SIZE as u64 {
                return Err(MisconfigError::TooLarge {
                    path: p,
                    size: usize::try_from(size).unwrap_or(usize::MAX),
                    limit: MAX_POLICY_SIZE,
                });
            }
            let src = std::fs::read_to_string(&f).map_err(|e| rego_err(&p, 0, e.to_string()))?;
            out.add(&p, &src)?;
        }
        Ok(out)
    }

    /// Adds one policy from source.
    pub fn add(&mut self, path: &str, source: &str) -> Result<(), MisconfigError> {
        if source.len() > MAX_POLICY_SIZE {
            return Err(MisconfigError::TooLarge {
                path: path.to_string(),
                size: source.len(),
                limit: MAX_POLICY_SIZE,
            });
        }
        let (mut engine, package) = load_policy(path, source, EVAL_TIME_LIMIT)?;
        let from_rule = engine
            .eval_rule(format!("{package}.__bulwark_metadata"))
            .ok()
            .and_then(|v| v.to_json_str().ok())
            .and_then(|s| serde_json::from_str::<Value>(&s).ok())
            .filter(Value::is_object);
        let meta = match from_rule {
            Some(m) => meta_from_json(&m),
            None => metadata_comment(source)
                .map(|m| meta_from_json(&m))
                .ok_or_else(|| {
                    rego_err(
                        path,
                        0,
                        "no __bulwark_metadata rule and no # METADATA block".to_string(),
                    )
                })?,
        };
        if meta.id.is_empty() {
            return Err(rego_err(path, 0, "metadata has no id".to_string()));
        }
        self.policies.push(Policy {
            path: path.to_string(),
            package,
            meta,
            source: source.to_string(),
        });
        Ok(())
    }

    /// Evaluates every policy's `deny` against `input`; findings are reported on
    /// `file_path`.
    pub fn evaluate(
        &self,
        input: &Value,
        file_path: &str,
    ) -> Result<Vec<Misconfiguration>, MisconfigError> {
        let text = input.to_string();
        if text.len() > MAX_INPUT_SIZE {
            return Err(MisconfigError::TooLarge {
                path: file_path.to_string(),
                size: text.len(),
                limit: MAX_INPUT_SIZE,
            });
        }
        let mut out = Vec::new();
        for p in &self.policies {
            let (mut engine, _) = load_policy(&p.path, &p.source, EVAL_TIME_LIMIT)?;
            let results = deny_results(&mut engine, &p.path, format!("{}.deny", p.package), &text)?;
            for r in results {
                out.push(finding(&p.meta, file_path, &r));
            }
        }
        Ok(out)
    }
}

fn finding(meta: &CustomMeta, path: &str, r: &Value) -> Misconfiguration {
    let line = |k: &[&str]| {
        k.iter()
            .find_map(|k| r.get(*k).and_then(Value::as_u64))
            .and_then(|n| u32::try_from(n).ok())
    };
    let msg = match r {
        Value::String(s) => s.clone(),
        _ => r
            .get("msg")
            .or_else(|| r.get("message"))
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| meta.title.clone()),
    };
    let start = line(&["startline", "StartLine", "line"]);
    Misconfiguration {
        check_id: meta.id.clone(),
        aliases: Vec::new(),
        title: meta.title.clone(),
        severity: meta.severity,
        message: msg,
        remediation: meta.remediation.clone(),
        path: path.to_string(),
        start_line: start,
        end_line: line(&["endline", "EndLine"]).or(start),
        resource: r
            .get("resource")
            .and_then(Value::as_str)
            .map(str::to_string),
        layer: None,
        references: meta.references.clone(),
        suppressed: None,
    }
}

fn meta_from_json(m: &Value) -> CustomMeta {
    let custom = m.get("custom").unwrap_or(m);
    let s = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let id = [s(m, "id"), s(custom, "id"), s(custom, "avd_id")]
        .into_iter()
        .find(|x| !x.is_empty())
        .unwrap_or_default();
    let sev = [s(m, "severity"), s(custom, "severity")]
        .into_iter()
        .find(|x| !x.is_empty())
        .and_then(|x| x.parse().ok())
        .unwrap_or(Severity::Unknown);
    let remediation = [s(m, "remediation"), s(custom, "recommended_action")]
        .into_iter()
        .find(|x| !x.is_empty())
        .unwrap_or_default();
    let references = m
        .get("references")
        .or_else(|| m.get("related_resources"))
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|r| r.as_str().or_else(|| r.get("ref").and_then(Value::as_str)))
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    CustomMeta {
        title: {
            let t = s(m, "title");
            if t.is_empty() {
                id.clone()
            } else {
                t
            }
        },
        id,
        severity: sev,
        description: s(m, "description"),
        remediation,
        references,
    }
}

/// Parses the first `# METADATA` comment block (YAML in comments) into JSON.
fn metadata_comment(source: &str) -> Option<Value> {
    let mut lines = source.lines();
    lines.find(|l| l.trim() == "# METADATA")?;
    let mut yaml = String::new();
    for l in lines {
        let Some(c) = l.trim_start().strip_prefix('#') else {
            break;
        };
        yaml.push_str(c.strip_prefix(' ').unwrap_or(c));
        yaml.push('\n');
    }
    let docs = crate::yaml::parse_str("METADATA", &yaml).ok()?;
    let root = docs.into_iter().next()?.root?;
    Some(node_to_json(&root, 0))
}

/// YAML node to JSON (depth-bounded; the YAML loader bounds it too).
pub fn node_to_json(n: &crate::yaml::Node, depth: usize) -> Value {
    use crate::yaml::Value as Y;
    if depth > 64 {
        return Value::Null;
    }
    match &n.value {
        Y::Map(entries) => {
            let mut m = serde_json::Map::new();
            for (k, v) in entries {
                let key = k.as_str().map(str::to_string).unwrap_or_default();
                m.insert(key, node_to_json(v, depth + 1));
            }
            Value::Object(m)
        }
        Y::Seq(items) => Value::Array(items.iter().map(|i| node_to_json(i, depth + 1)).collect()),
        Y::Scalar { .. } => {
            if n.is_null() {
                Value::Null
            } else if let Some(b) = n.as_bool() {
                Value::Bool(b)
            } else if let Some(i) = n.as_i64() {
                json!(i)
            } else {
                n.as_str()
                    .map(|s| Value::String(s.to_string()))
                    .unwrap_or(Value::Null)
            }
        }
    }
}

/// The Rego input model of a Dockerfile (see `docs/custom-checks.md`).
pub fn dockerfile_input(df: &Dockerfile, path: &str) -> Value {
    let stages: Vec<Value> = df
        .stages
        .iter()
        .map(|s| {
            json!({
                "index": s.index,
                "name": s.name,
                "base": s.base,
                "platform": s.platform,
                "startline": s.line,
            })
        })
        .collect();
    let inst: Vec<Value> = df
        .instructions
        .iter()
        .map(|i| {
            let flags: serde_json::Map<String, Value> = i
                .flags
                .iter()
                .map(|f| (f.name.clone(), Value::String(f.value.clone())))
                .collect();
            let kv: Vec<Value> = if matches!(i.keyword.as_str(), "ENV" | "ARG" | "LABEL") {
                key_values(i)
                    .into_iter()
                    .map(|(k, v)| json!({"key": k, "value": v}))
                    .collect()
            } else {
                Vec::new()
            };
            json!({
                "cmd": i.keyword.to_ascii_lowercase(),
                "flags": flags,
                "value": i.words,
                "original": i.rest,
                "exec_form": i.exec.is_some(),
                "script": i.shell_script(),
                "heredocs": i.heredocs.iter().map(|h| json!({"name": h.name, "body": h.body})).collect::<Vec<_>>(),
                "pairs": kv,
                "stage": i.stage,
                "startline": i.start_line,
                "endline": i.end_line,
            })
        })
        .collect();
    json!({
        "kind": "dockerfile",
        "path": path,
        "stages": stages,
        "instructions": inst,
    })
}
