// C trampolines between the library and the //export'ed Go functions in export.go.
// Definitions live here because a Go file with //export may only declare in its preamble.
// Each wrapper has the exact C signature the library expects (no casted function pointers);
// the cgo.Handle travels as the void* argument.

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include "cfutures.h"
#include "_cgo_export.h"
#include "shim.h"

// How many Go tasks this library worker thread is inside (more than one when a wait ran
// one inline). A WithDirectGoTasks closure runs on this thread, so its waits ask here
// whether they can go through the library (see cfutgo_in_task, wait.go).
static __thread int go_task_depth;

static int32_t go_task_tramp(void *arg, cfut_result *out) {
	go_task_depth++;
	int32_t rc = cfutGoTask((uintptr_t)arg, out);
	go_task_depth--;
	return rc;
}

int cfutgo_in_task(void) {
	return go_task_depth > 0;
}

// ---- The completion port ----
// A future's completion must reach Go. Entering Go from a library worker (a cgo callback)
// costs a P hand-off per future, which is fine one at a time but serializes the workers
// under load. So the done-callback stays in C and picks a path:
//  - direct: when nothing else is being delivered, the worker enters Go itself
//    (cfutGoDone): the lowest latency, one thread involved;
//  - queued: when completions overlap, it records the outcome in a queue, and one Go
//    goroutine (the dispatcher, port.go) settles them in batches: C tasks then never
//    enter Go at all, and Go tasks enter Go once (to run).

static pthread_mutex_t port_mu = PTHREAD_MUTEX_INITIALIZER;
static int port_efd = -1; // wakes the dispatcher, which waits in Go's netpoller
static cfutgo_done *port_buf[2]; // the one being filled, and the one the dispatcher holds
static size_t port_cap[2];
static size_t port_len;
static int port_active;
static int port_idle = 1;    // the dispatcher is asleep with nothing to do
static int direct_inflight;  // completions being delivered directly right now

static void go_done_tramp(cfut_future *f, void *arg) {
	uintptr_t h = (uintptr_t)arg;
	if (__atomic_fetch_add(&direct_inflight, 1, __ATOMIC_ACQ_REL) == 0 &&
	    __atomic_load_n(&port_idle, __ATOMIC_ACQUIRE)) {
		cfutGoDone(f, h);
		__atomic_fetch_sub(&direct_inflight, 1, __ATOMIC_RELEASE);
		return;
	}
	__atomic_fetch_sub(&direct_inflight, 1, __ATOMIC_RELEASE);

	cfutgo_done d = {0};
	d.handle = h;
	d.future = cfut_future_retain(f); // released by cfutgo_port_release
	d.status = cfut_future_error(f, 0, &d.error);
	if (d.status == CFUT_OK && d.error.status == CFUT_OK) {
		cfut_future_result_bytes(f, 0, &d.data, &d.len);
	}
	pthread_mutex_lock(&port_mu);
	int a = port_active;
	if (port_len == port_cap[a]) {
		size_t cap = port_cap[a] ? 2 * port_cap[a] : 1024;
		cfutgo_done *grown = realloc(port_buf[a], cap * sizeof *grown);
		if (grown == NULL) { // out of memory: deliver directly after all
			pthread_mutex_unlock(&port_mu);
			cfutGoDone(f, h);
			cfut_future_release(f);
			return;
		}
		port_buf[a] = grown;
		port_cap[a] = cap;
	}
	port_buf[a][port_len++] = d;
	int wake = port_idle;
	__atomic_store_n(&port_idle, 0, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&port_mu);
	if (wake) {
		eventfd_write(port_efd, 1);
	}
}

// The dispatcher does not wait in C: a goroutine blocked in a cgo call keeps its P until
// sysmon takes it back (up to milliseconds when the process is idle), which would stall
// the workers' direct deliveries into Go. It waits on the eventfd in Go's netpoller.
int cfutgo_port_init(void) {
	port_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	return port_efd;
}

// Returns the queued completions (valid until the next call), or NULL with *n = 0 if none:
// then the dispatcher counts as idle and the next queued completion writes the eventfd.
cfutgo_done *cfutgo_port_take(size_t *n) {
	pthread_mutex_lock(&port_mu);
	if (port_len == 0) {
		__atomic_store_n(&port_idle, 1, __ATOMIC_RELEASE);
		pthread_mutex_unlock(&port_mu);
		*n = 0;
		return NULL;
	}
	cfutgo_done *items = port_buf[port_active];
	*n = port_len;
	port_active ^= 1; // the buffer handed out last time is empty and becomes the queue
	port_len = 0;
	pthread_mutex_unlock(&port_mu);
	return items;
}

