package cfutures

/*
#include "cfutures.h"
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
)

// Status is a cfut_status value from the C library. Every Status is an error, so the
// sentinel errors below are Status values and errors.Is compares them.
type Status uint32

// The C library's statuses (values pinned by the C ABI).
const (
	StatusOK              Status = C.CFUT_OK
	StatusTimeout         Status = C.CFUT_TIMEOUT
	StatusCancelled       Status = C.CFUT_CANCELLED
	StatusTaskFailed      Status = C.CFUT_TASK_FAILED
	StatusShutdown        Status = C.CFUT_SHUTDOWN
	StatusBroken          Status = C.CFUT_BROKEN
	StatusWorkerDied      Status = C.CFUT_WORKER_DIED
	StatusInvalidArgument Status = C.CFUT_INVALID_ARGUMENT
	StatusInvalidState    Status = C.CFUT_INVALID_STATE
	StatusWouldDeadlock   Status = C.CFUT_WOULD_DEADLOCK
	StatusQueueFull       Status = C.CFUT_QUEUE_FULL
	StatusExhausted       Status = C.CFUT_EXHAUSTED
	StatusUnsupported     Status = C.CFUT_UNSUPPORTED
	StatusNoMemory        Status = C.CFUT_NO_MEMORY
	StatusPanic           Status = C.CFUT_PANIC
)

// Sentinel errors, for errors.Is. Errors this package returns either are one of these or
// wrap one (a *TaskError, a timeout from a context), except a Go task's own error, which is
// returned as itself, and a *PanicError.
var (
	ErrTimeout         error = StatusTimeout         // the deadline passed first (Python's TimeoutError)
	ErrCancelled       error = StatusCancelled       // the future was cancelled (CancelledError)
	ErrTaskFailed      error = StatusTaskFailed      // a C task returned a non-zero code
	ErrShutdown        error = StatusShutdown        // the executor accepts no new work
	ErrBroken          error = StatusBroken          // an initializer failed (BrokenExecutor)
	ErrWorkerDied      error = StatusWorkerDied      // a process-pool worker died
	ErrInvalidArgument error = StatusInvalidArgument // bad input
	ErrInvalidState    error = StatusInvalidState    // not allowed in the future's state
	ErrWouldDeadlock   error = StatusWouldDeadlock   // shutdown(wait) from the pool's own worker
	ErrQueueFull       error = StatusQueueFull       // a bounded queue is full (TrySubmit, WhenFullReject)
	ErrUnsupported     error = StatusUnsupported     // e.g. a pointer task on a process pool
	ErrNoMemory        error = StatusNoMemory        // an allocation failed
	ErrPanic           error = StatusPanic           // an internal library bug was caught
)

var statusNames, statusStrings [StatusPanic + 1]string

func init() {
	for s := StatusOK; s <= StatusPanic; s++ {
		statusNames[s] = C.GoString(C.cfut_status_name(C.uint32_t(s)))
		statusStrings[s] = C.GoString(C.cfut_status_str(C.uint32_t(s)))
	}
}

// Name is the C constant's name, e.g. "CFUT_TIMEOUT".
func (s Status) Name() string {
	if s <= StatusPanic {
		return statusNames[s]
	}
	return C.GoString(C.cfut_status_name(C.uint32_t(s)))
}

func (s Status) Error() string {
	if s <= StatusPanic {
		return "cfutures: " + statusStrings[s]
	}
	return "cfutures: " + C.GoString(C.cfut_status_str(C.uint32_t(s)))
}

func (s Status) String() string { return s.Name() }

// statusErr is nil for StatusOK and the Status otherwise.
func statusErr(s C.cfut_status) error {
	if s == C.CFUT_OK {
		return nil
	}
	return Status(s)
}

// TaskError is how a future failed when the failure came from the C side: a C task's
// non-zero code, a broken pool, a dead worker process. errors.Is(err, ErrTaskFailed),
// ErrBroken or ErrWorkerDied matches on Status.
type TaskError struct {
	Status  Status // StatusTaskFailed, StatusBroken, StatusWorkerDied, ...
	Code    int32  // the task's code; the signal (negative) or exit code of a dead worker
	Message string // the task's message, if it set one
}

func (e *TaskError) Error() string {
	msg := fmt.Sprintf("%s (code %d)", e.Status.Error(), e.Code)
	if e.Message != "" {
		msg += ": " + e.Message
	}
	return msg
}

// Unwrap returns the Status, so errors.Is(err, ErrTaskFailed) and friends work.
func (e *TaskError) Unwrap() error { return e.Status }

// PanicError is the error of a future whose Go task panicked: the panic is recovered on the
// worker thread and never crosses into the library.
type PanicError struct {
	Value any    // what was passed to panic
	Stack []byte // the panicking goroutine's stack
}

func (e *PanicError) Error() string { return fmt.Sprintf("cfutures: task panicked: %v", e.Value) }

// Unwrap returns the panic value if it is an error (so errors.Is sees through panic(err)).
func (e *PanicError) Unwrap() error {
	if err, ok := e.Value.(error); ok {
		return err
	}
	return nil
}

// timeoutError is returned when a context ends first: it matches ErrTimeout and also the
// context's own error (context.DeadlineExceeded or context.Canceled).
type timeoutError struct{ ctxErr error }

func (e timeoutError) Error() string        { return ErrTimeout.Error() + ": " + e.ctxErr.Error() }
func (e timeoutError) Is(target error) bool { return target == ErrTimeout }
func (e timeoutError) Unwrap() error        { return e.ctxErr }

// ctxError maps a finished context's error: a deadline is a timeout (matching both
// ErrTimeout and context.DeadlineExceeded); a cancellation is returned as itself.
func ctxError(err error) error {
	if err == nil || errors.Is(err, context.DeadlineExceeded) {
		return timeoutError{context.DeadlineExceeded}
	}
	return err
}
