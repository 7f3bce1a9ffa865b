//! Regression tests for matcher crashes and wrong answers found by independent
//! evaluation (issue 11): Maven's non-transitive order crashing the sort, `withdrawn`
//! times in the future, PEP 503 names, Go module path case.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test may panic: that is its failure

use std::cmp::Ordering;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bulwark_core::{Ecosystem, Package};
use bulwark_version::{parse, Scheme, Version};
use bulwark_vulndb::matching::{match_package, match_package_at, merge_findings};
use bulwark_vulndb::osv::{parse_record, OsvRecord};

fn rec(json: &str) -> OsvRecord {
    parse_record(json.as_bytes()).expect("test record")
}

/// 83 Maven versions (Maven's own quirky triples plus generated ones) on which Rust's
/// sort, given ComparableVersion's comparison, panics: "user-provided comparison
/// function does not correctly implement a total order".
const MAVEN_83: [&str; 83] = [
    "6.aa-0-0",
    "6alpha",
    "6.",
    "0sp",
    "0.alpha-0",
    "0",
    "aa0x0",
    "gaax66",
    "-x",
    "x0",
    "aaaaga",
    "-",
    "sp.0",
    "--",
    "ga",
    ".-sp",
    "a1.",
    "6-x0",
    "6-aa",
    "spalpha",
    "",
    "rc-gaa",
    "6aaaa-",
    "ga-aa",
    "ga",
    "gagaalpha",
    "..xalphaalpha",
    "x",
    "garc",
    "0gaaa",
    ".rc",
    "x.",
    "6x.",
    "garc",
    "x6rca.",
    "x6xrc6",
    "-x",
    "-alpha",
    "alpha6a.",
    "rcxga.x",
    "sp",
    "ga.axa",
    "ax06",
    "1a",
    "rcxx0",
    "x-.",
    "xgaspsp",
    "1",
    "0x",
    "gaarcga",
    "aa",
    "gax.x.",
    "1",
    "x10",
    "101xa",
    "6arc.0",
    "",
    "",
    "-xga",
    "1.-ga",
    ".xsp6rc",
    "alphaga1a",
    "6",
    "alpha",
    "rc",
    "-ga1a",
    "sp.-",
    "alphaaa",
    "aa",
    "a",
    "alpha",
    "06",
    "sprc",
    "6",
    "agarc",
    "gaga1alpha",
    "",
    "rc",
    "xx0",
    "a",
    "xx0",
    "6alpha",
    "",
];

fn maven(v: &str) -> Version {
    parse(Scheme::Maven, v).expect("Maven accepts any string")
}

fn maven_pkg(v: &str) -> Package {
    Package::new(Ecosystem::Maven, "org.example:lib", v, "test")
}

fn json_str(s: &str) -> String {
    serde_json::to_string(s).expect("string")
}

#[test]
fn the_83_versions_do_crash_a_sort_by_mavens_own_comparison() {
    // Proves the set reproduces the crash; bulwark must never sort this way.
    let vs: Vec<Version> = MAVEN_83.iter().map(|v| maven(v)).collect();
    let crashed = std::panic::catch_unwind(|| {
        let mut v = vs.clone();
        v.sort_by(|a, b| a.native_cmp(b));
    })
    .is_err();
    assert!(crashed, "the reproducer no longer crashes Rust's sort");
    // The total order sorts them.
    let mut v = vs;
    v.sort();
    assert!(v.windows(2).all(|w| w[0] <= w[1]));
}

#[test]
fn maven_matching_over_the_83_versions_never_panics_and_agrees_with_maven_pairwise() {
    // One record, one range per version: [0, fixed v). An installed version is
    // affected by range v exactly when Maven says installed < v, and its fixed
    // versions are those v.
    let ranges: Vec<String> = MAVEN_83
        .iter()
        .map(|v| {
            format!(
                r#"{{"type":"ECOSYSTEM","events":[{{"introduced":"0"}},{{"fixed":{}}}]}}"#,
                json_str(v)
            )
        })
        .collect();
    let r = rec(&format!(
        r#"{{"id":"T-MVN","modified":"2024-01-01T00:00:00Z","affected":[{{"package":{{"ecosystem":"Maven","name":"org.example:lib"}},"ranges":[{}]}}]}}"#,
        ranges.join(",")
    ));
    // One range holding all 83 as alternating events (sorted inside the matcher).
    let events: Vec<String> = MAVEN_83
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let kind = if i % 2 == 0 { "introduced" } else { "fixed" };
            format!(r#"{{"{kind}":{}}}"#, json_str(v))
        })
        .collect();
    let r2 = rec(&format!(
        r#"{{"id":"T-MVN2","modified":"2024-01-01T00:00:00Z","affected":[{{"package":{{"ecosystem":"Maven","name":"org.example:lib"}},"ranges":[{{"type":"ECOSYSTEM","events":[{}]}}]}}]}}"#,
        events.join(",")
    ));
    for installed in MAVEN_83.iter().chain(&["0", "1.0", "6.0.1", "99"]) {
        let inst = maven(installed);
        let out = match_package(&maven_pkg(installed), None, &[r.clone(), r2.clone()]);
        let above: Vec<Version> = MAVEN_83
            .iter()
            .map(|v| maven(v))
            .filter(|v| inst.native_cmp(v) == Ordering::Less)
            .collect();
        let f = out.findings.iter().find(|f| f.id == "T-MVN");
        assert_eq!(f.is_some(), !above.is_empty(), "installed {installed:?}");
        if let Some(f) = f {
            let got: Vec<Version> = f.fixed_versions.iter().map(|v| maven(v)).collect();
            // Every fix offered is above the installed version (Maven's answer)...
            for g in &got {
                assert_eq!(inst.native_cmp(g), Ordering::Less, "{installed:?} vs {g}");
            }
            // ...every fix above it is offered (up to versions Maven calls equal)...
            for a in &above {
                assert!(
                    got.iter().any(|g| g.native_cmp(a) == Ordering::Equal),
                    "{installed:?}: fix {a} missing from {:?}",
                    f.fixed_versions
                );
            }
            // ...in the total order.
            assert!(got.windows(2).all(|w| w[0] <= w[1]));
        }
        // Merging (which sorts fixed versions again) does not panic either.
        let merged = merge_findings(out.findings);
        assert!(merged.len() <= 2);
    }
}

