//! Fuzz target `compose`: arbitrary bytes as a docker-compose file, scanned with the default checks.
//! Errors are expected; any panic, hang or runaway allocation is a bug.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = bulwark_misconfig::scan_compose(
        "compose.yaml",
        data,
        &bulwark_misconfig::ComposeOptions::default(),
    );
});
