package cfutures_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	cf "github.com/cfutures/cfutures/bindings/go"
	"github.com/cfutures/cfutures/bindings/go/internal/ctasks"
)

// Submit closures on a thread pool's runner goroutines (gopool.go): every semantic of the
// library path, checked on the default pool.

const (
	cfutOK        = 0
	cfutCancelled = 2
	cfutFailed    = 3
)

// gate is a closure that reports its start and blocks until released.
type gate struct {
	started chan struct{}
	release chan struct{}
}

func newGate() *gate { return &gate{started: make(chan struct{}, 1024), release: make(chan struct{})} }

func (g *gate) fn(v int) func() (int, error) {
	return func() (int, error) {
		g.started <- struct{}{}
		<-g.release
		return v, nil
	}
}

func (g *gate) awaitStarts(t *testing.T, n int) {
	t.Helper()
	for range n {
		select {
		case <-g.started:
		case <-time.After(20 * time.Second):
			t.Fatalf("fewer than %d closures started", n)
		}
	}
}

func TestRunnersBoundConcurrencyToMaxWorkers(t *testing.T) {
	ex := pool(t, cf.WithMaxWorkers(3))
	g := newGate()
	var now, peak atomic.Int32
	fs := make([]*cf.Future[int], 12)
	for i := range fs {
		fs[i] = cf.Submit(ex, func() (int, error) {
			n := now.Add(1)
			for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
			}
			v, err := g.fn(i)()
			now.Add(-1)
			return v, err
		})
	}
	g.awaitStarts(t, 3)
	s := ex.Stats()
	if s.Running != 3 || s.Queued != 9 || s.Workers != 3 || s.Submitted != 12 {
		t.Fatalf("three running, nine queued: %+v", s)
	}
	if fs[11].Running() || !fs[0].Running() && !fs[1].Running() && !fs[2].Running() {
		t.Fatal("Running does not follow the runners")
	}
	close(g.release)
	for i, f := range fs {
		if v, err := f.ResultTimeout(20 * time.Second); v != i || err != nil {
			t.Fatalf("future %d: %v, %v", i, v, err)
		}
	}
	if p := peak.Load(); p != 3 {
		t.Fatalf("peak concurrency %d, want 3", p)
	}
	ex.Shutdown(true, false)
	if s := ex.Stats(); s.Completed != 12 || s.Running != 0 || s.Queued != 0 || s.PeakQueued < 9 {
		t.Fatalf("stats when quiet: %+v", s)
	}
}

// The future of a Go closure is a library future: C code holding it waits for the outcome,
// sees it running, and sees a failure's code.
func TestClosureFutureSeenFromC(t *testing.T) {
	ex := pool(t, cf.WithMaxWorkers(1))
	g := newGate()
	ok := cf.Submit(ex, g.fn(7))
	bad := cf.Submit(ex, func() (int, error) { return 0, errors.New("no") })
	raws := []unsafe.Pointer{ok.Raw(), bad.Raw()}
	for _, r := range raws {
		if r == nil {
			t.Fatal("Raw of a pending closure's future is nil")
		}
		ctasks.FutureRetain(r) // C's own reference, as a C holder keeps
		defer ctasks.FutureRelease(r)
	}
	g.awaitStarts(t, 1)
	if !ctasks.FutureRunning(raws[0]) || ctasks.FutureRunning(raws[1]) {
		t.Fatal("C sees the wrong one running")
	}
	if st, _ := ctasks.FutureWait(raws[0], 0); st != 1 /* CFUT_TIMEOUT */ {
		t.Fatalf("C wait on a running closure: status %d", st)
	}
	close(g.release)
	if st, _ := ctasks.FutureWait(raws[0], uint64(20*time.Second)); st != cfutOK {
		t.Fatalf("C wait: status %d", st)
	}
	if st, code := ctasks.FutureWait(raws[1], uint64(20*time.Second)); st != cfutFailed || code != 1 {
		t.Fatalf("C wait on a failed closure: status %d code %d", st, code)
	}
	if v, err := ok.Result(context.Background()); v != 7 || err != nil {
		t.Fatal(v, err)
	}
	if err := bad.Err(); err == nil || err.Error() != "no" {
		t.Fatal(err)
	}
	// Wait, AsCompleted and a completion queue take these futures as any other.
	q := newCQ(t)
	fs := []*cf.Future[int]{cf.Submit(ex, func() (int, error) { return 1, nil }), cf.Submit(ex, func() (int, error) { return 2, nil })}
	for i, f := range fs {
		q.Watch(f, uint64(i))
	}
	collect(t, q, 2)
	if _, notDone, err := cf.Wait(fs, cf.AllCompleted, 20*time.Second); err != nil || len(notDone) != 0 {
		t.Fatal(err, len(notDone))
	}
	sum := 0
	for f, err := range cf.AsCompleted(context.Background(), fs...) {
		v, _ := f.Result(context.Background())
		sum += v
		if err != nil {
			t.Fatal(err)
		}
	}
	if sum != 3 {
		t.Fatal(sum)
	}
}

