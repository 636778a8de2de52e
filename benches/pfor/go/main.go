// The Go rows of benches/pfor, both in one binary: the peer as Go users write it (the range
// cut into one chunk per GOMAXPROCS, a goroutine per chunk, a sync.WaitGroup; impl
// "go_chunks") and, with the argument "pfor", cfutures.ParallelFor with a Go function per
// range (impl "go_pfor"). Same workloads and output as work.h.
//
// Both call the same loop kernels, kept out of line: Go has no flag to align loops, and on an
// AMD EPYC host a 6-instruction loop that happens to cross a 64-byte line ran 1.45x slower
// (the sum, 2.85 vs 1.95 ms, in two builds of one source), so two binaries with their own
// copies of a loop compared where the linker put it. A kernel this small starts its loop in
// the first 32 bytes of its (32-byte aligned) function, so it fits one 64-byte line in any
// build.
package main

import (
	"fmt"
	"os"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	cf "github.com/cfutures/cfutures/bindings/go"
)

const (
	nSmall = 1_000_000
	nLarge = 10_000_000
	nTri   = 6000
	nSpike = 1_000_000
	reps   = 9
)

func work(x, units uint64) uint64 {
	for u := uint64(0); u < units; u++ {
		x = (x ^ (x >> 31)) * 0xBF58476D1CE4E5B9
	}
	return x
}

func spikeUnits(i uint64) uint64 {
	if (i*0x9E3779B97F4A7C15>>40)%100 == 0 {
		return 1000
	}
	return 1
}

//go:noinline
func squareRange(a []int64) {
	for i := range a {
		a[i] *= a[i]
	}
}

//go:noinline
func sumRange(a []int64) int64 {
	var t int64
	for _, v := range a {
		t += v
	}
	return t
}

//go:noinline
func triRange(out []uint64, b int) {
	for i := range out {
		out[i] = work(uint64(b+i), uint64(b+i))
	}
}

//go:noinline
func spikeRange(out []uint64, b int) {
	for i := range out {
		out[i] = work(uint64(b+i), spikeUnits(uint64(b+i)))
	}
}

// chunked runs body over [0, n) in GOMAXPROCS contiguous chunks, one goroutine each.
func chunked(n int, body func(b, e int)) {
	p := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	for c := 0; c < p; c++ {
		b, e := n*c/p, n*(c+1)/p
		wg.Add(1)
		go func() {
			defer wg.Done()
			body(b, e)
		}()
	}
	wg.Wait()
}

func measure(workload, impl string, setup, body func(), ok func() bool) {
	t := make([]float64, 0, reps)
	for r := 0; r <= reps; r++ {
		setup()
		s := time.Now()
		body()
		e := time.Since(s).Seconds()
		if r > 0 {
			t = append(t, e)
		}
	}
	if !ok() {
		panic(workload + " " + impl + ": wrong result")
	}
	sort.Float64s(t)
	fmt.Printf("%s %s %.9f\n", workload, impl, t[reps/2])
}

func main() {
	impl, par := "go_chunks", chunked
	if len(os.Args) > 1 && os.Args[1] == "pfor" {
		ex, err := cf.NewThreadPool()
		if err != nil {
			panic(err)
		}
		defer ex.Close()
		impl = "go_pfor"
		par = func(n int, body func(b, e int)) {
			err := cf.ParallelFor(ex, 0, n, 0, func(b, e int) error {
				body(b, e)
				return nil
			})
			if err != nil {
				panic(err)
			}
		}
	}
	a := make([]int64, nLarge)
	out := make([]uint64, nSpike)
	reset := func(n int) func() {
		return func() {
			for i := range a[:n] {
				a[i] = int64(i)
			}
		}
	}
	squares := func(n int) func() bool {
		return func() bool {
			for i := range a[:n] {
				if a[i] != int64(i)*int64(i) {
					return false
				}
			}
			return true
		}
	}
	for _, c := range []struct {
		name string
		n    int
	}{{"sq1m", nSmall}, {"sq10m", nLarge}} {
		n := c.n
		measure(c.name, impl, reset(n), func() {
			par(n, func(b, e int) { squareRange(a[b:e]) })
		}, squares(n))
	}
	var total atomic.Int64
	reset(nLarge)()
	measure("sum10m", impl, func() { total.Store(0) }, func() {
		par(nLarge, func(b, e int) { total.Add(sumRange(a[b:e])) })
	}, func() bool { return total.Load() == int64(nLarge)*(nLarge-1)/2 })
	nop := func() {}
	measure("tri", impl, nop, func() {
		par(nTri, func(b, e int) { triRange(out[b:e], b) })
	}, func() bool {
		for i := 0; i < nTri; i += 97 {
			if out[i] != work(uint64(i), uint64(i)) {
				return false
			}
		}
		return true
	})
	measure("spike", impl, nop, func() {
		par(nSpike, func(b, e int) { spikeRange(out[b:e], b) })
	}, func() bool {
		for i := 0; i < nSpike; i += 997 {
			if out[i] != work(uint64(i), spikeUnits(uint64(i))) {
				return false
			}
		}
		return true
	})
}
