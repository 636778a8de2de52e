//! The process pool's parent reading whatever a worker writes: any byte string, cut into
//! reads anywhere (see `cfutures::process_pool::fuzzing`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    cfutures::process_pool::fuzzing::parent_reads(data);
});
