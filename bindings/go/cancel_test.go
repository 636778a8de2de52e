package cfutures

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestSubmitCtxCancelledOnRequest(t *testing.T) {
	ex, err := NewThreadPool(WithMaxWorkers(2))
	if err != nil {
		t.Fatal(err)
	}
	defer ex.Close()
	started := make(chan struct{})
	f := SubmitCtx(ex, func(ctx context.Context) (int, error) {
		close(started)
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(20 * time.Second):
			return 1, nil
		}
	})
	<-started
	t0 := time.Now()
	if f.RequestCancel() {
		t.Fatal("RequestCancel on a running task returned true")
	}
	_, err = f.Result(context.Background())
	if !errors.Is(err, ErrCancelled) || !f.Cancelled() {
		t.Fatalf("got %v, cancelled %v; want ErrCancelled", err, f.Cancelled())
	}
	if d := time.Since(t0); d > 5*time.Second {
		t.Fatalf("the task stopped %v after the request", d)
	}
	// A task that ignores the request finishes normally.
	g := SubmitCtx(ex, func(ctx context.Context) (int, error) { return 7, nil })
	if v, err := g.Result(context.Background()); v != 7 || err != nil {
		t.Fatalf("got %v, %v", v, err)
	}
	if g.RequestCancel() {
		t.Fatal("a done future is left alone")
	}
}

func TestRequestCancelPending(t *testing.T) {
	ex, _ := NewThreadPool(WithMaxWorkers(1))
	defer ex.Close()
	release := make(chan struct{})
	var releaseOnce sync.Once
	open := func() { releaseOnce.Do(func() { close(release) }) }
	defer open() // before Close: a failed check must not leave the worker blocked
	// Both on the library path (SubmitCtx), so the one worker thread is busy and the second
	// task stays queued. (A plain Submit runs on a runner goroutine, whose bound is separate:
	// the second task could then start at once and win the race with RequestCancel.)
	busy := SubmitCtx(ex, func(ctx context.Context) (int, error) { <-release; return 0, nil })
	ran := atomic.Bool{}
	queued := SubmitCtx(ex, func(ctx context.Context) (int, error) { ran.Store(true); return 0, nil })
	if !queued.RequestCancel() || !queued.Cancelled() {
		t.Fatal("a pending future is cancelled at once")
	}
	open()
	busy.Result(context.Background())
	if ran.Load() {
		t.Fatal("a cancelled task ran")
	}
}

func TestGroupFirstErrorCancelsTheRest(t *testing.T) {
	ex, _ := NewThreadPool(WithMaxWorkers(4))
	defer ex.Close()
	g, ctx := GroupWithContext(context.Background(), ex)
	boom := errors.New("boom")
	var ran, stopped atomic.Int32
	g.Go(func() error { return boom })
	for i := 0; i < 2000; i++ {
		g.GoCtx(func(tctx context.Context) error {
			ran.Add(1)
			select {
			case <-tctx.Done():
				stopped.Add(1)
				return tctx.Err()
			case <-time.After(50 * time.Microsecond):
				return nil
			}
		})
	}
	if err := g.Wait(); err != boom {
		t.Fatalf("Wait = %v, want boom", err)
	}
	if ctx.Err() == nil {
		t.Fatal("the group's context is cancelled")
	}
	if ran.Load() >= 2000 {
		t.Fatalf("every task ran (%d)", ran.Load())
	}
	t.Logf("%d of 2000 ran, %d stopped on cancellation", ran.Load(), stopped.Load())
}

func TestGroupChildrenAndParentContext(t *testing.T) {
	ex, _ := NewThreadPool(WithMaxWorkers(3))
	defer ex.Close()
	g := NewGroup(ex)
	var n atomic.Int32
	for i := 0; i < 10; i++ {
		g.Go(func() error {
			for k := 0; k < 10; k++ {
				g.Go(func() error { n.Add(1); return nil })
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil || n.Load() != 100 {
		t.Fatalf("Wait = %v, n = %d", err, n.Load())
	}
	// A second round after Wait.
	g.Go(func() error { n.Add(1); return nil })
	if err := g.Wait(); err != nil || n.Load() != 101 {
		t.Fatalf("second round: %v, %d", err, n.Load())
	}

	parent, cancel := context.WithCancel(context.Background())
	g2, _ := GroupWithContext(parent, ex)
	started := make(chan struct{})
	g2.GoCtx(func(ctx context.Context) error {
		close(started)
		<-ctx.Done()
		return ctx.Err()
	})
	<-started
	cancel()
	if err := g2.Wait(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait = %v, want context.Canceled", err)
	}
}
