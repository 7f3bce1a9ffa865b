//! Keys: public keys (PEM SPKI) of every algorithm Sigstore uses, private signing keys
//! (ECDSA P-256, Ed25519; RSA read for compatibility), key generation, cosign's
//! encrypted private key format, and key references (`path` or `env://NAME`).
//!
//! The encrypted format is cosign's (go-securesystemslib `encrypted`): a PEM block
//! labelled `ENCRYPTED SIGSTORE PRIVATE KEY` (`ENCRYPTED COSIGN PRIVATE KEY` also read)
//! whose body is JSON `{"kdf":{"name":"scrypt","params":{"N","r","p"},"salt"},
//! "cipher":{"name":"nacl/secretbox","nonce"},"ciphertext"}`; the key is
//! scrypt(password, salt, N, r, p, 32) and the plaintext, opened with XSalsa20-Poly1305,
//! is a PKCS#8 DER private key. No crate implements this envelope, so it is assembled
//! here from the `scrypt` and `crypto_secretbox` primitives.

use crate::error::{malformed, unverified, Error, Result};
use crate::pem;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use const_oid::ObjectIdentifier;
use der::Decode;
use serde::{Deserialize, Serialize};
use sha2::Digest as _;

/// PEM label cosign ≥ 2.0.1 writes for encrypted private keys.
pub const SIGSTORE_KEY_LABEL: &str = "ENCRYPTED SIGSTORE PRIVATE KEY";
/// PEM label older cosign wrote; still read.
pub const COSIGN_KEY_LABEL: &str = "ENCRYPTED COSIGN PRIVATE KEY";

const OID_EC: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const OID_P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const OID_P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const OID_ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
const OID_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");

/// Hash used with a signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashAlg {
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl HashAlg {
    /// Hashes `data`.
    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            HashAlg::Sha256 => sha2::Sha256::digest(data).to_vec(),
            HashAlg::Sha384 => sha2::Sha384::digest(data).to_vec(),
            HashAlg::Sha512 => sha2::Sha512::digest(data).to_vec(),
        }
    }
}

/// Key algorithm for generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// ECDSA on NIST P-256 with SHA-256 (cosign's default).
    EcdsaP256,
    /// Ed25519.
    Ed25519,
}

impl std::str::FromStr for Algorithm {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "ecdsa-p256" | "ecdsa" | "p256" | "p-256" => Ok(Algorithm::EcdsaP256),
            "ed25519" => Ok(Algorithm::Ed25519),
            _ => Err(Error::Unsupported(format!(
                "key algorithm {s:?} (use ecdsa-p256 or ed25519)"
            ))),
        }
    }
}

/// A public key that can verify signatures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicKey {
    /// ECDSA P-256.
    P256(p256::ecdsa::VerifyingKey),
    /// ECDSA P-384.
    P384(p384::ecdsa::VerifyingKey),
    /// Ed25519.
    Ed25519(ed25519_dalek::VerifyingKey),
    /// RSA (PKCS#1 v1.5 or PSS).
    Rsa(rsa::RsaPublicKey),
}

impl PublicKey {
    /// Parses a DER SubjectPublicKeyInfo.
    pub fn from_spki_der(der: &[u8]) -> Result<Self> {
        let spki = spki::SubjectPublicKeyInfoRef::from_der(der)
            .map_err(|e| malformed(format!("public key: not a SubjectPublicKeyInfo: {e}")))?;
        Self::from_spki(&spki)
    }

