package cfutures

// The Go functions the library calls (through shim.c). This file's preamble may only hold
// declarations (cgo's rule for files with //export). None of these lets a panic escape:
// a Go panic must never unwind into Rust or C frames.

/*
#include <stdint.h>
#include "cfutures.h"
*/
import "C"

import "runtime/cgo"

// goTask is what a handle given to the library refers to: a future that can run a Go
// closure (for Submit) and that learns of its completion (for every kind of submit).
type goTask interface {
	run(out *C.cfut_result) C.int32_t
	onDone(d *doneInfo) (releaseRef bool)
}

//export cfutGoTask
func cfutGoTask(h C.uintptr_t, out *C.cfut_result) (code C.int32_t) {
	defer func() { // run recovers the task's panics; this guards against our own bugs
		if recover() != nil {
			code = -1
		}
	}()
	return taskHandle(h).value().run(out)
}

// cfutGoDone settles a future directly from the thread that completed it: the completion
// port's fallback when it cannot queue (out of memory). See port.go for the usual path.
// The done-callback owns the handle: it runs exactly once per future, after the task (if
// it ran) returned.
//
//export cfutGoDone
func cfutGoDone(f *C.cfut_future, h C.uintptr_t) {
	defer func() { _ = recover() }() // never unwind into the library
	t := taskHandle(h).take()
	d := doneInfoOf(f)
	if t.onDone(&d) {
		C.cfut_future_release(f) // the caller holds another reference meanwhile
	}
}

//export cfutGoInit
func cfutGoInit(h C.uintptr_t) (code C.int32_t) {
	defer func() { // e.g. a worker starting after Close ran on one of the pool's own tasks
		if recover() != nil {
			code = -1
		}
	}()
	return cgo.Handle(h).Value().(*initializer).run()
}

// cfutGoCancel forwards a cancellation request (cfut_future_on_cancel_request) to the Go
// function behind h, on the requesting thread.
//
//export cfutGoCancel
func cfutGoCancel(h C.uintptr_t) {
	defer func() { _ = recover() }() // never unwind into the library
	cgo.Handle(h).Value().(func())()
}

// cfutGoDropCancel deletes the handle of a cancellation forwarder (exactly once).
//
// cfutGoUnobserved reports a failure nobody read (the library's unobserved-error hook) to
// the Go hook, on a goroutine of its own: a library thread must not wait on Go code.
//
//export cfutGoUnobserved
func cfutGoUnobserved(status C.uint32_t, code C.int32_t, message *C.char) {
	defer func() { _ = recover() }() // never unwind into the library
	te := &TaskError{Status: Status(status), Code: int32(code)}
	if message != nil {
		te.Message = C.GoString(message)
	}
	reportUnobserved(te)
}

//export cfutGoDropCancel
func cfutGoDropCancel(h C.uintptr_t) {
	defer func() { _ = recover() }()
	cgo.Handle(h).Delete()
}
