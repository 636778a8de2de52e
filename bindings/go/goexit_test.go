package cfutures_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"

	cf "github.com/cfutures/cfutures/bindings/go"
)

// Goexit (what t.FailNow, t.Fatal and t.SkipNow call) in a task, an initializer, a map item
// or a callback fails that one thing, like a panic, and never kills the process.
func TestGoexitInTaskFailsFuture(t *testing.T) {
	ex := pool(t, cf.WithMaxWorkers(2))
	f := cf.Submit(ex, func() (int, error) {
		runtime.Goexit()
		return 1, nil
	})
	v, err := f.Result(context.Background())
	var ge *cf.GoexitError
	if v != 0 || !errors.Is(err, cf.ErrGoexit) || !errors.As(err, &ge) ||
		!strings.Contains(string(ge.Stack), "goexit_test.go") {
		t.Fatalf("got %v, %v", v, err)
	}
	// Deferred calls in the task still run, and the pool goes on working.
	deferred := false
	g := cf.Submit(ex, func() (int, error) {
		defer func() { deferred = true }()
		runtime.Goexit()
		return 0, nil
	})
	if !errors.Is(g.Err(), cf.ErrGoexit) || !deferred {
		t.Fatal(g.Err(), deferred)
	}
	if v, err := cf.Submit(ex, func() (int, error) { return 7, nil }).Result(context.Background()); v != 7 || err != nil {
		t.Fatal(v, err)
	}
}

func TestGoexitInMapItemFailsOnlyThatItem(t *testing.T) {
	ex := pool(t, cf.WithMaxWorkers(2))
	items := []int{1, 2, 3, 4, 5, 6, 7}
	var got []int
	var errs []error
	for v, err := range cf.Map(ex, func(x int) (int, error) {
		if x == 4 {
			runtime.Goexit()
		}
		return x * 10, nil
	}, items, cf.WithChunkSize(7)) {
		got, errs = append(got, v), append(errs, err)
	}
	if len(got) != len(items) {
		t.Fatal(got)
	}
	for i, x := range items {
		if x == 4 {
			if !errors.Is(errs[i], cf.ErrGoexit) {
				t.Fatal(i, errs[i])
			}
		} else if errs[i] != nil || got[i] != x*10 {
			t.Fatal(i, got[i], errs[i])
		}
	}
}

func TestGoexitInInitializerBreaksPool(t *testing.T) {
	ex := pool(t, cf.WithMaxWorkers(1), cf.WithInitializer(func() error {
		runtime.Goexit()
		return nil
	}))
	if err := cf.Submit(ex, func() (int, error) { return 1, nil }).Err(); !errors.Is(err, cf.ErrBroken) {
		t.Fatal(err)
	}
}

func TestGoexitInCallbackSkipsOnlyThatCallback(t *testing.T) {
	ex := pool(t, cf.WithMaxWorkers(1))
	release := make(chan struct{})
	f := cf.Submit(ex, func() (int, error) { <-release; return 1, nil })
	var mu sync.Mutex
	var ran []int
	done := make(chan struct{})
	f.AddDoneCallback(func(*cf.Future[int]) { mu.Lock(); ran = append(ran, 1); mu.Unlock() })
	f.AddDoneCallback(func(*cf.Future[int]) { runtime.Goexit() })
	f.AddDoneCallback(func(*cf.Future[int]) { mu.Lock(); ran = append(ran, 3); mu.Unlock(); close(done) })
	close(release)
	<-done
	mu.Lock()
	defer mu.Unlock()
	if len(ran) != 2 || ran[0] != 1 || ran[1] != 3 {
		t.Fatal(ran)
	}
}

// With WithDirectGoTasks a panic is still recovered (Goexit would end the process).
func TestDirectGoTasks(t *testing.T) {
	ex := pool(t, cf.WithMaxWorkers(2), cf.WithDirectGoTasks())
	var pe *cf.PanicError
	if err := cf.Submit(ex, func() (int, error) { panic("x") }).Err(); !errors.As(err, &pe) {
		t.Fatal(err)
	}
	var sum int
	for v, err := range cf.Map(ex, func(x int) (int, error) { return x, nil }, []int{1, 2, 3}) {
		if err != nil {
			t.Fatal(err)
		}
		sum += v
	}
	if sum != 6 {
		t.Fatal(sum)
	}
}

// A test that calls t.Fatal inside a task must fail as a test, not crash the binary: the
// helper below runs in a child test process and its report is checked here.
func TestFatalInTaskIsATestFailure(t *testing.T) {
	if os.Getenv("CFUT_GOEXIT_CHILD") != "" {
		t.Skip("the child runs only the helper")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperFatalInTask$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), "CFUT_GOEXIT_CHILD=1")
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("child: want exit status 1, got %v\n%s", err, out)
	}
	s := string(out)
	for _, want := range []string{"--- FAIL: TestHelperFatalInTask", "fatal from a task", "after the task: cfutures: task called runtime.Goexit"} {
		if !strings.Contains(s, want) {
			t.Fatalf("child output lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "Goexit called in a thread") || strings.Contains(s, "fatal error") {
		t.Fatalf("child crashed:\n%s", s)
	}
}

func TestHelperFatalInTask(t *testing.T) {
	if os.Getenv("CFUT_GOEXIT_CHILD") == "" {
		t.Skip("run by TestFatalInTaskIsATestFailure")
	}
	ex := pool(t, cf.WithMaxWorkers(1))
	err := cf.Submit(ex, func() (int, error) {
		t.Fatal("fatal from a task")
		return 0, nil
	}).Err()
	t.Log("after the task:", err) // the test goroutine goes on; the test is already failed
}

// Tasks run on goroutines of their own, yet a pool still recognises its own tasks:
// Shutdown(wait) from one returns ErrWouldDeadlock and Close from one does not wait,
// while waiting on another pool works.
func TestOwnTaskRecognisedOffTheWorkerThread(t *testing.T) {
	a := pool(t, cf.WithMaxWorkers(2))
	b := pool(t, cf.WithMaxWorkers(1))
	f := cf.Submit(a, func() (error, error) { return b.Shutdown(true, false), nil })
	if e, _ := f.Result(context.Background()); e != nil {
		t.Fatal("Shutdown(wait) of another pool from a task:", e)
	}
	g := cf.Submit(a, func() (error, error) { return a.Close(), nil })
	if e, _ := g.Result(context.Background()); e != nil {
		t.Fatal("Close from the pool's own task:", e)
	}
	if err := cf.Submit(a, func() (int, error) { return 1, nil }).Err(); !errors.Is(err, cf.ErrShutdown) {
		t.Fatal(err)
	}
}