void cfutgo_port_release(cfutgo_done *items, size_t n) {
	for (size_t i = 0; i < n; i++) {
		if (items[i].drop_owner) {
			cfut_future_release(items[i].future);
		}
		cfut_future_release(items[i].future);
	}
}

static int32_t go_init_tramp(void *arg) {
	return cfutGoInit((uintptr_t)arg);
}

// Registers the Go done-callback; a submit that fails leaves *out NULL. The callback may
// run at once, here, and drop the caller's reference (a done future lets it go): the extra
// reference held around the call keeps f alive until the library is finished with it.
static cfut_status watch(cfut_status st, cfut_future *f, uintptr_t h, cfut_future **out) {
	if (st != CFUT_OK) {
		return st;
	}
	cfut_future_retain(f);
	// Never fails for a non-NULL future and callback.
	cfut_status cb = cfut_future_add_done_callback(f, go_done_tramp, (void *)h, NULL);
	*out = f; // if already released, Go never uses it (its reference is marked closed)
	cfut_future_release(f);
	return cb;
}

cfut_status cfutgo_submit_go(cfut_executor *ex, uintptr_t h, cfut_future **out) {
	cfut_future *f = NULL;
	// No arg_drop: the done-callback owns the handle, and every executor future completes
	// (ran, cancelled, or failed by a broken/shut-down pool), so it always runs.
	cfut_status st = cfut_executor_submit(ex, go_task_tramp, (void *)h, NULL, &f);
	return watch(st, f, h, out);
}

// cfutgo_submit_go that waits at most timeout_ns for room in a bounded queue. On
// CFUT_QUEUE_FULL the handle stays the caller's (nothing was queued, no callback exists).
cfut_status cfutgo_try_submit_go(cfut_executor *ex, uintptr_t h, uint64_t timeout_ns, cfut_future **out) {
	cfut_future *f = NULL;
	cfut_status st = cfut_executor_try_submit(ex, go_task_tramp, (void *)h, NULL, timeout_ns, &f);
	return watch(st, f, h, out);
}

static void go_unobserved_tramp(void *arg, const cfut_error *e) {
	(void)arg;
	cfutGoUnobserved(e->status, e->code, (char *)e->message);
}

// Installs (on != 0) or removes the library's unobserved-error hook, which calls into Go.
void cfutgo_set_unobserved_hook(int on) {
	cfut_set_unobserved_error_hook(on ? go_unobserved_tramp : NULL, NULL);
}

cfut_status cfutgo_group_submit_go(cfut_group *g, uintptr_t h, cfut_future **out) {
	cfut_future *f = NULL;
	// As cfutgo_submit_go: the done-callback owns the handle.
	cfut_status st = cfut_group_submit(g, go_task_tramp, (void *)h, NULL, &f);
	return watch(st, f, h, out);
}

static void go_cancel_tramp(void *arg) {
	cfutGoCancel((uintptr_t)arg);
}

static void go_cancel_drop(void *arg) {
	cfutGoDropCancel((uintptr_t)arg);
}

// Forwards a cancellation request of f's running task to the Go function behind h; the
// handle is deleted once, after the call or when f completes without a request.
cfut_status cfutgo_on_cancel(cfut_future *f, uintptr_t h) {
	return cfut_future_on_cancel_request(f, go_cancel_tramp, (void *)h, go_cancel_drop);
}

cfut_status cfutgo_submit_c(cfut_executor *ex, void *fn, void *arg, void *arg_drop, uintptr_t h,
                            cfut_future **out) {
	cfut_future *f = NULL;
	cfut_status st = cfut_executor_submit(ex, (cfut_task_fn)fn, arg, (cfut_drop_fn)arg_drop, &f);
	return watch(st, f, h, out);
}

// The library's reason for the last failure on this thread, copied (Go may move to
// another thread between two calls); NULL if none. Free with free().
static char *last_reason(void) {
	const char *m = cfut_last_error_message();
	return m ? strdup(m) : NULL;
}

