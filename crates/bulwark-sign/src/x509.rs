//! X.509 for Sigstore: parse certificates, verify one certificate's signature with its
//! issuer's key, read the Fulcio identity (subject alternative name, OIDC issuer
//! extensions), and verify embedded Signed Certificate Timestamps (RFC 6962 §3.2)
//! against the CT log keys of a trusted root.
//!
//! Parsing uses `x509-cert`; path building is deliberately narrow (no general-purpose
//! PKIX validation): a Sigstore leaf is checked against the fixed certificate chains
//! a trusted root lists, which is what Sigstore clients do.

use crate::error::{malformed, unverified, Error, Result};
use crate::keys::{HashAlg, PublicKey};
use crate::time::{self, Nanos};
use const_oid::ObjectIdentifier;
use der::{Decode, Encode};
use sha2::Digest as _;
use x509_cert::ext::pkix::name::GeneralName;

/// Fulcio: OIDC issuer, raw string (deprecated form).
pub const OID_FULCIO_ISSUER_V1: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1.1");
/// Fulcio: OIDC issuer, DER UTF8String.
pub const OID_FULCIO_ISSUER_V2: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1.8");
/// Embedded SCT list (RFC 6962).
pub const OID_SCT_LIST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.11129.2.4.2");
/// CT precertificate poison.
pub const OID_CT_POISON: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.11129.2.4.3");
const OID_SAN: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.17");
const OID_BASIC_CONSTRAINTS: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.19");
const OID_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.15");
const OID_EKU: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.37");
const OID_EKU_CODE_SIGNING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.3");

/// Largest certificate accepted.
pub const MAX_CERT: usize = 64 << 10;

/// A parsed certificate with its DER bytes.
#[derive(Debug, Clone)]
pub struct Cert {
    /// The decoded certificate.
    pub cert: x509_cert::Certificate,
    /// The DER bytes it was decoded from.
    pub der: Vec<u8>,
}

impl PartialEq for Cert {
    fn eq(&self, other: &Self) -> bool {
        self.der == other.der
    }
}

impl Cert {
    /// Parses DER.
    pub fn from_der(der: &[u8]) -> Result<Self> {
        if der.len() > MAX_CERT {
            return Err(malformed("certificate larger than 64 KiB"));
        }
        let cert = x509_cert::Certificate::from_der(der)
            .map_err(|e| malformed(format!("not an X.509 certificate: {e}")))?;
        Ok(Cert {
            cert,
            der: der.to_vec(),
        })
    }

    /// Parses every `CERTIFICATE` block of PEM text, in order.
    pub fn from_pem_chain(text: &str) -> Result<Vec<Self>> {
        let mut out = Vec::new();
        for b in crate::pem::decode_all(text)? {
            if b.label == "CERTIFICATE" {
                out.push(Cert::from_der(&b.der)?);
            }
        }
        if out.is_empty() {
            return Err(malformed("no PEM CERTIFICATE block found"));
        }
        Ok(out)
    }

    /// The certificate as PEM.
    pub fn to_pem(&self) -> Result<String> {
        crate::pem::encode("CERTIFICATE", &self.der)
    }

    /// The subject public key.
    pub fn public_key(&self) -> Result<PublicKey> {
        let spki = self
            .cert
            .tbs_certificate
            .subject_public_key_info
            .to_der()
            .map_err(|e| malformed(format!("certificate public key: {e}")))?;
        PublicKey::from_spki_der(&spki)
    }

    /// DER of the subject public key info.
    pub fn spki_der(&self) -> Result<Vec<u8>> {
        self.cert
            .tbs_certificate
            .subject_public_key_info
            .to_der()
            .map_err(|e| malformed(format!("certificate public key: {e}")))
    }

    /// Validity window, inclusive at both ends.
    pub fn validity(&self) -> (Nanos, Nanos) {
        let v = &self.cert.tbs_certificate.validity;
        (
            v.not_before.to_unix_duration().as_nanos() as i128,
            v.not_after.to_unix_duration().as_nanos() as i128,
        )
    }

    /// Whether `t` falls inside the validity window (inclusive).
    pub fn valid_at(&self, t: Nanos) -> bool {
        let (nb, na) = self.validity();
        nb <= t && t <= na
    }

    fn extension(&self, oid: ObjectIdentifier) -> Option<&x509_cert::ext::Extension> {
        self.cert
            .tbs_certificate
            .extensions
            .as_ref()?
            .iter()
            .find(|e| e.extn_id == oid)
    }

    /// Whether the certificate is self-signed (issuer == subject and its own key
    /// verifies its signature).
    pub fn is_self_signed(&self) -> bool {
        self.cert.tbs_certificate.issuer == self.cert.tbs_certificate.subject
            && self
                .public_key()
                .and_then(|k| self.verify_signed_by(&k))
                .is_ok()
    }

