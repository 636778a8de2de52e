//go:build cgo && !cfutures_pkgconfig

package ctasks

// In-tree linking (the default): the header from include/ and the shared library from
// target/release (built by `make lib` at the repository root), found at run time through
// an rpath, so `go test` and `go run` work without installing anything.

/*
#cgo CFLAGS: -I${SRCDIR}/../../../../include
#cgo LDFLAGS: -L${SRCDIR}/../../../../target/release -lcfutures -Wl,-rpath,${SRCDIR}/../../../../target/release
*/
import "C"
