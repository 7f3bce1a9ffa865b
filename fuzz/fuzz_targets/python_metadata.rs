//! Fuzz target `python_metadata`: arbitrary bytes as Python installed-package metadata: `METADATA`/`PKG-INFO` text, and the same bytes as an `.egg` zip.
//! Errors are expected; any panic, hang or runaway allocation is a bug.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    use bulwark_catalog::python::*;
    let _ = parse_dist_info(data);
    let _ = parse_egg_info(data);
    let _ = parse_egg_zip(data);
});
