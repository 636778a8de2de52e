package cfutures_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	cf "github.com/cfutures/cfutures/bindings/go"
	"github.com/cfutures/cfutures/bindings/go/internal/ctasks"
)

func pool(t testing.TB, opts ...cf.ThreadPoolOption) *cf.Executor {
	t.Helper()
	ex, err := cf.NewThreadPool(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ex.Close() })
	return ex
}

var errMine = errors.New("mine")

type myErr struct{ n int }

func (e *myErr) Error() string { return fmt.Sprint("myErr ", e.n) }

func TestValueAndErrorRoundTrip(t *testing.T) {
	ex := pool(t, cf.WithMaxWorkers(4))
	f := cf.Submit(ex, func() (int, error) { return 6 * 7, nil })
	v, err := f.Result(context.Background())
	if v != 42 || err != nil {
		t.Fatalf("got %v, %v", v, err)
	}
	type big struct {
		S string
		M map[string][]int
	}
	g := cf.Submit(ex, func() (*big, error) { return &big{"s", map[string][]int{"a": {1, 2}}}, nil })
	b, err := g.ResultTimeout(5 * time.Second)
	if err != nil || b.S != "s" || b.M["a"][1] != 2 {
		t.Fatalf("got %+v, %v", b, err)
	}
	h := cf.Submit(ex, func() (string, error) { return "partial", errMine })
	s, err := h.Result(context.Background())
	if err != errMine || s != "partial" { // the task's own error, as itself
		t.Fatalf("got %q, %v", s, err)
	}
	me := &myErr{3}
	k := cf.Submit(ex, func() (int, error) { return 0, me })
	var got *myErr
	if err := k.Err(); !errors.As(err, &got) || got != me {
		t.Fatalf("got %v", err)
	}
	if k.Cancelled() || k.Running() {
		t.Fatal("state")
	}
	for _, fu := range []interface{ Close() }{f, g, h, k} {
		fu.Close()
		fu.Close() // idempotent
	}
	if v, err := f.Result(context.Background()); v != 42 || err != nil {
		t.Fatal("outcome must survive Close")
	}
}

func TestPanicBecomesError(t *testing.T) {
	ex := pool(t, cf.WithMaxWorkers(2))
	f := cf.Submit(ex, func() (int, error) { panic("kaboom") })
	_, err := f.Result(context.Background())
	var pe *cf.PanicError
	if !errors.As(err, &pe) || pe.Value != "kaboom" || len(pe.Stack) == 0 {
		t.Fatalf("got %v", err)
	}
	g := cf.Submit(ex, func() (int, error) { panic(errMine) })
	if err := g.Err(); !errors.Is(err, errMine) {
		t.Fatalf("panic(err) should unwrap to err: %v", err)
	}
	var nilMap map[string]int
	h := cf.Submit(ex, func() (int, error) { nilMap["x"] = 1; return 0, nil })
	if !errors.As(h.Err(), &pe) {
		t.Fatal("runtime panic not recovered")
	}
	// The pool still works.
	if v, _ := cf.Submit(ex, func() (int, error) { return 1, nil }).Result(context.Background()); v != 1 {
		t.Fatal("pool broken after panic")
	}
}

func TestTimeoutsWithContexts(t *testing.T) {
	ex := pool(t, cf.WithMaxWorkers(1))
	release := make(chan struct{})
	f := cf.Submit(ex, func() (int, error) { <-release; return 1, nil })
	defer close(release)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := f.Result(ctx)
	if !errors.Is(err, cf.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v", err)
	}
	if d := time.Since(start); d < 15*time.Millisecond || d > 2*time.Second {
		t.Fatalf("waited %v", d)
	}
	ctx2, cancel2 := context.WithCancel(context.Background())
	cancel2()
	if _, err := f.Result(ctx2); !errors.Is(err, context.Canceled) || errors.Is(err, cf.ErrTimeout) {
		t.Fatalf("cancelled context: %v", err)
	}
	if _, err := f.ResultTimeout(0); err != cf.ErrTimeout {
		t.Fatalf("poll: %v", err)
	}
	if _, err := f.ResultTimeout(10 * time.Millisecond); err != cf.ErrTimeout {
		t.Fatalf("timeout: %v", err)
	}
	select {
	case <-f.Done():
		t.Fatal("done too early")
	default:
	}
}

