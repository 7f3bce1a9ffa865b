//! Fuzz target `rpmdb`: arbitrary bytes as a whole rpmdb: the first byte picks SQLite, NDB (`Packages.db`) or Berkeley DB (`Packages`), the rest is the file; headers found are parsed too.
//! Errors are expected; any panic, hang or runaway allocation is a bug. The readers must
//! stay linear: the values decoded from a Berkeley DB file add up to at most the
//! file's size (a crafted file once amplified 42 KB into 319 MB), which is asserted here
//! rather than left to the RSS limit.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

/// One spool dir for the SQLite copies of the whole run (what the cache dir is in a scan).
fn spool() -> &'static std::path::Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("spool dir")).path()
}

fuzz_target!(|data: &[u8]| {
    use bulwark_catalog::os::rpm::{bdb, parse_rpmdb, RpmDbFormat};
    let Some((sel, rest)) = data.split_first() else {
        return;
    };
    let format = match sel % 3 {
        0 => RpmDbFormat::Sqlite,
        1 => RpmDbFormat::Ndb,
        _ => RpmDbFormat::BerkeleyDb,
    };
    let decoded: Option<usize> = match format {
        RpmDbFormat::BerkeleyDb => bdb::parse_bdb(rest)
            .ok()
            .map(|v| v.iter().map(Vec::len).sum()),
        // NDB blobs are slices of the file (overlap costs nothing until copied, and
        // parse_rpmdb refuses copies that add up to more than the file).
        RpmDbFormat::Ndb | RpmDbFormat::Sqlite => None,
    };
    if let Some(n) = decoded {
        assert!(
            n <= rest.len(),
            "{format:?}: {n} bytes decoded from a {}-byte file",
            rest.len()
        );
    }
    let _ = parse_rpmdb(rest, format, spool());
});
