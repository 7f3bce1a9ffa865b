//! Tests against the Trivy/Syft fixtures in `shared/fixtures/java` and Debian's jars.

use super::*;
use crate::{CatalogError, CatalogInput, Cataloger, ScanMode};
use bulwark_core::Package;
use std::collections::BTreeSet;
use std::io::Write;

fn fixture(rel: &str) -> String {
    format!(
        "{}/java/{rel}",
        bulwark_fixtures::fixtures_location().display()
    )
}

fn run_at(c: &dyn Cataloger, file: &str, path: &str) -> Result<Vec<Package>, CatalogError> {
    let mut f = std::fs::File::open(file)?;
    let size = f.metadata()?.len();
    c.catalog(CatalogInput {
        path,
        size,
        mode: 0o644,
        reader: &mut f,
        spool_dir: None,
    })
    .map(|o| o.packages)
}

/// (name, version, location, licences) of each package.
type Row = (String, String, String, Vec<String>);

fn rows(pkgs: &[Package]) -> BTreeSet<Row> {
    pkgs.iter()
        .map(|p| {
            (
                p.name.clone(),
                p.version.clone(),
                p.locations
                    .first()
                    .map(|l| l.path.clone())
                    .unwrap_or_default(),
                p.licenses.clone(),
            )
        })
        .collect()
}

/// Trivy's expected rows, with its `testdata/x.jar/inner.jar` paths rewritten to our
/// `x.jar!/inner.jar` convention.
fn expected(rel: &str, case: usize) -> BTreeSet<Row> {
    let text = std::fs::read_to_string(fixture(rel)).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["cases"][case]["want"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let fp = p["FilePath"]
                .as_str()
                .unwrap()
                .trim_start_matches("testdata/");
            let fp = fp.replace(".jar/", ".jar!/").replace(".war/", ".war!/");
            let lic = p["Licenses"]
                .as_array()
                .map(|a| a.iter().map(|s| s.as_str().unwrap().to_string()).collect())
                .unwrap_or_default();
            (
                p["Name"].as_str().unwrap().to_string(),
                p["Version"].as_str().unwrap().to_string(),
                fp,
                lic,
            )
        })
        .collect()
}

fn jar(name: &str) -> Vec<Package> {
    let c = archive::JavaArchiveCataloger;
    assert!(c.wants(name, 1000, 0o644, ScanMode::Image));
    run_at(&c, &fixture(&format!("jar/{name}")), name).unwrap()
}

#[test]
fn jars_matching_trivy_exactly() {
    let _fixtures = bulwark_fixtures::fixtures_or_skip!();
    // nested.jar: pom.properties at three nesting levels.
    // hadoop-shaded-guava: a shaded jar with five pom.properties; licences from the
    // embedded pom.xml files (only j2objc's declares one).
    // license-from-jenkins-plugin.jar: manifest coordinates and Plugin-License-Name*.
    // multi-license-1.0.0.jar: pom.properties; packed LICENSE files are not classified.
    for f in [
        "nested.jar",
        "hadoop-shaded-guava-1.1.0-SNAPSHOT.jar",
        "license-from-jenkins-plugin.jar",
        "multi-license-1.0.0.jar",
    ] {
        assert_eq!(
            rows(&jar(f)),
            expected(&format!("jar/{f}.expected.json"), 0),
            "{f}"
        );
    }
    // test.jar has only a manifest: we match Trivy's offline case (index 1); its online
    // case resolves org.springframework:spring-core by sha1 through the Java DB.
    assert_eq!(
        rows(&jar("test.jar")),
        expected("jar/test.jar.expected.json", 1)
    );
}

#[test]
fn jars_differing_for_lack_of_java_db() {
    let _fixtures = bulwark_fixtures::fixtures_or_skip!();
    // heuristic-1.0.0-SNAPSHOT.jar: Trivy finds the groupId `com.example` by artifactId in
    // its Java DB; we only have the file name.
    let got = rows(&jar("heuristic-1.0.0-SNAPSHOT.jar"));
    let want = expected("jar/heuristic-1.0.0-SNAPSHOT.jar.expected.json", 0);
    let strip: BTreeSet<Row> = want
        .into_iter()
        .map(|(n, v, l, lic)| (n.rsplit(':').next().unwrap().to_string(), v, l, lic))
        .collect();
    assert_eq!(got, strip);

    // gradle.war: same coordinates and locations; the licence strings differ because
    // Trivy's mock DB returns normalised ids, we read the embedded pom.xml.
    let got: BTreeSet<_> = rows(&jar("gradle.war"))
        .into_iter()
        .map(|(n, v, l, _)| (n, v, l))
        .collect();
    let want: BTreeSet<_> = expected("jar/gradle.war.expected.json", 0)
        .into_iter()
        .map(|(n, v, l, _)| (n, v, l))
        .collect();
    assert_eq!(got, want);
}

