package cfutures_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"os"
	"syscall"
	"testing"
	"time"

	cf "github.com/cfutures/cfutures/bindings/go"
	"github.com/cfutures/cfutures/bindings/go/internal/ctasks"
)

func processPool(t *testing.T, opts ...cf.ProcessPoolOption) *cf.Executor {
	t.Helper()
	ex, err := cf.NewProcessPool(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ex.Close() })
	return ex
}

func TestProcessPoolBytes(t *testing.T) {
	ex := processPool(t, cf.WithProcesses(2))
	b, err := cf.SubmitBytes(ex, ctasks.Upper, []byte("from another process")).Result(context.Background())
	if err != nil || !bytes.Equal(b, []byte("FROM ANOTHER PROCESS")) {
		t.Fatalf("%q %v", b, err)
	}
	p, err := cf.SubmitBytes(ex, ctasks.PID, nil).Result(context.Background())
	if err != nil || len(p) != 4 {
		t.Fatal(p, err)
	}
	pid := int(int32(binary.NativeEndian.Uint32(p)))
	if pid == os.Getpid() || pid <= 0 {
		t.Fatalf("task ran in pid %d (host %d)", pid, os.Getpid())
	}
	if pids := ex.WorkerPIDs(); len(pids) == 0 || ex.WorkersStarted() == 0 {
		t.Fatal("worker pids", pids)
	}
	// Go closures and pointer tasks cannot cross a process boundary.
	if err := cf.Submit(ex, func() (int, error) { return 1, nil }).Err(); !errors.Is(err, cf.ErrUnsupported) {
		t.Fatal(err)
	}
	if err := cf.SubmitC(ex, ctasks.Noop, nil, nil).Err(); !errors.Is(err, cf.ErrUnsupported) {
		t.Fatal(err)
	}
	// Many at once, in order.
	var fs []*cf.Future[[]byte]
	for i := range 200 {
		fs = append(fs, cf.SubmitBytes(ex, ctasks.Upper, []byte{'a' + byte(i%26)}))
	}
	for i, f := range fs {
		if b, err := f.Result(context.Background()); err != nil || b[0] != 'A'+byte(i%26) {
			t.Fatal(i, b, err)
		}
	}
}

func TestProcessPoolWorkerDeath(t *testing.T) {
	ex := processPool(t, cf.WithProcesses(1))
	err := cf.SubmitBytes(ex, ctasks.Die, nil).Err()
	var te *cf.TaskError
	if !errors.Is(err, cf.ErrWorkerDied) || !errors.As(err, &te) || te.Code != -int32(syscall.SIGKILL) {
		t.Fatalf("got %v", err)
	}
	// Replaced: the pool goes on.
	if b, err := cf.SubmitBytes(ex, ctasks.Upper, []byte("ok")).Result(context.Background()); err != nil || string(b) != "OK" {
		t.Fatal(b, err)
	}
	if ex.WorkersStarted() < 2 {
		t.Fatal("the dead worker was not replaced")
	}

	br := processPool(t, cf.WithProcesses(1), cf.WithOnWorkerDeath(cf.BreakPool))
	if err := cf.SubmitBytes(br, ctasks.Die, nil).Err(); err == nil {
		t.Fatal("expected a failure")
	}
	deadline := time.Now().Add(5 * time.Second)
	for !errors.Is(cf.SubmitBytes(br, ctasks.Upper, []byte("x")).Err(), cf.ErrBroken) {
		if time.Now().After(deadline) {
			t.Fatal("BreakPool: later submits should fail with ErrBroken")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestProcessPoolTimeoutsAndCancel(t *testing.T) {
	ex := processPool(t, cf.WithProcesses(1), cf.WithTaskTimeout(100*time.Millisecond))
	slow := cf.SubmitBytes(ex, ctasks.SleepBytes, []byte{100}) // 1 s, killed at 100 ms
	queued := cf.SubmitBytes(ex, ctasks.Upper, []byte("q"))
	if !queued.Cancel() {
		t.Fatal("a queued process task can be cancelled")
	}
	err := slow.Err()
	if !errors.Is(err, cf.ErrTimeout) {
		t.Fatalf("task timeout: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	f := cf.SubmitBytes(ex, ctasks.SleepBytes, []byte{5})
	if _, err := f.Result(ctx); !errors.Is(err, cf.ErrTimeout) {
		t.Fatal(err)
	}
	if err := f.Err(); err != nil {
		t.Fatal(err)
	}
}

func TestProcessPoolInitializerAndTerminate(t *testing.T) {
	bad := processPool(t, cf.WithProcesses(1), cf.WithProcessInitializer(ctasks.InitFail, []byte("x")))
	err := cf.SubmitBytes(bad, ctasks.Upper, []byte("x")).Err()
	var te *cf.TaskError
	if !errors.Is(err, cf.ErrBroken) || !errors.As(err, &te) || te.Code != 3 {
		t.Fatalf("initializer failure: %v", err)
	}

	ex := processPool(t, cf.WithProcesses(2))
	running := cf.SubmitBytes(ex, ctasks.SleepBytes, []byte{200})
	for !running.Running() {
		time.Sleep(time.Millisecond)
	}
	if err := ex.Terminate(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if err := running.Err(); !errors.Is(err, cf.ErrBroken) {
		t.Fatalf("terminated: %v", err)
	}
	if err := cf.SubmitBytes(ex, ctasks.Upper, nil).Err(); !errors.Is(err, cf.ErrShutdown) {
		t.Fatal(err)
	}
	thread := pool(t)
	if err := thread.Terminate(syscall.SIGTERM); !errors.Is(err, cf.ErrUnsupported) || thread.WorkerPIDs() != nil {
		t.Fatal("Terminate on a thread pool", err)
	}
	if _, err := cf.NewProcessPool(cf.WithWorkerExe("/nonexistent")); !errors.Is(err, cf.ErrInvalidArgument) {
		t.Fatal(err)
	}
}

// Every start method runs tasks in another process; a FORKSERVER pool replaces a dead
// worker by forking the server again.
func TestProcessPoolStartMethods(t *testing.T) {
	for _, m := range []cf.StartMethod{cf.StartSpawn, cf.StartForkServer, cf.StartFork} {
		ex := processPool(t, cf.WithProcesses(1), cf.WithStartMethod(m))
		b, err := cf.SubmitBytes(ex, ctasks.Upper, []byte("fs")).Result(context.Background())
		if err != nil || string(b) != "FS" {
			t.Fatal(m, b, err)
		}
		p, err := cf.SubmitBytes(ex, ctasks.PID, nil).Result(context.Background())
		if err != nil || int(int32(binary.NativeEndian.Uint32(p))) == os.Getpid() {
			t.Fatal(m, p, err)
		}
		if m == cf.StartForkServer {
			if err := cf.SubmitBytes(ex, ctasks.Die, nil).Err(); !errors.Is(err, cf.ErrWorkerDied) {
				t.Fatal(err)
			}
			if b, err := cf.SubmitBytes(ex, ctasks.Upper, []byte("ok")).Result(context.Background()); err != nil || string(b) != "OK" || ex.WorkersStarted() < 2 {
				t.Fatal("forkserver replacement", b, err)
			}
		}
	}
}
