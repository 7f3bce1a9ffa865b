//! End-to-end tests of the sensor with real podman containers: the BPF programs load
//! into this kernel, real containers (the debootstrap Debian image the test suite
//! builds, `localhost/bulwark-test/debian-base:1`, no network pulls) do each shipped
//! rule's bad thing, and the alerts are checked: exactly the expected rule, with the
//! right container id and image (from a `podman system service` socket these tests
//! start). Kill is checked by whether the offending process could run its next
//! command; a benign workload must raise nothing.
//!
//! Skips (with the reason) where BPF, root or podman are unavailable; fails instead
//! under `BULWARK_REQUIRE_ALL=1` / `CI`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bulwark_sensor::flows::FlowRecorder;
use bulwark_sensor::output::Sink;
use bulwark_sensor::profile::Profiles;
use bulwark_sensor::rules::{RuleSet, DEFAULT_RULES, DEFAULT_RULES_NAME};
use bulwark_sensor::{Config, Stats};

const IMAGE: &str = "localhost/bulwark-test/debian-base:1";

#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);
impl Write for Shared {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Whether BPF, root and podman with the test image are here; else skip (or fail).
fn available() -> bool {
    if let Err(e) = bulwark_sensor::probe::preflight() {
        bulwark_fixtures::absent(
            "BPF (root, BTF, tracefs)",
            &format!("the sensor cannot start: {e}"),
        );
        return false;
    }
    let podman = Command::new("podman").arg("--version").output();
    if !podman.map(|o| o.status.success()).unwrap_or(false) {
        bulwark_fixtures::absent(
            "podman",
            "podman is not installed (scripts/setup-test-env.sh installs it)",
        );
        return false;
    }
    let has = Command::new("podman")
        .args(["image", "exists", IMAGE])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !has {
        // Import it from the debootstrap root filesystem when the images were built.
        let rootfs = bulwark_fixtures::images_location().join("work/rootfs");
        if rootfs.is_dir() {
            let ok = Command::new("sh")
                .arg("-c")
                .arg(format!(
                    "tar -C '{}' -c . | podman import - {IMAGE}",
                    rootfs.display()
                ))
                .stdout(Stdio::null())
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            if ok {
                return true;
            }
        }
        bulwark_fixtures::absent("the podman test image", &bulwark_fixtures::images_message());
        return false;
    }
    true
}

/// `podman system service` on a socket of our own, stopped on drop.
struct Service {
    child: Child,
    sock: PathBuf,
    _dir: tempfile::TempDir,
}

impl Service {
    fn start() -> Service {
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("podman.sock");
        let child = Command::new("podman")
            .args(["system", "service", "--time", "0"])
            .arg(format!("unix://{}", sock.display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let c = bulwark_sensor::podman::Client::new(&sock);
        let t0 = Instant::now();
        while c.ping().is_err() {
            assert!(
                t0.elapsed() < Duration::from_secs(30),
                "podman system service did not answer on {}",
                sock.display()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Service {
            child,
            sock,
            _dir: dir,
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A running sensor with its alerts.
struct Sensor {
    out: Shared,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<Result<Stats, String>>>,
}

impl Sensor {
    fn start(rules: RuleSet, api: &Path) -> Sensor {
        Sensor::start_with(rules, api, None, None)
    }

    fn start_with(
        rules: RuleSet,
        api: &Path,
        profiles: Option<Profiles>,
        flows: Option<FlowRecorder>,
    ) -> Sensor {
        let out = Shared::default();
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, rx) = std::sync::mpsc::channel();
        let cfg = Config {
            rules,
            sink: Sink::new(Box::new(out.clone())),
            dry_run: false,
            containers_only: true,
            duration: Some(Duration::from_secs(600)),
            api_socket: Some(api.to_path_buf()),
            ringbuf_bytes: 16 << 20,
            stop: stop.clone(),
            on_ready: Some(Box::new(move || {
                let _ = tx.send(());
            })),
            profiles,
            flows,
            // This kernel has no module support: the "Kernel module loaded" rule is
            // exercised through the raw_syscalls fallback.
            module_attempts: true,
            container_changes: None,
        };
        let thread =
            std::thread::spawn(move || bulwark_sensor::run(cfg).map_err(|e| format!("{e:?}")));
        if rx.recv_timeout(Duration::from_secs(60)).is_err() {
            let r = thread.join().unwrap();
            panic!("sensor did not start: {r:?}");
        }
        Sensor {
            out,
            stop,
            thread: Some(thread),
        }
    }

    /// Alert lines so far, parsed, and forgets them.
    fn take(&self) -> Vec<serde_json::Value> {
        let mut b = self.out.0.lock().unwrap();
        let v = String::from_utf8_lossy(&b)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        b.clear();
        v
    }

    fn stop(mut self) -> Stats {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.take().unwrap().join().unwrap().unwrap()
    }
}

impl Drop for Sensor {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// A container running `sleep`, removed on drop.
struct Container {
    id: String,
}

impl Container {
    fn run(extra: &[&str]) -> Container {
        Container::run_image(IMAGE, extra)
    }

    fn run_image(image: &str, extra: &[&str]) -> Container {
        let mut c = Command::new("podman");
        c.args(["run", "-d", "--rm", "--network", "none"]);
        c.args(extra);
        c.args([image, "sleep", "600"]);
        let o = c.output().unwrap();
        assert!(
            o.status.success(),
            "podman run failed: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        Container {
            id: String::from_utf8_lossy(&o.stdout).trim().to_string(),
        }
    }

    /// `podman exec` (output ignored; the bad things are expected to fail).
    fn exec(&self, args: &[&str]) -> std::process::Output {
        Command::new("podman")
            .arg("exec")
            .arg(&self.id)
            .args(args)
            .output()
            .unwrap()
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = Command::new("podman")
            .args(["rm", "-f", "-t", "0", &self.id])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

fn defaults() -> RuleSet {
    RuleSet::from_sources(&[(DEFAULT_RULES_NAME.to_string(), DEFAULT_RULES.to_string())]).unwrap()
}

/// Waits until an alert of `rule` for container `id` arrives (or `wait` passes), then a
/// little longer for stray alerts; returns this container's alerts.
fn collect(s: &Sensor, id: &str, rule: Option<&str>, wait: Duration) -> Vec<serde_json::Value> {
    let t0 = Instant::now();
    let mut got = Vec::new();
    loop {
        got.extend(s.take().into_iter().filter(|a| a["container_id"] == id));
        let seen = rule.is_some_and(|r| got.iter().any(|a| a["rule"] == r));
        if seen || t0.elapsed() > wait {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(400));
    got.extend(s.take().into_iter().filter(|a| a["container_id"] == id));
    got
}

fn rules_of(alerts: &[serde_json::Value]) -> Vec<String> {
    let mut v: Vec<String> = alerts
        .iter()
        .map(|a| a["rule"].as_str().unwrap_or("").to_string())
        .collect();
    v.sort();
    v.dedup();
    v
}

/// Each shipped rule's bad thing, done in a real container, raises exactly that rule's
/// alert, attributed to the container and its image.
#[test]
fn each_shipped_rule_raises_exactly_its_alert() {
    if !available() {
        return;
    }
    let svc = Service::start();
    let sensor = Sensor::start(defaults(), &svc.sock);
    let c = Container::run(&[]);
    // Let the container's start settle, and check it raised nothing.
    let start = collect(&sensor, &c.id, None, Duration::from_millis(800));
    assert!(
        start.is_empty(),
        "container start raised {:?}",
        rules_of(&start)
    );
    let perl_memfd = r#"my $n = "payload"; my $fd = syscall(319, $n, 0); die "memfd: $!" if $fd < 0; open(my $src, "<", "/bin/true") or die; binmode $src; local $/; my $b = <$src>; open(my $dst, ">&=", $fd) or die; binmode $dst; print $dst $b; $dst->flush; exec {"/proc/self/fd/$fd"} "payload";"#;
    // Podman's default seccomp profile refuses bpf(), init_module and finit_module before
    // any tracepoint runs: those attempts need a container without it, as a real
    // breakout through them would.
    let unconfined = Container::run(&["--security-opt", "seccomp=unconfined"]);
    let start = collect(&sensor, &unconfined.id, None, Duration::from_millis(800));
    assert!(
        start.is_empty(),
        "container start raised {:?}",
        rules_of(&start)
    );
    let cases: Vec<(&str, Vec<&str>)> = vec![
        ("Shell spawned in container", vec!["sh", "-c", "exit 0"]),
        (
            "Write below binary or etc directory",
            vec!["touch", "/etc/bulwark-e2e"],
        ),
        ("Read sensitive file", vec!["cat", "/etc/shadow"]),
        (
            "Read sensitive file",
            vec!["cat", "/var/run/secrets/kubernetes.io/serviceaccount/token"],
        ),
        (
            "Mount in container",
            vec!["mount", "-t", "tmpfs", "none", "/mnt"],
        ),
        (
            "Namespace change in container",
            vec!["perl", "-e", "syscall(308, 0, 0)"],
        ),
        (
            "Unshare in container",
            vec!["perl", "-e", "syscall(272, 0x20000)"],
        ),
        (
            "Kernel module loaded",
            vec!["perl", "-e", "my $p = q(); syscall(313, -1, $p, 0)"],
        ),
        (
            "Ptrace attached to process",
            vec!["perl", "-e", "syscall(101, 16, 1, 0, 0)"],
        ),
        (
            "BPF syscall from container",
            vec!["perl", "-e", "syscall(321, 5, 0, 0)"],
        ),
        (
            "Container runtime socket access",
            vec!["cat", "/var/run/docker.sock"],
        ),
        (
            "Namespace tool run in container",
            vec!["chroot", "/", "/bin/true"],
        ),
        (
            "Outbound connection to unexpected port",
            vec![
                "perl",
                "-MIO::Socket::INET",
                "-e",
                "IO::Socket::INET->new(PeerAddr => '192.0.2.1', PeerPort => 6666, Timeout => 1)",
            ],
        ),
        (
            "Connection to mining pool port",
            vec![
                "perl",
                "-MIO::Socket::INET",
                "-e",
                "IO::Socket::INET->new(PeerAddr => '192.0.2.1', PeerPort => 3333, Timeout => 1)",
            ],
        ),
        (
            "Fileless execution via memfd",
            vec!["perl", "-e", perl_memfd],
        ),
        (
            "Setuid or setgid bit set",
            vec!["chmod", "4755", "/usr/bin/env"],
        ),
        (
            "Cgroup release_agent or kernel helper write",
            vec!["touch", "/proc/sys/kernel/core_pattern"],
        ),
        (
            "Capabilities raised in container",
            vec![
                "perl",
                "-e",
                "my $h = pack('LL', 0x20080522, 0); my $d = pack('L6', 1 << 21, 1 << 21, 0, 0, 0, 0); syscall(126, $h, $d)",
            ],
        ),
        (
            "Setuid to root in container",
            vec![
                "setpriv",
                "--reuid=1000",
                "--clear-groups",
                "perl",
                "-e",
                "syscall(105, 0)",
            ],
        ),
    ];
    let mut failures = Vec::new();
    for (rule, cmd) in &cases {
        let c = if matches!(*rule, "Kernel module loaded" | "BPF syscall from container") {
            &unconfined
        } else {
            &c
        };
        c.exec(cmd);
        let alerts = collect(&sensor, &c.id, Some(rule), Duration::from_secs(5));
        let got = rules_of(&alerts);
        if got != vec![rule.to_string()] {
            failures.push(format!("{cmd:?}: expected exactly [{rule}], got {got:?}"));
            continue;
        }
        for a in &alerts {
            assert_eq!(a["container_id"], c.id.as_str());
            assert_eq!(a["image"], IMAGE, "{a}");
            assert!(
                a["image_digest"]
                    .as_str()
                    .is_some_and(|d| d.starts_with("sha256:")),
                "{a}"
            );
            assert!(a["pid"].as_u64().is_some_and(|p| p > 1), "{a}");
            assert!(!a["proc_name"].as_str().unwrap_or("").is_empty(), "{a}");
            assert!(
                a["time"].as_str().is_some_and(|t| t.starts_with("20")),
                "{a}"
            );
            assert!(a["event"]["evt.type"].is_string(), "{a}");
        }
    }
    let stats = sensor.stop();
    assert!(
        failures.is_empty(),
        "{} of {} cases wrong:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    assert_eq!(stats.drops, 0, "{stats:?}");
}

/// A privileged container's start raises "Privileged container started" with its id;
/// a container with a sensitive host mount raises "Container with sensitive mount started".
#[test]
fn privileged_container_start_is_reported() {
    if !available() {
        return;
    }
    let svc = Service::start();
    let sensor = Sensor::start(defaults(), &svc.sock);
    let c = Container::run(&["--privileged"]);
    let alerts = collect(
        &sensor,
        &c.id,
        Some("Privileged container started"),
        Duration::from_secs(10),
    );
    assert_eq!(
        rules_of(&alerts),
        vec!["Privileged container started"],
        "{alerts:?}"
    );
    assert_eq!(alerts[0]["event"]["proc.vpid"], 1);
    assert_eq!(alerts[0]["image"], IMAGE);
    // an unprivileged container does not raise it
    let c2 = Container::run(&[]);
    let alerts = collect(&sensor, &c2.id, None, Duration::from_secs(2));
    assert!(alerts.is_empty(), "{alerts:?}");
    // a container with the host's /etc mounted raises the sensitive-mount rule only
    let c3 = Container::run(&["-v", "/etc:/hostetc:ro"]);
    let alerts = collect(
        &sensor,
        &c3.id,
        Some("Container with sensitive mount started"),
        Duration::from_secs(10),
    );
    assert_eq!(
        rules_of(&alerts),
        vec!["Container with sensitive mount started"],
        "{alerts:?}"
    );
    sensor.stop();
}

/// A benign workload — a web server answering requests, ordinary commands, files
/// written below /tmp — raises nothing.
#[test]
fn benign_workload_raises_nothing() {
    if !available() {
        return;
    }
    let svc = Service::start();
    let sensor = Sensor::start(defaults(), &svc.sock);
    let c = Container::run(&[]);
    let server = r#"use IO::Socket::INET; my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 8080, Listen => 5, ReuseAddr => 1) or die $!; open(my $r, '>', '/tmp/ready'); close $r; for (1..20) { my $c = $s->accept or next; my $req = <$c>; print $c "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nhello\n"; close $c; }"#;
    let client = r#"use IO::Socket::INET; sleep 1 until -e '/tmp/ready'; my $ok = 0; for (1..20) { my $c = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => 8080) or die $!; print $c "GET / HTTP/1.0\r\n\r\n"; my $l = <$c>; $ok++ if $l =~ /200/; } print "$ok\n";"#;
    let srv = Command::new("podman")
        .args(["exec", &c.id, "perl", "-e", server])
        .spawn()
        .unwrap();
    let out = c.exec(&["perl", "-e", client]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "20",
        "web server answered every request"
    );
    let mut srv = srv;
    let _ = srv.wait();
    for cmd in [
        vec!["ls", "-la", "/"],
        vec!["cat", "/etc/os-release"],
        vec!["id"],
        vec!["touch", "/tmp/app.log"],
        vec!["cp", "/etc/passwd", "/tmp/passwd.copy"],
        vec!["date"],
        vec!["ps", "-ef"],
    ] {
        c.exec(&cmd);
    }
    let alerts = collect(&sensor, &c.id, None, Duration::from_secs(2));
    assert!(
        alerts.is_empty(),
        "benign workload raised {:?}: {alerts:?}",
        rules_of(&alerts)
    );
    sensor.stop();
}

fn kill_rules(extra: &str) -> RuleSet {
    let over = format!(
        "- rule: Namespace tool run in container\n  actions: [kill]\n  override: {{actions: replace}}\n- rule: Ptrace attached to process\n  actions: [kill]\n  override: {{actions: replace}}\n{extra}"
    );
    RuleSet::from_sources(&[
        (DEFAULT_RULES_NAME.to_string(), DEFAULT_RULES.to_string()),
        ("kill.yaml".to_string(), over),
    ])
    .unwrap()
}

/// With kill on, the offending process is dead before it can run its next command:
/// in the kernel (bpf_send_signal at the exec of a listed tool), and from user space
/// (SIGKILL after the rule matched; latency reported).
#[test]
fn kill_stops_the_process_before_its_next_command() {
    if !available() {
        return;
    }
    let svc = Service::start();
    let sensor = Sensor::start(kill_rules(""), &svc.sock);
    let c = Container::run(&[]);
    collect(&sensor, &c.id, None, Duration::from_millis(500));

    // In the kernel: chroot is killed at its exec, so its command never runs.
    let o = c.exec(&["chroot", "/", "/bin/touch", "/tmp/after-chroot"]);
    assert!(!o.status.success());
    let alerts = collect(
        &sensor,
        &c.id,
        Some("Namespace tool run in container"),
        Duration::from_secs(5),
    );
    assert_eq!(
        rules_of(&alerts),
        vec!["Namespace tool run in container"],
        "{alerts:?}"
    );
    assert_eq!(alerts[0]["actions"][0]["action"], "kill");
    assert_eq!(
        alerts[0]["actions"][0]["result"], "in-kernel",
        "{}",
        alerts[0]
    );
    let check = c.exec(&["test", "-e", "/tmp/after-chroot"]);
    assert!(
        !check.status.success(),
        "chroot ran its command although killed"
    );

    // From user space: ptrace(ATTACH) matches a rule with an argument test (not a kernel
    // shape); the process is killed before the command it runs next.
    let o = c.exec(&[
        "perl",
        "-e",
        "syscall(101, 16, 1, 0, 0); system('/bin/touch', '/tmp/after-ptrace');",
    ]);
    let alerts = collect(
        &sensor,
        &c.id,
        Some("Ptrace attached to process"),
        Duration::from_secs(5),
    );
    let a = alerts
        .iter()
        .find(|a| a["rule"] == "Ptrace attached to process")
        .expect("ptrace alert");
    assert_eq!(a["actions"][0]["result"], "done", "{a}");
    assert!(!o.status.success(), "perl not killed: {a}");
    let lat = a["actions"][0]["latency_us"].as_u64().unwrap();
    eprintln!("user-space kill latency: {lat} us");
    let check = c.exec(&["test", "-e", "/tmp/after-ptrace"]);
    assert!(
        !check.status.success(),
        "perl ran its next command although killed ({lat} us)"
    );
    // A ptrace the kill rule does not match (PTRACE_PEEKDATA) is held by the kernel
    // only until user space has decided, then continues.
    let t0 = Instant::now();
    let o = c.exec(&["perl", "-e", "syscall(101, 2, 1, 0, 0); print qq(alive\n);"]);
    assert!(o.status.success(), "{o:?}");
    assert_eq!(String::from_utf8_lossy(&o.stdout), "alive\n");
    assert!(t0.elapsed() < Duration::from_secs(5));
    let alerts = collect(&sensor, &c.id, None, Duration::from_millis(500));
    assert!(alerts.is_empty(), "{alerts:?}");
    let stats = sensor.stop();
    // The sensor watches every container: tests running at the same time (the shipped
    // rules' ptrace case) may add kills of their own, so this container's are checked
    // above through its alerts, and the totals only bound them from below.
    assert!(stats.kills >= 1, "{stats:?}");
    assert!(stats.kernel_kills >= 1, "{stats:?}");
}

/// --dry-run reports the kill it would do and does not do it.
#[test]
fn dry_run_does_not_kill() {
    if !available() {
        return;
    }
    let svc = Service::start();
    let out = Shared::default();
    let stop = Arc::new(AtomicBool::new(false));
    let (tx, rx) = std::sync::mpsc::channel();
    let cfg = Config {
        rules: kill_rules(""),
        sink: Sink::new(Box::new(out.clone())),
        dry_run: true,
        containers_only: true,
        duration: Some(Duration::from_secs(300)),
        api_socket: Some(svc.sock.clone()),
        ringbuf_bytes: 1 << 20,
        stop: stop.clone(),
        on_ready: Some(Box::new(move || {
            let _ = tx.send(());
        })),
        profiles: None,
        flows: None,
        module_attempts: true,
        container_changes: None,
    };
    let th = std::thread::spawn(move || bulwark_sensor::run(cfg).map_err(|e| e.to_string()));
    rx.recv_timeout(Duration::from_secs(60)).unwrap();
    let s = Sensor {
        out,
        stop,
        thread: Some(th),
    };
    let c = Container::run(&[]);
    let o = c.exec(&["chroot", "/", "/bin/touch", "/tmp/after"]);
    assert!(o.status.success(), "dry run must not kill: {o:?}");
    let alerts = collect(
        &s,
        &c.id,
        Some("Namespace tool run in container"),
        Duration::from_secs(5),
    );
    assert_eq!(
        alerts[0]["actions"][0]["result"], "dry-run",
        "{}",
        alerts[0]
    );
    let stats = s.stop();
    assert_eq!(stats.kills + stats.kernel_kills, 0);
}

/// Drift: a binary copied into a running container and executed raises the drift rule
/// (and only it); running the image's own binaries does not.
#[test]
fn drift_new_binary_copied_into_running_container() {
    if !available() {
        return;
    }
    let svc = Service::start();
    let sensor = Sensor::start(defaults(), &svc.sock);
    let c = Container::run(&[]);
    collect(&sensor, &c.id, None, Duration::from_millis(800));
    let o = c.exec(&["/usr/bin/true"]);
    assert!(o.status.success());
    let alerts = collect(&sensor, &c.id, None, Duration::from_millis(1500));
    assert!(
        alerts.is_empty(),
        "image binary raised {:?}",
        rules_of(&alerts)
    );
    let cp = Command::new("podman")
        .args(["cp", "/usr/bin/true"])
        .arg(format!("{}:/usr/local/bin/dropped", c.id))
        .output()
        .unwrap();
    assert!(
        cp.status.success(),
        "podman cp: {}",
        String::from_utf8_lossy(&cp.stderr)
    );
    let o = c.exec(&["/usr/local/bin/dropped"]);
    assert!(o.status.success());
    let alerts = collect(
        &sensor,
        &c.id,
        Some("Drift - new executable run in container"),
        Duration::from_secs(5),
    );
    assert_eq!(
        rules_of(&alerts),
        vec!["Drift - new executable run in container"],
        "{alerts:?}"
    );
    assert_eq!(alerts[0]["event"]["proc.exe"], "/usr/local/bin/dropped");
    assert_eq!(alerts[0]["image"], IMAGE);
    sensor.stop();
}

/// An image of its own for a test (the test image plus a label: another image id, so
/// other tests' containers running concurrently do not share its profile).
fn own_image(tag: &str) -> String {
    let name = format!("localhost/bulwark-test/{tag}:1");
    let d = tempfile::tempdir().unwrap();
    std::fs::write(
        d.path().join("Containerfile"),
        format!("FROM {IMAGE}\nLABEL bulwark.test={tag}\n"),
    )
    .unwrap();
    let o = Command::new("podman")
        .args(["build", "-q", "--network", "none", "-t", &name])
        .arg(d.path())
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "podman build: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    name
}

fn connect_cmd(port: u16) -> Vec<String> {
    vec![
        "perl".into(),
        "-MIO::Socket::INET".into(),
        "-e".into(),
        format!("IO::Socket::INET->new(PeerAddr => '192.0.2.1', PeerPort => {port}, Timeout => 1)"),
    ]
}

/// Learned profiles: during a short window the container's behaviour (commands, files,
/// an outbound connection, a package-manager run) is learned and written to the
/// profile; after it, doing the learned things again raises nothing, and a new binary
/// and a new port raise exactly their anomaly alerts. A profile the user edited (a
/// process added) is honoured by the next sensor.
#[test]
fn learned_profile_raises_only_new_behaviour() {
    if !available() {
        return;
    }
    const LEARN: Duration = Duration::from_secs(20);
    let svc = Service::start();
    let dir = tempfile::tempdir().unwrap();
    let profiles = Profiles::load(dir.path(), LEARN).unwrap();
    let none = RuleSet::from_sources(&[]).unwrap();
    let image = own_image("profile-e2e");
    let sensor = Sensor::start_with(none, &svc.sock, Some(profiles), None);
    let t0 = Instant::now();
    let c = Container::run_image(&image, &[]);
    let learned: Vec<Vec<String>> = vec![
        vec!["cat".into(), "/etc/os-release".into()],
        vec!["ls".into(), "-la".into(), "/".into()],
        vec!["touch".into(), "/tmp/app.log".into()],
        connect_cmd(6666),
        // a benign package-manager run
        vec!["dpkg".into(), "-l".into()],
        vec!["apt-get".into(), "check".into()],
        vec!["apt-cache".into(), "policy".into(), "coreutils".into()],
    ];
    let run_all = |cmds: &[Vec<String>]| {
        for cmd in cmds {
            let args: Vec<&str> = cmd.iter().map(String::as_str).collect();
            c.exec(&args);
        }
    };
    // Twice, as a workload repeats itself: the package manager's first run builds its
    // caches, later runs read them.
    run_all(&learned);
    run_all(&learned);
    eprintln!("learning commands took {:?}", t0.elapsed());
    assert!(
        t0.elapsed() < LEARN - Duration::from_secs(1),
        "the learning commands took {:?}, longer than the window: the test cannot tell",
        t0.elapsed()
    );
    let during = collect(&sensor, &c.id, None, Duration::from_millis(300));
    assert!(during.is_empty(), "alerts while learning: {during:?}");
    // The window closes; the profile is written.
    let files = loop {
        let f = bulwark_sensor::profile::read_dir_files(dir.path()).unwrap();
        // Other tests' containers (other images) may have profiles here too.
        if f.values().any(|p| p.image == image && p.learned.complete) {
            break f;
        }
        assert!(
            t0.elapsed() < LEARN + Duration::from_secs(20),
            "no complete profile written: {f:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let (key, prof) = files.iter().find(|(_, p)| p.image == image).unwrap();
    assert!(key.starts_with("sha256:"), "keyed by digest: {key}");
    assert_eq!(prof.image, image);
    eprintln!(
        "learned profile: {} processes, {} read and {} write directories, {} peers",
        prof.processes.len(),
        prof.files.read.len(),
        prof.files.write.len(),
        prof.outbound.len()
    );
    assert!(
        prof.files.read.len() + prof.files.write.len() < 100,
        "the directory rule keeps a profile small: {:?}",
        prof.files
    );
    let exes: Vec<&str> = prof.processes.iter().map(|p| p.exe.as_str()).collect();
    for want in [
        "/usr/bin/cat",
        "/usr/bin/dpkg",
        "/usr/bin/apt-get",
        "/usr/bin/perl",
    ] {
        assert!(exes.contains(&want), "{want} not in {exes:?}");
    }
    assert!(!exes.contains(&"/usr/bin/uname"), "{exes:?}");
    assert!(
        prof.files.read.iter().any(|d| d == "/etc"),
        "{:?}",
        prof.files
    );
    assert!(
        prof.files.write.iter().any(|d| d == "/tmp"),
        "{:?}",
        prof.files
    );
    assert!(
        prof.outbound
            .iter()
            .any(|p| p.cidr == "192.0.2.1" && p.port == 6666 && p.protocol == "TCP"),
        "{:?}",
        prof.outbound
    );
    let text = std::fs::read_to_string(dir.path().join(format!("{}.json", key.replace(':', "_"))))
        .unwrap();
    assert!(text.contains("\"complete\": true"), "{text}");

    // The learned things again, and the package manager again: nothing.
    run_all(&learned);
    let again = collect(&sensor, &c.id, None, Duration::from_millis(1500));
    assert!(
        again.is_empty(),
        "learned behaviour raised {:?}: {again:?}\nprofile: {prof:?}",
        rules_of(&again)
    );

    // A binary not seen (whose files are all in learned directories): exactly the
    // process anomaly.
    c.exec(&["uname", "-a"]);
    let got = collect(
        &sensor,
        &c.id,
        Some("Anomaly: new process"),
        Duration::from_secs(5),
    );
    assert_eq!(rules_of(&got), vec!["Anomaly: new process"], "{got:?}");
    assert_eq!(got.len(), 1, "{got:?}");
    let a = &got[0];
    assert_eq!(a["priority"], "WARNING");
    assert_eq!(a["image"], image.as_str());
    assert_eq!(a["event"]["proc.exe"], "/usr/bin/uname", "{a}");
    assert!(
        a["tags"].as_array().unwrap().iter().any(|t| t == "anomaly"),
        "{a}"
    );
    // A new port: exactly the connection anomaly.
    let cmd = connect_cmd(7777);
    let args: Vec<&str> = cmd.iter().map(String::as_str).collect();
    c.exec(&args);
    let got = collect(
        &sensor,
        &c.id,
        Some("Anomaly: new outbound connection"),
        Duration::from_secs(5),
    );
    assert_eq!(
        rules_of(&got),
        vec!["Anomaly: new outbound connection"],
        "{got:?}"
    );
    assert_eq!(got[0]["event"]["fd.sport"], 7777, "{}", got[0]);
    let stats = sensor.stop();
    assert!(stats.anomalies >= 2, "{stats:?}");

    // The user adds /usr/bin/uname to the profile: the next sensor honours it.
    let path = dir.path().join(format!("{}.json", key.replace(':', "_")));
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    v["processes"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({"exe": "/usr/bin/uname", "name": "uname"}));
    std::fs::write(&path, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
    let profiles = Profiles::load(dir.path(), LEARN).unwrap();
    let sensor = Sensor::start_with(
        RuleSet::from_sources(&[]).unwrap(),
        &svc.sock,
        Some(profiles),
        None,
    );
    c.exec(&["uname", "-a"]);
    c.exec(&["whoami"]);
    let got = collect(
        &sensor,
        &c.id,
        Some("Anomaly: new process"),
        Duration::from_secs(5),
    );
    assert_eq!(rules_of(&got), vec!["Anomaly: new process"], "{got:?}");
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0]["event"]["proc.exe"], "/usr/bin/whoami", "{}", got[0]);
    sensor.stop();
}

/// Outbound connections of a real container are exported in the flow format, mapped to
/// the container's namespace and labels.
#[test]
fn flows_are_exported_for_a_container() {
    if !available() {
        return;
    }
    let svc = Service::start();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("flows.json");
    let sensor = Sensor::start_with(
        RuleSet::from_sources(&[]).unwrap(),
        &svc.sock,
        None,
        Some(FlowRecorder::new(path.clone())),
    );
    let c = Container::run(&["--label", "app=shop", "--label", "bulwark.namespace=prod"]);
    for _ in 0..3 {
        let cmd = connect_cmd(8443);
        let args: Vec<&str> = cmd.iter().map(String::as_str).collect();
        c.exec(&args);
    }
    // The periodic write (every 10 s) has it before the sensor stops.
    let t0 = Instant::now();
    loop {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        if text.contains("\"prod\"") && text.contains("8443") {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(25),
            "no periodic flow write: {text}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    let stats = sensor.stop();
    assert!(stats.flows >= 1, "{stats:?}");
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(v["version"], 1);
    // Other tests' containers may connect at the same time: this container's flows only.
    let ours: Vec<&serde_json::Value> = v["flows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["source"]["namespace"] == "prod")
        .collect();
    assert_eq!(ours.len(), 1, "{v}");
    let f = ours[0];
    assert_eq!(f["source"]["namespace"], "prod", "{v}");
    assert_eq!(
        f["source"]["labels"],
        serde_json::json!({"app": "shop"}),
        "{v}"
    );
    assert_eq!(f["destination"]["ip"], "192.0.2.1", "{v}");
    assert_eq!(f["port"], 8443);
    assert_eq!(f["protocol"], "TCP");
    assert_eq!(f["count"], 3, "{v}");
}

/// Two containers on podman's bridge network: the client's connection to the server's
/// address names the server container (its namespace and labels) as the destination,
/// so `netpol suggest` can write a pod-to-pod rule.
#[test]
fn flows_between_containers_name_both_ends() {
    if !available() {
        return;
    }
    let svc = Service::start();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("flows.json");
    let sensor = Sensor::start_with(
        RuleSet::from_sources(&[]).unwrap(),
        &svc.sock,
        None,
        Some(FlowRecorder::new(path.clone())),
    );
    let run = |args: &[&str]| {
        let o = Command::new("podman")
            .args(["run", "-d", "--rm"])
            .args(args)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        Container {
            id: String::from_utf8_lossy(&o.stdout).trim().to_string(),
        }
    };
    let server = run(&[
        "--label",
        "app=api",
        "--label",
        "bulwark.namespace=shop",
        IMAGE,
        "perl",
        "-MIO::Socket::INET",
        "-e",
        "my $s = IO::Socket::INET->new(LocalAddr => '0.0.0.0', LocalPort => 8080, Listen => 5, ReuseAddr => 1) or die; while (my $c = $s->accept) { print $c qq(hi\\n); close $c }",
    ]);
    let ip = Command::new("podman")
        .args([
            "inspect",
            "-f",
            "{{.NetworkSettings.IPAddress}}",
            &server.id,
        ])
        .output()
        .unwrap();
    let ip = String::from_utf8_lossy(&ip.stdout).trim().to_string();
    assert!(
        ip.parse::<std::net::Ipv4Addr>().is_ok(),
        "server address {ip:?}"
    );
    let client = run(&[
        "--label",
        "app=web",
        "--label",
        "bulwark.namespace=shop",
        IMAGE,
        "sleep",
        "600",
    ]);
    std::thread::sleep(Duration::from_millis(500));
    let o = client.exec(&[
        "perl",
        "-MIO::Socket::INET",
        "-e",
        &format!("my $c = IO::Socket::INET->new(PeerAddr => '{ip}', PeerPort => 8080, Timeout => 3) or die qq(connect: $!); print <$c>;"),
    ]);
    assert_eq!(String::from_utf8_lossy(&o.stdout), "hi\n", "{o:?}");
    // And from the host (not a container): the server's accept records that one.
    {
        use std::io::Read;
        let mut s = std::net::TcpStream::connect((ip.as_str(), 8080)).unwrap();
        let mut b = String::new();
        s.read_to_string(&mut b).unwrap();
        assert_eq!(b, "hi\n");
    }
    std::thread::sleep(Duration::from_millis(500));
    sensor.stop();
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let f = v["flows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["source"]["labels"]["app"] == "web" && f["port"] == 8080)
        .unwrap_or_else(|| panic!("no flow from the client: {v}"));
    assert_eq!(f["source"]["namespace"], "shop");
    assert_eq!(f["destination"]["namespace"], "shop", "{f}");
    assert_eq!(
        f["destination"]["labels"],
        serde_json::json!({"app": "api"}),
        "{f}"
    );
    assert!(f["destination"]["ip"].is_null(), "{f}");
    assert_eq!(f["protocol"], "TCP");
    // Accepted connections: the host's, from its address to the server container; the
    // client container's connection is not counted a second time at the accept.
    let inbound: Vec<&serde_json::Value> = v["flows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["destination"]["labels"]["app"] == "api" && f["port"] == 8080)
        .collect();
    assert_eq!(inbound.len(), 2, "{v}");
    let from_host = inbound
        .iter()
        .find(|f| f["source"]["ip"].is_string())
        .unwrap_or_else(|| panic!("no accepted flow from the host: {v}"));
    assert!(from_host["source"]["labels"].is_null(), "{from_host}");
    assert_eq!(from_host["count"], 1, "{from_host}");
}

/// With the shipped rules, read-only opens no rule can match are dropped in the kernel
/// (counted, never events); the reads the rules want still arrive, including spellings
/// of a sensitive path that are not canonical (kept by the kernel, made canonical in
/// user space), and opens for writing are never filtered.
#[test]
fn read_only_opens_are_filtered_in_the_kernel_without_losing_a_rule() {
    if !available() {
        return;
    }
    let svc = Service::start();
    let sensor = Sensor::start(defaults(), &svc.sock);
    let c = Container::run(&[]);
    let _ = collect(&sensor, &c.id, None, Duration::from_millis(800));
    // 2,000 reads of a file no rule names.
    let o = c.exec(&[
        "perl",
        "-e",
        r#"for (1..2000) { open(my $f, "<", "/etc/hostname") or die "$!"; close $f }"#,
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let quiet = collect(&sensor, &c.id, None, Duration::from_millis(300));
    assert!(
        quiet.is_empty(),
        "benign reads raised {:?}",
        rules_of(&quiet)
    );
    for path in ["/etc//shadow", "/tmp/../etc/shadow", "/etc/./gshadow"] {
        c.exec(&["cat", path]);
        let got = collect(
            &sensor,
            &c.id,
            Some("Read sensitive file"),
            Duration::from_secs(10),
        );
        let hit = got
            .iter()
            .find(|a| a["rule"] == "Read sensitive file")
            .unwrap_or_else(|| panic!("{path}: no alert, got {:?}", rules_of(&got)));
        let want = if path.ends_with("gshadow") {
            "/etc/gshadow"
        } else {
            "/etc/shadow"
        };
        assert_eq!(hit["event"]["fd.name"], want, "{hit}");
    }
    // A write below /etc is an open for writing: never filtered.
    c.exec(&["sh", "-c", "echo x >> /etc/bulwark-filter-test"]);
    let got = collect(
        &sensor,
        &c.id,
        Some("Write below binary or etc directory"),
        Duration::from_secs(10),
    );
    assert!(
        rules_of(&got).contains(&"Write below binary or etc directory".to_string()),
        "{:?}",
        rules_of(&got)
    );
    let stats = sensor.stop();
    assert!(
        stats.filtered >= 2000,
        "the kernel filtered {} read-only opens (2,000 expected at least)",
        stats.filtered
    );
}
