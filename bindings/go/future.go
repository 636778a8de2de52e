package cfutures

/*
#include <stdlib.h>
#include "cfutures.h"
*/
import "C"

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// Future is the eventual outcome of a task. Waiting (Result, Err, Done) parks a goroutine
// on a channel, never an OS thread. Methods are safe for concurrent use. A Future holds a C
// future until it is done (SubmitC's: until Close, with a cleanup as the backstop).
type Future[T any] struct {
	done chan struct{} // closed once the outcome below is set

	mu        sync.Mutex // guards the fields below until done is closed
	fn        func() (T, error)
	val       T
	err       error
	cancelled bool
	fired     bool
	callbacks []func(*Future[T])

	extract func(data unsafe.Pointer, n C.size_t) T // C tasks: the value from the C outcome
	keepRef bool                                    // SubmitC: hold the C future until Close (the value is borrowed from it)
	ack     func(err error) bool                    // SubmitCtx: does the task's error acknowledge a cancellation request?
	ex      *exHandle                               // Submit: the executor (WithDirectGoTasks, ownTask)
	gj      goJob                                   // Submit on runner goroutines (gopool.go); gj.pool nil otherwise

	ref     futRef
	cleanup runtime.Cleanup
	obs     *observation // non-nil while an unobserved-error hook is installed
}

// futRef owns one reference to the C future; see exHandle for the uses/closedBit scheme.
type futRef struct {
	ptr  *C.cfut_future
	uses atomic.Int64
}

func (r *futRef) acquire() *C.cfut_future {
	for {
		s := r.uses.Load()
		if s&closedBit != 0 || r.ptr == nil {
			return nil
		}
		if r.uses.CompareAndSwap(s, s+1) {
			return r.ptr
		}
	}
}

func (r *futRef) release() {
	if r.uses.Add(-1) == closedBit {
		C.cfut_future_release(r.ptr)
	}
}

func (r *futRef) close() {
	if r.closeLater() {
		C.cfut_future_release(r.ptr)
	}
}

// closeLater marks the reference closed and reports whether the caller must release it
// now (false: it was already closed, or the last user in flight will release it).
func (r *futRef) closeLater() bool {
	old := r.uses.Or(closedBit)
	return old == 0 && r.ptr != nil
}

func newFuture[T any]() *Future[T] {
	return &Future[T]{done: make(chan struct{}), obs: newObservation()}
}

// fail completes a future that never reached the library.
func (f *Future[T]) fail(err error) {
	f.mu.Lock()
	f.err, f.fn, f.fired = err, nil, true
	f.mu.Unlock()
	watchFailure(f, f.obs, err)
	close(f.done)
}

// observed records that the caller read the outcome (no unobserved-error report).
func (f *Future[T]) observed() {
	if f.obs != nil {
		f.obs.read.Store(true)
	}
}

// attach records the submit's outcome: the C future, or the refusal.
func (f *Future[T]) attach(cf *C.cfut_future, st C.cfut_status, h taskHandle) {
	if st != C.CFUT_OK {
		h.delete() // the done-callback was never registered
		f.fail(Status(st))
		return
	}
	f.ref.ptr = cf
	if f.keepRef {
		f.cleanup = runtime.AddCleanup(f, func(p *C.cfut_future) { C.cfut_future_release(p) }, cf)
	}
	// Otherwise the dispatcher drops the reference once the future is done (onDone): a
	// done future keeps everything it needs in Go memory, so nothing is left to clean up.
}

// run executes the Go closure for a library worker (called through cfutGoTask), on a
// goroutine of its own (see guarded).
func (f *Future[T]) run(out *C.cfut_result) (code C.int32_t) {
	f.mu.Lock()
	fn := f.fn
	f.fn = nil
	f.mu.Unlock()
	var v T
	var err error
	call := func() { v, err = fn() }
	var perr error
	if f.ex != nil && f.ex.direct {
		perr = recovered(call)
	} else {
		perr = guarded(f.ex, call)
	}
	if perr != nil {
		v, err = *new(T), perr
	}
	f.mu.Lock()
	f.val, f.err = v, err
	f.mu.Unlock()
	if err != nil && f.ack != nil && f.ack(err) {
		C.cfut_result_set_cancelled(out) // the future ends CANCELLED (ErrCancelled)
		return 0
	}
	if err != nil {
		setErrorMessage(out, 1, err)
		return 1
	}
	return 0
}

