//! Finding and verifying every signature and attestation of an image, in both layouts
//! (legacy tags and bundle referrers), with a reason for each one that fails.
//!
//! Fail closed: a signature counts only when every check passed — the signature over
//! the exact stored payload bytes, the payload's manifest digest against the image's
//! (a signature replayed onto another tag or image fails), the docker-reference and the
//! required annotations. Stored data that is malformed or too large fails that
//! signature with its reason. Storage that cannot be read at all (registry 5xx after
//! retries, timeouts, 401/403, local I/O errors) stops verification with an error:
//! nothing is reported as verified when part of the evidence could not be read.

use crate::error::{Error, Result};
use crate::location::{parse_manifest, Image};
use crate::store::{
    legacy_tag, ANN_BUNDLE_CONTENT, ANN_BUNDLE_PREDICATE, COSIGN_SIGN_PREDICATE, DSSE_CONTENT,
    DSSE_MEDIA_TYPE,
};
use bulwark_image::oci::Descriptor;
use bulwark_sign::bundle::Envelope;
use bulwark_sign::cosign::{self, SignatureLayer};
use bulwark_sign::dsse::Statement;
use bulwark_sign::sign::BUNDLE_MEDIA_TYPE;
use bulwark_sign::simple_signing::{
    self, Expectation, Payload, ReferenceMatch, MAX_PAYLOAD, SIMPLE_SIGNING_MEDIA_TYPE,
};
use bulwark_sign::{Artifact, Bundle, Matcher, Policy, PublicKey, TrustedRoot};
use serde::Serialize;
use std::collections::BTreeMap;

/// Most signature layers or referrers looked at for one image.
pub const MAX_SIGNATURES: usize = 256;
/// Largest bundle blob read from storage (what `bulwark-sign` parses).
pub const MAX_BUNDLE_BLOB: u64 = bulwark_sign::bundle::MAX_BUNDLE;
/// Largest attestation envelope read from storage (what `bulwark-sign` parses).
pub const MAX_ENVELOPE_BLOB: u64 = bulwark_sign::dsse::MAX_ENVELOPE as u64;

/// Who may have signed.
#[derive(Debug, Clone)]
pub enum Signer {
    /// A public key.
    Key(PublicKey),
    /// A Fulcio certificate for this identity, checked against a trusted root.
    Identity {
        /// SAN.
        san: Matcher,
        /// OIDC issuer.
        issuer: Matcher,
        /// The trusted root.
        root: Box<TrustedRoot>,
    },
}

impl Signer {
    /// A stable identity of the signer, for verification-cache keys: `key:<SHA-256 of
    /// the SubjectPublicKeyInfo>` or `id:<SAN>|<issuer>`. A key that cannot be encoded
    /// has no fingerprint: an error, never an empty one that two different keys would
    /// share.
    pub fn id(&self) -> Result<String> {
        Ok(match self {
            Signer::Key(k) => format!("key:{}", k.fingerprint()?),
            Signer::Identity { san, issuer, .. } => format!("id:{san}|{issuer}"),
        })
    }
}

/// What a signature must satisfy.
#[derive(Debug, Clone)]
pub struct Requirements {
    /// Who signed.
    pub signer: Signer,
    /// The docker-reference rule.
    pub reference: ReferenceMatch,
    /// Required `-a k=v` annotations.
    pub annotations: BTreeMap<String, String>,
    /// Require a transparency-log proof for key-based signatures (cosign's default;
    /// bulwark signs offline, so its own signatures have none). Always required for
    /// identities.
    pub require_tlog: bool,
    /// Trusted root for key-based signatures that carry log entries.
    pub root: Option<Box<TrustedRoot>>,
}

impl Requirements {
    /// A stable description of the policy, for verification-cache keys.
    pub fn describe(&self) -> Result<String> {
        Ok(self.describe_as(&self.signer.id()?))
    }

    /// [`Requirements::describe`] with the signer's [`Signer::id`] already known (a
    /// policy computes it once when loaded, not on every lookup).
    pub fn describe_as(&self, signer_id: &str) -> String {
        format!(
            "{signer_id}|ref:{:?}|ann:{:?}|tlog:{}",
            self.reference, self.annotations, self.require_tlog
        )
    }

