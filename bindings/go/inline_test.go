package cfutures_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	cf "github.com/cfutures/cfutures/bindings/go"
)

// Deadlock-proof waits (C API 0.2 section 1) from Go closures, on every path: the default
// (the pool's runner goroutines, gopool.go), library tasks each run on a goroutine of its
// own (a pool with an initializer), and WithDirectGoTasks (on the worker thread).

var taskPaths = []struct {
	name string
	opts []cf.ThreadPoolOption
}{{"goroutine", nil}, {"library", []cf.ThreadPoolOption{cf.WithInitializer(func() error { return nil })}},
	{"direct", []cf.ThreadPoolOption{cf.WithDirectGoTasks()}}}

func within(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestNestedSubmitOnOneWorkerGets25(t *testing.T) {
	for _, p := range taskPaths {
		t.Run(p.name, func(t *testing.T) {
			ex := pool(t, append([]cf.ThreadPoolOption{cf.WithMaxWorkers(1)}, p.opts...)...)
			start := time.Now()
			outer := cf.Submit(ex, func() (int, error) {
				return cf.Submit(ex, func() (int, error) { return 5 * 5, nil }).Result(context.Background())
			})
			v, err := outer.Result(within(t, 20*time.Second))
			if err != nil || v != 25 {
				t.Fatalf("got %v, %v", v, err)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Fatalf("took %v", d)
			}
			// ResultTimeout and Err take the same path.
			outer2 := cf.Submit(ex, func() (int, error) {
				f := cf.Submit(ex, func() (int, error) { return 7, nil })
				if err := f.Err(); err != nil {
					return 0, err
				}
				return f.ResultTimeout(time.Second)
			})
			if v, err := outer2.Result(within(t, 20*time.Second)); err != nil || v != 7 {
				t.Fatalf("got %v, %v", v, err)
			}
		})
	}
}

func TestWithoutInlineWaitsTheNestedWaitTimesOut(t *testing.T) {
	ex := pool(t, cf.WithMaxWorkers(1), cf.WithInlineWaits(false))
	outer := cf.Submit(ex, func() (error, error) {
		_, err := cf.Submit(ex, func() (int, error) { return 25, nil }).ResultTimeout(100 * time.Millisecond)
		return err, nil
	})
	if e, err := outer.Result(within(t, 20*time.Second)); err != nil || !errors.Is(e, cf.ErrTimeout) {
		t.Fatalf("got %v, %v", e, err)
	}
}

// runRing: task i waits on task i+1 (mod n), on pools[i % len(pools)].
func runRing(t *testing.T, n int, pools []*cf.Executor) {
	t.Helper()
	fs := make([]*cf.Future[int], n)
	ready := make(chan struct{})
	var deadlocks atomic.Int32
	for i := range n {
		fs[i] = cf.Submit(pools[i%len(pools)], func() (int, error) {
			<-ready
			v, err := fs[(i+1)%n].Result(context.Background())
			if errors.Is(err, cf.ErrWouldDeadlock) && !isDone(fs[(i+1)%n]) {
				deadlocks.Add(1)
			}
			return v + 1, err
		})
	}
	close(ready)
	if _, notDone, err := cf.Wait(fs, cf.AllCompleted, 20*time.Second); err != nil || len(notDone) > 0 {
		t.Fatalf("%d-task ring: %v, %d not done", n, err, len(notDone))
	}
	if d := deadlocks.Load(); d < 1 {
		t.Fatalf("%d-task ring: no wait got ErrWouldDeadlock", n)
	}
	for _, f := range fs {
		if _, err := f.Result(context.Background()); !errors.Is(err, cf.ErrWouldDeadlock) {
			t.Fatalf("every task of the ring ends with the cycle's error, got %v", err)
		}
	}
}

func isDone(f *cf.Future[int]) bool {
	select {
	case <-f.Done():
		return true
	default:
		return false
	}
}

func TestMutualWaitGetsErrWouldDeadlock(t *testing.T) {
	for _, p := range taskPaths {
		t.Run(p.name, func(t *testing.T) {
			for _, workers := range []int{1, 2} {
				for range 10 {
					ex := pool(t, append([]cf.ThreadPoolOption{cf.WithMaxWorkers(workers)}, p.opts...)...)
					runRing(t, 2, []*cf.Executor{ex})
				}
			}
			ex := pool(t, append([]cf.ThreadPoolOption{cf.WithMaxWorkers(2), cf.WithInlineWaits(false)}, p.opts...)...)
			runRing(t, 2, []*cf.Executor{ex})
		})
	}
}

func TestThreeAndFourTaskCyclesAcrossTwoPools(t *testing.T) {
	for _, p := range taskPaths {
		t.Run(p.name, func(t *testing.T) {
			for range 5 {
				a := pool(t, append([]cf.ThreadPoolOption{cf.WithMaxWorkers(2)}, p.opts...)...)
				b := pool(t, append([]cf.ThreadPoolOption{cf.WithMaxWorkers(2)}, p.opts...)...)
				runRing(t, 3, []*cf.Executor{a, b})
				runRing(t, 4, []*cf.Executor{a, b})
			}
		})
	}
}

func TestCollectiveWaitsAndMapRunInline(t *testing.T) {
	for _, p := range taskPaths {
		t.Run(p.name, func(t *testing.T) {
			ex := pool(t, append([]cf.ThreadPoolOption{cf.WithMaxWorkers(1)}, p.opts...)...)
			sum := cf.Submit(ex, func() (int, error) {
				var kids []*cf.Future[int]
				for i := 1; i <= 5; i++ {
					kids = append(kids, cf.Submit(ex, func() (int, error) { return i * i, nil }))
				}
				if _, _, err := cf.Wait(kids, cf.FirstCompleted, 5*time.Second); err != nil {
					return 0, err
				}
				s := 0
				for f, err := range cf.AsCompleted(context.Background(), kids...) {
					if err != nil {
						return 0, err
					}
					v, _ := f.Result(context.Background())
					s += v
				}
				if _, _, err := cf.Wait(kids, cf.AllCompleted, 5*time.Second); err != nil {
					return 0, err
				}
				for v, err := range cf.Map(ex, func(x int) (int, error) { return 2 * x, nil }, []int{1, 2, 3, 4}) {
					if err != nil {
						return 0, err
					}
					s += v
				}
				return s, nil
			})
			if v, err := sum.Result(within(t, 20*time.Second)); err != nil || v != 55+20 {
				t.Fatalf("got %v, %v", v, err)
			}
		})
	}
}

func TestGroupWaitFromATaskRunsInline(t *testing.T) {
	for _, p := range taskPaths {
		t.Run(p.name, func(t *testing.T) {
			ex := pool(t, append([]cf.ThreadPoolOption{cf.WithMaxWorkers(1)}, p.opts...)...)
			var ran atomic.Int32
			outer := cf.Submit(ex, func() (int32, error) {
				g := cf.NewGroup(ex)
				for range 10 {
					g.Go(func() error { ran.Add(1); return nil })
				}
				err := g.Wait()
				return ran.Load(), err
			})
			if v, err := outer.Result(within(t, 20*time.Second)); err != nil || v != 10 {
				t.Fatalf("got %v, %v", v, err)
			}
		})
	}
}
