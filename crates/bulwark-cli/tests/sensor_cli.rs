//! `bulwark sensor` through the real binary: `rules check` exit codes and messages
//! (file, line, field), and a start without privileges stopping with exit 2 and the
//! missing capabilities named.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::server::write_pki;
use std::process::Command;

fn bulwark() -> Command {
    Command::new(env!("CARGO_BIN_EXE_bulwark"))
}

#[test]
fn rules_check_accepts_valid_files_and_names_file_line_field_of_errors() {
    let d = tempfile::tempdir().unwrap();
    let good = d.path().join("good.yaml");
    std::fs::write(
        &good,
        "- rule: Kill nsenter\n  desc: nsenter in a container\n  condition: spawned_process and container and proc.name = nsenter\n  output: nsenter (%proc.cmdline %container.id)\n  priority: CRITICAL\n  tags: [mitre_privilege_escalation, T1611]\n  actions: [kill]\n",
    )
    .unwrap();
    let o = bulwark()
        .args(["sensor", "rules", "check"])
        .arg(&good)
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(String::from_utf8_lossy(&o.stdout).contains("rules OK"));

    let bad = d.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "- rule: R\n  desc: d\n  condition: spawned_process and proc.nmae = sh\n  output: x\n  priority: WARNING\n- rule: S\n  desc: d\n  condition: evt.type = openat\n  output: '%fd.nam'\n  priority: NOTICE\n",
    )
    .unwrap();
    let o = bulwark()
        .args(["sensor", "rules", "check"])
        .arg(&bad)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    let p = bad.display().to_string();
    assert!(
        err.contains(&format!(
            "{p}:3: rule 'R' field 'condition': column 21: unknown field 'proc.nmae'"
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "{p}:9: rule 'S' field 'output': unknown field '%fd.nam'"
        )),
        "{err}"
    );

    let o = bulwark()
        .args(["sensor", "rules", "check", "/nonexistent/rules.yaml"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("/nonexistent/rules.yaml"));
}

#[test]
fn start_without_privileges_exits_2_naming_what_is_missing() {
    // Drop every capability (setpriv is in util-linux); skip if that is not possible here.
    let has_setpriv = Command::new("setpriv")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_setpriv {
        bulwark_fixtures::absent(
            "setpriv",
            "util-linux's setpriv is needed to drop capabilities",
        );
        return;
    }
    let o = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
            "--bounding-set=-all",
        ])
        .arg(env!("CARGO_BIN_EXE_bulwark"))
        .args(["sensor", "--duration", "1"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("the sensor needs root"), "{err}");
    assert!(err.contains("missing CAP_BPF and CAP_PERFMON"), "{err}");
}

#[test]
fn malformed_profile_is_refused_at_start_naming_file_and_field() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("img.json");
    std::fs::write(
        &p,
        r#"{"version": 1, "image": "x", "learned": {"complete": true},
  "processes": [{"exe": "/usr/bin/cat"}, {"exe": 7}]}"#,
    )
    .unwrap();
    let o = bulwark()
        .args(["sensor", "--duration", "1", "--profiles"])
        .arg(d.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!(
            "profile {}: field 'processes[1].exe'",
            p.display()
        )),
        "{err}"
    );
    std::fs::write(
        &p,
        r#"{"version": 1, "image": "x", "learned": {"complete": true}, "outbound": [{"cidr": "10.0.0.0/40", "port": 1, "protocol": "TCP"}]}"#,
    )
    .unwrap();
    let o = bulwark()
        .args(["sensor", "--duration", "1", "--profiles"])
        .arg(d.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("field 'outbound[0].cidr'"), "{err}");
}

