// as_completed_urls: handle results in the order they finish, not the order submitted.
//
//	futures = {executor.submit(get_request, url): url for url in urls}
//	for fut in as_completed(futures):
//	    url = futures[fut]
//	    try:    print(f"Url: {url}, result: {fut.result()}")
//	    except Exception as e: print(f"Url: {url} failed: {e}")
//
// The loads are simulated with sleeps of different lengths, and one URL fails. The task
// map is a Go map from *Future to URL, exactly as in Python.
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	cf "github.com/cfutures/cfutures/bindings/go"
)

type page struct {
	url    string
	loadMs int
	status int // 200, or the error the "server" answers with
}

var pages = []page{
	{"https://www.python.org/", 250, 200},
	{"https://go.dev/", 60, 200},
	{"https://www.rust-lang.org/", 180, 200},
	{"https://example.com/missing", 100, 404},
	{"https://docs.python.org/3/library/concurrent.futures.html", 30, 200},
	{"https://pkg.go.dev/", 140, 200},
}

type httpError struct{ code int }

func (e httpError) Error() string { return fmt.Sprintf("HTTP %d", e.code) }

func getRequest(p page) (int, error) {
	time.Sleep(time.Duration(p.loadMs) * time.Millisecond)
	if p.status != 200 {
		return 0, httpError{p.status}
	}
	return len(p.url) * 1000, nil // "bytes downloaded"
}

func main() {
	ex, err := cf.NewThreadPool(cf.WithMaxWorkers(len(pages)))
	if err != nil {
		log.Fatal(err)
	}
	defer ex.Close()

	start := time.Now()
	futures := map[*cf.Future[int]]string{}
	var all []*cf.Future[int]
	for _, p := range pages {
		f := cf.Submit(ex, func() (int, error) { return getRequest(p) })
		futures[f] = p.url
		all = append(all, f)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var order []string
	failed := 0
	for f, err := range cf.AsCompleted(ctx, all...) {
		if err != nil { // the deadline passed first
			log.Fatal(err)
		}
		url := futures[f]
		n, err := f.Result(ctx)
		var he httpError
		switch {
		case errors.As(err, &he):
			fmt.Printf("%6.0f ms  Url: %s failed: %v\n", ms(start), url, err)
			failed++
		case err != nil:
			log.Fatal(err)
		default:
			fmt.Printf("%6.0f ms  Url: %s, result: %d bytes\n", ms(start), url, n)
		}
		order = append(order, url)
	}
	if len(order) != len(pages) || failed != 1 || order[0] != pages[4].url || order[5] != pages[0].url {
		log.Fatalf("unexpected completion order %v", order)
	}
	fmt.Println("completion order follows load time, not submission order")
}

func ms(start time.Time) float64 { return float64(time.Since(start).Microseconds()) / 1000 }