// A queued closure cancelled by C code: Go sees it at once, while the runner is busy.
func TestQueuedClosureCancelledFromC(t *testing.T) {
	ex := pool(t, cf.WithMaxWorkers(1))
	g := newGate()
	busy := cf.Submit(ex, g.fn(1))
	g.awaitStarts(t, 1)
	var ran atomic.Bool
	f := cf.Submit(ex, func() (int, error) { ran.Store(true); return 2, nil })
	if !ctasks.FutureCancel(f.Raw()) {
		t.Fatal("C could not cancel a queued closure")
	}
	select {
	case <-f.Done():
	case <-time.After(20 * time.Second):
		t.Fatal("Go never saw the cancellation by C")
	}
	if !f.Cancelled() || !errors.Is(f.Err(), cf.ErrCancelled) {
		t.Fatal(f.Cancelled(), f.Err())
	}
	if s := ex.Stats(); s.Queued != 0 || s.Cancelled != 1 {
		t.Fatalf("a cancelled closure still counts as queued: %+v", s)
	}
	close(g.release)
	if err := busy.Err(); err != nil {
		t.Fatal(err)
	}
	ex.Shutdown(true, false)
	if ran.Load() {
		t.Fatal("a cancelled closure ran")
	}
}

func TestCancelQueuedAndRunningClosures(t *testing.T) {
	ex := pool(t, cf.WithMaxWorkers(1))
	g := newGate()
	busy := cf.Submit(ex, g.fn(1))
	g.awaitStarts(t, 1)
	var ran atomic.Int32
	queued := make([]*cf.Future[int], 4)
	for i := range queued {
		queued[i] = cf.Submit(ex, func() (int, error) { ran.Add(1); return i, nil })
	}
	if busy.Cancel() || busy.Cancelled() {
		t.Fatal("Cancel stopped a running closure")
	}
	if !queued[0].Cancel() || !queued[0].Cancelled() || !isDone(queued[0]) {
		t.Fatal("Cancel of a queued closure")
	}
	if !queued[0].Cancel() {
		t.Fatal("a second Cancel must still say true")
	}
	if !queued[1].RequestCancel() || !errors.Is(queued[1].Err(), cf.ErrCancelled) {
		t.Fatal("RequestCancel of a queued closure")
	}
	if busy.RequestCancel() {
		t.Fatal("RequestCancel of a running plain closure cancels nothing")
	}
	close(g.release)
	for i, f := range queued[2:] {
		if v, err := f.Result(context.Background()); v != i+2 || err != nil {
			t.Fatal(v, err)
		}
	}
	if v, err := busy.Result(context.Background()); v != 1 || err != nil {
		t.Fatal(v, err)
	}
	ex.Shutdown(true, false)
	if r := ran.Load(); r != 2 {
		t.Fatalf("%d queued closures ran, want 2", r)
	}
	if s := ex.Stats(); s.Cancelled != 2 || s.Completed != 3 || s.Submitted != 5 {
		t.Fatalf("%+v", s)
	}
}

