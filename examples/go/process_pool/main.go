// process_pool: CPU-bound C work in worker processes, with crash isolation.
//
//	with ProcessPoolExecutor() as executor:
//	    for n, prime in zip(NUMBERS, executor.map(is_prime, NUMBERS)): ...
//
// Only bytes cross a process boundary, so the tasks are C functions (cfut_bytes_fn and
// cfut_map_fn) in this program's own cgo code; the library re-runs this executable as the
// worker and takes it over before the Go runtime starts. One task crashes its worker
// (SIGSEGV): only that future fails, with ErrWorkerDied, and the pool replaces the worker.
package main

/*
#cgo CFLAGS: -I${SRCDIR}/../../../include
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include "cfutures.h"

static int is_prime(int64_t n) {
	if (n < 2) return 0;
	for (int64_t d = 2; d * d <= n; d++)
		if (n % d == 0) return 0;
	return 1;
}

// cfut_map_fn: int64 item -> int32 is_prime.
static int32_t prime_item(const void *ctx, const void *item, void *slot) {
	(void)ctx;
	int64_t n;
	memcpy(&n, item, sizeof n);
	int32_t p = is_prime(n);
	memcpy(slot, &p, sizeof p);
	return 0;
}

// cfut_bytes_fn: reports the worker's pid, or crashes when asked to.
static int32_t whoami(const void *in, size_t len, cfut_result *out) {
	if (len > 0 && ((const char *)in)[0] == '!') raise(SIGSEGV);
	int32_t pid = (int32_t)getpid();
	return cfut_result_set_bytes(out, &pid, sizeof pid) == CFUT_OK ? 0 : 1;
}

static void *prime_item_fn(void) { return (void *)prime_item; }
static void *whoami_fn(void) { return (void *)whoami; }
*/
import "C"

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log"
	"os"
	"time"

	cf "github.com/cfutures/cfutures/bindings/go"
)

func main() {
	ex, err := cf.NewProcessPool(cf.WithProcesses(2))
	if err != nil {
		log.Fatal(err)
	}
	defer ex.Close()
	ctx := context.Background()

	// Tasks run in other processes.
	var pids []int32
	for _, in := range []string{"a", "b", "!", "c"} {
		f := cf.SubmitBytes(ex, C.whoami_fn(), []byte(in))
		out, err := f.Result(ctx)
		var te *cf.TaskError
		switch {
		case errors.Is(err, cf.ErrWorkerDied) && errors.As(err, &te):
			fmt.Printf("task %q: worker died (code %d): %s\n", in, te.Code, te.Message)
		case err != nil:
			log.Fatal(err)
		default:
			pid := int32(binary.NativeEndian.Uint32(out))
			pids = append(pids, pid)
			fmt.Printf("task %q ran in worker pid %d (host pid %d)\n", in, pid, os.Getpid())
		}
	}
	fmt.Printf("workers started so far (the crashed one replaced): %d\n", ex.WorkersStarted())

	// A chunked map of a C function over 200k numbers, in the worker processes.
	const lo, n = 1_000_000, 200_000
	items := make([]byte, 8*n)
	for i := range n {
		binary.NativeEndian.PutUint64(items[8*i:], uint64(lo+i))
	}
	results := make([]byte, 4*n)
	start := time.Now()
	if err := cf.MapC(ex, C.prime_item_fn(), nil, items, 8, results, 4); err != nil {
		log.Fatal(err)
	}
	count := 0
	for i := range n {
		count += int(binary.NativeEndian.Uint32(results[4*i:]))
	}
	fmt.Printf("%d primes in %d..%d, computed in worker processes in %v\n", count, lo, lo+n-1, time.Since(start).Round(time.Millisecond))
	if count != 14_440 || len(pids) != 3 || pids[0] == int32(os.Getpid()) {
		log.Fatal("unexpected results")
	}
}
