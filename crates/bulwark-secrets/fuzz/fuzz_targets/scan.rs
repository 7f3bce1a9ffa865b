//! Fuzz `Scanner::scan` with the default rules on arbitrary bytes.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| bulwark_secrets::fuzz_scan(data));
