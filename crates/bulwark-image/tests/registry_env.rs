//! Credentials from `BULWARK_USERNAME`/`BULWARK_PASSWORD`. A separate test binary because
//! it sets process-wide environment variables that would leak into other tests.

mod registry_common;

use bulwark_image::registry::open;
use registry_common::*;

#[test]
fn registry_basic_auth_via_env_vars() {
    let reg = Registry::start(Some(("bob", "env-pass")));
    let img = build_image("amd64", true, "env");
    reg.push_image("private/env", "2", &img);
    let c = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let reference = format!("{}/private/env:2", reg.host());
    std::env::set_var("BULWARK_USERNAME", "bob");
    std::env::set_var("BULWARK_PASSWORD", "env-pass");
    let image = open(&reference, &options(c.path())).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(image.meta.id, img.config_digest());
    std::env::set_var("BULWARK_PASSWORD", "nope");
    let c2 = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let err = open(&reference, &options(c2.path()))
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("401") && err.contains("bob"), "{err}");
    std::env::remove_var("BULWARK_USERNAME");
    std::env::remove_var("BULWARK_PASSWORD");
}
