//! The wire protocol between the manager thread and one worker process: fixed 32-byte
//! headers followed by a payload, over a private `SOCK_STREAM` socketpair.
//!
//! Parent → worker: `CONFIG` (first, once), `RUN_BYTES`, `RUN_MAP`, `QUIT`, `CANCEL` (a
//! header naming the running task: its cancellation was requested).
//! Worker → parent: `READY` (after the initializer), `INIT_FAILED`, `DONE`.

pub(crate) const MAGIC: u32 = 0x5455_4643; // "CFUT"
pub(crate) const HEADER: usize = 32;

/// The largest payload a frame may carry (4 GiB): a task's input or result, a map chunk's
/// items or results. Both sides refuse longer frames before allocating anything for them.
pub(crate) const MAX_PAYLOAD: usize = 1 << 32;

pub(crate) const CONFIG: u32 = 1;
pub(crate) const RUN_BYTES: u32 = 2;
pub(crate) const RUN_MAP: u32 = 3;
pub(crate) const QUIT: u32 = 4;
pub(crate) const CANCEL: u32 = 5;
pub(crate) const READY: u32 = 10;
pub(crate) const INIT_FAILED: u32 = 11;
pub(crate) const DONE: u32 = 12;

/// `DONE` flags in the low bits of `arg`; the task's code is in the high 32 bits.
pub(crate) const DONE_ERROR: u64 = 1;
pub(crate) const DONE_RETIRING: u64 = 2;
/// The task set no value (the parent's result pointer is NULL, not empty bytes).
pub(crate) const DONE_EMPTY: u64 = 4;
/// The task acknowledged a cancellation request: its future ends CANCELLED.
pub(crate) const DONE_CANCELLED: u64 = 8;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    pub kind: u32,
    pub id: u64,
    pub arg: u64,
    pub len: u64,
}

impl Header {
    pub fn encode(&self) -> [u8; HEADER] {
        let mut b = [0u8; HEADER];
        b[0..4].copy_from_slice(&MAGIC.to_le_bytes());
        b[4..8].copy_from_slice(&self.kind.to_le_bytes());
        b[8..16].copy_from_slice(&self.id.to_le_bytes());
        b[16..24].copy_from_slice(&self.arg.to_le_bytes());
        b[24..32].copy_from_slice(&self.len.to_le_bytes());
        b
    }

    /// `None` when the magic is wrong (a protocol error).
    pub fn decode(b: &[u8; HEADER]) -> Option<Header> {
        if u32::from_le_bytes(b[0..4].try_into().unwrap()) != MAGIC {
            return None;
        }
        Some(Header {
            kind: u32::from_le_bytes(b[4..8].try_into().unwrap()),
            id: u64::from_le_bytes(b[8..16].try_into().unwrap()),
            arg: u64::from_le_bytes(b[16..24].try_into().unwrap()),
            len: u64::from_le_bytes(b[24..32].try_into().unwrap()),
        })
    }
}

/// A whole frame (header and payload) in one buffer, ready to write.
pub fn frame(kind: u32, id: u64, arg: u64, parts: &[&[u8]]) -> Vec<u8> {
    try_frame(kind, id, arg, parts).expect("a small frame")
}

/// Why a frame of caller-sized parts cannot be built.
#[derive(Debug, PartialEq, Eq)]
pub enum FrameError {
    /// The payload would exceed `MAX_PAYLOAD` (the length in bytes).
    TooLong(u128),
    /// The buffer cannot be allocated.
    NoMemory,
}

/// The total of some part lengths, if a frame may carry it.
pub fn payload_len(parts: &[u128]) -> Result<usize, FrameError> {
    let len: u128 = parts.iter().sum();
    if len > MAX_PAYLOAD as u128 {
        return Err(FrameError::TooLong(len));
    }
    Ok(len as usize)
}

/// `frame` for caller-sized parts: checks the length first and allocates fallibly.
pub fn try_frame(kind: u32, id: u64, arg: u64, parts: &[&[u8]]) -> Result<Vec<u8>, FrameError> {
    let lens: Vec<u128> = parts.iter().map(|p| p.len() as u128).collect();
    let len = payload_len(&lens)?;
    let mut v = Vec::new();
    v.try_reserve_exact(HEADER + len).map_err(|_| FrameError::NoMemory)?;
    v.extend_from_slice(&Header { kind, id, arg, len: len as u64 }.encode());
    for p in parts {
        v.extend_from_slice(p);
    }
    Ok(v)
}

