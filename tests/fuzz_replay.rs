//! Replays the committed corpus of the fuzz target `api` (`fuzz/corpus/api`) through the
//! same interpreter the fuzzer runs, without nightly or cargo-fuzz: `make fuzz-replay`
//! (part of `make test`). The `proto` corpus is replayed by the unit test
//! `process_pool::fuzzing::tests::replay_proto_corpus`.

#[path = "../fuzz/harness/api.rs"]
mod api;

#[test]
#[ignore = "run by make fuzz-replay"]
fn replay_api_corpus() {
    // CFUT_FUZZ_CORPUS replays another directory (a crash the fuzzer saved, say).
    let dir = std::env::var("CFUT_FUZZ_CORPUS").unwrap_or(concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/corpus/api").into());
    let mut paths: Vec<_> = std::fs::read_dir(dir).expect("fuzz/corpus/api").map(|e| e.unwrap().path()).collect();
    paths.sort();
    assert!(paths.len() >= 10 || std::env::var_os("CFUT_FUZZ_CORPUS").is_some(), "only {} corpus entries", paths.len());
    for p in &paths {
        let t = std::time::Instant::now();
        api::run(&std::fs::read(p).unwrap());
        eprintln!("{} {:.0} ms", p.file_name().unwrap().to_string_lossy(), t.elapsed().as_secs_f64() * 1e3);
    }
}
