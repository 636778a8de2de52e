// Go peer for benches/pfor, written as Go users write it: the range cut into one chunk per
// GOMAXPROCS, a goroutine per chunk, a sync.WaitGroup. Same workloads and output as work.h.
package main

import (
	"fmt"
	"runtime"
	"sort"
	"sync"
	"time"
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
		measure(c.name, "go_chunks", reset(n), func() {
			chunked(n, func(b, e int) {
				for i := b; i < e; i++ {
					a[i] *= a[i]
				}
			})
		}, squares(n))
	}
	var total int64
	var mu sync.Mutex
	reset(nLarge)()
	measure("sum10m", "go_chunks", func() { total = 0 }, func() {
		chunked(nLarge, func(b, e int) {
			var t int64
			for i := b; i < e; i++ {
				t += a[i]
			}
			mu.Lock()
			total += t
			mu.Unlock()
		})
	}, func() bool { return total == int64(nLarge)*(nLarge-1)/2 })
	nop := func() {}
	measure("tri", "go_chunks", nop, func() {
		chunked(nTri, func(b, e int) {
			for i := b; i < e; i++ {
				out[i] = work(uint64(i), uint64(i))
			}
		})
	}, func() bool {
		for i := 0; i < nTri; i += 97 {
			if out[i] != work(uint64(i), uint64(i)) {
				return false
			}
		}
		return true
	})
	measure("spike", "go_chunks", nop, func() {
		chunked(nSpike, func(b, e int) {
			for i := b; i < e; i++ {
				out[i] = work(uint64(i), spikeUnits(uint64(i)))
			}
		})
	}, func() bool {
		for i := 0; i < nSpike; i += 997 {
			if out[i] != work(uint64(i), spikeUnits(uint64(i))) {
				return false
			}
		}
		return true
	})
}