/// Pads a length up to a multiple of 16, so that what follows stays aligned for any C type
/// when the payload is received into 16-aligned memory.
pub fn pad16(n: usize) -> usize {
    n.div_ceil(16) * 16
}

/// A function's address as a reference a fresh process can resolve: the loaded object
/// (its path; empty for the main executable), its GNU build-id (may be empty) and the
/// offset of the function from the object's load address.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FnRef {
    pub path: Vec<u8>,
    pub build_id: Vec<u8>,
    pub offset: u64,
}

impl FnRef {
    /// `u64 offset | u32 path_len | u32 build_id_len | path | build_id`, padded to 16.
    pub fn encode(&self) -> Vec<u8> {
        let n = 16 + self.path.len() + self.build_id.len();
        let mut v = Vec::with_capacity(pad16(n));
        v.extend_from_slice(&self.offset.to_le_bytes());
        v.extend_from_slice(&(self.path.len() as u32).to_le_bytes());
        v.extend_from_slice(&(self.build_id.len() as u32).to_le_bytes());
        v.extend_from_slice(&self.path);
        v.extend_from_slice(&self.build_id);
        v.resize(pad16(n), 0);
        v
    }

    /// Decodes a reference at the start of `b`; returns it and the bytes it used.
    pub fn decode(b: &[u8]) -> Option<(FnRef, usize)> {
        if b.len() < 16 {
            return None;
        }
        let offset = u64::from_le_bytes(b[0..8].try_into().unwrap());
        let pl = u32::from_le_bytes(b[8..12].try_into().unwrap()) as usize;
        let bl = u32::from_le_bytes(b[12..16].try_into().unwrap()) as usize;
        let n = 16usize.checked_add(pl)?.checked_add(bl)?;
        let used = pad16(n);
        if b.len() < used {
            return None;
        }
        Some((FnRef { path: b[16..16 + pl].to_vec(), build_id: b[16 + pl..n].to_vec(), offset }, used))
    }
}

/// The fixed part of a `RUN_MAP` payload after the function reference.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MapChunk {
    pub ctx_len: u64,
    pub item_size: u64,
    pub result_size: u64,
    pub count: u64,
}

/// Where a RUN_MAP body's parts are, once checked against the body's length.
#[derive(Debug, PartialEq, Eq)]
pub struct ChunkLayout {
    pub count: usize,
    pub item_size: usize,
    pub result_size: usize,
    /// The context's bytes (empty when none was copied).
    pub ctx: std::ops::Range<usize>,
    /// Where the `count * item_size` item bytes start.
    pub items_at: usize,
    /// `count * result_size`.
    pub out_len: usize,
}

impl MapChunk {
    pub(crate) const SIZE: usize = 32;

    /// The layout of a RUN_MAP `body` whose function reference takes `used` bytes; `None`
    /// when the header is missing or its lengths overflow or overrun the body.
    pub fn layout(body: &[u8], used: usize) -> Option<ChunkLayout> {
        let m = MapChunk::decode(body.get(used..)?)?;
        let to = |v: u64| usize::try_from(v).ok();
        let (ctx_len, count, item_size, result_size) = (to(m.ctx_len)?, to(m.count)?, to(m.item_size)?, to(m.result_size)?);
        let ctx_at = used.checked_add(MapChunk::SIZE)?;
        let items_at = ctx_at.checked_add(ctx_len.checked_add(15)? & !15)?;
        let end = count.checked_mul(item_size)?.checked_add(items_at)?;
        if body.len() < end {
            return None;
        }
        let out_len = count.checked_mul(result_size)?;
        Some(ChunkLayout { count, item_size, result_size, ctx: ctx_at..ctx_at + ctx_len, items_at, out_len })
    }

    pub fn encode(&self) -> [u8; 32] {
        let mut b = [0u8; 32];
        for (i, v) in [self.ctx_len, self.item_size, self.result_size, self.count].iter().enumerate() {
            b[i * 8..i * 8 + 8].copy_from_slice(&v.to_le_bytes());
        }
        b
    }

    pub fn decode(b: &[u8]) -> Option<MapChunk> {
        if b.len() < 32 {
            return None;
        }
        let r = |i: usize| u64::from_le_bytes(b[i * 8..i * 8 + 8].try_into().unwrap());
        Some(MapChunk { ctx_len: r(0), item_size: r(1), result_size: r(2), count: r(3) })
    }
}

