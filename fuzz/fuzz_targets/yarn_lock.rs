//! Fuzz target `yarn_lock`: arbitrary bytes as `yarn.lock` (classic and berry).
//! Errors are expected; any panic, hang or runaway allocation is a bug.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = bulwark_catalog::javascript::parse_yarn_lock(data);
});
