//! Fuzz target `go_mod`: arbitrary bytes as `go.mod` and `go.sum`.
//! Errors are expected; any panic, hang or runaway allocation is a bug.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = bulwark_catalog::golang::gomod::parse_go_mod(data);
    let _ = bulwark_catalog::golang::gomod::parse_go_sum(data);
});
