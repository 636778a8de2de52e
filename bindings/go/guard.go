package cfutures

import (
	"errors"
	"runtime/debug"

	"github.com/cfutures/cfutures/bindings/go/internal/gid"
)

// ErrGoexit matches the error of a task (or initializer) that called runtime.Goexit, as
// t.FailNow, t.Fatal and t.SkipNow do: the future fails with a *GoexitError, the process
// goes on.
var ErrGoexit = errors.New("cfutures: task called runtime.Goexit")

// GoexitError is the error of a future whose Go task called runtime.Goexit.
type GoexitError struct {
	Stack []byte // the task's stack where it called Goexit
}

func (e *GoexitError) Error() string { return ErrGoexit.Error() + " (t.FailNow, t.Fatal, t.SkipNow?)" }

// Unwrap returns ErrGoexit, for errors.Is.
func (e *GoexitError) Unwrap() error { return ErrGoexit }

// guarded runs fn on a goroutine of its own and waits for it. A library worker enters Go
// as a cgo callback, and runtime.Goexit on a C-created thread kills the process (it cannot
// be recovered, only observed from a defer); on a goroutine of its own it ends only that
// goroutine. A panic in fn is returned as a *PanicError, a Goexit as a *GoexitError.
//
// The library recognises calls from one of a pool's own workers by the thread (Shutdown's
// ErrWouldDeadlock, Close without waiting); x, if not nil, records this goroutine as one
// of x's tasks so that those calls still recognise it (see ownTask).
//
// While fn runs, this (the worker thread) serves the blocking waits fn makes on futures
// (see wait.go), so that the library sees them from its own worker.
func guarded(x *exHandle, fn func()) (err error) {
	done := make(chan struct{})
	// The channel fn's waits go to, and the one this thread serves: nil (never ready) for
	// initializers; for a guarded call nested in a task (Map's items), the outer task's,
	// served by its worker thread, not here.
	var waits, serve chan waitReq
	if x != nil {
		if outer, ok := runningTasks.Load(goid()); ok {
			waits = outer.(*taskCtx).waits
		} else {
			waits = make(chan waitReq)
			serve = waits
		}
	}
	go func() {
		defer close(done)
		if x != nil {
			id := goid()
			x.tasks.Store(id, nil)
			runningTasks.Store(id, &taskCtx{waits: waits})
			defer x.tasks.Delete(id)
			defer runningTasks.Delete(id)
		}
		normal := false
		defer func() {
			if normal {
				return
			}
			if r := recover(); r != nil {
				err = &PanicError{Value: r, Stack: debug.Stack()}
			} else { // neither returned nor panicked: Goexit (since Go 1.21, panic(nil) recovers non-nil)
				err = &GoexitError{Stack: debug.Stack()}
			}
		}()
		fn()
		normal = true
	}()
	for {
		select {
		case <-done:
			return err
		case r := <-serve:
			r.serve()
		}
	}
}

// recovered runs fn on this goroutine and returns its panic as a *PanicError (the
// WithDirectGoTasks path: a Goexit in fn is not survivable here).
func recovered(fn func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &PanicError{Value: r, Stack: debug.Stack()}
		}
	}()
	fn()
	return nil
}

// goid is the calling goroutine's identity (unique among live goroutines; see internal/gid).
func goid() uint64 { return uint64(gid.Current()) }

// ownTask reports whether the caller is one of x's running Go tasks.
func (x *exHandle) ownTask() bool {
	_, ok := x.tasks.Load(goid())
	return ok
}
