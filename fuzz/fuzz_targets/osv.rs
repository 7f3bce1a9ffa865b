//! Fuzz target `osv`: arbitrary bytes as one OSV JSON record.
//! Errors are expected; any panic, hang or runaway allocation is a bug.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = bulwark_vulndb::osv::parse_record(data);
});
