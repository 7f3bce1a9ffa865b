//! cosign's image-signature payload ("simple signing", containers/image
//! `containers-signature(5)` with cosign's type string): building the exact bytes
//! cosign produces, parsing, and checking a payload against the image being verified
//! (manifest digest, docker reference, required annotations).
//!
//! Bytes match Go's `encoding/json` output: compact, fields in the order critical →
//! identity → image → type → optional, map keys sorted, `"optional":null` when there
//! are no annotations, and `<`, `>`, `&`, U+2028, U+2029 escaped as `\uXXXX`.

use crate::error::{malformed, unverified, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `critical.type` of a cosign image signature.
pub const COSIGN_SIGNATURE_TYPE: &str = "cosign container image signature";
/// Media type of a signature layer holding the payload.
pub const SIMPLE_SIGNING_MEDIA_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// Largest payload accepted.
pub const MAX_PAYLOAD: usize = 1 << 20;

/// A parsed payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Payload {
    /// The critical section.
    pub critical: Critical,
    /// Annotations (`-a k=v`), or null.
    #[serde(default)]
    pub optional: Option<BTreeMap<String, serde_json::Value>>,
}

/// `critical`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Critical {
    /// `identity`.
    pub identity: Identity,
    /// `image`.
    pub image: Image,
    /// `type`.
    #[serde(rename = "type")]
    pub type_: String,
}

/// `critical.identity`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Identity {
    /// The repository (cosign writes it without tag or digest).
    #[serde(rename = "docker-reference")]
    pub docker_reference: String,
}

/// `critical.image`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Image {
    /// `sha256:<hex>` of the signed manifest.
    #[serde(rename = "docker-manifest-digest")]
    pub docker_manifest_digest: String,
}

/// Escapes like Go's `encoding/json` (HTML-safe). Only string contents can hold
/// these characters, so replacing them in the whole document is exact.
fn go_escape(json: String) -> Vec<u8> {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out.into_bytes()
}

/// Builds the payload bytes cosign would sign for this image.
pub fn build(
    docker_reference: &str,
    manifest_digest: &str,
    annotations: &BTreeMap<String, String>,
) -> Result<Vec<u8>> {
    check_digest_syntax(manifest_digest)?;
    let p = Payload {
        critical: Critical {
            identity: Identity {
                docker_reference: docker_reference.to_string(),
            },
            image: Image {
                docker_manifest_digest: manifest_digest.to_string(),
            },
            type_: COSIGN_SIGNATURE_TYPE.to_string(),
        },
        optional: if annotations.is_empty() {
            None
        } else {
            Some(
                annotations
                    .iter()
                    .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                    .collect(),
            )
        },
    };
    let s = serde_json::to_string(&p).map_err(|e| malformed(format!("encoding payload: {e}")))?;
    Ok(go_escape(s))
}

fn check_digest_syntax(d: &str) -> Result<()> {
    let ok = d
        .strip_prefix("sha256:")
        .is_some_and(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()));
    if ok {
        Ok(())
    } else {
        Err(malformed(format!("not a sha256 manifest digest: {d:?}")))
    }
}

impl Payload {
    /// Parses payload bytes (as stored; never re-serialised for verification).
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        if bytes.len() > MAX_PAYLOAD {
            return Err(malformed("signature payload larger than 1 MiB"));
        }
        serde_json::from_slice(bytes)
            .map_err(|e| malformed(format!("not a simple-signing payload: {e}")))
    }
}

/// How the payload's docker-reference is compared with the expected one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReferenceMatch {
    /// Not checked (cosign's default: the reference is informational).
    Ignore,
    /// The payload's reference, without any tag or digest, must equal this repository
    /// (`registry/path`; a tag or digest on either side is dropped before comparing).
    Repository(String),
    /// Exactly equal strings.
    Exact(String),
}

/// Strips a `:tag` and/or `@digest` from a reference, keeping a registry port.
pub fn repository_of(reference: &str) -> &str {
    let r = reference.split('@').next().unwrap_or(reference);
    match r.rfind(':') {
        Some(i) if !r[i + 1..].contains('/') => &r[..i],
        _ => r,
    }
}

/// What the image being verified requires of a payload.
#[derive(Debug, Clone)]
pub struct Expectation {
    /// The manifest digest of the image (`sha256:<hex>`).
    pub manifest_digest: String,
    /// Docker reference rule.
    pub reference: ReferenceMatch,
    /// Annotations that must be present with these values.
    pub annotations: BTreeMap<String, String>,
}

/// Checks a parsed payload against the expectation; the error names the first check
/// that failed.
pub fn check(p: &Payload, want: &Expectation) -> Result<()> {
    if p.critical.type_ != COSIGN_SIGNATURE_TYPE {
        return Err(unverified(format!(
            "payload type {:?} is not {COSIGN_SIGNATURE_TYPE:?}",
            p.critical.type_
        )));
    }
    if !p
        .critical
        .image
        .docker_manifest_digest
        .eq_ignore_ascii_case(&want.manifest_digest)
    {
        return Err(unverified(format!(
            "the signature is for manifest {}, not {}",
            p.critical.image.docker_manifest_digest, want.manifest_digest
        )));
    }
    let got = &p.critical.identity.docker_reference;
    match &want.reference {
        ReferenceMatch::Ignore => {}
        ReferenceMatch::Exact(r) if got == r => {}
        ReferenceMatch::Repository(r) if repository_of(got) == repository_of(r) => {}
        ReferenceMatch::Exact(r) | ReferenceMatch::Repository(r) => {
            return Err(unverified(format!(
                "the signature is for {got:?}, not {r:?}"
            )))
        }
    }
    for (k, v) in &want.annotations {
        let have = p.optional.as_ref().and_then(|o| o.get(k));
        let ok = match have {
            Some(serde_json::Value::String(s)) => s == v,
            Some(other) => {
                *other == serde_json::from_str::<serde_json::Value>(v).unwrap_or_default()
            }
            None => false,
        };
        if !ok {
            return Err(unverified(match have {
                None => format!("required annotation {k}={v} is missing"),
                Some(h) => format!("annotation {k} is {h}, required {v:?}"),
            }));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_like_cosign() {
        let d = "sha256:7fc1c0e2f6a9bd2f3cfe0b3ef1a3c0b2c2e4e7e1b4c7e0ac8f0a0e8f4e7f5a1b";
        let p = build("reg/x", d, &BTreeMap::new()).unwrap();
        assert_eq!(
            String::from_utf8(p).unwrap(),
            format!("{{\"critical\":{{\"identity\":{{\"docker-reference\":\"reg/x\"}},\"image\":{{\"docker-manifest-digest\":\"{d}\"}},\"type\":\"cosign container image signature\"}},\"optional\":null}}")
        );
        let a = BTreeMap::from([
            ("z".to_string(), "<&>".to_string()),
            ("a".into(), "1".into()),
        ]);
        let p = build("reg/x", d, &a).unwrap();
        assert!(String::from_utf8(p)
            .unwrap()
            .ends_with("\"optional\":{\"a\":\"1\",\"z\":\"\\u003c\\u0026\\u003e\"}}"));
    }

    #[test]
    fn repository_stripping() {
        assert_eq!(
            repository_of("localhost:5000/a/b:tag"),
            "localhost:5000/a/b"
        );
        assert_eq!(repository_of("localhost:5000/a/b"), "localhost:5000/a/b");
        assert_eq!(repository_of("r/a@sha256:00"), "r/a");
    }
}
