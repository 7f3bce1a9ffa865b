//! Test support: loading fixtures and the anchors' `*.expected.json` files.

use serde_json::Value;
use std::collections::BTreeSet;

/// Absolute path of a fixture given relative to the fixtures root.
pub fn fixture_path(rel: &str) -> String {
    format!("{}/{rel}", bulwark_fixtures::fixtures_location().display())
}

/// The bytes of a fixture.
pub fn fixture(rel: &str) -> Vec<u8> {
    let p = fixture_path(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("reading {p}: {e}"))
}

/// The `cases` array of `<rel>.expected.json`.
pub fn cases(rel: &str) -> Vec<Value> {
    let v: Value = serde_json::from_slice(&fixture(&format!("{rel}.expected.json")))
        .unwrap_or_else(|e| panic!("{rel}.expected.json: {e}"));
    v.get("cases")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_else(|| panic!("{rel}.expected.json has no cases"))
}

/// Every package object (an object with a `Name`) in a case, outside `params`, and not
/// descending into packages (whose `DependsOn` etc. are not packages).
pub fn packages_in(case: &Value) -> Vec<Value> {
    fn walk(v: &Value, out: &mut Vec<Value>) {
        match v {
            Value::Object(m) if m.contains_key("Name") => out.push(v.clone()),
            Value::Object(m) => m.values().for_each(|x| walk(x, out)),
            Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    if let Value::Object(m) = case {
        for (k, v) in m {
            // `wantDeps` holds IDs only; `params` the test inputs.
            if k != "params" && k != "wantDeps" {
                walk(v, &mut out);
            }
        }
    }
    out
}

/// Packages of the first case of `<rel>.expected.json`.
pub fn expected_packages(rel: &str) -> Vec<Value> {
    let cs = cases(rel);
    packages_in(cs.first().expect("at least one case"))
}

/// A string field of an expected package ("" when absent).
pub fn field(p: &Value, key: &str) -> String {
    p.get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// The `Licenses` of an expected package.
pub fn licenses(p: &Value) -> Vec<String> {
    p.get("Licenses")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// Name/version pairs of expected packages.
pub fn nv(pkgs: &[Value]) -> BTreeSet<(String, String)> {
    pkgs.iter()
        .map(|p| (field(p, "Name"), field(p, "Version")))
        .collect()
}

/// Name/version pairs of our packages.
pub fn our_nv<'a>(
    pkgs: impl IntoIterator<Item = &'a bulwark_core::Package>,
) -> BTreeSet<(String, String)> {
    pkgs.into_iter()
        .map(|p| (p.name.clone(), p.version.clone()))
        .collect()
}

/// Name/licences pairs of expected packages (for the ones that record any).
pub fn name_licenses(pkgs: &[Value]) -> BTreeSet<(String, Vec<String>)> {
    pkgs.iter()
        .map(|p| (field(p, "Name"), licenses(p)))
        .collect()
}

/// Name/licences pairs of our packages.
pub fn our_name_licenses<'a>(
    pkgs: impl IntoIterator<Item = &'a bulwark_core::Package>,
) -> BTreeSet<(String, Vec<String>)> {
    pkgs.into_iter()
        .map(|p| (p.name.clone(), p.licenses.clone()))
        .collect()
}
