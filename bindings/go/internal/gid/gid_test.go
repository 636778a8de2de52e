package gid

import (
	"sync"
	"testing"
)

// Live goroutines have distinct identities, and each keeps its own while it runs.
func TestDistinctAndStable(t *testing.T) {
	const n = 64
	var wg, ready sync.WaitGroup
	ids := make([]uintptr, n)
	release := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		ready.Add(1)
		go func(i int) {
			defer wg.Done()
			ids[i] = Current()
			ready.Done()
			<-release // all alive at once
			if Current() != ids[i] {
				t.Errorf("goroutine %d: identity changed", i)
			}
		}(i)
	}
	ready.Wait()
	close(release)
	wg.Wait()
	seen := map[uintptr]bool{Current(): true}
	for i, id := range ids {
		if id == 0 || seen[id] {
			t.Fatalf("goroutine %d: identity %#x zero or shared", i, id)
		}
		seen[id] = true
	}
}
