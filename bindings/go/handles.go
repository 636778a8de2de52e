package cfutures

import "sync"

// taskHandle is the integer the library carries for a submitted future (its task argument
// and its done-callback argument). cgo.Handle would do, but it goes through a sync.Map that
// allocates and hashes on every call, and each task makes and deletes one: a slice with a
// free list under a mutex is several times cheaper and just as race-clean.
type taskHandle uintptr

var tasks struct {
	mu   sync.Mutex
	vals []goTask
	free []taskHandle
}

// newTaskHandle stores t until deleteTaskHandle; handles are never 0.
func newTaskHandle(t goTask) taskHandle {
	tasks.mu.Lock()
	var h taskHandle
	if n := len(tasks.free); n > 0 {
		h = tasks.free[n-1]
		tasks.free = tasks.free[:n-1]
		tasks.vals[h-1] = t
	} else {
		tasks.vals = append(tasks.vals, t)
		h = taskHandle(len(tasks.vals))
	}
	tasks.mu.Unlock()
	return h
}

// value returns the task; it panics on a handle that is not live (a bug of ours, recovered
// by the exported callers).
func (h taskHandle) value() goTask { return h.lookup(false) }

// take returns the task and deletes its handle (the done-callback's last use).
func (h taskHandle) take() goTask { return h.lookup(true) }

// delete forgets a handle the library never took (a refused submit).
func (h taskHandle) delete() { h.lookup(true) }

func (h taskHandle) lookup(remove bool) goTask {
	tasks.mu.Lock()
	var t goTask
	if h > 0 && int(h) <= len(tasks.vals) {
		t = tasks.vals[h-1]
		if t != nil && remove {
			tasks.vals[h-1] = nil
			tasks.free = append(tasks.free, h)
		}
	}
	tasks.mu.Unlock()
	if t == nil {
		panic("cfutures: invalid task handle")
	}
	return t
}
