/* The README's C quick start, built against an installed cfutures through pkg-config. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <cfutures.h>

static int32_t square(void *arg, cfut_result *out) {
    long *r = malloc(sizeof *r);
    *r = (long)(intptr_t)arg * (long)(intptr_t)arg;
    cfut_result_set_value(out, r, free);
    return 0;
}

int main(void) {
    if (cfut_version_number() != CFUT_VERSION_NUMBER) {
        fprintf(stderr, "header %s, library %s\n", CFUT_VERSION_STRING, cfut_version_string());
        return 1;
    }
    cfut_executor *ex;
    if (cfut_thread_pool_new(NULL, &ex) != CFUT_OK) return 1;
    cfut_future *f;
    if (cfut_executor_submit(ex, square, (void *)(intptr_t)12, NULL, &f) != CFUT_OK) return 1;
    void *value;
    cfut_status s = cfut_future_result(f, CFUT_SECONDS(5), &value);
    int ok = s == CFUT_OK && *(long *)value == 144;
    printf("%s %ld\n", cfut_status_name(s), ok ? *(long *)value : -1L);
    cfut_future_release(f);
    cfut_executor_free(ex);
    return ok ? 0 : 1;
}
