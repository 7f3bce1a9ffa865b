//! A report with a package of every ecosystem and the awkward cases (epochs, scoped
//! names, duplicate purls, odd licences, non-hex digests) shared by the output tests.
#![allow(dead_code)]

use bulwark_core::{
    Cvss, Ecosystem, FixStatus, ImageMeta, LayerMeta, Location, Misconfiguration, OsInfo, Package,
    Report, ReportTarget, SecretFinding, Severity, SourcePackage, TargetKind, VulnFinding,
};

pub const LAYER1: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
pub const DIFF1: &str = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
pub const LAYER2: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";
pub const DIFF2: &str = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

fn in_layer(path: &str, digest: &str, diff: &str) -> Location {
    Location {
        path: path.into(),
        layer_digest: Some(digest.into()),
        layer_diff_id: Some(diff.into()),
    }
}

pub fn sample_os() -> OsInfo {
    OsInfo {
        family: "debian".into(),
        version: "12.15".into(),
        pretty_name: Some("Debian GNU/Linux 12 (bookworm)".into()),
        codename: Some("bookworm".into()),
        inferred: false,
    }
}

pub fn sample_packages() -> Vec<Package> {
    let dpkg = in_layer("/var/lib/dpkg/status", LAYER1, DIFF1);
    let mut v = Vec::new();

    let mut p = Package::new(Ecosystem::Deb, "libgcc-s1", "1:12.2.0-14", "dpkg").at(dpkg.clone());
    p.arch = Some("amd64".into());
    p.epoch = Some(1);
    p.source = Some(SourcePackage {
        name: "gcc-12".into(),
        version: "12.2.0-14".into(),
    });
    p.licenses = vec!["GPL-2.0+".into()];
    p.supplier = Some("Debian GCC Maintainers <debian-gcc@lists.debian.org>".into());
    p.digest =
        Some("sha256:3016e62cb4b7cd8038822870601f5ed131befe942774d0f745622cc77d8a88f7".into());
    v.push(p);

    let mut p = Package::new(Ecosystem::Deb, "bsdutils", "1:2.38.1-5+deb12u3", "dpkg").at(dpkg);
    p.arch = Some("amd64".into());
    p.source = Some(SourcePackage {
        name: "util-linux".into(),
        version: "2.38.1-5+deb12u3".into(),
    });
    p.licenses = vec![
        "GPL-2.0-or-later".into(),
        "Custom license text".into(),
        "MIT OR Apache-2.0".into(),
    ];
    v.push(p);

    let mut p = Package::new(Ecosystem::Rpm, "bash", "2:4.4.19-12.el8", "rpmdb")
        .at(Location::path("/var/lib/rpm/rpmdb.sqlite"));
    p.arch = Some("x86_64".into());
    p.source = Some(SourcePackage {
        name: "bash".into(),
        version: "2:4.4.19-12.el8".into(),
    });
    p.licenses = vec!["GPLv3+".into()];
    v.push(p);

    let mut p = Package::new(Ecosystem::Apk, "musl", "1.2.4-r2", "apkdb")
        .at(Location::path("/lib/apk/db/installed"));
    p.arch = Some("x86_64".into());
    p.licenses = vec!["MIT".into()];
    p.digest = Some("sha1:0123456789abcdef0123456789abcdef01234567".into());
    v.push(p);

    let lock = in_layer("/app/package-lock.json", LAYER2, DIFF2);
    let mut p = Package::new(Ecosystem::Npm, "@babel/core", "7.0.0", "npm-lock").at(lock.clone());
    p.licenses = vec!["MIT OR Apache-2.0".into()];
    p.dev = true;
    p.digest = Some("sha512-Zm9vYmFyYmF6cXV4".into());
    v.push(p);

    // The same library at two paths: same purl, must still get unique references.
    v.push(Package::new(Ecosystem::Npm, "left-pad", "1.3.0", "npm-lock").at(lock));
    v.push(
        Package::new(Ecosystem::Npm, "left-pad", "1.3.0", "npm-lock")
            .at(Location::path("/srv/other/package-lock.json")),
    );

    let mut p = Package::new(
        Ecosystem::Maven,
        "org.apache.logging.log4j:log4j-core",
        "2.17.1",
        "java-archive",
    )
    .at(Location::path("/app/lib/log4j-core-2.17.1.jar"))
    .at(Location::path("/app/lib/fat.jar"));
    p.licenses = vec!["Apache-2.0".into()];
    p.digest = Some("sha1:abcdefabcdefabcdefabcdefabcdefabcdefabcd".into());
    v.push(p);

    let mut p = Package::new(
        Ecosystem::Golang,
        "github.com/pkg/errors",
        "v0.9.1",
        "go-binary",
    )
    .at(Location::path("/usr/local/bin/app"));
    p.licenses = vec!["BSD-2-Clause".into()];
    v.push(p);

    let mut p = Package::new(
        Ecosystem::Pypi,
        "Flask_SQLAlchemy",
        "3.0",
        "python-dist-info",
    )
    .at(Location::path(
        "/usr/lib/python3/site-packages/Flask_SQLAlchemy-3.0.dist-info/METADATA",
    ));
    p.licenses = vec!["BSD-3-Clause".into()];
    p.supplier = Some("Pallets <contact@palletsprojects.com>".into());
    v.push(p);

    let mut p = Package::new(Ecosystem::Cargo, "serde", "1.0.200", "cargo-lock")
        .at(Location::path("/src/Cargo.lock"));
    p.licenses = vec!["MIT/Apache-2.0".into()];
    v.push(p);

    v.push(
        Package::new(
            Ecosystem::Composer,
            "laravel/framework",
            "v10.0.0",
            "composer-lock",
        )
        .at(Location::path("/var/www/composer.lock")),
    );
    v.push(
        Package::new(Ecosystem::Gem, "rails", "7.1.0", "gemfile-lock")
            .at(Location::path("/app/Gemfile.lock")),
    );
    v.push(
        Package::new(Ecosystem::Nuget, "Newtonsoft.Json", "13.0.1", "dotnet-deps")
            .at(Location::path("/app/app.deps.json")),
    );
    v.push(
        Package::new(Ecosystem::Generic, "openssl", "3.0.2", "binary")
            .at(Location::path("/usr/bin/openssl")),
    );
    v
}

