//! CVSS v3.0 / v3.1 base equations (FIRST CVSS v3.1 Specification §7.1, Appendix A).
//!
//! Temporal and environmental metrics are validated but do not change the base score.

use super::{parse_components, require, CvssError, CvssVersion};

fn allowed(metric: &str) -> Option<&'static [&'static str]> {
    Some(match metric {
        "AV" => &["N", "A", "L", "P"],
        "AC" => &["L", "H"],
        "PR" => &["N", "L", "H"],
        "UI" => &["N", "R"],
        "S" => &["U", "C"],
        "C" | "I" | "A" => &["H", "L", "N"],
        "E" => &["X", "H", "F", "P", "U"],
        "RL" => &["X", "U", "W", "T", "O"],
        "RC" => &["X", "C", "R", "U"],
        "CR" | "IR" | "AR" => &["X", "H", "M", "L"],
        "MAV" => &["X", "N", "A", "L", "P"],
        "MAC" => &["X", "L", "H"],
        "MPR" => &["X", "N", "L", "H"],
        "MUI" => &["X", "N", "R"],
        "MS" => &["X", "U", "C"],
        "MC" | "MI" | "MA" => &["X", "H", "L", "N"],
        _ => return None,
    })
}

fn cia(v: &str) -> f64 {
    match v {
        "H" => 0.56,
        "L" => 0.22,
        _ => 0.0,
    }
}

/// v3.1 Appendix A: round up to one decimal using integer arithmetic so that, e.g.,
/// 4.000000000000001 becomes 4.0 and not 4.1.
fn roundup_31(x: f64) -> f64 {
    let int_input = (x * 100_000.0).round() as i64;
    if int_input % 10_000 == 0 {
        int_input as f64 / 100_000.0
    } else {
        ((int_input / 10_000) + 1) as f64 / 10.0
    }
}

/// v3.0 §7.1: the smallest number with one decimal that is >= the input.
fn roundup_30(x: f64) -> f64 {
    (x * 10.0).ceil() / 10.0
}

/// Scores the part of a v3.x vector after the `CVSS:3.x/` prefix.
pub(super) fn score(body: &str, ver: CvssVersion) -> Result<f64, CvssError> {
    let c = parse_components(body, ver, allowed)?;
    let changed = require(&c, "S", ver)? == "C";
    let av = match require(&c, "AV", ver)? {
        "N" => 0.85,
        "A" => 0.62,
        "L" => 0.55,
        _ => 0.2,
    };
    let ac = match require(&c, "AC", ver)? {
        "L" => 0.77,
        _ => 0.44,
    };
    let pr = match (require(&c, "PR", ver)?, changed) {
        ("N", _) => 0.85,
        ("L", false) => 0.62,
        ("L", true) => 0.68,
        (_, false) => 0.27,
        (_, true) => 0.5,
    };
    let ui = match require(&c, "UI", ver)? {
        "N" => 0.85,
        _ => 0.62,
    };
    let iss = 1.0
        - (1.0 - cia(require(&c, "C", ver)?))
            * (1.0 - cia(require(&c, "I", ver)?))
            * (1.0 - cia(require(&c, "A", ver)?));
    let impact = if changed {
        7.52 * (iss - 0.029) - 3.25 * (iss - 0.02).powi(15)
    } else {
        6.42 * iss
    };
    let expl = 8.22 * av * ac * pr * ui;
    if impact <= 0.0 {
        return Ok(0.0);
    }
    let raw = if changed {
        (1.08 * (impact + expl)).min(10.0)
    } else {
        (impact + expl).min(10.0)
    };
    Ok(match ver {
        CvssVersion::V3_0 => roundup_30(raw),
        _ => roundup_31(raw),
    })
}
