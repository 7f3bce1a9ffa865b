//! Base64 as protobuf JSON writes it: standard or URL-safe alphabet, padded or not.

use crate::error::{malformed, Result};
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine as _;

/// Decodes base64 in any of the four common variants; `what` names the field. Line
/// breaks (`\r`, `\n`) are skipped, as Go's decoder (which wrote most of these
/// documents) skips them.
pub fn decode(s: &str, what: &str) -> Result<Vec<u8>> {
    if s.contains(['\r', '\n']) {
        let joined: String = s.chars().filter(|c| *c != '\r' && *c != '\n').collect();
        return decode_flat(&joined, what);
    }
    decode_flat(s, what)
}

fn decode_flat(s: &str, what: &str) -> Result<Vec<u8>> {
    STANDARD
        .decode(s)
        .or_else(|_| STANDARD_NO_PAD.decode(s))
        .or_else(|_| URL_SAFE.decode(s))
        .or_else(|_| URL_SAFE_NO_PAD.decode(s))
        .map_err(|_| malformed(format!("{what}: invalid base64")))
}

/// Like [`decode`], ignoring ASCII whitespace (line-wrapped base64 in annotations).
pub fn decode_wrapped(s: &str, what: &str) -> Result<Vec<u8>> {
    if s.bytes().any(|b| b.is_ascii_whitespace()) {
        let joined: String = s.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        decode(&joined, what)
    } else {
        decode(s, what)
    }
}

/// Standard padded base64.
pub fn encode(b: &[u8]) -> String {
    STANDARD.encode(b)
}
