//! RFC 3161 timestamps, verified offline against the timestamp authorities of a
//! trusted root: the token's CMS signature (over its signed attributes, whose
//! message-digest covers the TSTInfo), the message imprint (a hash of the bundle's
//! signature), and the authority's certificate chain and validity windows at the
//! generation time. Certificates embedded in the token are ignored: only the
//! trusted root's chains can vouch for a timestamp.

use crate::error::{malformed, unverified, Result};
use crate::keys::HashAlg;
use crate::time::{self, Nanos};
use crate::x509::{sig_hash, Authority};
use const_oid::ObjectIdentifier;
use der::{Decode, Encode, Reader};

const OID_SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
const OID_TST_INFO: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.1.4");
const OID_CONTENT_TYPE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.3");
const OID_MESSAGE_DIGEST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.4");

/// Largest timestamp accepted.
pub const MAX_TIMESTAMP: usize = 64 << 10;

#[derive(der::Sequence)]
struct MessageImprint {
    hash_algorithm: spki::AlgorithmIdentifierOwned,
    hashed_message: der::asn1::OctetString,
}

fn digest_alg(oid: &ObjectIdentifier) -> Result<HashAlg> {
    match oid.to_string().as_str() {
        "2.16.840.1.101.3.4.2.1" => Ok(HashAlg::Sha256),
        "2.16.840.1.101.3.4.2.2" => Ok(HashAlg::Sha384),
        "2.16.840.1.101.3.4.2.3" => Ok(HashAlg::Sha512),
        o => Err(crate::Error::Unsupported(format!(
            "timestamp digest algorithm {o}"
        ))),
    }
}

/// Splits a TimeStampResp (or a bare TimeStampToken) into the token's ContentInfo.
fn token(der_bytes: &[u8]) -> Result<cms::content_info::ContentInfo> {
    if let Ok(ci) = cms::content_info::ContentInfo::from_der(der_bytes) {
        return Ok(ci);
    }
    let mut r =
        der::SliceReader::new(der_bytes).map_err(|e| malformed(format!("timestamp: {e}")))?;
    let (status, tok) = r
        .sequence(|r| {
            let status: PkiStatusInfoOwned = r.decode()?;
            let tok: Option<cms::content_info::ContentInfo> = r.decode()?;
            Ok((status, tok))
        })
        .map_err(|e| malformed(format!("timestamp is not a TimeStampResp: {e}")))?;
    if status.0 > 1 {
        return Err(unverified(format!(
            "timestamp response status {} (not granted)",
            status.0
        )));
    }
    tok.ok_or_else(|| malformed("timestamp response has no token"))
}

/// PKIStatusInfo with only the status kept (the rest skipped).
struct PkiStatusInfoOwned(u32);
impl<'a> Decode<'a> for PkiStatusInfoOwned {
    fn decode<R: Reader<'a>>(r: &mut R) -> der::Result<Self> {
        r.sequence(|r| {
            let status: u32 = r.decode()?;
            let rest = r.remaining_len();
            r.read_slice(rest)?;
            Ok(PkiStatusInfoOwned(status))
        })
    }
}

/// A verified timestamp.
#[derive(Debug, Clone, Copy)]
pub struct Verified {
    /// Generation time.
    pub time: Nanos,
}

