//! CVSS v4.0 scoring (FIRST CVSS v4.0 Specification §8 and its reference calculator).
//!
//! v4.0 has no closed-form equation. A vector is sorted into one of 270 *macrovectors*
//! by six equivalence sets (EQ1–EQ6); the macrovector's score comes from the lookup table
//! the specification publishes; the vector's own score is then interpolated downwards by
//! how far the vector sits, metric by metric, from the highest-severity vectors of its
//! macrovector, relative to the score gap to the next lower macrovector of each EQ.

use super::v4_table::LOOKUP;
use super::{parse_components, CvssError, CvssVersion};

const VER: CvssVersion = CvssVersion::V4_0;

/// Base metrics every v4.0 vector must give, in the specification's order.
const MANDATORY: [&str; 11] = [
    "AV", "AC", "AT", "PR", "UI", "VC", "VI", "VA", "SC", "SI", "SA",
];

fn allowed(metric: &str) -> Option<&'static [&'static str]> {
    Some(match metric {
        "AV" => &["N", "A", "L", "P"],
        "AC" => &["L", "H"],
        "AT" => &["N", "P"],
        "PR" => &["N", "L", "H"],
        "UI" => &["N", "P", "A"],
        "VC" | "VI" | "VA" | "SC" | "SI" | "SA" => &["H", "L", "N"],
        "E" => &["X", "A", "P", "U"],
        "CR" | "IR" | "AR" => &["X", "H", "M", "L"],
        "MAV" => &["X", "N", "A", "L", "P"],
        "MAC" => &["X", "L", "H"],
        "MAT" => &["X", "N", "P"],
        "MPR" => &["X", "N", "L", "H"],
        "MUI" => &["X", "N", "P", "A"],
        "MVC" | "MVI" | "MVA" | "MSC" => &["X", "H", "L", "N"],
        "MSI" | "MSA" => &["X", "S", "H", "L", "N"],
        "S" => &["X", "N", "P"],
        "AU" => &["X", "N", "Y"],
        "R" => &["X", "A", "U", "I"],
        "V" => &["X", "D", "C"],
        "RE" => &["X", "L", "M", "H"],
        "U" => &["X", "Clear", "Green", "Amber", "Red"],
        _ => return None,
    })
}

/// A validated v4.0 vector.
struct Vector<'a> {
    comps: Vec<(&'a str, &'a str)>,
}

impl Vector<'_> {
    fn get(&self, metric: &str) -> Option<&str> {
        self.comps
            .iter()
            .find(|(m, _)| *m == metric)
            .map(|(_, v)| *v)
    }

    /// The effective value of a metric: the environmental `M…` override when set, and
    /// the specification's defaults for unset threat (E → A) and requirement (→ H)
    /// metrics.
    fn m(&self, metric: &str) -> &str {
        let selected = self.get(metric).unwrap_or("X");
        match (metric, selected) {
            ("E", "X") => return "A",
            ("CR" | "IR" | "AR", "X") => return "H",
            _ => {}
        }
        let modified = match metric {
            "AV" => self.get("MAV"),
            "AC" => self.get("MAC"),
            "AT" => self.get("MAT"),
            "PR" => self.get("MPR"),
            "UI" => self.get("MUI"),
            "VC" => self.get("MVC"),
            "VI" => self.get("MVI"),
            "VA" => self.get("MVA"),
            "SC" => self.get("MSC"),
            "SI" => self.get("MSI"),
            "SA" => self.get("MSA"),
            _ => None,
        };
        match modified {
            Some(v) if v != "X" => v,
            _ => selected,
        }
    }

    fn macrovector(&self) -> [u8; 6] {
        let (av, pr, ui) = (self.m("AV"), self.m("PR"), self.m("UI"));
        let eq1 = if av == "N" && pr == "N" && ui == "N" {
            0
        } else if (av == "N" || pr == "N" || ui == "N") && av != "P" {
            1
        } else {
            2
        };
        let eq2 = if self.m("AC") == "L" && self.m("AT") == "N" {
            0
        } else {
            1
        };
        let (vc, vi, va) = (self.m("VC"), self.m("VI"), self.m("VA"));
        let eq3 = if vc == "H" && vi == "H" {
            0
        } else if vc == "H" || vi == "H" || va == "H" {
            1
        } else {
            2
        };
        let eq4 = if self.m("SI") == "S" || self.m("SA") == "S" {
            0
        } else if self.m("SC") == "H" || self.m("SI") == "H" || self.m("SA") == "H" {
            1
        } else {
            2
        };
        let eq5 = match self.m("E") {
            "A" => 0,
            "P" => 1,
            _ => 2,
        };
        let high = |req: &str, imp: &str| self.m(req) == "H" && imp == "H";
        let eq6 = if high("CR", vc) || high("IR", vi) || high("AR", va) {
            0
        } else {
            1
        };
        [eq1, eq2, eq3, eq4, eq5, eq6]
    }
}

