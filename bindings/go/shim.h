// Declarations of shim.c, included by the Go files' preambles.
#ifndef CFUTURES_GO_SHIM_H
#define CFUTURES_GO_SHIM_H
#include <stdint.h>
#include "cfutures.h"
cfut_status cfutgo_submit_go(cfut_executor *ex, uintptr_t h, cfut_future **out);
cfut_status cfutgo_submit_c(cfut_executor *ex, void *fn, void *arg, void *arg_drop, uintptr_t h,
                            cfut_future **out);
cfut_status cfutgo_submit_bytes(cfut_executor *ex, void *fn, const void *input, size_t len,
                                uintptr_t h, cfut_future **out);
cfut_status cfutgo_thread_pool_new(uint32_t max_workers, const char *prefix, int has_init,
                                   uintptr_t h, cfut_executor **out);
void cfutgo_call_drop(void *drop, void *arg);
#endif
