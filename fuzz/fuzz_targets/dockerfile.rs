//! Fuzz target `dockerfile`: arbitrary bytes as a Dockerfile: parsed, then scanned with every check enabled.
//! Errors are expected; any panic, hang or runaway allocation is a bug.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    use bulwark_misconfig::{dockerfile, CheckSelection};
    let _ = dockerfile::parse("Dockerfile", data);
    let _ = dockerfile::scan_dockerfile("Dockerfile", data, &CheckSelection::all());
});
