//! Post-match checks that turn regex matches into findings or discard them: Shannon
//! entropy, placeholder detection, and the format validators for JWTs, Docker `auth`
//! values and PEM bodies. All are pure functions on the candidate secret bytes.

use base64::Engine as _;

use crate::rules::{Check, GENERIC_MIN_ENTROPY};

/// Shannon entropy of `data` in bits per byte (0.0 for empty input).
pub fn shannon_entropy(data: &[u8]) -> f64 {
    if data.is_empty() {
        return 0.0;
    }
    let mut counts = [0u32; 256];
    for &b in data {
        let slot = &mut counts[usize::from(b)];
        *slot = slot.saturating_add(1);
    }
    let len = data.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / len;
            -p * p.log2()
        })
        .sum()
}

/// Substrings (lower-case) that mark a value as a placeholder or documentation sample
/// rather than a real secret.
const PLACEHOLDER_PARTS: &[&str] = &[
    "changeme",
    "change_me",
    "change-me",
    "example",
    "xxxx",
    "****",
    "....",
    "placeholder",
    "dummy",
    "redacted",
    "your_",
    "your-",
    "yourpass",
    "yourtoken",
    "password",
    "passwd",
    "secret",
    "${",
    "{{",
    "$(",
    "%s",
    "%(",
    "<",
    ">",
];

/// Whole values (lower-case) that are never secrets.
const PLACEHOLDER_WORDS: &[&str] = &[
    "none",
    "null",
    "nil",
    "true",
    "false",
    "undefined",
    "empty",
    "required",
    "optional",
    "string",
];

/// True when `value` looks like a template reference or documentation placeholder:
/// `${DB_PASSWORD}`, `$PASSWORD`, `%PASSWORD%`, `<password>`, `changeme`, `xxxxxxxx`,
/// `your_token_here`, a value made of one repeated character, and the like.
pub fn is_placeholder(value: &[u8]) -> bool {
    let lower = value.to_ascii_lowercase();
    if lower.is_empty() {
        return true;
    }
    if matches!(lower.first(), Some(b'$' | b'%' | b'@')) {
        return true;
    }
    if PLACEHOLDER_WORDS.iter().any(|w| lower == w.as_bytes()) {
        return true;
    }
    if PLACEHOLDER_PARTS
        .iter()
        .any(|p| memchr::memmem::find(&lower, p.as_bytes()).is_some())
    {
        return true;
    }
    // One repeated character (`aaaaaaaa`, `00000000`).
    lower.iter().all(|&b| Some(&b) == lower.first())
}

/// True for values that read like code rather than data: dotted identifiers
/// (`self.password`, `os.environ.get`, `config.db.token`), `::` paths and constant
/// names (`DEFAULT_TOKEN`).
fn looks_like_identifier(value: &[u8]) -> bool {
    let is_ident_start = |b: u8| b.is_ascii_alphabetic() || b == b'_';
    let is_ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let ident =
        |p: &[u8]| p.first().is_some_and(|&b| is_ident_start(b)) && p.iter().all(|&b| is_ident(b));
    // `Win32::GetCwd` (Perl, Rust, C++ paths) names something in code, digits or not.
    let path = memchr::memmem::find(value, b"::").is_some()
        && value
            .split(|&b| b == b':')
            .filter(|p| !p.is_empty())
            .all(ident);
    let mut parts = value.split(|&b| b == b'.');
    let dotted = value.contains(&b'.') && parts.all(ident) && !value.iter().any(u8::is_ascii_digit);
    let constant = value
        .iter()
        .all(|&b| b.is_ascii_uppercase() || b == b'_' || b.is_ascii_digit())
        && value.contains(&b'_');
    dotted || constant || path
}

/// How many of lower-case letters, upper-case letters, digits and other symbols occur
/// (`_`, `-` and `.` don't count: identifiers use them as separators).
fn char_classes(value: &[u8]) -> usize {
    let lower = value.iter().any(u8::is_ascii_lowercase);
    let upper = value.iter().any(u8::is_ascii_uppercase);
    let digit = value.iter().any(u8::is_ascii_digit);
    let symbol = value
        .iter()
        .any(|&b| !b.is_ascii_alphanumeric() && !matches!(b, b'_' | b'-' | b'.'));
    [lower, upper, digit, symbol]
        .into_iter()
        .filter(|&x| x)
        .count()
}

/// Whether a generic `key = value` candidate is plausibly a real secret.
pub fn generic_value_is_secret(value: &[u8]) -> bool {
    !is_placeholder(value)
        && !looks_like_identifier(value)
        && char_classes(value) >= 2
        && shannon_entropy(value) >= GENERIC_MIN_ENTROPY
}

