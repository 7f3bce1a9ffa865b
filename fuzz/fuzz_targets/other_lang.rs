//! Fuzz target `other_lang`: arbitrary bytes as the smaller ecosystems: the first byte picks mix.lock, Package.resolved, conda meta JSON, conda environment.yml, Julia Manifest.toml, conan.lock, Podfile.lock or pubspec.lock.
//! Errors are expected; any panic, hang or runaway allocation is a bug.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    use bulwark_catalog::other::*;
    let Some((sel, rest)) = data.split_first() else {
        return;
    };
    let _ = match sel % 8 {
        0 => elixir::parse(rest),
        1 => swift::parse(rest),
        2 => conda::parse_meta(rest),
        3 => conda::parse_environment(rest),
        4 => julia::parse(rest),
        5 => conan::parse(rest),
        6 => cocoapods::parse(rest),
        _ => dart::parse(rest),
    };
});
