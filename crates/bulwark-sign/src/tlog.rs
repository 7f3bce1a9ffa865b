//! Transparency log (Rekor) entries, verified offline: the signed entry timestamp
//! (SET), the RFC 6962 / RFC 9162 Merkle inclusion proof, the signed checkpoint
//! (C2SP signed-note format), and the match between the logged entry body and the
//! bundle's signature, artifact and verifier (kinds `hashedrekord` 0.0.1/0.0.2,
//! `dsse` 0.0.1/0.0.2, `intoto` 0.0.2, legacy `rekord` 0.0.1).

use crate::b64;
use crate::bundle::{InclusionProof, TlogEntry};
use crate::error::{malformed, unverified, Error, Result};
use crate::keys::PublicKey;
use crate::trust::{LogKey, TrustedRoot};
use crate::x509::Cert;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Largest audit path accepted (a tree of 2^64 leaves needs 64).
const MAX_PROOF_HASHES: usize = 64;

fn hash_children(l: &[u8], r: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(l);
    h.update(r);
    h.finalize().into()
}

/// RFC 6962 leaf hash.
pub fn leaf_hash(body: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(body);
    h.finalize().into()
}

/// Computes the root from a leaf hash and its audit path (RFC 9162 §2.1.3.2).
pub fn root_from_inclusion_proof(
    index: u64,
    size: u64,
    leaf: [u8; 32],
    proof: &[[u8; 32]],
) -> Result<[u8; 32]> {
    if index >= size {
        return Err(unverified(format!(
            "inclusion proof: index {index} is not below tree size {size}"
        )));
    }
    let (mut fnn, mut sn) = (index, size - 1);
    let mut r = leaf;
    for p in proof {
        if sn == 0 {
            return Err(unverified("inclusion proof: audit path is too long"));
        }
        if fnn & 1 == 1 || fnn == sn {
            r = hash_children(p, &r);
            if fnn & 1 == 0 {
                while fnn & 1 == 0 && fnn != 0 {
                    fnn >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            r = hash_children(&r, p);
        }
        fnn >>= 1;
        sn >>= 1;
    }
    if sn != 0 {
        return Err(unverified("inclusion proof: audit path is too short"));
    }
    Ok(r)
}

/// A parsed checkpoint.
#[derive(Debug)]
struct Checkpoint<'a> {
    origin: &'a str,
    size: u64,
    root: Vec<u8>,
    body: &'a str,
    sigs: Vec<(&'a str, Vec<u8>)>,
}

fn parse_checkpoint(text: &str) -> Result<Checkpoint<'_>> {
    let Some(split) = text.find("\n\n") else {
        return Err(unverified(
            "checkpoint: no blank line before the signatures",
        ));
    };
    let body = &text[..split + 1];
    let sig_text = &text[split + 2..];
    let mut lines = body.lines();
    let origin = lines.next().unwrap_or_default();
    let size_line = lines.next().unwrap_or_default();
    let root_line = lines.next().unwrap_or_default();
    if origin.is_empty() {
        return Err(unverified("checkpoint: missing origin line"));
    }
    let size: u64 = size_line.parse().map_err(|_| {
        unverified(format!(
            "checkpoint: tree size line {size_line:?} is not a number"
        ))
    })?;
    let root = b64::decode(root_line, "checkpoint root hash")
        .map_err(|_| unverified("checkpoint: root hash line is not base64"))?;
    if root.len() != 32 {
        return Err(unverified("checkpoint: root hash is not 32 bytes"));
    }
    let mut sigs = Vec::new();
    for line in sig_text.lines() {
        if line.is_empty() {
            continue;
        }
        let Some(rest) = line.strip_prefix("\u{2014} ") else {
            return Err(unverified(
                "checkpoint: signature line does not start with an em dash",
            ));
        };
        let Some((name, sig)) = rest.rsplit_once(' ') else {
            return Err(unverified("checkpoint: malformed signature line"));
        };
        let raw = b64::decode(sig, "checkpoint signature")
            .map_err(|_| unverified("checkpoint: signature is not base64"))?;
        if raw.len() < 5 {
            return Err(unverified("checkpoint: signature too short"));
        }
        sigs.push((name, raw));
    }
    if sigs.is_empty() {
        return Err(unverified("checkpoint: no signatures"));
    }
    Ok(Checkpoint {
        origin,
        size,
        root,
        body,
        sigs,
    })
}

fn host_of(url: &str) -> &str {
    let s = url.split_once("://").map_or(url, |(_, r)| r);
    s.split('/').next().unwrap_or(s)
}

/// Verifies a checkpoint was signed by `log` and commits to `size` and `root`.
fn verify_checkpoint(text: &str, log: &LogKey, size: u64, root: &[u8]) -> Result<()> {
    let cp = parse_checkpoint(text)?;
    let hint = log.log_id.get(..4).unwrap_or_default();
    let host = host_of(&log.base_url);
    let mut found = false;
    for (name, raw) in &cp.sigs {
        if &raw[..4] != hint || (!host.is_empty() && *name != host && *name != cp.origin) {
            continue;
        }
        if log.key.verify(cp.body.as_bytes(), &raw[4..]).is_ok() {
            found = true;
            break;
        }
    }
    if !found {
        return Err(unverified(format!(
            "checkpoint ({}): no valid signature from the log's key",
            cp.origin
        )));
    }
    if cp.size != size || cp.root != root {
        return Err(unverified(
            "checkpoint: tree size or root hash differs from the inclusion proof",
        ));
    }
    Ok(())
}

fn verify_inclusion(body: &[u8], proof: &InclusionProof, log: &LogKey) -> Result<()> {
    if proof.log_index < 0 || proof.tree_size < 0 {
        return Err(unverified("inclusion proof: negative index or size"));
    }
    if proof.hashes.len() > MAX_PROOF_HASHES {
        return Err(malformed("inclusion proof: too many hashes"));
    }
    let mut path = Vec::with_capacity(proof.hashes.len());
    for h in &proof.hashes {
        let b = b64::decode(h, "inclusion proof hash")?;
        let arr: [u8; 32] = b
            .as_slice()
            .try_into()
            .map_err(|_| malformed("inclusion proof hash is not 32 bytes"))?;
        path.push(arr);
    }
    let root = b64::decode(&proof.root_hash, "inclusion proof root hash")?;
    let computed = root_from_inclusion_proof(
        proof.log_index as u64,
        proof.tree_size as u64,
        leaf_hash(body),
        &path,
    )?;
    if computed.as_slice() != root.as_slice() {
        return Err(unverified(
            "inclusion proof: the audit path does not lead to the root hash",
        ));
    }
    let Some(cp) = &proof.checkpoint else {
        return Err(unverified("inclusion proof has no signed checkpoint"));
    };
    verify_checkpoint(&cp.envelope, log, proof.tree_size as u64, &root)
}

fn verify_set(entry: &TlogEntry, body: &[u8], log: &LogKey, set: &str) -> Result<i64> {
    let Some(t) = entry.integrated_time else {
        return Err(unverified(
            "signed entry timestamp without an integrated time",
        ));
    };
    let payload = format!(
        "{{\"body\":\"{}\",\"integratedTime\":{},\"logID\":\"{}\",\"logIndex\":{}}}",
        b64::encode(body),
        t,
        hex::encode(&log.log_id),
        entry.log_index
    );
    let sig = b64::decode(set, "signed entry timestamp")?;
    log.key
        .verify(payload.as_bytes(), &sig)
        .map_err(|_| unverified("the signed entry timestamp does not verify with the log key"))?;
    Ok(t)
}

/// What was signed, for matching against a log entry body.
#[derive(Debug, Clone, Copy)]
pub enum Content<'a> {
    /// A message signature: artifact SHA-256 and the signature bytes.
    Message {
        /// SHA-256 of the artifact.
        digest: &'a [u8; 32],
        /// The signature.
        signature: &'a [u8],
    },
    /// A DSSE envelope with one signature.
    Dsse {
        /// The payload type.
        payload_type: &'a str,
        /// The decoded payload.
        payload: &'a [u8],
        /// The decoded signature.
        signature: &'a [u8],
    },
}

