package cfutures

/*
#include "cfutures.h"
#include "shim.h"
*/
import "C"

import (
	"fmt"
	"runtime"
	"unsafe"
)

// MapError says which item of a MapC failed first, and how.
type MapError struct {
	Index int   // the first failed item
	Err   error // a Status: ErrTaskFailed, ErrCancelled, ErrWorkerDied, ErrBroken, ...
}

func (e *MapError) Error() string { return fmt.Sprintf("cfutures: map item %d: %v", e.Index, e.Err) }
func (e *MapError) Unwrap() error { return e.Err }

// MapC is cfut_executor_map at native speed: the C function fn (a cfut_map_fn,
// int32_t fn(const void *ctx, const void *item, void *result_slot), as
// unsafe.Pointer(C.my_fn)) runs once per item, in chunks, on the executor's workers or, on
// a process pool, in its worker processes. items holds len(items)/itemSize items packed
// back to back; item i's result goes to results[i*resultSize:(i+1)*resultSize]. ctx is
// copied and passed to every call (nil: a NULL context). Both slices are pinned (never
// copied) while the map runs.
//
// MapC blocks (an OS thread, since the wait is in C) until every item is done, and returns
// nil, a *MapError naming the first failed item (the others still ran), or ErrTimeout when
// WithTimeout passes first (the items not started are cancelled). WithChunkSize,
// WithTimeout and WithMaxInFlight apply; WithContext does not.
func MapC(ex *Executor, fn unsafe.Pointer, ctx []byte, items []byte, itemSize int, results []byte, resultSize int, opts ...MapOption) error {
	cfg := mapConfig{timeout: Forever}
	for _, o := range opts {
		o(&cfg)
	}
	if itemSize <= 0 || resultSize < 0 || len(items)%itemSize != 0 {
		return fmt.Errorf("%w: %d bytes of items of %d bytes", ErrInvalidArgument, len(items), itemSize)
	}
	count := len(items) / itemSize
	if len(results) < count*resultSize {
		return fmt.Errorf("%w: results hold %d bytes, %d items need %d", ErrInvalidArgument, len(results), count, count*resultSize)
	}
	if count == 0 {
		return nil
	}
	ptr := ex.h.acquire()
	if ptr == nil {
		return ErrShutdown
	}
	defer ex.h.release()

	var pin runtime.Pinner // the library keeps items and results until the map is freed
	defer pin.Unpin()
	pItems := unsafe.Pointer(&items[0])
	pin.Pin(pItems)
	var pResults unsafe.Pointer
	if resultSize > 0 {
		pResults = unsafe.Pointer(&results[0])
		pin.Pin(pResults)
	}
	var pCtx unsafe.Pointer
	if len(ctx) > 0 {
		pCtx = unsafe.Pointer(&ctx[0]) // copied by the library (ctx_len > 0)
	}
	timeout := C.uint64_t(C.CFUT_FOREVER)
	if cfg.timeout >= 0 {
		timeout = C.uint64_t(cfg.timeout)
	}
	var failed C.size_t
	var reason *C.char
	st := C.cfutgo_map_run(ptr, fn, pCtx, C.size_t(len(ctx)), pItems, C.size_t(count), C.size_t(itemSize),
		pResults, C.size_t(resultSize), C.size_t(max(cfg.chunkSize, 0)), timeout, C.size_t(max(cfg.maxInFlight, 0)),
		&failed, &reason)
	runtime.KeepAlive(ctx)
	switch st {
	case C.CFUT_OK:
		return nil
	case C.CFUT_TIMEOUT:
		return ErrTimeout
	}
	if reason != nil || st == C.CFUT_SHUTDOWN || st == C.CFUT_INVALID_ARGUMENT {
		return withReason(Status(st), reason) // the map never started
	}
	return &MapError{Index: int(failed), Err: Status(st)}
}
