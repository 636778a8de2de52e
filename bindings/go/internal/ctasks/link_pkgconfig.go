//go:build cgo && cfutures_pkgconfig

package ctasks

// Installed linking: `go build -tags cfutures_pkgconfig` takes the flags from cfutures.pc
// (installed by `make install PREFIX=...`). Set PKG_CONFIG_PATH to $PREFIX/lib/pkgconfig
// and, for a prefix the dynamic loader does not search, LD_LIBRARY_PATH or
// CGO_LDFLAGS=-Wl,-rpath,$PREFIX/lib.

/*
#cgo pkg-config: cfutures
*/
import "C"
