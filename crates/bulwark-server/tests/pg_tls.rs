//! The store over TLS to a real PostgreSQL (ssl=on, a certificate from a test CA):
//! `sslmode=verify-full` with the right CA connects encrypted (the server's own
//! `pg_stat_ssl` says so) for the writer and the readers; another CA's certificate, a
//! name the certificate does not carry, and TLS without a CA file are refused.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use bulwark_server::{params, DatabaseUrl, Store};
use common::pg::PgCluster;

use bulwark_testkit::free_port;

#[test]
fn verified_tls_connects_and_everything_else_is_refused() {
    let pki = tempfile::tempdir().unwrap();
    let (ca, cert, key) = common::write_pki(pki.path());
    let port = free_port();
    let Some(cluster) = PgCluster::start_tls(
        port,
        &std::fs::read_to_string(&cert).unwrap(),
        &std::fs::read_to_string(&key).unwrap(),
    ) else {
        return;
    };
    cluster.database("tls");
    let url = |host: &str, extra: &str| -> DatabaseUrl {
        format!("postgres://bulwark@{host}:{port}/tls?{extra}")
            .parse()
            .unwrap()
    };

    // Verified TLS, by IP address and by name (the certificate carries both).
    for host in ["127.0.0.1", "localhost"] {
        let store = Store::open(&url(
            host,
            &format!("sslmode=verify-full&sslrootcert={}", ca.display()),
        ))
        .unwrap();
        let ssl = |store: &Store| {
            store
                .read_blocking(|c| {
                    c.query_row(
                        "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                        params![],
                        |r| r.get::<bool>(0),
                    )
                })
                .unwrap()
        };
        assert!(ssl(&store), "reader not encrypted via {host}");
        let writer_ssl: bool = store
            .write_blocking(|c| {
                c.query_row(
                    "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                    params![],
                    |r| r.get::<bool>(0),
                )
            })
            .unwrap();
        assert!(writer_ssl, "writer not encrypted via {host}");
    }

    // Plain text to loopback is allowed, and is plain.
    let plain = Store::open(&url("127.0.0.1", "")).unwrap();
    let ssl: bool = plain
        .read_blocking(|c| {
            c.query_row(
                "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                params![],
                |r| r.get::<bool>(0),
            )
        })
        .unwrap();
    assert!(!ssl);

    // Another CA: the handshake fails, nothing is opened.
    let other = tempfile::tempdir().unwrap();
    let (other_ca, _, _) = common::write_pki(other.path());
    let err = Store::open(&url(
        "127.0.0.1",
        &format!("sslmode=verify-full&sslrootcert={}", other_ca.display()),
    ))
    .err()
    .expect("a certificate from another CA was accepted");
    assert!(
        format!("{err:?}").to_lowercase().contains("certificate"),
        "{err:?}"
    );

    // The right CA but a name the certificate does not carry (the address is right).
    let err = Store::open(
        &format!(
            "postgres://bulwark@db.invalid:{port}/tls?hostaddr=127.0.0.1&sslmode=verify-full&sslrootcert={}",
            ca.display()
        )
        .parse()
        .unwrap(),
    )
    .err()
    .expect("a certificate for another name was accepted");
    assert!(
        format!("{err:?}").to_lowercase().contains("certificate"),
        "{err:?}"
    );

    // TLS without a CA file is refused when the URL is parsed (even `require`).
    for mode in ["require", "verify-ca", "verify-full"] {
        let parsed = format!("postgres://bulwark@127.0.0.1:{port}/tls?sslmode={mode}")
            .parse::<DatabaseUrl>();
        assert!(
            parsed.is_err(),
            "sslmode={mode} without sslrootcert accepted"
        );
    }
}

/// A client certificate (`sslcert`/`sslkey`) from a client CA with CN `user`.
fn client_pki(
    dir: &std::path::Path,
    user: &str,
    ca_name: &str,
) -> (String, std::path::PathBuf, std::path::PathBuf) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair, KeyUsagePurpose};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, ca_name);
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, user);
    let cert = params.signed_by(&key, &ca).unwrap();
    let cert_path = dir.join("client.pem");
    std::fs::write(&cert_path, cert.pem()).unwrap();
    let key_path = dir.join("client.key");
    std::fs::write(&key_path, key.serialize_pem()).unwrap();
    (ca.pem(), cert_path, key_path)
}