/// An image report with every sample package, purls finalised against the OS.
pub fn sample_report() -> Report {
    let os = sample_os();
    let mut packages = sample_packages();
    for p in &mut packages {
        p.finalize(Some(&os));
    }
    let target = ReportTarget {
        name: "example.org/app:1.0".into(),
        kind: TargetKind::Image,
        image: Some(ImageMeta {
            id: "sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc".into(),
            repo_tags: vec!["example.org/app:1.0".into()],
            layers: vec![
                LayerMeta {
                    digest: LAYER1.into(),
                    diff_id: DIFF1.into(),
                    size: 100,
                    created_by: None,
                },
                LayerMeta {
                    digest: LAYER2.into(),
                    diff_id: DIFF2.into(),
                    size: 200,
                    created_by: Some("COPY . /app".into()),
                },
            ],
            ..Default::default()
        }),
    };
    let mut r = Report::new(target, "2024-05-01T12:30:45+02:00".into());
    r.os = Some(os);
    r.packages = packages;
    r.sort();
    r
}

pub fn fixture(rel: &str) -> String {
    format!("{}/{rel}", bulwark_fixtures::fixtures_location().display())
}

/// A vulnerability finding on the sample report's package `name` (its purl and first
/// path), with everything else left for the test to set.
pub fn vuln_on(report: &Report, name: &str, id: &str, severity: Severity) -> VulnFinding {
    let pkg = report
        .packages
        .iter()
        .find(|p| p.name == name)
        .unwrap_or_else(|| panic!("no sample package {name}"));
    VulnFinding {
        id: id.into(),
        aliases: Vec::new(),
        package: pkg.name.clone(),
        purl: pkg.purl.clone(),
        installed_version: pkg.version.clone(),
        fixed_versions: Vec::new(),
        status: FixStatus::Affected,
        severity,
        severity_source: None,
        cvss: Vec::new(),
        title: String::new(),
        description: String::new(),
        references: Vec::new(),
        kev: false,
        epss: None,
        path: pkg.locations.first().map(|l| l.path.clone()),
        layer: None,
        suppressed: None,
    }
}

/// The sample report with findings of every kind: a CVE with CVSS, a fix and a GHSA
/// alias on an OS package; an unfixed library CVE; a title with markup; one
/// misconfiguration and one secret.
pub fn findings_report() -> Report {
    let mut r = sample_report();
    let mut v = vuln_on(&r, "libgcc-s1", "CVE-2023-4039", Severity::Medium);
    v.aliases = vec!["GHSA-x5gf-qvw8-r2rm".into(), "DSA-0000-1".into()];
    v.fixed_versions = vec!["1:12.2.0-14+deb12u1".into()];
    v.status = FixStatus::Fixed;
    v.severity_source = Some("cvss-v3.1".into());
    v.cvss = vec![Cvss {
        version: "3.1".into(),
        vector: "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:N".into(),
        score: 4.8,
        source: Some("nvd".into()),
    }];
    v.title = "gcc: -fstack-protector fails to guard dynamic stack allocations on ARM64".into();
    v.description = "A failure in the -fstack-protector feature in GCC-based toolchains.".into();
    v.references = vec!["https://nvd.nist.gov/vuln/detail/CVE-2023-4039".into()];
    r.vulnerabilities.push(v);

    let mut v = vuln_on(&r, "@babel/core", "CVE-2023-45133", Severity::Critical);
    v.aliases = vec!["GHSA-67hx-6x53-jw92".into()];
    v.fixed_versions = vec!["7.23.2".into()];
    v.status = FixStatus::Fixed;
    v.cvss = vec![Cvss {
        version: "3.1".into(),
        vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H".into(),
        score: 9.3,
        source: Some("ghsa".into()),
    }];
    v.severity_source = Some("cvss-v3.1".into());
    v.title = "Babel vulnerable to arbitrary code execution <script>alert(1)</script>".into();
    v.kev = true;
    v.epss = Some((0.01, 0.8));
    r.vulnerabilities.push(v);

    let mut v = vuln_on(&r, "musl", "CVE-2025-26519", Severity::High);
    v.severity_source = Some("alpine".into());
    v.title = "musl: iconv out-of-bounds write".into();
    r.vulnerabilities.push(v);

    r.misconfigurations.push(Misconfiguration {
        check_id: "BW-DF-0002".into(),
        aliases: vec!["DS002".into()],
        title: "Image runs as root".into(),
        severity: Severity::High,
        message: "Last USER is root".into(),
        remediation: "Add a USER instruction with a non-root user".into(),
        path: "Dockerfile".into(),
        start_line: Some(7),
        end_line: Some(7),
        resource: Some("stage final".into()),
        layer: None,
        references: vec![
            "https://docs.docker.com/develop/develop-images/instructions/#user".into(),
        ],
        suppressed: None,
    });
    r.secrets.push(SecretFinding {
        rule_id: "aws-access-key-id".into(),
        category: "AWS".into(),
        title: "AWS Access Key ID".into(),
        severity: Severity::Critical,
        path: "/app/config/settings.py".into(),
        line: Some(12),
        redacted: "AWS_KEY = \"*****\"".into(),
        layer: None,
        deleted: false,
        suppressed: None,
    });
    r
}
