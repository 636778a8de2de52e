// Package gid names the running goroutine: an identity unique among live goroutines (two
// goroutines alive at once never share it; one that exited may pass it on), read in a few
// instructions. runtime.Stack's "goroutine N" header costs a traceback, about a third of a
// Go task's CPU when read twice per task.
package gid

// Current is the running goroutine's identity.
func Current() uintptr { return current() }
