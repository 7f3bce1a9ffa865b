//! CVSS v2.0 base equation (FIRST, "A Complete Guide to CVSS Version 2.0", §3.2.1).

use super::{parse_components, require, CvssError, CvssVersion};

fn allowed(metric: &str) -> Option<&'static [&'static str]> {
    Some(match metric {
        "AV" => &["L", "A", "N"],
        "AC" => &["H", "M", "L"],
        "Au" => &["M", "S", "N"],
        "C" | "I" | "A" => &["N", "P", "C"],
        "E" => &["U", "POC", "F", "H", "ND"],
        "RL" => &["OF", "TF", "W", "U", "ND"],
        "RC" => &["UC", "UR", "C", "ND"],
        "CDP" => &["N", "L", "LM", "MH", "H", "ND"],
        "TD" => &["N", "L", "M", "H", "ND"],
        "CR" | "IR" | "AR" => &["L", "M", "H", "ND"],
        _ => return None,
    })
}

fn impact(v: &str) -> f64 {
    match v {
        "P" => 0.275,
        "C" => 0.660,
        _ => 0.0,
    }
}

/// Scores the part of a v2 vector after any prefix.
pub(super) fn score(body: &str) -> Result<f64, CvssError> {
    let ver = CvssVersion::V2;
    let c = parse_components(body, ver, allowed)?;
    let av = match require(&c, "AV", ver)? {
        "L" => 0.395,
        "A" => 0.646,
        _ => 1.0,
    };
    let ac = match require(&c, "AC", ver)? {
        "H" => 0.35,
        "M" => 0.61,
        _ => 0.71,
    };
    let au = match require(&c, "Au", ver)? {
        "M" => 0.45,
        "S" => 0.56,
        _ => 0.704,
    };
    let (ci, ii, ai) = (
        impact(require(&c, "C", ver)?),
        impact(require(&c, "I", ver)?),
        impact(require(&c, "A", ver)?),
    );
    let imp = 10.41 * (1.0 - (1.0 - ci) * (1.0 - ii) * (1.0 - ai));
    let expl = 20.0 * av * ac * au;
    let f = if imp == 0.0 { 0.0 } else { 1.176 };
    let base = ((0.6 * imp) + (0.4 * expl) - 1.5) * f;
    // v2 rounds to one decimal half-up; the epsilon absorbs binary representation error.
    Ok(((base * 10.0) + 1e-9).round().clamp(0.0, 100.0) / 10.0)
}