// setErrorMessage copies the Go error's text into the C future (for C observers, Raw).
func setErrorMessage(out *C.cfut_result, code C.int32_t, err error) {
	msg := safeErrorString(err)
	cmsg := C.CString(msg)
	C.cfut_result_set_error(out, code, cmsg)
	C.free(unsafe.Pointer(cmsg))
}

func safeErrorString(err error) (s string) {
	defer func() {
		if r := recover(); r != nil {
			s = fmt.Sprintf("error (its Error method panicked: %v)", r)
		}
	}()
	return err.Error()
}

// doneInfo is how a future ended, read in C (see cfutgo_done in shim.h).
type doneInfo struct {
	cancelled bool
	status    C.uint32_t // cfut_error.status: CFUT_OK on success
	code      C.int32_t
	message   *C.char        // borrowed from the C future, which is held meanwhile
	data      unsafe.Pointer // on success: the value pointer, or the bytes
	len       C.size_t
}

// doneInfoOf reads the outcome of a done future through the C API.
func doneInfoOf(cf *C.cfut_future) doneInfo {
	var e C.cfut_error
	st := C.cfut_future_error(cf, 0, &e)
	d := doneInfo{cancelled: st == C.CFUT_CANCELLED, status: e.status, code: e.code, message: e.message}
	if st == C.CFUT_OK && e.status == C.CFUT_OK {
		C.cfut_future_result_bytes(cf, 0, &d.data, &d.len)
	}
	return d
}

// onDone runs once per future, on the dispatcher goroutine (or the completing thread in
// the out-of-memory fallback): it settles the Go-side outcome, closes Done, then hands the
// callbacks to a goroutine of their own, so user code never stalls the dispatcher.
//
// It returns true when the caller must drop the future's own C reference (batched by the
// dispatcher): every future but SubmitC's lets it go once done.
func (f *Future[T]) onDone(d *doneInfo) (releaseRef bool) {
	var val T
	var err error
	switch {
	case d.cancelled:
		err = ErrCancelled
	case d.status == C.CFUT_OK:
		if f.extract != nil {
			val = f.extract(d.data, d.len)
		}
	default:
		te := &TaskError{Status: Status(d.status), Code: int32(d.code)}
		if d.message != nil {
			te.Message = C.GoString(d.message)
		}
		err = te
	}
	if d.cancelled && f.gj.pool != nil {
		f.gj.pool.onCancelled(&f.gj)
	}
	f.mu.Lock()
	if f.extract != nil || err != nil && (f.err == nil || d.cancelled) {
		f.val, f.err = val, err
	} // else: a Go task, whose own value and error run() stored
	f.cancelled = d.cancelled
	f.fn = nil
	f.fired = true
	cbs := f.callbacks
	f.callbacks = nil
	failure := f.err
	if f.cancelled {
		failure = nil
	}
	f.mu.Unlock()
	watchFailure(f, f.obs, failure)
	// Let the C future go (unless SubmitC's value borrows from it), before Done closes, so
	// a done future's Raw is nil. The caller drops the reference through the C future it
	// holds: f.ref.ptr may not be set yet (a task can finish before Submit's attach runs).
	releaseRef = !f.keepRef && f.ref.uses.Or(closedBit) == 0
	close(f.done)
	if len(cbs) > 0 {
		go f.runCallbacks(cbs)
	}
	return releaseRef
}

// runCallbacks calls cbs in order. A callback that calls runtime.Goexit ends this
// goroutine (Goexit cannot be stopped), so the rest go on on a new one.
func (f *Future[T]) runCallbacks(cbs []func(*Future[T])) {
	for i, cb := range cbs {
		normal := false
		func() {
			defer func() {
				if !normal && recover() == nil {
					go f.runCallbacks(cbs[i+1:])
				}
			}()
			cb(f)
			normal = true
		}()
	}
}

