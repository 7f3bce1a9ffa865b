//! Exports an image from a real podman Docker-compatible API socket.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test may panic: that is its failure

use bulwark_image::daemon::{export, export_pinned, DaemonOptions};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const CONTAINERS_CONF: &str =
    "[containers]\ndefault_ulimits = []\n[engine]\nruntime = \"runc\"\ncgroup_manager = \"cgroupfs\"\n";

/// A podman API service on a socket in a temp dir, with its own storage; killed on drop.
struct Podman {
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl Podman {
    fn new() -> Option<Podman> {
        if !Path::new("/usr/bin/podman").exists() {
            bulwark_fixtures::absent(
                "/usr/bin/podman",
                "install the Debian package `podman` (scripts/setup-test-env.sh)",
            );
            return None;
        }
        let conf = Path::new("/etc/containers/containers.conf");
        if !conf.exists() {
            // podman's defaults (systemd cgroups, crun) do not work in a plain container.
            let _ = std::fs::create_dir_all("/etc/containers");
            std::fs::write(conf, CONTAINERS_CONF)
                .unwrap_or_else(|e| panic!("writing {}: {e}", conf.display()));
        }
        Some(Podman {
            dir: tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}")),
            child: None,
        })
    }

    fn cmd(&self) -> Command {
        let mut c = Command::new("/usr/bin/podman");
        c.arg("--root")
            .arg(self.dir.path().join("root"))
            .arg("--runroot")
            .arg(self.dir.path().join("runroot"))
            .arg("--storage-driver")
            .arg("vfs")
            .stdin(Stdio::null());
        c
    }

    /// `tar -C DIR -c . | podman import - NAME`, done with the tar crate.
    fn import(&self, rootfs: &Path, name: &str) {
        let tarball = self.dir.path().join("rootfs.tar");
        let file = std::fs::File::create(&tarball).unwrap_or_else(|e| panic!("{e}"));
        let mut b = tar::Builder::new(file);
        b.append_dir_all(".", rootfs)
            .unwrap_or_else(|e| panic!("tar: {e}"));
        b.into_inner().unwrap_or_else(|e| panic!("tar: {e}"));
        let out = self
            .cmd()
            .arg("import")
            .arg(&tarball)
            .arg(name)
            .output()
            .unwrap_or_else(|e| panic!("podman import: {e}"));
        assert!(
            out.status.success(),
            "podman import failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn serve(&mut self) -> PathBuf {
        let sock = self.dir.path().join("podman.sock");
        let log = std::fs::File::create(self.dir.path().join("service.log"))
            .unwrap_or_else(|e| panic!("{e}"));
        let log2 = log.try_clone().unwrap_or_else(|e| panic!("{e}"));
        let child = self
            .cmd()
            .arg("system")
            .arg("service")
            .arg("--time")
            .arg("0")
            .arg(format!("unix://{}", sock.display()))
            .stdout(log)
            .stderr(log2)
            .spawn()
            .unwrap_or_else(|e| panic!("podman system service: {e}"));
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if std::os::unix::net::UnixStream::connect(&sock).is_ok() {
                return sock;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let log = std::fs::read_to_string(self.dir.path().join("service.log")).unwrap_or_default();
        panic!("podman service did not come up: {log}");
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        if let Some(c) = self.child.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

#[test]
fn daemon_export_from_podman_socket() {
    let Some(mut podman) = Podman::new() else {
        return;
    };
    let rootfs = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    std::fs::create_dir_all(rootfs.path().join("etc")).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(rootfs.path().join("etc/os-release"), "ID=bulwarkdaemon\n")
        .unwrap_or_else(|e| panic!("{e}"));
    podman.import(rootfs.path(), "localhost/bulwark-daemon-test:1");
    let sock = podman.serve();

    let cache = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut opts = DaemonOptions::new(cache.path());
    opts.socket = Some(sock.clone());
    let exported = export_pinned("docker-daemon:localhost/bulwark-daemon-test:1", &opts)
        .unwrap_or_else(|e| panic!("{e}"));
    let archive = exported.archive.clone();
    assert!(archive.starts_with(cache.path()));
    assert!(exported.id.starts_with("sha256:"), "{}", exported.id);

    // It is a docker-archive: manifest.json naming our tag, and a layer holding our file.
    let mut manifest = None;
    let mut found_release = false;
    let file = std::fs::File::open(&archive).unwrap_or_else(|e| panic!("{e}"));
    let mut tar = tar::Archive::new(file);
    let mut layers = Vec::new();
    for entry in tar.entries().unwrap_or_else(|e| panic!("{e}")) {
        let mut entry = entry.unwrap_or_else(|e| panic!("{e}"));
        let path = entry
            .path()
            .unwrap_or_else(|e| panic!("{e}"))
            .to_string_lossy()
            .to_string();
        let mut data = Vec::new();
        entry
            .read_to_end(&mut data)
            .unwrap_or_else(|e| panic!("{e}"));
        if path == "manifest.json" {
            manifest = Some(
                serde_json::from_slice::<serde_json::Value>(&data)
                    .unwrap_or_else(|e| panic!("{e}")),
            );
        } else {
            layers.push((path, data));
        }
    }
    let manifest = manifest.unwrap_or_else(|| panic!("no manifest.json in {}", archive.display()));
    let first = &manifest[0];
    let tags: Vec<String> = first["RepoTags"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|t| t.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    // Exported by id, not by name: the archive holds exactly the image the name was
    // resolved to (its config is the id), and a daemon may or may not repeat the tag.
    assert!(
        tags.is_empty() || tags.iter().any(|t| t.contains("bulwark-daemon-test:1")),
        "{tags:?}"
    );
    let config = first["Config"].as_str().unwrap_or_default();
    assert!(
        config.contains(exported.id.trim_start_matches("sha256:")),
        "{config} vs {}",
        exported.id
    );
    let layer_paths: Vec<String> = first["Layers"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|t| t.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(layer_paths.len(), 1, "{manifest}");
    for (path, data) in &layers {
        if Some(path) == layer_paths.first() {
            let mut inner = tar::Archive::new(&data[..]);
            for e in inner.entries().unwrap_or_else(|e| panic!("{e}")) {
                let e = e.unwrap_or_else(|e| panic!("{e}"));
                let p = e
                    .path()
                    .unwrap_or_else(|e| panic!("{e}"))
                    .to_string_lossy()
                    .to_string();
                if p.trim_start_matches("./") == "etc/os-release" {
                    found_release = true;
                }
            }
        }
    }
    assert!(found_release, "etc/os-release not in the exported layer");

    let err = export("localhost/no-such-image:9", &opts)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("not found in daemon at"), "{err}");
    assert!(err.contains(&sock.display().to_string()), "{err}");
}

#[test]
fn daemon_missing_socket_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut opts = DaemonOptions::new(dir.path());
    opts.socket = Some(dir.path().join("nope.sock"));
    let err = export("alpine", &opts)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.contains("cannot connect") && err.contains("nope.sock"),
        "{err}"
    );
}