fn withdrawn_rec(withdrawn: &str) -> OsvRecord {
    rec(&format!(
        r#"{{"id":"T-W","modified":"2024-01-01T00:00:00Z","withdrawn":{},"affected":[{{"package":{{"ecosystem":"PyPI","name":"pkg"}},"ranges":[{{"type":"ECOSYSTEM","events":[{{"introduced":"0"}},{{"fixed":"2.0"}}]}}]}}]}}"#,
        json_str(withdrawn)
    ))
}

#[test]
fn withdrawn_in_the_future_is_still_in_force() {
    let p = Package::new(Ecosystem::Pypi, "pkg", "1.0", "test");
    // 2025-06-01T00:00:00Z
    let now = UNIX_EPOCH + Duration::from_secs(1_748_736_000);
    let future = withdrawn_rec("2025-06-02T00:00:00Z");
    let out = match_package_at(&p, None, std::slice::from_ref(&future), now);
    assert_eq!(out.findings.len(), 1);
    assert_eq!(out.withdrawn, 0);
    // Once that time has come, it is withdrawn.
    let later = now + Duration::from_secs(2 * 86_400);
    let out = match_package_at(&p, None, std::slice::from_ref(&future), later);
    assert!(out.findings.is_empty());
    assert_eq!(out.withdrawn, 1);
    // Exactly at the withdrawn time: withdrawn (`<= now`).
    let at = withdrawn_rec("2025-06-01T00:00:00Z");
    assert!(match_package_at(&p, None, &[at], now).findings.is_empty());
    // A past time with an offset and fractional seconds.
    let past = withdrawn_rec("2025-06-01T01:59:59.5+02:00");
    assert!(match_package_at(&p, None, &[past], now).findings.is_empty());
    // A future time with an offset.
    let fut = withdrawn_rec("2025-06-01T02:00:01+02:00");
    assert_eq!(match_package_at(&p, None, &[fut], now).findings.len(), 1);
    // Not a time: the field still says "withdrawn".
    let junk = withdrawn_rec("yes");
    assert!(match_package_at(&p, None, &[junk], now).findings.is_empty());
    // The wall-clock entry point: a record withdrawn in 2999 is in force today.
    assert!(SystemTime::now() < UNIX_EPOCH + Duration::from_secs(32_503_680_000));
    let far = withdrawn_rec("2999-01-01T00:00:00Z");
    assert_eq!(match_package(&p, None, &[far]).findings.len(), 1);
}

fn named_rec(eco: &str, name: &str) -> OsvRecord {
    rec(&format!(
        r#"{{"id":"T-N","modified":"2024-01-01T00:00:00Z","affected":[{{"package":{{"ecosystem":"{eco}","name":{}}},"ranges":[{{"type":"SEMVER","events":[{{"introduced":"0"}},{{"fixed":"9.0.0"}}]}}]}}]}}"#,
        json_str(name)
    ))
}

#[test]
fn pypi_names_match_by_pep_503_as_everywhere_else() {
    // Cases the three former normalisers disagreed on.
    for (record, installed, want) in [
        ("Foo_Bar", "foo.bar", true),
        ("foo-bar", "  Foo__Bar ", true),
        // A leading separator is part of the PEP 503 name, not dropped.
        ("_private", "private", false),
        ("_private", "-private", true),
        ("zope.interface.", "zope-interface", false),
        ("ÄBC", "äbc", true),
    ] {
        let p = Package::new(Ecosystem::Pypi, installed, "1.0.0", "test");
        let hit = !match_package(&p, None, &[named_rec("PyPI", record)])
            .findings
            .is_empty();
        assert_eq!(hit, want, "record {record:?}, installed {installed:?}");
    }
}

#[test]
fn go_module_paths_match_whatever_case_an_sbom_gave() {
    let r = named_rec("Go", "github.com/0xJacky/Nginx-UI");
    for name in [
        "github.com/0xJacky/Nginx-UI",
        // Third-party SBOMs following the old purl rule lower-case the namespace.
        "github.com/0xjacky/Nginx-UI",
        "github.com/0xjacky/nginx-ui",
    ] {
        let p = Package::new(Ecosystem::Golang, name, "v1.9.9", "test");
        assert_eq!(
            match_package(&p, None, std::slice::from_ref(&r))
                .findings
                .len(),
            1,
            "{name}"
        );
    }
    let other = Package::new(
        Ecosystem::Golang,
        "github.com/0xJacky/Nginx-UI2",
        "v1.9.9",
        "test",
    );
    assert!(match_package(&other, None, &[r]).findings.is_empty());
}