func (f *Future[T]) callback(cb func(*Future[T])) {
	defer func() { _ = recover() }() // as Python: a failing callback does not hurt the others
	cb(f)
}

func extractPointer(data unsafe.Pointer, _ C.size_t) unsafe.Pointer { return data }

func extractBytes(data unsafe.Pointer, n C.size_t) []byte {
	if data == nil {
		return nil
	}
	return C.GoBytes(data, C.int(n))
}

// Done is closed once the future has a value, an error, or was cancelled.
func (f *Future[T]) Done() <-chan struct{} { return f.done }

// spinDone polls Done for up to spinBudget (yielding to other goroutines) before the
// caller parks: waking a parked goroutine's thread costs tens of microseconds on a VM, a
// poll costs nanoseconds. Reports whether the future is done.
func (f *Future[T]) spinDone() bool {
	var start time.Time
	for i := 0; ; i++ {
		select {
		case <-f.done:
			return true
		default:
		}
		if i%16 == 0 {
			if i == 0 {
				start = time.Now()
			} else if time.Since(start) > spinBudget {
				return false
			}
		}
		runtime.Gosched()
	}
}

const spinBudget = 50 * time.Microsecond

// outcome is valid once done is closed (the close publishes it).
func (f *Future[T]) outcome() (T, error) {
	f.observed()
	return f.val, f.err
}

// Result waits for the outcome or for ctx to end. A task's own error is returned as
// itself; a cancelled future gives ErrCancelled; a context deadline gives an error matching
// both ErrTimeout and context.DeadlineExceeded (a cancelled context: context.Canceled).
//
// Deadlock-proof waits: called from inside a task of a thread pool (a Submit closure, on a
// runner goroutine or a worker thread) on a pending future of the same pool, the awaited
// task runs right away (on a goroutine of its own, or on the task's worker thread) unless
// WithInlineWaits(false), so a one-worker pool whose task submits and waits does not
// hang; a wait that would close a cycle of tasks waiting on each other returns
// ErrWouldDeadlock at once. ctx's deadline bounds the waiting, not a task already run
// inline. After a cancelled ctx (no deadline) a worker thread keeps waiting for the
// future in the background until it is done.
func (f *Future[T]) Result(ctx context.Context) (T, error) {
	if f.spinDone() {
		return f.outcome()
	}
	if err := f.waitInLibrary(ctxNs(ctx), ctx.Done()); err != nil {
		var zero T
		return zero, err
	}
	select {
	case <-f.done:
		return f.outcome()
	case <-ctx.Done():
		var zero T
		return zero, ctxError(ctx.Err())
	}
}

// Forever, as a timeout, waits without limit.
const Forever time.Duration = -1

// ResultTimeout is Python's result(timeout): it waits up to d (Forever: no limit; 0 polls)
// and returns ErrTimeout if the future is not done by then.
func (f *Future[T]) ResultTimeout(d time.Duration) (T, error) {
	select {
	case <-f.done:
		return f.outcome()
	default:
	}
	if d != 0 && f.spinDone() {
		return f.outcome()
	}
	var zero T
	deadline := time.Now().Add(d)
	if d != 0 {
		if err := f.waitInLibrary(nsOf(d), nil); err != nil {
			return zero, err
		}
	}
	if d < 0 {
		<-f.done
		return f.outcome()
	}
	if d == 0 {
		return zero, ErrTimeout
	}
	t := time.NewTimer(max(time.Until(deadline), 0))
	defer t.Stop()
	select {
	case <-f.done:
		return f.outcome()
	case <-t.C:
		return zero, ErrTimeout
	}
}

// Err waits until the future is done and returns its error (nil on success). Select on
// Done first to avoid waiting. From inside a task, a wait that would close a cycle of
// tasks waiting on each other returns ErrWouldDeadlock at once (the future is not done).
func (f *Future[T]) Err() error {
	if !f.spinDone() {
		if err := f.waitInLibrary(forever, nil); err != nil {
			return err
		}
		<-f.done
	}
	f.observed()
	return f.err
}

