//! Shape of each output format for the sample report: what consumers rely on beyond
//! schema validity (unique references, dependency graph, licence forms, determinism).
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test may panic: that is its failure

mod common;

use bulwark_report::{write, Format};
use serde_json::Value;
use std::collections::HashSet;

fn render(format: Format) -> Vec<u8> {
    let mut buf = Vec::new();
    write(&common::sample_report(), format, &mut buf).unwrap();
    buf
}

fn render_json(format: Format) -> Value {
    serde_json::from_slice(&render(format)).unwrap()
}

fn component<'a>(bom: &'a Value, name: &str) -> &'a Value {
    bom["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no component {name}"))
}

#[test]
fn cyclonedx_structure() {
    let bom = render_json(Format::CycloneDx);
    assert_eq!(bom["specVersion"], "1.6");
    assert!(bom["serialNumber"]
        .as_str()
        .unwrap()
        .starts_with("urn:uuid:"));
    assert_eq!(bom["metadata"]["timestamp"], "2024-05-01T10:30:45Z");
    let root = &bom["metadata"]["component"];
    assert_eq!(root["type"], "container");
    assert_eq!(root["name"], "example.org/app:1.0");
    assert!(root["version"].as_str().unwrap().starts_with("sha256:ccc"));

    let comps = bom["components"].as_array().unwrap();
    // OS component + one per package.
    let n_pkgs = common::sample_report().packages.len();
    assert_eq!(comps.len(), n_pkgs + 1);
    let os = comps
        .iter()
        .find(|c| c["type"] == "operating-system")
        .unwrap();
    assert_eq!(
        (os["name"].as_str(), os["version"].as_str()),
        (Some("debian"), Some("12.15"))
    );

    let refs: HashSet<&str> = comps
        .iter()
        .map(|c| c["bom-ref"].as_str().unwrap())
        .collect();
    assert_eq!(refs.len(), comps.len(), "bom-refs must be unique");

    let log4j = component(&bom, "log4j-core");
    assert_eq!(log4j["group"], "org.apache.logging.log4j");
    assert_eq!(log4j["hashes"][0]["alg"], "SHA-1");
    assert_eq!(
        log4j["licenses"],
        serde_json::json!([{"license": {"id": "Apache-2.0"}}])
    );
    let babel = component(&bom, "core");
    assert_eq!(babel["group"], "@babel");
    assert_eq!(
        babel["licenses"],
        serde_json::json!([{"expression": "MIT OR Apache-2.0"}])
    );
    let props: Vec<(&str, &str)> = babel["properties"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["name"].as_str().unwrap(), p["value"].as_str().unwrap()))
        .collect();
    assert!(props.contains(&("bulwark:dev", "true")));
    assert!(props.contains(&("bulwark:digest", "sha512-Zm9vYmFyYmF6cXV4")));
    assert!(props.contains(&("bulwark:layer_digest", common::LAYER2)));
    let bsd = component(&bom, "bsdutils");
    assert_eq!(
        bsd["licenses"],
        serde_json::json!([
            {"license": {"id": "GPL-2.0-or-later"}},
            {"license": {"name": "Custom license text"}},
            {"license": {"name": "MIT OR Apache-2.0"}},
        ])
    );
    let libgcc = component(&bom, "libgcc-s1");
    assert_eq!(
        libgcc["supplier"]["name"],
        "Debian GCC Maintainers <debian-gcc@lists.debian.org>"
    );

    // Root depends on the OS and the language packages, the OS on the OS packages.
    let deps = bom["dependencies"].as_array().unwrap();
    let dep = |r: &str| {
        deps.iter().find(|d| d["ref"] == r).unwrap()["dependsOn"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    let root_deps = dep(root["bom-ref"].as_str().unwrap());
    let os_deps = dep(os["bom-ref"].as_str().unwrap());
    assert!(root_deps.contains(&os["bom-ref"].as_str().unwrap().to_string()));
    assert_eq!(os_deps.len(), 4, "deb x2, rpm, apk");
    assert!(os_deps.contains(&libgcc["bom-ref"].as_str().unwrap().to_string()));
    assert_eq!(root_deps.len() + os_deps.len(), n_pkgs + 1);
}

#[test]
fn cyclonedx_never_writes_null_components() {
    let mut r = common::sample_report();
    r.packages.clear();
    r.os = None;
    let mut buf = Vec::new();
    write(&r, Format::CycloneDx, &mut buf).unwrap();
    let bom: Value = serde_json::from_slice(&buf).unwrap();
    assert_eq!(bom["components"], serde_json::json!([]));
}

#[test]
fn spdx_structure() {
    let doc = render_json(Format::Spdx);
    assert_eq!(doc["spdxVersion"], "SPDX-2.3");
    assert_eq!(doc["creationInfo"]["created"], "2024-05-01T10:30:45Z");
    assert!(doc["creationInfo"]["creators"][0]
        .as_str()
        .unwrap()
        .starts_with("Tool: bulwark-"));
    let pkgs = doc["packages"].as_array().unwrap();
    let ids: HashSet<&str> = pkgs.iter().map(|p| p["SPDXID"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), pkgs.len(), "SPDXIDs must be unique");
    for id in &ids {
        let rest = id.strip_prefix("SPDXRef-").unwrap();
        assert!(
            rest.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-'),
            "{id}"
        );
    }
    let bsd = pkgs.iter().find(|p| p["name"] == "bsdutils").unwrap();
    assert_eq!(
        bsd["licenseDeclared"],
        "GPL-2.0-or-later AND LicenseRef-Custom-license-text AND (MIT OR Apache-2.0)"
    );
    assert!(doc["hasExtractedLicensingInfos"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["licenseId"] == "LicenseRef-Custom-license-text"
            && e["extractedText"] == "Custom license text"));
    assert_eq!(
        bsd["sourceInfo"],
        format!(
            "built package from: util-linux 2.38.1-5+deb12u3; found in /var/lib/dpkg/status (layer {})",
            common::LAYER1
        )
    );
    let libgcc = pkgs.iter().find(|p| p["name"] == "libgcc-s1").unwrap();
    assert_eq!(
        libgcc["supplier"],
        "Organization: Debian GCC Maintainers <debian-gcc@lists.debian.org>"
    );
    assert_eq!(libgcc["checksums"][0]["algorithm"], "SHA256");
    assert_eq!(libgcc["externalRefs"][0]["referenceType"], "purl");
    let rels = doc["relationships"].as_array().unwrap();
    let contains = rels
        .iter()
        .filter(|r| r["relationshipType"] == "CONTAINS")
        .count();
    // Root contains the OS and every package.
    assert_eq!(contains, common::sample_report().packages.len() + 1);
    assert!(rels
        .iter()
        .any(|r| r["relationshipType"] == "DESCRIBES" && r["spdxElementId"] == "SPDXRef-DOCUMENT"));
}

/// Outputs differ between runs only in the UUIDs the formats require to be unique.
#[test]
fn output_is_deterministic_apart_from_uuids() {
    let strip = |mut v: Value, keys: &[&str]| {
        for k in keys {
            v[*k] = Value::Null;
        }
        v
    };
    assert_eq!(
        strip(render_json(Format::CycloneDx), &["serialNumber"]),
        strip(render_json(Format::CycloneDx), &["serialNumber"])
    );
    assert_eq!(
        strip(render_json(Format::Spdx), &["documentNamespace"]),
        strip(render_json(Format::Spdx), &["documentNamespace"])
    );
    assert_eq!(render(Format::Json), render(Format::Json));
    assert_eq!(render(Format::Table), render(Format::Table));
}

#[test]
fn json_is_the_report() {
    let report = common::sample_report();
    let back: bulwark_core::Report = serde_json::from_slice(&render(Format::Json)).unwrap();
    assert_eq!(back, report);
    let v = render_json(Format::Json);
    assert_eq!(
        v["schema_version"],
        bulwark_core::report::REPORT_SCHEMA_VERSION
    );
}

#[test]
fn table_groups_os_then_paths() {
    let text = String::from_utf8(render(Format::Table)).unwrap();
    assert!(
        text.starts_with("Target: example.org/app:1.0 (image)\n"),
        "{text}"
    );
    assert!(text.contains("OS: Debian GNU/Linux 12 (bookworm)\n"));
    let n = common::sample_report().packages.len();
    assert!(text.contains(&format!("Packages: {n} (4 OS, {} language)", n - 4)));
    let os_at = text.find("OS packages (4)").unwrap();
    let lock_at = text.find("/app/package-lock.json (2)").unwrap();
    let gem_at = text.find("/app/Gemfile.lock (1)").unwrap();
    assert!(
        os_at < gem_at && gem_at < lock_at,
        "OS first, then paths in order"
    );
    // Image tables carry the short layer digest.
    assert!(text.contains("sha256:111111111111 "));
    assert!(text
        .lines()
        .any(|l| l.contains("libgcc-s1") && l.contains("1:12.2.0-14") && l.contains("deb")));
}
