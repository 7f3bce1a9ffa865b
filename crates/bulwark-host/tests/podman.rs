//! The runtime checks against a real podman: the test imports a tiny image (the host's
//! `/bin/sleep` and the libraries `ldd` names, no registry), starts
//! `podman system service` on a socket of its own with storage of its own (so other
//! podman users on the machine are not touched), runs one container per CIS rule it
//! breaks and one hardened container, and checks that each rule fires on exactly its
//! containers and that the hardened one passes.
//!
//! Skips with the reason when podman is not installed; fails instead when
//! `BULWARK_REQUIRE_ALL=1`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bulwark_host::{collect, Endpoint, HostOptions};

fn podman_available() -> bool {
    let ok = Command::new("podman")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        if std::env::var("BULWARK_REQUIRE_ALL").as_deref() == Ok("1") {
            panic!("podman is not installed and BULWARK_REQUIRE_ALL=1");
        }
        eprintln!("SKIP: podman is not installed (apt-get install podman runc)");
    }
    ok
}

/// A podman with its own storage, and its API service.
struct Podman {
    dir: tempfile::TempDir,
    service: Option<Child>,
}

impl Podman {
    fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }
    fn socket(&self) -> PathBuf {
        self.dir.path().join("podman.sock")
    }
    fn cmd(&self) -> Command {
        let mut c = Command::new("podman");
        // A configuration of its own: file locks and a tmpdir in the test's directory,
        // so this podman shares no lock or state with any other podman on the machine.
        c.env("CONTAINERS_CONF", self.dir.path().join("containers.conf"))
            .arg("--tmpdir")
            .arg(self.dir.path().join("tmp"))
            .arg("--root")
            .arg(self.root())
            .arg("--runroot")
            .arg(self.dir.path().join("runroot"));
        c
    }
    fn run(&self, args: &[&str]) -> String {
        let out = self.cmd().args(args).output().unwrap();
        assert!(
            out.status.success(),
            "podman {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    fn start() -> Podman {
        let dir = tempfile::Builder::new()
            .prefix("bulwark-host-podman-")
            .tempdir()
            .unwrap();
        std::fs::write(
            dir.path().join("containers.conf"),
            format!(
                "[containers]\ndefault_ulimits = []\n\n[engine]\nruntime = \"runc\"\ncgroup_manager = \"cgroupfs\"\nlock_type = \"file\"\ntmp_dir = \"{}\"\n",
                dir.path().join("tmp").display()
            ),
        )
        .unwrap();
        let mut p = Podman { dir, service: None };
        p.import_image();
        let child = p
            .cmd()
            .args(["system", "service", "--time=0"])
            .arg(format!("unix://{}", p.socket().display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        p.service = Some(child);
        let t = Instant::now();
        while !p.socket().exists() {
            assert!(
                t.elapsed() < Duration::from_secs(30),
                "podman service did not create its socket"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        p
    }

    /// `localhost/bulwark-host-test:1`: /bin/sleep and its libraries.
    fn import_image(&self) {
        let rootfs = self.dir.path().join("rootfs");
        let mut files = vec![PathBuf::from("/bin/sleep")];
        let ldd = Command::new("ldd").arg("/bin/sleep").output().unwrap();
        for line in String::from_utf8_lossy(&ldd.stdout).lines() {
            if let Some(p) = line.split_whitespace().find(|w| w.starts_with('/')) {
                files.push(PathBuf::from(p));
            }
        }
        for f in &files {
            let dst = rootfs.join(f.strip_prefix("/").unwrap());
            std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
            std::fs::copy(std::fs::canonicalize(f).unwrap(), &dst).unwrap();
        }
        let archive = self.dir.path().join("rootfs.tar");
        let st = Command::new("tar")
            .arg("-C")
            .arg(&rootfs)
            .arg("-cf")
            .arg(&archive)
            .arg(".")
            .status()
            .unwrap();
        assert!(st.success(), "tar failed");
        self.run(&["import", &archive.display().to_string(), IMAGE]);
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        let _ = self.cmd().args(["rm", "-f", "-a", "-t", "0"]).output();
        if let Some(mut c) = self.service.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = self.cmd().args(["rmi", "-a", "-f"]).output();
        // containers/storage bind-mounts its overlay directory onto itself; without the
        // unmount the temporary directory cannot be removed.
        let _ = Command::new("umount")
            .arg(self.root().join("overlay"))
            .stderr(Stdio::null())
            .status();
    }
}

const IMAGE: &str = "localhost/bulwark-host-test:1";

#[test]
fn each_container_rule_fires_and_a_hardened_container_passes() {
    if !podman_available() {
        return;
    }
    let pm = Podman::start();
    let sock = pm.socket().display().to_string();
    let sock_mount = format!("{sock}:/var/run/docker.sock");
    // name → extra `podman run` arguments; every container runs `sleep 600`.
    let cases: Vec<(&str, Vec<&str>)> = vec![
        ("plain", vec![]),
        ("privileged", vec!["--privileged"]),
        ("hostnet", vec!["--network", "host"]),
        ("hostpid", vec!["--pid", "host"]),
        ("hostipc", vec!["--ipc", "host"]),
        ("hostuts", vec!["--uts", "host"]),
        ("socket", vec!["-v", &sock_mount]),
        ("etcmount", vec!["-v", "/etc:/host-etc:ro"]),
        (
            "capadd",
            vec!["--cap-add", "NET_ADMIN", "--cap-add", "SYS_PTRACE"],
        ),
        ("seccomp", vec!["--security-opt", "seccomp=unconfined"]),
        ("restart", vec!["--restart", "always"]),
        ("nopids", vec!["--pids-limit", "-1"]),
        (
            "hardened",
            vec![
                "--read-only",
                "--user",
                "1000:1000",
                "--cap-drop",
                "ALL",
                "--memory",
                "64m",
                "--cpus",
                "0.5",
                "--pids-limit",
                "50",
                "--security-opt",
                "no-new-privileges",
                "--restart",
                "on-failure:5",
            ],
        ),
    ];
    for (name, extra) in &cases {
        let mut args = vec!["run", "-d", "--name", name];
        args.extend(extra.iter().copied());
        args.extend([IMAGE, "/bin/sleep", "600"]);
        pm.run(&args);
    }

    let mut opts = HostOptions::new(Some(Endpoint::Unix(pm.socket())), None);
    opts.search_path = None;
    // Host files of the test's own making (none of the machine's).
    let etc = pm.dir.path().join("etc");
    std::fs::create_dir_all(&etc).unwrap();
    std::fs::write(
        etc.join("containers.conf"),
        "[containers]\nlog_driver = \"k8s-file\"\n",
    )
    .unwrap();
    opts.paths.daemon_json = etc.join("daemon.json");
    opts.paths.containers_conf = vec![etc.join("containers.conf")];
    opts.paths.sockets = vec![];
    opts.paths.units = vec![];
    let c = collect(&opts).unwrap();

    let mut by: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in &c.findings {
        if let Some(name) = f.path.strip_prefix("container/") {
            by.entry(name.to_string())
                .or_default()
                .insert(f.check_id.clone());
        }
    }
    let has = |name: &str, id: &str| by.get(name).is_some_and(|s| s.contains(id));

    // The hardened container passes every check.
    assert!(
        !by.contains_key("hardened"),
        "hardened container has findings: {:?}",
        by.get("hardened")
    );

    // A default `podman run`: root, writable rootfs, no memory/CPU limit, no
    // no-new-privileges; and none of the rules it does not break.
    for id in [
        "BW-HOST-0209",
        "BW-HOST-0210",
        "BW-HOST-0212",
        "BW-HOST-0213",
        "BW-HOST-0216",
    ] {
        assert!(
            has("plain", id),
            "{id} did not fire on the plain container: {:?}; all: {by:?} {:?}",
            by.get("plain"),
            c.findings
                .iter()
                .map(|f| (&f.check_id, &f.path))
                .collect::<Vec<_>>()
        );
    }
    for id in [
        "BW-HOST-0201",
        "BW-HOST-0202",
        "BW-HOST-0203",
        "BW-HOST-0204",
        "BW-HOST-0205",
        "BW-HOST-0206",
        "BW-HOST-0207",
        "BW-HOST-0208",
        "BW-HOST-0211",
        "BW-HOST-0214",
        "BW-HOST-0217",
    ] {
        assert!(!has("plain", id), "{id} fired on the plain container");
    }

    // Each rule fires on the container that breaks it, and on no other (the privileged
    // container aside, which breaks several).
    let rules = [
        ("privileged", "BW-HOST-0201"),
        ("hostnet", "BW-HOST-0202"),
        ("hostpid", "BW-HOST-0203"),
        ("hostipc", "BW-HOST-0204"),
        ("hostuts", "BW-HOST-0205"),
        ("etcmount", "BW-HOST-0206"),
        ("socket", "BW-HOST-0207"),
        ("capadd", "BW-HOST-0208"),
        ("nopids", "BW-HOST-0211"),
        ("seccomp", "BW-HOST-0214"),
        ("restart", "BW-HOST-0217"),
    ];
    for (name, id) in rules {
        assert!(
            has(name, id),
            "{id} did not fire on {name}: {:?}",
            by.get(name)
        );
        let others: Vec<&String> = by
            .iter()
            .filter(|(n, ids)| n.as_str() != name && n.as_str() != "privileged" && ids.contains(id))
            .map(|(n, _)| n)
            .collect();
        assert!(others.is_empty(), "{id} also fired on {others:?}");
    }

    // Findings name the container and image, and carry the CIS alias.
    let f = c
        .findings
        .iter()
        .find(|f| f.check_id == "BW-HOST-0207")
        .unwrap();
    assert!(
        f.resource.as_deref().unwrap().contains("socket")
            && f.resource.as_deref().unwrap().contains(IMAGE),
        "{:?}",
        f.resource
    );
    assert!(f.aliases.iter().any(|a| a == "CIS-DOCKER-5.32"));
    assert!(f.message.contains(&sock), "{}", f.message);
    let cap = c
        .findings
        .iter()
        .find(|f| f.check_id == "BW-HOST-0208")
        .unwrap();
    assert!(
        cap.message.contains("NET_ADMIN") && cap.message.contains("SYS_PTRACE"),
        "{}",
        cap.message
    );

    // The daemon: podman rootful without userns, a local log driver, no
    // no_new_privileges default.
    let daemon: BTreeSet<&str> = c
        .findings
        .iter()
        .filter(|f| !f.path.starts_with("container/"))
        .map(|f| f.check_id.as_str())
        .collect();
    for id in ["BW-HOST-0001", "BW-HOST-0004", "BW-HOST-0006"] {
        assert!(daemon.contains(id), "{id} missing: {daemon:?}");
    }
    // Docker-only items are not applicable to podman.
    assert!(!daemon.contains("BW-HOST-0002") && !daemon.contains("BW-HOST-0003"));

    // With the daemon defaults set in containers.conf, those findings go away and
    // no-new-privileges is satisfied for every container.
    std::fs::write(
        etc.join("containers.conf"),
        "[containers]\nlog_driver = \"journald\"\nno_new_privileges = true\nuserns = \"auto\"\n",
    )
    .unwrap();
    let c2 = collect(&opts).unwrap();
    for id in ["BW-HOST-0001", "BW-HOST-0006", "BW-HOST-0213"] {
        assert!(
            !c2.findings.iter().any(|f| f.check_id == id),
            "{id} still fires"
        );
    }
}

#[test]
fn socket_permissions_and_versions() {
    if !podman_available() {
        return;
    }
    let pm = Podman::start();
    let sock = pm.socket();
    let mut opts = HostOptions::new(Some(Endpoint::Unix(sock.clone())), None);
    opts.search_path = None;
    opts.paths.daemon_json = pm.dir.path().join("none.json");
    opts.paths.containers_conf = vec![];
    opts.paths.sockets = vec![];
    opts.paths.units = vec![];
    std::fs::set_permissions(&sock, std::fs::Permissions::from_mode(0o666)).unwrap();
    let c = collect(&opts).unwrap();
    let f = c
        .findings
        .iter()
        .find(|f| f.check_id == "BW-HOST-0101")
        .expect("world-writable socket not reported");
    assert_eq!(f.path, sock.display().to_string());
    assert!(f.message.contains("0666"), "{}", f.message);
    std::fs::set_permissions(&sock, std::fs::Permissions::from_mode(0o660)).unwrap();
    let c = collect(&opts).unwrap();
    assert!(!c.findings.iter().any(|f| f.check_id == "BW-HOST-0101"));

    // The engine and its OCI runtime come from /version, as Go modules.
    let podman_version = pm.run(&["version", "--format", "{{.Server.Version}}"]);
    let want = format!(
        "github.com/containers/podman/v{}@v{podman_version}",
        podman_version.split('.').next().unwrap()
    );
    let pkgs: Vec<String> = c
        .packages
        .iter()
        .map(|p| format!("{}@{}", p.name, p.version))
        .collect();
    assert!(pkgs.contains(&want), "{want} not in {pkgs:?}");
    assert!(
        pkgs.iter()
            .any(|p| p.starts_with("github.com/opencontainers/runc@v")),
        "{pkgs:?}"
    );
}

#[test]
fn unreachable_socket_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("gone.sock");
    let mut opts = HostOptions::new(Some(Endpoint::Unix(sock.clone())), None);
    opts.search_path = None;
    let e = collect(&opts).unwrap_err();
    assert!(e.to_string().contains(&sock.display().to_string()), "{e}");
}

#[test]
fn versions_are_matched_against_the_db_and_a_missing_db_fails() {
    if !podman_available() {
        return;
    }
    let pm = Podman::start();
    let mut opts = HostOptions::new(Some(Endpoint::Unix(pm.socket())), None);
    opts.search_path = None;
    opts.checks = bulwark_host::Selection::none();
    let runc_pkg = collect(&opts)
        .unwrap()
        .packages
        .into_iter()
        .find(|p| p.name == "github.com/opencontainers/runc")
        .expect("runc version from /version");
    // An advisory covering every runc up to and including the installed version.
    let installed = runc_pkg.version.trim_start_matches('v').to_string();
    let mut parts: Vec<u64> = installed
        .split('.')
        .map(|p| p.parse().unwrap_or(0))
        .collect();
    parts.resize(3, 0);
    let fixed = format!("{}.{}.{}", parts[0], parts[1], parts[2] + 1);
    let osv = pm.dir.path().join("osv");
    std::fs::create_dir_all(&osv).unwrap();
    std::fs::write(
        osv.join("GO-TEST-0001.json"),
        serde_json::json!({
            "schema_version": "1.6.0",
            "id": "GO-TEST-0001",
            "modified": "2026-01-01T00:00:00Z",
            "published": "2026-01-01T00:00:00Z",
            "aliases": ["CVE-2099-0001"],
            "summary": "container breakout through a leaked file descriptor (test record)",
            "affected": [{
                "package": {"ecosystem": "Go", "name": "github.com/opencontainers/runc"},
                "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": fixed}]}]
            }],
            "database_specific": {"severity": "HIGH"}
        })
        .to_string(),
    )
    .unwrap();
    let db = pm.dir.path().join("db");
    let stats =
        bulwark_vulndb::import_paths(&db, &[osv], &bulwark_vulndb::ImportOptions::default())
            .unwrap();
    assert_eq!(stats.records, 1, "{:?}", stats.errors);
    let v = bulwark_host::Verdicts {
        db_dir: Some(db),
        gate: bulwark_engine::Gate {
            exit_code: 1,
            ..Default::default()
        },
        ..Default::default()
    };
    let out = bulwark_host::run(&opts, &v).unwrap();
    let hit = out
        .report
        .vulnerabilities
        .iter()
        .find(|f| f.id == "GO-TEST-0001" || f.aliases.iter().any(|a| a == "GO-TEST-0001"))
        .unwrap_or_else(|| {
            panic!(
                "runc {installed} not matched: {:?}",
                out.report.vulnerabilities
            )
        });
    assert_eq!(hit.fixed_versions, vec![fixed.clone()]);
    assert_eq!(hit.installed_version, format!("v{installed}"));
    assert_eq!(out.verdict.exit_code, 1);

    // A DB that is asked for but missing stops the run before anything is checked.
    let v = bulwark_host::Verdicts {
        db_dir: Some(pm.dir.path().join("no-db")),
        ..Default::default()
    };
    let e = bulwark_host::run(&opts, &v).unwrap_err();
    assert!(e.to_string().contains("no-db"), "{e}");
}
