//! Fuzz target `ignore`: arbitrary bytes as a `.bulwarkignore` file (YAML; non-UTF-8 input is skipped, as the loader rejects it first).
//! Errors are expected; any panic, hang or runaway allocation is a bug.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = bulwark_report::ignore::IgnoreFile::parse(text, ".bulwarkignore");
});
