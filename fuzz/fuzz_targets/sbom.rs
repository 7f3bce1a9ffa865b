//! Fuzz target `sbom`: arbitrary bytes as an SBOM given as scan input (CycloneDX or SPDX, JSON; the reader sniffs).
//! Errors are expected; any panic, hang or runaway allocation is a bug.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = bulwark_report::read_sbom(data);
});