/// `sslcert`/`sslkey`: a role PostgreSQL admits only by certificate (`hostssl … cert`)
/// logs in with one, for the writer and the readers; without it, or with a
/// certificate from another CA, it is refused; half a pair, or a pair without TLS, is
/// refused when the URL is read. `options=-c statement_timeout=…` reaches the session.
#[test]
fn client_certificates_and_session_options() {
    let pki = tempfile::tempdir().unwrap();
    let (ca, cert, key) = common::write_pki(pki.path());
    let client = tempfile::tempdir().unwrap();
    let (client_ca, client_cert, client_key) =
        client_pki(client.path(), "certuser", "bulwark client test CA");
    let port = free_port();
    let Some(cluster) = PgCluster::start_tls_client_auth(
        port,
        &std::fs::read_to_string(&cert).unwrap(),
        &std::fs::read_to_string(&key).unwrap(),
        &client_ca,
        "certuser",
    ) else {
        return;
    };
    cluster.database("mtls");
    let url = |extra: &str| -> Result<DatabaseUrl, _> {
        format!(
            "postgres://certuser@127.0.0.1:{port}/mtls?sslmode=verify-full&sslrootcert={}{extra}",
            ca.display()
        )
        .parse::<DatabaseUrl>()
    };
    let with_cert = format!(
        "&sslcert={}&sslkey={}",
        client_cert.display(),
        client_key.display()
    );

    let store = Store::open(
        &url(&format!(
            "{with_cert}&options=-c%20statement_timeout%3D4321"
        ))
        .unwrap(),
    )
    .unwrap();
    let who = |store: &Store| -> (String, String) {
        store
            .read_blocking(|c| {
                c.query_row(
                    "SELECT COALESCE(client_dn, ''), current_setting('statement_timeout') FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                    params![],
                    |r| Ok((r.get::<String>(0)?, r.get::<String>(1)?)),
                )
            })
            .unwrap()
    };
    let (dn, timeout) = who(&store);
    assert!(dn.contains("CN=certuser"), "reader client_dn {dn:?}");
    assert_eq!(timeout, "4321ms");
    let writer_dn: String = store
        .write_blocking(|c| {
            c.query_row(
                "SELECT COALESCE(client_dn, '') FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                params![],
                |r| r.get::<String>(0),
            )
        })
        .unwrap();
    assert!(
        writer_dn.contains("CN=certuser"),
        "writer client_dn {writer_dn:?}"
    );

    // The same role without a certificate: PostgreSQL refuses it.
    let err = Store::open(&url("").unwrap())
        .err()
        .expect("certuser logged in without a certificate");
    assert!(
        format!("{err:?}").contains("requires a valid client certificate"),
        "{err:?}"
    );

    // A certificate from a CA PostgreSQL does not trust: refused too.
    let other = tempfile::tempdir().unwrap();
    let (_, other_cert, other_key) = client_pki(other.path(), "certuser", "another client CA");
    let err = Store::open(
        &url(&format!(
            "&sslcert={}&sslkey={}",
            other_cert.display(),
            other_key.display()
        ))
        .unwrap(),
    )
    .err()
    .expect("a client certificate from another CA was accepted");
    assert!(format!("{err:?}").contains("UnknownCA"), "{err:?}");

    // Half a pair, a pair without TLS, an unreadable key: refused when read.
    assert!(url(&format!("&sslcert={}", client_cert.display())).is_err());
    assert!(url(&format!("&sslkey={}", client_key.display())).is_err());
    let plain = format!(
        "postgres://certuser@127.0.0.1:{port}/mtls?sslcert={}&sslkey={}",
        client_cert.display(),
        client_key.display()
    )
    .parse::<DatabaseUrl>();
    assert!(plain.is_err(), "a client certificate without TLS accepted");
    std::fs::write(
        client.path().join("bad.key"),
        "-----BEGIN PRIVATE KEY-----\nnot base64!\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    let bad = url(&format!(
        "&sslcert={}&sslkey={}",
        client_cert.display(),
        client.path().join("bad.key").display()
    ));
    let msg = match bad {
        Err(e) => format!("{e}"),
        Ok(u) => format!(
            "{:?}",
            Store::open(&u).err().expect("a broken key was used")
        ),
    };
    assert!(msg.contains("sslkey"), "{msg}");
    assert!(
        !msg.contains("not base64"),
        "the key file's text is in the message: {msg}"
    );
}
