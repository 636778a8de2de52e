// is_prime_pool: when a pool does NOT pay, and how chunking makes it pay.
//
//	PRIMES = range(19000, 20000)
//	for n in PRIMES: is_prime(n)                         # serial
//	with ThreadPoolExecutor(max_workers=13) as executor:  # slower: the hand-off dwarfs the work
//	    executor.map(is_prime, PRIMES)
//
// Testing 19xxx for primality is a few dozen divisions: nanoseconds. Handing one task to a
// library worker (queue it, wake a thread, enter Go, publish, wake the waiter) costs
// microseconds, so one task per number is far slower than a plain loop. Map with chunks
// pays the hand-off once per chunk; once the total work is large, the pool wins by up to
// the number of cores. Timings vary with the machine's load; each is the best of 3.
package main

import (
	"context"
	"fmt"
	"log"
	"runtime"
	"time"

	cf "github.com/cfutures/cfutures/bindings/go"
)

func isPrime(n int) bool {
	if n < 2 {
		return false
	}
	for d := 2; d*d <= n; d++ {
		if n%d == 0 {
			return false
		}
	}
	return true
}

func best(f func() int) (time.Duration, int) {
	var b time.Duration
	var r int
	for i := range 3 {
		start := time.Now()
		r = f()
		if d := time.Since(start); i == 0 || d < b {
			b = d
		}
	}
	return b, r
}

func numbers(lo, hi int) []int {
	out := make([]int, 0, hi-lo)
	for n := lo; n < hi; n++ {
		out = append(out, n)
	}
	return out
}

func main() {
	ex, err := cf.NewThreadPool(cf.WithMaxWorkers(runtime.NumCPU()))
	if err != nil {
		log.Fatal(err)
	}
	defer ex.Close()
	primeTask := func(n int) (bool, error) { return isPrime(n), nil }

	for _, r := range []struct{ lo, hi int }{{19000, 20000}, {0, 1_000_000}} {
		nums := numbers(r.lo, r.hi)
		fmt.Printf("--- is_prime over %d..%d (%d numbers)\n", r.lo, r.hi-1, len(nums))
		serial, want := best(func() int {
			c := 0
			for _, n := range nums {
				if isPrime(n) {
					c++
				}
			}
			return c
		})
		fmt.Printf("plain loop:               %10v  %d primes\n", serial.Round(time.Microsecond), want)

		if len(nums) <= 10000 {
			perTask, got := best(func() int {
				fs := make([]*cf.Future[bool], len(nums))
				for i, n := range nums {
					fs[i] = cf.Submit(ex, func() (bool, error) { return isPrime(n), nil })
				}
				c := 0
				for _, f := range fs {
					if p, _ := f.Result(context.Background()); p {
						c++
					}
				}
				return c
			})
			check(got, want)
			fmt.Printf("one task per number:      %10v  (%.0fx the loop)\n", perTask.Round(time.Microsecond), float64(perTask)/float64(serial))
		}

		chunked, got := best(func() int {
			c := 0
			for p, err := range cf.Map(ex, primeTask, nums) { // automatic chunk size
				if err != nil {
					log.Fatal(err)
				}
				if p {
					c++
				}
			}
			return c
		})
		check(got, want)
		fmt.Printf("Map, chunked (%d workers): %10v  (%.2fx the loop)\n", ex.MaxWorkers(), chunked.Round(time.Microsecond), float64(chunked)/float64(serial))
	}
}

func check(got, want int) {
	if got != want {
		log.Fatalf("pool counted %d primes, the loop %d", got, want)
	}
}
