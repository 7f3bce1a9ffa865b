//! Fuzz target `npm`: arbitrary bytes as `package-lock.json` (v1-v3) and `package.json`.
//! Errors are expected; any panic, hang or runaway allocation is a bug.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = bulwark_catalog::javascript::parse_package_lock(data);
    let _ = bulwark_catalog::javascript::parse_package_json(data);
});
