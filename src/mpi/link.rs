//! Messages between the root and the worker ranks, over the plugin's transport.
//!
//! A message carries whole process-pool frames (`process_pool::proto`: 32-byte header,
//! payload), each padded to 16 bytes, behind a 16-byte prefix holding the message's length:
//! `u64 len | u64 0 | frame | pad | frame | pad ...`. Received into 16-aligned memory, every
//! payload is 16-aligned (a map chunk's context and items stay aligned for any C type).
//! The frames queued for one peer during a turn go out as one message (`MPI_Isend`, never a
//! blocking send: two peers sending large messages to each other would wait forever).
//! A message longer than `PIECE` goes as its first `PIECE` bytes (`TAG_MSG`) followed by
//! `TAG_MORE` pieces, which MPI delivers in order.

use super::plugin::{SendReq, Transport};
use crate::process_pool::proto::{self, Header};

pub const TAG_MSG: i32 = 0x4346;
pub const TAG_MORE: i32 = 0x4347;
/// The largest single MPI message (MPI counts are `int`).
const PIECE: usize = 1 << 30;
const PREFIX: usize = 16;

/// A message being sent: its buffer lives until every piece is done.
struct Sending {
    dest: usize,
    reqs: Vec<SendReq>,
    _buf: Vec<u8>,
}

/// One end's outgoing batches and sends in flight.
pub struct Link {
    pub tr: Transport,
    batches: Vec<Vec<u8>>,
    sending: Vec<Sending>,
}

/// A received message: frames in 16-aligned memory.
pub struct Message {
    buf: Vec<u128>,
    len: usize,
}

impl Message {
    fn bytes(&self) -> &[u8] {
        // SAFETY: `buf` holds at least `len` initialised bytes.
        unsafe { std::slice::from_raw_parts(self.buf.as_ptr() as *const u8, self.len) }
    }

    /// The frames, in order; stops at the first malformed one.
    pub fn frames(&self) -> Vec<(Header, &[u8])> {
        frames(self.bytes())
    }
}

/// What a receive found.
pub enum Recv {
    Nothing,
    Got(usize, Message),
    /// The transport reported a failure (a dead peer, under ULFM).
    Failed,
}

impl Link {
    pub fn new(tr: Transport) -> Link {
        Link { tr, batches: vec![Vec::new(); tr.size], sending: Vec::new() }
    }

    /// Queues a whole frame (`proto::frame`) for `dest`'s next message.
    pub fn queue(&mut self, dest: usize, frame: &[u8]) {
        append(&mut self.batches[dest], &[frame]);
    }

    /// Queues a header-only frame.
    pub fn queue_header(&mut self, dest: usize, kind: u32, id: u64, arg: u64) {
        self.queue(dest, &Header { kind, id, arg, len: 0 }.encode());
    }

    /// Queues a frame from its parts without building it first.
    pub fn queue_parts(&mut self, dest: usize, kind: u32, id: u64, arg: u64, payload: &[u8]) {
        let h = Header { kind, id, arg, len: payload.len() as u64 }.encode();
        append(&mut self.batches[dest], &[&h, payload]);
    }

    /// Starts sending every non-empty batch. Returns the peers MPI refused.
    pub fn flush(&mut self) -> Vec<usize> {
        let mut refused = Vec::new();
        for dest in 0..self.batches.len() {
            if self.batches[dest].is_empty() {
                continue;
            }
            let buf = seal(std::mem::take(&mut self.batches[dest]));
            let mut reqs = Vec::new();
            let mut ok = true;
            for (i, piece) in buf.chunks(PIECE).enumerate() {
                match self.tr.isend(dest, if i == 0 { TAG_MSG } else { TAG_MORE }, piece) {
                    Some(r) => reqs.push(r),
                    None => {
                        ok = false;
                        break;
                    }
                }
            }
            if !ok {
                refused.push(dest);
            }
            self.sending.push(Sending { dest, reqs, _buf: buf });
        }
        refused
    }

    /// Tests the sends in flight: (whether any finished, the peers whose sends failed).
    pub fn progress(&mut self) -> (bool, Vec<usize>) {
        let mut any = false;
        let mut failed = Vec::new();
        let tr = self.tr;
        self.sending.retain_mut(|s| {
            while let Some(r) = s.reqs.first() {
                match tr.test(r) {
                    Some(true) => {
                        s.reqs.remove(0);
                        any = true;
                    }
                    Some(false) => return true,
                    None => {
                        // The other pieces of a failed message go with it: the peer is gone.
                        s.reqs.clear();
                        failed.push(s.dest);
                        return false;
                    }
                }
            }
            false
        });
        (any, failed)
    }

    /// Sends still in flight.
    pub fn in_flight(&self) -> bool {
        !self.sending.is_empty()
    }