func TestShutdownWaitsForQueuedAndRunningClosures(t *testing.T) {
	ex := pool(t, cf.WithMaxWorkers(1))
	g := newGate()
	fs := []*cf.Future[int]{cf.Submit(ex, g.fn(0))}
	g.awaitStarts(t, 1)
	var finished atomic.Int32
	for i := 1; i < 6; i++ {
		fs = append(fs, cf.Submit(ex, func() (int, error) { finished.Add(1); return i, nil }))
	}
	shut := make(chan error)
	go func() { shut <- ex.Shutdown(true, false) }()
	// Submits fail once the shutdown began; the running closure still blocks it.
	for {
		f := cf.Submit(ex, func() (int, error) { return 0, nil }) // queued, or refused at once
		if isDone(f) && errors.Is(f.Err(), cf.ErrShutdown) {
			break
		}
		runtime.Gosched()
	}
	select {
	case err := <-shut:
		t.Fatalf("Shutdown(wait) returned while a closure ran: %v", err)
	default:
	}
	close(g.release)
	if err := <-shut; err != nil {
		t.Fatal(err)
	}
	if n := finished.Load(); n != 5 {
		t.Fatalf("Shutdown(wait) returned with %d of 5 queued closures run", n)
	}
	for i, f := range fs {
		if !isDone(f) {
			t.Fatalf("future %d not done after Shutdown(wait)", i)
		}
	}
	if _, err := cf.TrySubmit(ex, 0, func() (int, error) { return 0, nil }); !errors.Is(err, cf.ErrShutdown) {
		t.Fatal("TrySubmit after shutdown:", err)
	}
	ex.Close()
	if err := cf.Submit(ex, func() (int, error) { return 0, nil }).Err(); !errors.Is(err, cf.ErrShutdown) {
		t.Fatal("Submit after Close:", err)
	}
}

func TestShutdownCancelFuturesCancelsQueuedClosures(t *testing.T) {
	ex := pool(t, cf.WithMaxWorkers(1))
	g := newGate()
	busy := cf.Submit(ex, g.fn(9))
	g.awaitStarts(t, 1)
	var ran atomic.Int32
	queued := make([]*cf.Future[int], 5)
	for i := range queued {
		queued[i] = cf.Submit(ex, func() (int, error) { ran.Add(1); return i, nil })
	}
	raw := queued[4].Raw() // one held by C too
	ctasks.FutureRetain(raw)
	defer ctasks.FutureRelease(raw)
	if err := ex.Shutdown(false, true); err != nil {
		t.Fatal(err)
	}
	for _, f := range queued {
		if !f.Cancelled() || !errors.Is(f.Err(), cf.ErrCancelled) {
			t.Fatal("a queued closure survived shutdown(cancel_futures)")
		}
	}
	if st, _ := ctasks.FutureWait(raw, 0); st != cfutCancelled {
		t.Fatalf("C sees status %d", st)
	}
	close(g.release)
	if v, err := busy.Result(context.Background()); v != 9 || err != nil {
		t.Fatal(v, err)
	}
	ex.Shutdown(true, false)
	if ran.Load() != 0 {
		t.Fatal("a cancelled closure ran")
	}
	if s := ex.Stats(); s.Cancelled != 5 || s.Completed != 1 {
		t.Fatalf("%+v", s)
	}
}

