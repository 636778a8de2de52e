// Package ctasks holds small C tasks for the tests, benchmarks and examples of package
// cfutures (cgo is not allowed in _test.go files).
package ctasks

/*
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <signal.h>
#include <sys/types.h>
#include "cfutures.h"

static int32_t ct_noop(void *arg, cfut_result *out) { (void)arg; (void)out; return 0; }

// arg is an integer n: the value is (void *)(n * n), with no drop function.
static int32_t ct_square(void *arg, cfut_result *out) {
	intptr_t n = (intptr_t)arg;
	cfut_result_set_value(out, (void *)(n * n), NULL);
	return 0;
}

// arg is an integer code: fails with it and a message.
static int32_t ct_fail(void *arg, cfut_result *out) {
	cfut_result_set_error(out, (int32_t)(intptr_t)arg, "ct_fail says no");
	return (int32_t)(intptr_t)arg;
}

// arg is a number of milliseconds to sleep.
static int32_t ct_sleep_ms(void *arg, cfut_result *out) {
	(void)out;
	usleep((useconds_t)((intptr_t)arg * 1000));
	return 0;
}

static int64_t ct_drops;
static void ct_count_drop(void *arg) { (void)arg; __atomic_add_fetch(&ct_drops, 1, __ATOMIC_SEQ_CST); }
static int64_t ct_drop_count(void) { return __atomic_load_n(&ct_drops, __ATOMIC_SEQ_CST); }

// Sets a value whose drop function counts (it runs when the future's last reference goes).
static int32_t ct_counted_value(void *arg, cfut_result *out) {
	(void)arg;
	cfut_result_set_value(out, (void *)&ct_drops, ct_count_drop);
	return 0;
}

// Bytes task: returns the input upper-cased.
static int32_t ct_upper(const void *in, size_t len, cfut_result *out) {
	char *buf = malloc(len ? len : 1);
	if (!buf) return 12;
	for (size_t i = 0; i < len; i++) {
		char c = ((const char *)in)[i];
		buf[i] = (c >= 'a' && c <= 'z') ? (char)(c - 32) : c;
	}
	cfut_status st = cfut_result_set_bytes(out, buf, len);
	free(buf);
	return st == CFUT_OK ? 0 : 1;
}

// Bytes task: the process id of the process it runs in (int32).
static int32_t ct_pid(const void *in, size_t len, cfut_result *out) {
	(void)in; (void)len;
	int32_t pid = (int32_t)getpid();
	return cfut_result_set_bytes(out, &pid, sizeof pid) == CFUT_OK ? 0 : 1;
}

// Bytes task: the worker dies (SIGKILL) without a result.
static int32_t ct_die(const void *in, size_t len, cfut_result *out) {
	(void)in; (void)len; (void)out;
	kill(getpid(), SIGKILL);
	return 0;
}

// Bytes task: sleeps as many milliseconds as its input's first byte says, times 10.
static int32_t ct_sleep_bytes(const void *in, size_t len, cfut_result *out) {
	(void)out;
	if (len > 0) usleep((useconds_t)((const unsigned char *)in)[0] * 10000);
	return 0;
}

// Bytes initializer that fails with code 3.
static int32_t ct_init_fail(const void *in, size_t len, cfut_result *out) {
	(void)in; (void)len;
	cfut_result_set_error(out, 3, "ct_init_fail");
	return 3;
}

// Map function: int64 item -> int64 square + ctx's first byte; item 13 fails with code 13.
static int32_t ct_map_square(const void *ctx, const void *item, void *slot) {
	int64_t x;
	memcpy(&x, item, sizeof x);
	if (x == 13) return 13;
	int64_t r = x * x + (ctx ? ((const unsigned char *)ctx)[0] : 0);
	memcpy(slot, &r, sizeof r);
	return 0;
}
static void *ct_map_square_ptr(void) { return (void *)ct_map_square; }

static void *ct_pid_ptr(void) { return (void *)ct_pid; }
static void *ct_die_ptr(void) { return (void *)ct_die; }
static void *ct_sleep_bytes_ptr(void) { return (void *)ct_sleep_bytes; }
static void *ct_init_fail_ptr(void) { return (void *)ct_init_fail; }
static void *ct_noop_ptr(void) { return (void *)ct_noop; }
static void *ct_square_ptr(void) { return (void *)ct_square; }
static void *ct_fail_ptr(void) { return (void *)ct_fail; }
static void *ct_sleep_ms_ptr(void) { return (void *)ct_sleep_ms; }
static void *ct_count_drop_ptr(void) { return (void *)ct_count_drop; }
static void *ct_upper_ptr(void) { return (void *)ct_upper; }
static void *ct_counted_value_ptr(void) { return (void *)ct_counted_value; }
static void ct_empty(void) {}

// The library's own floor: n no-op tasks submitted and waited for from C, in windows.
static int ct_c_batch(cfut_executor *ex, int n) {
	enum { W = 1024 };
	cfut_future *fs[W];
	for (int done = 0; done < n;) {
		int k = n - done < W ? n - done : W;
		for (int i = 0; i < k; i++)
			if (cfut_executor_submit(ex, ct_noop, NULL, NULL, &fs[i]) != CFUT_OK) return 1;
		for (int i = 0; i < k; i++) {
			cfut_future_wait(fs[i], CFUT_FOREVER);
			cfut_future_release(fs[i]);
		}
		done += k;
	}
	return 0;
}
// Round trips: submit one no-op task, wait for it, n times (latency, not throughput).
static int ct_c_roundtrips(cfut_executor *ex, int n) {
	for (int i = 0; i < n; i++) {
		cfut_future *f;
		if (cfut_executor_submit(ex, ct_noop, NULL, NULL, &f) != CFUT_OK) return 1;
		cfut_future_wait(f, CFUT_FOREVER);
		cfut_future_release(f);
	}
	return 0;
}

static void *ct_int(intptr_t n) { return (void *)n; }
*/
import "C"

