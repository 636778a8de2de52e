package cfutures

/*
#include "shim.h"
*/
import "C"

import (
	"os"
	"sync"
	"unsafe"
)

// The completion port's Go side: one goroutine, started at the first submit, takes batches
// of completed futures queued by the C done-callback (shim.c) and settles them. Between
// batches it waits on an eventfd through Go's netpoller, holding neither a thread nor a P.

var dispatcherOnce sync.Once

func startDispatcher() {
	dispatcherOnce.Do(func() {
		fd := C.cfutgo_port_init()
		if fd < 0 {
			panic("cfutures: eventfd failed")
		}
		go dispatch(os.NewFile(uintptr(fd), "cfutures-completions"))
	})
}

func dispatch(wake *os.File) {
	var buf [8]byte
	for {
		var n C.size_t
		p := C.cfutgo_port_take(&n)
		if n == 0 {
			if _, err := wake.Read(buf[:]); err != nil {
				panic("cfutures: reading the completion eventfd: " + err.Error())
			}
			continue
		}
		items := unsafe.Slice(p, int(n))
		for i := range items {
			it := &items[i]
			t := taskHandle(it.handle).take()
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