fn lookup(mv: [u8; 6]) -> Option<f64> {
    let key: String = mv.iter().map(|d| char::from(b'0' + d.min(&9))).collect();
    LOOKUP
        .binary_search_by(|(k, _)| k.cmp(&key.as_str()))
        .ok()
        .and_then(|i| LOOKUP.get(i))
        .map(|(_, s)| *s)
}

/// Severity level of a metric value, in tenths: 0 is the most severe value.
fn level(metric: &str, value: &str) -> f64 {
    let tenths = match (metric, value) {
        ("AV", "N") | ("PR", "N") | ("UI", "N") | ("AC", "L") | ("AT", "N") => 0,
        ("AV", "A") | ("PR", "L") | ("UI", "P") | ("AC", "H") | ("AT", "P") => 1,
        ("AV", "L") | ("PR", "H") | ("UI", "A") => 2,
        ("AV", "P") => 3,
        ("VC" | "VI" | "VA", "H") => 0,
        ("VC" | "VI" | "VA", "L") => 1,
        ("VC" | "VI" | "VA", "N") => 2,
        ("SC" | "SI" | "SA", "S") => 0,
        ("SC" | "SI" | "SA", "H") => 1,
        ("SC" | "SI" | "SA", "L") => 2,
        ("SC" | "SI" | "SA", "N") => 3,
        ("CR" | "IR" | "AR", "H") => 0,
        ("CR" | "IR" | "AR", "M") => 1,
        ("CR" | "IR" | "AR", "L") => 2,
        _ => 0,
    };
    f64::from(tenths) / 10.0
}

/// The highest-severity vectors of each EQ level (specification's `max_composed`), as
/// `METRIC:VALUE` lists.
fn eq1_maxes(l: u8) -> &'static [&'static str] {
    match l {
        0 => &["AV:N/PR:N/UI:N"],
        1 => &["AV:A/PR:N/UI:N", "AV:N/PR:L/UI:N", "AV:N/PR:N/UI:P"],
        _ => &["AV:P/PR:N/UI:N", "AV:A/PR:L/UI:P"],
    }
}

fn eq2_maxes(l: u8) -> &'static [&'static str] {
    match l {
        0 => &["AC:L/AT:N"],
        _ => &["AC:H/AT:N", "AC:L/AT:P"],
    }
}

fn eq3_eq6_maxes(eq3: u8, eq6: u8) -> &'static [&'static str] {
    match (eq3, eq6) {
        (0, 0) => &["VC:H/VI:H/VA:H/CR:H/IR:H/AR:H"],
        (0, _) => &[
            "VC:H/VI:H/VA:L/CR:M/IR:M/AR:H",
            "VC:H/VI:H/VA:H/CR:M/IR:M/AR:M",
        ],
        (1, 0) => &[
            "VC:L/VI:H/VA:H/CR:H/IR:H/AR:H",
            "VC:H/VI:L/VA:H/CR:H/IR:H/AR:H",
        ],
        (1, _) => &[
            "VC:L/VI:H/VA:L/CR:H/IR:M/AR:H",
            "VC:L/VI:H/VA:H/CR:H/IR:M/AR:M",
            "VC:H/VI:L/VA:H/CR:M/IR:H/AR:M",
            "VC:H/VI:L/VA:L/CR:M/IR:H/AR:H",
            "VC:L/VI:L/VA:H/CR:H/IR:H/AR:M",
        ],
        _ => &["VC:L/VI:L/VA:L/CR:H/IR:H/AR:H"],
    }
}

fn eq4_maxes(l: u8) -> &'static [&'static str] {
    match l {
        0 => &["SC:H/SI:S/SA:S"],
        1 => &["SC:H/SI:H/SA:H"],
        _ => &["SC:L/SI:L/SA:L"],
    }
}

/// Maximal severity distance within each EQ level, in tenths (specification's
/// `max_severity`).
fn max_severity(eq: usize, mv: [u8; 6]) -> f64 {
    let tenths = match eq {
        1 => [1, 4, 5].get(usize::from(mv[0])).copied().unwrap_or(5),
        2 => [1, 2].get(usize::from(mv[1])).copied().unwrap_or(2),
        3 => match (mv[2], mv[5]) {
            (0, 0) => 7,
            (0, _) => 6,
            (1, _) => 8,
            _ => 10,
        },
        _ => [6, 5, 4].get(usize::from(mv[3])).copied().unwrap_or(4),
    };
    f64::from(tenths) / 10.0
}

fn value_in<'a>(composed: &'a str, metric: &str) -> Option<&'a str> {
    composed
        .split('/')
        .filter_map(|c| c.split_once(':'))
        .find(|(m, _)| *m == metric)
        .map(|(_, v)| v)
}

