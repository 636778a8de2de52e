// submit_pow: the seeds' first example, executor.submit(pow, 323, 1235).
//
//	with ThreadPoolExecutor(max_workers=1) as executor:
//	    future = executor.submit(pow, 323, 1235)
//	    print(future.result())
//
// The closure runs on a library worker thread; its result (a *big.Int, Go memory) comes
// back through the future.
package main

import (
	"context"
	"fmt"
	"log"
	"math/big"

	cf "github.com/cfutures/cfutures/bindings/go"
)

func main() {
	ex, err := cf.NewThreadPool(cf.WithMaxWorkers(1))
	if err != nil {
		log.Fatal(err)
	}
	defer ex.Close() // shutdown(wait=true), like leaving Python's with-block

	future := cf.Submit(ex, func() (*big.Int, error) {
		return new(big.Int).Exp(big.NewInt(323), big.NewInt(1235), nil), nil
	})
	defer future.Close()
	result, err := future.Result(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	s := result.String()
	fmt.Printf("pow(323, 1235) has %d digits: %s...%s\n", len(s), s[:20], s[len(s)-20:])

	// pow(2, 8) as in the C example, and a glance at the future's state.
	f := cf.Submit(ex, func() (int, error) { return 1 << 8, nil })
	v, err := f.Result(context.Background())
	fmt.Println("pow(2, 8) =", v, "err:", err, "state:", f)
	if v != 256 || err != nil {
		log.Fatal("wrong result")
	}
}
