//! OIDC JWT bearer tokens against a real server over TLS.
//!
//! The JWTs are built here by hand (base64url JSON, ES256 signatures from the `p256`
//! crate, HMAC-SHA256 written out from SHA-256), independently of the `jsonwebtoken`
//! crate the server checks them with. The JWKS is served from a file, and from an
//! https:// URL by a one-purpose TLS server in this test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use base64::Engine as _;
use bulwark_server::oidc::{JwksSource, OidcConfig};
use common::TestServer;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const ISS: &str = "https://idp.example.test";
const AUD: &str = "bulwark";

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

struct Key {
    kid: String,
    sk: SigningKey,
}

impl Key {
    fn new(kid: &str) -> Key {
        Key {
            kid: kid.into(),
            sk: SigningKey::random(&mut rand_core::OsRng),
        }
    }

    fn jwk(&self) -> Value {
        let p = self.sk.verifying_key().to_encoded_point(false);
        json!({"kty": "EC", "crv": "P-256", "kid": self.kid, "use": "sig", "alg": "ES256",
               "x": b64(p.x().unwrap()), "y": b64(p.y().unwrap())})
    }

    /// An ES256 JWT over these claims, with this key's kid.
    fn sign(&self, claims: &Value) -> String {
        self.sign_header(
            &json!({"alg": "ES256", "typ": "JWT", "kid": self.kid}),
            claims,
        )
    }

    fn sign_header(&self, header: &Value, claims: &Value) -> String {
        let msg = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let sig: Signature = self.sk.sign(msg.as_bytes());
        format!("{msg}.{}", b64(&sig.to_bytes()))
    }
}

fn jwks(keys: &[&Key]) -> String {
    json!({"keys": keys.iter().map(|k| k.jwk()).collect::<Vec<_>>()}).to_string()
}

fn claims(role: Option<&str>, teams: Value) -> Value {
    let mut c = json!({"iss": ISS, "aud": AUD, "sub": "repo:acme/shop:ref:refs/heads/main",
                       "iat": now(), "exp": now() + 600, "bulwark_teams": teams});
    if let Some(r) = role {
        c["bulwark_role"] = json!(r);
    }
    c
}

fn config(jwks: JwksSource, ca: Option<PathBuf>) -> OidcConfig {
    OidcConfig {
        issuer: ISS.into(),
        audiences: vec![AUD.into()],
        jwks,
        algorithms: OidcConfig::parse_algorithms("RS256,ES256").unwrap(),
        role_claim: "bulwark_role".into(),
        teams_claim: "bulwark_teams".into(),
        jwks_ca: ca,
        refresh_min: Duration::from_millis(200),
    }
}

fn server_with_file(keys: &[&Key]) -> TestServer {
    let set = jwks(keys);
    TestServer::start_configured(
        bulwark_server::api::DEFAULT_MAX_UPLOAD,
        move |dir: &Path| {
            let p = dir.join("jwks.json");
            std::fs::write(&p, set).unwrap();
            common::Extras {
                oidc: Some(config(JwksSource::File(p), None)),
                mtls: None,
            }
        },
    )
}

fn code(r: &common::Resp) -> String {
    r.json["error"]["code"].as_str().unwrap_or("").to_string()
}

#[test]
fn a_valid_jwt_is_a_principal_with_its_role_and_teams() {
    let k = Key::new("k1");
    let s = server_with_file(&[&k]);
    let t = k.sign(&claims(Some("developer"), json!(["payments", "shop"])));
    let r = s.get("/v1/whoami", &t);
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(r.json["role"], "developer");
    assert_eq!(r.json["teams"], json!(["payments", "shop"]));
    assert_eq!(r.json["id"], "oidc:repo:acme/shop:ref:refs/heads/main");
    // A single team as a string works too; the role table still applies.
    let t = k.sign(&claims(Some("ci-uploader"), json!("shop")));
    let r = s.get("/v1/whoami", &t);
    assert_eq!((r.status, r.json["teams"].clone()), (200, json!(["shop"])));
    let r = s.get("/v1/audit", &t);
    assert_eq!((r.status, code(&r).as_str()), (403, "forbidden"));
    // API tokens keep working beside OIDC.
    let admin = s.token("admin", &[]);
    assert_eq!(s.get("/v1/whoami", &admin).status, 200);
    // The decision is in the audit log under the JWT's subject.
    let a = s.get("/v1/audit?limit=1000", &admin);
    let items = a.json["items"].as_array().unwrap();
    assert!(items.iter().any(
        |e| e["actor"] == "oidc:repo:acme/shop:ref:refs/heads/main" && e["decision"] == "deny"
    ));
}

