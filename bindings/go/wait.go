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
// thread. A Go wait parks a goroutine instead, so a wait from inside a Go task goes:
//   - on a runner goroutine (Submit's default, gopool.go): to runCtx.waitFor, the same
//     rules kept in Go among the Go closures of runner pools;
//   - WithDirectGoTasks: the closure runs on its worker thread; it calls cfut_future_wait.
//   - a library task on a goroutine of its own (a pool with an initializer, SubmitCtx,
//     groups): its worker thread waits in guarded; the goroutine hands the wait to it
//     (runningTasks), which calls cfut_future_wait and replies.
// Waits from anywhere else (not inside a task) park a goroutine as before. A cycle that
// runs through both a runner goroutine and a library task is not detected.

// taskCtx is a Go task running on a goroutine of its own; its worker thread serves waits.
type taskCtx struct {
	waits chan waitReq
	run   *runCtx // instead, a goroutine-path task (gopool.go): its waits stay in Go
}

type waitReq struct {
	do    func() C.cfut_status // the blocking C call, run on the worker thread
	reply chan C.cfut_status   // buffered: the requester may have given up (ctx)
}

// runningTasks maps the goroutine id of each running guarded Go task, and of each runner
// goroutine, to its taskCtx.
var runningTasks sync.Map

// serve runs one wait on the worker thread (called from guarded).
func (r waitReq) serve() {
	r.reply <- r.do()
}

// onWorkerThread runs the blocking C call do where the library recognises the caller's
// task: on its worker thread. ok is false (do not run) when the caller is no Go task.
// cancel (may be nil) frees the caller early; do then still runs to its end on the worker.
func onWorkerThread(do func() C.cfut_status, cancel <-chan struct{}) (st C.cfut_status, ok bool) {
	if C.cfutgo_in_task() != 0 { // a WithDirectGoTasks closure, already on its worker thread
		return do(), true
	}
	v, found := runningTasks.Load(goid())
	if !found || v.(*taskCtx).run != nil { // none, or on a runner goroutine: no worker thread
		return C.CFUT_OK, false
	}
	req := waitReq{do: do, reply: make(chan C.cfut_status, 1)}
	v.(*taskCtx).waits <- req
	select {
	case st = <-req.reply:
	case <-cancel:
		st = C.CFUT_TIMEOUT
	}
	return st, true
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
	if C.cfutgo_in_task() == 0 {
		if rc := currentRunner(); rc != nil {
			return rc.waitFor(f.goJobOf(), f.done, ns, cancel)
		}
	}
	if !callerIsTask() || f.ref.acquire() == nil {
		return nil
	}
	ref := &f.ref
	st, _ := onWorkerThread(func() C.cfut_status {
		defer ref.release()
		return C.cfut_future_wait(ref.ptr, C.uint64_t(ns))
	}, cancel)
	if st == C.CFUT_WOULD_DEADLOCK {
		return ErrWouldDeadlock
	}
	return nil
}
