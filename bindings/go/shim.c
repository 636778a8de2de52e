// C trampolines between the library and the //export'ed Go functions in export.go.
// Definitions live here because a Go file with //export may only declare in its preamble.
// Each wrapper has the exact C signature the library expects (no casted function pointers);
// the cgo.Handle travels as the void* argument.

#include <stdint.h>
#include "cfutures.h"
#include "_cgo_export.h"
#include "shim.h"

static int32_t go_task_tramp(void *arg, cfut_result *out) {
	return cfutGoTask((uintptr_t)arg, out);
}

static void go_done_tramp(cfut_future *f, void *arg) {
	cfutGoDone(f, (uintptr_t)arg);
}

static int32_t go_init_tramp(void *arg) {
	return cfutGoInit((uintptr_t)arg);
}

// Registers the Go done-callback; a submit that fails leaves *out NULL.
static cfut_status watch(cfut_status st, cfut_future *f, uintptr_t h, cfut_future **out) {
	if (st != CFUT_OK) {
		return st;
	}
	*out = f;
	// Never fails for a non-NULL future and callback; runs at once if already done.
	return cfut_future_add_done_callback(f, go_done_tramp, (void *)h, NULL);
}

cfut_status cfutgo_submit_go(cfut_executor *ex, uintptr_t h, cfut_future **out) {
	cfut_future *f = NULL;
	// No arg_drop: the done-callback owns the handle, and every executor future completes
	// (ran, cancelled, or failed by a broken/shut-down pool), so it always runs.
	cfut_status st = cfut_executor_submit(ex, go_task_tramp, (void *)h, NULL, &f);
	return watch(st, f, h, out);
}

cfut_status cfutgo_submit_c(cfut_executor *ex, void *fn, void *arg, void *arg_drop, uintptr_t h,
                            cfut_future **out) {
	cfut_future *f = NULL;
	cfut_status st = cfut_executor_submit(ex, (cfut_task_fn)fn, arg, (cfut_drop_fn)arg_drop, &f);
	return watch(st, f, h, out);
}

cfut_status cfutgo_submit_bytes(cfut_executor *ex, void *fn, const void *input, size_t len,
                                uintptr_t h, cfut_future **out) {
	cfut_future *f = NULL;
	cfut_status st = cfut_executor_submit_bytes(ex, (cfut_bytes_fn)fn, input, len, &f);
	return watch(st, f, h, out);
}

cfut_status cfutgo_thread_pool_new(uint32_t max_workers, const char *prefix, int has_init,
                                   uintptr_t h, cfut_executor **out) {
	cfut_thread_pool_options o;
	cfut_thread_pool_options_init(&o);
	o.max_workers = max_workers;
	o.thread_name_prefix = prefix;
	if (has_init) {
		o.initializer = go_init_tramp;
		o.initializer_arg = (void *)h;
	}
	return cfut_thread_pool_new(&o, out);
}

void cfutgo_call_drop(void *drop, void *arg) {
	((cfut_drop_fn)drop)(arg);
}
