//! Fuzz target `rpm_manifest`: arbitrary bytes as a CBL-Mariner / Azure Linux `container-manifest-2` rpm manifest.
//! Errors are expected; any panic, hang or runaway allocation is a bug.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = bulwark_catalog::os::rpm::manifest::parse_rpm_manifest(data);
});