    /// Parses a decoded SubjectPublicKeyInfo.
    pub fn from_spki(spki: &spki::SubjectPublicKeyInfoRef<'_>) -> Result<Self> {
        let bits = spki
            .subject_public_key
            .as_bytes()
            .ok_or_else(|| malformed("public key: bit string is not whole bytes"))?;
        let alg = spki.algorithm.oid;
        if alg == OID_EC {
            let curve: ObjectIdentifier = spki
                .algorithm
                .parameters
                .as_ref()
                .ok_or_else(|| malformed("EC public key without curve parameter"))?
                .decode_as()
                .map_err(|e| malformed(format!("EC public key curve: {e}")))?;
            if curve == OID_P256 {
                return p256::ecdsa::VerifyingKey::from_sec1_bytes(bits)
                    .map(PublicKey::P256)
                    .map_err(|_| malformed("bad P-256 public key point"));
            }
            if curve == OID_P384 {
                return p384::ecdsa::VerifyingKey::from_sec1_bytes(bits)
                    .map(PublicKey::P384)
                    .map_err(|_| malformed("bad P-384 public key point"));
            }
            return Err(Error::Unsupported(format!("EC curve {curve}")));
        }
        if alg == OID_ED25519 {
            let arr: [u8; 32] = bits
                .try_into()
                .map_err(|_| malformed("Ed25519 public key is not 32 bytes"))?;
            return ed25519_dalek::VerifyingKey::from_bytes(&arr)
                .map(PublicKey::Ed25519)
                .map_err(|_| malformed("bad Ed25519 public key"));
        }
        if alg == OID_RSA {
            use rsa::pkcs1::DecodeRsaPublicKey;
            let k = rsa::RsaPublicKey::from_pkcs1_der(bits)
                .map_err(|e| malformed(format!("RSA public key: {e}")))?;
            return Ok(PublicKey::Rsa(k));
        }
        Err(Error::Unsupported(format!("public key algorithm {alg}")))
    }

    /// Parses a PEM `PUBLIC KEY` (SPKI).
    pub fn from_pem(text: &str) -> Result<Self> {
        let block = pem::decode_one(text)?;
        if block.label != "PUBLIC KEY" {
            return Err(malformed(format!(
                "expected a PEM PUBLIC KEY, found {}",
                block.label
            )));
        }
        Self::from_spki_der(&block.der)
    }

    /// DER SubjectPublicKeyInfo.
    pub fn to_spki_der(&self) -> Result<Vec<u8>> {
        use spki::EncodePublicKey;
        let doc = match self {
            PublicKey::P256(k) => k.to_public_key_der(),
            PublicKey::P384(k) => k.to_public_key_der(),
            PublicKey::Ed25519(k) => k.to_public_key_der(),
            PublicKey::Rsa(k) => k.to_public_key_der(),
        }
        .map_err(|e| malformed(format!("encoding public key: {e}")))?;
        Ok(doc.as_bytes().to_vec())
    }

    /// PEM `PUBLIC KEY`.
    pub fn to_pem(&self) -> Result<String> {
        pem::encode("PUBLIC KEY", &self.to_spki_der()?)
    }

    /// The hash this key signs with by default (what cosign and Sigstore use).
    pub fn default_hash(&self) -> HashAlg {
        match self {
            PublicKey::P384(_) => HashAlg::Sha384,
            _ => HashAlg::Sha256,
        }
    }

    /// Verifies `sig` over `msg` with the key's default hash.
    pub fn verify(&self, msg: &[u8], sig: &[u8]) -> Result<()> {
        self.verify_with(self.default_hash(), msg, sig)
    }

    /// Verifies `sig` over `msg` hashed with `hash` (ignored for Ed25519, which signs
    /// the message itself). ECDSA signatures are accepted as ASN.1 DER or raw r||s;
    /// RSA as PKCS#1 v1.5 or PSS.
    pub fn verify_with(&self, hash: HashAlg, msg: &[u8], sig: &[u8]) -> Result<()> {
        match self {
            PublicKey::Ed25519(k) => {
                let s = ed25519_dalek::Signature::from_slice(sig)
                    .map_err(|_| unverified("Ed25519 signature is not 64 bytes"))?;
                k.verify_strict(msg, &s)
                    .map_err(|_| unverified("signature does not verify with the key"))
            }
            _ => self.verify_prehashed(hash, &hash.digest(msg), sig),
        }
    }

