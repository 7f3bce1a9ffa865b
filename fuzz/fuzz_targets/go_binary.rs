//! Fuzz target `go_binary`: arbitrary bytes as an executable (ELF / Mach-O / PE) searched for Go build info.
//! Errors are expected; any panic, hang or runaway allocation is a bug.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = bulwark_catalog::golang::binary::parse_go_binary_bytes(data);
});
