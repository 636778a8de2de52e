package cfutures

/*
#include "cfutures.h"
#include "shim.h"
*/
import "C"

import (
	"context"
	"sync"
	"time"
)

// Deadlock-proof waits from Go tasks. The library runs a pending task of a worker's own pool
// inline, and refuses waits that close a cycle of waiting tasks, by recognising the waiting
// thread. A Go wait parks a goroutine instead, so a wait from inside a Go task goes through
// the library on the task's worker thread:
//   - WithDirectGoTasks: the closure runs on that thread; it calls cfut_future_wait itself.
//   - default: the closure runs on a goroutine of its own while the worker thread waits in
//     guarded; that goroutine hands the wait to the worker thread (runningTasks), which
//     calls cfut_future_wait and replies.
// Waits from anywhere else (not inside a task) park a goroutine as before.

// taskCtx is a Go task running on a goroutine of its own; its worker thread serves waits.
type taskCtx struct {
	waits chan waitReq
}

type waitReq struct {
	ref   *futRef // acquired by the requester, released by the worker after the wait
	ns    C.uint64_t
	reply chan C.cfut_status // buffered: the requester may have given up (ctx)
}

// runningTasks maps the goroutine id of each running guarded Go task to its taskCtx.
var runningTasks sync.Map

// serve runs one wait on the worker thread (called from guarded).
func (r waitReq) serve() {
	st := C.cfut_future_wait(r.ref.ptr, r.ns)
	r.ref.release()
	r.reply <- st
}

const forever = ^uint64(0)

func nsOf(d time.Duration) uint64 {
	if d < 0 {
		return forever
	}
	if d == 0 {
		return 1 // past a deadline: still let an own-pool task run inline
	}
	return uint64(d)
}

func ctxNs(ctx context.Context) uint64 {
	if dl, ok := ctx.Deadline(); ok {
		return nsOf(max(time.Until(dl), 0))
	}
	return forever
}

// callerIsTask reports whether the calling goroutine runs a Go task of a thread pool (the
// only callers whose waits go through the library).
func callerIsTask() bool {
	if C.cfutgo_in_task() != 0 {
		return true
	}
	_, ok := runningTasks.Load(goid())
	return ok
}

// waitInLibrary is called by a wait that would block. When the caller is a Go task of a
// cfutures thread pool, it waits through the library on the task's worker thread (running
// an own-pool task inline, refusing a cycle) and returns ErrWouldDeadlock if the library
// refused; nil means "go on waiting on the done channel" (the future is done by then,
// or the deadline passed, or the caller is no task).
func (f *Future[T]) waitInLibrary(ns uint64, cancel <-chan struct{}) error {
	if C.cfutgo_in_task() != 0 { // a WithDirectGoTasks closure, on its worker thread
		cf := f.ref.acquire()
		if cf == nil {
			return nil
		}
		st := C.cfut_future_wait(cf, C.uint64_t(ns))
		f.ref.release()
		if st == C.CFUT_WOULD_DEADLOCK {
			return ErrWouldDeadlock
		}
		return nil
	}
	v, ok := runningTasks.Load(goid())
	if !ok {
		return nil
	}
	if f.ref.acquire() == nil {
		return nil
	}
	req := waitReq{ref: &f.ref, ns: C.uint64_t(ns), reply: make(chan C.cfut_status, 1)}
	v.(*taskCtx).waits <- req
	select {
	case st := <-req.reply:
		if st == C.CFUT_WOULD_DEADLOCK {
			return ErrWouldDeadlock
		}
	case <-cancel: // the worker thread finishes the wait on its own
	}
	return nil
}
