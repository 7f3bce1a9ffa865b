//! The Docker bearer-token flow against an in-test token server.
//!
//! The real registry stays anonymous; in front of it sits a tiny proxy that demands
//! `Bearer <token>` (answering 401 with a `WWW-Authenticate: Bearer realm=...` challenge
//! otherwise) and a token endpoint that hands that token out only for the right basic
//! credentials — the same dance Docker Hub does.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test may panic: that is its failure

mod registry_common;

use bulwark_image::registry::open;
use registry_common::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

const TOKEN: &str = "tok-7f3a";

fn handle(mut stream: TcpStream, port: u16, upstream: &str, token_requests: &AtomicUsize) {
    let mut reader = BufReader::new(match stream.try_clone() {
        Ok(s) => s,
        Err(_) => return,
    });
    let mut head = Vec::new();
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        if line == "\r\n" {
            break;
        }
        head.push(line.trim_end().to_string());
    }
    let target = head
        .first()
        .and_then(|l| l.split(' ').nth(1))
        .unwrap_or("/")
        .to_string();
    let auth = head
        .iter()
        .find_map(|h| {
            let (k, v) = h.split_once(':')?;
            k.eq_ignore_ascii_case("authorization")
                .then(|| v.trim().to_string())
        })
        .unwrap_or_default();
    let reply =
        |stream: &mut TcpStream, status: &str, headers: &[(String, String)], body: &[u8]| {
            let mut out = format!(
                "HTTP/1.1 {status}\r\nConnection: close\r\nContent-Length: {}\r\n",
                body.len()
            );
            for (k, v) in headers {
                out.push_str(&format!("{k}: {v}\r\n"));
            }
            out.push_str("\r\n");
            let _ = stream.write_all(out.as_bytes());
            let _ = stream.write_all(body);
        };
    if target.starts_with("/token") {
        token_requests.fetch_add(1, Ordering::SeqCst);
        use base64::Engine as _;
        let want = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("carol:tokpass")
        );
        let scope_ok = target.contains("scope=repository%3Atok%2Fapp%3Apull")
            && target.contains("service=bulwark-test");
        if auth == want && scope_ok {
            let body = format!(r#"{{"token":"{TOKEN}","expires_in":300}}"#);
            reply(
                &mut stream,
                "200 OK",
                &[("Content-Type".into(), "application/json".into())],
                body.as_bytes(),
            );
        } else {
            reply(
                &mut stream,
                "401 Unauthorized",
                &[],
                br#"{"details":"bad credentials"}"#,
            );
        }
        return;
    }
    if auth != format!("Bearer {TOKEN}") {
        let challenge = format!(
            r#"Bearer realm="http://127.0.0.1:{port}/token",service="bulwark-test",scope="repository:tok/app:pull""#
        );
        reply(
            &mut stream,
            "401 Unauthorized",
            &[("WWW-Authenticate".into(), challenge)],
            br#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#,
        );
        return;
    }
    let accept = head
        .iter()
        .find_map(|h| {
            let (k, v) = h.split_once(':')?;
            k.eq_ignore_ascii_case("accept")
                .then(|| v.trim().to_string())
        })
        .unwrap_or_else(|| "*/*".into());
    let resp = match agent()
        .get(&format!("{upstream}{target}"))
        .header("Accept", &accept)
        .call()
    {
        Ok(r) => r,
        Err(_) => return,
    };
    let status = format!("{} X", resp.status().as_u16());
    let mut headers = Vec::new();
    for name in ["content-type", "docker-content-digest"] {
        if let Some(v) = resp.headers().get(name).and_then(|v| v.to_str().ok()) {
            headers.push((name.to_string(), v.to_string()));
        }
    }
    let mut body = Vec::new();
    let _ = resp
        .into_body()
        .into_reader()
        .take(16 << 20)
        .read_to_end(&mut body);
    reply(&mut stream, &status, &headers, &body);
}

#[test]
fn registry_bearer_token_flow_with_basic_credentials() {
    let Some(reg) = Registry::start(None) else {
        return;
    };
    let img = build_image("amd64", false, "token");
    reg.push_image("tok/app", "1", &img);

    let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    let port = listener
        .local_addr()
        .unwrap_or_else(|e| panic!("{e}"))
        .port();
    let upstream = reg.base();
    let token_requests = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&token_requests);
    // The listener thread ends with the test process.
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            handle(stream, port, &upstream, &counter);
        }
    });

    let c = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut opts = options(c.path());
    let reference = format!("127.0.0.1:{port}/tok/app:1");

    // Without credentials the token server refuses, and the error says so.
    let err = open(&reference, &opts)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.contains("get a token from") && err.contains("401 Unauthorized"),
        "{err}"
    );

    let cfg = c.path().join("config.json");
    let cfg_json = serde_json::json!({"auths": {format!("127.0.0.1:{port}"): {"username": "carol", "password": "tokpass"}}});
    std::fs::write(&cfg, serde_json::to_vec(&cfg_json).unwrap_or_default())
        .unwrap_or_else(|e| panic!("{e}"));
    opts.config.credentials.docker_config = Some(cfg);
    let before = token_requests.load(Ordering::SeqCst);
    let image = open(&reference, &opts).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(image.meta.id, img.config_digest());
    let digests: Vec<String> = image.layers.iter().map(|l| l.digest.clone()).collect();
    assert_eq!(digests, img.layer_digests());
    // The token is fetched once and shared by the manifest, config and layer requests.
    assert_eq!(token_requests.load(Ordering::SeqCst) - before, 1);
}