/// Whether the generic candidate at `secret` (a range of `data`) sits in code rather
/// than data, judged from its surroundings on its line:
///
/// * the line is an interactive-session example: a Python doctest or REPL prompt
///   (`>>> token = '...'`, continuation `... `), as in library docstrings;
/// * the value is not quoted and is immediately indexed or called
///   (`var token = parts[i][0]`, `key = getKey(x)`): an expression, not a literal.
///
/// Quoted literals and unquoted values in config files (`PASSWORD=...` at the end of
/// the line or followed by a separator) are data and stay candidates.
pub fn generic_context_is_code(data: &[u8], secret: &std::ops::Range<usize>) -> bool {
    // The line as the scanner bounds it (a stretch back from the hit, not the start of a
    // minified file megabytes away).
    let line_start = crate::hit_line(data, secret.start, secret.end).start;
    let line_head = data.get(line_start..secret.start).unwrap_or_default();
    let head = line_head.trim_ascii_start();
    if head.starts_with(b">>> ") || head.starts_with(b"... ") {
        return true;
    }
    let quoted = matches!(line_head.last(), Some(b'"' | b'\'' | b'`'));
    let next = data.get(secret.end).copied();
    if !quoted && matches!(next, Some(b'[' | b'(')) {
        let value = data.get(secret.clone()).unwrap_or_default();
        let ident = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'$' | b'.');
        let starts_ident = value
            .first()
            .is_some_and(|b| b.is_ascii_alphabetic() || matches!(b, b'_' | b'$'));
        return starts_ident && value.iter().all(ident);
    }
    false
}

fn jwt_is_valid(value: &[u8]) -> bool {
    let Some(header) = value.split(|&b| b == b'.').next() else {
        return false;
    };
    match base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(header) {
        Ok(decoded) => {
            decoded.first() == Some(&b'{') && memchr::memmem::find(&decoded, b"\"alg\"").is_some()
        }
        Err(_) => false,
    }
}

fn docker_auth_is_valid(value: &[u8]) -> bool {
    match base64::engine::general_purpose::STANDARD.decode(value) {
        Ok(decoded) => match memchr::memchr(b':', &decoded) {
            Some(colon) => decoded
                .get(colon.saturating_add(1)..)
                .is_some_and(|p| !p.is_empty()),
            None => false,
        },
        Err(_) => false,
    }
}

fn pem_body_is_valid(value: &[u8]) -> bool {
    let base64_chars = value
        .iter()
        .filter(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/'))
        .count();
    base64_chars >= 64 && memchr::memmem::find(value, b"...").is_none()
}

/// Apply `check` to the candidate secret.
pub(crate) fn passes(check: Check, secret: &[u8]) -> bool {
    match check {
        Check::None => true,
        Check::NotPlaceholder => !is_placeholder(secret),
        Check::PemBody => pem_body_is_valid(secret),
        Check::Jwt => jwt_is_valid(secret),
        Check::DockerAuth => docker_auth_is_valid(secret),
        Check::Generic => generic_value_is_secret(secret),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entropy_bounds() {
        assert_eq!(shannon_entropy(b""), 0.0);
        assert_eq!(shannon_entropy(b"aaaa"), 0.0);
        assert!((shannon_entropy(b"abcd") - 2.0).abs() < 1e-9);
        assert!((shannon_entropy(b"0123456789abcdef") - 4.0).abs() < 1e-9);
    }

    #[test]
    fn placeholders() {
        for p in [
            "${DB_PASSWORD}",
            "$PASSWORD",
            "%PASSWORD%",
            "<password>",
            "changeme",
            "xxxxxxxxxx",
            "your_token_here",
            "00000000",
            "null",
            "{{ .Values.token }}",
        ] {
            assert!(is_placeholder(p.as_bytes()), "{p}");
        }
        assert!(!is_placeholder(b"q8Zr2LmV0xT4"));
    }

    #[test]
    fn generic_values() {
        assert!(generic_value_is_secret(b"q8Zr2LmV0xT4nB7w"));
        assert!(!generic_value_is_secret(b"self.password"));
        assert!(!generic_value_is_secret(b"os.environ.get"));
        assert!(!generic_value_is_secret(b"DEFAULT_TOKEN"));
        assert!(!generic_value_is_secret(b"production_database"));
        assert!(!generic_value_is_secret(b"12345678"));
        assert!(!generic_value_is_secret(b"Win32::GetFullPathName"));
    }

    #[test]
    fn jwt_and_docker_validation() {
        // {"alg":"HS256","typ":"JWT"}
        assert!(jwt_is_valid(
            b"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxIn0.sig"
        ));
        // {"foo":"bar"} has no alg.
        assert!(!jwt_is_valid(b"eyJmb28iOiJiYXIifQ.eyJzdWIiOiIxIn0.sig"));
        // user:pw
        assert!(docker_auth_is_valid(b"dXNlcjpwdw=="));
        // "user:" has no password.
        assert!(!docker_auth_is_valid(b"dXNlcjo="));
        assert!(!docker_auth_is_valid(b"!!!!"));
    }
}
