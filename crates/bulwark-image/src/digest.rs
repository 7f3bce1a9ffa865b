//! Content digests (`sha256:...`, `sha512:...`): parsing, incremental hashing and the
//! blob-path rules of the OCI image layout.
//!
//! Every blob bulwark trusts is checked against the digest its parent document promised,
//! so this is the one place that decides which algorithms are accepted and how a digest
//! maps onto a file name (never letting a digest smuggle `/` or `..` into a path).

use crate::ImageError;
// ring's SHA-2 uses the CPU's SHA extensions and hand-tuned assembly: about twice the
// throughput of the portable implementation, and hashing every layer byte is the largest
// single cost of reading an image.
use ring::digest::{Context, SHA256, SHA512};

/// A digest algorithm bulwark can verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// SHA-256 (the default everywhere).
    Sha256,
    /// SHA-512 (allowed by the OCI spec).
    Sha512,
}

/// A parsed, validated digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedDigest {
    /// The algorithm.
    pub algorithm: Algorithm,
    /// The lowercase hex encoding.
    pub hex: String,
}

impl ParsedDigest {
    /// Parses `sha256:<64 hex>` or `sha512:<128 hex>`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let (alg, hex) = s
            .split_once(':')
            .ok_or_else(|| format!("digest {s:?} has no algorithm prefix"))?;
        let (algorithm, len) = match alg {
            "sha256" => (Algorithm::Sha256, 64),
            "sha512" => (Algorithm::Sha512, 128),
            _ => return Err(format!("unsupported digest algorithm {alg:?} in {s:?}")),
        };
        if hex.len() != len || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(format!("malformed {alg} digest {s:?}"));
        }
        Ok(ParsedDigest {
            algorithm,
            hex: hex.to_string(),
        })
    }

    /// The path of this blob inside an OCI layout (`blobs/sha256/<hex>`). Safe to join
    /// because [`ParsedDigest::parse`] only accepts hex.
    pub fn blob_path(&self) -> String {
        format!("blobs/{}/{}", self.algorithm_name(), self.hex)
    }

    /// `sha256` or `sha512`.
    pub fn algorithm_name(&self) -> &'static str {
        match self.algorithm {
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha512 => "sha512",
        }
    }
}

impl std::fmt::Display for ParsedDigest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.algorithm_name(), self.hex)
    }
}

/// An incremental hasher for one of the supported algorithms.
#[derive(Clone)]
pub struct Hasher {
    alg: Algorithm,
    ctx: Context,
}

impl Hasher {
    /// A fresh hasher for `alg`.
    pub fn new(alg: Algorithm) -> Self {
        let ctx = match alg {
            Algorithm::Sha256 => Context::new(&SHA256),
            Algorithm::Sha512 => Context::new(&SHA512),
        };
        Hasher { alg, ctx }
    }

    /// Feeds bytes.
    pub fn update(&mut self, data: &[u8]) {
        self.ctx.update(data);
    }

    /// The final digest as `alg:hex`.
    pub fn finish(self) -> String {
        let name = match self.alg {
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha512 => "sha512",
        };
        format!("{name}:{}", hex::encode(self.ctx.finish().as_ref()))
    }
}

/// The `sha256:` digest of a byte slice.
pub fn sha256_of(data: &[u8]) -> String {
    let mut h = Hasher::new(Algorithm::Sha256);
    h.update(data);
    h.finish()
}

/// The `sha256:` digest of a whole file, streamed.
pub fn sha256_of_file(path: &std::path::Path) -> std::io::Result<String> {
    use std::io::Read;
    let mut f = std::fs::File::open(path)?;
    let mut h = Hasher::new(Algorithm::Sha256);
    let mut buf = vec![0u8; 256 << 10];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(buf.get(..n).unwrap_or_default());
    }
    Ok(h.finish())
}

/// Checks `data` against `expected`; `what` names the blob in the error.
pub fn verify_bytes(data: &[u8], expected: &str, what: &str) -> Result<(), ImageError> {
    let parsed = ParsedDigest::parse(expected).map_err(|message| ImageError::Format {
        what: what.to_string(),
        message,
    })?;
    let mut h = Hasher::new(parsed.algorithm);
    h.update(data);
    let actual = h.finish();
    if actual != parsed.to_string() {
        return Err(ImageError::DigestMismatch {
            what: what.to_string(),
            expected: expected.to_string(),
            actual,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_rejects_path_tricks() {
        assert!(ParsedDigest::parse("sha256:../../etc/passwd").is_err());
        assert!(ParsedDigest::parse("md5:abcd").is_err());
        assert!(ParsedDigest::parse(&format!("sha256:{}", "A".repeat(64))).is_err());
        let d = ParsedDigest::parse(&format!("sha256:{}", "a".repeat(64))).unwrap();
        assert_eq!(d.blob_path(), format!("blobs/sha256/{}", "a".repeat(64)));
    }

    #[test]
    fn verify_detects_mismatch() {
        let good = sha256_of(b"abc");
        assert!(verify_bytes(b"abc", &good, "x").is_ok());
        assert!(matches!(
            verify_bytes(b"abd", &good, "x"),
            Err(ImageError::DigestMismatch { .. })
        ));
    }
}