    /// Whether basicConstraints marks this as a CA.
    pub fn is_ca(&self) -> bool {
        self.extension(OID_BASIC_CONSTRAINTS)
            .and_then(|e| {
                x509_cert::ext::pkix::BasicConstraints::from_der(e.extn_value.as_bytes()).ok()
            })
            .is_some_and(|b| b.ca)
    }

    /// Verifies this certificate's signature with `issuer`'s key.
    pub fn verify_signed_by(&self, issuer: &PublicKey) -> Result<()> {
        let tbs = self
            .cert
            .tbs_certificate
            .to_der()
            .map_err(|e| malformed(format!("re-encoding certificate: {e}")))?;
        let sig = self
            .cert
            .signature
            .as_bytes()
            .ok_or_else(|| malformed("certificate signature is not whole bytes"))?;
        let hash = sig_hash(&self.cert.signature_algorithm.oid)?;
        issuer.verify_with(hash, &tbs, sig)
    }

    /// Subject alternative names that Fulcio uses as identities: e-mail addresses,
    /// URIs, and `otherName` UTF-8 strings (usernames).
    pub fn san_identities(&self) -> Result<Vec<String>> {
        let Some(ext) = self.extension(OID_SAN) else {
            return Ok(Vec::new());
        };
        let san = x509_cert::ext::pkix::SubjectAltName::from_der(ext.extn_value.as_bytes())
            .map_err(|e| malformed(format!("subject alternative name: {e}")))?;
        let mut out = Vec::new();
        for n in san.0 {
            match n {
                GeneralName::Rfc822Name(s) => out.push(s.to_string()),
                GeneralName::UniformResourceIdentifier(s) => out.push(s.to_string()),
                GeneralName::DnsName(s) => out.push(s.to_string()),
                GeneralName::OtherName(o) => {
                    if let Ok(s) = o.value.decode_as::<der::asn1::Utf8StringRef<'_>>() {
                        out.push(s.as_str().to_string());
                    }
                }
                _ => {}
            }
        }
        Ok(out)
    }

    /// The OIDC issuer Fulcio recorded (1.3.6.1.4.1.57264.1.8, else the legacy .1.1).
    pub fn fulcio_issuer(&self) -> Result<Option<String>> {
        if let Some(e) = self.extension(OID_FULCIO_ISSUER_V2) {
            let s = der::asn1::Utf8StringRef::from_der(e.extn_value.as_bytes())
                .map_err(|e| malformed(format!("Fulcio issuer extension: {e}")))?;
            return Ok(Some(s.as_str().to_string()));
        }
        if let Some(e) = self.extension(OID_FULCIO_ISSUER_V1) {
            let s = std::str::from_utf8(e.extn_value.as_bytes())
                .map_err(|_| malformed("Fulcio issuer extension is not UTF-8"))?;
            return Ok(Some(s.to_string()));
        }
        Ok(None)
    }

    /// Leaf checks for a code-signing certificate: not a CA, digitalSignature key
    /// usage (when present), codeSigning extended key usage.
    pub fn check_code_signing_leaf(&self) -> Result<()> {
        if self.is_ca() {
            return Err(unverified("the signing certificate is a CA certificate"));
        }
        if let Some(e) = self.extension(OID_KEY_USAGE) {
            let ku = x509_cert::ext::pkix::KeyUsage::from_der(e.extn_value.as_bytes())
                .map_err(|e| malformed(format!("key usage: {e}")))?;
            if !ku.digital_signature() {
                return Err(unverified(
                    "the signing certificate's key usage lacks digitalSignature",
                ));
            }
        }
        let Some(e) = self.extension(OID_EKU) else {
            return Err(unverified(
                "the signing certificate has no extended key usage (codeSigning required)",
            ));
        };
        let eku = x509_cert::ext::pkix::ExtendedKeyUsage::from_der(e.extn_value.as_bytes())
            .map_err(|e| malformed(format!("extended key usage: {e}")))?;
        if !eku.0.contains(&OID_EKU_CODE_SIGNING) {
            return Err(unverified(
                "the signing certificate's extended key usage lacks codeSigning",
            ));
        }
        Ok(())
    }

    /// The TBSCertificate DER with the embedded SCT list removed: what a CT log signed
    /// for a precertificate.
    fn precert_tbs(&self) -> Result<Vec<u8>> {
        let mut tbs = self.cert.tbs_certificate.clone();
        if let Some(exts) = tbs.extensions.as_mut() {
            exts.retain(|e| e.extn_id != OID_SCT_LIST);
        }
        tbs.to_der()
            .map_err(|e| malformed(format!("re-encoding certificate: {e}")))
    }

    /// The embedded SCTs.
    pub fn scts(&self) -> Result<Vec<Sct>> {
        let Some(ext) = self.extension(OID_SCT_LIST) else {
            return Ok(Vec::new());
        };
        let inner = der::asn1::OctetStringRef::from_der(ext.extn_value.as_bytes())
            .map_err(|e| malformed(format!("SCT list extension: {e}")))?;
        parse_sct_list(inner.as_bytes())
    }
}

