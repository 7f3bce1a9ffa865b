//! Fuzz target `sensor_rules`: arbitrary bytes as a `bulwark sensor` rules file (Falco-style
//! YAML: rules, macros, lists, the condition language, output templates), loaded after the
//! shipped defaults so that overrides, appends and references into them are exercised too.
//! Errors are expected; any panic, hang or runaway allocation is a bug.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let defaults = include_str!("../../crates/bulwark-sensor/rules/default.yaml");
    let _ = bulwark_sensor::RuleSet::from_sources(&[
        ("default.yaml".to_string(), defaults.to_string()),
        ("fuzz.yaml".to_string(), text.to_string()),
    ]);
});
