//go:build cgo

package cfutures

import (
	"context"
	"fmt"
	"iter"
	"runtime/debug"
	"time"
)

// Awaitable is what Wait and AsCompleted accept: any *Future[T].
type Awaitable interface {
	Done() <-chan struct{}
	failed() bool
	// waitInLibrary: see Future.waitInLibrary (deadlock-proof waits from tasks).
	waitInLibrary(ns uint64, cancel <-chan struct{}) error
}

// WaitMode is Python's return_when.
type WaitMode uint32

const (
	FirstCompleted WaitMode = 0 // any future done (cancelled ones included)
	FirstException WaitMode = 1 // any future failed, or all done if none failed
	AllCompleted   WaitMode = 2 // every future done
)

// Wait is Python's concurrent.futures.wait: it blocks until mode's condition holds or
// timeout passes (Forever: no limit; 0 polls) and splits the futures into done and not
// done (duplicates appear once). err is ErrTimeout if the deadline passed first. A
// cancelled future counts as completed.
func Wait[F Awaitable](futures []F, mode WaitMode, timeout time.Duration) (done, notDone []F, err error) {
	if mode > AllCompleted {
		return nil, nil, fmt.Errorf("%w: wait mode %d", ErrInvalidArgument, mode)
	}
	fs := dedupe(futures)
	var pending []F
	nDone, anyFailed := 0, false
	for _, f := range fs {
		if isClosed(f.Done()) {
			nDone++
			anyFailed = anyFailed || f.failed()
		} else {
			pending = append(pending, f)
		}
	}
	holds := func() bool {
		return len(pending) == 0 || mode == FirstCompleted && nDone > 0 || mode == FirstException && anyFailed
	}
	if !holds() && timeout != 0 && callerIsTask() {
		// From a task: pending futures of its own pool run inline first, in order.
		if mode == AllCompleted {
			for _, f := range pending {
				if e := f.waitInLibrary(nsOf(timeout), nil); e != nil {
					err = e
					break
				}
			}
		} else {
			for _, f := range pending {
				_ = f.waitInLibrary(1, nil) // runs it if it is an own-pool pending task
				if isClosed(f.Done()) && (mode == FirstCompleted || f.failed()) {
					break
				}
			}
		}
	}
	if err != nil {
		// a cycle: reported below with the futures' states
	} else if !holds() && timeout != 0 {
		var deadline <-chan time.Time
		if timeout > 0 {
			t := time.NewTimer(timeout)
			defer t.Stop()
			deadline = t.C
		}
		if mode == AllCompleted {
			err = waitAll(pending, deadline)
		} else {
			err = waitFirst(pending, mode, deadline)
		}
	} else if !holds() {
		err = ErrTimeout
	}
	for _, f := range fs {
		if isClosed(f.Done()) {
			done = append(done, f)
		} else {
			notDone = append(notDone, f)
		}
	}
	return done, notDone, err
}

// waitAll waits for each future in turn: O(n), no goroutines.
func waitAll[F Awaitable](fs []F, deadline <-chan time.Time) error {
	for _, f := range fs {
		select {
		case <-f.Done():
		case <-deadline:
			return ErrTimeout
		}
	}
	return nil
}

