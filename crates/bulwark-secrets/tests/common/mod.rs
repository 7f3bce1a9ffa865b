//! Helpers shared by the integration tests: deterministic fake-secret generation.
//!
//! Every fake secret is produced at test time from a fixed-seed generator, so no
//! token-shaped literal sits in the source tree (our own scanner, and others, would
//! flag it) and the values are obviously not anyone's real credentials.

#![allow(dead_code)]

use bulwark_secrets::{Scanner, SecretConfig, SecretFinding};

pub const UPPER_DIGIT: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
pub const ALNUM: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
pub const URLSAFE: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
pub const B64: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
pub const HEX: &str = "0123456789abcdef";
pub const DIGITS: &str = "0123456789";
pub const LETTERS: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
pub const BECH32_UPPER: &str = "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L";

/// `len` characters from `alphabet`, from a fixed-seed xorshift generator.
pub fn gen(alphabet: &str, len: usize, seed: u64) -> String {
    let chars: Vec<char> = alphabet.chars().collect();
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            chars[(state % chars.len() as u64) as usize]
        })
        .collect()
}

pub fn default_scanner() -> Scanner {
    Scanner::new(&SecretConfig::default()).expect("built-in rules compile")
}

/// Assert that no finding (Debug or JSON form) contains `secret`.
pub fn assert_no_leak(findings: &[SecretFinding], secret: &str) {
    let json = serde_json::to_string(findings).expect("findings serialise");
    assert!(!json.contains(secret), "secret leaked into JSON: {json}");
    let debug = format!("{findings:?}");
    assert!(!debug.contains(secret), "secret leaked into Debug output");
}
