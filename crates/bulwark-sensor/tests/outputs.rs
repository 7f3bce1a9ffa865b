//! The asynchronous alert outputs against real receivers the tests run: syslog on a
//! Unix datagram socket the test binds (RFC 5424 header checked field by field), a
//! webhook receiver on 127.0.0.1 that fails twice before accepting (the alert arrives
//! once, after the retries), and a dead webhook (nothing listening): the event loop's
//! writes never wait, the queue stays bounded and every lost alert is counted.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::os::unix::net::UnixDatagram;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bulwark_sensor::output::{Alert, Sink};
use bulwark_sensor::outputs::{AsyncOutput, Syslog, Webhook, QUEUE};
use bulwark_sensor::rules::Priority;

fn alert(rule: &str, p: Priority) -> Alert {
    Alert {
        time: "2026-12-02T16:40:01.123456789Z".into(),
        rule: rule.into(),
        priority: p,
        output: "Sensitive file opened for reading (file=/etc/shadow)".into(),
        tags: vec!["container".into()],
        container_id: "3f1c".into(),
        container_name: "web".into(),
        image: "localhost/web:1".into(),
        image_digest: "sha256:00".into(),
        proc_name: "cat".into(),
        pid: 42,
        ppid: 41,
        cmdline: "cat /etc/shadow".into(),
        uid: 0,
        event: serde_json::Map::new(),
        actions: vec![],
    }
}

#[test]
fn syslog_gets_rfc5424_messages_on_the_socket() {
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("log");
    let rx = UnixDatagram::bind(&path).unwrap();
    rx.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut sink = Sink::new(Box::new(std::io::sink()));
    sink.add(AsyncOutput::start(
        "syslog",
        Box::new(Syslog::new(&path, 4)),
    ));
    let a = alert("Read sensitive file", Priority::Warning);
    sink.write(&a).unwrap();
    sink.write(&alert("Kernel module loaded", Priority::Critical))
        .unwrap();
    let mut buf = vec![0u8; 65536];
    let n = rx.recv(&mut buf).unwrap();
    let msg = std::str::from_utf8(&buf[..n]).unwrap();
    // <PRI>VERSION TIMESTAMP HOSTNAME APP-NAME PROCID MSGID STRUCTURED-DATA MSG
    let parts: Vec<&str> = msg.splitn(8, ' ').collect();
    assert_eq!(parts[0], "<36>1", "auth (4) * 8 + warning (4): {msg}");
    assert_eq!(parts[1], "2026-12-02T16:40:01.123456Z");
    assert!(!parts[2].is_empty());
    assert_eq!(parts[3], "bulwark-sensor");
    assert_eq!(parts[4], std::process::id().to_string());
    assert_eq!((parts[5], parts[6]), ("alert", "-"));
    let json: serde_json::Value = serde_json::from_str(parts[7]).unwrap();
    assert_eq!(json["rule"], "Read sensitive file");
    assert_eq!(json["container_id"], "3f1c");
    let n = rx.recv(&mut buf).unwrap();
    assert!(std::str::from_utf8(&buf[..n])
        .unwrap()
        .starts_with("<34>1 "));
    assert_eq!(sink.close().get("syslog"), Some(&0));
}

/// Requests a receiver saw: (status answered, body).
type Seen = Arc<Mutex<Vec<(u16, String)>>>;

/// A receiver answering 500 to the first `fail` requests, then 204; records bodies.
fn receiver(fail: usize) -> (String, Seen) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", l.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s2 = seen.clone();
    std::thread::spawn(move || {
        for (i, stream) in l.incoming().flatten().enumerate() {
            let mut r = BufReader::new(stream.try_clone().unwrap());
            let mut len = 0usize;
            let mut line = String::new();
            while r.read_line(&mut line).unwrap_or(0) > 0 {
                let l = line.trim_end().to_ascii_lowercase();
                if l.is_empty() {
                    break;
                }
                if let Some(v) = l.strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap();
                }
                line.clear();
            }
            let mut body = vec![0u8; len];
            r.read_exact(&mut body).unwrap();
            let status = if i < fail { 500 } else { 204 };
            s2.lock()
                .unwrap()
                .push((status, String::from_utf8(body).unwrap()));
            let mut w = stream;
            let _ = write!(
                w,
                "HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
        }
    });
    (url, seen)
}

#[test]
fn webhook_retries_with_backoff_until_the_receiver_accepts() {
    let (url, seen) = receiver(2);
    let mut sink = Sink::new(Box::new(std::io::sink()));
    sink.add(AsyncOutput::start(
        "webhook",
        Box::new(Webhook::new(&url, None).unwrap()),
    ));
    let t0 = Instant::now();
    sink.write(&alert("Read sensitive file", Priority::Warning))
        .unwrap();
    assert!(t0.elapsed() < Duration::from_millis(50), "write waited");
    let drops = sink.close();
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen.iter().map(|(s, _)| *s).collect::<Vec<_>>(),
        vec![500, 500, 204]
    );
    let v: serde_json::Value = serde_json::from_str(&seen[2].1).unwrap();
    assert_eq!(v["rule"], "Read sensitive file");
    assert_eq!(v["pid"], 42);
    assert_eq!(drops.get("webhook"), Some(&0));
    // backoff: 200 ms then 400 ms between the attempts
    assert!(
        t0.elapsed() >= Duration::from_millis(600),
        "{:?}",
        t0.elapsed()
    );
}

#[test]
fn dead_webhook_never_blocks_and_counts_every_drop() {
    // A port with nothing listening.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut sink = Sink::new(Box::new(std::io::sink()));
    sink.add(AsyncOutput::start(
        "webhook",
        Box::new(Webhook::new(&format!("http://127.0.0.1:{port}/x"), None).unwrap()),
    ));
    let total = 5 * QUEUE;
    let a = alert("Read sensitive file", Priority::Warning);
    let t0 = Instant::now();
    for _ in 0..total {
        sink.write(&a).unwrap();
    }
    let spent = t0.elapsed();
    assert!(spent < Duration::from_secs(2), "writes waited: {spent:?}");
    let t1 = Instant::now();
    let drops = sink.close();
    // Shutdown drains for at most DRAIN (5 s) plus one delivery in progress.
    assert!(t1.elapsed() < Duration::from_secs(12), "{:?}", t1.elapsed());
    assert_eq!(
        drops.get("webhook"),
        Some(&(total as u64)),
        "every alert lost is counted"
    );
}