    fn policy(&self) -> Policy {
        match &self.signer {
            Signer::Key(k) => Policy::Key {
                key: k.clone(),
                require_tlog: self.require_tlog,
            },
            Signer::Identity { san, issuer, .. } => Policy::Identity {
                san: san.clone(),
                issuer: issuer.clone(),
            },
        }
    }

    fn trusted_root(&self) -> TrustedRoot {
        match (&self.signer, &self.root) {
            (Signer::Identity { root, .. }, _) => (**root).clone(),
            (_, Some(r)) => (**r).clone(),
            _ => TrustedRoot::default(),
        }
    }
}

/// The outcome for one signature or attestation.
#[derive(Debug, Clone, Serialize)]
pub struct Checked {
    /// `legacy-tag` or `referrer`.
    pub source: &'static str,
    /// Where: `TAG layer N` or the referrer manifest digest.
    pub location: String,
    /// Every check passed.
    pub verified: bool,
    /// Why not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The payload's docker-reference.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub docker_reference: Option<String>,
    /// The payload's annotations.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub annotations: Option<serde_json::Value>,
    /// The attestation's predicate type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub predicate_type: Option<String>,
    /// The verified predicate (attestations; kept out of the report).
    #[serde(skip)]
    pub predicate: Option<serde_json::Value>,
}

impl Checked {
    fn failed(source: &'static str, location: String, reason: impl Into<String>) -> Self {
        Checked {
            source,
            location,
            verified: false,
            reason: Some(reason.into()),
            docker_reference: None,
            annotations: None,
            predicate_type: None,
            predicate: None,
        }
    }
}

/// Everything found for one image.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The image as named.
    pub image: String,
    /// Its manifest digest.
    pub digest: String,
    /// At least one entry fully verified.
    pub verified: bool,
    /// Every signature or attestation looked at.
    pub signatures: Vec<Checked>,
}

const LEGACY: &str = "legacy-tag";
const REFERRER: &str = "referrer";

/// Checks a layer descriptor before anything is fetched: the media type expected of a
/// `what` layer, and at most `max` bytes.
fn check_layer(d: &Descriptor, media_type: &str, max: u64, what: &str) -> Result<()> {
    if d.media_type != media_type {
        return Err(crate::error::malformed(format!(
            "not a {what} layer (media type {})",
            d.media_type
        )));
    }
    if d.size > max {
        return Err(crate::error::malformed(format!(
            "the {what} is {} bytes (at most {max})",
            d.size
        )));
    }
    Ok(())
}

/// Keeps going on a per-signature problem; stops on unreadable storage.
fn soft<T>(
    r: Result<T>,
    out: &mut Vec<Checked>,
    source: &'static str,
    at: &str,
) -> Result<Option<T>> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.is_unavailable() => Err(e),
        Err(e) => {
            out.push(Checked::failed(source, at.to_string(), e.to_string()));
            Ok(None)
        }
    }
}

fn digest_bytes(d: &str) -> Result<[u8; 32]> {
    Artifact::parse_digest(d)
        .ok_or_else(|| crate::error::malformed(format!("not a sha256 digest: {d}")))
}

/// Legacy layers under `tag`: (location, descriptor) pairs, or a failure entry.
fn legacy_layers(
    image: &Image,
    suffix: &str,
    out: &mut Vec<Checked>,
) -> Result<Vec<(String, Descriptor)>> {
    let tag = legacy_tag(image.digest(), suffix);
    let Some(Some(bytes)) = soft(image.location.manifest(&tag), out, LEGACY, &tag)? else {
        return Ok(Vec::new());
    };
    let parsed = parse_manifest(&bytes, &format!("the manifest at {tag}")).and_then(|v| {
        let layers = v.get("layers").cloned().unwrap_or(serde_json::Value::Null);
        serde_json::from_value::<Vec<Descriptor>>(layers).map_err(|e| {
            crate::error::malformed(format!("the manifest at {tag} has no valid layers: {e}"))
        })
    });
    let Some(layers) = soft(parsed, out, LEGACY, &tag)? else {
        return Ok(Vec::new());
    };
    if layers.len() > MAX_SIGNATURES {
        out.push(Checked::failed(
            LEGACY,
            tag.clone(),
            format!(
                "{tag} holds {} layers (at most {MAX_SIGNATURES})",
                layers.len()
            ),
        ));
        return Ok(Vec::new());
    }
    Ok(layers
        .into_iter()
        .enumerate()
        .map(|(i, d)| (format!("{tag} layer {i}"), d))
        .collect())
}

