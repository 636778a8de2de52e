package cfutures_test

import (
	"context"
	"encoding/binary"
	"errors"
	"os"
	"strings"
	"testing"

	cf "github.com/cfutures/cfutures/bindings/go"
	"github.com/cfutures/cfutures/bindings/go/internal/ctasks"
)

// Outside mpirun the constructor refuses at once, saying why.
func TestMpiPoolOutsideMpirun(t *testing.T) {
	if os.Getenv("OMPI_COMM_WORLD_SIZE") != "" || os.Getenv("PMIX_RANK") != "" {
		t.Skip("under an MPI launcher: see TestMpiPoolUnderMpirun")
	}
	ex, err := cf.NewMpiPool(cf.WithMpiPlugin("/nonexistent/libcfutures_mpi.so"))
	if ex != nil || !errors.Is(err, cf.ErrUnsupported) || !strings.Contains(err.Error(), "libcfutures_mpi.so") {
		t.Fatalf("missing plugin: %v %v", ex, err)
	}
	if _, err := cf.NewMpiPool(cf.WithWorkersPerRank(-1)); !errors.Is(err, cf.ErrInvalidArgument) {
		t.Fatal(err)
	}
}

// Run by tests/mpi (make test-mpi) as `mpirun -np 3 cfutures.test -test.run
// TestMpiPoolUnderMpirun`: every rank runs it; the root submits, the others serve.
func TestMpiPoolUnderMpirun(t *testing.T) {
	if os.Getenv("OMPI_COMM_WORLD_SIZE") == "" {
		t.Skip("not under mpirun")
	}
	ex, err := cf.NewMpiPool(cf.WithWorkersPerRank(2))
	if err != nil {
		t.Fatal(err)
	}
	if ex == nil {
		return // a worker rank: it served until the root closed its pool
	}
	defer ex.Close()
	b, err := cf.SubmitBytes(ex, ctasks.Upper, []byte("from another rank")).Result(context.Background())
	if err != nil || string(b) != "FROM ANOTHER RANK" {
		t.Fatalf("%q %v", b, err)
	}
	p, err := cf.SubmitBytes(ex, ctasks.PID, nil).Result(context.Background())
	if err != nil || len(p) != 4 || int(int32(binary.NativeEndian.Uint32(p))) == os.Getpid() {
		t.Fatal(p, err)
	}
}
