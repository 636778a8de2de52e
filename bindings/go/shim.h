// Declarations of shim.c, included by the Go files' preambles.
#ifndef CFUTURES_GO_SHIM_H
#define CFUTURES_GO_SHIM_H
#include <stdint.h>
#include <stddef.h>
#include "cfutures.h"

// A completed future, queued for the Go dispatcher (see shim.c).
typedef struct cfutgo_done {
	uintptr_t handle;     // the Future's cgo.Handle
	cfut_future *future;  // a reference, dropped by cfutgo_port_release
	cfut_status status;   // of cfut_future_error: CFUT_OK or CFUT_CANCELLED
	cfut_error error;     // how it ended (message borrowed from the future)
	const void *data;     // on success: the value pointer, or the bytes
	size_t len;           // the bytes' length
	int drop_owner;       // set by Go: also drop the Future's own reference
} cfutgo_done;

int cfutgo_port_init(void);
cfut_status cfutgo_map_run(cfut_executor *ex, void *fn, const void *ctx, size_t ctx_len,
                           const void *items, size_t count, size_t item_size, void *results,
                           size_t result_size, size_t chunksize, uint64_t timeout_ns,
                           size_t max_in_flight, size_t *first_failed, char **reason);
cfutgo_done *cfutgo_port_take(size_t *n);
void cfutgo_port_release(cfutgo_done *items, size_t n);
cfut_status cfutgo_submit_go(cfut_executor *ex, uintptr_t h, cfut_future **out);
cfut_status cfutgo_submit_c(cfut_executor *ex, void *fn, void *arg, void *arg_drop, uintptr_t h,
                            cfut_future **out);
cfut_status cfutgo_submit_bytes(cfut_executor *ex, void *fn, const void *input, size_t len,
                                uintptr_t h, cfut_future **out, char **reason);
cfut_status cfutgo_process_pool_new(const cfut_process_pool_options *o, cfut_executor **out,
                                    char **reason);
// Flow control and worker life-cycle options of a thread pool.
typedef struct cfutgo_flow {
	uint32_t max_queued;
	uint32_t when_full;
	uint64_t idle_timeout_ns;
} cfutgo_flow;
cfut_status cfutgo_thread_pool_new(uint32_t max_workers, const char *prefix, int has_init,
                                   uintptr_t h, int inline_waits, const cfutgo_flow *flow,
                                   cfut_executor **out);
cfut_status cfutgo_try_submit_go(cfut_executor *ex, uintptr_t h, uint64_t timeout_ns, cfut_future **out);
void cfutgo_set_unobserved_hook(int on);
int cfutgo_in_task(void);
void cfutgo_call_drop(void *drop, void *arg);
cfut_status cfutgo_group_submit_go(cfut_group *g, uintptr_t h, cfut_future **out);
cfut_status cfutgo_on_cancel(cfut_future *f, uintptr_t h);
cfut_status cfutgo_go_new(cfut_future **out);
cfut_status cfutgo_go_watch(cfut_future *f, uintptr_t h);
int cfutgo_go_start(cfut_future *f);
void cfutgo_go_finish(cfut_future *f, int failed, const char *message, int drop_owner);
void cfutgo_go_cancel_queued(cfut_future *f);
void cfutgo_go_discard(cfut_future *f);
#endif