/// Referrer manifests with bundles: (location, parsed manifest, bundle descriptor).
fn referrer_bundles(
    image: &Image,
    want_dsse: bool,
    out: &mut Vec<Checked>,
) -> Result<Vec<(String, serde_json::Value)>> {
    let Some(list) = soft(
        image
            .location
            .referrers(image.digest(), Some(BUNDLE_MEDIA_TYPE)),
        out,
        REFERRER,
        "referrers",
    )?
    else {
        return Ok(Vec::new());
    };
    // Signatures and attestations share the artifact type; the annotations tell them
    // apart without fetching (cosign v3 signatures are DSSE sign/v1). Filter first, so
    // referrers of the other kind cannot crowd out the ones asked for.
    let wanted: Vec<_> = list
        .into_iter()
        .filter(|d| {
            let content = d.annotations.get(ANN_BUNDLE_CONTENT).map(String::as_str);
            let predicate = d.annotations.get(ANN_BUNDLE_PREDICATE).map(String::as_str);
            let is_attestation =
                content == Some(DSSE_CONTENT) && predicate != Some(COSIGN_SIGN_PREDICATE);
            content.is_none() || is_attestation == want_dsse
        })
        .collect();
    if wanted.len() > MAX_SIGNATURES {
        out.push(Checked::failed(
            REFERRER,
            "referrers".into(),
            format!(
                "{} bundle referrers of this kind (at most {MAX_SIGNATURES})",
                wanted.len()
            ),
        ));
        return Ok(Vec::new());
    }
    let mut found = Vec::new();
    for d in wanted {
        let at = d.digest.clone();
        let m = image.location.manifest(&d.digest).and_then(|m| {
            m.ok_or_else(|| crate::error::malformed("the referrer manifest is missing"))
        });
        let Some(bytes) = soft(m, out, REFERRER, &at)? else {
            continue;
        };
        let Some(v) = soft(
            parse_manifest(&bytes, "the referrer manifest"),
            out,
            REFERRER,
            &at,
        )?
        else {
            continue;
        };
        let subject = v
            .pointer("/subject/digest")
            .and_then(|s| s.as_str())
            .unwrap_or("");
        if subject != image.digest() {
            out.push(Checked::failed(
                REFERRER,
                at,
                format!(
                    "the referrer's subject is {subject:?}, not {}",
                    image.digest()
                ),
            ));
            continue;
        }
        found.push((at, v));
    }
    Ok(found)
}

/// The layers of a referrer manifest.
fn layers_of(v: &serde_json::Value) -> Result<Vec<Descriptor>> {
    serde_json::from_value(v.get("layers").cloned().unwrap_or_default())
        .map_err(|e| crate::error::malformed(format!("the referrer has no valid layers: {e}")))
}

/// The referrer's bundle, its layers, and its simple-signing payload when it has one.
fn read_bundle(
    image: &Image,
    v: &serde_json::Value,
) -> Result<(Bundle, Vec<Descriptor>, Option<Vec<u8>>)> {
    let layers = layers_of(v)?;
    let first = layers
        .first()
        .ok_or_else(|| crate::error::malformed("the referrer has no layers"))?;
    check_layer(first, BUNDLE_MEDIA_TYPE, MAX_BUNDLE_BLOB, "bundle")?;
    // A message-signature referrer also carries its payload: fetch both at once.
    let payload_desc = layers
        .iter()
        .find(|l| l.media_type == SIMPLE_SIGNING_MEDIA_TYPE && l.size <= MAX_PAYLOAD as u64);
    let (bytes, payload) = std::thread::scope(|s| {
        let h =
            payload_desc.map(|d| s.spawn(|| image.location.blob(&d.digest, MAX_PAYLOAD as u64)));
        let b = image.location.blob(&first.digest, MAX_BUNDLE_BLOB);
        let p = h.map(|h| {
            h.join()
                .unwrap_or_else(|_| Err(crate::error::malformed("reading the payload panicked")))
        });
        (b, p)
    });
    let bundle = Bundle::from_json(&bytes?)?;
    Ok((bundle, layers, payload.transpose()?))
}