// waitFirst waits until one future completes (FirstCompleted) or fails (FirstException,
// which also ends when every future is done).
func waitFirst[F Awaitable](fs []F, mode WaitMode, deadline <-chan time.Time) error {
	stop := make(chan struct{})
	defer close(stop)
	ready := fanIn(fs, stop)
	for range fs {
		select {
		case i := <-ready:
			if mode == FirstCompleted || fs[i].failed() {
				return nil
			}
		case <-deadline:
			return ErrTimeout
		}
	}
	return nil
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// fanIn sends the index of each future in fs as it completes, until stop is closed. It
// starts one goroutine per pending future: waiting parks goroutines, not threads.
func fanIn[F Awaitable](fs []F, stop <-chan struct{}) <-chan int {
	ch := make(chan int, len(fs))
	for i, f := range fs {
		go func() {
			select {
			case <-f.Done():
				ch <- i
			case <-stop:
			}
		}()
	}
	return ch
}

func dedupe[F Awaitable](fs []F) []F {
	seen := make(map[any]struct{}, len(fs))
	out := make([]F, 0, len(fs))
	for _, f := range fs {
		if _, ok := seen[f]; !ok {
			seen[f] = struct{}{}
			out = append(out, f)
		}
	}
	return out
}

// AsCompleted is Python's as_completed: it yields each distinct future once as it
// completes, those already done first (in argument order), then in completion order. If
// ctx ends first it yields (zero, err) once, err matching ErrTimeout for a deadline, and
// stops. Breaking out of the loop is fine.
//
//	for f, err := range cfutures.AsCompleted(ctx, fs...) { ... }
func AsCompleted[F Awaitable](ctx context.Context, futures ...F) iter.Seq2[F, error] {
	return func(yield func(F, error) bool) {
		fs := dedupe(futures)
		var pending []F
		for _, f := range fs {
			select {
			case <-f.Done():
				if !yield(f, nil) {
					return
				}
			default:
				pending = append(pending, f)
			}
		}
		if len(pending) == 0 {
			return
		}
		// From a task: before each wait, the first pending future of its own pool that is
		// not done runs inline (in order), so a one-worker pool's task can iterate.
		inTask := callerIsTask()
		yielded := make([]bool, len(pending))
		stop := make(chan struct{})
		defer close(stop)
		ready := fanIn(pending, stop)
		for range pending {
			for i, f := range pending {
				if !inTask || len(ready) > 0 {
					break
				}
				if !yielded[i] && !isClosed(f.Done()) {
					_ = f.waitInLibrary(1, ctx.Done())
					if isClosed(f.Done()) {
						break
					}
				}
			}
			select {
			case i := <-ready:
				yielded[i] = true
				if !yield(pending[i], nil) {
					return
				}
			case <-ctx.Done():
				var zero F
				yield(zero, ctxError(ctx.Err()))
				return
			}
		}
	}
}

type mapConfig struct {
	chunkSize   int
	timeout     time.Duration
	ctx         context.Context
	maxInFlight int
}

// MapOption configures Map, mirroring cfut_map_options.
type MapOption func(*mapConfig)

// WithChunkSize sets the items per task (default: chosen from the item count and workers).
func WithChunkSize(n int) MapOption { return func(c *mapConfig) { c.chunkSize = n } }

// WithTimeout sets a whole-map deadline counted from the Map call: when it passes, the
// chunks not started are cancelled and iteration yields ErrTimeout and stops.
func WithTimeout(d time.Duration) MapOption { return func(c *mapConfig) { c.timeout = d } }

// WithContext ends the map like a timeout when ctx ends.
func WithContext(ctx context.Context) MapOption { return func(c *mapConfig) { c.ctx = ctx } }

// WithMaxInFlight bounds how many chunks are queued or running ahead of the consumer
// (Python's buffersize); 0 submits every chunk at once.
func WithMaxInFlight(n int) MapOption { return func(c *mapConfig) { c.maxInFlight = n } }

type chunk[R any] struct {
	vals []R
	errs []error
}

// Map is Python's executor.map: fn runs over items on the executor, in chunks, and the
// sequence yields each item's (result, error) in input order. Every chunk is submitted
// before Map returns (unless WithMaxInFlight limits it), so the work runs even if the
// sequence is never iterated. An item's failure (its error, or a *PanicError) is that
// item's only; iteration goes on. A timeout or ended context yields (zero, err) once,
// cancels the rest, and stops; so does breaking out of the loop (without the yield).
// The sequence can be iterated once.
func Map[T, R any](ex *Executor, fn func(T) (R, error), items []T, opts ...MapOption) iter.Seq2[R, error] {
	cfg := mapConfig{timeout: Forever, ctx: context.Background()}
	for _, o := range opts {
		o(&cfg)
	}
	ctx, cancel := cfg.ctx, context.CancelFunc(func() {})
	if cfg.timeout >= 0 {
		ctx, cancel = context.WithTimeout(ctx, cfg.timeout)
	}
	n := len(items)
	size := cfg.chunkSize
	if size <= 0 {
		workers := max(ex.MaxWorkers(), 1)
		size = max(1, (n+4*workers-1)/(4*workers))
	}
	nChunks := (n + size - 1) / size
	direct := ex.h.direct
	futures := make([]*Future[chunk[R]], 0, nChunks)
	submitNext := func() {
		lo := len(futures) * size
		part := items[lo:min(lo+size, n)]
		futures = append(futures, Submit(ex, func() (chunk[R], error) {
			c := chunk[R]{vals: make([]R, len(part)), errs: make([]error, len(part))}
			if direct {
				i := 0
				runItems(fn, part, &c, &i)
				return c, nil
			}
			// A Goexit ends the goroutine running the items: fail that item, resume after it.
			for i := 0; i < len(part); {
				if err := guarded(ex.h, func() { runItems(fn, part, &c, &i) }); err != nil {
					c.errs[i] = err
					i++
				}
			}
			return c, nil
		}))
	}
	ahead := nChunks
	if cfg.maxInFlight > 0 {
		ahead = min(cfg.maxInFlight, nChunks)
	}
	for range ahead {
		submitNext()
	}
	used := false
	return func(yield func(R, error) bool) {
		defer cancel()
		if used {
			return
		}
		used = true
		defer func() { // whatever ends the iteration: nothing left queued or pending
			for _, f := range futures {
				f.cancelNoWait()
			}
		}()
		for ci := 0; ci < nChunks; ci++ {
			f := futures[ci]
			c, err := f.Result(ctx)
			if err != nil && !isClosed(f.done) {
				var zero R
				yield(zero, err) // the deadline or the context ended first
				return
			}
			if len(futures) < nChunks {
				submitNext() // keep max-in-flight chunks ahead
			}
			cnt := min(size, n-ci*size)
			for i := range cnt {
				var v R
				var e error
				if err != nil {
					e = err // the chunk was cancelled, or the pool broke
				} else {
					v, e = c.vals[i], c.errs[i]
				}
				if !yield(v, e) {
					return
				}
			}
		}
	}
}

// runItems fills c from part[*i:]; a Goexit leaves *i at the item that called it.
func runItems[T, R any](fn func(T) (R, error), part []T, c *chunk[R], i *int) {
	for ; *i < len(part); *i++ {
		c.vals[*i], c.errs[*i] = callItem(fn, part[*i])
	}
}

func callItem[T, R any](fn func(T) (R, error), item T) (v R, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &PanicError{Value: r, Stack: debug.Stack()}
		}
	}()
	return fn(item)
}
