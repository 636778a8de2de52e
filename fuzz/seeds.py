#!/usr/bin/env python3
"""Writes the seed corpora (fuzz/corpus/{proto,api}/seed-*, regress-* for inputs that found a
bug): meaningful inputs the fuzzer starts from and `make fuzz-replay` checks."""
import os, struct

here = os.path.dirname(os.path.abspath(__file__))
MAGIC = 0x54554643
READY, INIT_FAILED, DONE = 10, 11, 12
ERROR, RETIRING, EMPTY, CANCELLED = 1, 2, 4, 8

def frame(kind, id=0, arg=0, payload=b"", length=None):
    n = len(payload) if length is None else length
    return struct.pack("<IIQQQ", MAGIC, kind, id, arg, n) + payload

def chunk(errors, results):
    return struct.pack("<Q", len(errors)) + b"".join(struct.pack("<Qq", i, c) for i, c in errors) + results

def proto(name, what, stream, cut=7, count=4, rsz=8):
    prefix = "" if name.startswith("regress-") else "seed-"
    with open(os.path.join(here, "corpus/proto", prefix + name), "wb") as f:
        f.write(bytes([cut, what, count, rsz]) + stream)

R = frame(READY, 0, 1234)
proto("bytes-ok", 0, R + frame(DONE, 1, 0, b"hello"))
proto("bytes-empty", 0, R + frame(DONE, 1, EMPTY))
proto("bytes-error", 0, R + frame(DONE, 1, (5 << 32) | ERROR, b"task said no"))
proto("bytes-cancelled", 0, R + frame(DONE, 1, CANCELLED))
proto("bytes-retiring", 0, R + frame(DONE, 1, RETIRING, b"x"))
proto("init-failed", 0, frame(INIT_FAILED, 0, 3, b"initializer failed"))
proto("ready-twice-then-done", 4, R + R + frame(DONE, 1, 0, b"v"), cut=1)
proto("map-ok", 1, R + frame(DONE, 1, 0, chunk([(2, 7)], bytes(range(32)))))
proto("map-ready-first", 5, frame(DONE, 1, 0, chunk([], bytes(32))), cut=31)
# A worker-chosen item index was trusted: overflow panic on the manager thread, or an
# index outside the map reported to the caller; short results were reported as done.
proto("regress-map-index-out-of-chunk", 1, R + frame(DONE, 1, 0, chunk([(99, 7)], bytes(32))))
proto("regress-map-index-huge", 1, R + frame(DONE, 1, 0, chunk([(2**64 - 1, 7)], bytes(32))))
proto("regress-map-short-results", 1, R + frame(DONE, 1, 0, chunk([], bytes(5))))
proto("map-count-huge", 1, R + frame(DONE, 1, 0, struct.pack("<Q", 2**62) + bytes(40)))
proto("truncated-header", 0, R + frame(DONE, 1, 0, b"abc")[:20])
proto("truncated-payload", 0, R + frame(DONE, 1, 0, b"abcdef")[:34])
proto("bad-magic", 0, R + b"\0" * 32)
proto("absurd-length", 0, R + frame(DONE, 1, 0, b"", length=1 << 50))
proto("over-max-payload", 0, R + frame(DONE, 1, 0, b"", length=(1 << 32) + 1))
proto("large-payload", 0, R + frame(DONE, 1, 0, bytes(70000)), cut=63)
proto("large-payload-cut-short", 0, R + frame(DONE, 1, 0, bytes(70000), length=200000), cut=63)
proto("wrong-id-then-right", 0, R + frame(DONE, 7, 0, b"stale") + frame(DONE, 1, 0, b"ok"))
proto("unknown-kind", 0, R + frame(99, 1))
proto("done-twice", 0, R + frame(DONE, 1, 0, b"a") + frame(DONE, 1, 0, b"b"))
proto("idle-death-breaks", 2, R)
proto("busy-death-breaks", 6, b"")
proto("nothing", 0, b"")
proto("parent-frames-echoed", 4, frame(1, 0, 0, b"config") + frame(2, 1) + frame(4))

# api: byte 0 bit 0 = the shared process pool takes part; then (op, param, [param]) bytes.
# ops: 0 new thread pool, 1-3 submit, 4 fire-and-forget, 5 cancel, 6 request cancel,
# 7 releasing callback, 8 wait one, 9 cfut_wait, 10 as_completed, 11 map, 12 group new,
# 13 group submit, 14 group wait, 15 group cancel, 16 group free, 17 cq, 18 shutdown,
# 19 free executor, 20 release, 21 standalone, 22 bad input, 23 own process pool.
def api(name, first, ops):
    with open(os.path.join(here, "corpus/api", "seed-" + name), "wb") as f:
        f.write(bytes([first] + [b for op in ops for b in op]))

api("submit-wait", 0, [(1, 0, 0), (1, 0, 1), (2, 0, 2), (8, 0x80), (9, 0x27), (10, 7)])
api("cancel-and-request", 0, [(1, 0, 2), (1, 0, 2), (1, 0, 2), (5, 2), (6, 0), (6, 1), (8, 0x80)])
api("releasing-callbacks", 0, [(1, 0, 0), (7, 0), (7, 0), (20, 0), (1, 0, 1), (7, 1)])
api("wait-on-earlier", 0, [(0, 0x81), (1, 0, 0), (1, 0, 3), (1, 1, 7), (1, 0, 11), (9, 0x2f)])
api("map-thread", 0, [(11, 0x08, 120), (11, 0x50, 39), (11, 0x00, 0)])
api("groups", 0, [(12, 0x10), (13, 0x80, 0), (13, 0x80, 1), (13, 0, 2), (14, 0x80), (15, 0), (13, 0, 0), (16, 0)])
api("cq", 0, [(1, 0, 0), (1, 0, 1), (17, 0), (17, 2), (17, 1), (5, 1), (17, 1)])
api("shutdown-cancel-free", 0, [(1, 0, 2), (1, 0, 2), (1, 0, 2), (18, 0xc0), (1, 0, 0), (19, 0), (1, 0, 0)])
api("standalone", 0, [(21, 0), (21, 1), (21, 2), (21, 4), (21, 7), (20, 0)])
api("bad-input", 0, [(22, 0), (22, 1), (22, 2), (22, 3), (22, 4), (22, 5), (22, 6), (22, 7)])
api("process-submit", 1, [(1, 3, 7), (1, 3, 8), (1, 3, 2), (1, 3, 5), (6, 3), (5, 2), (9, 0xa7), (10, 3)])
api("process-crash", 1, [(1, 3, 0), (1, 3, 9), (8, 0x80), (8, 0x81)])
api("process-map-group", 1, [(11, 0x0b, 130), (12, 0x03), (13, 0x80, 9), (13, 0x80, 1), (14, 0x80), (16, 0)])
api("process-cq", 1, [(1, 3, 7), (1, 3, 10), (17, 0), (17, 2), (17, 1)])
api("own-process-pool", 0, [(23, 0x02), (1, 4, 7), (1, 4, 4), (6, 1), (23, 0x03), (1, 4, 7)])
api("own-pool-break", 0, [(23, 0x08), (1, 4, 0), (8, 0x80), (1, 4, 7), (11, 4, 3)])
api("mixed", 1, [(0, 0x02), (1, 1, 0), (1, 3, 7), (12, 0x01), (13, 0x80, 3), (11, 0x03, 30), (17, 0), (7, 0),
                 (10, 5), (18, 0x41), (4, 1, 1), (22, 1), (19, 1), (20, 1), (9, 0x80)])
