//! Fuzz the YAML config parser and rule compiler.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| bulwark_secrets::fuzz_config(data));