/// Scores the part of a v4.0 vector after `CVSS:4.0/`.
pub(super) fn score(body: &str) -> Result<f64, CvssError> {
    let comps = parse_components(body, VER, allowed)?;
    for m in MANDATORY {
        if !comps.iter().any(|(k, _)| *k == m) {
            return Err(CvssError::Missing {
                version: VER,
                metric: m.to_string(),
            });
        }
    }
    let v = Vector { comps };
    compute(&v)
}

fn compute(v: &Vector<'_>) -> Result<f64, CvssError> {
    if ["VC", "VI", "VA", "SC", "SI", "SA"]
        .iter()
        .all(|m| v.m(m) == "N")
    {
        return Ok(0.0);
    }
    let mv = v.macrovector();
    // Every combination of EQ levels that the EQ rules can produce is in the table;
    // a miss would mean a damaged table, so refuse to guess.
    let value = lookup(mv)
        .ok_or_else(|| CvssError::NoMacrovector(mv.iter().map(|d| d.to_string()).collect()))?;
    let [eq1, eq2, eq3, eq4, eq5, eq6] = mv;
    let lower = |d: [u8; 6]| lookup(d);
    let next_eq1 = lower([eq1 + 1, eq2, eq3, eq4, eq5, eq6]);
    let next_eq2 = lower([eq1, eq2 + 1, eq3, eq4, eq5, eq6]);
    let next_eq3eq6 = match (eq3, eq6) {
        (0, 0) => {
            match (
                lower([eq1, eq2, eq3, eq4, eq5, eq6 + 1]),
                lower([eq1, eq2, eq3 + 1, eq4, eq5, eq6]),
            ) {
                (Some(a), Some(b)) => Some(a.max(b)),
                // The reference implementation takes the max of two numbers where a
                // missing one is NaN, which poisons the result.
                _ => None,
            }
        }
        (0 | 1, 1) => lower([eq1, eq2, eq3 + 1, eq4, eq5, eq6]),
        (1, 0) => lower([eq1, eq2, eq3, eq4, eq5, eq6 + 1]),
        _ => lower([eq1, eq2, eq3 + 1, eq4, eq5, eq6 + 1]),
    };
    let next_eq4 = lower([eq1, eq2, eq3, eq4 + 1, eq5, eq6]);
    let next_eq5 = lower([eq1, eq2, eq3, eq4, eq5 + 1, eq6]);

    // Find the first highest-severity vector of this macrovector that the vector does
    // not exceed in any metric; distances are measured from it.
    const METRICS: [&str; 14] = [
        "AV", "PR", "UI", "AC", "AT", "VC", "VI", "VA", "SC", "SI", "SA", "CR", "IR", "AR",
    ];
    let mut dist = [0.0f64; 14];
    'search: for a in eq1_maxes(eq1) {
        for b in eq2_maxes(eq2) {
            for c in eq3_eq6_maxes(eq3, eq6) {
                for d in eq4_maxes(eq4) {
                    let mut ok = true;
                    for (i, metric) in METRICS.iter().enumerate() {
                        let max_val = [*a, *b, *c, *d]
                            .iter()
                            .find_map(|s| value_in(s, metric))
                            .unwrap_or("X");
                        let dd = level(metric, v.m(metric)) - level(metric, max_val);
                        if let Some(slot) = dist.get_mut(i) {
                            *slot = dd;
                        }
                        if dd < 0.0 {
                            ok = false;
                        }
                    }
                    if ok {
                        break 'search;
                    }
                }
            }
        }
    }
    let d = |i: usize| dist.get(i).copied().unwrap_or(0.0);
    let cur_eq1 = d(0) + d(1) + d(2);
    let cur_eq2 = d(3) + d(4);
    let cur_eq3eq6 = d(5) + d(6) + d(7) + d(11) + d(12) + d(13);
    let cur_eq4 = d(8) + d(9) + d(10);

    let mut n_lower = 0u32;
    let mut sum = 0.0;
    let parts = [
        (next_eq1, cur_eq1, max_severity(1, mv)),
        (next_eq2, cur_eq2, max_severity(2, mv)),
        (next_eq3eq6, cur_eq3eq6, max_severity(3, mv)),
        (next_eq4, cur_eq4, max_severity(4, mv)),
        // EQ5 (threat) has no intra-level distance: it only counts towards the mean.
        (next_eq5, 0.0, 1.0),
    ];
    for (next, current, max_sev) in parts {
        if let Some(next) = next {
            let available = value - next;
            if available >= 0.0 {
                n_lower += 1;
                sum += available * (current / max_sev);
            }
        }
    }
    let mean = if n_lower == 0 {
        0.0
    } else {
        sum / f64::from(n_lower)
    };
    let score = (value - mean).clamp(0.0, 10.0);
    // Round half up to one decimal; the epsilon absorbs binary representation error
    // exactly as the reference calculator does.
    Ok(((score + 1e-6) * 10.0).round() / 10.0)
}
