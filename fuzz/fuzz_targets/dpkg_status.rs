//! Fuzz target `dpkg_status`: arbitrary bytes as a dpkg `status` database (and `status.d` entries, which skip the Status check).
//! Errors are expected; any panic, hang or runaway allocation is a bug.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = bulwark_catalog::os::dpkg::parse_dpkg_status(data, true);
    let _ = bulwark_catalog::os::dpkg::parse_dpkg_status(data, false);
});
