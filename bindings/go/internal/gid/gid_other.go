//go:build !(amd64 || arm64) || purego

package gid

import "runtime"

// current parses the goroutine id from the stack header "goroutine N [" (slow: a traceback).
func current() uintptr {
	var buf [32]byte
	b := buf[:runtime.Stack(buf[:], false)]
	var id uintptr
	for _, c := range b[len("goroutine "):] {
		if c < '0' || c > '9' {
			break
		}
		id = id*10 + uintptr(c-'0')
	}
	return id
}
