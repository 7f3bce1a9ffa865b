//! Fuzz target `dotnet`: arbitrary bytes as .NET manifests: the first byte picks `*.deps.json`, `packages.config`, `packages.lock.json`, `Directory.Packages.props` or `*.nuspec`.
//! Errors are expected; any panic, hang or runaway allocation is a bug.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    use bulwark_catalog::dotnet::*;
    let Some((sel, rest)) = data.split_first() else {
        return;
    };
    let _ = match sel % 5 {
        0 => deps_json::parse(rest),
        1 => packages_config::parse(rest),
        2 => packages_lock::parse(rest),
        3 => props::parse(rest),
        _ => nuspec::parse(rest),
    };
});
