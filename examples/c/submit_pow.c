/*
 * submit_pow.c: the "hello world" of concurrent.futures, in C.
 *
 * Python:
 *     with ThreadPoolExecutor(max_workers=1) as executor:
 *         future = executor.submit(pow, 2, 8)
 *         print(future.result())
 *
 * C has no closures, so a task is a function plus one `void *` argument. Both the
 * argument and the result are heap objects whose ownership we hand to the library
 * together with the function that frees them (`free` here).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "cfutures.h"

/* What Python passes as `*args`: the task's inputs, packed into one struct. */
struct pow_args {
    double base;
    double exponent;
};

/* Runs on a worker thread. Returns 0 for success; any other value would be the "exception". */
static int32_t pow_task(void *arg, cfut_result *out) {
    const struct pow_args *a = arg;
    double *value = malloc(sizeof *value);
    if (value == NULL) {
        cfut_result_set_error(out, 1, "out of memory");
        return 1;
    }
    *value = pow(a->base, a->exponent);
    /* The future now owns `value`: the library calls free(value) when the last reference
     * to the future is released, so we never free it ourselves. */
    cfut_result_set_value(out, value, free);
    return 0;
}

/* Every call returns a status; on error print its name and give up (exit non-zero). */
static void check(cfut_status status, const char *what) {
    if (status != CFUT_OK) {
        fprintf(stderr, "%s: %s (%s)\n", what, cfut_status_name(status), cfut_status_str(status));
        exit(1);
    }
}

int main(void) {
    /* The header we compiled against should match the library we loaded. */
    printf("cfutures %s (compiled against %s)\n", cfut_version_string(), CFUT_VERSION_STRING);

    /* Python's ThreadPoolExecutor(max_workers=1): options always start from _init. */
    cfut_thread_pool_options opts;
    cfut_thread_pool_options_init(&opts);
    opts.max_workers = 1;
    cfut_executor *executor;
    check(cfut_thread_pool_new(&opts, &executor), "cfut_thread_pool_new");

    struct pow_args *args = malloc(sizeof *args);
    if (args == NULL) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    args->base = 2;
    args->exponent = 8;

    /* submit() does not block: the task runs on a worker while we go on. The library
     * owns `args` from here on, even if submit fails, and frees it after the task ran. */
    cfut_future *future;
    check(cfut_executor_submit(executor, pow_task, args, free, &future), "cfut_executor_submit");

    /* result() blocks until the task is done; a timeout keeps a bug from hanging us. */
    void *value;
    check(cfut_future_result(future, CFUT_SECONDS(5), &value), "cfut_future_result");
    /* `value` is borrowed from the future: read it before releasing the future. */
    printf("pow(2, 8) = %g\n", *(const double *)value);

    /* Releasing our (only) reference frees the future and, through free(), the value. */
    cfut_future_release(future);
    /* Python's `with` block exit: shutdown(wait=True), then free the handle. */
    cfut_executor_free(executor);
    return 0;
}