// Cancel is Python's cancel(): it cancels a pending future and returns true (true also if
// it was already cancelled); false once it runs or finished. When it returns true, Done is
// closed. After Close, Cancel can no longer reach the task.
func (f *Future[T]) Cancel() bool {
	select {
	case <-f.done:
		return f.cancelled
	default:
	}
	ok := f.cancelNoWait()
	if ok {
		<-f.done // the dispatcher settles it at once
	}
	return ok
}

// cancelNoWait cancels without waiting for the dispatcher to close Done.
func (f *Future[T]) cancelNoWait() bool {
	ptr := f.ref.acquire()
	if ptr == nil {
		return f.Cancelled()
	}
	ok := C.cfut_future_cancel(ptr)
	f.ref.release()
	runtime.KeepAlive(f)
	if ok && f.gj.pool != nil {
		f.cancelledGo() // no done-callback does it (see gopool.go)
	}
	return bool(ok)
}

// Cancelled reports whether the future was cancelled.
func (f *Future[T]) Cancelled() bool {
	select {
	case <-f.done:
		return f.cancelled
	default:
	}
	ptr := f.ref.acquire()
	if ptr == nil {
		return false
	}
	c := C.cfut_future_cancelled(ptr)
	f.ref.release()
	runtime.KeepAlive(f)
	return bool(c)
}

// Running reports whether the task is running right now.
func (f *Future[T]) Running() bool {
	select {
	case <-f.done:
		return false
	default:
	}
	ptr := f.ref.acquire()
	if ptr == nil {
		return false
	}
	r := C.cfut_future_running(ptr)
	f.ref.release()
	runtime.KeepAlive(f)
	return bool(r)
}

// AddDoneCallback calls fn(f) once the future is done: on a goroutine of its own (never on
// a library worker, so fn may block), or at once on this goroutine if the future is
// already done. A future's callbacks run in the order added, one after another; a panic in
// one is recovered and ignored.
func (f *Future[T]) AddDoneCallback(fn func(*Future[T])) {
	f.mu.Lock()
	if !f.fired {
		f.callbacks = append(f.callbacks, fn)
		f.mu.Unlock()
		return
	}
	f.mu.Unlock()
	<-f.done
	f.callback(fn)
}

// Close releases the C future early. Only SubmitC futures need it (a cleanup is their
// backstop): their value is borrowed from the C future and stays valid until Close. Other
// futures release the C future themselves once done, so Close is optional for them. The
// outcome stays readable; closing never cancels a task, but after Close, Cancel and
// Running no longer reach it. Idempotent.
func (f *Future[T]) Close() {
	f.cleanup.Stop()
	f.ref.close()
}

// Raw returns the C future (cfut_future*), borrowed: valid until Close (for Submit and
// SubmitBytes futures, only until Done closes; cfut_future_retain keeps it longer), nil if
// the submit failed or after Close. Keep f reachable (runtime.KeepAlive) while C code uses
// it. A Submit closure's future may be waited on, cancelled or asked to cancel from C
// (Go hears of a cancellation at once), but not completed: its runner does that.
func (f *Future[T]) Raw() unsafe.Pointer {
	ptr := f.ref.acquire()
	if ptr == nil {
		return nil
	}
	f.gj.watchForC(ptr) // a Go closure's future: let a cancellation by C code reach Go
	f.ref.release()
	return unsafe.Pointer(ptr)
}

// failed reports a done future that ended with an error other than cancellation
// (what FIRST_EXCEPTION waits for). Valid once done is closed.
func (f *Future[T]) failed() bool { return f.err != nil && !f.cancelled }

// String describes the state, like Python's Future repr.
func (f *Future[T]) String() string {
	select {
	case <-f.done:
		switch {
		case f.cancelled:
			return "Future(cancelled)"
		case f.err != nil:
			return fmt.Sprintf("Future(finished, error: %v)", f.err)
		default:
			return fmt.Sprintf("Future(finished, %v)", f.val)
		}
	default:
	}
	if f.Running() {
		return "Future(running)"
	}
	return "Future(pending)"
}
