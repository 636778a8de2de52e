package cfutures

/*
#include <stdlib.h>
#include "cfutures.h"
#include "shim.h"
*/
import "C"

import (
	"fmt"
	"syscall"
	"time"
	"unsafe"
)

// WorkerDeath is what a process pool does when a worker process dies.
type WorkerDeath uint32

const (
	// ReplaceWorker fails only the dead worker's future (ErrWorkerDied) and starts a new
	// worker (the default).
	ReplaceWorker WorkerDeath = C.CFUT_REPLACE_WORKER
	// BreakPool breaks the whole pool, as CPython's BrokenProcessPool.
	BreakPool WorkerDeath = C.CFUT_BREAK_POOL
)

// StartMethod is how a process pool starts its workers.
type StartMethod uint32

const (
	// StartSpawn runs each worker as a fresh copy of the host executable, taken over by
	// the library before main (the default; safe for a multithreaded Go host).
	StartSpawn StartMethod = C.CFUT_START_SPAWN
	// StartFork forks workers from a zygote forked from the host once. Unsafe for tasks
	// that use the Go runtime or threads: see CFUT_START_FORK in cfutures.h.
	StartFork StartMethod = C.CFUT_START_FORK
	// StartForkServer starts one fork server the way StartSpawn starts a worker (this
	// executable, taken over before the Go runtime starts); the server forks every worker:
	// SPAWN's isolation with faster starts and replacements. If the server dies, the pool
	// breaks (ErrBroken). CPython's "forkserver".
	StartForkServer StartMethod = C.CFUT_START_FORKSERVER
)

type processPoolConfig struct {
	maxWorkers, maxTasksPerChild int
	taskTimeout                  time.Duration
	onDeath                      WorkerDeath
	start                        StartMethod
	init                         unsafe.Pointer
	initInput                    []byte
	workerExe                    string
	maxQueued                    int
	whenFull                     WhenFull
}

// ProcessPoolOption configures NewProcessPool, mirroring cfut_process_pool_options.
type ProcessPoolOption func(*processPoolConfig)

// WithProcesses sets the most worker processes (default: the number of CPUs).
func WithProcesses(n int) ProcessPoolOption {
	return func(c *processPoolConfig) { c.maxWorkers = n }
}

// WithMaxTasksPerChild replaces a worker after n tasks (0: never).
func WithMaxTasksPerChild(n int) ProcessPoolOption {
	return func(c *processPoolConfig) { c.maxTasksPerChild = n }
}

// WithTaskTimeout kills a worker whose task runs longer than d; its future fails with a
// *TaskError matching ErrTimeout and a new worker replaces it. Forever (default): none.
func WithTaskTimeout(d time.Duration) ProcessPoolOption {
	return func(c *processPoolConfig) { c.taskTimeout = d }
}

// WithOnWorkerDeath chooses ReplaceWorker (default) or BreakPool.
func WithOnWorkerDeath(w WorkerDeath) ProcessPoolOption {
	return func(c *processPoolConfig) { c.onDeath = w }
}

// WithStartMethod chooses StartSpawn (default), StartForkServer or StartFork.
func WithStartMethod(m StartMethod) ProcessPoolOption {
	return func(c *processPoolConfig) { c.start = m }
}

// WithProcessInitializer runs the C bytes function fn (a cfut_bytes_fn, as
// unsafe.Pointer(C.my_init)) on a copy of input in each new worker before its first task;
// a failure breaks the pool.
func WithProcessInitializer(fn unsafe.Pointer, input []byte) ProcessPoolOption {
	return func(c *processPoolConfig) { c.init, c.initInput = fn, input }
}

// WithWorkerExe runs workers from another program (StartSpawn only); functions of the host
// executable then cannot run there.
func WithWorkerExe(path string) ProcessPoolOption {
	return func(c *processPoolConfig) { c.workerExe = path }
}