/// A map chunk's result: `u64 n | n × (u64 index in chunk, i64 code) | results`.
pub fn encode_chunk_result(errors: &[(u64, i32)], results: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(8 + errors.len() * 16 + results.len());
    v.extend_from_slice(&(errors.len() as u64).to_le_bytes());
    for (i, c) in errors {
        v.extend_from_slice(&i.to_le_bytes());
        v.extend_from_slice(&(*c as i64).to_le_bytes());
    }
    v.extend_from_slice(results);
    v
}

/// A map chunk's failed items: (index in chunk, code).
pub type ItemCodes = Vec<(u64, i32)>;

/// The failed items and the results bytes.
pub fn decode_chunk_result(b: &[u8]) -> Option<(ItemCodes, &[u8])> {
    let n = u64::from_le_bytes(b.get(0..8)?.try_into().unwrap()) as usize;
    let end = n.checked_mul(16)?.checked_add(8)?;
    let errs = b.get(8..end)?;
    let list = errs
        .chunks_exact(16)
        .map(|c| (u64::from_le_bytes(c[0..8].try_into().unwrap()), i64::from_le_bytes(c[8..16].try_into().unwrap()) as i32))
        .collect();
    Some((list, &b[end..]))
}

/// Incremental frame reader for a non-blocking socket: feed it bytes, take whole frames.
#[derive(Default)]
pub struct Reader {
    hdr: [u8; HEADER],
    hdr_got: usize,
    cur: Option<(Header, Vec<u8>)>,
}

/// What a byte stream turned out to contain.
#[derive(Debug, PartialEq, Eq)]
pub enum ReadError {
    BadMagic,
    /// A header announced a payload over `MAX_PAYLOAD` (its length).
    TooLong(u64),
    /// The payload's buffer cannot be allocated.
    NoMemory,
}

impl Reader {
    /// Bytes still missing from the current payload (0 when reading a header).
    pub fn body_remaining(&self) -> usize {
        self.cur.as_ref().map_or(0, |(h, b)| h.len as usize - b.len())
    }

    /// The payload being received, for reading straight into its spare capacity.
    pub fn body_mut(&mut self) -> Option<&mut Vec<u8>> {
        self.cur.as_mut().map(|(_, b)| b)
    }

    /// Takes the current frame if its payload is complete.
    pub fn take_complete(&mut self) -> Option<(Header, Vec<u8>)> {
        match &self.cur {
            Some((h, b)) if b.len() as u64 == h.len => self.cur.take(),
            _ => None,
        }
    }

