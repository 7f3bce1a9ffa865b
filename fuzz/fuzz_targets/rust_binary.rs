//! Fuzz target `rust_binary`: arbitrary bytes as an executable (ELF / Mach-O / PE) searched for a cargo-auditable `.dep-v0` section.
//! Errors are expected; any panic, hang or runaway allocation is a bug.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = bulwark_catalog::rust::exe::sniff_bytes(data);
    let _ = bulwark_catalog::rust::auditable::parse_binary_bytes(data);
});
