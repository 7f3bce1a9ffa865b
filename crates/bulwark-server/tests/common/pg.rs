//! A throwaway PostgreSQL cluster for tests: a copy of a data directory `initdb` made
//! once per machine (kept in the temporary directory as
//! `bulwark-pg-template-v1-…`), a postmaster on a Unix socket in that directory (no TCP port, so parallel test
//! processes never collide), `fsync` on, and a watchdog that stops the postmaster and
//! removes the directory when the test process exits — however it exits (a panic, an
//! abort, nextest's timeout), since a `static` is never dropped.
//!
//! Standalone (std only) so that the CLI crate's tests can include it with `#[path]`.
//! As root, `initdb` and the postmaster run as the `postgres` user (Debian's package
//! creates it), with the directory chowned to it. Without PostgreSQL installed,
//! [`PgCluster::shared`] returns `None` (a skip), unless `BULWARK_REQUIRE_ALL=1`, when it
//! panics: a missing PostgreSQL is then a failure.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The port in the socket file's name (`.s.PGSQL.5432`); nothing listens on TCP.
const PORT: u16 = 5432;

/// A running cluster.
pub struct PgCluster {
    /// The directory holding `data/` and the socket.
    pub dir: PathBuf,
    /// The port (of the socket file's name, and of TCP when listening there).
    pub port: u16,
    bin: PathBuf,
    as_postgres: bool,
}

/// Whether the tests were asked to run on PostgreSQL (`BULWARK_TEST_BACKEND=postgres`).
pub fn requested() -> bool {
    matches!(
        std::env::var("BULWARK_TEST_BACKEND").as_deref(),
        Ok("postgres") | Ok("postgresql") | Ok("pg")
    )
}

fn require_all() -> bool {
    std::env::var("BULWARK_REQUIRE_ALL").as_deref() == Ok("1")
}

/// The newest `/usr/lib/postgresql/*/bin` with `initdb` (or `$BULWARK_PG_BIN`).
pub fn bin_dir() -> Option<PathBuf> {
    if let Ok(b) = std::env::var("BULWARK_PG_BIN") {
        return Some(PathBuf::from(b));
    }
    let mut best: Option<(u32, PathBuf)> = None;
    for e in std::fs::read_dir("/usr/lib/postgresql").ok()?.flatten() {
        let v: u32 = match e.file_name().to_string_lossy().parse() {
            Ok(v) => v,
            Err(_) => continue,
        };
        let bin = e.path().join("bin");
        if bin.join("initdb").is_file() && best.as_ref().is_none_or(|(b, _)| v > *b) {
            best = Some((v, bin));
        }
    }
    best.map(|(_, b)| b)
}

