package cfutures_test

import (
	"context"
	"os"
	"runtime"
	"runtime/cgo"
	"strconv"
	"sync"
	"testing"
	"unsafe"

	cf "github.com/cfutures/cfutures/bindings/go"
	"github.com/cfutures/cfutures/bindings/go/internal/ctasks"
)

// Per-task overhead of an empty task, in windows of 1024 submitted then awaited. Every
// variant uses the same number of workers.
const window = 1024

// workers is the pool size of every variant: CFUT_BENCH_WORKERS, else the number of CPUs
// (the library's default, min(32, CPUs + 4), only adds idle spinning threads here).
var workers = func() int {
	if n, err := strconv.Atoi(os.Getenv("CFUT_BENCH_WORKERS")); err == nil && n > 0 {
		return n
	}
	return runtime.GOMAXPROCS(0)
}()

func benchPool(b *testing.B, opts ...cf.ThreadPoolOption) *cf.Executor {
	ex, err := cf.NewThreadPool(append([]cf.ThreadPoolOption{cf.WithMaxWorkers(workers)}, opts...)...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ex.Close() })
	// Warm the workers (the first callback on each thread is costlier).
	for range workers * 4 {
		cf.Submit(ex, func() (int, error) { return 0, nil }).Err()
	}
	return ex
}

func batched[F interface {
	Done() <-chan struct{}
	Close()
}](b *testing.B, submit func() F) {
	fs := make([]F, 0, window)
	b.ResetTimer()
	for i := 0; i < b.N; {
		fs = fs[:0]
		for ; i < b.N && len(fs) < window; i++ {
			fs = append(fs, submit())
		}
		for _, f := range fs {
			<-f.Done()
			f.Close()
		}
	}
}

func BenchmarkGoClosure(b *testing.B) {
	ex := benchPool(b)
	batched(b, func() *cf.Future[int] { return cf.Submit(ex, func() (int, error) { return 1, nil }) })
}

// The same on the opt-in direct path (no goroutine of its own per task; see WithDirectGoTasks).
func BenchmarkGoClosureDirect(b *testing.B) {
	ex := benchPool(b, cf.WithDirectGoTasks())
	batched(b, func() *cf.Future[int] { return cf.Submit(ex, func() (int, error) { return 1, nil }) })
}

func BenchmarkGoClosureRoundTripDirect(b *testing.B) {
	ex := benchPool(b, cf.WithDirectGoTasks())
	ctx := context.Background()
	for b.Loop() {
		f := cf.Submit(ex, func() (int, error) { return 1, nil })
		f.Result(ctx)
		f.Close()
	}
}

func BenchmarkGoClosureParallel(b *testing.B) {
	ex := benchPool(b)
	b.RunParallel(func(pb *testing.PB) {
		fs := make([]*cf.Future[int], 0, 64)
		for pb.Next() {
			fs = append(fs, cf.Submit(ex, func() (int, error) { return 1, nil }))
			if len(fs) == cap(fs) {
				for _, f := range fs {
					f.Err()
					f.Close()
				}
				fs = fs[:0]
			}
		}
		for _, f := range fs {
			f.Err()
		}
	})
}

func BenchmarkGoClosureRoundTrip(b *testing.B) {
	ex := benchPool(b)
	ctx := context.Background()
	for b.Loop() {
		f := cf.Submit(ex, func() (int, error) { return 1, nil })
		f.Result(ctx)
		f.Close()
	}
}

func BenchmarkCTask(b *testing.B) {
	ex := benchPool(b)
	batched(b, func() *cf.Future[unsafe.Pointer] { return cf.SubmitC(ex, ctasks.Noop, nil, nil) })
}

func BenchmarkBytesTask(b *testing.B) {
	ex := benchPool(b)
	in := []byte("0123456789abcdef")
	batched(b, func() *cf.Future[[]byte] { return cf.SubmitBytes(ex, ctasks.Upper, in) })
}

// The library alone: submit and wait from C, no Go crossing.
func BenchmarkCTaskFromC(b *testing.B) {
	ex := benchPool(b)
	b.ResetTimer()
	if !ctasks.CBatch(ex.Raw(), b.N) {
		b.Fatal("CBatch failed")
	}
	runtime.KeepAlive(ex)
}

