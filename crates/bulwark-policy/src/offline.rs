//! Reading the objects `bulwark policy test` evaluates: Kubernetes manifests (multi-
//! document YAML, `*List` kinds expanded, read with the API server's YAML semantics by
//! `bulwark-misconfig`) and AdmissionReview v1 JSON files (one review per file, or one
//! per YAML document). Objects of kinds that carry no pod are returned as skipped.

use std::path::Path;

use bulwark_misconfig::rego::node_to_json;
use bulwark_misconfig::yaml::{self, Dialect};
use serde_json::Value;

use crate::input::{pod_location, Request};

/// Largest input file read.
pub const MAX_INPUT_FILE: u64 = yaml::MAX_YAML_BYTES as u64;

/// One object found in an input file.
#[derive(Debug, Clone)]
pub struct Item {
    /// `FILE#N` (N the 1-based document number).
    pub source: String,
    /// The request to evaluate, or why it is skipped (kind without a pod).
    pub request: Result<Request, String>,
}

/// Why an input file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// I/O.
    #[error("{path}: cannot read: {source}")]
    Io {
        /// File.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
    /// Too large.
    #[error("{path}: {size} bytes exceeds the {MAX_INPUT_FILE}-byte limit")]
    TooLarge {
        /// File.
        path: String,
        /// Size.
        size: u64,
    },
    /// Not YAML/JSON, or a malformed AdmissionReview.
    #[error("{path}: {message}")]
    Invalid {
        /// File.
        path: String,
        /// What is wrong.
        message: String,
    },
}

/// Reads every object of `path`; objects without a namespace go to `default_ns`.
pub fn read(path: &Path, default_ns: &str) -> Result<Vec<Item>, ReadError> {
    let shown = path.display().to_string();
    let meta = std::fs::metadata(path).map_err(|source| ReadError::Io {
        path: shown.clone(),
        source,
    })?;
    if meta.len() > MAX_INPUT_FILE {
        return Err(ReadError::TooLarge {
            path: shown,
            size: meta.len(),
        });
    }
    let bytes = std::fs::read(path).map_err(|source| ReadError::Io {
        path: shown.clone(),
        source,
    })?;
    parse(&shown, &bytes, default_ns)
}

/// [`read`] on bytes already in memory.
pub fn parse(shown: &str, bytes: &[u8], default_ns: &str) -> Result<Vec<Item>, ReadError> {
    let invalid = |message: String| ReadError::Invalid {
        path: shown.to_string(),
        message,
    };
    let text = yaml::decode(shown, bytes).map_err(|e| invalid(e.to_string()))?;
    let parsed =
        yaml::parse_with(shown, text, Dialect::Kubernetes).map_err(|e| invalid(e.to_string()))?;
    for w in &parsed.warnings {
        tracing::warn!("{shown}: {w}");
    }
    let mut out = Vec::new();
    for (n, doc) in parsed.docs.iter().enumerate() {
        let Some(root) = &doc.root else { continue };
        let value = node_to_json(root, 0);
        let source = format!("{shown}#{}", n + 1);
        if value.is_null() {
            continue;
        }
        if !value.is_object() {
            return Err(invalid(format!("document {} is not an object", n + 1)));
        }
        let kind = value
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        if kind == "AdmissionReview" {
            let r = Request::from_review(&value)
                .map_err(|e| invalid(format!("document {}: {e}", n + 1)))?;
            out.push(Item {
                source,
                request: Ok(r),
            });
            continue;
        }
        let objects: Vec<Value> = if kind.ends_with("List") {
            value
                .get("items")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
        } else {
            vec![value]
        };
        for (i, o) in objects.into_iter().enumerate() {
            let source = if kind.ends_with("List") {
                format!("{source}[{i}]")
            } else {
                source.clone()
            };
            let k = o
                .get("kind")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let request = if k.is_empty() {
                Err("no kind".to_string())
            } else if pod_location(&k).is_none() {
                Err(format!("kind {k} carries no pod"))
            } else {
                Ok(Request::from_object(o, default_ns))
            };
            out.push(Item { source, request });
        }
    }
    Ok(out)
}
