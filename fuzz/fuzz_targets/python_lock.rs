//! Fuzz target `python_lock`: arbitrary bytes as Python lock and requirement files: the first byte picks requirements.txt, poetry.lock, Pipfile.lock, uv.lock or pylock.toml.
//! Errors are expected; any panic, hang or runaway allocation is a bug.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    use bulwark_catalog::python::*;
    let Some((sel, rest)) = data.split_first() else {
        return;
    };
    let _ = match sel % 5 {
        0 => parse_requirements(rest),
        1 => parse_poetry_lock(rest),
        2 => parse_pipfile_lock(rest),
        3 => parse_uv_lock(rest),
        _ => parse_pylock(rest),
    };
});