#[test]
fn debian_jars() {
    let c = archive::JavaArchiveCataloger;
    let core = "/usr/share/java/log4j-core.jar";
    if !std::path::Path::new(core).exists() {
        eprintln!("skipping: liblog4j2-java not installed");
        return;
    }
    let pkgs = run_at(&c, core, "usr/share/java/log4j-core.jar").unwrap();
    assert_eq!(pkgs.len(), 1, "{pkgs:?}");
    assert_eq!(pkgs[0].name, "org.apache.logging.log4j:log4j-core");
    // Debian's versioned symlink (log4j-core-2.19.0.jar -> log4j-core.jar) states the
    // packaged version independently of the jar's content.
    let versioned = std::fs::read_dir("/usr/share/java")
        .unwrap()
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter_map(|n| archive::split_file_name(&n))
        .find(|(a, _)| a == "log4j-core")
        .map(|(_, v)| v)
        .unwrap();
    assert_eq!(pkgs[0].version, versioned);
    let lang = run_at(&c, "/usr/share/java/commons-lang3.jar", "commons-lang3.jar").unwrap();
    assert_eq!(lang.len(), 1);
    assert_eq!(lang[0].name, "org.apache.commons:commons-lang3");
}

#[test]
fn manifests_match_syft() {
    let _fixtures = bulwark_fixtures::fixtures_or_skip!();
    for f in [
        "small",
        "continuation",
        "standard-info",
        "extra-info",
        "extra-empty-lines",
        "version-with-date",
    ] {
        let data = std::fs::read(fixture(&format!("manifest/{f}.MF"))).unwrap();
        let text =
            std::fs::read_to_string(fixture(&format!("manifest/{f}.MF.expected.json"))).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let want: Vec<(String, String)> = v["cases"][0]["expected"]["Main"]
            .as_array()
            .unwrap()
            .iter()
            .map(|kv| {
                (
                    kv["Key"].as_str().unwrap().to_string(),
                    kv["Value"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        assert_eq!(manifest::parse_main_section(&data), want, "{f}");
    }
    // leading-space.MF deliberately differs: Syft trims all leading blanks of a
    // continuation line, the JAR spec (and we) strip exactly one.
}

#[test]
fn pom_properties_and_file_names() {
    let _fixtures = bulwark_fixtures::fixtures_or_skip!();
    for f in ["colon-delimited", "colon-delimited-with-equals"] {
        let data = std::fs::read(fixture(&format!("pom-properties/{f}.pom.properties"))).unwrap();
        let p = archive::parse_pom_properties(&data);
        assert!(
            !p.group_id.is_empty() && !p.artifact_id.is_empty() && !p.version.is_empty(),
            "{f}: {p:?}"
        );
        assert!(!p.version.starts_with([':', '=']), "{f}: {p:?}");
    }
    assert_eq!(
        archive::split_file_name("commons-lang3-3.12.0.jar"),
        Some(("commons-lang3".into(), "3.12.0".into()))
    );
    assert_eq!(archive::split_file_name("log4j-core.jar"), None);
}

fn zip_with(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, data) in entries {
        w.start_file(*name, opts).unwrap();
        w.write_all(data).unwrap();
    }
    w.finish().unwrap().into_inner()
}

#[test]
fn zip_bomb_and_depth_limits() {
    // 300 MiB of zeros deflates to a few hundred KiB: over the nested-archive limit.
    // Written in chunks so the test itself stays small in memory.
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    w.start_file(
        "WEB-INF/lib/bomb.jar",
        zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .large_file(true),
    )
    .unwrap();
    let chunk = vec![0u8; 1 << 20];
    for _ in 0..300 {
        w.write_all(&chunk).unwrap();
    }
    let bomb = w.finish().unwrap().into_inner();
    assert!(bomb.len() < 4 << 20);
    let err = archive::parse_archive_bytes(&bomb, "app.war").unwrap_err();
    assert!(matches!(err, CatalogError::TooLarge { .. }), "{err}");

    // Five levels of nesting: the fifth is not opened.
    let props = |n: u32| format!("groupId=g\nartifactId=a{n}\nversion=1\n");
    let mut inner = zip_with(&[("META-INF/maven/g/a5/pom.properties", props(5).as_bytes())]);
    for n in (1..5).rev() {
        let p = props(n);
        inner = zip_with(&[
            ("META-INF/maven/g/a/pom.properties", p.as_bytes()),
            ("lib/x.jar", &inner),
        ]);
    }
    let pkgs = archive::parse_archive_bytes(&inner, "top.jar").unwrap();
    let names: BTreeSet<_> = pkgs.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, BTreeSet::from(["g:a1", "g:a2", "g:a3", "g:a4"]));
    assert!(pkgs
        .iter()
        .any(|p| p.locations[0].path == "top.jar!/lib/x.jar!/lib/x.jar"));

    assert!(matches!(
        archive::parse_archive_bytes(b"PK\x03\x04garbage", "x.jar"),
        Err(CatalogError::Parse { .. })
    ));
}

#[test]
fn gradle_lock_matches_trivy() {
    let _fixtures = bulwark_fixtures::fixtures_or_skip!();
    let data = std::fs::read(fixture("gradle/happy.lockfile")).unwrap();
    let pkgs = gradle::parse_gradle_lock(&data).unwrap();
    let text = std::fs::read_to_string(fixture("gradle/happy.lockfile.expected.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let want: BTreeSet<(String, String, bool)> = v["cases"][0]["want"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["Name"].as_str().unwrap().to_string(),
                p["Version"].as_str().unwrap().to_string(),
                p["Dev"].as_bool().unwrap_or(false),
            )
        })
        .collect();
    let got: BTreeSet<_> = pkgs
        .iter()
        .map(|p| (p.name.clone(), p.version.clone(), p.dev))
        .collect();
    assert_eq!(got, want);
    assert!(gradle::parse_gradle_lock(b"a:b=x\n").is_err());
}

#[test]
fn sbt_lock_matches_trivy() {
    let _fixtures = bulwark_fixtures::fixtures_or_skip!();
    let data = std::fs::read(fixture("sbt/v1_happy.sbt.lock")).unwrap();
    let pkgs = sbt::parse_sbt_lock(&data).unwrap();
    let text = std::fs::read_to_string(fixture("sbt/v1_happy.sbt.lock.expected.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let want: BTreeSet<(String, String)> = v["cases"][0]["want"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["Name"].as_str().unwrap().to_string(),
                p["Version"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    // Trivy drops test-only dependencies; we keep them flagged dev.
    let non_dev: BTreeSet<_> = pkgs
        .iter()
        .filter(|p| !p.dev)
        .map(|p| (p.name.clone(), p.version.clone()))
        .collect();
    assert_eq!(non_dev, want);
    let dev: Vec<_> = pkgs
        .iter()
        .filter(|p| p.dev)
        .map(|p| p.name.as_str())
        .collect();
    assert_eq!(dev, ["org.scalatest:scalatest-core_2.13"]);
    assert!(sbt::parse_sbt_lock(b"{\"dependencies\": [").is_err());
}

fn pom_rows(rel: &str) -> BTreeSet<(String, String)> {
    let data = std::fs::read(fixture(rel)).unwrap();
    pom::parse_pom(&data)
        .unwrap()
        .into_iter()
        .map(|p| (p.name, p.version))
        .collect()
}

fn pom_expected(rel: &str, case: usize) -> BTreeSet<(String, String)> {
    let text = std::fs::read_to_string(fixture(rel)).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["cases"][case]["want"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["Name"].as_str().unwrap().to_string(),
                p["Version"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn pom_matches_trivy_where_offline_suffices() {
    let _fixtures = bulwark_fixtures::fixtures_or_skip!();
    // happy: property substitution, runtime kept, provided dropped.
    assert_eq!(
        pom_rows("pom/happy/pom.xml"),
        pom_expected("pom/happy.expected.json", 0)
    );
    // offline: the root's version needs ${revision}, so only the dependency remains.
    assert_eq!(
        pom_rows("pom/offline/pom.xml"),
        pom_expected("pom/offline.expected.json", 0)
    );
    // parent-properties: example-api's version comes from the parent POM, which a
    // one-file cataloger cannot read; we report the root (groupId/version inherited from
    // the <parent> element) and leave the dependency out.
    let got = pom_rows("pom/parent-properties/child/pom.xml");
    let want = pom_expected("pom/parent-properties.expected.json", 0);
    assert!(got.is_subset(&want), "{got:?}");
    assert!(got.contains(&("com.example:child".to_string(), "1.0.0".to_string())));

    let data = std::fs::read(fixture("pom/happy/pom.xml")).unwrap();
    let root = pom::parse_pom(&data).unwrap().remove(0);
    assert_eq!(root.licenses, ["BSD-3-Clause"]);
    assert!(pom::parse_pom(b"<project><dependencies></project>").is_err());
    let deep = "<a>".repeat(200);
    assert!(pom::parse_pom(deep.as_bytes()).is_err());
}

#[test]
fn build_manifests_only_in_source_mode() {
    let cats = super::catalogers();
    let wanting = |path: &str, scan: ScanMode| -> Vec<&'static str> {
        cats.iter()
            .filter(|c| c.wants(path, 100, 0o644, scan))
            .map(|c| c.id())
            .collect()
    };
    assert_eq!(wanting("app/pom.xml", ScanMode::Source), ["pom"]);
    assert!(wanting("app/pom.xml", ScanMode::Image).is_empty());
    assert_eq!(
        wanting("app/gradle.lockfile", ScanMode::Source),
        ["gradle-lock"]
    );
    assert_eq!(wanting("build.sbt.lock", ScanMode::Source), ["sbt-lock"]);
    assert_eq!(
        wanting("opt/app/lib/x.WAR", ScanMode::Image),
        ["java-archive"]
    );
    assert!(wanting("opt/app/lib/x.zip", ScanMode::Image).is_empty());
}
