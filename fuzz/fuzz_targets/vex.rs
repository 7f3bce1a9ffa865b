//! Fuzz target `vex`: arbitrary bytes as a VEX document (OpenVEX / CycloneDX VEX / CSAF, the parser sniffs).
//! Errors are expected; any panic, hang or runaway allocation is a bug.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = bulwark_report::vex::VexDocument::parse(data, "fuzz.vex.json");
});
