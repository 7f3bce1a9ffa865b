//! The harness itself: a TLS + htpasswd registry comes up, trusts only its own CA and
//! enforces the password.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test may panic: that is its failure

use base64::Engine as _;
use bulwark_testkit::{Registry, RegistryOptions};

#[test]
fn tls_registry_with_auth_answers_and_enforces_password() {
    let Some(reg) = Registry::start(RegistryOptions::tls_with_auth("ann", "pw1")) else {
        return;
    };
    assert!(reg.url().starts_with("https://127.0.0.1:"));
    let ca = reg.ca_file().unwrap_or_default();
    assert!(std::fs::read_to_string(&ca)
        .unwrap_or_default()
        .contains("BEGIN CERTIFICATE"));
    let agent = reg.agent();
    let v2 = format!("{}/v2/", reg.url());
    let anon = agent.get(&v2).call().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(anon.status().as_u16(), 401);
    let good = base64::engine::general_purpose::STANDARD.encode("ann:pw1");
    let ok = agent
        .get(&v2)
        .header("Authorization", format!("Basic {good}"))
        .call()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ok.status().as_u16(), 200);
    // A client without the test CA must refuse the certificate.
    let plain: ureq::Agent = ureq::Agent::config_builder().build().into();
    assert!(
        plain.get(&v2).call().is_err(),
        "TLS verified without the CA"
    );
    assert!(reg.storage_dir().starts_with(std::env::temp_dir()));
}