cfut_status cfutgo_submit_bytes(cfut_executor *ex, void *fn, const void *input, size_t len,
                                uintptr_t h, cfut_future **out, char **reason) {
	cfut_future *f = NULL;
	cfut_status st = cfut_executor_submit_bytes(ex, (cfut_bytes_fn)fn, input, len, &f);
	if (st != CFUT_OK) {
		*reason = last_reason();
	}
	return watch(st, f, h, out);
}

cfut_status cfutgo_process_pool_new(const cfut_process_pool_options *o, cfut_executor **out,
                                    char **reason) {
	cfut_status st = cfut_process_pool_new(o, out);
	if (st != CFUT_OK) {
		*reason = last_reason();
	}
	return st;
}

cfut_status cfutgo_thread_pool_new(uint32_t max_workers, const char *prefix, int has_init,
                                   uintptr_t h, int inline_waits, const cfutgo_flow *flow,
                                   cfut_executor **out) {
	cfut_thread_pool_options o;
	cfut_thread_pool_options_init(&o);
	o.max_workers = max_workers;
	o.inline_waits = inline_waits != 0;
	o.max_queued = flow->max_queued;
	o.when_full = flow->when_full;
	o.idle_timeout_ns = flow->idle_timeout_ns;
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

cfut_status cfutgo_map_run(cfut_executor *ex, void *fn, const void *ctx, size_t ctx_len,
                           const void *items, size_t count, size_t item_size, void *results,
                           size_t result_size, size_t chunksize, uint64_t timeout_ns,
                           size_t max_in_flight, size_t *first_failed, char **reason) {
	cfut_map_options o;
	cfut_map_options_init(&o);
	o.chunksize = chunksize;
	o.timeout_ns = timeout_ns;
	o.max_in_flight = max_in_flight;
	cfut_map *m = NULL;
	cfut_status st = cfut_executor_map(ex, (cfut_map_fn)fn, ctx, ctx_len, items, count, item_size,
	                                   results, result_size, &o, &m);
	if (st != CFUT_OK) {
		*reason = last_reason();
		return st;
	}
	st = cfut_map_wait(m, first_failed);
	cfut_map_free(m);
	return st;
}

// ---- Go closures on goroutines (gopool.go) ----
// A Submit closure runs on a Go runner goroutine and completes a standalone future; Go
// settles its own side (the runner, Cancel, shutdown), so the library never calls into Go
// for it unless C code got the future (cfutgo_go_watch).

// A pending future with two references: the Future's and the runner's.
cfut_status cfutgo_go_new(cfut_future **out) {
	cfut_status st = cfut_future_new(out);
	if (st == CFUT_OK) {
		cfut_future_retain(*out);
	}
	return st;
}

// Tells Go (cfutGoDone, through the completion port) when f is done, for a Go closure's
// future that C code may cancel (see Future.Raw): the handle's onDone settles a
// cancellation and ignores the rest.
cfut_status cfutgo_go_watch(cfut_future *f, uintptr_t h) {
	return cfut_future_add_done_callback(f, go_done_tramp, (void *)h, NULL);
}

// 1: now RUNNING, run the closure. 0: cancelled (the runner's reference is dropped here). 2: completed by someone else before it ran (C code
// that set its result): the caller settles Go from it and drops the runner's reference.
int cfutgo_go_start(cfut_future *f) {
	if (cfut_future_set_running_or_notify_cancel(f)) {
		return 1;
	}
	if (cfut_future_cancelled(f)) {
		cfut_future_release(f);
		return 0;
	}
	return 2;
}

// Completes a running future and drops the runner's reference (and the Future's own, when
// drop_owner). A failure is marked observed at once: Go reports unread failures itself.
void cfutgo_go_finish(cfut_future *f, int failed, const char *message, int drop_owner) {
	if (failed) {
		cfut_future_set_error(f, 1, message);
		cfut_error e;
		cfut_future_error(f, 0, &e);
	} else {
		cfut_future_set_result(f, NULL, NULL);
	}
	if (drop_owner) {
		cfut_future_release(f);
	}
	cfut_future_release(f);
}

// Cancels a future taken out of the queue by shutdown(cancel_futures) and drops the
// runner's reference.
void cfutgo_go_cancel_queued(cfut_future *f) {
	cfut_future_cancel(f);
	cfut_future_release(f);
}

// Drops both references of a future that never reached the queue (a refused submit).
void cfutgo_go_discard(cfut_future *f) {
	cfut_future_release(f);
	cfut_future_release(f);
}