#[test]
fn every_failed_check_is_refused_with_its_reason() {
    let k = Key::new("k1");
    let other = Key::new("k1"); // same kid, different key: a forgery
    let s = server_with_file(&[&k]);
    let good = claims(Some("admin"), json!([]));
    let with = |f: &dyn Fn(&mut Value)| {
        let mut c = good.clone();
        f(&mut c);
        c
    };
    let hs256 = {
        // Algorithm confusion: HMAC keyed with the public key the server knows.
        let header = json!({"alg": "HS256", "typ": "JWT", "kid": "k1"});
        let msg = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(good.to_string().as_bytes())
        );
        let key = k.jwk().to_string();
        format!(
            "{msg}.{}",
            b64(&hmac_sha256(key.as_bytes(), msg.as_bytes()))
        )
    };
    let none = format!(
        "{}.{}.",
        b64(br#"{"alg":"none","typ":"JWT"}"#),
        b64(good.to_string().as_bytes())
    );
    let cases: Vec<(&str, String, &str)> = vec![
        ("forged (wrong key)", other.sign(&good), "jwt_invalid"),
        ("alg none", none, "jwt_invalid"),
        ("HS256 with the public key", hs256, "jwt_invalid"),
        (
            "expired",
            k.sign(&with(&|c| c["exp"] = json!(now() - 3600))),
            "token_expired",
        ),
        (
            "not yet valid",
            k.sign(&with(&|c| c["nbf"] = json!(now() + 3600))),
            "jwt_invalid",
        ),
        (
            "wrong issuer",
            k.sign(&with(&|c| c["iss"] = json!("https://evil.test"))),
            "jwt_invalid",
        ),
        (
            "wrong audience",
            k.sign(&with(&|c| c["aud"] = json!("another-service"))),
            "jwt_invalid",
        ),
        (
            "no exp",
            k.sign(&with(&|c| {
                c.as_object_mut().unwrap().remove("exp");
            })),
            "jwt_invalid",
        ),
        ("unknown kid", Key::new("k9").sign(&good), "jwt_invalid"),
        (
            "no role claim",
            k.sign(&claims(None, json!([]))),
            "jwt_no_role",
        ),
        (
            "unknown role",
            k.sign(&claims(Some("root"), json!([]))),
            "jwt_no_role",
        ),
        (
            "teams not strings",
            k.sign(&claims(Some("developer"), json!([1, 2]))),
            "jwt_invalid",
        ),
        (
            "tampered payload",
            {
                let t = k.sign(&claims(Some("auditor"), json!([])));
                let parts: Vec<&str> = t.split('.').collect();
                let forged = b64(claims(Some("admin"), json!([])).to_string().as_bytes());
                format!("{}.{forged}.{}", parts[0], parts[2])
            },
            "jwt_invalid",
        ),
        ("not a JWT", "abc.def".to_string(), "token_malformed"),
    ];
    for (what, token, want) in cases {
        let r = s.get("/v1/whoami", &token);
        assert_eq!(
            (r.status, code(&r).as_str()),
            (401, want),
            "{what}: {}",
            r.json
        );
        // The reason is given; the token is not echoed.
        let msg = r.json["error"]["message"].as_str().unwrap();
        assert!(!msg.is_empty() && !msg.contains(&token), "{what}: {msg}");
    }
    // The control: the same server takes the good one.
    assert_eq!(s.get("/v1/whoami", &k.sign(&good)).status, 200);
}

