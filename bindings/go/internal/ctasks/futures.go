package ctasks

// C code holding a future (from Future.Raw): what a C caller of the library does with one.

/*
#include <stdint.h>
#include "cfutures.h"

static uint32_t ct_future_wait_status(cfut_future *f, uint64_t ns, int32_t *code) {
	cfut_error e = {0};
	cfut_status st = cfut_future_error(f, ns, &e);
	*code = e.code;
	return st == CFUT_OK ? e.status : st;
}
*/
import "C"

import "unsafe"

// FutureCancel is cfut_future_cancel on a cfut_future*.
func FutureCancel(f unsafe.Pointer) bool { return bool(C.cfut_future_cancel((*C.cfut_future)(f))) }

// FutureRunning is cfut_future_running on a cfut_future*.
func FutureRunning(f unsafe.Pointer) bool { return bool(C.cfut_future_running((*C.cfut_future)(f))) }

// FutureRetain and FutureRelease keep a cfut_future* past its Go Future's use of it.
func FutureRetain(f unsafe.Pointer)  { C.cfut_future_retain((*C.cfut_future)(f)) }
func FutureRelease(f unsafe.Pointer) { C.cfut_future_release((*C.cfut_future)(f)) }

// FutureWait waits in C up to ns for f and returns how it ended: the cfut_status of the
// outcome (CFUT_OK, CFUT_TASK_FAILED, CFUT_CANCELLED, CFUT_TIMEOUT) and the task's code.
func FutureWait(f unsafe.Pointer, ns uint64) (status uint32, code int32) {
	var c C.int32_t
	st := C.ct_future_wait_status((*C.cfut_future)(f), C.uint64_t(ns), &c)
	return uint32(st), int32(c)
}
