/* A program that links libcfutures and only says that its main ran: the stray-environment
 * test starts it with a forged CFUT_WORKER_FD, which must not turn it into a worker. */
#include <stdio.h>
#include "cfutures.h"

int main(void) {
    printf("main ran (%s)\n", cfut_status_name(CFUT_OK));
    return 0;
}
