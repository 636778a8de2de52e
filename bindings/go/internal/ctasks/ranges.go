package ctasks

/*
#include <stddef.h>
#include <stdint.h>

// ctx is an int64_t array: squares [begin, end) in place.
static int32_t ct_square_range(void *ctx, size_t begin, size_t end) {
	int64_t *a = ctx;
	for (size_t i = begin; i < end; i++) a[i] *= a[i];
	return 0;
}

// Fails with code 9 on the range holding index 1000.
static int32_t ct_fail_range(void *ctx, size_t begin, size_t end) {
	(void)ctx;
	return begin <= 1000 && 1000 < end ? 9 : 0;
}

static void *ct_square_range_ptr(void) { return (void *)ct_square_range; }
static void *ct_fail_range_ptr(void) { return (void *)ct_fail_range; }
*/
import "C"

import "unsafe"

// SquareRange is a cfut_range_fn squaring int64s in place: ctx is the array.
var SquareRange = unsafe.Pointer(C.ct_square_range_ptr())

// FailRange is a cfut_range_fn returning 9 for the range that holds index 1000.
var FailRange = unsafe.Pointer(C.ct_fail_range_ptr())