#[test]
fn unusable_outputs_stop_the_start_with_exit_2() {
    let d = tempfile::tempdir().unwrap();
    let tf = d.path().join("token");
    std::fs::write(&tf, "bwk_test\n").unwrap();
    let tf = tf.to_str().unwrap();
    let server = |more: &[&'static str]| {
        let mut v = vec!["--server", "https://127.0.0.1:1", "--server-token-file", tf];
        v.extend_from_slice(more);
        v
    };
    for (args, want) in [
        (
            server(&["--placements-every", "0s"]),
            "--placements-every must be at least 1s",
        ),
        (
            server(&["--placements-every", "soon"]),
            "--placements-every \"soon\"",
        ),
        (server(&["--node", ""]), "--node \"\": 1-253 characters"),
        (vec!["--placements-every", "30s"], "--server"),
        (
            vec!["--syslog", "--syslog-socket", "/nonexistent/log"],
            "connecting to the syslog socket /nonexistent/log",
        ),
        (
            vec![
                "--syslog",
                "--syslog-socket",
                "/nonexistent/log",
                "--syslog-facility",
                "loud",
            ],
            "--syslog-facility \"loud\"",
        ),
        (
            vec!["--webhook", "ftp://example.com/x"],
            "webhook URL \"ftp://example.com/x\"",
        ),
    ] {
        let o = bulwark()
            .args(["sensor", "--duration", "1"])
            .args(&args)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
    }
}

const IMAGE: &str = "localhost/bulwark-test/debian-base:1";