/// The hash a certificate or CMS signature algorithm OID implies.
pub fn sig_hash(oid: &ObjectIdentifier) -> Result<HashAlg> {
    Ok(match oid.to_string().as_str() {
        "1.2.840.10045.4.3.2" | "1.2.840.113549.1.1.11" => HashAlg::Sha256,
        "1.2.840.10045.4.3.3" | "1.2.840.113549.1.1.12" => HashAlg::Sha384,
        "1.2.840.10045.4.3.4" | "1.2.840.113549.1.1.13" => HashAlg::Sha512,
        // Ed25519 ignores the hash.
        "1.3.101.112" => HashAlg::Sha512,
        other => return Err(Error::Unsupported(format!("signature algorithm {other}"))),
    })
}

/// One Signed Certificate Timestamp (RFC 6962 §3.2, version 1).
#[derive(Debug, Clone)]
pub struct Sct {
    /// SHA-256 of the log's public key (DER SPKI).
    pub log_id: [u8; 32],
    /// Milliseconds since the epoch.
    pub timestamp_ms: u64,
    /// Extensions (opaque, signed).
    pub extensions: Vec<u8>,
    /// TLS hash algorithm byte.
    pub hash_alg: u8,
    /// TLS signature algorithm byte.
    pub sig_alg: u8,
    /// The signature.
    pub signature: Vec<u8>,
}

struct Reader<'a>(&'a [u8]);
impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.0.len() < n {
            return Err(malformed("SCT list is truncated"));
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }
    fn u16(&mut self) -> Result<usize> {
        let b = self.take(2)?;
        Ok(usize::from(u16::from_be_bytes([b[0], b[1]])))
    }
}

fn parse_sct_list(data: &[u8]) -> Result<Vec<Sct>> {
    let mut r = Reader(data);
    let total = r.u16()?;
    let mut list = Reader(r.take(total)?);
    let mut out = Vec::new();
    while !list.0.is_empty() {
        let len = list.u16()?;
        let mut s = Reader(list.take(len)?);
        let version = s.take(1)?[0];
        if version != 0 {
            return Err(Error::Unsupported(format!("SCT version {version}")));
        }
        let mut log_id = [0u8; 32];
        log_id.copy_from_slice(s.take(32)?);
        let ts = s.take(8)?;
        let mut tsb = [0u8; 8];
        tsb.copy_from_slice(ts);
        let ext_len = s.u16()?;
        let extensions = s.take(ext_len)?.to_vec();
        let hash_alg = s.take(1)?[0];
        let sig_alg = s.take(1)?[0];
        let sig_len = s.u16()?;
        let signature = s.take(sig_len)?.to_vec();
        out.push(Sct {
            log_id,
            timestamp_ms: u64::from_be_bytes(tsb),
            extensions,
            hash_alg,
            sig_alg,
            signature,
        });
    }
    Ok(out)
}

/// A CT log key from a trusted root.
#[derive(Debug, Clone)]
pub struct CtLogKey {
    /// Log ID (SHA-256 of the DER SPKI).
    pub log_id: Vec<u8>,
    /// The key.
    pub key: PublicKey,
    /// Validity window (inclusive), if bounded.
    pub valid: (Option<Nanos>, Option<Nanos>),
}

