// downloads_threads: I/O-bound work on many threads versus one after another.
//
//	def download_all(sites):
//	    with ThreadPoolExecutor(max_workers=13) as executor:
//	        executor.map(download_one, sites)
//
// Each "download" sleeps 30-50 ms, as a thread waiting on the network would. On one thread
// the waits add up; on 20 they overlap, so the pool finishes many times sooner.
package main

import (
	"fmt"
	"log"
	"math/rand/v2"
	"time"

	cf "github.com/cfutures/cfutures/bindings/go"
)

type site struct {
	url string
	ms  int
}

func downloadOne(s site) (int, error) {
	time.Sleep(time.Duration(s.ms) * time.Millisecond)
	return 1000 + len(s.url), nil // bytes "read"
}

func main() {
	rng := rand.New(rand.NewPCG(1, 2))
	var sites []site
	for i := range 30 {
		sites = append(sites, site{fmt.Sprintf("https://example.com/item/%d", i), 30 + rng.IntN(21)})
	}

	start := time.Now()
	seqBytes := 0
	for _, s := range sites {
		n, _ := downloadOne(s)
		seqBytes += n
	}
	seq := time.Since(start)
	fmt.Printf("sequential: %d sites, %d bytes in %v\n", len(sites), seqBytes, seq.Round(time.Millisecond))

	ex, err := cf.NewThreadPool(cf.WithMaxWorkers(20))
	if err != nil {
		log.Fatal(err)
	}
	defer ex.Close()
	start = time.Now()
	poolBytes := 0
	for n, err := range cf.Map(ex, downloadOne, sites, cf.WithChunkSize(1)) {
		if err != nil {
			log.Fatal(err)
		}
		poolBytes += n
	}
	par := time.Since(start)
	fmt.Printf("20 threads: %d sites, %d bytes in %v\n", len(sites), poolBytes, par.Round(time.Millisecond))
	fmt.Printf("speed-up: %.1fx\n", float64(seq)/float64(par))
	if poolBytes != seqBytes || par*3 > seq {
		log.Fatal("the pool should be several times faster on I/O-bound work")
	}
}
