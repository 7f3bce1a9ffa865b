//! Fuzz target `pnpm_lock`: arbitrary bytes as `pnpm-lock.yaml`.
//! Errors are expected; any panic, hang or runaway allocation is a bug.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = bulwark_catalog::javascript::parse_pnpm_lock(data);
});
