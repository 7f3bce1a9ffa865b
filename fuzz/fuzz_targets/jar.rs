//! Fuzz target `jar`: arbitrary bytes as a Java archive (jar/war/ear, zip, possibly nested).
//! Errors are expected; any panic, hang or runaway allocation is a bug.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = bulwark_catalog::java::archive::parse_archive_bytes(data, "fuzz.jar");
});
