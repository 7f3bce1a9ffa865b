//! Explicit credentials (what the CLI builds from `BULWARK_USERNAME`/`BULWARK_PASSWORD`)
//! override the Docker config; the library itself reads no environment variables.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test may panic: that is its failure

mod registry_common;

use bulwark_image::registry::{open, Credentials, Secret};
use registry_common::*;

#[test]
fn registry_basic_auth_via_explicit_credentials() {
    let Some(reg) = Registry::start(Some(("bob", "env-pass"))) else {
        return;
    };
    let img = build_image("amd64", true, "env");
    reg.push_image("private/env", "2", &img);
    let c = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let reference = format!("{}/private/env:2", reg.host());
    let basic = |p: &str| Credentials::Basic {
        username: "bob".into(),
        password: Secret::new(p),
    };
    // A docker config with a wrong password is there too: explicit credentials win.
    let cfg = c.path().join("config.json");
    std::fs::write(
        &cfg,
        format!(
            r#"{{"auths":{{"{}":{{"username":"bob","password":"stale"}}}}}}"#,
            reg.host()
        ),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let mut opts = options(c.path());
    opts.config.credentials.docker_config = Some(cfg);
    opts.config.credentials.explicit = Some(basic("env-pass"));
    let image = open(&reference, &opts).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(image.meta.id, img.config_digest());
    let c2 = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut opts = options(c2.path());
    opts.config.credentials.explicit = Some(basic("nope"));
    let err = open(&reference, &opts)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("401") && err.contains("bob"), "{err}");
    assert!(!err.contains("nope"), "password leaked: {err}");
}
