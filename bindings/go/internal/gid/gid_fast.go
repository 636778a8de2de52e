//go:build (amd64 || arm64) && !purego

package gid

// current returns the runtime's g pointer of the running goroutine (gid_*.s). A g is never
// moved and is reused only after its goroutine exits.
func current() uintptr
