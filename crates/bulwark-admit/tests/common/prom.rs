//! A strict reader of the Prometheus text exposition format (version 0.0.4) as the
//! webhook writes it: every family has `# HELP` then `# TYPE`, its samples follow it,
//! counters end in `_total`, names and labels are well formed, no series twice, values
//! are finite and not negative, and histograms are cumulative with `+Inf == _count`.

use std::collections::{BTreeMap, BTreeSet};

/// A parsed scrape: samples by their series text (`name{k="v",…}` as written).
pub struct Scrape {
    pub samples: BTreeMap<String, f64>,
    pub types: BTreeMap<String, String>,
}

impl Scrape {
    /// The value of one series; panics if absent.
    pub fn get(&self, series: &str) -> f64 {
        match self.samples.get(series) {
            Some(v) => *v,
            None => panic!(
                "{series} not in the scrape:\n{}",
                self.samples.keys().cloned().collect::<Vec<_>>().join("\n")
            ),
        }
    }

    /// Whether any series of this family is present.
    pub fn has_family(&self, name: &str) -> bool {
        self.types.contains_key(name)
    }
}

fn valid_name(n: &str) -> bool {
    let mut cs = n.chars();
    matches!(cs.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':')
        && cs.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn valid_label(n: &str) -> bool {
    let mut cs = n.chars();
    matches!(cs.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && cs.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `k="v",k2="v2"` → pairs, strictly.
fn labels(s: &str, line: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = s;
    while !rest.is_empty() {
        let (k, after) = rest
            .split_once("=\"")
            .unwrap_or_else(|| panic!("label without =\": {line}"));
        assert!(valid_label(k), "label name {k:?}: {line}");
        let mut v = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next() {
                Some((_, '\\')) => match chars.next() {
                    Some((_, 'n')) => v.push('\n'),
                    Some((_, c @ ('\\' | '"'))) => v.push(c),
                    other => panic!("bad escape {other:?}: {line}"),
                },
                Some((i, '"')) => break i,
                Some((_, c)) => v.push(c),
                None => panic!("unterminated label value: {line}"),
            }
        };
        out.push((k.to_string(), v));
        rest = &after[end + 1..];
        if let Some(r) = rest.strip_prefix(',') {
            rest = r;
            assert!(!rest.is_empty(), "trailing comma: {line}");
        } else {
            assert!(rest.is_empty(), "junk after label value: {line}");
        }
    }
    let names: BTreeSet<&str> = out.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(names.len(), out.len(), "label twice: {line}");
    out
}

/// Parses and checks a scrape (see the module doc).
pub fn parse(text: &str) -> Scrape {
    assert!(text.ends_with('\n'), "ends with a newline");
    let mut samples = BTreeMap::new();
    let mut types: BTreeMap<String, String> = BTreeMap::new();
    let mut helped: BTreeSet<String> = BTreeSet::new();
    let mut current: Option<String> = None;
    let mut last_help: Option<String> = None;
    // Histogram series: (family, labels without le) -> [(le, value)], plus _count.
    let mut buckets: BTreeMap<(String, String), Vec<(f64, f64)>> = BTreeMap::new();
    let mut counts: BTreeMap<(String, String), f64> = BTreeMap::new();
    for line in text.lines() {
        assert!(!line.is_empty(), "blank line in the scrape");
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').unwrap_or_else(|| panic!("{line}"));
            assert!(valid_name(name) && !help.trim().is_empty(), "{line}");
            assert!(helped.insert(name.to_string()), "HELP twice: {line}");
            last_help = Some(name.to_string());
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap_or_else(|| panic!("{line}"));
            assert_eq!(
                last_help.as_deref(),
                Some(name),
                "HELP right before TYPE: {line}"
            );
            assert!(
                matches!(kind, "counter" | "gauge" | "histogram"),
                "type: {line}"
            );
            if kind == "counter" {
                assert!(name.ends_with("_total"), "counter name: {line}");
            }
            assert!(
                types.insert(name.to_string(), kind.to_string()).is_none(),
                "TYPE twice: {line}"
            );
            current = Some(name.to_string());
            last_help = None;
            continue;
        }
        assert!(!line.starts_with('#'), "unknown comment: {line}");
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("{line}"));
        let value: f64 = value.parse().unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(value.is_finite() && value >= 0.0, "value: {line}");
        let (name, lbls) = match series.split_once('{') {
            Some((n, l)) => (
                n,
                labels(
                    l.strip_suffix('}').unwrap_or_else(|| panic!("{line}")),
                    line,
                ),
            ),
            None => (series, Vec::new()),
        };
        assert!(valid_name(name), "name: {line}");
        let fam = current
            .as_deref()
            .unwrap_or_else(|| panic!("sample before any TYPE: {line}"));
        let kind = types[fam].as_str();
        if kind == "histogram" {
            let rest: Vec<(String, String)> =
                lbls.iter().filter(|(k, _)| k != "le").cloned().collect();
            let key = (fam.to_string(), format!("{rest:?}"));
            if name == format!("{fam}_bucket") {
                let le = lbls
                    .iter()
                    .find(|(k, _)| k == "le")
                    .map(|(_, v)| v.clone())
                    .unwrap_or_else(|| panic!("bucket without le: {line}"));
                let le: f64 = if le == "+Inf" {
                    f64::INFINITY
                } else {
                    le.parse().unwrap_or_else(|e| panic!("{e}: {line}"))
                };
                buckets.entry(key).or_default().push((le, value));
            } else if name == format!("{fam}_count") {
                counts.insert(key, value);
            } else {
                assert_eq!(name, format!("{fam}_sum"), "histogram sample: {line}");
            }
        } else {
            assert_eq!(name, fam, "sample outside its family: {line}");
            assert_eq!(
                value.fract(),
                0.0,
                "counters and gauges here are integers: {line}"
            );
        }
        assert!(
            samples.insert(series.to_string(), value).is_none(),
            "series twice: {line}"
        );
    }
    assert!(last_help.is_none(), "HELP without TYPE");
    for (key, bs) in &buckets {
        for w in bs.windows(2) {
            assert!(w[0].0 < w[1].0, "le increasing: {key:?}");
            assert!(w[0].1 <= w[1].1, "cumulative buckets: {key:?}");
        }
        let last = bs.last().unwrap();
        assert!(last.0.is_infinite(), "+Inf bucket last: {key:?}");
        assert_eq!(Some(&last.1), counts.get(key), "+Inf == _count: {key:?}");
    }
    assert_eq!(buckets.len(), counts.len(), "a _count per histogram series");
    Scrape { samples, types }
}
