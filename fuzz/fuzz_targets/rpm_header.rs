//! Fuzz target `rpm_header`: arbitrary bytes as one RPM header blob (the record format stored in every rpmdb).
//! Errors are expected; any panic, hang or runaway allocation is a bug.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(h) = bulwark_catalog::os::rpm::header::parse_header(data) {
        let _ = bulwark_catalog::os::rpm::package_from_header(h);
    }
});
