package cfutures

/*
#include "cfutures.h"
*/
import "C"

import (
	"context"
	"sync"
)

// Group is a task group on a thread pool, in the manner of golang.org/x/sync/errgroup:
// Go runs a function as a task, Wait waits for all of them (and for the tasks they start
// with Go meanwhile) and returns the first error. The first error cancels the group: tasks
// not started yet are cancelled and never run, the context of WithContext is cancelled, and
// tasks started with GoCtx see theirs cancelled. It sits on a cfut_group, so the library's
// rules hold: no task outlives Wait, and a cancelled group takes no more tasks.
//
// A Group is used until Wait returns; Go after that starts a new round. Do not call Wait
// from one of the group's own tasks.
type Group struct {
	ex     *Executor
	ctx    context.Context
	cancel context.CancelCauseFunc
	stop   func() bool // unregisters the parent context's AfterFunc

	mu  sync.Mutex
	cg  *C.cfut_group
	err error // the first error a task returned
}

// NewGroup returns a group running its tasks on ex, cancelled by its first error.
func NewGroup(ex *Executor) *Group {
	g, _ := GroupWithContext(context.Background(), ex)
	return g
}

// GroupWithContext returns a group on ex and a context derived from ctx that is cancelled when a
// task returns an error or when Wait returns, whichever comes first (errgroup's
// WithContext). When ctx ends, the group is cancelled too.
func GroupWithContext(ctx context.Context, ex *Executor) (*Group, context.Context) {
	gctx, cancel := context.WithCancelCause(ctx)
	g := &Group{ex: ex, ctx: gctx, cancel: cancel}
	g.stop = context.AfterFunc(ctx, g.cancelTasks)
	return g, gctx
}

// group returns the C group, creating it for a new round.
func (g *Group) group() (*C.cfut_group, error) {
	if g.cg != nil {
		return g.cg, nil
	}
	ptr := g.ex.h.acquire()
	if ptr == nil {
		return nil, ErrShutdown
	}
	defer g.ex.h.release()
	var cg *C.cfut_group
	if st := C.cfut_group_new(ptr, C.CFUT_GROUP_CANCEL_ON_FAILURE, &cg); st != C.CFUT_OK {
		return nil, Status(st)
	}
	g.cg = cg
	return cg, nil
}

// Go runs fn as a task of the group. Once the group was cancelled (an error, or the
// parent context ended) fn does not run.
func (g *Group) Go(fn func() error) {
	g.GoCtx(func(context.Context) error { return fn() })
}

// GoCtx runs fn as a task of the group with a context cancelled when the group is (or
// when the task's own cancellation is requested; see SubmitCtx).
func (g *Group) GoCtx(fn func(ctx context.Context) error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	cg, err := g.group()
	if err != nil {
		g.fail(err)
		return
	}
	tctx, cancel := context.WithCancelCause(g.ctx)
	f := newFuture[struct{}]()
	f.fn = func() (struct{}, error) {
		defer cancel(nil)
		err := fn(tctx)
		if err != nil && !(tctx.Err() != nil && err == tctx.Err()) {
			g.failLocked(err)
		}
		return struct{}{}, err
	}
	f.ack = func(err error) bool { return tctx.Err() != nil && err == tctx.Err() }
	submitGo(g.ex, f, cg)
	f.forwardCancel(func() { cancel(ErrCancelled) })
}

// fail records err as the group's error if it is the first, and cancels the group.
func (g *Group) fail(err error) {
	if g.err == nil {
		g.err = err
	}
	g.cancel(err)
}

// failLocked is fail from a task (which does not hold mu).
func (g *Group) failLocked(err error) {
	g.mu.Lock()
	first := g.err == nil
	if first {
		g.err = err
	}
	g.mu.Unlock()
	if first {
		g.cancel(err)
	}
}

// cancelTasks cancels the C group (pending tasks never run, running ones are asked to stop).
func (g *Group) cancelTasks() {
	g.mu.Lock()
	if g.cg != nil {
		C.cfut_group_cancel(g.cg)
	}
	g.mu.Unlock()
}

// Wait blocks until every task of the group has returned (those started by tasks
// meanwhile included) and returns the first error a task returned, or nil. If the group
// was cancelled from outside (the parent context ended) and no task failed, it returns the
// parent context's error. The group's context is cancelled when Wait returns.
func (g *Group) Wait() error {
	g.mu.Lock()
	cg := g.cg
	g.mu.Unlock()
	var st C.cfut_status = C.CFUT_OK
	if cg != nil {
		wait := func() C.cfut_status { return C.cfut_group_wait(cg, ^C.uint64_t(0), nil) }
		// From a task: on its worker thread, so the group's pending tasks of that pool run
		// inline there (wait.go); elsewhere this blocks this goroutine's thread.
		var ok bool
		if st, ok = onWorkerThread(wait, nil); !ok {
			st = wait()
		}
		g.mu.Lock()
		g.cg = nil
		g.mu.Unlock()
		C.cfut_group_free(cg) // every task is done: returns at once
	}
	g.mu.Lock()
	err := g.err
	g.mu.Unlock()
	cause := context.Cause(g.ctx) // before Wait's own cancellation below
	g.stop()
	g.cancel(nil)
	if err != nil {
		return err
	}
	if st == C.CFUT_CANCELLED && cause != nil {
		return cause
	}
	if st != C.CFUT_OK && st != C.CFUT_CANCELLED {
		return Status(st)
	}
	return nil
}
