package cfutures

/*
#include "cfutures.h"
#include "shim.h"
*/
import "C"

import (
	"runtime"
	"sync/atomic"
	"time"
)

// WhenFull says what a submit does when a bounded queue (WithMaxQueued) is full.
type WhenFull uint32

const (
	// WhenFullBlock waits for room (the default).
	WhenFullBlock WhenFull = C.CFUT_WHEN_FULL_BLOCK
	// WhenFullReject fails the submit with ErrQueueFull (TrySubmit returns it; Submit's
	// future fails with it).
	WhenFullReject WhenFull = C.CFUT_WHEN_FULL_REJECT
	// WhenFullCallerRuns runs the task on the submitting thread (thread pools only); a
	// Submit closure on a pool with runner goroutines, on a goroutine of the submitter's,
	// which waits for it.
	WhenFullCallerRuns WhenFull = C.CFUT_WHEN_FULL_CALLER_RUNS
)

// WithMaxQueued bounds the tasks accepted but not started (map chunks count) to n
// (0: unbounded, the default); w says what a submit does when n tasks wait. Submit
// closures on runner goroutines have a queue of their own, bounded alike.
func WithMaxQueued(n int, w WhenFull) ThreadPoolOption {
	return func(c *threadPoolConfig) { c.maxQueued, c.whenFull = n, w }
}

// WithIdleTimeout lets a worker thread (or runner goroutine) idle for d exit; a pool idle
// for longer holds no threads, and workers start again on demand. 0 (the default): workers
// never retire.
func WithIdleTimeout(d time.Duration) ThreadPoolOption {
	return func(c *threadPoolConfig) { c.idleTimeout = d }
}

// WithProcessMaxQueued bounds the tasks a process pool accepted but has not sent to a
// worker; w is WhenFullBlock or WhenFullReject (WhenFullCallerRuns is refused).
func WithProcessMaxQueued(n int, w WhenFull) ProcessPoolOption {
	return func(c *processPoolConfig) { c.maxQueued, c.whenFull = n, w }
}

// TrySubmit is Submit that waits at most timeout for room in a bounded queue, whatever
// the pool's WhenFull says (0: do not wait; Forever: no limit). On a full queue it returns
// nil and ErrQueueFull: fn was not queued and never runs, so the caller still has its
// request (answer "busy", retry later). Any other refusal (shut down, broken) is returned
// as the error too.
func TrySubmit[T any](ex *Executor, timeout time.Duration, fn func() (T, error)) (*Future[T], error) {
	if ex.h.gp != nil {
		f := newFuture[T]()
		f.fn = fn
		f.ex = ex.h
		if err := submitGoroutine(ex, f, true, timeout); err != nil {
			f.fn = nil
			return nil, err
		}
		return f, nil
	}
	ptr := ex.h.acquire()
	if ptr == nil {
		return nil, ErrShutdown
	}
	f := newFuture[T]()
	f.fn = fn
	f.ex = ex.h
	startDispatcher()
	h := newTaskHandle(f)
	var cf *C.cfut_future
	ns := C.uint64_t(C.CFUT_FOREVER)
	if timeout >= 0 {
		ns = C.uint64_t(timeout)
	}
	st := C.cfutgo_try_submit_go(ptr, C.uintptr_t(h), ns, &cf)
	ex.h.release()
	if st != C.CFUT_OK {
		h.delete()
		f.fn = nil
		return nil, Status(st)
	}
	f.attach(cf, st, h)
	return f, nil
}

// Stats are an executor's counters (cfut_executor_stats): exact once the pool is quiet.
type Stats struct {
	Workers, IdleWorkers                              int    // alive now, and of those idle
	Queued, Running                                   uint64 // now
	Submitted, Completed, Failed, Cancelled, Rejected uint64 // since creation
	PeakQueued, WorkerRestarts                        uint64
}

// Stats reads the executor's counters (zero once closed). Keeping them costs the submit
// and complete paths nothing shared: each worker counts for itself and this sums. On a
// thread pool whose Go closures run on runner goroutines (see Submit), each field is the
// library's count plus the Go side's: runner goroutines count as workers (WorkerRestarts
// counts threads only), and PeakQueued adds the two queues' peaks (exact when only one of
// them was used).
func (e *Executor) Stats() Stats {
	ptr := e.h.acquire()
	if ptr == nil {
		return Stats{}
	}
	defer e.h.release()
	var s C.cfut_executor_stats
	s.struct_size = C.uint32_t(C.sizeof_cfut_executor_stats)
	if C.cfut_executor_stats_get(ptr, &s) != C.CFUT_OK {
		return Stats{}
	}
	st := Stats{
		Workers: int(s.workers), IdleWorkers: int(s.idle_workers),
		Queued: uint64(s.queued), Running: uint64(s.running),
		Submitted: uint64(s.submitted), Completed: uint64(s.completed), Failed: uint64(s.failed),
		Cancelled: uint64(s.cancelled), Rejected: uint64(s.rejected),
		PeakQueued: uint64(s.peak_queued), WorkerRestarts: uint64(s.worker_restarts),
	}
	if e.h.gp != nil {
		e.h.gp.stats(&st)
	}
	return st
}

var unobservedHook atomic.Pointer[func(error)]

// SetUnobservedErrorHook installs fn (nil removes it) to hear of every failed future whose
// error nobody read: a Future's Result, ResultTimeout or Err never returned it (a discarded
// fire-and-forget Submit, say), and, for futures Go never saw, the library's own report
// (cfut_set_unobserved_error_hook). A Go Future is "gone" when the garbage collector finds
// it unreachable, so its report comes after a collection, not at once. fn runs on a
// goroutine of its own, once per failure; cancelled futures never report. Only futures
// created while a hook is installed are tracked.
func SetUnobservedErrorHook(fn func(error)) {
	if fn == nil {
		unobservedHook.Store(nil)
		C.cfutgo_set_unobserved_hook(0)
		return
	}
	unobservedHook.Store(&fn)
	C.cfutgo_set_unobserved_hook(1)
}

func reportUnobserved(err error) {
	if h := unobservedHook.Load(); h != nil {
		go (*h)(err)
	}
}

// observation follows whether a failed Future's error was read, apart from the Future so
// that a cleanup can report it once the Future is unreachable.
type observation struct {
	read atomic.Bool
	err  atomic.Pointer[error]
}

// newObservation is non-nil only while a hook is installed (tracking costs nothing else).
func newObservation() *observation {
	if unobservedHook.Load() == nil {
		return nil
	}
	return &observation{}
}

// watchFailure arranges the report of a failure nobody reads (o may be nil).
func watchFailure[T any](f *Future[T], o *observation, err error) {
	if o == nil || err == nil {
		return
	}
	o.err.Store(&err)
	runtime.AddCleanup(f, func(o *observation) {
		if e := o.err.Load(); e != nil && !o.read.Load() {
			reportUnobserved(*e)
		}
	}, o)
}