/// Who signed: a certificate or a bare key.
#[derive(Debug, Clone, Copy)]
pub enum Signer<'a> {
    /// Fulcio (or other) certificate.
    Cert(&'a Cert),
    /// Managed key.
    Key(&'a PublicKey),
}

/// The outcome of verifying one entry.
#[derive(Debug, Clone)]
pub struct Verified {
    /// Integrated time (seconds) when authenticated by a SET.
    pub integrated_time: Option<i64>,
    /// Log index.
    pub log_index: i64,
    /// Whether an inclusion proof with checkpoint verified.
    pub inclusion_proof: bool,
    /// Whether a signed entry timestamp verified.
    pub set: bool,
}

/// Verifies one tlog entry against the trusted root and the bundle content.
/// `require_proof`: bundle v0.2+ must carry an inclusion proof; v0.1 a SET.
pub fn verify_entry(
    entry: &TlogEntry,
    root: &TrustedRoot,
    content: Content<'_>,
    signer: Signer<'_>,
    require_proof: bool,
    require_set: bool,
) -> Result<Verified> {
    if entry.log_index < 0 {
        return Err(unverified(
            "transparency log entry has a negative log index",
        ));
    }
    let log_id = b64::decode(&entry.log_id.key_id, "log ID")?;
    let Some(log) = root.tlog(&log_id) else {
        return Err(unverified(format!(
            "transparency log entry from a log not in the trusted root (log ID {})",
            hex::encode(&log_id)
        )));
    };
    let body = b64::decode(&entry.canonicalized_body, "canonicalized body")?;
    check_body(
        &body,
        &entry.kind_version.kind,
        &entry.kind_version.version,
        content,
        signer,
    )?;
    let mut out = Verified {
        integrated_time: None,
        log_index: entry.log_index,
        inclusion_proof: false,
        set: false,
    };
    if let Some(p) = &entry.inclusion_promise {
        let t = verify_set(entry, &body, log, &p.signed_entry_timestamp)?;
        out.integrated_time = Some(t);
        out.set = true;
    } else if require_set {
        return Err(unverified(
            "a v0.1 bundle's log entry needs a signed entry timestamp (inclusion promise)",
        ));
    }
    if let Some(p) = &entry.inclusion_proof {
        verify_inclusion(&body, p, log)?;
        out.inclusion_proof = true;
    } else if require_proof {
        return Err(unverified("the log entry has no inclusion proof"));
    }
    if !out.set && !out.inclusion_proof {
        return Err(unverified(
            "the log entry has neither a signed entry timestamp nor an inclusion proof",
        ));
    }
    if let Some(t) = out.integrated_time {
        if !log.valid_at(crate::time::from_secs(t)) {
            return Err(unverified(format!(
                "the log key was not valid at the integrated time {}",
                crate::time::format(crate::time::from_secs(t))
            )));
        }
    }
    Ok(out)
}

fn get<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    let mut cur = v;
    for p in path {
        cur = cur.get(*p)?;
    }
    Some(cur)
}