fn is_root() -> bool {
    // `id -u` rather than libc: no unsafe, no extra dependency.
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

impl PgCluster {
    /// The cluster of this test process, started on first use. `None` when PostgreSQL
    /// is not installed (a skip), unless `BULWARK_REQUIRE_ALL=1` (then a panic).
    pub fn shared() -> Option<&'static PgCluster> {
        static CLUSTER: OnceLock<Option<PgCluster>> = OnceLock::new();
        CLUSTER
            .get_or_init(|| match bin_dir() {
                Some(bin) => Some(PgCluster::start(bin, PORT, None, None)),
                None => {
                    assert!(
                        !require_all(),
                        "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb) and BULWARK_REQUIRE_ALL=1: run scripts/setup-test-env.sh"
                    );
                    eprintln!("SKIP: PostgreSQL is not installed");
                    None
                }
            })
            .as_ref()
    }

    fn cmd(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(path);
            c
        } else {
            Command::new(path)
        }
    }

    /// A cluster of its own listening on 127.0.0.1:`port` with TLS (`cert` and `key`
    /// PEM), besides its Unix socket. `None` when PostgreSQL is not installed (unless
    /// `BULWARK_REQUIRE_ALL=1`: a panic).
    pub fn start_tls(port: u16, cert: &str, key: &str) -> Option<PgCluster> {
        match bin_dir() {
            Some(bin) => Some(PgCluster::start(bin, port, Some((cert, key)), None)),
            None => {
                assert!(
                    !require_all(),
                    "PostgreSQL is not installed and BULWARK_REQUIRE_ALL=1"
                );
                eprintln!("SKIP: PostgreSQL is not installed");
                None
            }
        }
    }

    /// [`PgCluster::start_tls`] that also verifies client certificates against
    /// `client_ca` (PEM): role `user` (created) must log in over TCP with a certificate
    /// whose CN is `user` (`hostssl … cert`); every other role is trusted as before.
    pub fn start_tls_client_auth(
        port: u16,
        cert: &str,
        key: &str,
        client_ca: &str,
        user: &str,
    ) -> Option<PgCluster> {
        match bin_dir() {
            Some(bin) => {
                let c = PgCluster::start(bin, port, Some((cert, key)), Some((client_ca, user)));
                c.psql(
                    "postgres",
                    &format!("CREATE ROLE \"{user}\" LOGIN SUPERUSER"),
                );
                Some(c)
            }
            None => {
                assert!(
                    !require_all(),
                    "PostgreSQL is not installed and BULWARK_REQUIRE_ALL=1"
                );
                eprintln!("SKIP: PostgreSQL is not installed");
                None
            }
        }
    }

    fn start(
        bin: PathBuf,
        port: u16,
        tls: Option<(&str, &str)>,
        client_auth: Option<(&str, &str)>,
    ) -> PgCluster {
        let base = std::env::temp_dir().join(format!(
            "bulwark-pg-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        ));
        std::fs::create_dir_all(&base).unwrap();
        let as_postgres = is_root();
        let cluster = PgCluster {
            dir: base.clone(),
            port,
            bin,
            as_postgres,
        };
        let mut listen = "-c listen_addresses=''".to_string();
        if let Some((cert, key)) = tls {
            use std::os::unix::fs::PermissionsExt;
            std::fs::write(base.join("server.crt"), cert).unwrap();
            std::fs::write(base.join("server.key"), key).unwrap();
            std::fs::set_permissions(
                base.join("server.key"),
                std::fs::Permissions::from_mode(0o600),
            )
            .unwrap();
            listen = format!(
                "-c listen_addresses=127.0.0.1 -c ssl=on -c ssl_cert_file='{d}/server.crt' -c ssl_key_file='{d}/server.key'",
                d = base.display()
            );
            if let Some((ca, user)) = client_auth {
                std::fs::write(base.join("client-ca.crt"), ca).unwrap();
                std::fs::write(
                    base.join("pg_hba.conf"),
                    format!(
                        "local all all trust\nhostssl all \"{user}\" 127.0.0.1/32 cert\nhost all all 127.0.0.1/32 trust\n"
                    ),
                )
                .unwrap();
                listen.push_str(&format!(
                    " -c ssl_ca_file='{d}/client-ca.crt' -c hba_file='{d}/pg_hba.conf'",
                    d = base.display()
                ));
            }
        }
        if as_postgres {
            let ok = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&base)
                .status()
                .unwrap()
                .success();
            assert!(ok, "chown postgres {}", base.display());
        }
        let data = base.join("data");
        // A copy of a data directory initdb made once per machine (initdb costs more
        // than a copy, and every test process starts a cluster).
        let template = cluster.template();
        let ok = Command::new("cp")
            .arg("-a")
            .arg(&template)
            .arg(&data)
            .status()
            .unwrap()
            .success();
        assert!(ok, "copying {} failed", template.display());
        // The postmaster runs under a shell that also watches this process: when the
        // test process is gone, the shell stops the postmaster (fast shutdown) and
        // removes the directory.
        let postgres = cluster.bin.join("postgres");
        let run_as = if as_postgres {
            "runuser -u postgres -- "
        } else {
            ""
        };
        let script = format!(
            "{run_as}'{pg}' -D '{data}' -k '{dir}' -p {port} {listen} -c fsync=on -c synchronous_commit=on -c max_connections=200 -c shared_buffers=16MB > '{dir}/postgres.log' 2>&1 &
             while kill -0 {parent} 2>/dev/null; do sleep 0.2; done
             if [ -f '{data}/postmaster.pid' ]; then
               p=$(head -n 1 '{data}/postmaster.pid')
               kill -INT $p 2>/dev/null
               while kill -0 $p 2>/dev/null; do sleep 0.1; done
             fi
             wait
             rm -rf '{dir}'",
            pg = postgres.display(),
            data = data.display(),
            dir = base.display(),
            parent = std::process::id(),
        );
        // Not waited for: the watchdog outlives this process by design (it is what
        // cleans up after it), and init reaps it.
        #[allow(clippy::zombie_processes)]
        let _watchdog = Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let ready = Command::new(cluster.bin.join("pg_isready"))
                .arg("-h")
                .arg(&base)
                .args(["-p", &port.to_string(), "-U", "bulwark", "-d", "postgres"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            if ready {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "PostgreSQL did not start: {}",
                std::fs::read_to_string(base.join("postgres.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        cluster
    }

    /// The initdb'd template data directory for this PostgreSQL (made on first use,
    /// atomically: initdb into a private directory, then a rename).
    fn template(&self) -> PathBuf {
        let tag: String = self
            .bin
            .display()
            .to_string()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        let owner = if self.as_postgres { "postgres" } else { "user" };
        let done = std::env::temp_dir().join(format!("bulwark-pg-template-v1-{owner}-{tag}"));
        if done.join("PG_VERSION").is_file() && done.join("global").is_dir() {
            return done;
        }
        let work = std::env::temp_dir().join(format!(
            "bulwark-pg-template-tmp-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        ));
        std::fs::create_dir_all(&work).unwrap();
        if self.as_postgres {
            let ok = Command::new("chown")
                .args(["postgres:postgres"])
                .arg(&work)
                .status()
                .unwrap()
                .success();
            assert!(ok, "chown postgres {}", work.display());
        }
        let data = work.join("data");
        let out = self
            .cmd("initdb")
            .arg("-D")
            .arg(&data)
            .args([
                "-U",
                "bulwark",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                // initdb's own fsync of the template files only; the server runs with
                // fsync on.
                "--no-sync",
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        // Another process may have won the race: either way `done` is complete.
        if std::fs::rename(&data, &done).is_err() {
            assert!(
                done.join("PG_VERSION").is_file(),
                "no template at {}",
                done.display()
            );
        }
        let _ = std::fs::remove_dir_all(&work);
        done
    }

    /// Restarts the postmaster (fast shutdown: every connection is cut), as an
    /// operator's restart or a failover would.
    pub fn restart(&self) {
        let out = self
            .cmd("pg_ctl")
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-m", "fast", "-w", "-l"])
            .arg(self.dir.join("postgres-restarted.log"))
            .arg("restart")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "pg_ctl restart: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Runs SQL through `psql` as the cluster's superuser, in database `db`; returns
    /// the unaligned, tuples-only output.
    pub fn psql(&self, db: &str, sql: &str) -> String {
        let out = Command::new(self.bin.join("psql"))
            .arg("-h")
            .arg(&self.dir)
            .args(["-p", &self.port.to_string(), "-U", "bulwark", "-d", db])
            .args(["-v", "ON_ERROR_STOP=1", "-X", "-q", "-A", "-t", "-c", sql])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "psql {sql:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Creates database `name` if it does not exist yet; returns its URL.
    pub fn database(&self, name: &str) -> String {
        let exists = self.psql(
            "postgres",
            &format!("SELECT 1 FROM pg_database WHERE datname = '{name}'"),
        );
        if exists != "1" {
            self.psql("postgres", &format!("CREATE DATABASE \"{name}\""));
        }
        self.url(name)
    }

    /// The URL of database `name` (over the Unix socket).
    pub fn url(&self, name: &str) -> String {
        format!(
            "postgres://bulwark@/{name}?host={}&port={}",
            self.dir.display(),
            self.port
        )
    }

    /// The socket directory.
    pub fn socket_dir(&self) -> &Path {
        &self.dir
    }
}

/// A database name for a test directory (the same directory gives the same database,
/// so a restarted server finds its store).
pub fn db_name_for(dir: &Path) -> String {
    let s = dir.display().to_string();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("t_{h:016x}")
}
