package cfutures

/*
#include <stdint.h>
#include <stddef.h>
#include "cfutures.h"
cfut_status cfutgo_parallel_for(cfut_executor *ex, size_t begin, size_t end, size_t grain,
                                uintptr_t h, int32_t *code, char **reason);
cfut_status cfutgo_parallel_for_c(cfut_executor *ex, size_t begin, size_t end, size_t grain,
                                  void *fn, void *ctx, int32_t *code, char **reason);
*/
import "C"

import (
	"fmt"
	"runtime/cgo"
	"runtime/debug"
	"sync"
	"unsafe"
)

// A Go loop body and the first failure among its ranges.
type rangeLoop struct {
	fn   func(begin, end int) error
	once sync.Once
	err  error
}

func (l *rangeLoop) fail(err error) { l.once.Do(func() { l.err = err }) }

//export cfutGoRange
func cfutGoRange(h C.uintptr_t, b, e C.size_t) (code C.int32_t) {
	l := cgo.Handle(h).Value().(*rangeLoop)
	defer func() { // never unwind into the library
		if r := recover(); r != nil {
			l.fail(&PanicError{Value: r, Stack: debug.Stack()})
			code = 1
		}
	}()
	if err := l.fn(int(b), int(e)); err != nil {
		l.fail(err)
		return 1
	}
	return 0
}

// ParallelFor is cfut_parallel_for with a Go body: fn(b, e) runs on disjoint ranges that
// cover [begin, end) exactly once, on the pool's workers and on the calling goroutine's
// thread, which works too; it returns when every range ran. fn is called concurrently and
// should loop over its range itself: each range costs one cgo call, each index nothing.
// grain is the smallest range; 0 adapts (ranges shrink towards the end, so uneven work
// balances). Nested calls from inside fn work.
//
// The first error fn returns (as itself), or a *PanicError if it panicked, stops new ranges
// from starting and is returned once the ranges already running are done. Other errors:
// ErrInvalidArgument for begin < 0 or end < begin, ErrShutdown / ErrBroken if the pool
// refuses, ErrUnsupported on a process pool. An empty range returns nil without calling fn.
func ParallelFor(ex *Executor, begin, end, grain int, fn func(begin, end int) error) error {
	if err := checkLoop(begin, end, grain, fn != nil); err != nil || begin == end {
		return err
	}
	ptr := ex.h.acquire()
	if ptr == nil {
		return ErrShutdown
	}
	defer ex.h.release()
	l := &rangeLoop{fn: fn}
	h := cgo.NewHandle(l)
	defer h.Delete() // no range runs once the call returned
	var code C.int32_t
	var reason *C.char
	st := C.cfutgo_parallel_for(ptr, C.size_t(begin), C.size_t(end), C.size_t(grain), C.uintptr_t(h), &code, &reason)
	if st == C.CFUT_TASK_FAILED && l.err != nil {
		return l.err
	}
	return loopStatus(st, code, reason)
}

// ParallelForC is cfut_parallel_for with a C body: fn is a cfut_range_fn,
// int32_t fn(void *ctx, size_t begin, size_t end), as unsafe.Pointer(C.my_fn), called with
// ctx on each range without entering Go. ctx is passed as is: C memory, or Go memory the
// caller pinned (runtime.Pinner) for the call. A non-zero code fails the loop: the error is
// a *TaskError with StatusTaskFailed and that code. Other errors as ParallelFor.
func ParallelForC(ex *Executor, begin, end, grain int, fn, ctx unsafe.Pointer) error {
	if err := checkLoop(begin, end, grain, fn != nil); err != nil || begin == end {
		return err
	}
	ptr := ex.h.acquire()
	if ptr == nil {
		return ErrShutdown
	}
	defer ex.h.release()
	var code C.int32_t
	var reason *C.char
	st := C.cfutgo_parallel_for_c(ptr, C.size_t(begin), C.size_t(end), C.size_t(grain), fn, ctx, &code, &reason)
	return loopStatus(st, code, reason)
}

func checkLoop(begin, end, grain int, haveFn bool) error {
	if begin < 0 || end < begin || grain < 0 || !haveFn {
		return fmt.Errorf("%w: parallel loop over [%d, %d) grain %d", ErrInvalidArgument, begin, end, grain)
	}
	return nil
}

func loopStatus(st C.cfut_status, code C.int32_t, reason *C.char) error {
	switch st {
	case C.CFUT_OK:
		return nil
	case C.CFUT_TASK_FAILED:
		return &TaskError{Status: StatusTaskFailed, Code: int32(code)}
	}
	return withReason(Status(st), reason)
}