fn get_str<'a>(v: &'a Value, path: &[&str]) -> Result<&'a str> {
    get(v, path)
        .and_then(Value::as_str)
        .ok_or_else(|| unverified(format!("log entry body has no {}", path.join("."))))
}

fn mismatch(what: &str) -> Error {
    unverified(format!(
        "the log entry does not match the bundle: {what} differs"
    ))
}

/// Whether a PEM-or-DER verifier from a log body names `signer`.
fn verifier_matches(text_or_der: &[u8], signer: Signer<'_>) -> Result<()> {
    let (label, der) = match std::str::from_utf8(text_or_der)
        .ok()
        .filter(|t| t.contains("-----BEGIN"))
    {
        Some(t) => {
            let b = crate::pem::decode_one(t)?;
            (Some(b.label), b.der)
        }
        None => (None, text_or_der.to_vec()),
    };
    match signer {
        Signer::Cert(c) => {
            if label.as_deref().is_some_and(|l| l != "CERTIFICATE") || der != c.der {
                return Err(mismatch("the certificate"));
            }
        }
        Signer::Key(k) => {
            let spki = match label.as_deref() {
                Some("CERTIFICATE") => return Err(mismatch("the public key")),
                _ => der,
            };
            if spki != k.to_spki_der()? {
                return Err(mismatch("the public key"));
            }
        }
    }
    Ok(())
}

fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    crate::dsse::pae(payload_type, payload)
}

