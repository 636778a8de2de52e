// group_fail_fast: a task group that fails fast, errgroup style.
//
// Twenty simulated downloads run in a group from cfutures.GroupWithContext. One finds its
// file corrupt and returns an error: the group's context is cancelled, downloads not
// started never run, running ones see ctx.Done() and stop. Wait returns that first error.
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"sync/atomic"
	"time"

	"github.com/cfutures/cfutures/bindings/go"
)

var errCorrupt = errors.New("file 3: checksum mismatch in chunk 2")

func main() {
	ex, err := cfutures.NewThreadPool(cfutures.WithMaxWorkers(4))
	if err != nil {
		log.Fatal(err)
	}
	defer ex.Close()
	g, ctx := cfutures.GroupWithContext(context.Background(), ex)
	var completed, stopped atomic.Int32
	for id := 0; id < 20; id++ {
		g.Go(func() error {
			for chunk := 0; chunk < 20; chunk++ {
				select {
				case <-ctx.Done():
					stopped.Add(1)
					return nil
				case <-time.After(2 * time.Millisecond): // network time
				}
				if id == 3 && chunk == 2 {
					return errCorrupt
				}
			}
			completed.Add(1)
			return nil
		})
	}
	err = g.Wait()
	fmt.Printf("Wait: %v\n%d downloads completed, %d stopped on cancellation\n", err, completed.Load(), stopped.Load())
	if !errors.Is(err, errCorrupt) || completed.Load() >= 19 {
		os.Exit(1)
	}
}
