//! Fuzz target `apk_installed`: arbitrary bytes as an Alpine `lib/apk/db/installed` database.
//! Errors are expected; any panic, hang or runaway allocation is a bug.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = bulwark_catalog::os::apk::parse_apk_installed(data);
});
