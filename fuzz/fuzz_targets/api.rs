//! API sequences over the C ABI with invariants checked (see harness/api.rs).
#![no_main]

#[path = "../harness/api.rs"]
mod api;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    api::run(data);
});
