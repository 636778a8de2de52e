package cfutures

/*
#include <stdlib.h>
#include "cfutures.h"
#include "shim.h"
*/
import "C"

import (
	"fmt"
	"runtime"
	"runtime/cgo"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// Executor is a thread pool (NewThreadPool) or a process pool (NewProcessPool). Its methods
// and the Submit functions are safe for concurrent use. Close it when done; a cleanup closes a
// forgotten one once it is unreachable, but only as a backstop.
type Executor struct {
	h       *exHandle
	cleanup runtime.Cleanup
}

// exHandle owns the C executor. uses counts the calls in flight, plus closedBit once Close
// ran; the C handle is freed when both say so, so Close racing a Submit never frees a
// handle in use.
type exHandle struct {
	ptr    *C.cfut_executor
	uses   atomic.Int64
	init   *initializer // kept alive (and its handle valid) for the pool's lifetime
	direct bool         // WithDirectGoTasks
	tasks  sync.Map     // goroutine ids of the running Go tasks (see guarded, goPool)
	gp     *goPool      // thread pools: Submit's runner goroutines (nil: the library path)
}

const closedBit = int64(1) << 62

func (x *exHandle) acquire() *C.cfut_executor {
	for {
		s := x.uses.Load()
		if s&closedBit != 0 {
			return nil
		}
		if x.uses.CompareAndSwap(s, s+1) {
			return x.ptr
		}
	}
}

func (x *exHandle) release() {
	if x.uses.Add(-1) == closedBit {
		x.free()
	}
}

// close marks the handle closed; the last user (maybe this call) frees it.
func (x *exHandle) close() {
	if old := x.uses.Or(closedBit); old == 0 {
		x.free()
	}
}

func boolInt(b bool) C.int {
	if b {
		return 1
	}
	return 0
}

func (x *exHandle) free() {
	if x.gp != nil {
		if x.ownTask() { // the last user is one of the pool's Go tasks: wait elsewhere
			go x.free()
			return
		}
		x.gp.shutdown(false)
		x.gp.waitQuiet()
	}
	C.cfut_executor_free(x.ptr) // shutdown(wait) + free; from a pool worker, no wait
	if x.init != nil {
		x.init.h.Delete()
	}
}

type threadPoolConfig struct {
	maxWorkers  int
	prefix      string
	init        func() error
	direct      bool
	noInline    bool
	maxQueued   int
	whenFull    WhenFull
	idleTimeout time.Duration
}

// ThreadPoolOption configures NewThreadPool, mirroring cfut_thread_pool_options.
type ThreadPoolOption func(*threadPoolConfig)

// WithMaxWorkers sets the most threads the pool runs at once (default min(32, CPUs + 4)),
// and the most Submit closures its runner goroutines run at once (see Submit).
func WithMaxWorkers(n int) ThreadPoolOption { return func(c *threadPoolConfig) { c.maxWorkers = n } }

// WithThreadNamePrefix names the workers "<prefix>_<i>" (Linux shows 15 bytes).
func WithThreadNamePrefix(p string) ThreadPoolOption {
	return func(c *threadPoolConfig) { c.prefix = p }
}

// WithInitializer runs fn on each new worker thread before its first task. An error (or a
// panic) breaks the pool: queued futures fail with ErrBroken, later submits too. Submit
// closures of such a pool run as library tasks (each on a goroutine of its own, its worker
// thread waiting), so that they too run after the initializer and share its verdict.
func WithInitializer(fn func() error) ThreadPoolOption {
	return func(c *threadPoolConfig) { c.init = fn }
}

// WithDirectGoTasks runs Submit and TrySubmit closures as library tasks, directly on the
// pool's worker threads, instead of on the pool's runner goroutines (the default): they
// then share the pool's max-workers bound, queue and statistics with its C tasks and map
// chunks, and see its worker threads' thread-local state. It also runs Map functions on the
// worker threads instead of on a goroutine of their own (about ten times less overhead per
// chunk). A closure or Map function that calls runtime.Goexit (t.FailNow, t.Fatal,
// t.SkipNow) then kills the process, as Go does for a Goexit on any thread it did not
// create. Panics are still recovered.
func WithDirectGoTasks() ThreadPoolOption {
	return func(c *threadPoolConfig) { c.direct = true }
}

// WithInlineWaits(false) turns deadlock-proof waits off (they are on by default): a task
// that waits on a pending future of its own pool then waits for a free worker (or runner
// goroutine), as in CPython, instead of running that task itself. Waits that would close a cycle of tasks
// waiting on each other still return ErrWouldDeadlock.
func WithInlineWaits(on bool) ThreadPoolOption {
	return func(c *threadPoolConfig) { c.noInline = !on }
}

type initializer struct {
	fn func() error
	h  cgo.Handle
}

// run calls the initializer on a goroutine of its own (see guarded): a panic or Goexit
// breaks the pool instead of the process.
func (in *initializer) run() C.int32_t {
	var err error
	if guarded(nil, func() { err = in.fn() }) != nil {
		return -1
	}
	if err != nil {
		return 1
	}
	return 0
}

// NewThreadPool is Python's ThreadPoolExecutor: workers start lazily, idle ones are reused,
// and at most max-workers run at once.
func NewThreadPool(opts ...ThreadPoolOption) (*Executor, error) {
	var cfg threadPoolConfig
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.maxWorkers < 0 || cfg.maxWorkers > 1<<31 {
		return nil, fmt.Errorf("%w: max workers %d", ErrInvalidArgument, cfg.maxWorkers)
	}
	var prefix *C.char
	if cfg.prefix != "" {
		prefix = C.CString(cfg.prefix)
		defer C.free(unsafe.Pointer(prefix))
	}
	var in *initializer
	hasInit := C.int(0)
	var h C.uintptr_t
	if cfg.init != nil {
		in = &initializer{fn: cfg.init}
		in.h = cgo.NewHandle(in)
		h, hasInit = C.uintptr_t(in.h), 1
	}
	var ptr *C.cfut_executor
	if cfg.maxQueued < 0 || cfg.maxQueued > 1<<31 || cfg.idleTimeout < 0 {
		return nil, fmt.Errorf("%w: negative or huge max queued or idle timeout", ErrInvalidArgument)
	}
	flow := C.cfutgo_flow{max_queued: C.uint32_t(cfg.maxQueued), when_full: C.uint32_t(cfg.whenFull), idle_timeout_ns: C.uint64_t(cfg.idleTimeout)}
	if st := C.cfutgo_thread_pool_new(C.uint32_t(cfg.maxWorkers), prefix, hasInit, h, boolInt(!cfg.noInline), &flow, &ptr); st != C.CFUT_OK {
		if in != nil {
			in.h.Delete()
		}
		return nil, Status(st)
	}
	e := newExecutor(ptr, in)
	e.h.direct = cfg.direct
	if !cfg.direct && in == nil { // an initializer prepares worker threads for their tasks
		e.h.gp = newGoPool(e.h, int(C.cfut_executor_max_workers(ptr)), &cfg)
	}
	return e, nil
}

func newExecutor(ptr *C.cfut_executor, in *initializer) *Executor {
	e := &Executor{h: &exHandle{ptr: ptr, init: in}}
	// Backstop only: free off the cleanup goroutine, since freeing waits for queued work.
	e.cleanup = runtime.AddCleanup(e, func(x *exHandle) { go x.close() }, e.h)
	return e
}

// Shutdown is Python's shutdown(wait, cancel_futures): no new work is accepted (submits
// then fail with ErrShutdown); cancelFutures cancels what has not started (Go closures
// queued for the runner goroutines included); wait blocks until the queued work is done
// and the runner goroutines have exited (an OS thread for the library's part). Idempotent. From one of the pool's own tasks,
// wait returns ErrWouldDeadlock (the shutdown still happens).
func (e *Executor) Shutdown(wait, cancelFutures bool) error {
	ptr := e.h.acquire()
	if ptr == nil {
		return nil // closed: already shut down
	}
	defer e.h.release()
	if e.h.gp != nil {
		e.h.gp.shutdown(cancelFutures)
	}
	if wait && !e.h.direct && e.h.ownTask() { // not on the worker thread: tell the library
		C.cfut_executor_shutdown(ptr, false, C.bool(cancelFutures))
		return ErrWouldDeadlock
	}
	if wait && e.h.gp != nil {
		e.h.gp.waitQuiet()
	}
	return statusErr(C.cfut_executor_shutdown(ptr, C.bool(wait), C.bool(cancelFutures)))
}

// Close shuts the executor down, waits for its queued work, and frees it. Futures already
// handed out stay valid. Safe to call more than once and from any goroutine; from one of
// the pool's own tasks it does not wait.
func (e *Executor) Close() error {
	err := e.Shutdown(true, false)
	e.cleanup.Stop()
	if err == ErrWouldDeadlock {
		// One of our own tasks, maybe off the worker thread: free once the workers are done.
		go e.h.close()
		return nil
	}
	e.h.close()
	return err
}

// MaxWorkers is the most tasks the executor runs at once (0 once closed).
func (e *Executor) MaxWorkers() int {
	ptr := e.h.acquire()
	if ptr == nil {
		return 0
	}
	defer e.h.release()
	return int(C.cfut_executor_max_workers(ptr))
}

// Raw returns the C executor (cfut_executor*) for other cgo code, or nil once closed. It is
// valid until Close; keep the Executor reachable (runtime.KeepAlive) while using it.
func (e *Executor) Raw() unsafe.Pointer {
	ptr := e.h.acquire()
	if ptr == nil {
		return nil
	}
	e.h.release()
	return unsafe.Pointer(ptr)
}

// Submit runs fn as a task of the executor and returns its future. The value and error
// stay in Go memory; a panic in fn becomes a *PanicError on the future, a runtime.Goexit in
// fn (t.FailNow, t.Fatal) a *GoexitError matching ErrGoexit. If the executor refuses the
// task (shut down, broken, a process pool, a full queue with WhenFullReject), the future is
// returned already failed with ErrShutdown, ErrBroken, ErrUnsupported or ErrQueueFull.
//
// On a thread pool, fn runs on one of the pool's runner goroutines: at most max-workers
// Go closures run at once, the rest wait in the pool's Go queue, which WithMaxQueued bounds
// as it bounds the library's (WhenFullCallerRuns runs fn on a goroutine of the caller's,
// which waits; so does WhenFullBlock when the caller is one of the pool's own tasks). The runners start on demand and park when idle (WithIdleTimeout ends
// them). The future is a library future all the same (Raw, Wait, AsCompleted, completion
// queues); the runner starts and completes it, so C code may read, wait on, cancel or
// request cancellation of it, but must not complete it. Go closures and C tasks each have
// their own max-workers bound and queue, counted together in Stats; WithDirectGoTasks and
// WithInitializer put Go closures back on the library's worker threads, under one bound.
func Submit[T any](ex *Executor, fn func() (T, error)) *Future[T] {
	f := newFuture[T]()
	f.fn = fn
	f.ex = ex.h
	if ex.h.gp != nil {
		if err := submitGoroutine(ex, f, false, 0); err != nil {
			f.fail(err)
		}
		return f
	}
	ptr := ex.h.acquire()
	if ptr == nil {
		f.fail(ErrShutdown)
		return f
	}
	startDispatcher()
	h := newTaskHandle(f)
	var cf *C.cfut_future
	st := C.cfutgo_submit_go(ptr, C.uintptr_t(h), &cf)
	ex.h.release()
	f.attach(cf, st, h)
	return f
}

// SubmitC runs a C task at native speed: fn is a cfut_task_fn
// (int32_t fn(void *arg, cfut_result *out)), written in C and passed as
// unsafe.Pointer(C.my_task); arg must be C memory (or an integer), never a Go pointer;
// argDrop, a cfut_drop_fn or nil, runs exactly once after arg's last use. The value is the
// pointer the task set with cfut_result_set_value (borrowed: valid until the future's Close).
// A non-zero return fails the future with a *TaskError.
func SubmitC(ex *Executor, fn, arg, argDrop unsafe.Pointer) *Future[unsafe.Pointer] {
	f := newFuture[unsafe.Pointer]()
	f.extract = extractPointer
	f.keepRef = true
	ptr := ex.h.acquire()
	if ptr == nil {
		if argDrop != nil {
			C.cfutgo_call_drop(argDrop, arg)
		}
		f.fail(ErrShutdown)
		return f
	}
	startDispatcher()
	h := newTaskHandle(f)
	var cf *C.cfut_future
	st := C.cfutgo_submit_c(ptr, fn, arg, argDrop, C.uintptr_t(h), &cf)
	ex.h.release()
	f.attach(cf, st, h)
	return f
}

// SubmitBytes runs a C bytes task (cfut_bytes_fn:
// int32_t fn(const void *in, size_t len, cfut_result *out)) on a copy of input; the bytes
// it sets with cfut_result_set_bytes come back as the value, copied into Go memory. It is
// the one form that works on every executor kind, process pools included.
func SubmitBytes(ex *Executor, fn unsafe.Pointer, input []byte) *Future[[]byte] {
	f := newFuture[[]byte]()
	f.extract = extractBytes
	ptr := ex.h.acquire()
	if ptr == nil {
		f.fail(ErrShutdown)
		return f
	}
	startDispatcher()
	h := newTaskHandle(f)
	var cf *C.cfut_future
	var in unsafe.Pointer
	if len(input) > 0 {
		in = unsafe.Pointer(&input[0])
	}
	var reason *C.char
	st := C.cfutgo_submit_bytes(ptr, fn, in, C.size_t(len(input)), C.uintptr_t(h), &cf, &reason)
	runtime.KeepAlive(input)
	ex.h.release()
	if st != C.CFUT_OK && reason != nil {
		h.delete()
		f.fail(withReason(Status(st), reason)) // e.g. why a process pool cannot run fn
		return f
	}
	f.attach(cf, st, h)
	return f
}
