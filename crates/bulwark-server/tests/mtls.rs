//! mTLS: client certificates identify callers (CN the caller, OU the role, O the teams)
//! on a real server over TLS; certificates from another CA never get through the
//! handshake, and with `required` nobody gets in without one.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use bulwark_server::serve::MtlsConfig;
use common::{Extras, TestServer};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};
use serde_json::json;
use std::path::Path;
use std::time::Duration;

struct Ca {
    issuer: rcgen::CertifiedIssuer<'static, KeyPair>,
}

impl Ca {
    fn new(name: &str) -> Ca {
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        p.distinguished_name.push(DnType::CommonName, name);
        Ca {
            issuer: rcgen::CertifiedIssuer::self_signed(p, KeyPair::generate().unwrap()).unwrap(),
        }
    }

    /// A client certificate with this subject: (CN, OUs, Os).
    fn client(&self, cn: Option<&str>, ou: Option<&str>, orgs: &[&str]) -> (String, String) {
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.distinguished_name = rcgen::DistinguishedName::new();
        if let Some(cn) = cn {
            p.distinguished_name.push(DnType::CommonName, cn);
        }
        if let Some(ou) = ou {
            p.distinguished_name
                .push(DnType::OrganizationalUnitName, ou);
        }
        // rcgen keeps one value per DnType, so a second O goes in under the raw OID.
        for (i, o) in orgs.iter().enumerate() {
            let ty = match i {
                0 => DnType::OrganizationName,
                1 => DnType::CustomDnType(vec![2, 5, 4, 10]),
                _ => panic!("at most two organizations"),
            };
            p.distinguished_name
                .push(ty, rcgen::DnValue::Utf8String((*o).to_string()));
        }
        p.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
        let key = KeyPair::generate().unwrap();
        let cert = p.signed_by(&key, &self.issuer).unwrap();
        (cert.pem(), key.serialize_pem())
    }
}

/// An HTTPS client trusting the server's CA and presenting this certificate.
fn agent(server_ca: &Path, client: Option<&(String, String)>) -> ureq::Agent {
    let pem = std::fs::read(server_ca).unwrap();
    let roots: Vec<_> = ureq::tls::parse_pem(&pem)
        .filter_map(|i| match i.unwrap() {
            ureq::tls::PemItem::Certificate(c) => Some(c),
            _ => None,
        })
        .collect();
    let mut tls =
        ureq::tls::TlsConfig::builder().root_certs(ureq::tls::RootCerts::new_with_certs(&roots));
    if let Some((cert, key)) = client {
        let certs: Vec<_> = ureq::tls::parse_pem(cert.as_bytes())
            .filter_map(|i| match i.unwrap() {
                ureq::tls::PemItem::Certificate(c) => Some(c),
                _ => None,
            })
            .collect();
        let key = ureq::tls::PrivateKey::from_pem(key.as_bytes()).unwrap();
        tls = tls.client_cert(Some(ureq::tls::ClientCert::new_with_certs(&certs, key)));
    }
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .tls_config(tls.build())
        .build()
        .into()
}

fn get(a: &ureq::Agent, url: &str) -> Result<(u16, serde_json::Value), String> {
    let mut r = a.get(url).call().map_err(|e| e.to_string())?;
    let status = r.status().as_u16();
    let v = serde_json::from_str(&r.body_mut().read_to_string().unwrap_or_default())
        .unwrap_or(serde_json::Value::Null);
    Ok((status, v))
}

fn server(ca: &Ca, required: bool) -> TestServer {
    let pem = ca.issuer.pem();
    TestServer::start_configured(bulwark_server::api::DEFAULT_MAX_UPLOAD, move |dir| {
        let p = dir.join("client-ca.pem");
        std::fs::write(&p, pem).unwrap();
        Extras {
            oidc: None,
            mtls: Some(MtlsConfig { ca: p, required }),
        }
    })
}

#[test]
fn a_client_certificate_names_the_caller_role_and_teams() {
    let ca = Ca::new("bulwark client CA");
    let s = server(&ca, false);
    let url = format!("{}/v1/whoami", s.base);
    let dev = ca.client(Some("build-bot"), Some("developer"), &["shop", "payments"]);
    let (st, v) = get(&agent(&s.ca, Some(&dev)), &url).unwrap();
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["id"], "mtls:build-bot");
    assert_eq!(v["role"], "developer");
    assert_eq!(v["teams"], json!(["payments", "shop"]));
    // The role table applies to it as to any caller.
    let (st, _) = get(&agent(&s.ca, Some(&dev)), &format!("{}/v1/audit", s.base)).unwrap();
    assert_eq!(st, 403);
    // A bearer token on the same connection decides instead of the certificate.
    let auditor = s.token("auditor", &[]);
    let mut r = agent(&s.ca, Some(&dev))
        .get(&url)
        .header("Authorization", format!("Bearer {auditor}"))
        .call()
        .unwrap();
    let v: serde_json::Value =
        serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap();
    assert_eq!(v["role"], "auditor");
    // Optional mTLS: no certificate, no token → 401; a token alone still works.
    let (st, v) = get(&agent(&s.ca, None), &url).unwrap();
    assert_eq!(
        (st, v["error"]["code"].clone()),
        (401, json!("unauthenticated"))
    );
    assert_eq!(s.get("/v1/whoami", &auditor).status, 200);
}

#[test]
fn certificates_that_do_not_name_a_role_or_come_from_elsewhere_are_refused() {
    let ca = Ca::new("bulwark client CA");
    let s = server(&ca, false);
    let url = format!("{}/v1/whoami", s.base);
    for (what, cert, code) in [
        (
            "no OU",
            ca.client(Some("x"), None, &[]),
            "client_cert_invalid",
        ),
        (
            "unknown role",
            ca.client(Some("x"), Some("root"), &[]),
            "client_cert_invalid",
        ),
        (
            "no CN",
            ca.client(None, Some("admin"), &[]),
            "client_cert_invalid",
        ),
    ] {
        let (st, v) = get(&agent(&s.ca, Some(&cert)), &url).unwrap();
        assert_eq!(
            (st, v["error"]["code"].clone()),
            (401, json!(code)),
            "{what}"
        );
    }
    // Another CA's certificate fails the handshake: no request reaches the server.
    let rogue = Ca::new("rogue CA").client(Some("mallory"), Some("admin"), &[]);
    assert!(get(&agent(&s.ca, Some(&rogue)), &url).is_err());
    // The control: this CA's admin gets in.
    let admin = ca.client(Some("ops"), Some("admin"), &[]);
    assert_eq!(get(&agent(&s.ca, Some(&admin)), &url).unwrap().0, 200);
}

#[test]
fn required_client_certificates_refuse_everyone_else_at_the_handshake() {
    let ca = Ca::new("bulwark client CA");
    let s = server(&ca, true);
    let url = format!("{}/healthz", s.base);
    assert!(get(&agent(&s.ca, None), &url).is_err());
    let ok = ca.client(Some("sensor-1"), Some("sensor"), &[]);
    assert_eq!(get(&agent(&s.ca, Some(&ok)), &url).unwrap().0, 200);
}
