//! The filter language parser on arbitrary text: it must answer (an expression or an error),
//! never panic, overflow its stack or run away.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = gatehouse_domain::filter::parse(text);
    }
});
