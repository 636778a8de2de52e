package cfutures

/*
#include "cfutures.h"
*/
import "C"

import (
	"context"
	"errors"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// CompletionQueue delivers a tag for each watched future once it is done, through one file
// descriptor (the C cfut_cq). It serves event loops written around a pollable fd (epoll in
// a cgo program, a C library's loop) and Go code that wants many futures reported to one
// place without a goroutine per future:
//
//	q, _ := cfutures.NewCompletionQueue()
//	defer q.Close()
//	for i, f := range futures {
//		q.Watch(f, uint64(i))
//	}
//	for n := 0; n < len(futures); {
//		q.Wait(ctx)               // parks in Go's netpoller, no thread held
//		tags = q.Drain(tags[:0])
//		n += len(tags)
//	}
//
// Watch is safe from any goroutine; Drain and Wait from one goroutine at a time.
type CompletionQueue struct {
	mu      sync.RWMutex // Close takes it exclusively; the others share it
	closing atomic.Bool  // set by Close before it closes wake
	q       *C.cfut_cq
	wake    *os.File // a dup of the fd, waited on through the netpoller
}

// Watchable is a *Future[T] of any T.
type Watchable interface {
	watchOn(q *C.cfut_cq, tag uint64)
}

// NewCompletionQueue creates a queue with its own eventfd. It fails with ErrNoMemory when
// no descriptor can be created.
func NewCompletionQueue() (*CompletionQueue, error) {
	var q *C.cfut_cq
	if st := C.cfut_cq_new(&q); st != C.CFUT_OK {
		return nil, Status(st)
	}
	fd, err := dupCloexec(int(C.cfut_cq_fd(q)))
	if err != nil {
		C.cfut_cq_free(q)
		return nil, err
	}
	cq := &CompletionQueue{q: q, wake: os.NewFile(uintptr(fd), "cfutures-cq")}
	runtime.SetFinalizer(cq, (*CompletionQueue).Close)
	return cq, nil
}

// Fd is the queue's descriptor: readable while at least one tag waits (level-triggered).
// Wait on it, never read, write or close it; it is valid until Close (-1 after).
func (q *CompletionQueue) Fd() int {
	q.mu.RLock()
	defer q.mu.RUnlock()
	if q.q == nil {
		return -1
	}
	return int(C.cfut_cq_fd(q.q))
}

// Watch asks for tag once f is done (at once if it already is): exactly one tag per call,
// whatever the outcome (a value, an error, a dead process-pool worker, cancellation). f
// may be dropped right after. A tag can arrive a moment before f's Done channel closes;
// f.Result waits for that. Watching after Close does nothing.
func (q *CompletionQueue) Watch(f Watchable, tag uint64) {
	q.mu.RLock()
	defer q.mu.RUnlock()
	if q.q != nil {
		f.watchOn(q.q, tag)
	}
}

func (f *Future[T]) watchOn(q *C.cfut_cq, tag uint64) {
	if ptr := f.ref.acquire(); ptr != nil {
		f.gj.exposed.Store(true) // a Go closure's future: its runner must complete it in C
		C.cfut_cq_watch(q, ptr, C.uint64_t(tag))
		f.ref.release()
		runtime.KeepAlive(f)
		return
	}
	// The C future is gone: the future is done (a done Submit future lets it go, a failed
	// submit never had one), or it is a SubmitC future closed early. Deliver the tag through
	// a standalone C future completed once f is done.
	var done *C.cfut_future
	C.cfut_future_new(&done)
	C.cfut_cq_watch(q, done, C.uint64_t(tag))
	select {
	case <-f.done:
		C.cfut_future_set_result(done, nil, nil)
		C.cfut_future_release(done)
	default:
		go func() {
			<-f.done
			C.cfut_future_set_result(done, nil, nil)
			C.cfut_future_release(done)
		}()
	}
}

// Drain appends the waiting tags (oldest completion first) to tags and returns it. After
// it, the fd is not readable until the next completion.
func (q *CompletionQueue) Drain(tags []uint64) []uint64 {
	q.mu.RLock()
	defer q.mu.RUnlock()
	if q.q == nil {
		return tags
	}
	for {
		if cap(tags)-len(tags) < 64 {
			tags = append(tags, make([]uint64, 256)...)[:len(tags)]
		}
		room := tags[len(tags):cap(tags)]
		n := int(C.cfut_cq_drain(q.q, (*C.uint64_t)(unsafe.Pointer(&room[0])), C.size_t(len(room))))
		tags = tags[:len(tags)+n]
		if n < len(room) {
			return tags
		}
	}
}

// Wait returns nil once a tag waits (it takes nothing: call Drain), or the context's error
// (matching ErrTimeout for a deadline, as Future.Result). It parks the goroutine in Go's
// netpoller on the queue's fd; no thread is held.
func (q *CompletionQueue) Wait(ctx context.Context) error {
	q.mu.RLock()
	defer q.mu.RUnlock()
	if q.q == nil {
		return ErrShutdown
	}
	if C.cfut_cq_wait(q.q, 0) == C.CFUT_OK {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return ctxError(err)
	}
	d, _ := ctx.Deadline()
	if err := q.wake.SetReadDeadline(d); err != nil {
		return q.closedOr(err)
	}
	fired := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		_ = q.wake.SetReadDeadline(time.Unix(1, 0))
		close(fired)
	})
	// An AfterFunc already started must finish before Wait returns: running later, it would
	// set an expired deadline under the next Wait, which would report this ctx's timeout.
	defer func() {
		if !stop() {
			<-fired
		}
	}()
	raw, err := q.wake.SyscallConn()
	if err != nil {
		return q.closedOr(err)
	}
	// The callback returning false makes the netpoller wait for readability, then call it
	// again; it only asks the queue, so the eventfd's count stays the library's.
	for {
		err = raw.Read(func(uintptr) bool { return C.cfut_cq_wait(q.q, 0) == C.CFUT_OK })
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			return q.closedOr(err)
		}
		if ctx.Err() != nil {
			return ctxError(ctx.Err())
		}
		if !d.IsZero() && !time.Now().Before(d) {
			return ctxError(context.DeadlineExceeded)
		}
		// Neither our context nor our deadline: an earlier Wait's AfterFunc, which can run
		// after that Wait returned, moved the fd's deadline. Set ours again and go on.
		if err := q.wake.SetReadDeadline(d); err != nil {
			return q.closedOr(err)
		}
	}
}

// closedOr maps the fd's closing (Close during Wait) to ErrShutdown.
func (q *CompletionQueue) closedOr(err error) error {
	if err != nil && q.closing.Load() {
		return ErrShutdown
	}
	return err
}

func dupCloexec(fd int) (int, error) {
	r, _, e := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_DUPFD_CLOEXEC, 0)
	if e != 0 {
		return -1, e
	}
	return int(r), nil
}

// Close frees the queue: waiting tags are discarded and watches still pending are disarmed
// (their futures run on, unaffected). A Wait in progress returns ErrShutdown. Idempotent.
func (q *CompletionQueue) Close() {
	q.closing.Store(true)
	_ = q.wake.Close() // wakes a Wait parked in the netpoller, which holds mu shared
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.q == nil {
		return
	}
	C.cfut_cq_free(q.q)
	q.q = nil
	runtime.SetFinalizer(q, nil)
}