fn expectation(image: &Image, req: &Requirements) -> Expectation {
    Expectation {
        manifest_digest: image.digest().to_string(),
        reference: req.reference.clone(),
        annotations: req.annotations.clone(),
    }
}

fn passed(source: &'static str, location: String, p: &Payload) -> Checked {
    Checked {
        source,
        location,
        verified: true,
        reason: None,
        docker_reference: Some(p.critical.identity.docker_reference.clone()),
        annotations: p
            .optional
            .as_ref()
            .map(|o| serde_json::to_value(o).unwrap_or_default()),
        predicate_type: None,
        predicate: None,
    }
}

/// Finds and verifies every image signature of `image`. The two layouts are read in
/// parallel (each is a few registry round trips).
pub fn verify_signatures(image: &Image, req: &Requirements) -> Result<Report> {
    let want = expectation(image, req);
    let now = bulwark_sign::time::now();
    let root = req.trusted_root();
    let (legacy, referrers) = std::thread::scope(|s| {
        let h = s.spawn(|| legacy_signatures(image, req, &want, &root, now));
        let r = referrer_signatures(image, req, &want, &root, now);
        (h.join(), r)
    });
    let mut out =
        legacy.map_err(|_| crate::error::malformed("reading the legacy signatures panicked"))??;
    out.extend(referrers?);
    Ok(Report {
        image: image.display.clone(),
        digest: image.digest().to_string(),
        verified: out.iter().any(|c| c.verified),
        signatures: out,
    })
}

fn legacy_signatures(
    image: &Image,
    req: &Requirements,
    want: &Expectation,
    root: &TrustedRoot,
    now: bulwark_sign::time::Nanos,
) -> Result<Vec<Checked>> {
    let mut out = Vec::new();
    // Legacy `.sig` layers.
    let verifier = match &req.signer {
        Signer::Key(k) => cosign::Verifier::Key(k.clone()),
        Signer::Identity { san, issuer, root } => cosign::Verifier::TrustedRoot {
            root: Box::new((**root).clone()),
            san: san.clone(),
            issuer: issuer.clone(),
        },
    };
    let opts = cosign::Options {
        rekor_keys: root.tlogs.clone(),
        require_tlog: req.require_tlog || matches!(req.signer, Signer::Identity { .. }),
        now,
    };
    for (at, d) in legacy_layers(image, "sig", &mut out)? {
        if let Err(e) = check_layer(&d, SIMPLE_SIGNING_MEDIA_TYPE, MAX_PAYLOAD as u64, "payload") {
            out.push(Checked::failed(LEGACY, at, e.to_string()));
            continue;
        }
        let Some(payload) = soft(
            image.location.blob(&d.digest, MAX_PAYLOAD as u64),
            &mut out,
            LEGACY,
            &at,
        )?
        else {
            continue;
        };
        let layer = SignatureLayer {
            media_type: d.media_type.clone(),
            payload,
            annotations: d.annotations.clone(),
        };
        match cosign::verify_layer(&layer, &verifier, want, &opts) {
            Ok(v) => out.push(passed(LEGACY, at, &v.payload)),
            Err(e) => out.push(Checked::failed(LEGACY, at, e.to_string())),
        }
    }

    Ok(out)
}

