//! Timestamps as nanoseconds since the Unix epoch (i128: certificate dates up to
//! 9999-12-31 fit), and parsers for the two text forms met here: RFC 3339 (trusted
//! root validity windows) and ASN.1 GeneralizedTime with optional fractional seconds
//! (RFC 3161 `genTime`, which `der`'s GeneralizedTime type refuses). Written by hand
//! because only these two narrow forms are needed and pulling in a date crate for
//! them would be heavier than the code.

use crate::error::{malformed, Result};

/// Nanoseconds since 1970-01-01T00:00:00Z.
pub type Nanos = i128;

const NS: i128 = 1_000_000_000;

/// Seconds → [`Nanos`].
pub fn from_secs(s: i64) -> Nanos {
    i128::from(s) * NS
}

/// The current time.
pub fn now() -> Nanos {
    match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => d.as_nanos() as i128,
        Err(e) => -(e.duration().as_nanos() as i128),
    }
}

/// Formats as RFC 3339 (UTC, seconds precision), for messages.
pub fn format(t: Nanos) -> String {
    let secs = t.div_euclid(NS) as i64;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (i64::from(m) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn num(s: &str, what: &str) -> Result<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(malformed(format!("bad {what} in time {s:?}")));
    }
    s.parse()
        .map_err(|_| malformed(format!("bad {what} in time {s:?}")))
}

fn assemble(y: u32, mo: u32, d: u32, h: u32, mi: u32, s: u32, frac: &str) -> Result<Nanos> {
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return Err(malformed("time field out of range"));
    }
    let mut ns: i128 = 0;
    if !frac.is_empty() {
        if frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return Err(malformed(format!("bad fractional seconds {frac:?}")));
        }
        let padded = format!("{frac:0<9}");
        ns = padded
            .parse::<i128>()
            .map_err(|_| malformed("bad fractional seconds"))?;
    }
    let days = days_from_civil(i64::from(y), mo, d);
    let secs = days * 86_400 + i64::from(h) * 3600 + i64::from(mi) * 60 + i64::from(s);
    Ok(from_secs(secs) + ns)
}

/// Parses RFC 3339 (`2021-01-12T11:53:27Z`, `2022-12-31T23:59:59.999Z`, `+01:00`).
pub fn parse_rfc3339(s: &str) -> Result<Nanos> {
    let b = s.as_bytes();
    if !s.is_ascii()
        || b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return Err(malformed(format!("not an RFC 3339 time: {s:?}")));
    }
    let y = num(&s[0..4], "year")?;
    let mo = num(&s[5..7], "month")?;
    let d = num(&s[8..10], "day")?;
    let h = num(&s[11..13], "hour")?;
    let mi = num(&s[14..16], "minute")?;
    let sec = num(&s[17..19], "second")?;
    let mut rest = &s[19..];
    let mut frac = "";
    if let Some(r) = rest.strip_prefix('.') {
        let end = r.find(|c: char| !c.is_ascii_digit()).unwrap_or(r.len());
        frac = &r[..end];
        rest = &r[end..];
    }
    let offset: i64 = match rest {
        "Z" | "z" => 0,
        o if o.len() == 6 && (o.starts_with('+') || o.starts_with('-')) && &o[3..4] == ":" => {
            let oh = i64::from(num(&o[1..3], "offset")?);
            let om = i64::from(num(&o[4..6], "offset")?);
            let v = oh * 3600 + om * 60;
            if o.starts_with('-') {
                -v
            } else {
                v
            }
        }
        _ => return Err(malformed(format!("not an RFC 3339 time: {s:?}"))),
    };
    Ok(assemble(y, mo, d, h, mi, sec, frac)? - from_secs(offset))
}

/// Parses an ASN.1 GeneralizedTime value `YYYYMMDDHHMMSS[.f+]Z`.
pub fn parse_generalized(s: &str) -> Result<Nanos> {
    if !s.is_ascii() {
        return Err(malformed("GeneralizedTime is not ASCII"));
    }
    let Some(body) = s.strip_suffix('Z') else {
        return Err(malformed(format!("GeneralizedTime without Z: {s:?}")));
    };
    if body.len() < 14 {
        return Err(malformed(format!("short GeneralizedTime {s:?}")));
    }
    let (main, frac) = match body.split_once('.') {
        Some((m, f)) => (m, f),
        None => (body, ""),
    };
    if main.len() != 14 {
        return Err(malformed(format!("bad GeneralizedTime {s:?}")));
    }
    assemble(
        num(&main[0..4], "year")?,
        num(&main[4..6], "month")?,
        num(&main[6..8], "day")?,
        num(&main[8..10], "hour")?,
        num(&main[10..12], "minute")?,
        num(&main[12..14], "second")?,
        frac,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn parses() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z").unwrap(), 0);
        assert_eq!(
            parse_rfc3339("2021-01-12T11:53:27Z").unwrap(),
            from_secs(1_610_452_407)
        );
        assert_eq!(
            parse_rfc3339("2022-12-31T23:59:59.999Z").unwrap(),
            from_secs(1_672_531_199) + 999_000_000
        );
        assert_eq!(
            parse_rfc3339("2021-01-12T12:53:27+01:00").unwrap(),
            from_secs(1_610_452_407)
        );
        assert_eq!(
            parse_generalized("20210112115327.5Z").unwrap(),
            from_secs(1_610_452_407) + 500_000_000
        );
        assert!(parse_rfc3339("2021-01-12").is_err());
        // Multi-byte characters where digits belong are errors, not slicing panics.
        assert!(parse_rfc3339("2021-01-1\u{e9}T11:53:27Z").is_err());
        assert!(parse_generalized("2021011211532\u{e9}Z").is_err());
        assert_eq!(format(from_secs(1_610_452_407)), "2021-01-12T11:53:27Z");
    }
}