func TestCancel(t *testing.T) {
	ex := pool(t, cf.WithMaxWorkers(1))
	release := make(chan struct{})
	started := make(chan struct{})
	running := cf.Submit(ex, func() (int, error) { close(started); <-release; return 1, nil })
	var ran atomic.Bool
	queued := cf.Submit(ex, func() (int, error) { ran.Store(true); return 2, nil })
	<-started
	if !running.Running() {
		t.Fatal("should be running")
	}
	if running.Cancel() {
		t.Fatal("a running future cannot be cancelled")
	}
	cbRan := make(chan bool, 1)
	queued.AddDoneCallback(func(f *cf.Future[int]) { cbRan <- f.Cancelled() })
	if !queued.Cancel() || !queued.Cancel() {
		t.Fatal("cancel of a pending future")
	}
	select {
	case <-queued.Done(): // closed when Cancel returns true
	default:
		t.Fatal("Done must be closed once Cancel returns true")
	}
	if !<-cbRan {
		t.Fatal("callback must see the cancellation")
	}
	if !queued.Cancelled() {
		t.Fatal("Cancelled")
	}
	if _, err := queued.Result(context.Background()); err != cf.ErrCancelled {
		t.Fatalf("got %v", err)
	}
	close(release)
	if v, err := running.Result(context.Background()); v != 1 || err != nil {
		t.Fatal(v, err)
	}
	ex.Close()
	if ran.Load() {
		t.Fatal("cancelled task ran")
	}
}