pub(crate) fn check_body(
    body: &[u8],
    kind: &str,
    version: &str,
    content: Content<'_>,
    signer: Signer<'_>,
) -> Result<()> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| unverified(format!("log entry body is not JSON: {e}")))?;
    let bkind = get_str(&v, &["kind"])?;
    let bver = get_str(&v, &["apiVersion"])?;
    if bkind != kind || bver != version {
        return Err(unverified(format!(
            "log entry kind {bkind} {bver} differs from the declared {kind} {version}"
        )));
    }
    match (kind, version) {
        ("hashedrekord", "0.0.1") | ("rekord", "0.0.1") => {
            let Content::Message { digest, signature } = content else {
                return Err(unverified(
                    "a DSSE envelope cannot match a hashedrekord 0.0.1 entry",
                ));
            };
            let alg = get_str(&v, &["spec", "data", "hash", "algorithm"])?;
            let val = get_str(&v, &["spec", "data", "hash", "value"])?;
            if alg != "sha256" || !val.eq_ignore_ascii_case(&hex::encode(digest)) {
                return Err(mismatch("the artifact digest"));
            }
            let sig = b64::decode(
                get_str(&v, &["spec", "signature", "content"])?,
                "entry signature",
            )?;
            if sig != signature {
                return Err(mismatch("the signature"));
            }
            let pk = b64::decode(
                get_str(&v, &["spec", "signature", "publicKey", "content"])?,
                "entry public key",
            )?;
            verifier_matches(&pk, signer)
        }
        ("hashedrekord", "0.0.2") => {
            let spec = get(&v, &["spec", "hashedRekordV002"])
                .ok_or_else(|| unverified("hashedrekord 0.0.2 body without hashedRekordV002"))?;
            let (want_digest, want_sig): ([u8; 32], &[u8]) = match content {
                Content::Message { digest, signature } => (*digest, signature),
                Content::Dsse {
                    payload_type,
                    payload,
                    signature,
                } => (Sha256::digest(pae(payload_type, payload)).into(), signature),
            };
            if get_str(spec, &["data", "algorithm"])? != "SHA2_256" {
                return Err(mismatch("the digest algorithm"));
            }
            let d = b64::decode(get_str(spec, &["data", "digest"])?, "entry digest")?;
            if d != want_digest {
                return Err(mismatch("the artifact digest"));
            }
            let sig = b64::decode(get_str(spec, &["signature", "content"])?, "entry signature")?;
            if sig != want_sig {
                return Err(mismatch("the signature"));
            }
            verifier_v2(get(spec, &["signature", "verifier"]), signer)
        }
        ("dsse", "0.0.1") => {
            let Content::Dsse {
                payload, signature, ..
            } = content
            else {
                return Err(unverified("a message signature cannot match a dsse entry"));
            };
            if get_str(&v, &["spec", "payloadHash", "algorithm"])? != "sha256"
                || !get_str(&v, &["spec", "payloadHash", "value"])?
                    .eq_ignore_ascii_case(&hex::encode(Sha256::digest(payload)))
            {
                return Err(mismatch("the DSSE payload hash"));
            }
            let sigs = get(&v, &["spec", "signatures"])
                .and_then(Value::as_array)
                .ok_or_else(|| unverified("dsse entry without signatures"))?;
            if sigs.len() != 1 {
                return Err(mismatch("the number of DSSE signatures"));
            }
            let s = b64::decode(get_str(&sigs[0], &["signature"])?, "entry signature")?;
            if s != signature {
                return Err(mismatch("the DSSE signature"));
            }
            let pk = b64::decode(get_str(&sigs[0], &["verifier"])?, "entry verifier")?;
            verifier_matches(&pk, signer)
        }
        ("dsse", "0.0.2") => {
            let Content::Dsse {
                payload, signature, ..
            } = content
            else {
                return Err(unverified("a message signature cannot match a dsse entry"));
            };
            let spec = get(&v, &["spec", "dsseV002"])
                .ok_or_else(|| unverified("dsse 0.0.2 body without dsseV002"))?;
            let d = b64::decode(get_str(spec, &["payloadHash", "digest"])?, "payload hash")?;
            if get_str(spec, &["payloadHash", "algorithm"])? != "SHA2_256"
                || d != Sha256::digest(payload).as_slice()
            {
                return Err(mismatch("the DSSE payload hash"));
            }
            let sigs = get(spec, &["signatures"])
                .and_then(Value::as_array)
                .ok_or_else(|| unverified("dsse entry without signatures"))?;
            if sigs.len() != 1 {
                return Err(mismatch("the number of DSSE signatures"));
            }
            let s = b64::decode(get_str(&sigs[0], &["content"])?, "entry signature")?;
            if s != signature {
                return Err(mismatch("the DSSE signature"));
            }
            verifier_v2(get(&sigs[0], &["verifier"]), signer)
        }
        ("intoto", "0.0.2") => {
            let Content::Dsse {
                payload_type,
                payload,
                signature,
            } = content
            else {
                return Err(unverified(
                    "a message signature cannot match an intoto entry",
                ));
            };
            let c = get(&v, &["spec", "content"])
                .ok_or_else(|| unverified("intoto entry without content"))?;
            if get_str(c, &["payloadHash", "algorithm"])? != "sha256"
                || !get_str(c, &["payloadHash", "value"])?
                    .eq_ignore_ascii_case(&hex::encode(Sha256::digest(payload)))
            {
                return Err(mismatch("the in-toto payload hash"));
            }
            if let Some(pt) = get(c, &["envelope", "payloadType"]).and_then(Value::as_str) {
                if pt != payload_type {
                    return Err(mismatch("the payload type"));
                }
            }
            let sigs = get(c, &["envelope", "signatures"])
                .and_then(Value::as_array)
                .ok_or_else(|| unverified("intoto entry without signatures"))?;
            if sigs.len() != 1 {
                return Err(mismatch("the number of DSSE signatures"));
            }
            // Rekor's intoto type stores the envelope's base64 fields base64-encoded again.
            let once = b64::decode(get_str(&sigs[0], &["sig"])?, "entry signature")?;
            let s = std::str::from_utf8(&once)
                .ok()
                .and_then(|t| b64::decode(t, "entry signature").ok())
                .unwrap_or(once);
            if s != signature {
                return Err(mismatch("the DSSE signature"));
            }
            let pk = b64::decode(get_str(&sigs[0], &["publicKey"])?, "entry public key")?;
            verifier_matches(&pk, signer)
        }
        (k, ver) => Err(Error::Unsupported(format!(
            "transparency log entry kind {k} {ver}"
        ))),
    }
}