    /// Verifies `sig` over a message given only by its `hash` digest. Not possible
    /// for Ed25519 (pure EdDSA needs the message).
    pub fn verify_prehashed(&self, hash: HashAlg, digest: &[u8], sig: &[u8]) -> Result<()> {
        use signature::hazmat::PrehashVerifier;
        let bad = || unverified("signature does not verify with the key");
        match self {
            PublicKey::P256(k) => {
                let s = p256::ecdsa::Signature::from_der(sig)
                    .or_else(|_| p256::ecdsa::Signature::from_slice(sig))
                    .map_err(|_| unverified("malformed ECDSA signature"))?;
                k.verify_prehash(digest, &s).map_err(|_| bad())
            }
            PublicKey::P384(k) => {
                let s = p384::ecdsa::Signature::from_der(sig)
                    .or_else(|_| p384::ecdsa::Signature::from_slice(sig))
                    .map_err(|_| unverified("malformed ECDSA signature"))?;
                k.verify_prehash(digest, &s).map_err(|_| bad())
            }
            PublicKey::Rsa(k) => {
                let (pkcs1, pss) = match hash {
                    HashAlg::Sha256 => (
                        rsa::Pkcs1v15Sign::new::<sha2::Sha256>(),
                        rsa::Pss::new::<sha2::Sha256>(),
                    ),
                    HashAlg::Sha384 => (
                        rsa::Pkcs1v15Sign::new::<sha2::Sha384>(),
                        rsa::Pss::new::<sha2::Sha384>(),
                    ),
                    HashAlg::Sha512 => (
                        rsa::Pkcs1v15Sign::new::<sha2::Sha512>(),
                        rsa::Pss::new::<sha2::Sha512>(),
                    ),
                };
                k.verify(pkcs1, digest, sig)
                    .or_else(|_| k.verify(pss, digest, sig))
                    .map_err(|_| bad())
            }
            PublicKey::Ed25519(_) => Err(Error::Unsupported(
                "an Ed25519 signature cannot be checked against a digest alone; give the artifact"
                    .into(),
            )),
        }
    }

    /// A short fingerprint: hex SHA-256 of the DER SPKI.
    pub fn fingerprint(&self) -> Result<String> {
        Ok(hex::encode(sha2::Sha256::digest(self.to_spki_der()?)))
    }
}

/// A private key that can sign.
#[derive(Clone)]
pub enum PrivateKey {
    /// ECDSA P-256 (signatures: ASN.1 DER over SHA-256).
    P256(p256::ecdsa::SigningKey),
    /// Ed25519.
    Ed25519(ed25519_dalek::SigningKey),
    /// RSA (signatures: PKCS#1 v1.5 over SHA-256). Read for compatibility; not generated.
    Rsa(Box<rsa::RsaPrivateKey>),
}

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self {
            PrivateKey::P256(_) => "P256",
            PrivateKey::Ed25519(_) => "Ed25519",
            PrivateKey::Rsa(_) => "Rsa",
        };
        write!(f, "PrivateKey::{kind}(..)")
    }
}

impl PrivateKey {
    /// Generates a new key from the operating system's random source.
    pub fn generate(alg: Algorithm) -> Self {
        let mut rng = rand_core::OsRng;
        match alg {
            Algorithm::EcdsaP256 => PrivateKey::P256(p256::ecdsa::SigningKey::random(&mut rng)),
            Algorithm::Ed25519 => {
                PrivateKey::Ed25519(ed25519_dalek::SigningKey::generate(&mut rng))
            }
        }
    }

    /// The matching public key.
    pub fn public_key(&self) -> PublicKey {
        match self {
            PrivateKey::P256(k) => PublicKey::P256(*k.verifying_key()),
            PrivateKey::Ed25519(k) => PublicKey::Ed25519(k.verifying_key()),
            PrivateKey::Rsa(k) => PublicKey::Rsa(k.to_public_key()),
        }
    }

    /// Signs `msg` (ECDSA: DER over SHA-256; Ed25519: pure; RSA: PKCS#1 v1.5 SHA-256).
    pub fn sign(&self, msg: &[u8]) -> Result<Vec<u8>> {
        use signature::Signer;
        match self {
            PrivateKey::P256(k) => {
                let s: p256::ecdsa::Signature = k
                    .try_sign(msg)
                    .map_err(|e| malformed(format!("ECDSA signing failed: {e}")))?;
                Ok(s.to_der().as_bytes().to_vec())
            }
            PrivateKey::Ed25519(k) => Ok(k.sign(msg).to_bytes().to_vec()),
            PrivateKey::Rsa(k) => {
                let digest = sha2::Sha256::digest(msg);
                k.sign(rsa::Pkcs1v15Sign::new::<sha2::Sha256>(), &digest)
                    .map_err(|e| malformed(format!("RSA signing failed: {e}")))
            }
        }
    }

