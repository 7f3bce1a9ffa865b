//! Fuzz target `os_release`: arbitrary bytes as `os-release`, `lsb-release` and one-line `*-release` files.
//! Errors are expected; any panic, hang or runaway allocation is a bug.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    use bulwark_catalog::os::release::*;
    let _ = parse_key_values(data);
    let _ = parse_os_release(data);
    let _ = parse_lsb_release(data);
    let _ = parse_release_line(data);
});
