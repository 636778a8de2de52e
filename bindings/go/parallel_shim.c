// C side of parallel.go: the cfut_range_fn that enters Go once per range.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "cfutures.h"
#include "_cgo_export.h"

static int32_t go_range_tramp(void *ctx, size_t begin, size_t end) {
	return cfutGoRange((uintptr_t)ctx, begin, end);
}

static cfut_status finish(cfut_status st, const cfut_error *e, int32_t *code, char **reason) {
	*code = e->code;
	if (st != CFUT_OK && st != CFUT_TASK_FAILED) {
		const char *m = cfut_last_error_message();
		*reason = m ? strdup(m) : NULL;
	}
	return st;
}

cfut_status cfutgo_parallel_for(cfut_executor *ex, size_t begin, size_t end, size_t grain,
                                uintptr_t h, int32_t *code, char **reason) {
	cfut_error e = {0};
	cfut_status st = cfut_parallel_for(ex, begin, end, grain, go_range_tramp, (void *)h, &e);
	return finish(st, &e, code, reason);
}

cfut_status cfutgo_parallel_for_c(cfut_executor *ex, size_t begin, size_t end, size_t grain,
                                  void *fn, void *ctx, int32_t *code, char **reason) {
	cfut_error e = {0};
	cfut_status st = cfut_parallel_for(ex, begin, end, grain, (cfut_range_fn)fn, ctx, &e);
	return finish(st, &e, code, reason);
}
