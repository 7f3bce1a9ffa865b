//! What the tests that run `bulwark server` share: the binary without the caller's
//! database setting, child processes killed on drop, API tokens made with `bulwark
//! server token create`, a test CA and a server certificate for 127.0.0.1/localhost,
//! an HTTPS client trusting that CA, a free loopback port.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::Duration;

/// The `bulwark` binary, without an inherited `BULWARK_DATABASE`, colour off.
pub fn bulwark() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_bulwark"));
    c.env_remove("BULWARK_DATABASE").env("NO_COLOR", "1");
    c
}

/// A child process killed on drop.
pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A new API token with `role`, made by `bulwark server token create` on `db`.
pub fn token(db: &str, role: &str) -> String {
    let out = bulwark()
        .args([
            "server",
            "token",
            "create",
            "--database",
            db,
            "--role",
            role,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let t = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(t.starts_with("bwk_"), "{t}");
    t
}

/// Writes a CA and a server certificate and key: (ca.pem, cert.pem, key.pem).
pub fn write_pki(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair, KeyUsagePurpose};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let params =
        CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
    let cert = params.signed_by(&key, &ca).unwrap();
    let paths = (
        dir.join("ca.pem"),
        dir.join("cert.pem"),
        dir.join("key.pem"),
    );
    std::fs::write(&paths.0, ca.pem()).unwrap();
    std::fs::write(&paths.1, cert.pem()).unwrap();
    std::fs::write(&paths.2, key.serialize_pem()).unwrap();
    paths
}

/// An HTTPS agent trusting only the CA in `ca`, statuses returned (not errors).
pub fn agent(ca: &Path) -> ureq::Agent {
    let pem = std::fs::read(ca).unwrap();
    let certs: Vec<_> = ureq::tls::parse_pem(&pem)
        .filter_map(|i| match i.unwrap() {
            ureq::tls::PemItem::Certificate(c) => Some(c),
            _ => None,
        })
        .collect();
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .tls_config(
            ureq::tls::TlsConfig::builder()
                .root_certs(ureq::tls::RootCerts::new_with_certs(&certs))
                .build(),
        )
        .build()
        .into()
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
