//! The Docker-only paths (podman has no equivalent to test them on): a scripted Engine
//! API on a Unix socket answering as a Docker daemon would, with a weak and a hardened
//! daemon.json; and container inspections carrying settings podman's compat API does not
//! produce (devices, shared propagation, `--userns host`, AppArmor unconfined).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixListener;
use std::path::Path;

use bulwark_host::docker::{check_container, Runtime};
use bulwark_host::{collect, Collector, Endpoint, HostOptions, Selection};
use serde_json::json;

/// Serves `GET path` → JSON from `answer` until the listener is dropped with the test.
fn serve(sock: &Path, answer: fn(&str) -> serde_json::Value) {
    let listener = UnixListener::bind(sock).unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { return };
            let mut r = BufReader::new(s.try_clone().unwrap());
            let mut line = String::new();
            r.read_line(&mut line).unwrap();
            let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
            loop {
                let mut h = String::new();
                if r.read_line(&mut h).unwrap() == 0 || h == "\r\n" {
                    break;
                }
            }
            let body = answer(&path).to_string();
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
}

fn docker(path: &str) -> serde_json::Value {
    match path {
        "/version" => json!({"Version": "24.0.5", "Components": [
            {"Name": "Engine", "Version": "24.0.5"},
            {"Name": "containerd", "Version": "1.7.2"},
            {"Name": "runc", "Version": "1.1.7"}]}),
        "/info" => json!({
            "LiveRestoreEnabled": false,
            "LoggingDriver": "json-file",
            "SecurityOptions": ["name=seccomp,profile=builtin"],
            "RegistryConfig": {"InsecureRegistryCIDRs": ["127.0.0.0/8"],
                "IndexConfigs": {"docker.io": {"Secure": true}, "registry.lan:5000": {"Secure": false}}}
        }),
        "/containers/json" => json!([]),
        _ => json!({"message": "not found"}),
    }
}

fn opts(dir: &Path, sock: &Path) -> HostOptions {
    let mut o = HostOptions::new(Some(Endpoint::Unix(sock.to_path_buf())), None);
    o.search_path = None;
    o.paths.daemon_json = dir.join("daemon.json");
    o.paths.containers_conf = vec![];
    o.paths.sockets = vec![];
    o.paths.units = vec![];
    o.paths.etc_group = dir.join("group");
    o
}

fn ids(c: &Collector) -> BTreeSet<&str> {
    c.findings.iter().map(|f| f.check_id.as_str()).collect()
}

