//! Fuzz target `cargo_lock`: arbitrary bytes as `Cargo.lock`, and the same bytes as a cargo-auditable zlib-compressed `.dep-v0` payload.
//! Errors are expected; any panic, hang or runaway allocation is a bug.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = bulwark_catalog::rust::cargo_lock::parse_cargo_lock(data);
    let _ = bulwark_catalog::rust::auditable::parse_dep_v0(data);
});
