// deadlocks_made_safe: the two deadlocks of the concurrent.futures documentation, which hang
// in Python, end here.
//
//	def wait_on_future():
//	    f = executor.submit(pow, 5, 2)
//	    print(f.result())          # hangs: the only worker is busy waiting
//	executor = ThreadPoolExecutor(max_workers=1)
//	executor.submit(wait_on_future)
//
// A worker that waits on a pending task of its own pool runs it itself: 25 at once.
//
//	a = executor.submit(wait_on_b) # wait_on_b: b.result()
//	b = executor.submit(wait_on_a) # wait_on_a: a.result()  -- hangs forever
//
// The wait that would close the cycle returns cfutures.ErrWouldDeadlock instead.
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	cf "github.com/cfutures/cfutures/bindings/go"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	executor, err := cf.NewThreadPool(cf.WithMaxWorkers(1))
	if err != nil {
		log.Fatal(err)
	}
	waitOnFuture := cf.Submit(executor, func() (int, error) {
		f := cf.Submit(executor, func() (int, error) { return 5 * 5, nil })
		return f.Result(context.Background()) // runs the task right here
	})
	v, err := waitOnFuture.Result(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("wait_on_future:", v)
	executor.Close()

	executor, err = cf.NewThreadPool(cf.WithMaxWorkers(2))
	if err != nil {
		log.Fatal(err)
	}
	defer executor.Close()
	var a, b *cf.Future[int]
	submitted := make(chan struct{}) // Python's time.sleep(5): both futures assigned first
	waitOn := func(me string, other **cf.Future[int], value int) func() (int, error) {
		return func() (int, error) {
			<-submitted
			_, err := (*other).Result(context.Background())
			select {
			case <-(*other).Done():
				fmt.Printf("%s: the other task ended (%v)\n", me, err)
				return value, nil
			default: // not done: this wait was refused
				fmt.Printf("%s: waiting on the other task: %v\n", me, err)
				return 0, err
			}
		}
	}
	a = cf.Submit(executor, waitOn("a", &b, 5))
	b = cf.Submit(executor, waitOn("b", &a, 6))
	close(submitted)
	deadlocks := 0
	for _, f := range []*cf.Future[int]{a, b} {
		v, err := f.Result(ctx)
		if errors.Is(err, cf.ErrWouldDeadlock) {
			deadlocks++
		} else if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("result: %d, %v\n", v, err)
	}
	if deadlocks < 1 {
		log.Fatal("expected one side to get ErrWouldDeadlock")
	}
}