func TestCallbacks(t *testing.T) {
	ex := pool(t, cf.WithMaxWorkers(2))
	release := make(chan struct{})
	f := cf.Submit(ex, func() (int, error) { <-release; return 5, nil })
	var mu sync.Mutex
	var order []int
	for i := range 3 {
		f.AddDoneCallback(func(g *cf.Future[int]) {
			if g != f {
				t.Error("wrong future")
			}
			v, _ := g.ResultTimeout(0)
			mu.Lock()
			order = append(order, i*10+v)
			mu.Unlock()
			if i == 1 {
				panic("a panicking callback does not stop the others")
			}
		})
	}
	close(release)
	<-f.Done()
	ranNow := false
	f.AddDoneCallback(func(*cf.Future[int]) { ranNow = true }) // already done: runs now
	if !ranNow {
		t.Fatal("a callback added after completion runs at once")
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		mu.Lock()
		n := len(order)
		mu.Unlock()
		if n == 3 || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(order) != "[5 15 25]" {
		t.Fatalf("order %v", order)
	}
}

func TestSubmitC(t *testing.T) {
	ex := pool(t, cf.WithMaxWorkers(4))
	f := cf.SubmitC(ex, ctasks.Square, ctasks.Int(12), nil)
	v, err := f.Result(context.Background())
	if err != nil || ctasks.Value(v) != 144 {
		t.Fatal(v, err)
	}
	f.Close()
	g := cf.SubmitC(ex, ctasks.Fail, ctasks.Int(42), nil)
	err = g.Err()
	var te *cf.TaskError
	if !errors.Is(err, cf.ErrTaskFailed) || !errors.As(err, &te) || te.Code != 42 || te.Message != "ct_fail says no" {
		t.Fatalf("got %#v", err)
	}
	before := ctasks.Drops()
	var fs []*cf.Future[unsafe.Pointer]
	for range 100 {
		fs = append(fs, cf.SubmitC(ex, ctasks.Noop, ctasks.Int(1), ctasks.CountDrop))
	}
	for _, f := range fs {
		if err := f.Err(); err != nil {
			t.Fatal(err)
		}
	}
	ex.Close()
	if d := ctasks.Drops() - before; d != 100 {
		t.Fatalf("arg_drop ran %d times", d)
	}
	// After Close: refused, and arg_drop still runs exactly once.
	h := cf.SubmitC(ex, ctasks.Noop, nil, ctasks.CountDrop)
	if h.Err() != cf.ErrShutdown || ctasks.Drops()-before != 101 {
		t.Fatal("submit after close")
	}
}

// Each C future is freed exactly once: SubmitC futures at Close (their value is borrowed
// until then), the others as soon as they are done.
func TestReferences(t *testing.T) {
	ex := pool(t, cf.WithMaxWorkers(3))
	before := ctasks.Drops()
	var fs []*cf.Future[unsafe.Pointer]
	for range 200 {
		fs = append(fs, cf.SubmitC(ex, ctasks.CountedValue, nil, nil))
	}
	for _, f := range fs {
		if v, err := f.Result(context.Background()); err != nil || v == nil || f.Raw() == nil {
			t.Fatal(v, err)
		}
	}
	if d := ctasks.Drops() - before; d != 0 {
		t.Fatalf("%d values freed before Close", d)
	}
	var wg sync.WaitGroup
	for _, f := range fs {
		wg.Add(1)
		go func() { defer wg.Done(); f.Close(); f.Close() }()
	}
	wg.Wait()
	// The worker that completed a future may still hold its reference for a moment: the
	// last of Close and that release frees the value.
	deadline := time.Now().Add(10 * time.Second)
	for ctasks.Drops()-before < 200 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if d := ctasks.Drops() - before; d != 200 {
		t.Fatalf("%d values freed after Close, want 200", d)
	}
	g := cf.Submit(ex, func() (int, error) { return 1, nil })
	if g.Err() != nil || g.Raw() != nil {
		t.Fatal("a done Go future has let its C future go")
	}
	b := cf.SubmitBytes(ex, ctasks.Upper, []byte("x"))
	if b.Err() != nil || b.Raw() != nil {
		t.Fatal("a done bytes future has let its C future go")
	}
}

func TestSubmitBytes(t *testing.T) {
	ex := pool(t)
	f := cf.SubmitBytes(ex, ctasks.Upper, []byte("hello, cfutures"))
	b, err := f.Result(context.Background())
	if err != nil || !bytes.Equal(b, []byte("HELLO, CFUTURES")) {
		t.Fatalf("%q %v", b, err)
	}
	f.Close()
	if b2, _ := f.ResultTimeout(0); !bytes.Equal(b2, b) {
		t.Fatal("bytes are Go memory, valid after Close")
	}
	if b, err := cf.SubmitBytes(ex, ctasks.Upper, nil).Result(context.Background()); err != nil || len(b) != 0 {
		t.Fatal(b, err)
	}
}

func TestShutdownAndInitializer(t *testing.T) {
	ex := pool(t, cf.WithMaxWorkers(1))
	release := make(chan struct{})
	started := make(chan struct{})
	a := cf.Submit(ex, func() (int, error) { close(started); <-release; return 1, nil })
	b := cf.Submit(ex, func() (int, error) { return 2, nil })
	<-started
	if err := ex.Shutdown(false, true); err != nil {
		t.Fatal(err)
	}
	if err := cf.Submit(ex, func() (int, error) { return 3, nil }).Err(); err != cf.ErrShutdown {
		t.Fatalf("after shutdown: %v", err)
	}
	if !b.Cancelled() {
		t.Fatal("cancel_futures")
	}
	close(release)
	if v, _ := a.Result(context.Background()); v != 1 {
		t.Fatal("running task must finish")
	}
	if err := ex.Shutdown(true, false); err != nil { // idempotent
		t.Fatal(err)
	}
	ex.Close()
	ex.Close()
	if ex.MaxWorkers() != 0 || ex.Shutdown(true, true) != nil {
		t.Fatal("closed executor")
	}

	var inits atomic.Int32
	ok := pool(t, cf.WithMaxWorkers(3), cf.WithThreadNamePrefix("gotest"),
		cf.WithInitializer(func() error { inits.Add(1); return nil }))
	if ok.MaxWorkers() != 3 {
		t.Fatal("max workers")
	}
	var fs []*cf.Future[int]
	for i := range 20 {
		fs = append(fs, cf.Submit(ok, func() (int, error) { time.Sleep(time.Millisecond); return i, nil }))
	}
	for i, f := range fs {
		if v, err := f.Result(context.Background()); v != i || err != nil {
			t.Fatal(v, err)
		}
	}
	if n := inits.Load(); n < 1 || n > 3 {
		t.Fatalf("initializer ran %d times", n)
	}

	bad := pool(t, cf.WithMaxWorkers(2), cf.WithInitializer(func() error { return errMine }))
	f := cf.Submit(bad, func() (int, error) { return 1, nil })
	if err := f.Err(); !errors.Is(err, cf.ErrBroken) {
		t.Fatalf("broken pool: %v", err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for !errors.Is(cf.Submit(bad, func() (int, error) { return 1, nil }).Err(), cf.ErrBroken) {
		if time.Now().After(deadline) {
			t.Fatal("later submits should fail with ErrBroken")
		}
	}
	panicky := pool(t, cf.WithInitializer(func() error { panic("init") }))
	if err := cf.Submit(panicky, func() (int, error) { return 1, nil }).Err(); !errors.Is(err, cf.ErrBroken) {
		t.Fatalf("panicking initializer: %v", err)
	}

	if _, err := cf.NewThreadPool(cf.WithMaxWorkers(-1)); !errors.Is(err, cf.ErrInvalidArgument) {
		t.Fatal(err)
	}
}

func TestShutdownFromTask(t *testing.T) {
	ex := pool(t, cf.WithMaxWorkers(2))
	f := cf.Submit(ex, func() (error, error) { return ex.Shutdown(true, false), nil })
	if e, _ := f.Result(context.Background()); e != cf.ErrWouldDeadlock {
		t.Fatalf("got %v", e)
	}
	g := cf.Submit(ex, func() (int, error) { return 1, nil })
	if g.Err() != cf.ErrShutdown {
		t.Fatal(g.Err())
	}
}

func TestNestedSubmitDuringClose(t *testing.T) {
	ex := pool(t, cf.WithMaxWorkers(2))
	started := make(chan struct{})
	outer := cf.Submit(ex, func() (error, error) {
		close(started)
		time.Sleep(30 * time.Millisecond) // Close is waiting for us now
		return cf.Submit(ex, func() (int, error) { return 1, nil }).Err(), nil
	})
	<-started
	ex.Close()
	if e, _ := outer.Result(context.Background()); e != cf.ErrShutdown {
		t.Fatalf("nested submit during Close: %v", e)
	}
}

func TestMap(t *testing.T) {
	ex := pool(t, cf.WithMaxWorkers(4))
	items := make([]int, 1000)
	for i := range items {
		items[i] = i
	}
	for _, opts := range [][]cf.MapOption{nil, {cf.WithChunkSize(1)}, {cf.WithChunkSize(7), cf.WithMaxInFlight(2)}} {
		i := 0
		for v, err := range cf.Map(ex, func(x int) (int, error) { return x * x, nil }, items, opts...) {
			if err != nil || v != i*i {
				t.Fatalf("item %d: %v %v", i, v, err)
			}
			i++
		}
		if i != len(items) {
			t.Fatalf("got %d items", i)
		}
	}
	// Item errors and panics stay with their item; iteration goes on.
	var got []string
	for v, err := range cf.Map(ex, func(x int) (string, error) {
		switch x {
		case 2:
			return "", errMine
		case 3:
			panic("three")
		}
		return fmt.Sprint(x), nil
	}, []int{0, 1, 2, 3, 4}, cf.WithChunkSize(2)) {
		var pe *cf.PanicError
		switch {
		case err == errMine:
			got = append(got, "E")
		case errors.As(err, &pe):
			got = append(got, "P")
		case err != nil:
			t.Fatal(err)
		default:
			got = append(got, v)
		}
	}
	if fmt.Sprint(got) != "[0 1 E P 4]" {
		t.Fatal(got)
	}
	// Empty input.
	for range cf.Map(ex, func(x int) (int, error) { return x, nil }, nil) {
		t.Fatal("empty map yielded")
	}
}

func TestMapTimeout(t *testing.T) {
	ex := pool(t, cf.WithMaxWorkers(2))
	var ran atomic.Int32
	start := time.Now()
	var results []int
	var last error
	for v, err := range cf.Map(ex, func(ms int) (int, error) {
		ran.Add(1)
		time.Sleep(time.Duration(ms) * time.Millisecond)
		return ms, nil
	}, []int{1, 1, 500, 500, 500, 500, 500, 500}, cf.WithChunkSize(1), cf.WithTimeout(50*time.Millisecond)) {
		if err != nil {
			last = err
			break
		}
		results = append(results, v)
	}
	if !errors.Is(last, cf.ErrTimeout) || fmt.Sprint(results) != "[1 1]" {
		t.Fatalf("results %v, err %v", results, last)
	}
	if d := time.Since(start); d > 400*time.Millisecond { // well before the 500 ms items end
		t.Fatalf("timeout took %v", d)
	}
	ex.Close()
	if n := ran.Load(); n > 4 {
		t.Fatalf("%d items ran: the rest should have been cancelled", n)
	}
}

func TestMapBreakCancelsRest(t *testing.T) {
	ex := pool(t, cf.WithMaxWorkers(1))
	var ran atomic.Int32
	for range cf.Map(ex, func(x int) (int, error) { ran.Add(1); time.Sleep(5 * time.Millisecond); return x, nil },
		make([]int, 100), cf.WithChunkSize(1)) {
		break
	}
	ex.Close()
	if n := ran.Load(); n > 10 {
		t.Fatalf("%d ran after break", n)
	}
}

func sleeper(ex *cf.Executor, d time.Duration, v int, err error) *cf.Future[int] {
	return cf.Submit(ex, func() (int, error) { time.Sleep(d); return v, err })
}

func TestWait(t *testing.T) {
	ex := pool(t, cf.WithMaxWorkers(8))
	fast := sleeper(ex, 0, 1, nil)
	slow := sleeper(ex, 300*time.Millisecond, 2, nil)
	failing := sleeper(ex, 20*time.Millisecond, 3, errMine)
	<-fast.Done()

	done, notDone, err := cf.Wait([]*cf.Future[int]{fast, slow, fast}, cf.FirstCompleted, cf.Forever)
	if err != nil || len(done) != 1 || done[0] != fast || len(notDone) != 1 {
		t.Fatal(done, notDone, err)
	}
	done, notDone, err = cf.Wait([]*cf.Future[int]{slow, failing}, cf.FirstException, 2*time.Second)
	if err != nil || len(done) != 1 || done[0] != failing || notDone[0] != slow {
		t.Fatal(done, notDone, err)
	}
	_, notDone, err = cf.Wait([]*cf.Future[int]{fast, slow}, cf.AllCompleted, 10*time.Millisecond)
	if err != cf.ErrTimeout || len(notDone) != 1 {
		t.Fatal(notDone, err)
	}
	_, _, err = cf.Wait([]*cf.Future[int]{slow}, cf.FirstCompleted, 0)
	if err != cf.ErrTimeout {
		t.Fatal("poll", err)
	}
	done, _, err = cf.Wait([]*cf.Future[int]{fast, slow, failing}, cf.AllCompleted, cf.Forever)
	if err != nil || len(done) != 3 {
		t.Fatal(done, err)
	}
	// Mixed types through Awaitable; a cancelled future counts as completed.
	blocker := make(chan struct{})
	b := cf.Submit(ex, func() (string, error) { <-blocker; return "", nil })
	one := pool(t, cf.WithMaxWorkers(1))
	cf.Submit(one, func() (int, error) { <-blocker; return 0, nil })
	c := cf.Submit(one, func() (string, error) { return "x", nil })
	go func() { time.Sleep(10 * time.Millisecond); c.Cancel() }()
	mixed, _, err := cf.Wait([]cf.Awaitable{b, c}, cf.FirstCompleted, 2*time.Second)
	if err != nil || len(mixed) != 1 || mixed[0] != cf.Awaitable(c) {
		t.Fatal(mixed, err)
	}
	close(blocker)
	if _, _, err := cf.Wait([]*cf.Future[int]{}, cf.AllCompleted, cf.Forever); err != nil {
		t.Fatal("empty", err)
	}
	if _, _, err := cf.Wait([]*cf.Future[int]{}, 7, cf.Forever); !errors.Is(err, cf.ErrInvalidArgument) {
		t.Fatal("mode", err)
	}
}

func TestAsCompleted(t *testing.T) {
	ex := pool(t, cf.WithMaxWorkers(8))
	pre := sleeper(ex, 0, 0, nil)
	<-pre.Done()
	fs := []*cf.Future[int]{
		sleeper(ex, 400*time.Millisecond, 400, nil),
		sleeper(ex, 20*time.Millisecond, 20, nil),
		sleeper(ex, 200*time.Millisecond, 200, nil),
	}
	var got []int
	for f, err := range cf.AsCompleted(context.Background(), append([]*cf.Future[int]{fs[0], pre}, append(fs, pre)...)...) {
		if err != nil {
			t.Fatal(err)
		}
		v, _ := f.ResultTimeout(0)
		got = append(got, v)
	}
	if fmt.Sprint(got) != "[0 20 200 400]" { // wide gaps: the machine may be busy
		t.Fatal(got)
	}
	// Timeout.
	slow := sleeper(ex, 300*time.Millisecond, 1, nil)
	quick := sleeper(ex, 0, 2, nil)
	<-quick.Done()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	var n int
	var last error
	for f, err := range cf.AsCompleted(ctx, slow, quick) {
		if err != nil {
			last = err
			if f != nil {
				t.Fatal("non-nil future with the error")
			}
			continue
		}
		n++
	}
	if n != 1 || !errors.Is(last, cf.ErrTimeout) {
		t.Fatal(n, last)
	}
	for range cf.AsCompleted[*cf.Future[int]](context.Background()) {
		t.Fatal("empty")
	}
}

func TestManyGoroutinesSubmitting(t *testing.T) {
	ex := pool(t, cf.WithMaxWorkers(4))
	const G, per = 2000, 5
	var wg sync.WaitGroup
	var sum atomic.Int64
	errs := make(chan error, G)
	for g := range G {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var fs []*cf.Future[int]
			for i := range per {
				fs = append(fs, cf.Submit(ex, func() (int, error) { return g*per + i, nil }))
			}
			if g%3 == 0 {
				fs = append(fs, cf.Submit(ex, func() (int, error) { return 0, errMine }))
			}
			for _, f := range fs {
				v, err := f.Result(context.Background())
				if err != nil && err != errMine {
					errs <- err
				}
				sum.Add(int64(v))
				if g%2 == 0 {
					f.Close()
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	n := int64(G * per)
	if sum.Load() != n*(n-1)/2 {
		t.Fatalf("sum %d", sum.Load())
	}
}

func TestConcurrentCancelAndClose(t *testing.T) {
	ex := pool(t, cf.WithMaxWorkers(2))
	var fs []*cf.Future[int]
	for i := range 2000 {
		fs = append(fs, cf.Submit(ex, func() (int, error) { return i, nil }))
	}
	var wg sync.WaitGroup
	var cancelled atomic.Int32
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := len(fs) - 1 - w; i >= 0; i -= 4 {
				if fs[i].Cancel() {
					cancelled.Add(1)
				}
				_ = fs[i].Running()
				fs[i].Close()
			}
		}()
	}
	go ex.Shutdown(false, true)
	wg.Wait()
	for i, f := range fs {
		v, err := f.Result(context.Background())
		if err == nil && v != i || err != nil && err != cf.ErrCancelled || (err != nil) != f.Cancelled() {
			t.Fatal(i, v, err)
		}
	}
	t.Logf("%d of %d cancelled", cancelled.Load(), len(fs))
}

// Forgotten futures and executors are released by their cleanups: run the GC until the
// library has freed their arguments (their arg_drop runs when the last reference goes).
func TestFinalizers(t *testing.T) {
	before := ctasks.Drops()
	func() {
		ex, err := cf.NewThreadPool(cf.WithMaxWorkers(2))
		if err != nil {
			t.Fatal(err)
		}
		for range 50 {
			cf.SubmitC(ex, ctasks.Noop, nil, ctasks.CountDrop)
			cf.SubmitC(ex, ctasks.CountedValue, nil, nil) // freed by the Future's cleanup
			cf.Submit(ex, func() (int, error) { return 1, nil })
		}
		// neither ex nor the futures are closed
	}()
	deadline := time.Now().Add(5 * time.Second)
	for ctasks.Drops()-before < 100 {
		if time.Now().After(deadline) {
			t.Fatalf("only %d drops", ctasks.Drops()-before)
		}
		runtime.GC()
		time.Sleep(5 * time.Millisecond)
	}
}

func TestStringAndStatus(t *testing.T) {
	if cf.StatusTimeout.Name() != "CFUT_TIMEOUT" || cf.ErrTimeout.Error() == "" {
		t.Fatal(cf.StatusTimeout.Name())
	}
	te := &cf.TaskError{Status: cf.StatusWorkerDied, Code: -9}
	if !errors.Is(te, cf.ErrWorkerDied) || errors.Is(te, cf.ErrTaskFailed) {
		t.Fatal(te)
	}
	ex := pool(t)
	f := sleeper(ex, 0, 3, nil)
	<-f.Done()
	if s := f.String(); s != "Future(finished, 3)" {
		t.Fatal(s)
	}
	keys := []string{}
	for _, s := range []cf.Status{cf.StatusOK, cf.StatusPanic, 99} {
		keys = append(keys, s.Name())
	}
	sort.Strings(keys)
	if keys[2] != "unknown status" {
		t.Fatal(keys)
	}
}

func TestWaitMany(t *testing.T) {
	ex := pool(t, cf.WithMaxWorkers(4))
	var fs []*cf.Future[int]
	for i := range 10000 {
		fs = append(fs, cf.Submit(ex, func() (int, error) {
			if i == 9000 {
				return 0, errMine
			}
			return i, nil
		}))
	}
	done, _, err := cf.Wait(fs, cf.FirstException, cf.Forever)
	if err != nil || len(done) == 0 {
		t.Fatal(err)
	}
	done, notDone, err := cf.Wait(fs, cf.AllCompleted, 10*time.Second)
	if err != nil || len(done) != len(fs) || len(notDone) != 0 {
		t.Fatal(len(done), len(notDone), err)
	}
	n := 0
	for f, err := range cf.AsCompleted(context.Background(), fs...) {
		if err != nil || f == nil {
			t.Fatal(err)
		}
		n++
	}
	if n != len(fs) {
		t.Fatal(n)
	}
}

// Submitting, cancelling, waiting and shutting down all at once, from many goroutines.
func TestStormWithShutdown(t *testing.T) {
	ex := pool(t, cf.WithMaxWorkers(4))
	const G = 1000
	var wg sync.WaitGroup
	var ok, cancelled, refused atomic.Int64
	start := make(chan struct{})
	for g := range G {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for i := range 10 {
				var f *cf.Future[int]
				if i%2 == 0 {
					f = cf.Submit(ex, func() (int, error) { return i, nil })
				} else {
					c := cf.SubmitC(ex, ctasks.Square, ctasks.Int(i), nil)
					defer c.Close()
					f = cf.Submit(ex, func() (int, error) {
						v, err := c.Result(context.Background())
						return ctasks.Value(v), err
					})
				}
				if g%7 == 0 {
					f.Cancel()
				}
				switch v, err := f.Result(context.Background()); {
				case err == nil && (v == i || v == i*i):
					ok.Add(1)
				case err == cf.ErrCancelled:
					cancelled.Add(1)
				case errors.Is(err, cf.ErrShutdown):
					refused.Add(1)
				default:
					t.Error(i, v, err)
				}
			}
		}()
	}
	close(start)
	time.Sleep(2 * time.Millisecond)
	ex.Shutdown(false, true)
	wg.Wait()
	if ok.Load()+cancelled.Load()+refused.Load() != G*10 {
		t.Fatal("a future was lost")
	}
	t.Logf("ok %d, cancelled %d, refused %d", ok.Load(), cancelled.Load(), refused.Load())
}