func TestBoundedQueueBlockAndCallerRuns(t *testing.T) {
	t.Run("block", func(t *testing.T) {
		ex := pool(t, cf.WithMaxWorkers(1), cf.WithMaxQueued(1, cf.WhenFullBlock))
		g := newGate()
		busy := cf.Submit(ex, g.fn(1))
		g.awaitStarts(t, 1)
		queued := cf.Submit(ex, func() (int, error) { return 2, nil })
		if _, err := cf.TrySubmit(ex, 0, func() (int, error) { return 0, nil }); !errors.Is(err, cf.ErrQueueFull) {
			t.Fatal("the queue should be full:", err)
		}
		returned := make(chan *cf.Future[int])
		go func() { returned <- cf.Submit(ex, func() (int, error) { return 3, nil }) }()
		select {
		case <-returned:
			t.Fatal("Submit on a full WhenFullBlock queue did not block")
		case <-time.After(20 * time.Millisecond): // a negative check: it must still block
		}
		close(g.release)
		third := <-returned
		for i, f := range []*cf.Future[int]{busy, queued, third} {
			if v, err := f.Result(context.Background()); v != i+1 || err != nil {
				t.Fatal(i, v, err)
			}
		}
	})
	t.Run("caller runs", func(t *testing.T) {
		ex := pool(t, cf.WithMaxWorkers(1), cf.WithMaxQueued(1, cf.WhenFullCallerRuns))
		g := newGate()
		busy := cf.Submit(ex, g.fn(1))
		g.awaitStarts(t, 1)
		queued := cf.Submit(ex, func() (int, error) { return 2, nil })
		mine := cf.Submit(ex, func() (int, error) { return 3, nil })
		if !isDone(mine) {
			t.Fatal("WhenFullCallerRuns: Submit returned before the closure ran")
		}
		if v, err := mine.Result(context.Background()); v != 3 || err != nil {
			t.Fatal(v, err)
		}
		// A Goexit in a caller-run closure fails its future, not the caller.
		exited := cf.Submit(ex, func() (int, error) { runtime.Goexit(); return 0, nil })
		if !errors.Is(exited.Err(), cf.ErrGoexit) {
			t.Fatal(exited.Err())
		}
		close(g.release)
		if busy.Err() != nil || queued.Err() != nil {
			t.Fatal(busy.Err(), queued.Err())
		}
		ex.Shutdown(true, false)
		if s := ex.Stats(); s.Submitted != 4 || s.Completed != 3 || s.Failed != 1 {
			t.Fatalf("%+v", s)
		}
	})
}

// A closure that calls runtime.Goexit ends its runner goroutine; another takes its place.
func TestGoexitReplacesTheRunner(t *testing.T) {
	ex := pool(t, cf.WithMaxWorkers(1))
	for i := range 3 {
		if err := cf.Submit(ex, func() (int, error) { runtime.Goexit(); return 0, nil }).Err(); !errors.Is(err, cf.ErrGoexit) {
			t.Fatal(i, err)
		}
		if v, err := cf.Submit(ex, func() (int, error) { return i, nil }).ResultTimeout(20 * time.Second); v != i || err != nil {
			t.Fatal(v, err)
		}
	}
	var pe *cf.PanicError
	if err := cf.Submit(ex, func() (int, error) { panic("p") }).Err(); !errors.As(err, &pe) {
		t.Fatal(err)
	}
	ex.Shutdown(true, false)
	if s := ex.Stats(); s.Failed != 4 || s.Completed != 3 || s.Workers != 0 {
		t.Fatalf("%+v", s)
	}
}

