package cfutures_test

import (
	"encoding/binary"
	"errors"
	"testing"

	cf "github.com/cfutures/cfutures/bindings/go"
	"github.com/cfutures/cfutures/bindings/go/internal/ctasks"
)

func int64s(xs ...int64) []byte {
	b := make([]byte, 8*len(xs))
	for i, x := range xs {
		binary.NativeEndian.PutUint64(b[8*i:], uint64(x))
	}
	return b
}

func checkSquares(t *testing.T, results []byte, n int, plus int64, skip int) {
	t.Helper()
	for i := range n {
		if i == skip {
			continue
		}
		if got := int64(binary.NativeEndian.Uint64(results[8*i:])); got != int64(i*i)+plus {
			t.Fatalf("item %d: %d", i, got)
		}
	}
}

func TestMapC(t *testing.T) {
	const n = 10000
	xs := make([]int64, n)
	for i := range xs {
		xs[i] = int64(i)
	}
	xs[13] = 12 // no failure
	items := int64s(xs...)
	for name, ex := range map[string]*cf.Executor{"threads": pool(t, cf.WithMaxWorkers(3)), "processes": processPool(t, cf.WithProcesses(2))} {
		results := make([]byte, 8*n)
		if err := cf.MapC(ex, ctasks.MapSquare, []byte{7}, items, 8, results, 8); err != nil {
			t.Fatal(name, err)
		}
		checkSquares(t, results, n, 7, 13)

		bad := int64s(0, 1, 2, 13, 4, 13)
		results = make([]byte, 8*6)
		err := cf.MapC(ex, ctasks.MapSquare, nil, bad, 8, results, 8, cf.WithChunkSize(1))
		var me *cf.MapError
		if !errors.As(err, &me) || me.Index != 3 || !errors.Is(err, cf.ErrTaskFailed) {
			t.Fatalf("%s: %v", name, err)
		}
		if got := binary.NativeEndian.Uint64(results[8*4:]); got != 16 {
			t.Fatalf("%s: the map goes on after a failure: %d", name, got)
		}
	}
	ex := pool(t)
	if err := cf.MapC(ex, ctasks.MapSquare, nil, make([]byte, 7), 8, nil, 8); !errors.Is(err, cf.ErrInvalidArgument) {
		t.Fatal(err)
	}
	if err := cf.MapC(ex, ctasks.MapSquare, nil, nil, 8, nil, 8); err != nil {
		t.Fatal("empty", err)
	}
	ex.Close()
	if err := cf.MapC(ex, ctasks.MapSquare, nil, items, 8, make([]byte, 8*n), 8); !errors.Is(err, cf.ErrShutdown) {
		t.Fatal(err)
	}
}