#[test]
fn docker_daemon_settings() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("docker.sock");
    serve(&sock, docker);
    std::fs::write(
        dir.path().join("daemon.json"),
        r#"{"hosts": ["unix:///var/run/docker.sock", "tcp://0.0.0.0:2375"], "tlskey": "KEY"}"#
            .replace("KEY", &dir.path().join("key.pem").display().to_string()),
    )
    .unwrap();
    let key = dir.path().join("key.pem");
    std::fs::write(&key, "k").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::set_permissions(
        dir.path().join("daemon.json"),
        std::fs::Permissions::from_mode(0o666),
    )
    .unwrap();
    let c = collect(&opts(dir.path(), &sock)).unwrap();
    let got = ids(&c);
    for id in [
        "BW-HOST-0001",
        "BW-HOST-0002",
        "BW-HOST-0003",
        "BW-HOST-0004",
        "BW-HOST-0005",
        "BW-HOST-0006",
        "BW-HOST-0007",
        "BW-HOST-0103",
        "BW-HOST-0107",
    ] {
        assert!(got.contains(id), "{id} missing: {got:?}");
    }
    assert!(!got.contains("BW-HOST-0008"), "seccomp is there");
    let reg = c
        .findings
        .iter()
        .find(|f| f.check_id == "BW-HOST-0007")
        .unwrap();
    assert!(
        reg.message.contains("registry.lan:5000") && !reg.message.contains("127.0.0.0/8"),
        "{}",
        reg.message
    );
    // Docker's engine, containerd and runc versions, as Go modules.
    let pkgs: BTreeSet<String> = c
        .packages
        .iter()
        .map(|p| format!("{}@{}", p.name, p.version))
        .collect();
    for p in [
        "github.com/docker/docker@v24.0.5+incompatible",
        "github.com/containerd/containerd@v1.7.2",
        "github.com/opencontainers/runc@v1.1.7",
    ] {
        assert!(pkgs.contains(p), "{p} missing: {pkgs:?}");
    }

    // The hardened daemon.json answers every daemon item the API does not.
    std::fs::write(
        dir.path().join("daemon.json"),
        r#"{"icc": false, "userns-remap": "default", "no-new-privileges": true, "live-restore": true, "log-driver": "journald", "hosts": ["tcp://0.0.0.0:2376"], "tlsverify": true}"#,
    )
    .unwrap();
    std::fs::set_permissions(
        dir.path().join("daemon.json"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let c = collect(&opts(dir.path(), &sock)).unwrap();
    let got = ids(&c);
    for id in [
        "BW-HOST-0001",
        "BW-HOST-0003",
        "BW-HOST-0005",
        "BW-HOST-0006",
        "BW-HOST-0103",
    ] {
        assert!(!got.contains(id), "{id} still fires: {got:?}");
    }
    // What only the running daemon reports still fires: live restore is off in /info.
    assert!(got.contains("BW-HOST-0002"));
}

#[test]
fn docker_tcp_without_tls_is_reported() {
    // A plain-HTTP API on loopback TCP.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { return };
            let mut r = BufReader::new(s.try_clone().unwrap());
            let mut line = String::new();
            r.read_line(&mut line).unwrap();
            let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
            loop {
                let mut h = String::new();
                if r.read_line(&mut h).unwrap() == 0 || h == "\r\n" {
                    break;
                }
            }
            let body = docker(&path).to_string();
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let mut o = opts(dir.path(), Path::new("/unused"));
    o.endpoint = Some(Endpoint::parse(&format!("tcp://{addr}")).unwrap());
    o.proc_root = None;
    o.checks = Selection::parse("CIS-DOCKER-2.7").unwrap();
    let c = collect(&o).unwrap();
    assert_eq!(c.findings.len(), 1, "{:?}", c.findings);
    assert!(c.findings[0].message.contains(&addr.to_string()));
}

#[test]
fn docker_only_container_settings() {
    let ct = json!({
        "Id": "0123456789abcdef0123456789abcdef",
        "Name": "/dev-box",
        "Config": {"Image": "example/dev:1", "User": "app"},
        "State": {"Status": "running", "Pid": 0},
        "AppArmorProfile": "unconfined",
        "Mounts": [
            {"Type": "bind", "Source": "/srv/data", "Destination": "/data", "RW": true, "Propagation": "rshared"},
            {"Type": "volume", "Source": "/var/lib/docker/volumes/x/_data", "Destination": "/x", "RW": true},
            {"Type": "bind", "Source": "/", "Destination": "/host", "RW": false}
        ],
        "HostConfig": {
            "UsernsMode": "host",
            "Devices": [{"PathOnHost": "/dev/fuse", "PathInContainer": "/dev/fuse", "CgroupPermissions": "rwm"}],
            "Memory": 1, "NanoCpus": 1, "PidsLimit": 10, "ReadonlyRootfs": true,
            "SecurityOpt": ["no-new-privileges:true"],
            "RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 10}
        }
    });
    let o = HostOptions::new(None, None);
    let mut c = Collector::new(Selection::default());
    check_container(&ct, &o, &Runtime::default(), None, &mut c);
    let got = ids(&c);
    let want: BTreeSet<&str> = [
        "BW-HOST-0206",
        "BW-HOST-0215",
        "BW-HOST-0217",
        "BW-HOST-0218",
        "BW-HOST-0219",
        "BW-HOST-0220",
    ]
    .into();
    assert_eq!(got, want);
    let m = c
        .findings
        .iter()
        .find(|f| f.check_id == "BW-HOST-0206")
        .unwrap();
    assert!(
        m.message
            .contains("host path / is mounted at /host (read-only)"),
        "{}",
        m.message
    );
    assert_eq!(m.path, "container/dev-box");
    assert_eq!(
        m.resource.as_deref(),
        Some("container dev-box (0123456789ab), image example/dev:1")
    );
}