fn verifier_v2(v: Option<&Value>, signer: Signer<'_>) -> Result<()> {
    let v = v.ok_or_else(|| unverified("log entry without a verifier"))?;
    if let Some(raw) = get(v, &["x509Certificate", "rawBytes"]).and_then(Value::as_str) {
        let der = b64::decode(raw, "entry certificate")?;
        return match signer {
            Signer::Cert(c) if c.der == der => Ok(()),
            _ => Err(mismatch("the certificate")),
        };
    }
    if let Some(raw) = get(v, &["publicKey", "rawBytes"]).and_then(Value::as_str) {
        let der = b64::decode(raw, "entry public key")?;
        return match signer {
            Signer::Key(k) if k.to_spki_der()? == der => Ok(()),
            _ => Err(mismatch("the public key")),
        };
    }
    Err(unverified(
        "log entry verifier is neither a certificate nor a public key",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merkle_small_trees() {
        // Tree of 3 leaves: root = H(H(l0,l1), l2).
        let l: Vec<[u8; 32]> = (0..3u8).map(|i| leaf_hash(&[i])).collect();
        let h01 = hash_children(&l[0], &l[1]);
        let root = hash_children(&h01, &l[2]);
        assert_eq!(root_from_inclusion_proof(2, 3, l[2], &[h01]).unwrap(), root);
        assert_eq!(
            root_from_inclusion_proof(0, 3, l[0], &[l[1], l[2]]).unwrap(),
            root
        );
        assert_eq!(
            root_from_inclusion_proof(1, 3, l[1], &[l[0], l[2]]).unwrap(),
            root
        );
        assert_ne!(
            root_from_inclusion_proof(1, 3, l[0], &[l[0], l[2]]).unwrap(),
            root
        );
        assert!(root_from_inclusion_proof(3, 3, l[0], &[]).is_err());
        assert!(root_from_inclusion_proof(0, 3, l[0], &[l[1]]).is_err());
    }
}