/// Verifies a DER timestamp over `signature` against `authorities`.
pub fn verify(der_bytes: &[u8], signature: &[u8], authorities: &[Authority]) -> Result<Verified> {
    if der_bytes.len() > MAX_TIMESTAMP {
        return Err(malformed("timestamp larger than 64 KiB"));
    }
    let ci = token(der_bytes)?;
    if ci.content_type != OID_SIGNED_DATA {
        return Err(malformed("timestamp token is not CMS SignedData"));
    }
    let sd: cms::signed_data::SignedData = ci
        .content
        .decode_as()
        .map_err(|e| malformed(format!("timestamp SignedData: {e}")))?;
    if sd.encap_content_info.econtent_type != OID_TST_INFO {
        return Err(malformed("timestamp token does not hold a TSTInfo"));
    }
    let econtent = sd
        .encap_content_info
        .econtent
        .as_ref()
        .ok_or_else(|| malformed("timestamp token without content"))?;
    let tst_der = econtent
        .decode_as::<der::asn1::OctetString>()
        .map_err(|e| malformed(format!("timestamp content: {e}")))?
        .into_bytes();
    let mut r = der::SliceReader::new(&tst_der).map_err(|e| malformed(format!("TSTInfo: {e}")))?;
    let (imprint, gen_time) = r
        .sequence(|r| {
            let _version: u8 = r.decode()?;
            let _policy: ObjectIdentifier = r.decode()?;
            let mi: MessageImprint = r.decode()?;
            let _serial: der::asn1::IntRef<'_> = r.decode()?;
            let gt: der::asn1::AnyRef<'_> = r.decode()?;
            let gt = String::from_utf8_lossy(gt.value()).into_owned();
            let rest = r.remaining_len();
            r.read_slice(rest)?;
            Ok((mi, gt))
        })
        .map_err(|e| malformed(format!("TSTInfo: {e}")))?;
    let gen = time::parse_generalized(&gen_time)?;
    let h = digest_alg(&imprint.hash_algorithm.oid)?;
    if h.digest(signature) != imprint.hashed_message.as_bytes() {
        return Err(unverified(
            "the timestamp's message imprint does not match the bundle signature",
        ));
    }
    let signers: Vec<_> = sd.signer_infos.0.iter().collect();
    if signers.len() != 1 {
        return Err(malformed("timestamp token must have exactly one signer"));
    }
    let si = signers[0];
    let attrs = si
        .signed_attrs
        .as_ref()
        .ok_or_else(|| malformed("timestamp signer has no signed attributes"))?;
    let dh = digest_alg(&si.digest_alg.oid)?;
    let mut md_ok = false;
    let mut ct_ok = false;
    for a in attrs.iter() {
        let Some(v) = a.values.iter().next() else {
            continue;
        };
        if a.oid == OID_MESSAGE_DIGEST {
            let d = v
                .decode_as::<der::asn1::OctetString>()
                .map_err(|e| malformed(format!("timestamp message-digest attribute: {e}")))?;
            md_ok = d.as_bytes() == dh.digest(&tst_der).as_slice();
        } else if a.oid == OID_CONTENT_TYPE {
            ct_ok = v
                .decode_as::<ObjectIdentifier>()
                .is_ok_and(|o| o == OID_TST_INFO);
        }
    }
    if !md_ok {
        return Err(unverified(
            "the timestamp's message-digest attribute does not match its content",
        ));
    }
    if !ct_ok {
        return Err(unverified(
            "the timestamp's content-type attribute is not TSTInfo",
        ));
    }
    let signed = attrs
        .to_der()
        .map_err(|e| malformed(format!("timestamp signed attributes: {e}")))?;
    let sh = sig_hash(&si.signature_algorithm.oid).unwrap_or(dh);
    let mut reasons = Vec::new();
    for a in authorities {
        let Some(leaf) = a.chain.first() else {
            continue;
        };
        let Ok(key) = leaf.public_key() else { continue };
        if key
            .verify_with(sh, &signed, si.signature.as_bytes())
            .is_err()
        {
            continue;
        }
        if !a.valid_at(gen) {
            reasons.push(format!(
                "the timestamp authority is not valid in the trusted root at {}",
                time::format(gen)
            ));
            continue;
        }
        if let Some(c) = a.chain.iter().find(|c| !c.valid_at(gen)) {
            let (nb, na) = c.validity();
            reasons.push(format!(
                "a timestamp authority certificate (valid {} to {}) was not valid at {}",
                time::format(nb),
                time::format(na),
                time::format(gen)
            ));
            continue;
        }
        let linked = a.chain.windows(2).all(|w| {
            w[1].public_key()
                .and_then(|k| w[0].verify_signed_by(&k))
                .is_ok()
        });
        if !linked {
            reasons.push("the timestamp authority chain does not link up".into());
            continue;
        }
        return Ok(Verified { time: gen });
    }
    if reasons.is_empty() {
        reasons.push(
            "the timestamp is not signed by a timestamp authority in the trusted root".into(),
        );
    }
    Err(unverified(reasons.join("; ")))
}