fn referrer_signatures(
    image: &Image,
    req: &Requirements,
    want: &Expectation,
    root: &TrustedRoot,
    now: bulwark_sign::time::Nanos,
) -> Result<Vec<Checked>> {
    let mut out = Vec::new();
    // Bundle referrers.
    let image_sha = digest_bytes(image.digest())?;
    let policy = req.policy();
    for (at, v) in referrer_bundles(image, false, &mut out)? {
        let Some((bundle, layers, prefetched)) =
            soft(read_bundle(image, &v), &mut out, REFERRER, &at)?
        else {
            continue;
        };
        let r: Result<Checked> = (|| {
            if bundle.message_signature.is_some() {
                let pl = layers
                    .iter()
                    .find(|l| l.media_type == SIMPLE_SIGNING_MEDIA_TYPE)
                    .ok_or_else(|| {
                        crate::error::malformed("the referrer carries no simple-signing payload")
                    })?;
                check_layer(pl, SIMPLE_SIGNING_MEDIA_TYPE, MAX_PAYLOAD as u64, "payload")?;
                let payload = match prefetched {
                    Some(p) => p,
                    None => image.location.blob(&pl.digest, MAX_PAYLOAD as u64)?,
                };
                bulwark_sign::verify_bundle(
                    &bundle,
                    Artifact::Bytes(&payload),
                    &policy,
                    root,
                    now,
                )?;
                let p = Payload::parse(&payload)?;
                simple_signing::check(&p, want)?;
                Ok(passed(REFERRER, at.clone(), &p))
            } else {
                // cosign v3: DSSE in-toto statement about the image, predicate sign/v1.
                let o = bulwark_sign::verify_bundle(
                    &bundle,
                    Artifact::Sha256(image_sha),
                    &policy,
                    root,
                    now,
                )?;
                if o.predicate_type.as_deref() != Some(COSIGN_SIGN_PREDICATE) {
                    return Err(Error::Sign(bulwark_sign::Error::Unverified(format!(
                        "the bundle is an attestation ({:?}), not a signature",
                        o.predicate_type
                    ))));
                }
                if !req.annotations.is_empty() {
                    return Err(Error::Sign(bulwark_sign::Error::Unverified(
                        "a cosign v3 signature bundle carries no annotations to check".into(),
                    )));
                }
                if !matches!(req.reference, ReferenceMatch::Ignore) {
                    return Err(Error::Sign(bulwark_sign::Error::Unverified(
                        "a cosign v3 signature bundle carries no docker-reference to check (verify with --ignore-reference to accept it)".into(),
                    )));
                }
                Ok(Checked {
                    source: REFERRER,
                    location: at.clone(),
                    verified: true,
                    reason: None,
                    docker_reference: None,
                    annotations: None,
                    predicate_type: o.predicate_type,
                    predicate: None,
                })
            }
        })();
        match r {
            Ok(c) => out.push(c),
            Err(e) if e.is_unavailable() => return Err(e),
            Err(e) => out.push(Checked::failed(REFERRER, at, e.to_string())),
        }
    }
    Ok(out)
}