import "unsafe"

// C function pointers, for cfutures.SubmitC (cfut_task_fn) and SubmitBytes (cfut_bytes_fn).
var (
	Noop      = C.ct_noop_ptr()       // returns 0
	Square    = C.ct_square_ptr()     // arg n (an integer) -> value (void*)(n*n)
	Fail      = C.ct_fail_ptr()       // arg code -> fails with code, "ct_fail says no"
	SleepMs   = C.ct_sleep_ms_ptr()   // arg milliseconds
	CountDrop = C.ct_count_drop_ptr() // a cfut_drop_fn counting its calls
	Upper     = C.ct_upper_ptr()      // bytes task: upper-cases its input
	// CountedValue sets a value with CountDrop as its value_drop: it counts in Drops once
	// the C future is freed.
	CountedValue = C.ct_counted_value_ptr()

	// MapSquare is a cfut_map_fn: int64 -> int64 x*x + ctx[0]; item 13 fails (code 13).
	MapSquare = C.ct_map_square_ptr()

	// Bytes tasks for process pools.
	PID        = C.ct_pid_ptr()         // the pid it runs in, as an int32
	Die        = C.ct_die_ptr()         // kills its own process
	SleepBytes = C.ct_sleep_bytes_ptr() // sleeps input[0]*10 ms
	InitFail   = C.ct_init_fail_ptr()   // an initializer failing with code 3
)

// Int makes an integer argument (an integer disguised as a pointer, as C code does).
func Int(n int) unsafe.Pointer { return C.ct_int(C.intptr_t(n)) }

// Value reads an integer value back.
func Value(p unsafe.Pointer) int { return int(uintptr(p)) }

// Drops is how many times CountDrop has run.
func Drops() int64 { return int64(C.ct_drop_count()) }

// CgoNoop is an empty Go -> C call, for measuring a crossing.
func CgoNoop() { C.ct_empty() }

// CRoundTrips submits one no-op C task and waits for it, n times, all in C.
func CRoundTrips(ex unsafe.Pointer, n int) bool {
	return C.ct_c_roundtrips((*C.cfut_executor)(ex), C.int(n)) == 0
}

// CBatch submits n no-op C tasks to ex (a cfut_executor*, from Executor.Raw) and waits for
// them, all in C: the library's per-task cost without Go.
func CBatch(ex unsafe.Pointer, n int) bool {
	return C.ct_c_batch((*C.cfut_executor)(ex), C.int(n)) == 0
}