// A failed closure nobody read is reported once, also when C code held its future (then
// the C future failed too, and the library's own report must not come on top).
func TestUnobservedErrorOfAnExposedClosure(t *testing.T) {
	got := make(chan error, 16)
	cf.SetUnobservedErrorHook(func(err error) { got <- err })
	defer cf.SetUnobservedErrorHook(nil)
	ex := pool(t, cf.WithMaxWorkers(1))
	g := newGate()
	busy := cf.Submit(ex, g.fn(0))
	g.awaitStarts(t, 1)
	errLostC := errors.New("lost, seen by C")
	done := make(chan struct{})
	func() {
		f := cf.Submit(ex, func() (int, error) { defer close(done); return 0, errLostC })
		_ = f.Raw()
	}()
	close(g.release)
	<-done
	if busy.Err() != nil {
		t.Fatal(busy.Err())
	}
	ex.Shutdown(true, false)
	deadline := time.After(20 * time.Second)
	for {
		runtime.GC()
		select {
		case err := <-got:
			if !errors.Is(err, errLostC) {
				t.Fatalf("reported %v", err)
			}
			runtime.GC()
			time.Sleep(10 * time.Millisecond) // give a second report every chance
			select {
			case err := <-got:
				t.Fatalf("reported twice: %v", err)
			default:
			}
			return
		case <-deadline:
			t.Fatal("never reported")
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// Many submitters, cancellers and a shutdown at once: every future ends exactly once and
// the counters add up.
func TestClosureStormCountsAddUp(t *testing.T) {
	ex := pool(t, cf.WithMaxWorkers(3))
	const n = 2000
	fs := make([]*cf.Future[int], n)
	done := make(chan struct{})
	for w := range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := w; i < n; i += 4 {
				fs[i] = cf.Submit(ex, func() (int, error) {
					if i%7 == 0 {
						return 0, fmt.Errorf("item %d", i)
					}
					return i, nil
				})
				if i%5 == 0 {
					fs[i].Cancel()
				}
			}
		}()
	}
	for range 4 {
		<-done
	}
	ex.Shutdown(true, false)
	var ok, failed, cancelled uint64
	for i, f := range fs {
		v, err := f.ResultTimeout(20 * time.Second)
		switch {
		case f.Cancelled():
			cancelled++
		case err != nil:
			failed++
			if i%7 != 0 {
				t.Fatal(i, err)
			}
		default:
			ok++
			if v != i {
				t.Fatal(i, v)
			}
		}
	}
	s := ex.Stats()
	if s.Submitted != n || s.Completed != ok || s.Failed != failed || s.Cancelled != cancelled || s.Queued != 0 || s.Running != 0 {
		t.Fatalf("ok %d failed %d cancelled %d: %+v", ok, failed, cancelled, s)
	}
}

func TestIdleRunnersRetire(t *testing.T) {
	ex := pool(t, cf.WithIdleTimeout(20*time.Millisecond))
	if n := ex.MaxWorkers(); n < 1 {
		t.Fatalf("max workers %d", n)
	}
	for round := range 2 {
		if v, err := cf.Submit(ex, func() (int, error) { return round, nil }).ResultTimeout(20 * time.Second); v != round || err != nil {
			t.Fatal(v, err)
		}
		deadline := time.Now().Add(20 * time.Second)
		for ex.Stats().Workers > 0 && time.Now().Before(deadline) {
			time.Sleep(2 * time.Millisecond)
		}
		if s := ex.Stats(); s.Workers != 0 || s.IdleWorkers != 0 {
			t.Fatalf("round %d: runners left after the idle timeout: %+v", round, s)
		}
	}
}

// A closure submitting to its own pool's full WhenFullBlock queue runs the new closure
// itself instead of waiting for room only its own runner could make (as the library does);
// TrySubmit from it is refused at once.
func TestOwnTaskOnAFullBlockingQueueDoesNotWait(t *testing.T) {
	ex := pool(t, cf.WithMaxWorkers(1), cf.WithMaxQueued(1, cf.WhenFullBlock))
	outer := cf.Submit(ex, func() (int, error) {
		first := cf.Submit(ex, func() (int, error) { return 1, nil }) // fills the queue
		second := cf.Submit(ex, func() (int, error) { return 2, nil })
		if !isDone(second) {
			return 0, errors.New("the own task's submit to a full queue did not run it inline")
		}
		if f, err := cf.TrySubmit(ex, cf.Forever, func() (int, error) { return 3, nil }); f != nil || !errors.Is(err, cf.ErrQueueFull) {
			return 0, fmt.Errorf("TrySubmit from an own task: %v", err)
		}
		a, err := first.Result(context.Background()) // queued behind us: runs inline
		if err != nil {
			return 0, err
		}
		b, err := second.Result(context.Background())
		return a + b, err
	})
	if v, err := outer.ResultTimeout(20 * time.Second); v != 3 || err != nil {
		t.Fatal(v, err)
	}
}
