//! OS detection and OS package catalogers against the shared real-world fixtures and
//! the anchors' (Trivy, Syft, go-rpmdb) own expected results.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test may panic: that is its failure

use bulwark_catalog::os::{self, release};
use bulwark_catalog::{CatalogInput, CatalogOutput, Cataloger, ScanMode};
use bulwark_core::Package;
use serde_json::Value;
use std::collections::BTreeSet;
use std::fs::File;
use std::path::{Path, PathBuf};

fn fixtures() -> PathBuf {
    bulwark_fixtures::fixtures_location().to_path_buf()
}

fn json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Runs whichever OS cataloger wants `rel` (path relative to the scanned root) on the
/// fixture file `file`.
fn run(rel: &str, file: &Path) -> CatalogOutput {
    let cats = os::catalogers();
    let meta = std::fs::metadata(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let cat = cats
        .iter()
        .find(|c| c.wants(rel, meta.len(), 0o644, ScanMode::Image))
        .unwrap_or_else(|| panic!("no OS cataloger wants {rel}"));
    let mut f = File::open(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let spool = tempfile::tempdir().expect("spool dir");
    cat.catalog(CatalogInput {
        path: rel,
        size: meta.len(),
        mode: 0o644,
        reader: &mut f,
        spool_dir: Some(spool.path()),
    })
    .unwrap_or_else(|e| panic!("{rel} ({}): {e}", file.display()))
}

fn s(v: &Value, k: &str) -> Option<String> {
    match v.get(k) {
        Some(Value::String(x)) => Some(x.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    }
}

/// Trivy's OS family constants (and the plain strings its release-file tests use)
/// mapped to bulwark's normalised families. The one place this mapping lives.
const TRIVY_FAMILIES: &[(&str, &str)] = &[
    ("types.ActiveState", "activestate"),
    ("types.Alma", "almalinux"),
    ("alma", "almalinux"),
    ("types.Alpine", "alpine"),
    ("types.Azure", "azurelinux"),
    ("types.Bottlerocket", "bottlerocket"),
    ("types.CentOS", "centos"),
    ("centos", "centos"),
    ("types.CentOSStream", "centos-stream"),
    ("types.CoreOS", "coreos"),
    ("types.Debian", "debian"),
    ("types.Echo", "echo"),
    ("types.Fedora", "fedora"),
    ("fedora", "fedora"),
    ("types.CBLMariner", "mariner"),
    ("types.MinimOS", "minimos"),
    ("types.OpenSUSELeap", "opensuse-leap"),
    ("types.OpenSUSETumbleweed", "opensuse-tumbleweed"),
    ("types.Oracle", "oracle"),
    ("oracle", "oracle"),
    ("types.Photon", "photon"),
    ("types.RedHat", "rhel"),
    ("redhat", "rhel"),
    ("types.Rocky", "rocky"),
    ("rocky", "rocky"),
    ("types.SLEMicro", "sle-micro"),
    ("types.SLES", "sles"),
    ("ubuntu", "ubuntu"),
];

#[test]
fn os_release_fixtures_match_trivy() {
    let _fixtures = bulwark_fixtures::fixtures_or_skip!();
    let dir = fixtures().join("os-release");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{e}")) {
        let path = entry.unwrap_or_else(|e| panic!("{e}")).path();
        let fname = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        let Some(stem) = fname.strip_suffix(".expected.json") else {
            continue;
        };
        // `X.expected.json` is X's etc/os-release; `X.Y.expected.json` is X's etc/Y.
        let (root, file) = match stem.split_once('.') {
            Some((r, f)) if !f.starts_with(|c: char| c.is_ascii_digit()) => (r, f),
            _ => (stem, "os-release"),
        };
        let rel = format!("etc/{file}");
        let input = dir.join(root).join(&rel);
        // Every expectation must have its input: a missing one is a broken fixture set,
        // never a silent skip.
        assert!(
            input.is_file(),
            "{stem}: expected results without their input {}",
            input.display()
        );
        let doc = json(&path);
        let cases = doc["cases"].as_array().cloned().unwrap_or_default();
        for case in cases {
            let got = run(&rel, &input).os;
            match &case["want"] {
                Value::Null => assert_eq!(got, None, "{stem}: expected no OS"),
                want => {
                    let fam = s(&want["OS"], "Family").unwrap_or_default();
                    let ours = TRIVY_FAMILIES
                        .iter()
                        .find(|(t, _)| *t == fam)
                        .map(|(_, o)| *o)
                        .unwrap_or_else(|| panic!("{stem}: unmapped Trivy family {fam}"));
                    let got = got.unwrap_or_else(|| panic!("{stem}: no OS detected"));
                    assert_eq!(got.family, ours, "{stem}");
                    assert_eq!(Some(got.version), s(&want["OS"], "Name"), "{stem}");
                }
            }
            checked += 1;
        }
    }
    assert!(checked >= 30, "only {checked} os-release cases checked");
}

#[test]
fn os_release_priorities() {
    let p = os::os_release_priority;
    assert!(p("etc/os-release") < p("usr/lib/os-release"));
    assert!(p("usr/lib/os-release") < p("etc/centos-release"));
    assert!(p("etc/centos-release") < p("etc/lsb-release"));
    assert!(p("etc/lsb-release") < p("etc/debian_version"));
    assert_eq!(p("etc/hostname"), None);
    // Every file the detector wants has a priority.
    let d = release::OsReleaseCataloger;
    assert!(d.wants("etc/system-release", 30, 0, ScanMode::Image));
    assert!(p("etc/system-release").is_some());
}

/// A Trivy package as a comparable tuple: name, full version, arch, source name, full
/// source version, epoch, maintainer.
type Row = (
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<u32>,
    Option<String>,
);

fn evr(epoch: Option<u32>, version: &str, release: Option<String>) -> String {
    let mut v = match epoch {
        Some(e) if e != 0 => format!("{e}:{version}"),
        _ => version.to_string(),
    };
    if let Some(r) = release {
        v.push('-');
        v.push_str(&r);
    }
    v
}

fn trivy_row(p: &Value) -> Row {
    let epoch = p["Epoch"].as_u64().map(|e| e as u32);
    let src_epoch = p["SrcEpoch"].as_u64().map(|e| e as u32);
    let version = evr(epoch, &s(p, "Version").unwrap_or_default(), s(p, "Release"));
    let src_version = s(p, "SrcVersion").map(|v| evr(src_epoch, &v, s(p, "SrcRelease")));
    (
        s(p, "Name").unwrap_or_default(),
        version,
        s(p, "Arch"),
        s(p, "SrcName"),
        src_version,
        epoch,
        s(p, "Maintainer"),
    )
}

fn our_row(p: &Package) -> Row {
    (
        p.name.clone(),
        p.version.clone(),
        p.arch.clone(),
        p.source.as_ref().map(|s| s.name.clone()),
        p.source.as_ref().map(|s| s.version.clone()),
        p.epoch,
        p.supplier.clone(),
    )
}

#[test]
fn dpkg_trivy_fixtures() {
    let _fixtures = bulwark_fixtures::fixtures_or_skip!();
    // Not compared: Trivy's DependsOn, InstalledFiles (from info/*.md5sums), Digest (from
    // the `available` file) and repository class, which bulwark's dpkg cataloger does
    // not derive from the status file.
    for name in [
        "trivy-corrupsed",
        "trivy-digest",
        "trivy-md5sums",
        "trivy-only-apt",
        "trivy-third-party",
        "trivy-valid",
    ] {
        let dir = fixtures().join("dpkg");
        let doc = json(&dir.join(format!("{name}.expected.json")));
        let infos = doc["cases"][0]["want"]["PackageInfos"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert!(!infos.is_empty(), "{name}: no expectation");
        for info in infos {
            let rel = s(&info, "FilePath").unwrap_or_default();
            let want: BTreeSet<Row> = info["Packages"]
                .as_array()
                .map(|a| a.iter().map(trivy_row).collect())
                .unwrap_or_default();
            let got: BTreeSet<Row> = run(&rel, &dir.join(name).join(&rel))
                .packages
                .iter()
                .map(our_row)
                .collect();
            assert_eq!(got, want, "{name}");
        }
    }
}

#[test]
fn dpkg_third_party_epoch_kept_in_version() {
    let _fixtures = bulwark_fixtures::fixtures_or_skip!();
    let rel = "var/lib/dpkg/status";
    let out = run(rel, &fixtures().join("dpkg/trivy-third-party").join(rel));
    let docker = out.packages.iter().find(|p| p.name == "docker-ce");
    let docker = docker.unwrap_or_else(|| panic!("docker-ce missing"));
    assert_eq!(docker.version, "5:20.10.7~3-0~debian-buster");
    assert_eq!(docker.epoch, Some(5));
}

/// name, version, arch, source name, source version.
type CdxRow = (
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
);

#[test]
fn dpkg_bookworm_minbase_matches_trivy_cyclonedx() {
    let _fixtures = bulwark_fixtures::fixtures_or_skip!();
    let base = fixtures().join("dpkg");
    let cdx = json(&base.join("debian-bookworm-minbase.trivy-0.76.0.cdx.json"));
    let prop = |c: &Value, n: &str| -> Option<String> {
        c["properties"]
            .as_array()?
            .iter()
            .find(|p| p["name"] == n)
            .and_then(|p| s(p, "value"))
    };
    let want: BTreeSet<CdxRow> = cdx["components"]
        .as_array()
        .map(|a| a.as_slice())
        .unwrap_or_default()
        .iter()
        .filter(|c| {
            c["purl"]
                .as_str()
                .is_some_and(|p| p.starts_with("pkg:deb/"))
        })
        .map(|c| {
            let purl = c["purl"].as_str().unwrap_or_default();
            let arch = purl
                .split(['?', '&'])
                .find_map(|q| q.strip_prefix("arch="))
                .map(str::to_string);
            let src_epoch = prop(c, "aquasecurity:trivy:SrcEpoch").and_then(|e| e.parse().ok());
            let src_version = prop(c, "aquasecurity:trivy:SrcVersion")
                .map(|v| evr(src_epoch, &v, prop(c, "aquasecurity:trivy:SrcRelease")));
            (
                s(c, "name").unwrap_or_default(),
                s(c, "version").unwrap_or_default(),
                arch,
                prop(c, "aquasecurity:trivy:SrcName"),
                src_version,
            )
        })
        .collect();
    assert_eq!(want.len(), 88);
    let rel = "var/lib/dpkg/status";
    let got: BTreeSet<_> = run(rel, &base.join("debian-bookworm-minbase").join(rel))
        .packages
        .iter()
        .map(|p| {
            (
                p.name.clone(),
                p.version.clone(),
                p.arch.clone(),
                p.source.as_ref().map(|s| s.name.clone()),
                p.source.as_ref().map(|s| s.version.clone()),
            )
        })
        .collect();
    assert_eq!(got, want);
    // And the OS next to it.
    let os = run(
        "etc/os-release",
        &base.join("debian-bookworm-minbase/etc/os-release"),
    )
    .os;
    assert_eq!(os.map(|o| o.family), Some("debian".to_string()));
}

#[test]
fn dpkg_status_d_syft_fixtures() {
    let _fixtures = bulwark_fixtures::fixtures_or_skip!();
    // Syft keeps a stanza without Version (`no-version`); bulwark, like Trivy, drops it
    // because a package without a version cannot be matched or identified.
    let dir = fixtures().join("dpkg/status.d");
    for name in ["single", "multiple", "deinstall", "installed-size-4KB"] {
        let doc = json(&dir.join(format!("{name}.expected.json")));
        let case = &doc["cases"][0];
        let exp = case
            .get("expected")
            .or_else(|| case.get("want"))
            .cloned()
            .unwrap_or(Value::Null);
        let list = match exp {
            Value::Array(a) => a,
            v => vec![v],
        };
        let want: BTreeSet<(String, String, Option<String>)> = list
            .iter()
            .map(|e| e.get("Metadata").unwrap_or(e))
            .filter(|m| s(m, "Version").is_some())
            .map(|m| {
                let src =
                    s(m, "Source").map(|x| x.split(" (").next().unwrap_or_default().to_string());
                (
                    s(m, "Package").unwrap_or_default(),
                    s(m, "Version").unwrap_or_default(),
                    src.or_else(|| s(m, "Package")),
                )
            })
            .collect();
        let rel = format!("var/lib/dpkg/status.d/{name}");
        let got: BTreeSet<_> = run(&rel, &dir.join(name))
            .packages
            .iter()
            .map(|p| {
                (
                    p.name.clone(),
                    p.version.clone(),
                    p.source.as_ref().map(|s| s.name.clone()),
                )
            })
            .collect();
        assert_eq!(got, want, "{name}");
    }
    // Corrupt and empty inputs: no panic, nothing invented.
    for name in ["corrupt", "empty"] {
        let rel = format!("var/lib/dpkg/status.d/{name}");
        let out = run(&rel, &dir.join(name));
        assert!(out.packages.iter().all(|p| !p.version.is_empty()), "{name}");
    }
}

#[test]
fn dpkg_distroless_status_d_without_os_release() {
    let _fixtures = bulwark_fixtures::fixtures_or_skip!();
    let rel = "var/lib/dpkg/status.d/libsqlite3-0";
    let c = bulwark_catalog::os::dpkg::DpkgCataloger;
    assert!(!c.wants(
        "var/lib/dpkg/status.d/libsqlite3-0.md5sums",
        1,
        0,
        ScanMode::Image
    ));
    let out = run(rel, &fixtures().join("dpkg/distroless-status.d").join(rel));
    assert_eq!(out.packages.len(), 1);
    let p = &out.packages[0];
    assert_eq!(p.name, "libsqlite3-0");
    assert!(!p.version.is_empty());
    assert_eq!(p.source.as_ref().map(|s| s.name.as_str()), Some("sqlite3"));
}

/// name, version, arch, origin, digest, maintainer.
type ApkRow = (
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

#[test]
fn apk_trivy_fixture() {
    let _fixtures = bulwark_fixtures::fixtures_or_skip!();
    // Licences are not compared: Trivy normalises names (`GPL2` → `GPL-2.0-only`),
    // bulwark reports them as recorded. Dependencies and file lists are not derived.
    let dir = fixtures().join("apk");
    let doc = json(&dir.join("trivy-apk.expected.json"));
    let want: BTreeSet<ApkRow> = doc["cases"][0]["wantPkgs"]
        .as_array()
        .map(|a| a.as_slice())
        .unwrap_or_default()
        .iter()
        .map(|p| {
            (
                s(p, "Name").unwrap_or_default(),
                s(p, "Version").unwrap_or_default(),
                s(p, "Arch"),
                s(p, "SrcName"),
                s(p, "Digest"),
                s(p, "Maintainer"),
            )
        })
        .collect();
    assert!(!want.is_empty());
    let rel = "lib/apk/db/installed";
    let got: BTreeSet<_> = run(rel, &dir.join("trivy-apk").join(rel))
        .packages
        .iter()
        .map(|p| {
            (
                p.name.clone(),
                p.version.clone(),
                p.arch.clone(),
                p.source.as_ref().map(|s| s.name.clone()),
                p.digest.clone(),
                p.supplier.clone(),
            )
        })
        .collect();
    assert_eq!(got, want);
}

/// Licence names out of Syft's `pkg.NewLicenseSet(pkg.NewLicenseWithContext(ctx, "X"), ...)`.
fn syft_licenses(expr: &str) -> BTreeSet<String> {
    expr.split("ctx, \"")
        .skip(1)
        .filter_map(|part| part.split('"').next())
        .map(str::to_string)
        .collect()
}

#[test]
fn apk_syft_fixtures() {
    let _fixtures = bulwark_fixtures::fixtures_or_skip!();
    let dir = fixtures().join("apk");
    for name in ["syft-single", "syft-base", "syft-empty-deps-and-provides"] {
        let doc = json(&dir.join(format!("{name}.expected.json")));
        let exp = &doc["cases"][0]["expected"];
        let m = &exp["Metadata"];
        let rel = "lib/apk/db/installed";
        let out = run(rel, &dir.join(name).join(rel));
        assert_eq!(out.packages.len(), 1, "{name}");
        let p = &out.packages[0];
        assert_eq!(Some(p.name.clone()), s(m, "Package"), "{name}");
        assert_eq!(Some(p.version.clone()), s(m, "Version"), "{name}");
        assert_eq!(p.arch, s(m, "Architecture"), "{name}");
        assert_eq!(
            p.source.as_ref().map(|s| s.name.clone()),
            s(m, "OriginPackage"),
            "{name}"
        );
        assert_eq!(p.supplier, s(m, "Maintainer"), "{name}");
        let lic = exp["Licenses"]["$expr"].as_str().unwrap_or_default();
        assert_eq!(
            p.licenses.iter().cloned().collect::<BTreeSet<_>>(),
            syft_licenses(lic),
            "{name}"
        );
        assert!(
            p.digest
                .as_deref()
                .is_some_and(|d| d.starts_with("sha1:") && d.len() == 45),
            "{name}"
        );
    }
}

#[test]
fn apk_corrupt_and_other_samples_do_not_panic() {
    let _fixtures = bulwark_fixtures::fixtures_or_skip!();
    let dir = fixtures().join("apk");
    let rel = "lib/apk/db/installed";
    let out = run(rel, &dir.join("syft-corrupt").join(rel));
    // The leading garbage record is dropped; the well-formed records after it survive.
    assert!(out
        .packages
        .iter()
        .any(|p| p.name == "alpine-baselayout-data"));
    assert!(out.packages.iter().all(|p| !p.name.contains(' ')));
    for name in ["syft-multiple-2", "syft-extra-file-attributes"] {
        let out = run(rel, &dir.join(name).join(rel));
        assert!(!out.packages.is_empty(), "{name}");
    }
    assert!(os::apk::ApkCataloger.wants("usr/lib/apk/db/installed", 1, 0, ScanMode::Image));
}

/// go-rpmdb's expectation for one package, as (name, version, release, epoch, arch,
/// license, source rpm, vendor).
type RpmRow = (
    String,
    String,
    Option<u32>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

fn gorpmdb_row(w: &Value) -> RpmRow {
    let epoch = w["Epoch"].as_u64().map(|e| e as u32);
    let ver = format!(
        "{}-{}",
        s(w, "Version").unwrap_or_default(),
        s(w, "Release").unwrap_or_default()
    );
    let version = match epoch {
        Some(e) => format!("{e}:{ver}"),
        None => ver,
    };
    let src = s(w, "SourceRpm").and_then(|r| {
        let base = r.strip_suffix(".src.rpm")?;
        let (rest, rel) = base.rsplit_once('-')?;
        let (n, v) = rest.rsplit_once('-')?;
        Some(format!("{n} {v}-{rel}"))
    });
    (
        s(w, "Name").unwrap_or_default(),
        version,
        epoch,
        s(w, "Arch"),
        s(w, "License").filter(|l| !l.is_empty()),
        src,
        s(w, "Vendor").filter(|v| !v.is_empty()),
    )
}

fn our_rpm_row(p: &Package) -> RpmRow {
    (
        p.name.clone(),
        p.version.clone(),
        p.epoch,
        p.arch.clone(),
        p.licenses.first().cloned(),
        p.source
            .as_ref()
            .map(|s| format!("{} {}", s.name, s.version)),
        p.supplier.clone(),
    )
}

fn rpm_packages(rel: &str, file: &Path) -> Vec<Package> {
    run(rel, file).packages
}

#[test]
fn rpm_ndb_sle15_matches_go_rpmdb() {
    let _fixtures = bulwark_fixtures::fixtures_or_skip!();
    let dir = fixtures().join("rpm/sle15-bci-ndb");
    let doc = json(&dir.join("Packages.db.expected.json"));
    let want: BTreeSet<RpmRow> = doc["cases"][0]["want"]
        .as_array()
        .map(|a| a.iter().map(gorpmdb_row).collect())
        .unwrap_or_default();
    assert!(want.len() > 10);
    let got: BTreeSet<RpmRow> =
        rpm_packages("usr/lib/sysimage/rpm/Packages.db", &dir.join("Packages.db"))
            .iter()
            .map(our_rpm_row)
            .collect();
    // go-rpmdb lists gpg-pubkey entries too; bulwark skips them.
    let want: BTreeSet<RpmRow> = want.into_iter().filter(|r| r.0 != "gpg-pubkey").collect();
    assert_eq!(got, want);
}

fn assert_single(rel: &str, file: &Path, expected: &Path) {
    let doc = json(expected);
    let w = &doc["cases"][0]["want"];
    let name = s(w, "Name").unwrap_or_default();
    let pkgs = rpm_packages(rel, file);
    let p = pkgs
        .iter()
        .find(|p| p.name == name)
        .unwrap_or_else(|| panic!("{name} missing"));
    assert_eq!(our_rpm_row(p), gorpmdb_row(w));
}

#[test]
fn rpm_sqlite_mariner_curl() {
    let _fixtures = bulwark_fixtures::fixtures_or_skip!();
    let dir = fixtures().join("rpm/cbl-mariner-2.0-sqlite");
    assert_single(
        "var/lib/rpm/rpmdb.sqlite",
        &dir.join("rpmdb.sqlite"),
        &dir.join("rpmdb.sqlite.expected.json"),
    );
    let n = rpm_packages("var/lib/rpm/rpmdb.sqlite", &dir.join("rpmdb.sqlite")).len();
    assert!(n > 50, "only {n} packages");
}

#[test]
fn rpm_bdb_libuuid() {
    let _fixtures = bulwark_fixtures::fixtures_or_skip!();
    let dir = fixtures().join("rpm/libuuid-bdb");
    assert_single(
        "var/lib/rpm/Packages",
        &dir.join("Packages"),
        &dir.join("Packages.expected.json"),
    );
}

#[test]
fn rpm_bdb_syft_dive() {
    let _fixtures = bulwark_fixtures::fixtures_or_skip!();
    let dir = fixtures().join("rpm/syft-bdb");
    let doc = json(&dir.join("Packages.expected.json"));
    let m = &doc["cases"][0]["expected"][0]["Metadata"];
    let pkgs = rpm_packages("var/lib/rpm/Packages", &dir.join("Packages"));
    assert_eq!(pkgs.len(), 1);
    // Syft keeps the licence outside its metadata struct; take it from its expression.
    let mut want = gorpmdb_row(m);
    want.4 = syft_licenses(
        doc["cases"][0]["expected"][0]["Licenses"]["$expr"]
            .as_str()
            .unwrap_or_default(),
    )
    .into_iter()
    .next();
    assert_eq!(our_rpm_row(&pkgs[0]), want);
    assert_eq!(
        Some(pkgs[0].version.clone()),
        s(&doc["cases"][0]["expected"][0], "Version")
    );
}

#[test]
fn rpm_manifest_mariner() {
    let _fixtures = bulwark_fixtures::fixtures_or_skip!();
    let rel = "var/lib/rpmmanifest/container-manifest-2";
    let pkgs = run(rel, &fixtures().join("rpm/rpmmanifest").join(rel)).packages;
    let vim = pkgs
        .iter()
        .find(|p| p.name == "vim")
        .unwrap_or_else(|| panic!("vim missing"));
    assert_eq!(vim.version, "2:9.0-1.cm2");
    assert_eq!(vim.epoch, Some(2));
    assert_eq!(
        vim.source
            .as_ref()
            .map(|s| (s.name.as_str(), s.version.as_str())),
        Some(("vim", "9.0-1.cm2"))
    );
    let glibc = pkgs
        .iter()
        .find(|p| p.name == "glibc")
        .unwrap_or_else(|| panic!("glibc missing"));
    assert_eq!(glibc.version, "2.35-2.cm2");
    assert_eq!(glibc.epoch, None);
}

#[test]
fn rpm_truncated_databases_are_errors_not_panics() {
    let _fixtures = bulwark_fixtures::fixtures_or_skip!();
    for (rel, file) in [
        ("var/lib/rpm/Packages", "rpm/syft-bdb/Packages"),
        ("var/lib/rpm/Packages", "rpm/libuuid-bdb/Packages"),
        (
            "usr/lib/sysimage/rpm/Packages.db",
            "rpm/sle15-bci-ndb/Packages.db",
        ),
    ] {
        let data = std::fs::read(fixtures().join(file)).unwrap_or_else(|e| panic!("{e}"));
        let format = os::rpm::RpmDbFormat::for_path(rel).unwrap_or_else(|| panic!("{rel}"));
        let spool = tempfile::tempdir().expect("spool dir");
        let spool = spool.path();
        for cut in [0, 7, 100, 4096, 5000, data.len() / 2, data.len() - 1] {
            let _ = os::rpm::parse_rpmdb(data.get(..cut).unwrap_or_default(), format, spool);
        }
        // Flipping bytes in the middle must not panic either.
        let mut bad = data.clone();
        for i in (0..bad.len()).step_by(97) {
            bad[i] ^= 0x5a;
        }
        let _ = os::rpm::parse_rpmdb(&bad, format, spool);
    }
}
