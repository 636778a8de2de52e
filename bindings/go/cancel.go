package cfutures

/*
#include "cfutures.h"
#include "shim.h"
*/
import "C"

import (
	"context"
	"errors"
	"runtime"
	"runtime/cgo"
)

// SubmitCtx runs fn on one of the executor's worker threads, like Submit, handing it a
// context that is cancelled (cause ErrCancelled) when cancellation of the running task is
// requested: by f.RequestCancel(), by a Group's first error or cancellation, or by C code
// through cfut_future_request_cancel on f.Raw(). A task that then returns an error matching
// context.Canceled (typically ctx.Err()) acknowledges: its future ends cancelled (Result
// gives ErrCancelled, Cancelled is true). The context is also cancelled once fn returns.
func SubmitCtx[T any](ex *Executor, fn func(ctx context.Context) (T, error)) *Future[T] {
	ctx, cancel := context.WithCancelCause(context.Background())
	f := newFuture[T]()
	f.fn = func() (T, error) {
		defer cancel(nil)
		return fn(ctx)
	}
	f.ack = func(err error) bool { return ctx.Err() != nil && errors.Is(err, context.Canceled) }
	submitGo(ex, f, nil)
	f.forwardCancel(func() { cancel(ErrCancelled) })
	return f
}

// submitGo hands f (whose fn is set) to the executor, or to group g when not nil.
func submitGo[T any](ex *Executor, f *Future[T], g *C.cfut_group) {
	f.ex = ex.h
	ptr := ex.h.acquire()
	if ptr == nil {
		f.fail(ErrShutdown)
		return
	}
	startDispatcher()
	h := newTaskHandle(f)
	var cf *C.cfut_future
	var st C.cfut_status
	if g != nil {
		st = C.cfutgo_group_submit_go(g, C.uintptr_t(h), &cf)
	} else {
		st = C.cfutgo_submit_go(ptr, C.uintptr_t(h), &cf)
	}
	ex.h.release()
	f.attach(cf, st, h)
}

// forwardCancel calls fn once if cancellation of the running task is requested.
func (f *Future[T]) forwardCancel(fn func()) {
	ptr := f.ref.acquire()
	if ptr == nil {
		return // refused or already done
	}
	h := cgo.NewHandle(fn)
	C.cfutgo_on_cancel(ptr, C.uintptr_t(h)) // deletes h exactly once, whatever happens
	f.ref.release()
	runtime.KeepAlive(f)
}

// RequestCancel is cooperative cancellation (cfut_future_request_cancel): a pending future
// is cancelled (true, as Cancel); a running task is asked to stop (false): a SubmitCtx
// task sees its context cancelled, a C task sees cfut_result_cancel_requested; a plain
// Submit task is not told. A done future is left alone (returns Cancelled()).
func (f *Future[T]) RequestCancel() bool {
	select {
	case <-f.done:
		return f.cancelled
	default:
	}
	ptr := f.ref.acquire()
	if ptr == nil {
		return f.Cancelled()
	}
	ok := bool(C.cfut_future_request_cancel(ptr))
	f.ref.release()
	runtime.KeepAlive(f)
	if ok && f.gj.pool != nil {
		f.cancelledGo() // no done-callback does it (see gopool.go)
	}
	if ok {
		<-f.done // the dispatcher settles it at once
	}
	return ok
}
