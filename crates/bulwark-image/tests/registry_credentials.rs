//! Credentials passed explicitly in `RegistryOptions` (the CLI builds them from
//! `BULWARK_USERNAME`/`BULWARK_PASSWORD`; the library reads no environment variable).

mod registry_common;

use bulwark_image::registry::{open, Credentials, Secret};
use registry_common::*;

#[test]
fn registry_basic_auth_via_explicit_credentials() {
    let reg = Registry::start(Some(("bob", "env-pass")));
    let img = build_image("amd64", true, "env");
    reg.push_image("private/env", "2", &img);
    let c = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let reference = format!("{}/private/env:2", reg.host());
    let with = |password: &str, cache: &std::path::Path| {
        let mut o = options(cache);
        o.credentials = Some(Credentials::Basic {
            username: "bob".into(),
            password: Secret::new(password),
        });
        o
    };
    let image = open(&reference, &with("env-pass", c.path())).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(image.meta.id, img.config_digest());
    let c2 = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let err = open(&reference, &with("nope", c2.path()))
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("401") && err.contains("bob"), "{err}");
    // Without credentials (and no docker config), the private repository is refused.
    let c3 = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    assert!(open(&reference, &options(c3.path())).is_err());
}
