// reusable_pool: one pool serves several batches, then shuts down.
//
//	executor = ThreadPoolExecutor(max_workers=3)
//	print(list(executor.map(do_work, range(6))))
//	print(list(executor.map(do_work, range(6, 12))))
//	executor.shutdown()
//
// Workers start lazily, up to max workers, and are reused across batches (an initializer
// counts the threads started). A submit after shutdown fails with ErrShutdown.
package main

import (
	"fmt"
	"log"
	"sync/atomic"
	"time"

	cf "github.com/cfutures/cfutures/bindings/go"
)

func doWork(i int) (string, error) {
	time.Sleep(10 * time.Millisecond)
	return fmt.Sprintf("foo-%d", i), nil
}

func main() {
	var threads atomic.Int32
	ex, err := cf.NewThreadPool(cf.WithMaxWorkers(3), cf.WithThreadNamePrefix("reuse"),
		cf.WithInitializer(func() error { threads.Add(1); return nil }))
	if err != nil {
		log.Fatal(err)
	}
	defer ex.Close()

	for batch := range 3 {
		items := []int{}
		for i := range 6 {
			items = append(items, batch*6+i)
		}
		var out []string
		for s, err := range cf.Map(ex, doWork, items, cf.WithChunkSize(1)) {
			if err != nil {
				log.Fatal(err)
			}
			out = append(out, s)
		}
		fmt.Printf("batch %d: %v (threads started so far: %d of max %d)\n", batch, out, threads.Load(), ex.MaxWorkers())
	}
	if err := ex.Shutdown(true, false); err != nil {
		log.Fatal(err)
	}
	err = cf.Submit(ex, func() (string, error) { return doWork(99) }).Err()
	fmt.Println("submit after shutdown:", err)
	if err != cf.ErrShutdown || threads.Load() > 3 {
		log.Fatal("unexpected")
	}
}
