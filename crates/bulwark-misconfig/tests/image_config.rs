//! Image-config checks on the real test images (config JSON read from the docker-archive
//! tar) and on a synthetic config exercising every check.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test may panic: that is its failure

use std::io::Read;
use std::path::PathBuf;

use bulwark_misconfig::{scan_image_config, CheckSelection};
use serde_json::{json, Value};

fn images_dir() -> PathBuf {
    bulwark_fixtures::images_location()
}

/// The config JSON of a `docker save` archive (manifest.json → Config).
fn config_of(tar_path: &std::path::Path) -> Option<Value> {
    let read = |name: &str| -> Option<Vec<u8>> {
        let f = std::fs::File::open(tar_path).ok()?;
        let mut ar = tar::Archive::new(f);
        for e in ar.entries().ok()? {
            let mut e = e.ok()?;
            if e.path().ok()?.to_string_lossy() == name {
                let mut v = Vec::new();
                e.read_to_end(&mut v).ok()?;
                return Some(v);
            }
        }
        None
    };
    let manifest: Value = serde_json::from_slice(&read("manifest.json")?).ok()?;
    let cfg = manifest.get(0)?.get("Config")?.as_str()?.to_string();
    serde_json::from_slice(&read(&cfg)?).ok()
}

fn ids(v: &Value) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = scan_image_config(v, &CheckSelection::all())
        .into_iter()
        .map(|f| {
            assert_eq!(f.path, "image config");
            (f.check_id, f.resource.unwrap_or_default())
        })
        .collect();
    out.sort();
    out
}

#[test]
fn real_app_image() {
    let _images = bulwark_fixtures::images_or_skip!();
    let tar = images_dir().join("app.docker.tar");
    assert!(
        tar.exists(),
        "{} not built: run scripts/build-test-images.sh (scripts/test.sh does)",
        tar.display()
    );
    let Some(cfg) = config_of(&tar) else {
        panic!("no config JSON in {}", tar.display())
    };
    // The app image (buildah, from the build script) sets no User and no Healthcheck,
    // exposes nothing and its history holds only COPY/ADD file: and an rm.
    assert_eq!(
        ids(&cfg),
        [
            ("BW-IMG-0001".to_string(), "User".to_string()),
            ("BW-IMG-0006".to_string(), "Healthcheck".to_string()),
        ]
    );
}

#[test]
fn real_base_image_has_empty_config() {
    let _images = bulwark_fixtures::images_or_skip!();
    let tar = images_dir().join("base.docker.tar");
    assert!(
        tar.exists(),
        "{} not built: run scripts/build-test-images.sh (scripts/test.sh does)",
        tar.display()
    );
    let cfg = config_of(&tar).unwrap_or(Value::Null);
    let got: Vec<String> = ids(&cfg).into_iter().map(|(i, _)| i).collect();
    assert_eq!(got, ["BW-IMG-0001", "BW-IMG-0006"]);
}

#[test]
fn synthetic_config_every_check() {
    let cfg = json!({
        "config": {
            "User": "0:0",
            "Env": ["PATH=/bin", "API_TOKEN=abcd1234efgh", "NODE_GPG_KEYS=ABCDEF"],
            "ExposedPorts": {"22/tcp": {}, "80/tcp": {}},
            "Labels": {"db.password": "s3cretpw"}
        },
        "history": [
            {"created_by": "/bin/sh -c #(nop) ADD https://example.org/x.tgz /x"},
            {"created_by": "|1 NPM_TOKEN=npm_abcdefghijklmnop /bin/sh -c npm ci"},
            {"created_by": "RUN /bin/sh -c curl -fsSL https://get.example | sh # buildkit"},
            {"created_by": "/bin/sh -c apt-get update && apt-get dist-upgrade -y"},
            {"created_by": "/bin/sh -c #(nop)  ENV DB_PASSWORD=hunter22"},
            {"empty_layer": true}
        ]
    });
    assert_eq!(
        ids(&cfg),
        [
            ("BW-IMG-0001", "User"),
            ("BW-IMG-0002", "Env"),
            ("BW-IMG-0003", "Labels"),
            ("BW-IMG-0004", "history[1]"),
            ("BW-IMG-0004", "history[4]"),
            ("BW-IMG-0005", "ExposedPorts"),
            ("BW-IMG-0006", "Healthcheck"),
            ("BW-IMG-0007", "history[0]"),
            ("BW-IMG-0008", "history[2]"),
            ("BW-IMG-0009", "history[3]"),
        ]
        .map(|(a, b)| (a.to_string(), b.to_string()))
    );
    // No secret value leaks into messages.
    for f in scan_image_config(&cfg, &CheckSelection::all()) {
        for v in [
            "abcd1234efgh",
            "s3cretpw",
            "npm_abcdefghijklmnop",
            "hunter22",
        ] {
            assert!(!f.message.contains(v), "{}", f.message);
        }
    }
}

#[test]
fn clean_config_passes() {
    let cfg = json!({"config": {"User": "1000", "Healthcheck": {"Test": ["CMD", "true"]}, "Env": ["PATH=/bin"]}});
    assert!(ids(&cfg).is_empty());
}
