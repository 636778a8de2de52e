// search_stop: many workers search; the first that finds the answer stops the rest.
//
// Each slice of a key space is a task of a cfutures.Group started with GoCtx, whose
// context is cancelled when the group is. The finder returns errFound, the group's first
// error: slices not started never run, running ones see ctx.Done() and return, and Wait
// returns errFound with the key already recorded.
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"sync/atomic"

	"github.com/cfutures/cfutures/bindings/go"
)

const (
	slices    = 256
	sliceSize = 1 << 20
	secret    = 173*sliceSize + 777
)

func mix(x uint64) uint64 {
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	return x ^ (x >> 33)
}

var errFound = errors.New("found")

func main() {
	ex, err := cfutures.NewThreadPool()
	if err != nil {
		log.Fatal(err)
	}
	defer ex.Close()
	target := mix(secret)
	var found atomic.Uint64
	var stopped, ran atomic.Int32
	g := cfutures.NewGroup(ex)
	for i := uint64(0); i < slices; i++ {
		begin := i * sliceSize
		g.GoCtx(func(ctx context.Context) error {
			ran.Add(1)
			for k := begin; k < begin+sliceSize; k++ {
				if k&4095 == 0 && ctx.Err() != nil {
					stopped.Add(1)
					return ctx.Err() // acknowledged: this slice ends cancelled
				}
				if mix(k) == target {
					found.Store(k)
					return errFound // the group's first error cancels the rest
				}
			}
			return nil
		})
	}
	err = g.Wait()
	fmt.Printf("Wait: %v; found key %d; %d of %d slices ran, %d stopped on cancellation\n",
		err, found.Load(), ran.Load(), slices, stopped.Load())
	if err != errFound || found.Load() != secret {
		os.Exit(1)
	}
}