    /// Parses a PKCS#8 DER private key (EC P-256, Ed25519 v1/v2, RSA). SEC1
    /// `EC PRIVATE KEY` DER is refused, as cosign refuses it.
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self> {
        let info = pkcs8::PrivateKeyInfo::from_der(der).map_err(|_| {
            if sec1_shaped(der) {
                malformed(
                    "the private key is SEC1 (EC PRIVATE KEY), not PKCS#8; cosign and bulwark \
                     need PKCS#8 (convert with `openssl pkcs8 -topk8`)",
                )
            } else {
                malformed("the private key is not PKCS#8 DER")
            }
        })?;
        let alg = info.algorithm.oid;
        if alg == OID_EC {
            let curve: ObjectIdentifier = info
                .algorithm
                .parameters
                .as_ref()
                .ok_or_else(|| malformed("EC private key without curve"))?
                .decode_as()
                .map_err(|e| malformed(format!("EC private key curve: {e}")))?;
            if curve != OID_P256 {
                return Err(Error::Unsupported(format!(
                    "EC private key on curve {curve} (only P-256 signs)"
                )));
            }
            let sk = p256::SecretKey::try_from(info)
                .map_err(|e| malformed(format!("P-256 private key: {e}")))?;
            return Ok(PrivateKey::P256(sk.into()));
        }
        if alg == OID_ED25519 {
            let kp = ed25519_dalek::pkcs8::KeypairBytes::try_from(info)
                .map_err(|e| malformed(format!("Ed25519 private key: {e}")))?;
            let sk = ed25519_dalek::SigningKey::from_bytes(&kp.secret_key);
            if let Some(pk) = &kp.public_key {
                if pk.0 != sk.verifying_key().to_bytes() {
                    return Err(malformed(
                        "Ed25519 private key: the embedded public key does not match",
                    ));
                }
            }
            return Ok(PrivateKey::Ed25519(sk));
        }
        if alg == OID_RSA {
            let k = rsa::RsaPrivateKey::try_from(info)
                .map_err(|e| malformed(format!("RSA private key: {e}")))?;
            return Ok(PrivateKey::Rsa(Box::new(k)));
        }
        Err(Error::Unsupported(format!("private key algorithm {alg}")))
    }

    /// PKCS#8 DER (Ed25519 as version 1, without the public key, which every reader
    /// accepts).
    pub fn to_pkcs8_der(&self) -> Result<zeroizing::Bytes> {
        use pkcs8::EncodePrivateKey;
        let doc = match self {
            PrivateKey::P256(k) => p256::SecretKey::from(k).to_pkcs8_der(),
            PrivateKey::Ed25519(k) => ed25519_dalek::pkcs8::KeypairBytes {
                secret_key: k.to_bytes(),
                public_key: None,
            }
            .to_pkcs8_der(),
            PrivateKey::Rsa(k) => k.to_pkcs8_der(),
        }
        .map_err(|e| malformed(format!("encoding private key: {e}")))?;
        Ok(zeroizing::Bytes(doc.as_bytes().to_vec()))
    }

    /// Reads a private key from PEM text: cosign's encrypted format (either label,
    /// decrypted with `password`) or an unencrypted PKCS#8 `PRIVATE KEY`.
    pub fn from_pem(text: &str, password: &[u8]) -> Result<Self> {
        let block = pem::decode_one(text)?;
        match block.label.as_str() {
            SIGSTORE_KEY_LABEL | COSIGN_KEY_LABEL => {
                let der = decrypt(&block.der, password)?;
                Self::from_pkcs8_der(&der.0)
            }
            "PRIVATE KEY" => Self::from_pkcs8_der(&block.der),
            "EC PRIVATE KEY" => Err(malformed(
                "the private key is SEC1 (EC PRIVATE KEY), not PKCS#8",
            )),
            "ENCRYPTED PRIVATE KEY" => Err(Error::Unsupported(
                "PKCS#8 ENCRYPTED PRIVATE KEY (use cosign's encrypted format)".into(),
            )),
            other => Err(malformed(format!("not a private key PEM block: {other}"))),
        }
    }

    /// Writes the key in cosign's encrypted format (`ENCRYPTED SIGSTORE PRIVATE KEY`,
    /// scrypt N=65536 r=8 p=1 as current cosign).
    pub fn to_encrypted_pem(&self, password: &[u8]) -> Result<String> {
        let der = self.to_pkcs8_der()?;
        let body = encrypt(&der.0, password, 16, 8, 1)?;
        pem::encode(SIGSTORE_KEY_LABEL, &body)
    }
}