#[test]
fn a_rotated_key_is_picked_up_from_the_file() {
    let k1 = Key::new("k1");
    let k2 = Key::new("k2");
    let s = server_with_file(&[&k1]);
    let t2 = k2.sign(&claims(Some("auditor"), json!([])));
    assert_eq!(s.get("/v1/whoami", &t2).status, 401);
    std::fs::write(s.dir.path().join("jwks.json"), jwks(&[&k1, &k2])).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let r = s.get("/v1/whoami", &t2);
    assert_eq!((r.status, r.json["role"].clone()), (200, json!("auditor")));
    // A broken file later keeps the last good set.
    std::fs::write(s.dir.path().join("jwks.json"), "{not json").unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let t3 = Key::new("k3").sign(&claims(Some("admin"), json!([])));
    assert_eq!(s.get("/v1/whoami", &t3).status, 401);
    assert_eq!(s.get("/v1/whoami", &t2).status, 200);
}

#[test]
fn the_jwks_is_fetched_over_https() {
    let k = Key::new("k1");
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = common::write_pki(dir.path());
    let url = serve_once_forever(&cert, &key, jwks(&[&k]));
    let ca2 = ca.clone();
    let s = TestServer::start_configured(bulwark_server::api::DEFAULT_MAX_UPLOAD, move |_| {
        common::Extras {
            oidc: Some(config(JwksSource::Url(url), Some(ca2))),
            mtls: None,
        }
    });
    let t = k.sign(&claims(Some("security"), json!([])));
    let r = s.get("/v1/whoami", &t);
    assert_eq!((r.status, r.json["role"].clone()), (200, json!("security")));
}

#[test]
fn the_server_does_not_start_without_its_keys() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (_, cert, key) = common::write_pki(dir.path());
    let bind = |oidc: OidcConfig| {
        rt.block_on(bulwark_server::serve::Bound::bind(
            bulwark_server::serve::ServerConfig {
                max_upload: 1 << 20,
                grace: Duration::from_secs(1),
                oidc: Some(oidc),
                ..bulwark_server::serve::ServerConfig::new(
                    "127.0.0.1:0".parse().unwrap(),
                    bulwark_server::serve::Transport::Tls {
                        cert: cert.clone(),
                        key: key.clone(),
                    },
                )
            },
        ))
    };
    let missing = dir.path().join("absent.json");
    let e = bind(config(JwksSource::File(missing.clone()), None))
        .err()
        .unwrap();
    let chain = format!("{:#}", anyhow_like(&e));
    assert!(chain.contains("absent.json"), "{chain}");
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, r#"{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}"#).unwrap();
    let e = bind(config(JwksSource::File(bad), None)).err().unwrap();
    assert!(anyhow_like(&e).contains("no usable signing key"));
    let mut no_aud = config(JwksSource::File(missing), None);
    no_aud.audiences.clear();
    let e = bind(no_aud).err().unwrap();
    assert!(anyhow_like(&e).contains("--oidc-audience"));
    assert!(JwksSource::parse("http://idp/jwks").is_err());
}

/// The error and its sources, joined.
fn anyhow_like(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        out.push_str(": ");
        out.push_str(&s.to_string());
        cur = s.source();
    }
    out
}

fn hmac_sha256(key: &[u8], msg: &[u8]) -> Vec<u8> {
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let ipad: Vec<u8> = k.iter().map(|b| b ^ 0x36).collect();
    let opad: Vec<u8> = k.iter().map(|b| b ^ 0x5c).collect();
    let inner = Sha256::digest([ipad.as_slice(), msg].concat());
    Sha256::digest([opad.as_slice(), inner.as_slice()].concat()).to_vec()
}

/// A TLS server on 127.0.0.1 answering every request with `body` (JSON), one thread per
/// connection; returns its URL.
fn serve_once_forever(cert: &Path, key: &Path, body: String) -> String {
    use std::io::{Read, Write};
    let mut cfg = bulwark_server::serve::tls_config(cert, key).unwrap();
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    let cfg = std::sync::Arc::new(cfg);
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for sock in l.incoming().flatten() {
            let cfg = cfg.clone();
            let body = body.clone();
            std::thread::spawn(move || {
                let conn = rustls::ServerConnection::new(cfg).unwrap();
                let mut tls = rustls::StreamOwned::new(conn, sock);
                let mut head = Vec::new();
                let mut b = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    if tls.read(&mut b).unwrap_or(0) == 0 {
                        return;
                    }
                    head.push(b[0]);
                }
                let resp = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(resp.as_bytes());
                let _ = tls.flush();
                tls.conn.send_close_notify();
                let _ = tls.flush();
            });
        }
    });
    format!("https://localhost:{port}/jwks")
}
