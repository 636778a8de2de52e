package cfutures

/*
#include "shim.h"
*/
import "C"

import (
	"runtime/cgo"
	"sync"
	"unsafe"
)

// The completion port's Go side: one goroutine takes batches of completed futures queued
// by the C done-callback (shim.c) and settles them. It blocks in C between batches, so it
// holds one OS thread for the life of the process, started at the first submit.

var dispatcherOnce sync.Once

func startDispatcher() { dispatcherOnce.Do(func() { go dispatch() }) }

func dispatch() {
	for {
		var n C.size_t
		p := C.cfutgo_port_take(&n)
		items := unsafe.Slice(p, int(n))
		for i := range items {
			it := &items[i]
			h := cgo.Handle(it.handle)
			t := h.Value().(goTask)
			h.Delete()
			d := doneInfo{
				cancelled: it.status == C.CFUT_CANCELLED,
				status:    it.error.status,
				code:      it.error.code,
				message:   it.error.message,
				data:      unsafe.Pointer(it.data),
				len:       it.len,
			}
			if t.onDone(&d) {
				it.drop_owner = 1
			}
		}
		C.cfutgo_port_release(p, n) // the futures' messages and bytes were copied above
	}
}
