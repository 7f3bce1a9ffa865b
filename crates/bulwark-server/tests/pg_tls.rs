//! The store over TLS to a real PostgreSQL (ssl=on, a certificate from a test CA):
//! `sslmode=verify-full` with the right CA connects encrypted (the server's own
//! `pg_stat_ssl` says so) for the writer and the readers; another CA's certificate, a
//! name the certificate does not carry, and TLS without a CA file are refused.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use bulwark_server::{params, DatabaseUrl, Store};
use common::pg::PgCluster;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

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
