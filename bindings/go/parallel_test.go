package cfutures_test

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"unsafe"

	cf "github.com/cfutures/cfutures/bindings/go"
	"github.com/cfutures/cfutures/bindings/go/internal/ctasks"
)

func TestParallelForCoversOnce(t *testing.T) {
	for _, workers := range []int{1, 2, 4} {
		ex := pool(t, cf.WithMaxWorkers(workers))
		for _, grain := range []int{0, 1, 7, 5000} {
			const lo, hi = 100, 50100
			hits := make([]atomic.Int32, hi-lo)
			var short atomic.Int32
			err := cf.ParallelFor(ex, lo, hi, grain, func(b, e int) error {
				if grain > 0 && e != hi && e-b < grain {
					short.Add(1)
				}
				for i := b; i < e; i++ {
					hits[i-lo].Add(1)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if short.Load() != 0 {
				t.Errorf("grain %d: %d ranges below it", grain, short.Load())
			}
			for i := range hits {
				if hits[i].Load() != 1 {
					t.Fatalf("workers %d grain %d: index %d ran %d times", workers, grain, lo+i, hits[i].Load())
				}
			}
		}
	}
}

func TestParallelForEdgesAndBadInput(t *testing.T) {
	ex := pool(t, cf.WithMaxWorkers(2))
	calls := 0
	body := func(b, e int) error { calls++; return nil }
	if err := cf.ParallelFor(ex, 5, 5, 0, body); err != nil || calls != 0 {
		t.Fatalf("empty: %v, %d calls", err, calls)
	}
	var one [2]int
	if err := cf.ParallelFor(ex, 41, 42, 0, func(b, e int) error { one = [2]int{b, e}; return nil }); err != nil || one != [2]int{41, 42} {
		t.Fatalf("one item: %v %v", err, one)
	}
	for _, c := range [][3]int{{5, 4, 0}, {-1, 3, 0}, {0, 3, -1}} {
		if err := cf.ParallelFor(ex, c[0], c[1], c[2], body); !errors.Is(err, cf.ErrInvalidArgument) {
			t.Errorf("%v: %v", c, err)
		}
	}
	if err := cf.ParallelFor(ex, 0, 3, 0, nil); !errors.Is(err, cf.ErrInvalidArgument) {
		t.Errorf("nil fn: %v", err)
	}
	if err := cf.ParallelForC(ex, 0, 3, 0, nil, nil); !errors.Is(err, cf.ErrInvalidArgument) {
		t.Errorf("nil C fn: %v", err)
	}
	ex.Shutdown(true, false)
	if err := cf.ParallelFor(ex, 0, 10, 0, body); !errors.Is(err, cf.ErrShutdown) {
		t.Errorf("after shutdown: %v", err)
	}
	if calls != 0 {
		t.Errorf("%d calls", calls)
	}
}

func TestParallelForErrorsAndPanics(t *testing.T) {
	ex := pool(t, cf.WithMaxWorkers(2))
	err := cf.ParallelFor(ex, 0, 100000, 1, func(b, e int) error {
		if b <= 777 && 777 < e {
			return errMine
		}
		return nil
	})
	if err != errMine {
		t.Fatalf("want errMine, got %v", err)
	}
	err = cf.ParallelFor(ex, 0, 1000, 0, func(b, e int) error { panic("range boom") })
	var pe *cf.PanicError
	if !errors.As(err, &pe) || pe.Value != "range boom" {
		t.Fatalf("want a PanicError, got %v", err)
	}
	var sum atomic.Int64
	if err := cf.ParallelFor(ex, 0, 1000, 0, func(b, e int) error {
		for i := b; i < e; i++ {
			sum.Add(int64(i))
		}
		return nil
	}); err != nil || sum.Load() != 999*1000/2 {
		t.Fatalf("after failures: %v, sum %d", err, sum.Load())
	}
}

func TestParallelForNested(t *testing.T) {
	for _, workers := range []int{1, 3} {
		ex := pool(t, cf.WithMaxWorkers(workers))
		const n = 32
		hits := make([]atomic.Int32, n*n)
		grid := func() error {
			return cf.ParallelFor(ex, 0, n, 1, func(b, e int) error {
				for i := b; i < e; i++ {
					if err := cf.ParallelFor(ex, 0, n, 0, func(c, d int) error {
						for j := c; j < d; j++ {
							hits[i*n+j].Add(1)
						}
						return nil
					}); err != nil {
						return err
					}
				}
				return nil
			})
		}
		if err := grid(); err != nil {
			t.Fatal(err)
		}
		if _, err := cf.Submit(ex, func() (int, error) { return 0, grid() }).Result(context.Background()); err != nil {
			t.Fatal(err)
		}
		for i := range hits {
			if hits[i].Load() != 2 {
				t.Fatalf("workers %d: cell %d ran %d times", workers, i, hits[i].Load())
			}
		}
	}
}

func TestParallelForManyGoroutines(t *testing.T) {
	ex := pool(t, cf.WithMaxWorkers(3))
	var wg sync.WaitGroup
	var bad atomic.Int32
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for round := 0; round < 10; round++ {
				n := 5000 + round*31
				hit := make([]int32, n)
				if err := cf.ParallelFor(ex, 0, n, round%3, func(b, e int) error {
					for i := b; i < e; i++ {
						atomic.AddInt32(&hit[i], 1)
					}
					return nil
				}); err != nil {
					bad.Add(1)
				}
				for i := range hit {
					if hit[i] != 1 {
						bad.Add(1)
					}
				}
			}
		}()
	}
	wg.Wait()
	if bad.Load() != 0 {
		t.Fatalf("%d bad", bad.Load())
	}
}

func TestParallelForC(t *testing.T) {
	ex := pool(t, cf.WithMaxWorkers(2))
	a := make([]int64, 100003)
	for i := range a {
		a[i] = int64(i)
	}
	var pin runtime.Pinner
	pin.Pin(&a[0])
	defer pin.Unpin()
	if err := cf.ParallelForC(ex, 0, len(a), 0, ctasks.SquareRange, unsafe.Pointer(&a[0])); err != nil {
		t.Fatal(err)
	}
	for i, v := range a {
		if v != int64(i)*int64(i) {
			t.Fatalf("a[%d] = %d", i, v)
		}
	}
	err := cf.ParallelForC(ex, 0, 100000, 1, ctasks.FailRange, nil)
	var te *cf.TaskError
	if !errors.As(err, &te) || te.Code != 9 || !errors.Is(err, cf.ErrTaskFailed) {
		t.Fatalf("want TaskError code 9, got %v", err)
	}
}
