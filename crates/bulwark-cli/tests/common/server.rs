//! What the tests that run `bulwark server` share: the binary without the caller's
//! database setting, child processes killed on drop, API tokens made with `bulwark
//! server token create`, a test CA and a server certificate for 127.0.0.1/localhost,
//! an HTTPS client trusting that CA, a free loopback port.

use std::path::Path;
use std::process::{Child, Command};

/// The `bulwark` binary, without an inherited `BULWARK_DATABASE`, colour off.
pub fn bulwark() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_bulwark"));
    c.env_remove("BULWARK_DATABASE").env("NO_COLOR", "1");
    c
}

/// A child process killed on drop.
pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A new API token with `role`, made by `bulwark server token create` on `db`.
pub fn token(db: &str, role: &str) -> String {
    let out = bulwark()
        .args([
            "server",
            "token",
            "create",
            "--database",
            db,
            "--role",
            role,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let t = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(t.starts_with("bwk_"), "{t}");
    t
}

#[allow(unused_imports)] // each test binary uses its own subset
pub use bulwark_testkit::{free_port, write_pki};

/// An HTTPS agent trusting only the CA in `ca`, statuses returned (not errors).
pub fn agent(ca: &Path) -> ureq::Agent {
    bulwark_testkit::https_agent(ca)
}
