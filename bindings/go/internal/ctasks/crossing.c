#include <pthread.h>
#include <stdint.h>
#include "_cgo_export.h"

static void *loop(void *arg) {
	int n = (int)(intptr_t)arg;
	for (int i = 0; i < n; i++) ctGoNoop(1);
	return NULL;
}

int ct_crossings_foreign(int n) {
	pthread_t t;
	if (pthread_create(&t, NULL, loop, (void *)(intptr_t)n) != 0) return 1;
	return pthread_join(t, NULL);
}

int ct_crossings_local(int n) {
	loop((void *)(intptr_t)n);
	return 0;
}
