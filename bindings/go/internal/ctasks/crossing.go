package ctasks

/*
#include <stdint.h>
int ct_crossings_foreign(int n);
int ct_crossings_local(int n);
*/
import "C"

var sink int

//export ctGoNoop
func ctGoNoop(x C.int) { sink += int(x) }

// CrossingsForeign calls an exported Go function n times from a new C thread (a pthread,
// as the library's workers are).
func CrossingsForeign(n int) { C.ct_crossings_foreign(C.int(n)) }

// CrossingsLocal calls an exported Go function n times from C called by Go (a Go thread).
func CrossingsLocal(n int) { C.ct_crossings_local(C.int(n)) }
