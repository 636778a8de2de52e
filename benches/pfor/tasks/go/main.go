// A Go channel worker pool with futures, as Go users write one: GOMAXPROCS worker goroutines
// reading func()s from a channel, a future = a struct with a done channel. (1) 100 000
// submits, then wait on each; (2) one-shot submit -> wait, p50. Same output as ours.c.
// With the argument "cf": the same with Go closures through cfutures.Submit on a default
// thread pool ("cf_direct": WithDirectGoTasks). With "pfor": the parallel-loop rows of
// ../work.h through cfutures.ParallelFor, a Go function per range (impl "go_pfor").
package main

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"sort"
	"sync/atomic"
	"time"

	cf "github.com/cfutures/cfutures/bindings/go"
)

const (
	n     = 100000
	shots = 20000
	reps  = 7
)

type future struct {
	done chan struct{}
	val  any
}

type pool struct{ jobs chan func() }

func newPool() *pool {
	p := &pool{jobs: make(chan func(), 1024)}
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		go func() {
			for j := range p.jobs {
				j()
			}
		}()
	}
	return p
}

func (p *pool) submit(fn func() any) *future {
	f := &future{done: make(chan struct{})}
	p.jobs <- func() { f.val = fn(); close(f.done) }
	return f
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "pfor" {
		loops()
		return
	}
	if len(os.Args) > 1 {
		viaLibrary(os.Args[1])
		return
	}
	p := newPool()
	empty := func() any { return nil }
	fs := make([]*future, n)
	var t []float64
	for r := 0; r <= reps; r++ {
		s := time.Now()
		for i := range fs {
			fs[i] = p.submit(empty)
		}
		for _, f := range fs {
			<-f.done
		}
		if r > 0 {
			t = append(t, time.Since(s).Seconds())
		}
	}
	sort.Float64s(t)
	fmt.Printf("empty100k go %.1f\n", n/t[reps/2])
	lat := make([]float64, shots)
	for i := range lat {
		s := time.Now()
		f := p.submit(empty)
		<-f.done
		lat[i] = time.Since(s).Seconds()
	}
	sort.Float64s(lat)
	fmt.Printf("oneshot_p50 go %.9f\n", lat[shots/2])
}

func viaLibrary(mode string) {
	var opts []cf.ThreadPoolOption
	if mode == "cf_direct" {
		opts = append(opts, cf.WithDirectGoTasks())
	}
	ex, err := cf.NewThreadPool(opts...)
	if err != nil {
		panic(err)
	}
	defer ex.Close()
	ctx := context.Background()
	empty := func() (int, error) { return 0, nil }
	fs := make([]*cf.Future[int], n)
	var t []float64
	for r := 0; r <= reps; r++ {
		s := time.Now()
		for i := range fs {
			fs[i] = cf.Submit(ex, empty)
		}
		for _, f := range fs {
			if _, err := f.Result(ctx); err != nil {
				panic(err)
			}
		}
		if r > 0 {
			t = append(t, time.Since(s).Seconds())
		}
	}
	sort.Float64s(t)
	fmt.Printf("empty100k go_%s %.1f\n", mode, n/t[reps/2])
	lat := make([]float64, shots)
	for i := range lat {
		s := time.Now()
		f := cf.Submit(ex, empty)
		if _, err := f.Result(ctx); err != nil {
			panic(err)
		}
		lat[i] = time.Since(s).Seconds()
	}
	sort.Float64s(lat)
	fmt.Printf("oneshot_p50 go_%s %.9f\n", mode, lat[shots/2])
}

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

func measure(workload string, setup, body func(), ok func() bool) {
	t := make([]float64, 0, 9)
	for r := 0; r <= 9; r++ {
		setup()
		s := time.Now()
		body()
		if r > 0 {
			t = append(t, time.Since(s).Seconds())
		}
	}
	if !ok() {
		panic(workload + ": wrong result")
	}
	sort.Float64s(t)
	fmt.Printf("%s go_pfor %.9f\n", workload, t[4])
}

func loops() {
	ex, err := cf.NewThreadPool()
	if err != nil {
		panic(err)
	}
	defer ex.Close()
	a := make([]int64, 10_000_000)
	out := make([]uint64, 1_000_000)
	pfor := func(n int, body func(b, e int) error) {
		if err := cf.ParallelFor(ex, 0, n, 0, body); err != nil {
			panic(err)
		}
	}
	reset := func(n int) func() {
		return func() {
			for i := range a[:n] {
				a[i] = int64(i)
			}
		}
	}
	for _, c := range []struct {
		name string
		n    int
	}{{"sq1m", 1_000_000}, {"sq10m", 10_000_000}} {
		n := c.n
		measure(c.name, reset(n), func() {
			pfor(n, func(b, e int) error {
				for i := b; i < e; i++ {
					a[i] *= a[i]
				}
				return nil
			})
		}, func() bool {
			for i := range a[:n] {
				if a[i] != int64(i)*int64(i) {
					return false
				}
			}
			return true
		})
	}
	reset(len(a))()
	var total atomic.Int64
	measure("sum10m", func() { total.Store(0) }, func() {
		pfor(len(a), func(b, e int) error {
			var t int64
			for i := b; i < e; i++ {
				t += a[i]
			}
			total.Add(t)
			return nil
		})
	}, func() bool { return total.Load() == int64(len(a))*int64(len(a)-1)/2 })
	measure("tri", func() {}, func() {
		pfor(6000, func(b, e int) error {
			for i := b; i < e; i++ {
				out[i] = work(uint64(i), uint64(i))
			}
			return nil
		})
	}, func() bool { return out[5999] == work(5999, 5999) })
	measure("spike", func() {}, func() {
		pfor(len(out), func(b, e int) error {
			for i := b; i < e; i++ {
				out[i] = work(uint64(i), spikeUnits(uint64(i)))
			}
			return nil
		})
	}, func() bool { return out[997] == work(997, spikeUnits(997)) })
}
