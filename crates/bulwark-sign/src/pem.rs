//! PEM reading (RFC 7468 text encoding) for keys and certificates.
//!
//! Written by hand rather than with `pem-rfc7468`'s strict decoder: files from other
//! tools use line lengths other than 64, carry explanatory text around the blocks, hold
//! several blocks (certificate chains) or CRLF line ends, and all of those must read.
//! Encoding (where the output must be exact) uses `pem-rfc7468`.

use crate::error::{malformed, Result};
use base64::Engine as _;

/// One decoded PEM block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// The label between `BEGIN ` and the dashes (`PUBLIC KEY`, `CERTIFICATE`, ...).
    pub label: String,
    /// The decoded body.
    pub der: Vec<u8>,
}

/// Largest PEM text accepted (keys and certificate chains are a few KiB).
pub const MAX_PEM: usize = 1 << 20;

/// Decodes every PEM block in `text`, in order. Text outside blocks is ignored; a
/// block without its END line or with bad base64 is an error.
pub fn decode_all(text: &str) -> Result<Vec<Block>> {
    if text.len() > MAX_PEM {
        return Err(malformed(format!(
            "PEM input is larger than {MAX_PEM} bytes"
        )));
    }
    let mut out = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let line = line.trim();
        let Some(label) = line
            .strip_prefix("-----BEGIN ")
            .and_then(|l| l.strip_suffix("-----"))
        else {
            continue;
        };
        let end = format!("-----END {label}-----");
        let mut body = String::new();
        let mut closed = false;
        for l in lines.by_ref() {
            let l = l.trim();
            if l == end {
                closed = true;
                break;
            }
            if l.contains(':') {
                // RFC 1421 headers (Proc-Type, DEK-Info): not used by the formats read
                // here; skipping them lets the base64 check below reject such blocks.
                continue;
            }
            body.push_str(l);
        }
        if !closed {
            return Err(malformed(format!("PEM block {label} has no END line")));
        }
        let der = base64::engine::general_purpose::STANDARD
            .decode(body.as_bytes())
            .map_err(|e| malformed(format!("PEM block {label}: bad base64: {e}")))?;
        out.push(Block {
            label: label.to_string(),
            der,
        });
    }
    Ok(out)
}

/// Decodes exactly one PEM block (the first one; more are an error).
pub fn decode_one(text: &str) -> Result<Block> {
    let mut blocks = decode_all(text)?;
    match blocks.len() {
        0 => Err(malformed("no PEM block found")),
        1 => Ok(blocks.remove(0)),
        n => Err(malformed(format!("expected one PEM block, found {n}"))),
    }
}

/// Encodes DER as PEM with 64-column lines and LF line ends.
pub fn encode(label: &str, der: &[u8]) -> Result<String> {
    pem_rfc7468::encode_string(label, pem_rfc7468::LineEnding::LF, der)
        .map_err(|e| malformed(format!("PEM encoding {label}: {e}")))
}