/// Verifies the leaf's embedded SCTs: at least one must be from a known CT log (valid
/// at the SCT's time) and verify over the precertificate entry built from the leaf and
/// `issuer`. Returns how many verified.
pub fn verify_scts(leaf: &Cert, issuer: &Cert, logs: &[CtLogKey]) -> Result<usize> {
    let scts = leaf.scts()?;
    if scts.is_empty() {
        return Err(unverified(
            "the signing certificate carries no signed certificate timestamp",
        ));
    }
    let tbs = leaf.precert_tbs()?;
    if tbs.len() > 0xFF_FFFF {
        return Err(malformed("certificate too large for a CT entry"));
    }
    let issuer_key_hash = sha2::Sha256::digest(issuer.spki_der()?);
    let mut ok = 0;
    let mut reasons = Vec::new();
    for sct in &scts {
        let Some(log) = logs.iter().find(|l| l.log_id == sct.log_id) else {
            reasons.push(format!("SCT from unknown log {}", hex::encode(sct.log_id)));
            continue;
        };
        let t = i128::from(sct.timestamp_ms) * 1_000_000;
        if log.valid.0.is_some_and(|s| t < s) || log.valid.1.is_some_and(|e| t > e) {
            reasons.push("SCT time outside the CT log key's validity".into());
            continue;
        }
        let mut msg = Vec::with_capacity(tbs.len() + 64);
        msg.push(0); // version v1
        msg.push(0); // signature_type certificate_timestamp
        msg.extend_from_slice(&sct.timestamp_ms.to_be_bytes());
        msg.extend_from_slice(&1u16.to_be_bytes()); // precert_entry
        msg.extend_from_slice(&issuer_key_hash);
        let l = tbs.len();
        msg.extend_from_slice(&[(l >> 16) as u8, (l >> 8) as u8, l as u8]);
        msg.extend_from_slice(&tbs);
        msg.extend_from_slice(&(sct.extensions.len() as u16).to_be_bytes());
        msg.extend_from_slice(&sct.extensions);
        let hash = match sct.hash_alg {
            4 => HashAlg::Sha256,
            5 => HashAlg::Sha384,
            6 => HashAlg::Sha512,
            h => {
                reasons.push(format!("SCT hash algorithm {h} unsupported"));
                continue;
            }
        };
        match log.key.verify_with(hash, &msg, &sct.signature) {
            Ok(()) => ok += 1,
            Err(_) => reasons.push("SCT signature does not verify with the CT log key".into()),
        }
    }
    if ok == 0 {
        return Err(unverified(format!(
            "no valid signed certificate timestamp: {}",
            reasons.join("; ")
        )));
    }
    Ok(ok)
}

/// A certificate authority from a trusted root: its chain (leaf-most first, root last)
/// and validity window.
#[derive(Debug, Clone)]
pub struct Authority {
    /// The chain, issuing certificate first.
    pub chain: Vec<Cert>,
    /// Validity window of the authority (inclusive), if bounded.
    pub valid: (Option<Nanos>, Option<Nanos>),
}

impl Authority {
    /// Whether the authority's window contains `t`.
    pub fn valid_at(&self, t: Nanos) -> bool {
        !(self.valid.0.is_some_and(|s| t < s) || self.valid.1.is_some_and(|e| t > e))
    }
}

/// Verifies that `leaf` chains to one of `authorities` at each of the times in `at`:
/// the authority's window contains the time, every certificate on the path is valid
/// then, and each certificate is signed by the next (the trusted root's chain is the
/// anchor: its last certificate is trusted as given).
/// Returns the certificate that issued the leaf (for SCT checks).
pub fn verify_chain<'a>(
    leaf: &Cert,
    authorities: &'a [Authority],
    at: &[Nanos],
) -> Result<&'a Cert> {
    if at.is_empty() {
        return Err(unverified(
            "no verified time to check the certificate chain at",
        ));
    }
    let mut reasons = Vec::new();
    'auth: for a in authorities {
        let Some(first) = a.chain.first() else {
            continue;
        };
        let Ok(k) = first.public_key() else { continue };
        if leaf.verify_signed_by(&k).is_err() {
            continue;
        }
        for w in a.chain.windows(2) {
            let k = match w[1].public_key() {
                Ok(k) => k,
                Err(_) => continue 'auth,
            };
            if w[0].verify_signed_by(&k).is_err() {
                reasons.push("a trusted-root chain does not link up".to_string());
                continue 'auth;
            }
        }
        for &t in at {
            if !a.valid_at(t) {
                reasons.push(format!(
                    "the issuing CA is not valid in the trusted root at {}",
                    time::format(t)
                ));
                continue 'auth;
            }
            if !leaf.valid_at(t) {
                let (nb, na) = leaf.validity();
                reasons.push(format!(
                    "the signing certificate (valid {} to {}) was not valid at the signing time {}",
                    time::format(nb),
                    time::format(na),
                    time::format(t)
                ));
                continue 'auth;
            }
            if a.chain.iter().any(|c| !c.valid_at(t)) {
                reasons.push(format!(
                    "a CA certificate was not valid at {}",
                    time::format(t)
                ));
                continue 'auth;
            }
        }
        if a.chain.iter().any(|c| !c.is_ca()) {
            reasons.push("a certificate in the trusted chain is not a CA".into());
            continue;
        }
        return Ok(first);
    }
    if reasons.is_empty() {
        reasons.push("the signing certificate was not issued by any CA in the trusted root".into());
    }
    Err(unverified(reasons.join("; ")))
}
