package cfutures_test

import (
	"context"
	"errors"
	"sync"
	"syscall"
	"testing"
	"time"

	cf "github.com/cfutures/cfutures/bindings/go"
	"github.com/cfutures/cfutures/bindings/go/internal/ctasks"
)

func newCQ(t *testing.T) *cf.CompletionQueue {
	t.Helper()
	q, err := cf.NewCompletionQueue()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(q.Close)
	return q
}

func fdReadable(t *testing.T, fd int) bool {
	t.Helper()
	var set syscall.FdSet
	set.Bits[fd/64] |= 1 << (uint(fd) % 64)
	n, err := syscall.Select(fd+1, &set, nil, nil, &syscall.Timeval{})
	if err != nil {
		t.Fatal(err)
	}
	return n == 1
}

// collect waits for n tags and fails on a duplicate or an unknown one.
func collect(t *testing.T, q *cf.CompletionQueue, n int) {
	t.Helper()
	seen := make([]int, n)
	var tags []uint64
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for got := 0; got < n; {
		if err := q.Wait(ctx); err != nil {
			t.Fatalf("after %d of %d tags: %v", got, n, err)
		}
		tags = q.Drain(tags[:0])
		if len(tags) == 0 {
			t.Fatal("Wait returned with nothing to drain")
		}
		for _, tag := range tags {
			if tag >= uint64(n) || seen[tag] > 0 {
				t.Fatalf("tag %d unknown or twice", tag)
			}
			seen[tag]++
		}
		got += len(tags)
	}
}

func TestCompletionQueueEveryKindOfFuture(t *testing.T) {
	ex := pool(t, cf.WithMaxWorkers(1))
	q := newCQ(t)
	if fdReadable(t, q.Fd()) {
		t.Fatal("a new queue is readable")
	}
	gate := make(chan struct{})
	blocker := cf.Submit(ex, func() (int, error) { <-gate; return 1, nil })
	queued := cf.Submit(ex, func() (int, error) { return 2, nil })
	failing := cf.SubmitC(ex, ctasks.Fail, ctasks.Int(3), nil)
	done := cf.Submit(ex, func() (int, error) { return 4, nil })
	q.Watch(blocker, 0)
	q.Watch(queued, 1)
	q.Watch(failing, 2)
	if !queued.Cancel() {
		t.Fatal("cancel of a queued task failed")
	}
	close(gate)
	if _, err := done.Result(context.Background()); err != nil {
		t.Fatal(err)
	}
	q.Watch(done, 3) // done, its C future already let go
	closed, _ := cf.NewThreadPool()
	closed.Close()
	refused := cf.Submit(closed, func() (int, error) { return 0, nil })
	q.Watch(refused, 4) // never reached the library
	failing.Close()
	collect(t, q, 5)
	if fdReadable(t, q.Fd()) {
		t.Fatal("readable after the drain took every tag")
	}
	// readable again on the next completion
	q.Watch(cf.Submit(ex, func() (int, error) { return 5, nil }), 9)
	if err := q.Wait(context.Background()); err != nil || !fdReadable(t, q.Fd()) {
		t.Fatalf("not readable after a completion: %v", err)
	}
	if tags := q.Drain(nil); len(tags) != 1 || tags[0] != 9 {
		t.Fatalf("tags %v", tags)
	}
}

func TestCompletionQueueProcessPoolWorkerDied(t *testing.T) {
	ex := processPool(t, cf.WithProcesses(2))
	q := newCQ(t)
	const n = 12
	for i := 0; i < n; i++ {
		task := ctasks.Upper
		if i%3 == 0 {
			task = ctasks.Die
		}
		q.Watch(cf.SubmitBytes(ex, task, []byte("x")), uint64(i))
	}
	collect(t, q, n)
}

func TestCompletionQueueEightWatchersOneDrainer(t *testing.T) {
	ex := pool(t, cf.WithMaxWorkers(4))
	q := newCQ(t)
	const per, threads = 500, 8
	var wg sync.WaitGroup
	for w := 0; w < threads; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < per; i++ {
				q.Watch(cf.SubmitC(ex, ctasks.Noop, nil, nil), uint64(w*per+i))
			}
		}()
	}
	collect(t, q, per*threads)
	wg.Wait()
}

func TestCompletionQueueWaitTimeoutAndClose(t *testing.T) {
	q := newCQ(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
	defer cancel()
	if err := q.Wait(ctx); !errors.Is(err, cf.ErrTimeout) {
		t.Fatalf("Wait: %v, want a timeout", err)
	}
	ctx2, cancel2 := context.WithCancel(context.Background())
	go func() { time.Sleep(5 * time.Millisecond); cancel2() }()
	if err := q.Wait(ctx2); !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait: %v, want context.Canceled", err)
	}
	ex := pool(t, cf.WithMaxWorkers(1))
	gate := make(chan struct{})
	q.Watch(cf.Submit(ex, func() (int, error) { <-gate; return 0, nil }), 1)
	errc := make(chan error)
	go func() { errc <- q.Wait(context.Background()) }()
	time.Sleep(time.Millisecond) // let Wait park (either order is correct)
	q.Close()                    // with a watch pending and a Wait in progress
	if err := <-errc; !errors.Is(err, cf.ErrShutdown) && err != nil {
		t.Fatalf("Wait during Close: %v", err)
	}
	close(gate)
	q.Close()
	if q.Fd() != -1 || q.Drain(nil) != nil {
		t.Fatal("a closed queue still answers")
	}
	q.Watch(cf.Submit(ex, func() (int, error) { return 0, nil }), 2) // does nothing
}
