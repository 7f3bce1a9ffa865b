//! docker-compose checks: one hardened service with no findings, then one edit per check.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test may panic: that is its failure

use bulwark_misconfig::{scan_compose, CheckSelection, ComposeOptions, MisconfigError};

fn scan(yaml: &str) -> Vec<bulwark_core::Misconfiguration> {
    match scan_compose("compose.yaml", yaml.as_bytes(), &ComposeOptions::default()) {
        Ok(v) => v,
        Err(e) => panic!("scan failed: {e}"),
    }
}

const GOOD: &str = r#"services:
  app:
    image: example/app:1.4.2
    user: "10001:10001"
    read_only: true
    mem_limit: 256m
    pids_limit: 100
    security_opt:
      - no-new-privileges:true
    cap_drop: [ALL]
    environment:
      LOG_LEVEL: info
      DB_PASSWORD_FILE: /run/secrets/db
    ports:
      - "127.0.0.1:5432:5432"
      - "8080:8080"
    volumes:
      - ./data:/data:ro
"#;

#[test]
fn hardened_service_has_no_findings() {
    let f = scan(GOOD);
    assert!(f.is_empty(), "{f:#?}");
}

fn expect(from: &str, to: &str, id: &str, line: u32) {
    assert!(GOOD.contains(from), "bad edit {from:?}");
    let found = scan(&GOOD.replacen(from, to, 1));
    assert!(
        found.iter().any(|m| m.check_id == id
            && m.start_line == Some(line)
            && m.resource.as_deref() == Some("service app")),
        "{id} at line {line} missing: {found:#?}"
    );
}

#[test]
fn each_check_fires_on_its_line() {
    expect(
        "    read_only: true\n",
        "    read_only: true\n    privileged: true\n",
        "BW-COMPOSE-0001",
        6,
    );
    expect(
        "    read_only: true\n",
        "    read_only: true\n    network_mode: host\n",
        "BW-COMPOSE-0002",
        6,
    );
    expect(
        "    read_only: true\n",
        "    read_only: true\n    pid: host\n",
        "BW-COMPOSE-0003",
        6,
    );
    expect(
        "    read_only: true\n",
        "    read_only: true\n    ipc: \"host\"\n",
        "BW-COMPOSE-0004",
        6,
    );
    expect(
        "      - ./data:/data:ro\n",
        "      - ./data:/data:ro\n      - /var/run/docker.sock:/var/run/docker.sock\n",
        "BW-COMPOSE-0005",
        19,
    );
    expect(
        "    cap_drop: [ALL]\n",
        "    cap_drop: [ALL]\n    cap_add:\n      - NET_ADMIN\n",
        "BW-COMPOSE-0006",
        12,
    );
    expect("    user: \"10001:10001\"\n", "", "BW-COMPOSE-0007", 2);
    expect(
        "      LOG_LEVEL: info\n",
        "      LOG_LEVEL: info\n      POSTGRES_PASSWORD: hunter2hunter2\n",
        "BW-COMPOSE-0008",
        13,
    );
    expect(
        "      - no-new-privileges:true\n",
        "      - no-new-privileges:true\n      - seccomp:unconfined\n",
        "BW-COMPOSE-0009",
        10,
    );
    expect(
        "      - no-new-privileges:true\n",
        "      - no-new-privileges:true\n      - apparmor=unconfined\n",
        "BW-COMPOSE-0010",
        10,
    );
    expect(
        "      - no-new-privileges:true\n",
        "      - no-new-privileges:true\n      - label:disable\n",
        "BW-COMPOSE-0011",
        10,
    );
    expect(
        "      - \"127.0.0.1:5432:5432\"\n",
        "      - \"5432:5432\"\n",
        "BW-COMPOSE-0012",
        15,
    );
    expect(
        "    read_only: true\n",
        "    read_only: true\n    uts: host\n",
        "BW-COMPOSE-0013",
        6,
    );
    expect(
        "      - ./data:/data:ro\n",
        "      - /etc:/host-etc:ro\n",
        "BW-COMPOSE-0014",
        18,
    );
    expect("    mem_limit: 256m\n", "", "BW-COMPOSE-0015", 2);
    expect("    pids_limit: 100\n", "", "BW-COMPOSE-0016", 2);
    expect(
        "    read_only: true\n",
        "    read_only: false\n",
        "BW-COMPOSE-0017",
        5,
    );
    expect(
        "      - no-new-privileges:true\n",
        "      - label:type:svirt_t\n",
        "BW-COMPOSE-0018",
        2,
    );
    expect(
        "    read_only: true\n",
        "    read_only: true\n    devices: [\"/dev/ttyUSB0:/dev/ttyUSB0\"]\n",
        "BW-COMPOSE-0019",
        6,
    );
    expect("example/app:1.4.2", "example/app", "BW-COMPOSE-0020", 3);
    expect(
        "      - \"8080:8080\"\n",
        "      - \"80:8080\"\n",
        "BW-COMPOSE-0021",
        16,
    );
    expect("      - ./data:/data:ro\n", "      - type: bind\n        source: /srv\n        target: /srv\n        bind: {propagation: rshared}\n", "BW-COMPOSE-0022", 18);
}

