//! The one parser for durations users type (`--max-db-age 7d`, `--timeout 2m`, a
//! policy's `signature: 4s`, a token's `--expires 30d`): one number and one unit. Written
//! by hand: six units do not justify a dependency.

use std::time::Duration;

/// A duration unit, for a bare number's meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Milliseconds.
    Millis,
    /// Seconds.
    Secs,
    /// Days.
    Days,
}

/// Parses `500ms`, `90s`, `30m`, `12h`, `7d` or `2w`. A bare number is `bare` units, or
/// an error when `bare` is `None`. Overflow is an error, never a wrap.
pub fn parse(s: &str, bare: Option<Unit>) -> Result<Duration, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let expected =
        || format!("invalid duration {s:?} (expected e.g. 500ms, 90s, 30m, 12h, 7d, 2w)");
    let n: u64 = num.parse().map_err(|_| expected())?;
    let millis: u64 = match (unit, bare) {
        ("ms", _) | ("", Some(Unit::Millis)) => 1,
        ("s", _) | ("", Some(Unit::Secs)) => 1_000,
        ("m", _) => 60_000,
        ("h", _) => 3_600_000,
        ("d", _) | ("", Some(Unit::Days)) => 86_400_000,
        ("w", _) => 7 * 86_400_000,
        _ => return Err(expected()),
    };
    n.checked_mul(millis)
        .map(Duration::from_millis)
        .ok_or_else(|| format!("duration {s:?} is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_bare_numbers_and_errors() {
        assert_eq!(parse("500ms", None), Ok(Duration::from_millis(500)));
        assert_eq!(parse(" 12h ", None), Ok(Duration::from_secs(12 * 3600)));
        assert_eq!(parse("2w", None), Ok(Duration::from_secs(14 * 86_400)));
        assert_eq!(
            parse("3", Some(Unit::Days)),
            Ok(Duration::from_secs(3 * 86_400))
        );
        assert!(parse("3", None).is_err());
        assert!(parse("7x", None)
            .unwrap_err()
            .contains("invalid duration \"7x\""));
        assert!(parse("", Some(Unit::Days)).is_err());
        assert!(parse("ms", None).is_err());
        assert!(parse("99999999999999999999d", None).is_err());
        assert!(parse("999999999999999999d", None)
            .unwrap_err()
            .contains("too large"));
    }
}