/// Whether DER looks like SEC1 ECPrivateKey: SEQUENCE { INTEGER 1, OCTET STRING, ... }.
fn sec1_shaped(der: &[u8]) -> bool {
    #[derive(der::Sequence)]
    struct Head<'a> {
        version: u8,
        key: der::asn1::OctetStringRef<'a>,
        #[asn1(context_specific = "0", optional = "true")]
        params: Option<der::Any>,
        #[asn1(context_specific = "1", optional = "true")]
        public: Option<der::Any>,
    }
    Head::from_der(der).is_ok_and(|h| h.version == 1 && !h.key.is_empty())
}

/// Byte buffers wiped on drop (decrypted key material).
pub mod zeroizing {
    /// Secret bytes, zeroed when dropped.
    pub struct Bytes(pub Vec<u8>);
    impl Drop for Bytes {
        fn drop(&mut self) {
            for b in self.0.iter_mut() {
                // Volatile-free best effort: the optimiser may elide this, but it costs
                // nothing and avoids keeping key bytes in freed memory in the common case.
                *b = 0;
            }
        }
    }
}

#[derive(Serialize, Deserialize)]
struct Envelope {
    kdf: Kdf,
    cipher: Cipher,
    ciphertext: String,
}
#[derive(Serialize, Deserialize)]
struct Kdf {
    name: String,
    params: KdfParams,
    salt: String,
}
#[derive(Serialize, Deserialize)]
struct KdfParams {
    #[serde(rename = "N")]
    n: u64,
    r: u32,
    p: u32,
}
#[derive(Serialize, Deserialize)]
struct Cipher {
    name: String,
    nonce: String,
}

/// Largest scrypt cost accepted when reading a key: N ≤ 2^20, r ≤ 32, p ≤ 4, and the
/// memory scrypt needs, 128·N·r bytes, at most [`MAX_SCRYPT_MEMORY`] (cosign uses N =
/// 2^15 or 2^16, r = 8, p = 1: 32–64 MiB). Bounds memory and time against hostile key
/// files.
const MAX_LOG_N: u8 = 20;
/// See [`MAX_LOG_N`].
const MAX_SCRYPT_MEMORY: u64 = 256 << 20;

fn derive(password: &[u8], salt: &[u8], log_n: u8, r: u32, p: u32) -> Result<[u8; 32]> {
    let params = scrypt::Params::new(log_n, r, p, 32)
        .map_err(|e| malformed(format!("encrypted key: bad scrypt parameters: {e}")))?;
    let mut key = [0u8; 32];
    scrypt::scrypt(password, salt, &params, &mut key)
        .map_err(|e| malformed(format!("encrypted key: scrypt: {e}")))?;
    Ok(key)
}

/// Decrypts the JSON body of a cosign encrypted key, giving the PKCS#8 DER.
pub fn decrypt(body: &[u8], password: &[u8]) -> Result<zeroizing::Bytes> {
    use crypto_secretbox::aead::{Aead, KeyInit};
    let env: Envelope = serde_json::from_slice(body)
        .map_err(|e| malformed(format!("encrypted key: body is not the expected JSON: {e}")))?;
    if env.kdf.name != "scrypt" {
        return Err(Error::Unsupported(format!(
            "encrypted key: kdf {:?}",
            env.kdf.name
        )));
    }
    if env.cipher.name != "nacl/secretbox" {
        return Err(Error::Unsupported(format!(
            "encrypted key: cipher {:?}",
            env.cipher.name
        )));
    }
    let KdfParams { n, r, p } = env.kdf.params;
    if n < 2 || !n.is_power_of_two() {
        return Err(malformed(format!(
            "encrypted key: scrypt N={n} is not a power of two"
        )));
    }
    let log_n = n.trailing_zeros() as u8;
    let memory = 128u64.saturating_mul(n).saturating_mul(u64::from(r));
    if log_n > MAX_LOG_N || r == 0 || r > 32 || p == 0 || p > 4 || memory > MAX_SCRYPT_MEMORY {
        return Err(malformed(format!(
            "encrypted key: scrypt parameters N={n} r={r} p={p} are outside the accepted range"
        )));
    }
    let salt = B64
        .decode(&env.kdf.salt)
        .map_err(|e| malformed(format!("encrypted key: salt: {e}")))?;
    let nonce = B64
        .decode(&env.cipher.nonce)
        .map_err(|e| malformed(format!("encrypted key: nonce: {e}")))?;
    let ct = B64
        .decode(&env.ciphertext)
        .map_err(|e| malformed(format!("encrypted key: ciphertext: {e}")))?;
    if nonce.len() != 24 {
        return Err(malformed("encrypted key: nonce is not 24 bytes"));
    }
    let key = zeroizing::Bytes(derive(password, &salt, log_n, r, p)?.to_vec());
    let cipher = crypto_secretbox::XSalsa20Poly1305::new_from_slice(&key.0)
        .map_err(|_| malformed("encrypted key: bad key length"))?;
    let plain = cipher
        .decrypt(crypto_secretbox::Nonce::from_slice(&nonce), ct.as_slice())
        .map_err(|_| Error::WrongPassword)?;
    Ok(zeroizing::Bytes(plain))
}