#[test]
fn environment_list_form_and_long_ports() {
    let yaml = "services:\n  db:\n    image: postgres:16\n    environment:\n      - POSTGRES_USER=app\n      - POSTGRES_PASSWORD=Sup3rS3cret\n      - API_TOKEN=${TOKEN}\n    ports:\n      - target: 6379\n        published: 6379\n        host_ip: 0.0.0.0\n";
    let f = scan(yaml);
    let secrets: Vec<_> = f
        .iter()
        .filter(|m| m.check_id == "BW-COMPOSE-0008")
        .collect();
    assert_eq!(
        secrets.len(),
        1,
        "variable references are not literals: {secrets:#?}"
    );
    assert_eq!(secrets[0].start_line, Some(6));
    assert!(f
        .iter()
        .any(|m| m.check_id == "BW-COMPOSE-0012" && m.start_line == Some(9)));
}

#[test]
fn selection_suppression_and_bad_input() {
    let opts = ComposeOptions {
        sets: CheckSelection::parse("BW-COMPOSE-0001").unwrap_or_default(),
    };
    let yaml = "services:\n  a:\n    privileged: true\n  # bulwark:ignore=BW-COMPOSE-0001\n  b:\n    privileged: true\n";
    let f = scan_compose("c.yaml", yaml.as_bytes(), &opts).unwrap_or_default();
    // b's finding is kept but marked as suppressed by the comment.
    let open: Vec<_> = f.iter().filter(|m| m.suppressed.is_none()).collect();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].resource.as_deref(), Some("service a"));
    let b = f
        .iter()
        .find(|m| m.resource.as_deref() == Some("service b"));
    assert!(
        b.and_then(|m| m.suppressed.as_deref())
            .is_some_and(|why| why.starts_with("inline: BW-COMPOSE-0001")),
        "{f:?}"
    );
    assert!(scan("").is_empty());
    assert!(scan("version: '3'\n").is_empty());
    let r = scan_compose("c.yaml", b"services:\n  a: [\n", &opts);
    assert!(
        matches!(r, Err(MisconfigError::Yaml { ref path, .. }) if path == "c.yaml"),
        "{r:?}"
    );
    let r = scan_compose("c.yaml", b"\x00\x01binary", &opts);
    assert!(r.is_err_and(|e| e.is_warning()));
}

/// Docker Compose (compose-go) refuses a repeated key, so bulwark does too, naming the
/// line; Compose casts boolean fields case-insensitively, quoted or not.
#[test]
fn compose_reads_like_compose_go() {
    let dup = "services:\n  app:\n    image: x:1\n    privileged: false\n    privileged: true\n";
    match scan_compose("compose.yaml", dup.as_bytes(), &ComposeOptions::default()) {
        Err(MisconfigError::Yaml { line, message, .. }) => {
            assert_eq!(line, 5);
            assert!(message.contains("already defined at line 4"), "{message}");
        }
        other => panic!("expected a duplicate-key error, got {other:?}"),
    }
    for t in ["yes", "\"on\"", "'Y'", "TRUE", "True", "tRuE"] {
        let f = scan(&GOOD.replacen(
            "read_only: true",
            &format!("read_only: true\n    privileged: {t}"),
            1,
        ));
        assert!(
            f.iter().any(|m| m.check_id == "BW-COMPOSE-0001"),
            "privileged: {t}: {f:?}"
        );
    }
    for f in ["no", "'off'", "N", "False"] {
        let found = scan(&GOOD.replacen("read_only: true", &format!("read_only: {f}"), 1));
        assert!(!found.is_empty(), "read_only: {f}");
    }
    // Merge keys never override explicit keys in go-yaml v4.
    let merged = GOOD
        .replacen(
            "services:\n",
            "x-base: &base {privileged: true}\nservices:\n",
            1,
        )
        .replacen(
            "read_only: true",
            "read_only: true\n    privileged: false\n    <<: *base",
            1,
        );
    assert!(scan(&merged).is_empty(), "{:?}", scan(&merged));
}
