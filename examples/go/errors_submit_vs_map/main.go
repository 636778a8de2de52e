// errors_submit_vs_map: how a task's error reaches you through submit and through map.
//
//	def get_request(url):
//	    if url.endswith("5"): raise ValueError("bad url")
//	    ...
//	futures = [executor.submit(get_request, u) for u in urls]   # each future keeps its error
//	results = executor.map(get_request, urls)                     # raises at item 5, ends
//
// In Go both are values: a future's Err / Result returns the task's own error (the same
// error value, so errors.Is and errors.As work); Map yields (result, error) per item and
// goes on after a failure, so the caller decides whether to stop. A panic becomes a
// *cfutures.PanicError, never a crash.
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"strings"

	cf "github.com/cfutures/cfutures/bindings/go"
)

var errBadURL = errors.New("bad url")

func getRequest(url string) (string, error) {
	switch {
	case strings.HasSuffix(url, "5"):
		return "", fmt.Errorf("get %s: %w", url, errBadURL)
	case strings.HasSuffix(url, "7"):
		var m map[string]int
		m[url] = 1 // a bug: assignment to a nil map panics
	}
	return "<html> of " + url, nil
}

func main() {
	ex, err := cf.NewThreadPool(cf.WithMaxWorkers(4))
	if err != nil {
		log.Fatal(err)
	}
	defer ex.Close()
	var urls []string
	for i := range 9 {
		urls = append(urls, fmt.Sprintf("https://example.com/page%d", i))
	}

	fmt.Println("--- submit: every future carries its own outcome")
	var futures []*cf.Future[string]
	for _, u := range urls {
		futures = append(futures, cf.Submit(ex, func() (string, error) { return getRequest(u) }))
	}
	bad, panicked := 0, 0
	for i, f := range futures {
		body, err := f.Result(context.Background())
		var pe *cf.PanicError
		switch {
		case errors.Is(err, errBadURL):
			fmt.Printf("%s: error: %v\n", urls[i], err)
			bad++
		case errors.As(err, &pe):
			fmt.Printf("%s: panicked: %v\n", urls[i], pe.Value)
			panicked++
		case err != nil:
			log.Fatal(err)
		default:
			fmt.Printf("%s: %s\n", urls[i], body)
		}
	}

	fmt.Println("--- map: results in order; the loop decides what an error means")
	i, mapErrs := 0, 0
	for body, err := range cf.Map(ex, getRequest, urls) {
		if err != nil {
			fmt.Printf("item %d failed: %v\n", i, err)
			mapErrs++
		} else {
			fmt.Printf("item %d: %s\n", i, body)
		}
		i++
	}

	fmt.Println("--- map, Python style: stop at the first error")
	for body, err := range cf.Map(ex, getRequest, urls) {
		if err != nil {
			fmt.Println("stopped:", err)
			break // the chunks not yet started are cancelled
		}
		fmt.Println(body)
	}
	if bad != 1 || panicked != 1 || mapErrs != 2 || i != len(urls) {
		log.Fatal("unexpected error handling")
	}
}