/// Encrypts PKCS#8 DER into cosign's JSON body.
pub fn encrypt(der: &[u8], password: &[u8], log_n: u8, r: u32, p: u32) -> Result<Vec<u8>> {
    use crypto_secretbox::aead::{Aead, KeyInit};
    use rand_core::RngCore;
    let mut salt = [0u8; 32];
    let mut nonce = [0u8; 24];
    rand_core::OsRng.fill_bytes(&mut salt);
    rand_core::OsRng.fill_bytes(&mut nonce);
    let key = zeroizing::Bytes(derive(password, &salt, log_n, r, p)?.to_vec());
    let cipher = crypto_secretbox::XSalsa20Poly1305::new_from_slice(&key.0)
        .map_err(|_| malformed("bad key length"))?;
    let ct = cipher
        .encrypt(crypto_secretbox::Nonce::from_slice(&nonce), der)
        .map_err(|_| malformed("encryption failed"))?;
    let env = Envelope {
        kdf: Kdf {
            name: "scrypt".into(),
            params: KdfParams {
                n: 1u64 << log_n,
                r,
                p,
            },
            salt: B64.encode(salt),
        },
        cipher: Cipher {
            name: "nacl/secretbox".into(),
            nonce: B64.encode(nonce),
        },
        ciphertext: B64.encode(ct),
    };
    serde_json::to_vec(&env).map_err(|e| malformed(format!("encoding key JSON: {e}")))
}

/// Where a key comes from.
///
/// * `env://NAME` — the PEM text is the value of environment variable `NAME`;
/// * `file://PATH` or a bare path — a file;
/// * any other `scheme://` (e.g. `awskms://`, `gcpkms://`, `hashivault://`, `k8s://`)
///   is reserved for key-management systems and refused as unsupported for now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyRef {
    /// A file.
    File(std::path::PathBuf),
    /// An environment variable holding PEM text.
    Env(String),
}

/// Largest key file read.
pub const MAX_KEY_FILE: u64 = 1 << 20;

impl std::str::FromStr for KeyRef {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        if let Some(name) = s.strip_prefix("env://") {
            if name.is_empty() {
                return Err(Error::KeyRef("env:// needs a variable name".into()));
            }
            return Ok(KeyRef::Env(name.to_string()));
        }
        if let Some(path) = s.strip_prefix("file://") {
            return Ok(KeyRef::File(path.into()));
        }
        if let Some((scheme, _)) = s.split_once("://") {
            if !scheme.is_empty() && scheme.chars().all(|c| c.is_ascii_alphanumeric()) {
                return Err(Error::Unsupported(format!(
                    "key reference scheme {scheme}:// (supported: a file path, file://, env://)"
                )));
            }
        }
        Ok(KeyRef::File(s.into()))
    }
}

impl KeyRef {
    /// Reads the referenced text (bounded to [`MAX_KEY_FILE`]).
    pub fn read(&self) -> Result<String> {
        match self {
            KeyRef::Env(name) => std::env::var(name).map_err(|_| {
                Error::KeyRef(format!("env://{name}: environment variable is not set"))
            }),
            KeyRef::File(p) => read_text_limited(p, MAX_KEY_FILE),
        }
    }

    /// Reads a public key: a PEM `PUBLIC KEY`, or the public key of a PEM `CERTIFICATE`.
    pub fn public_key(&self) -> Result<PublicKey> {
        let text = self.read()?;
        let block = pem::decode_one(&text).map_err(|e| self.context(e))?;
        match block.label.as_str() {
            "PUBLIC KEY" => PublicKey::from_spki_der(&block.der).map_err(|e| self.context(e)),
            "CERTIFICATE" => crate::x509::Cert::from_der(&block.der)
                .and_then(|c| c.public_key())
                .map_err(|e| self.context(e)),
            other => Err(self.context(malformed(format!(
                "expected a PUBLIC KEY or CERTIFICATE PEM block, found {other}"
            )))),
        }
    }