func BenchmarkCTaskRoundTripFromC(b *testing.B) {
	ex := benchPool(b)
	b.ResetTimer()
	if !ctasks.CRoundTrips(ex.Raw(), b.N) {
		b.Fatal("CRoundTrips failed")
	}
	runtime.KeepAlive(ex)
}

func BenchmarkCTaskRoundTrip(b *testing.B) {
	ex := benchPool(b)
	ctx := context.Background()
	for b.Loop() {
		f := cf.SubmitC(ex, ctasks.Noop, nil, nil)
		f.Result(ctx)
		f.Close()
	}
}

func BenchmarkGoroutinePerTask(b *testing.B) {
	var wg sync.WaitGroup
	for i := 0; i < b.N; {
		for j := 0; i < b.N && j < window; i, j = i+1, j+1 {
			wg.Add(1)
			go func() { defer wg.Done(); _ = 1 }()
		}
		wg.Wait()
	}
}

func BenchmarkChannelWorkerPool(b *testing.B) {
	tasks := make(chan func(), window)
	var wg sync.WaitGroup
	for range workers {
		go func() {
			for t := range tasks {
				t()
			}
		}()
	}
	defer close(tasks)
	b.ResetTimer()
	for i := 0; i < b.N; {
		for j := 0; i < b.N && j < window; i, j = i+1, j+1 {
			wg.Add(1)
			tasks <- func() { wg.Done() }
		}
		wg.Wait()
	}
}

// Channel pool with a result channel per task (what a Future costs in pure Go).
func BenchmarkChannelWorkerPoolFutures(b *testing.B) {
	type fut struct {
		v    int
		done chan struct{}
	}
	tasks := make(chan *fut, window)
	for range workers {
		go func() {
			for t := range tasks {
				t.v = 1
				close(t.done)
			}
		}()
	}
	defer close(tasks)
	fs := make([]*fut, 0, window)
	b.ResetTimer()
	for i := 0; i < b.N; {
		fs = fs[:0]
		for ; i < b.N && len(fs) < window; i++ {
			f := &fut{done: make(chan struct{})}
			tasks <- f
			fs = append(fs, f)
		}
		for _, f := range fs {
			<-f.done
		}
	}
}

func BenchmarkCgoCall(b *testing.B) {
	for b.Loop() {
		ctasks.CgoNoop()
	}
}

func BenchmarkHandleNewDelete(b *testing.B) {
	v := new(int)
	for b.Loop() {
		cgo.NewHandle(v).Delete()
	}
}

// C -> Go from a C-created thread (what each library worker pays per Go task and per
// done-callback), and from C called by Go.
func BenchmarkCallbackFromCThread(b *testing.B)  { ctasks.CrossingsForeign(b.N) }
func BenchmarkCallbackFromGoThread(b *testing.B) { ctasks.CrossingsLocal(b.N) }

// A bytes task on a process pool with as many worker processes as CPUs: the IPC round trip.
func BenchmarkProcessPoolBytes(b *testing.B) {
	ex, err := cf.NewProcessPool(cf.WithProcesses(workers))
	if err != nil {
		b.Fatal(err)
	}
	defer ex.Close()
	in := []byte("0123456789abcdef")
	for range workers * 4 {
		cf.SubmitBytes(ex, ctasks.Upper, in).Err()
	}
	batched(b, func() *cf.Future[[]byte] { return cf.SubmitBytes(ex, ctasks.Upper, in) })
}

// Per-item cost of a chunked map of b.N trivial items: C function (MapC), Go function (Map).
func BenchmarkMapCPerItem(b *testing.B) {
	ex := benchPool(b)
	items := make([]byte, 8*b.N)
	results := make([]byte, 8*b.N)
	b.ResetTimer()
	if err := cf.MapC(ex, ctasks.MapSquare, nil, items, 8, results, 8); err != nil {
		b.Fatal(err)
	}
}

func BenchmarkMapGoPerItem(b *testing.B) {
	ex := benchPool(b)
	items := make([]int64, b.N)
	b.ResetTimer()
	for _, err := range cf.Map(ex, func(x int64) (int64, error) { return x * x, nil }, items) {
		if err != nil {
			b.Fatal(err)
		}
	}
}
