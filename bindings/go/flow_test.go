package cfutures_test

import (
	"errors"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	cf "github.com/cfutures/cfutures/bindings/go"
)

// blockOne occupies a one-worker pool's worker until release is closed.
func blockOne(t *testing.T, ex *cf.Executor) (release chan struct{}, busy *cf.Future[int]) {
	t.Helper()
	started := make(chan struct{})
	release = make(chan struct{})
	busy = cf.Submit(ex, func() (int, error) {
		close(started)
		<-release
		return 0, nil
	})
	select {
	case <-started:
	case <-time.After(20 * time.Second):
		t.Fatal("the blocking task never started")
	}
	return release, busy
}

func TestTrySubmitRejectAndStats(t *testing.T) {
	ex := pool(t, cf.WithMaxWorkers(1), cf.WithMaxQueued(2, cf.WhenFullReject))
	release, busy := blockOne(t, ex)
	a := cf.Submit(ex, func() (int, error) { return 1, nil })
	b := cf.Submit(ex, func() (int, error) { return 2, nil })
	var ran atomic.Bool
	f, err := cf.TrySubmit(ex, 20*time.Millisecond, func() (int, error) { ran.Store(true); return 3, nil })
	if f != nil || !errors.Is(err, cf.ErrQueueFull) {
		t.Fatalf("TrySubmit on a full queue: %v, %v", f, err)
	}
	rejected := cf.Submit(ex, func() (int, error) { return 4, nil })
	if err := rejected.Err(); !errors.Is(err, cf.ErrQueueFull) {
		t.Fatalf("Submit with WhenFullReject: %v", err)
	}
	s := ex.Stats()
	if s.Queued != 2 || s.Running != 1 || s.Rejected != 2 || s.PeakQueued != 2 || s.Workers != 1 {
		t.Fatalf("stats while full: %+v", s)
	}
	close(release)
	for _, g := range []*cf.Future[int]{busy, a, b} {
		if err := g.Err(); err != nil {
			t.Fatal(err)
		}
	}
	f, err = cf.TrySubmit(ex, cf.Forever, func() (int, error) { ran.Store(true); return 3, nil })
	if err != nil {
		t.Fatal(err)
	}
	if v, err := f.ResultTimeout(20 * time.Second); v != 3 || err != nil || !ran.Load() {
		t.Fatalf("got %v, %v", v, err)
	}
	ex.Shutdown(true, false)
	s = ex.Stats()
	if s.Submitted != 4 || s.Completed != 4 || s.Queued != 0 || s.Running != 0 {
		t.Fatalf("stats when quiet: %+v", s)
	}
}

func TestIdleWorkersRetire(t *testing.T) {
	ex := pool(t, cf.WithMaxWorkers(2), cf.WithIdleTimeout(20*time.Millisecond), cf.WithDirectGoTasks())
	if v, err := cf.Submit(ex, func() (int, error) { return 5, nil }).ResultTimeout(20 * time.Second); v != 5 || err != nil {
		t.Fatal(v, err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for ex.Stats().Workers > 0 && time.Now().Before(deadline) {
		time.Sleep(2 * time.Millisecond)
	}
	if w := ex.Stats().Workers; w != 0 {
		t.Fatalf("%d workers after the idle timeout", w)
	}
	if v, err := cf.Submit(ex, func() (int, error) { return 6, nil }).ResultTimeout(20 * time.Second); v != 6 || err != nil {
		t.Fatal(v, err)
	}
	if r := ex.Stats().WorkerRestarts; r != 1 {
		t.Fatalf("worker restarts %d", r)
	}
}

var errLost = errors.New("lost in Go")

func TestUnobservedErrorHook(t *testing.T) {
	got := make(chan error, 16)
	cf.SetUnobservedErrorHook(func(err error) {
		if errors.Is(err, errLost) {
			got <- err
		}
	})
	defer cf.SetUnobservedErrorHook(nil)
	ex := pool(t, cf.WithMaxWorkers(2))
	done := make(chan struct{})
	func() {
		f := cf.Submit(ex, func() (int, error) { defer close(done); return 0, errLost }) // never read
		_ = f
	}()
	read := cf.Submit(ex, func() (int, error) { return 0, errLost })
	if err := read.Err(); !errors.Is(err, errLost) {
		t.Fatal(err)
	}
	<-done
	deadline := time.After(20 * time.Second)
	for {
		runtime.GC()
		select {
		case err := <-got:
			if !errors.Is(err, errLost) {
				t.Fatal(err)
			}
			runtime.KeepAlive(read)
			// Only the unread one: give a read failure every chance to (wrongly) report.
			runtime.GC()
			time.Sleep(10 * time.Millisecond)
			select {
			case err := <-got:
				t.Fatalf("reported twice or a read failure: %v", err)
			default:
			}
			return
		case <-deadline:
			t.Fatal("the unread failure was never reported")
		case <-time.After(5 * time.Millisecond):
		}
	}
}
