// map_timeout: a whole-map deadline.
//
//	with ThreadPoolExecutor(max_workers=2) as executor:
//	    for r in executor.map(square, range(40), chunksize=1, timeout=2):
//	        print(r)          # item 5 hangs: TimeoutError after the deadline
//
// Results arrive in input order until the deadline; then iteration yields ErrTimeout,
// the items not started are cancelled (they never run), the running ones finish.
package main

import (
	"errors"
	"fmt"
	"log"
	"sync/atomic"
	"time"

	cf "github.com/cfutures/cfutures/bindings/go"
)

func main() {
	ex, err := cf.NewThreadPool(cf.WithMaxWorkers(2))
	if err != nil {
		log.Fatal(err)
	}
	var ran atomic.Int32
	square := func(x int) (int, error) {
		ran.Add(1)
		if x == 5 {
			time.Sleep(1 * time.Second) // "hangs", well past the deadline
		} else {
			time.Sleep(20 * time.Millisecond)
		}
		return x * x, nil
	}
	items := make([]int, 40)
	for i := range items {
		items[i] = i
	}

	start := time.Now()
	var got []int
	var timeoutErr error
	for r, err := range cf.Map(ex, square, items, cf.WithChunkSize(1), cf.WithTimeout(300*time.Millisecond)) {
		if err != nil {
			timeoutErr = err
			fmt.Printf("after %v: %v\n", time.Since(start).Round(10*time.Millisecond), err)
			break
		}
		fmt.Println(r)
		got = append(got, r)
	}
	ex.Close() // waits for item 5 (running) only: the rest were cancelled
	fmt.Printf("%d results before the deadline, %d of %d items ever ran\n", len(got), ran.Load(), len(items))
	if !errors.Is(timeoutErr, cf.ErrTimeout) || len(got) != 5 || int(ran.Load()) >= len(items) {
		log.Fatal("unexpected map timeout behaviour")
	}
}
