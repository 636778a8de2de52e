//go:build !cgo

package cfutures

// cfutures wraps a native library through cgo: build with CGO_ENABLED=1 and a C compiler.
// The undefined name below makes a cgo-less build fail with this message.
var _ = cfutures_requires_cgo__build_with_CGO_ENABLED_1