/// `podman system service` on a socket of the test's own, stopped on drop.
struct Service(std::process::Child);

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The flows a real container session produced, read back by `bulwark k8s netpol
/// suggest`, give a policy that allows the observed port to the observed peer.
#[test]
fn flows_from_a_container_session_become_a_policy_allowing_the_port() {
    use std::time::{Duration, Instant};
    if let Err(e) = bulwark_sensor::probe::preflight() {
        bulwark_fixtures::absent("BPF (root, BTF, tracefs)", &format!("{e}"));
        return;
    }
    let has_image = Command::new("podman")
        .args(["image", "exists", IMAGE])
        .status()
        .is_ok_and(|s| s.success());
    if !has_image {
        bulwark_fixtures::absent("the podman test image", &bulwark_fixtures::images_message());
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let sock = d.path().join("api.sock");
    let svc = Service(
        Command::new("podman")
            .args(["system", "service", "--time", "0"])
            .arg(format!("unix://{}", sock.display()))
            .spawn()
            .unwrap(),
    );
    let t0 = Instant::now();
    while !sock.exists() {
        assert!(t0.elapsed() < Duration::from_secs(30), "podman service");
        std::thread::sleep(Duration::from_millis(100));
    }
    let flows = d.path().join("flows.json");
    let ready = d.path().join("ready");
    let mut sensor = bulwark()
        .args([
            "sensor",
            "--no-default-rules",
            "--containers-only",
            "--duration",
            "120",
        ])
        .arg("--flows")
        .arg(&flows)
        .arg("--api-socket")
        .arg(&sock)
        .arg("--ready-file")
        .arg(&ready)
        .spawn()
        .unwrap();
    while !ready.exists() {
        assert!(t0.elapsed() < Duration::from_secs(90), "sensor not ready");
        std::thread::sleep(Duration::from_millis(100));
    }
    let o = Command::new("podman")
        .args([
            "run",
            "-d",
            "--rm",
            "--network",
            "none",
            "--label",
            "app=shop",
        ])
        .args([IMAGE, "sleep", "600"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let id = String::from_utf8_lossy(&o.stdout).trim().to_string();
    Command::new("podman")
        .args(["exec", &id, "perl", "-MIO::Socket::INET", "-e"])
        .arg("IO::Socket::INET->new(PeerAddr => '192.0.2.1', PeerPort => 8443, Timeout => 1)")
        .output()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let _ = Command::new("kill")
        .args(["-TERM", &sensor.id().to_string()])
        .status();
    let st = sensor.wait().unwrap();
    let _ = Command::new("podman")
        .args(["rm", "-f", "-t", "0", &id])
        .output();
    drop(svc);
    assert_eq!(st.code(), Some(0));
    let text = std::fs::read_to_string(&flows).unwrap();
    assert!(text.contains("\"port\": 8443"), "{text}");
    let o = bulwark()
        .args(["k8s", "netpol", "suggest"])
        .arg(&flows)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // The container's policy: namespace podman, selected by app=shop, egress to the
    // peer on exactly the port seen.
    let doc = out
        .split("\n---\n")
        .find(|d| d.contains("app: shop") && d.contains("namespace: podman"))
        .unwrap_or_else(|| panic!("no policy for the container: {out}"));
    assert!(doc.contains("cidr: 192.0.2.1/32"), "{doc}");
    assert!(doc.contains("port: 8443"), "{doc}");
    assert!(doc.contains("protocol: TCP"), "{doc}");
    assert!(doc.contains("- Egress"), "{doc}");
}

/// A real container's alert reaches all three outputs of a real `bulwark sensor`:
/// syslog on a socket this test binds, a webhook receiver this test runs, and a real
/// `bulwark server` (HTTPS with a test CA, a `sensor` token) whose audit log then holds
/// the alert as `runtime.alert`.
#[test]
fn alerts_reach_syslog_webhook_and_server() {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::time::{Duration, Instant};
    if let Err(e) = bulwark_sensor::probe::preflight() {
        bulwark_fixtures::absent("BPF (root, BTF, tracefs)", &format!("{e}"));
        return;
    }
    let has_image = Command::new("podman")
        .args(["image", "exists", IMAGE])
        .status()
        .is_ok_and(|s| s.success());
    if !has_image {
        bulwark_fixtures::absent("the podman test image", &bulwark_fixtures::images_message());
        return;
    }
    let d = tempfile::tempdir().unwrap();
    // syslog receiver
    let log_sock = d.path().join("log");
    let syslog = std::os::unix::net::UnixDatagram::bind(&log_sock).unwrap();
    syslog
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    // webhook receiver: records bodies, answers 200
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let hook = format!("http://{}/alerts", l.local_addr().unwrap());
    let (htx, hrx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for stream in l.incoming().flatten() {
            let mut r = BufReader::new(stream.try_clone().unwrap());
            let (mut len, mut line) = (0usize, String::new());
            while r.read_line(&mut line).unwrap_or(0) > 0 {
                let t = line.trim_end().to_ascii_lowercase();
                if t.is_empty() {
                    break;
                }
                if let Some(v) = t.strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap();
                }
                line.clear();
            }
            let mut body = vec![0u8; len];
            r.read_exact(&mut body).unwrap();
            let _ = htx.send(String::from_utf8_lossy(&body).into_owned());
            let mut w = stream;
            let _ =
                w.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
    });
    // the bulwark server
    let pki = write_pki(d.path());
    let db = format!("sqlite:{}", d.path().join("inv.db").display());
    let tok = |role: &str| {
        let o = bulwark()
            .env_remove("BULWARK_DATABASE")
            .args([
                "server",
                "token",
                "create",
                "--database",
                &db,
                "--role",
                role,
            ])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).unwrap().trim().to_string()
    };
    let sensor_token = tok("sensor");
    let auditor = tok("auditor");
    let token_file = d.path().join("token");
    std::fs::write(&token_file, format!("{sensor_token}\n")).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let server = Service(
        bulwark()
            .env_remove("BULWARK_DATABASE")
            .args(["server", "--database", &db, "--log-format", "json"])
            .arg("--db")
            .arg(d.path().join("vulndb"))
            .arg("--cert")
            .arg(&pki.1)
            .arg("--key")
            .arg(&pki.2)
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let base = format!("https://localhost:{port}");
    let pem = std::fs::read(&pki.0).unwrap();
    let certs: Vec<_> = ureq::tls::parse_pem(&pem)
        .filter_map(|i| match i.unwrap() {
            ureq::tls::PemItem::Certificate(c) => Some(c),
            _ => None,
        })
        .collect();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .tls_config(
            ureq::tls::TlsConfig::builder()
                .root_certs(ureq::tls::RootCerts::new_with_certs(&certs))
                .build(),
        )
        .build()
        .into();
    let t0 = Instant::now();
    while !agent
        .get(&format!("{base}/readyz"))
        .call()
        .is_ok_and(|r| r.status() == 200)
    {
        assert!(t0.elapsed() < Duration::from_secs(30), "server not ready");
        std::thread::sleep(Duration::from_millis(100));
    }
    // podman API for metadata
    let api = d.path().join("api.sock");
    let svc = Service(
        Command::new("podman")
            .args(["system", "service", "--time", "0"])
            .arg(format!("unix://{}", api.display()))
            .spawn()
            .unwrap(),
    );
    while !api.exists() {
        assert!(t0.elapsed() < Duration::from_secs(60), "podman service");
        std::thread::sleep(Duration::from_millis(100));
    }
    let ready = d.path().join("ready");
    let out = d.path().join("alerts.jsonl");
    let sensor = bulwark()
        .args([
            "sensor",
            "--containers-only",
            "--duration",
            "120",
            "--syslog",
        ])
        .arg("--syslog-socket")
        .arg(&log_sock)
        .args(["--webhook", &hook, "--server", &base])
        .arg("--server-token-file")
        .arg(&token_file)
        .arg("--server-ca-file")
        .arg(&pki.0)
        .arg("--api-socket")
        .arg(&api)
        .arg("--ready-file")
        .arg(&ready)
        .arg("--output")
        .arg(&out)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    while !ready.exists() {
        assert!(t0.elapsed() < Duration::from_secs(120), "sensor not ready");
        std::thread::sleep(Duration::from_millis(100));
    }
    let o = Command::new("podman")
        .args([
            "run",
            "-d",
            "--rm",
            "--network",
            "none",
            IMAGE,
            "sleep",
            "600",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let id = String::from_utf8_lossy(&o.stdout).trim().to_string();
    Command::new("podman")
        .args(["exec", &id, "cat", "/etc/shadow"])
        .output()
        .unwrap();
    // syslog: the alert of this container
    let mut buf = vec![0u8; 65536];
    let msg = loop {
        let n = syslog.recv(&mut buf).expect("no syslog message in time");
        let m = String::from_utf8_lossy(&buf[..n]).into_owned();
        if m.contains(&id) && m.contains("Read sensitive file") {
            break m;
        }
    };
    assert!(msg.starts_with("<36>1 "), "auth.warning: {msg}");
    assert!(msg.contains(" bulwark-sensor "), "{msg}");
    // webhook: the same alert as JSON
    let body = loop {
        let b = hrx
            .recv_timeout(Duration::from_secs(20))
            .expect("no webhook call in time");
        if b.contains(&id) && b.contains("Read sensitive file") {
            break b;
        }
    };
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["container_id"], id.as_str());
    std::thread::sleep(Duration::from_millis(500));
    let _ = Command::new("kill")
        .args(["-TERM", &sensor.id().to_string()])
        .status();
    let st = sensor.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&st.stderr);
    let _ = Command::new("podman")
        .args(["rm", "-f", "-t", "0", &id])
        .output();
    drop(svc);
    assert_eq!(st.status.code(), Some(0), "{err}");
    assert!(
        err.contains("alerts dropped by output: server 0, syslog 0, webhook 0"),
        "{err}"
    );
    // server: the audit log holds it as runtime.alert, by the sensor token
    let r = agent
        .get(&format!("{base}/v1/audit?limit=1000"))
        .header("Authorization", &format!("Bearer {auditor}"))
        .call()
        .unwrap();
    assert_eq!(r.status(), 200);
    let audit: serde_json::Value =
        serde_json::from_str(&r.into_body().read_to_string().unwrap()).unwrap();
    let hit = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| {
            e["action"] == "runtime.alert"
                && e["resource"].as_str().is_some_and(|r| r.ends_with(&id))
        })
        .unwrap_or_else(|| panic!("no runtime.alert for {id}: {audit}"));
    assert_eq!(hit["role"], "sensor");
    assert_eq!(hit["decision"], "warning");
    assert!(
        hit["detail"].as_str().unwrap().contains("/etc/shadow"),
        "{hit}"
    );
    drop(server);
}
