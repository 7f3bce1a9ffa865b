//! Fuzz target `composer`: arbitrary bytes as `composer.lock` and `vendor/composer/installed.json`.
//! Errors are expected; any panic, hang or runaway allocation is a bug.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = bulwark_catalog::php::composer::parse_lock(data);
    let _ = bulwark_catalog::php::composer::parse_installed(data);
});
