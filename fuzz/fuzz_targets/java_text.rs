//! Fuzz target `java_text`: arbitrary bytes as Java text formats: `pom.xml`, `pom.properties`, `MANIFEST.MF`, `gradle.lockfile`, `build.sbt.lock`.
//! Errors are expected; any panic, hang or runaway allocation is a bug.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    use bulwark_catalog::java::*;
    let _ = pom::parse_pom(data);
    let _ = archive::parse_pom_properties(data);
    let _ = manifest::parse_main_section(data);
    let _ = gradle::parse_gradle_lock(data);
    let _ = sbt::parse_sbt_lock(data);
});