/// Finds and verifies every attestation of `image`; with `predicate_type`, only
/// attestations of that type count as verified (others are listed with the reason).
pub fn verify_attestations(
    image: &Image,
    req: &Requirements,
    predicate_type: Option<&str>,
) -> Result<Report> {
    let mut out = Vec::new();
    let now = bulwark_sign::time::now();
    let root = req.trusted_root();
    let image_sha = digest_bytes(image.digest())?;
    let type_ok = |c: Checked| -> Checked {
        match (predicate_type, c.predicate_type.as_deref()) {
            (Some(want), Some(got)) if c.verified && want != got => Checked {
                verified: false,
                reason: Some(format!("predicate type {got}, not the requested {want}")),
                ..c
            },
            _ => c,
        }
    };
    let statement_checks = |payload: &[u8]| -> Result<Statement> {
        let st = Statement::from_json(payload)?;
        if !st.has_sha256_subject(&image_sha) {
            return Err(Error::Sign(bulwark_sign::Error::Unverified(format!(
                "the attestation is not about {} (subject digest differs)",
                image.digest()
            ))));
        }
        Ok(st)
    };
    let ok_entry = |source: &'static str, at: String, st: Statement| Checked {
        source,
        location: at,
        verified: true,
        reason: None,
        docker_reference: None,
        annotations: None,
        predicate_type: Some(st.predicate_type.clone()),
        predicate: Some(st.predicate),
    };

    for (at, d) in legacy_layers(image, "att", &mut out)? {
        let r: Result<Checked> = (|| {
            check_layer(&d, DSSE_MEDIA_TYPE, MAX_ENVELOPE_BLOB, "DSSE envelope")?;
            let key = match &req.signer {
                Signer::Key(k) => k,
                Signer::Identity { .. } => {
                    return Err(Error::Sign(bulwark_sign::Error::Unsupported(
                        "keyless legacy .att layers; verify the bundle referrer instead".into(),
                    )))
                }
            };
            let bytes = image.location.blob(&d.digest, MAX_ENVELOPE_BLOB)?;
            let env = Envelope::from_json(&bytes)?;
            let payload = env.verify(key)?;
            let st = statement_checks(&payload)?;
            Ok(ok_entry(LEGACY, at.clone(), st))
        })();
        match r {
            Ok(c) => out.push(type_ok(c)),
            Err(e) if e.is_unavailable() => return Err(e),
            Err(e) => out.push(Checked::failed(LEGACY, at, e.to_string())),
        }
    }
    let policy = req.policy();
    for (at, v) in referrer_bundles(image, true, &mut out)? {
        let r: Result<Checked> = (|| {
            let (bundle, _, _) = read_bundle(image, &v)?;
            if bundle.dsse_envelope.is_none() {
                return Err(crate::error::malformed("the bundle holds no DSSE envelope"));
            }
            let o = bulwark_sign::verify_bundle(
                &bundle,
                Artifact::Sha256(image_sha),
                &policy,
                &root,
                now,
            )?;
            let payload = o
                .payload
                .ok_or_else(|| crate::error::malformed("the bundle's envelope has no payload"))?;
            let st = statement_checks(&payload)?;
            Ok(ok_entry(REFERRER, at.clone(), st))
        })();
        match r {
            Ok(c) => out.push(type_ok(c)),
            Err(e) if e.is_unavailable() => return Err(e),
            Err(e) => out.push(Checked::failed(REFERRER, at, e.to_string())),
        }
    }
    Ok(Report {
        image: image.display.clone(),
        digest: image.digest().to_string(),
        verified: out.iter().any(|c| c.verified),
        signatures: out,
    })
}

/// [`verify_signatures`] through a verification cache keyed by (manifest digest,
/// [`Requirements::describe`]): the admission path. `Ok(Ok(report))` verified,
/// `Ok(Err(reasons))` not verified — both remembered for their TTLs, and a warm answer
/// makes no registry call —, `Err` the storage could not be read (never cached, so an
/// outage is retried on the next call). Clear the cache when the trusted root changes.
pub fn verify_cached(
    cache: &bulwark_sign::cache::VerificationCache<Report>,
    image: &Image,
    req: &Requirements,
) -> Result<std::result::Result<Report, String>> {
    let key = bulwark_sign::cache::Key::new(image.digest(), req.describe()?.as_bytes());
    if let Some(v) = cache.get(&key) {
        return Ok(v);
    }
    let report = verify_signatures(image, req)?;
    let verdict = if report.verified {
        Ok(report)
    } else {
        let reasons: Vec<String> = report
            .signatures
            .iter()
            .map(|c| {
                format!(
                    "{} {}: {}",
                    c.source,
                    c.location,
                    c.reason.as_deref().unwrap_or("not verified")
                )
            })
            .collect();
        Err(if reasons.is_empty() {
            format!("no signature found for {}", image.digest())
        } else {
            reasons.join("; ")
        })
    };
    cache.insert(key, verdict.clone());
    Ok(verdict)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// A policy that computes signer ids once files verdicts under the same cache key
    /// as `describe` (what `verify_cached` uses).
    #[test]
    fn describe_as_the_signer_id_is_describe() {
        let key = bulwark_sign::PrivateKey::generate(bulwark_sign::Algorithm::EcdsaP256);
        let req = Requirements {
            signer: Signer::Key(key.public_key()),
            reference: ReferenceMatch::Repository("registry.example/app".into()),
            annotations: BTreeMap::from([("team".to_string(), "shop".to_string())]),
            require_tlog: false,
            root: None,
        };
        let id = req.signer.id().unwrap();
        assert!(id.starts_with("key:") && id.len() == 4 + 64, "{id}");
        assert_eq!(req.describe_as(&id), req.describe().unwrap());
        let other = bulwark_sign::PrivateKey::generate(bulwark_sign::Algorithm::EcdsaP256);
        assert_ne!(Signer::Key(other.public_key()).id().unwrap(), id);
    }
}
