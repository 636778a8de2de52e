// A Go channel worker pool with futures, as Go users write one: GOMAXPROCS worker goroutines
// reading func()s from a channel, a future = a struct with a done channel. (1) 100 000
// submits, then wait on each; (2) one-shot submit -> wait, p50. Same output as ours.c.
// With the argument "cf": the same with Go closures through cfutures.Submit on a default
// thread pool ("cf_direct": WithDirectGoTasks). (ParallelFor's rows are in ../../go.)
package main

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"sort"
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
