//! The parent's reading of one worker's stream, for the fuzz target `proto` (`fuzz/`) and
//! the corpus replay: the real decoder (`proto::Reader`, fed the way `channel::Link::read`
//! feeds it: small reads through a scratch buffer, large payloads straight into the body)
//! and the real decisions (`crew::Crew`, with the map chunk's `chunk_finish`), no process.
//!
//! Input: byte 0 cuts the stream into reads, byte 1 picks the scenario (bit 0: the task is
//! a map chunk; bit 1: `break_on_death`; bit 2: the worker is ready before the stream
//! starts), bytes 2 and 3 the chunk's count and result size; the rest is what the worker
//! writes. Checked: no panic, the task's future ends exactly once by the worker's exit
//! (or stays pending if it was never dispatched), a chunk writes only inside its results
//! and reports only its own items.

use std::collections::VecDeque;
use std::time::Instant;

use super::crew::{Crew, Rules, Task};
use super::proto::{self, Reader};
use super::sys::Exit;
use super::{channel, chunk_finish};
use crate::future::{Future, Value};
use crate::map::ChunkReport;

const FIRST_INDEX: usize = 1000;
const CANARY: u8 = 0xC5;

/// Runs one input; panics when an invariant breaks (libFuzzer reports it).
pub fn parent_reads(data: &[u8]) {
    let [cut, what, count, rsz, stream @ ..] = data else { return };
    let (map, count, rsz) = (what & 1 != 0, (*count % 17) as usize, (*rsz % 9) as usize);
    let rules = Rules { max_workers: 1, timeout: None, break_on_death: what & 2 != 0, cancel_kills: false };
    let mut crew = Crew::new(rules);
    crew.started(4242);
    // The chunk's results land here, followed by a canary the finish must not touch.
    let mut dst = vec![CANARY; count * rsz + 16];
    let fut = Future::for_executor();
    let finish = map.then(|| chunk_finish(count, rsz, dst.as_mut_ptr() as usize, FIRST_INDEX));
    let frame = proto::frame(if map { proto::RUN_MAP } else { proto::RUN_BYTES }, 1, 0, &[]);
    let mut pending = VecDeque::from([Task { id: 1, fut: fut.clone(), frame, finish }]);
    if what & 4 != 0 {
        crew.on_frame(0, proto::Header { kind: proto::READY, id: 0, arg: 1, len: 0 }, Vec::new());
    }
    let mut dispatched = !crew.dispatch(&mut pending, Instant::now()).is_empty();

    let mut rx = Reader::default();
    let mut frames = Vec::new();
    let mut rest = stream;
    let mut k = 0usize;
    while !rest.is_empty() {
        // Read sizes vary with the cut byte: 1..=64 bytes, or a whole payload at once.
        let step = 1 + (cut.rotate_left(k as u32 % 8) as usize % 64);
        k += 1;
        let n = if rx.body_remaining() >= 64 * 1024 { rx.body_remaining() } else { step }.min(rest.len());
        let (now, later) = rest.split_at(n);
        rest = later;
        let fed = if rx.body_remaining() >= 64 * 1024 { body_read(&mut rx, now, &mut frames) } else { rx.feed(now, &mut frames).map_err(channel::why) };
        for (h, payload) in frames.drain(..) {
            crew.on_frame(0, h, payload);
            dispatched |= !crew.dispatch(&mut pending, Instant::now()).is_empty();
        }
        if let Err(why) = fed {
            crew.protocol_error(0, why);
            break;
        }
    }
    // The worker goes away (hung up, killed or exited): whatever it held ends now.
    crew.exited(0, Exit::Code(1));
    let finished: Vec<_> = crew.done.drain(..).collect();
    for (f, o) in finished {
        assert!(f.complete(o).is_ok(), "a future completed twice");
    }
    for f in crew.cancelled.drain(..) {
        assert!(f.end_cancelled(), "a future ended cancelled twice");
    }
    crew.collect(|_| {});
    assert!(crew.members.is_empty());
    assert_eq!(fut.done(), dispatched, "the task's future must end exactly when its worker had it");
    assert!(dst[count * rsz..].iter().all(|&b| b == CANARY), "a chunk wrote past its results");
    if let Some(Ok(Value::Any(v))) = fut.outcome() {
        let report = v.downcast_ref::<ChunkReport>().expect("a chunk's report");
        assert!(report.errors.iter().all(|e| (FIRST_INDEX..FIRST_INDEX + count).contains(&e.index)), "a chunk reported another chunk's item");
    }
    if !dispatched {
        // As shutdown does with what never reached a worker.
        assert!(pending.pop_front().is_some_and(|t| t.fut.cancel()));
    }
}

/// `channel::Link::read_body`: a large payload read straight into its buffer.
fn body_read(rx: &mut Reader, now: &[u8], frames: &mut Vec<(proto::Header, Vec<u8>)>) -> Result<(), &'static str> {
    let body = rx.body_mut().expect("a payload is being received");
    body.try_reserve(now.len()).map_err(|_| "sent a message too large to receive")?;
    body.extend_from_slice(now);
    if let Some(f) = rx.take_complete() {
        frames.push(f);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    /// Feeds every committed corpus entry of `fuzz/corpus/proto` to the harness (`make
    /// fuzz-replay`; the fuzzer itself runs under `make fuzz`).
    #[test]
    #[ignore = "run by make fuzz-replay"]
    fn replay_proto_corpus() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/corpus/proto");
        let mut n = 0;
        for e in std::fs::read_dir(dir).expect("fuzz/corpus/proto") {
            let path = e.unwrap().path();
            super::parent_reads(&std::fs::read(&path).unwrap());
            n += 1;
        }
        assert!(n >= 10, "only {n} corpus entries");
        eprintln!("replayed {n} proto corpus entries");
    }
}