    /// Consumes `data`, appending each completed frame to `out`.
    pub fn feed(&mut self, mut data: &[u8], out: &mut Vec<(Header, Vec<u8>)>) -> Result<(), ReadError> {
        while !data.is_empty() {
            match &mut self.cur {
                None => {
                    let n = (HEADER - self.hdr_got).min(data.len());
                    self.hdr[self.hdr_got..self.hdr_got + n].copy_from_slice(&data[..n]);
                    self.hdr_got += n;
                    data = &data[n..];
                    if self.hdr_got == HEADER {
                        self.hdr_got = 0;
                        let h = Header::decode(&self.hdr).ok_or(ReadError::BadMagic)?;
                        if h.len > MAX_PAYLOAD as u64 {
                            return Err(ReadError::TooLong(h.len));
                        }
                        if h.len == 0 {
                            out.push((h, Vec::new()));
                        } else {
                            // Reserve only what is plausible now; the rest grows as it comes.
                            let mut b = Vec::new();
                            b.try_reserve_exact((h.len as usize).min(64 << 20)).map_err(|_| ReadError::NoMemory)?;
                            self.cur = Some((h, b));
                        }
                    }
                }
                Some((h, b)) => {
                    let n = (h.len as usize - b.len()).min(data.len());
                    b.try_reserve(n).map_err(|_| ReadError::NoMemory)?;
                    b.extend_from_slice(&data[..n]);
                    data = &data[n..];
                    if let Some(f) = self.take_complete() {
                        out.push(f);
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trip_and_bad_magic() {
        let h = Header { kind: DONE, id: 7, arg: (5u64 << 32) | DONE_ERROR, len: 1 << 40 };
        assert_eq!(Header::decode(&h.encode()), Some(h));
        let mut b = h.encode();
        b[0] ^= 1;
        assert_eq!(Header::decode(&b), None);
    }

    #[test]
    fn fnref_round_trip_is_padded() {
        let r = FnRef { path: b"/usr/lib/libx.so".to_vec(), build_id: vec![1, 2, 3, 4, 5], offset: 0x1234 };
        let e = r.encode();
        assert_eq!(e.len() % 16, 0);
        let mut with_tail = e.clone();
        with_tail.extend_from_slice(b"input");
        let (d, used) = FnRef::decode(&with_tail).unwrap();
        assert_eq!((d, used), (r, e.len()));
        assert_eq!(FnRef::decode(&e[..e.len() - 1]), None);
        let main = FnRef { path: vec![], build_id: vec![], offset: 1 };
        assert_eq!(FnRef::decode(&main.encode()).unwrap().0, main);
    }

    #[test]
    fn chunk_layout_is_checked_against_the_body() {
        let head = MapChunk { ctx_len: 3, item_size: 8, result_size: 4, count: 2 }.encode();
        let mut body = vec![0u8; 5];
        body.extend_from_slice(&head);
        body.extend_from_slice(&[0; 16 + 16]);
        let c = MapChunk::layout(&body, 5).unwrap();
        assert_eq!((c.ctx.clone(), c.items_at, c.out_len), (37..40, 53, 8));
        assert_eq!(MapChunk::layout(&body[..body.len() - 1], 5), None, "an item cut short");
        assert_eq!(MapChunk::layout(&body, 100), None, "no header");
        for absurd in [
            MapChunk { ctx_len: u64::MAX, item_size: 1, result_size: 1, count: 1 },
            MapChunk { ctx_len: 0, item_size: u64::MAX, result_size: 1, count: 3 },
            MapChunk { ctx_len: 0, item_size: 0, result_size: u64::MAX, count: 2 },
        ] {
            let mut b = absurd.encode().to_vec();
            b.extend_from_slice(&[0; 64]);
            assert_eq!(MapChunk::layout(&b, 0), None, "{:?}", absurd.encode());
        }
    }

    #[test]
    fn chunk_result_round_trip() {
        let e = encode_chunk_result(&[(1, -3), (9, 7)], b"abcdef");
        let (errs, res) = decode_chunk_result(&e).unwrap();
        assert_eq!(errs, vec![(1, -3), (9, 7)]);
        assert_eq!(res, b"abcdef");
        assert!(decode_chunk_result(&e[..10]).is_none());
        let m = MapChunk { ctx_len: 1, item_size: 2, result_size: 3, count: 4 };
        assert_eq!(MapChunk::decode(&m.encode()), Some(m));
    }

    #[test]
    fn reader_reassembles_frames_split_anywhere() {
        let n = if cfg!(miri) { 3_000 } else { 100_000u32 };
        let big: Vec<u8> = (0..n).map(|i| i as u8).collect();
        let mut stream = frame(READY, 0, 42, &[]);
        stream.extend(frame(DONE, 1, 0, &[b"hello"]));
        stream.extend(frame(DONE, 2, 0, &[&big]));
        stream.extend(frame(DONE, 3, 0, &[b""]));
        for step in [1, 7, 31, 32, 33, 4096, stream.len()] {
            let mut r = Reader::default();
            let mut out = Vec::new();
            for c in stream.chunks(step) {
                r.feed(c, &mut out).unwrap();
            }
            assert_eq!(out.len(), 4, "step {step}");
            assert_eq!(out[0].0.arg, 42);
            assert_eq!(out[1].1, b"hello");
            assert_eq!(out[2].1, big);
            assert_eq!((out[3].0.id, out[3].1.len()), (3, 0));
        }
        let mut r = Reader::default();
        assert_eq!(r.feed(&[0u8; 32], &mut Vec::new()), Err(ReadError::BadMagic));
    }

    #[test]
    fn absurd_lengths_are_refused_before_allocating() {
        let huge = Header { kind: DONE, id: 1, arg: 0, len: 1 << 50 }.encode();
        let mut r = Reader::default();
        assert_eq!(r.feed(&huge, &mut Vec::new()), Err(ReadError::TooLong(1 << 50)));
        let at_limit = Header { kind: DONE, id: 1, arg: 0, len: MAX_PAYLOAD as u64 }.encode();
        assert_eq!(Reader::default().feed(&at_limit, &mut Vec::new()), Ok(()));
        assert_eq!(payload_len(&[MAX_PAYLOAD as u128, 1]), Err(FrameError::TooLong(MAX_PAYLOAD as u128 + 1)));
        assert_eq!(payload_len(&[1 << 40, 1 << 40]), Err(FrameError::TooLong(1 << 41)));
        assert_eq!(payload_len(&[MAX_PAYLOAD as u128 - 1, 1]), Ok(MAX_PAYLOAD));
        assert_eq!(try_frame(RUN_BYTES, 1, 0, &[b"ab"]).unwrap().len(), HEADER + 2);
    }
}