// NewProcessPool is Python's ProcessPoolExecutor with crash isolation: tasks run in worker
// processes, and only bytes cross. Submit the C bytes functions with SubmitBytes (Go
// closures cannot cross a process boundary: Submit and SubmitC give ErrUnsupported). A
// task function may live in the Go program's own C code (cgo) or in a shared library.
// With StartSpawn the worker is this executable, taken over before the Go runtime starts:
// a task never runs Go code.
func NewProcessPool(opts ...ProcessPoolOption) (*Executor, error) {
	cfg := processPoolConfig{taskTimeout: Forever}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.maxWorkers < 0 || cfg.maxWorkers > 1<<31 || cfg.maxTasksPerChild < 0 || cfg.maxTasksPerChild > 1<<31 {
		return nil, fmt.Errorf("%w: negative or huge worker or task count", ErrInvalidArgument)
	}
	var o C.cfut_process_pool_options
	C.cfut_process_pool_options_init(&o)
	o.max_workers = C.uint32_t(cfg.maxWorkers)
	o.max_tasks_per_child = C.uint32_t(cfg.maxTasksPerChild)
	if cfg.taskTimeout >= 0 {
		o.task_timeout_ns = C.uint64_t(cfg.taskTimeout)
	}
	o.on_worker_death = C.uint32_t(cfg.onDeath)
	if cfg.maxQueued < 0 || cfg.maxQueued > 1<<31 {
		return nil, fmt.Errorf("%w: negative or huge max queued", ErrInvalidArgument)
	}
	o.max_queued = C.uint32_t(cfg.maxQueued)
	o.when_full = C.uint32_t(cfg.whenFull)
	o.start_method = C.uint32_t(cfg.start)
	o.initializer = C.cfut_bytes_fn(cfg.init)
	// The input and path are copied by the library; C copies keep Go pointers out of o.
	if len(cfg.initInput) > 0 {
		o.initializer_input = C.CBytes(cfg.initInput)
		defer C.free(o.initializer_input)
		o.initializer_len = C.size_t(len(cfg.initInput))
	}
	if cfg.workerExe != "" {
		o.worker_exe = C.CString(cfg.workerExe)
		defer C.free(unsafe.Pointer(o.worker_exe))
	}
	var ptr *C.cfut_executor
	var msg *C.char
	if st := C.cfutgo_process_pool_new(&o, &ptr, &msg); st != C.CFUT_OK {
		return nil, withReason(Status(st), msg)
	}
	return newExecutor(ptr, nil), nil
}

// withReason attaches the library's explanation (a malloc'd copy, freed here) to a status.
func withReason(st Status, msg *C.char) error {
	if msg == nil {
		return st
	}
	defer C.free(unsafe.Pointer(msg))
	return fmt.Errorf("%w: %s", st, C.GoString(msg))
}

// Terminate is CPython's terminate_workers / kill_workers: it shuts the pool down,
// cancelling pending futures, and sends sig (syscall.SIGTERM, SIGKILL, ...) to every
// worker; running futures fail with ErrBroken. It does not wait: Close does. ErrUnsupported
// on a thread pool.
func (e *Executor) Terminate(sig syscall.Signal) error {
	ptr := e.h.acquire()
	if ptr == nil {
		return nil
	}
	defer e.h.release()
	return statusErr(C.cfut_process_pool_terminate(ptr, C.int32_t(sig)))
}

// WorkerPIDs lists a process pool's live worker processes (nil for a thread pool).
func (e *Executor) WorkerPIDs() []int {
	ptr := e.h.acquire()
	if ptr == nil {
		return nil
	}
	defer e.h.release()
	for capacity := 16; ; capacity *= 2 {
		pids := make([]C.int32_t, capacity)
		var n C.size_t
		if C.cfut_process_pool_worker_pids(ptr, &pids[0], C.size_t(capacity), &n) != C.CFUT_OK {
			return nil
		}
		if int(n) <= capacity {
			out := make([]int, n)
			for i := range out {
				out[i] = int(pids[i])
			}
			return out
		}
	}
}

// WorkersStarted is how many worker processes a process pool has started, replacements
// included (0 for a thread pool).
func (e *Executor) WorkersStarted() uint64 {
	ptr := e.h.acquire()
	if ptr == nil {
		return 0
	}
	defer e.h.release()
	return uint64(C.cfut_process_pool_workers_started(ptr))
}
