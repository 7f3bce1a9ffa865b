//! Test helpers shared by the Python and JavaScript cataloger tests: fixture paths and
//! the anchors' `*.expected.json` packages.

use bulwark_core::Package;
use serde_json::Value;
use std::collections::BTreeSet;

/// Absolute path of a shared fixture.
pub fn fixture(rel: &str) -> String {
    format!("{}/{rel}", bulwark_fixtures::fixtures_location().display())
}

/// Reads a fixture.
pub fn read(rel: &str) -> Vec<u8> {
    std::fs::read(fixture(rel)).unwrap_or_else(|e| panic!("fixture {rel}: {e}"))
}

/// One expected package, reduced to the fields that map onto ours.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Exp {
    pub name: String,
    pub version: String,
    pub dev: bool,
    pub licenses: Vec<String>,
}

/// The expected packages of case `case` of `<rel>.expected.json` (`want` or `wantPkgs`,
/// a list, a single `Package`, or an analyzer result with `Applications[].Packages`).
pub fn expected(rel: &str, case: usize) -> Vec<Exp> {
    let raw = read(&format!("{rel}.expected.json"));
    let doc: Value = serde_json::from_slice(&raw).unwrap_or_else(|e| panic!("{rel}: {e}"));
    let c = &doc["cases"][case];
    let want = if c.get("want").is_some() {
        &c["want"]
    } else {
        &c["wantPkgs"]
    };
    let list: Vec<&Value> = match want {
        Value::Array(a) => a.iter().collect(),
        Value::Object(o) if o.contains_key("Package") => vec![&o["Package"]],
        Value::Object(o) => o
            .get("Applications")
            .and_then(Value::as_array)
            .map(|apps| {
                apps.iter()
                    .filter_map(|a| a["Packages"].as_array())
                    .flatten()
                    .collect()
            })
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    list.iter()
        .map(|p| Exp {
            name: p["Name"].as_str().unwrap_or_default().to_string(),
            version: p["Version"].as_str().unwrap_or_default().to_string(),
            dev: p["Dev"].as_bool().unwrap_or(false),
            licenses: p["Licenses"]
                .as_array()
                .map(|l| {
                    l.iter()
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default(),
        })
        .collect()
}

/// Our packages in the same reduced form.
pub fn ours(pkgs: &[Package]) -> Vec<Exp> {
    pkgs.iter()
        .map(|p| Exp {
            name: p.name.clone(),
            version: p.version.clone(),
            dev: p.dev,
            licenses: p.licenses.clone(),
        })
        .collect()
}

/// Name/version pairs as a set.
pub fn nv(e: &[Exp]) -> BTreeSet<(String, String)> {
    e.iter()
        .map(|e| (e.name.clone(), e.version.clone()))
        .collect()
}

/// Name/version/dev triples as a set.
pub fn nvd(e: &[Exp]) -> BTreeSet<(String, String, bool)> {
    e.iter()
        .map(|e| (e.name.clone(), e.version.clone(), e.dev))
        .collect()
}

/// Full comparison as sets (licenses sorted within each package).
pub fn full(e: &[Exp]) -> BTreeSet<Exp> {
    e.iter()
        .cloned()
        .map(|mut e| {
            e.licenses.sort();
            e
        })
        .collect()
}