    /// Reads and decrypts a private key.
    pub fn private_key(&self, password: &[u8]) -> Result<PrivateKey> {
        let text = self.read()?;
        PrivateKey::from_pem(&text, password).map_err(|e| self.context(e))
    }

    fn context(&self, e: Error) -> Error {
        match e {
            Error::Malformed(m) => Error::Malformed(format!("{self}: {m}")),
            Error::Unsupported(m) => Error::Unsupported(format!("{self}: {m}")),
            other => other,
        }
    }
}

impl std::fmt::Display for KeyRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeyRef::File(p) => write!(f, "{}", p.display()),
            KeyRef::Env(n) => write!(f, "env://{n}"),
        }
    }
}

/// Reads a whole file as bytes, refusing anything larger than `limit`.
pub fn read_limited(path: &std::path::Path, limit: u64) -> Result<Vec<u8>> {
    use std::io::Read;
    let f = std::fs::File::open(path).map_err(|e| Error::io(path.display(), e))?;
    let mut buf = Vec::new();
    f.take(limit + 1)
        .read_to_end(&mut buf)
        .map_err(|e| Error::io(path.display(), e))?;
    if buf.len() as u64 > limit {
        return Err(malformed(format!(
            "{}: larger than the {limit}-byte limit",
            path.display()
        )));
    }
    Ok(buf)
}

/// Reads a UTF-8 text file of at most `limit` bytes.
pub fn read_text_limited(path: &std::path::Path, limit: u64) -> Result<String> {
    let bytes = read_limited(path, limit)?;
    String::from_utf8(bytes).map_err(|_| malformed(format!("{}: not UTF-8 text", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_encrypted_both_algorithms() {
        for alg in [Algorithm::EcdsaP256, Algorithm::Ed25519] {
            let k = PrivateKey::generate(alg);
            let pem = k.to_encrypted_pem(b"pw").unwrap();
            assert!(pem.starts_with("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n"));
            let back = PrivateKey::from_pem(&pem, b"pw").unwrap();
            assert_eq!(back.public_key(), k.public_key());
            assert!(matches!(
                PrivateKey::from_pem(&pem, b"other"),
                Err(Error::WrongPassword)
            ));
            let sig = back.sign(b"msg").unwrap();
            k.public_key().verify(b"msg", &sig).unwrap();
            assert!(k.public_key().verify(b"msg2", &sig).is_err());
            let pub_pem = k.public_key().to_pem().unwrap();
            assert_eq!(PublicKey::from_pem(&pub_pem).unwrap(), k.public_key());
        }
    }

    #[test]
    fn key_refs() {
        assert_eq!(
            "env://X".parse::<KeyRef>().unwrap(),
            KeyRef::Env("X".into())
        );
        assert_eq!(
            "a/b.key".parse::<KeyRef>().unwrap(),
            KeyRef::File("a/b.key".into())
        );
        assert!(matches!(
            "awskms://alias/x".parse::<KeyRef>(),
            Err(Error::Unsupported(_))
        ));
    }

    #[test]
    fn hostile_scrypt_params_refused() {
        let body = br#"{"kdf":{"name":"scrypt","params":{"N":1099511627776,"r":8,"p":1},"salt":"AAAA"},"cipher":{"name":"nacl/secretbox","nonce":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},"ciphertext":"AAAA"}"#;
        assert!(matches!(decrypt(body, b""), Err(Error::Malformed(_))));
        // Each parameter in range, but together 4 GiB of scrypt memory; and p = 16.
        for (n, r, p) in [(1u64 << 20, 32, 1), (1 << 15, 8, 16)] {
            let body = format!(
                r#"{{"kdf":{{"name":"scrypt","params":{{"N":{n},"r":{r},"p":{p}}},"salt":"AAAA"}},"cipher":{{"name":"nacl/secretbox","nonce":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}},"ciphertext":"AAAA"}}"#
            );
            let err = decrypt(body.as_bytes(), b"").err().map(|e| e.to_string());
            assert!(
                err.as_deref()
                    .is_some_and(|e| e.contains("outside the accepted range")),
                "{err:?}"
            );
        }
    }
}
