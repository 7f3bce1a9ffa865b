//! Fuzz target `rpmdb`: arbitrary bytes as a whole rpmdb: the first byte picks SQLite, NDB (`Packages.db`) or Berkeley DB (`Packages`), the rest is the file; headers found are parsed too.
//! Errors are expected; any panic, hang or runaway allocation is a bug.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    use bulwark_catalog::os::rpm::{parse_rpmdb, RpmDbFormat};
    let Some((sel, rest)) = data.split_first() else {
        return;
    };
    let format = match sel % 3 {
        0 => RpmDbFormat::Sqlite,
        1 => RpmDbFormat::Ndb,
        _ => RpmDbFormat::BerkeleyDb,
    };
    let _ = parse_rpmdb(rest, format);
});
