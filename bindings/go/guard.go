package cfutures

import (
	"errors"
	"runtime/debug"
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
func guarded(fn func()) (err error) {
	done := make(chan struct{})
	go func() {
		defer close(done)
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
	<-done
	return err
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
