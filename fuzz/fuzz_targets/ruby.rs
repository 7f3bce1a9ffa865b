//! Fuzz target `ruby`: arbitrary bytes as `*.gemspec` (installed specifications) and `Gemfile.lock`.
//! Errors are expected; any panic, hang or runaway allocation is a bug.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = bulwark_catalog::ruby::gemspec::parse(data);
    let _ = bulwark_catalog::ruby::gemfile_lock::parse(data);
});