    /// Drops whatever is queued for a peer that is gone.
    pub fn forget(&mut self, dest: usize) {
        self.batches[dest].clear();
    }

    /// Receives one waiting message from `src` (or anyone).
    pub fn receive(&mut self, src: Option<usize>) -> Recv {
        let (from, len) = match self.tr.iprobe(src, TAG_MSG) {
            Ok(Some(x)) => x,
            Ok(None) => return Recv::Nothing,
            Err(()) => return Recv::Failed,
        };
        let mut buf: Vec<u128> = vec![0; len.div_ceil(16)];
        if !self.tr.recv(from, TAG_MSG, as_bytes_mut(&mut buf, len)) || len < PREFIX {
            return Recv::Failed;
        }
        let total = u64::from_le_bytes(as_bytes_mut(&mut buf, 8).try_into().expect("8 bytes")) as usize;
        if total > len {
            buf.resize(total.div_ceil(16), 0);
            let mut at = len;
            while at < total {
                let n = (total - at).min(PIECE);
                let all = as_bytes_mut(&mut buf, total);
                if !self.tr.recv(from, TAG_MORE, &mut all[at..at + n]) {
                    return Recv::Failed;
                }
                at += n;
            }
        }
        Recv::Got(from, Message { buf, len: total.max(len) })
    }
}

/// Appends one frame (given in parts) to a batch, starting the batch with its prefix.
fn append(batch: &mut Vec<u8>, parts: &[&[u8]]) {
    if batch.is_empty() {
        batch.extend_from_slice(&[0u8; PREFIX]);
    }
    for p in parts {
        batch.extend_from_slice(p);
    }
    batch.resize(proto::pad16(batch.len()), 0);
}

/// Writes a finished batch's length into its prefix.
fn seal(mut batch: Vec<u8>) -> Vec<u8> {
    let len = batch.len() as u64;
    batch[0..8].copy_from_slice(&len.to_le_bytes());
    batch
}

/// The frames of a message, in order; stops at the first malformed one.
fn frames(b: &[u8]) -> Vec<(Header, &[u8])> {
    let mut out = Vec::new();
    let mut at = PREFIX;
    while at + proto::HEADER <= b.len() {
        let hb: &[u8; proto::HEADER] = b[at..at + proto::HEADER].try_into().expect("a header");
        let Some(h) = Header::decode(hb) else { break };
        let start = at + proto::HEADER;
        let Some(end) = start.checked_add(h.len as usize).filter(|e| *e <= b.len()) else { break };
        out.push((h, &b[start..end]));
        at = proto::pad16(end);
    }
    out
}

fn as_bytes_mut(buf: &mut [u128], len: usize) -> &mut [u8] {
    assert!(len <= buf.len() * 16);
    // SAFETY: `buf` holds at least `len` bytes (checked); u8 has no alignment needs.
    unsafe { std::slice::from_raw_parts_mut(buf.as_mut_ptr() as *mut u8, len) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_keep_every_payload_16_aligned_and_parse_back() {
        let mut b = Vec::new();
        append(&mut b, &[&proto::frame(proto::RUN_BYTES, 1, 0, &[b"abc"])]);
        let h = Header { kind: proto::DONE, id: 2, arg: 9, len: 5 }.encode();
        append(&mut b, &[&h, b"hello"]);
        append(&mut b, &[&Header { kind: proto::QUIT, id: 0, arg: 0, len: 0 }.encode()]);
        let b = seal(b);
        assert_eq!(u64::from_le_bytes(b[0..8].try_into().unwrap()) as usize, b.len());
        let f = frames(&b);
        assert_eq!(f.len(), 3);
        assert_eq!((f[0].0.kind, f[0].0.id, f[0].1), (proto::RUN_BYTES, 1, &b"abc"[..]));
        assert_eq!((f[1].0.arg, f[1].1), (9, &b"hello"[..]));
        assert_eq!(f[2].0.kind, proto::QUIT);
        for (_, p) in &f {
            assert_eq!((p.as_ptr() as usize - b.as_ptr() as usize) % 16, 0);
        }
    }

    #[test]
    fn a_malformed_frame_ends_the_message() {
        let mut b = Vec::new();
        append(&mut b, &[&proto::frame(proto::DONE, 1, 0, &[b"ok"])]);
        let mut lying = Header { kind: proto::DONE, id: 2, arg: 0, len: 1 << 40 }.encode().to_vec();
        lying.extend_from_slice(b"short");
        append(&mut b, &[&lying]);
        let b = seal(b);
        assert_eq!(frames(&b).len(), 1);
        let mut bad = b.clone();
        bad[PREFIX] ^= 0xff; // the first header's magic
        assert!(frames(&bad).is_empty());
    }
}
