//! The C ABI. Every exported function sits in a panic boundary; every pointer conversion
//! goes through one of the helpers below. Doc comments here become `include/cfutures.h`.
#![allow(non_camel_case_types)]

use std::ffi::c_void;
use std::mem::ManuallyDrop;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use crate::foreign::Owned;
use crate::future::{Future, Inner, Sink};
use crate::status::Status;

pub mod status;
pub mod result;
pub mod future;
pub mod executor;
pub mod wait;
pub mod map;
pub mod process;
pub mod group;
pub mod cq;
pub mod mpi;
pub mod parallel;
pub mod flow;
pub mod stats;
pub(crate) mod last_error;

pub use self::status::cfut_status;

/// A destructor for a pointer handed to the library. Called exactly once, on whichever
/// thread drops the last use of the pointer.
pub type cfut_drop_fn = Option<unsafe extern "C" fn(ptr: *mut c_void)>;

/// Runs `f`, turning a panic into `on_panic`: no panic ever crosses the C boundary.
pub(crate) fn guard<R>(on_panic: R, f: impl FnOnce() -> R) -> R {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(on_panic)
}

/// `guard` for functions returning a status.
pub(crate) fn guard_status(f: impl FnOnce() -> Result<(), Status>) -> cfut_status {
    guard_error(|| f().map_err(crate::error::Error::from))
}

/// `guard` for functions returning a status: a core error's message becomes the thread's
/// last-error message.
pub(crate) fn guard_error(f: impl FnOnce() -> Result<(), crate::error::Error>) -> cfut_status {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => Status::Ok as cfut_status,
        Ok(Err(e)) => last_error::record(e) as cfut_status,
        Err(_) => Status::Panic as cfut_status,
    }
}

/// Takes ownership of a foreign pointer and its destructor.
pub(crate) fn owned(ptr: *mut c_void, drop: cfut_drop_fn) -> Owned {
    // SAFETY: the C contract of every function taking a (pointer, drop) pair says the drop
    // function may be called once with the pointer from any thread.
    unsafe { Owned::new(ptr, drop) }
}

/// Fails with `InvalidArgument` when `p` is NULL.
pub(crate) fn non_null<T>(p: *const T) -> Result<(), Status> {
    if p.is_null() { Err(Status::InvalidArgument) } else { Ok(()) }
}

/// Writes `value` through an out-pointer that was checked non-NULL.
pub(crate) fn write_out<T>(out: *mut T, value: T) {
    // SAFETY: callers check `out` for NULL; the C caller promises it points to a T.
    unsafe { out.write(value) }
}

/// Writes through an optional out-pointer.
pub(crate) fn write_opt<T>(out: *mut T, value: T) {
    if !out.is_null() {
        write_out(out, value)
    }
}

/// A future handle as seen from C.
pub struct cfut_future {
    _private: [u8; 0],
}

/// Borrows the future behind a handle without touching its reference count.
pub(crate) fn future_ref(p: *const cfut_future) -> Result<ManuallyDrop<Future>, Status> {
    non_null(p)?;
    // SAFETY: a non-NULL handle came from `future_into_raw` and the caller holds a reference.
    Ok(ManuallyDrop::new(Future(unsafe { Arc::from_raw(p as *const Inner) })))
}

/// Hands one reference to C.
pub(crate) fn future_into_raw(f: Future) -> *mut cfut_future {
    // The reference stays counted for C (`Future` has a drop, so its Arc cannot move out).
    let f = ManuallyDrop::new(f);
    Arc::as_ptr(&f.0) as *mut cfut_future
}

/// Hands the caller a new reference through an optional out-pointer (NULL: dropped).
pub(crate) fn give_future(f: Future, future_out: *mut *mut cfut_future) {
    if !future_out.is_null() {
        write_out(future_out, future_into_raw(f));
    }
}

/// The handle C code sees for a future we hold (no reference is transferred).
pub(crate) fn future_as_raw(f: &Future) -> *mut cfut_future {
    Arc::as_ptr(&f.0) as *mut cfut_future
}

/// Takes back one reference given to C.
pub(crate) fn future_release(p: *const cfut_future) {
    if !p.is_null() {
        // SAFETY: the caller gives up one reference obtained from `future_into_raw`. Dropped
        // as a `Future`: the last handle keeps its block for the thread's next future.
        drop(Future(unsafe { Arc::from_raw(p as *const Inner) }))
    }
}

/// Borrows an array of handles; NULL entries are invalid.
pub(crate) fn future_array(fs: *const *mut cfut_future, count: usize) -> Result<Vec<ManuallyDrop<Future>>, Status> {
    if count == 0 {
        return Ok(Vec::new());
    }
    non_null(fs)?;
    // SAFETY: the caller passes `count` readable handles.
    let raw = unsafe { std::slice::from_raw_parts(fs, count) };
    raw.iter().map(|p| future_ref(*p)).collect()
}

/// The sink a running task writes its result into, as seen from C.
pub struct cfut_result {
    _private: [u8; 0],
}

/// The sink behind a `cfut_result` lent to a running task.
pub(crate) fn sink_mut<'a>(p: *mut cfut_result) -> Result<&'a mut Sink, Status> {
    non_null(p)?;
    // SAFETY: the core lends a task its `*mut Sink` as the `cfut_result *` (task.rs), valid
    // only during the task call.
    Ok(unsafe { &mut *(p as *mut Sink) })
}

/// The sink behind a `cfut_result` lent to a running task, read only.
pub(crate) fn sink_ref<'a>(p: *const cfut_result) -> Result<&'a Sink, Status> {
    non_null(p)?;
    // SAFETY: as `sink_mut`; only read.
    Ok(unsafe { &*(p as *const Sink) })
}

/// Reads a C string argument (NULL allowed).
pub(crate) fn c_str<'a>(p: *const std::ffi::c_char) -> Option<&'a std::ffi::CStr> {
    // SAFETY: the caller passes NULL or a NUL-terminated string.
    (!p.is_null()).then(|| unsafe { std::ffi::CStr::from_ptr(p) })
}

/// Reads an options struct whose first field is `struct_size`: `None` for NULL (defaults),
/// `InvalidArgument` for a size this library does not know.
pub(crate) fn read_options<T: Copy>(p: *const T) -> Result<Option<T>, Status> {
    if p.is_null() {
        return Ok(None);
    }
    // SAFETY: every options struct starts with `uint32_t struct_size`.
    let size = unsafe { *(p as *const u32) } as usize;
    if size != std::mem::size_of::<T>() {
        return Err(Status::InvalidArgument);
    }
    // SAFETY: the caller's struct is `size` bytes long, which is a whole T.
    Ok(Some(unsafe { *p }))
}

/// `read_options` for a struct that grew: a caller built against an older header passes
/// one of `older` sizes (each a prefix of the current struct), and the fields it does not
/// know keep their values from `defaults`.
#[allow(dead_code)] // for structs whose older versions end on a field boundary
pub(crate) fn read_options_since<T: Copy>(p: *const T, defaults: T, older: &[usize]) -> Result<Option<T>, Status> {
    if p.is_null() {
        return Ok(None);
    }
    // SAFETY: every options struct starts with `uint32_t struct_size`.
    let size = unsafe { *(p as *const u32) } as usize;
    if size != std::mem::size_of::<T>() && !older.contains(&size) {
        return Err(Status::InvalidArgument);
    }
    let mut out = defaults;
    // SAFETY: the caller's struct is `size` bytes long, a prefix of T (checked above).
    unsafe { std::ptr::copy_nonoverlapping(p as *const u8, &mut out as *mut T as *mut u8, size) };
    Ok(Some(out))
}

/// `read_options_since` for a struct whose last older version ended in padding: each of
/// `older` is (that version's `sizeof`, the bytes of it that are fields). Only the field
/// bytes are copied, so whatever the padding held never lands in a newer field.
pub(crate) fn read_options_grown<T: Copy>(p: *const T, defaults: T, older: &[(usize, usize)]) -> Result<Option<T>, Status> {
    if p.is_null() {
        return Ok(None);
    }
    // SAFETY: every options struct starts with `uint32_t struct_size`.
    let size = unsafe { *(p as *const u32) } as usize;
    let copy = if size == std::mem::size_of::<T>() {
        size
    } else {
        older.iter().find(|(s, _)| *s == size).map(|(_, fields)| *fields).ok_or(Status::InvalidArgument)?
    };
    let mut out = defaults;
    // SAFETY: the caller's struct is `size` bytes long and `copy <= size` bytes of it are a
    // prefix of T's fields (the table above).
    unsafe { std::ptr::copy_nonoverlapping(p as *const u8, &mut out as *mut T as *mut u8, copy) };
    Ok(Some(out))
}

/// Hands a single-owner handle (executor, map, iterator) to C.
pub(crate) fn box_into_raw<T>(value: T) -> *mut T {
    Box::into_raw(Box::new(value))
}

/// Borrows the value behind a single-owner handle.
pub(crate) fn box_ref<'a, T>(p: *const T) -> Result<&'a T, Status> {
    non_null(p)?;
    // SAFETY: a non-NULL handle came from `box_into_raw` and is not yet freed.
    Ok(unsafe { &*p })
}

/// Borrows the value behind a single-owner handle used by one thread at a time.
pub(crate) fn box_mut<'a, T>(p: *mut T) -> Result<&'a mut T, Status> {
    non_null(p)?;
    // SAFETY: as `box_ref`; the handle's contract gives this thread sole use during the call.
    Ok(unsafe { &mut *p })
}

/// Takes back a single-owner handle (NULL: `None`).
pub(crate) fn box_take<T>(p: *mut T) -> Option<Box<T>> {
    // SAFETY: a non-NULL handle came from `box_into_raw` and the C caller frees it once.
    (!p.is_null()).then(|| unsafe { Box::from_raw(p) })
}

/// Hands a shared-ownership handle (a group) to C as an opaque `H`: C holds one reference.
pub(crate) fn arc_into_raw<T, H>(value: Arc<T>) -> *mut H {
    Arc::into_raw(value) as *mut H
}

/// Borrows the value behind a shared-ownership handle without touching its count.
pub(crate) fn arc_ref<T, H>(p: *const H) -> Result<ManuallyDrop<Arc<T>>, Status> {
    non_null(p)?;
    // SAFETY: a non-NULL handle came from `arc_into_raw::<T, H>` and C still holds it.
    Ok(ManuallyDrop::new(unsafe { Arc::from_raw(p as *const T) }))
}

/// Takes back C's reference to a shared-ownership handle (NULL: `None`).
pub(crate) fn arc_take<T, H>(p: *mut H) -> Option<Arc<T>> {
    // SAFETY: a non-NULL handle came from `arc_into_raw::<T, H>`; C gives up its reference once.
    (!p.is_null()).then(|| unsafe { Arc::from_raw(p as *const T) })
}

/// Borrows `len` bytes the caller passes in (NULL allowed when `len` is 0).
pub(crate) fn bytes_in<'a>(p: *const c_void, len: usize) -> Result<&'a [u8], Status> {
    if len == 0 {
        return Ok(&[]);
    }
    non_null(p)?;
    // No object is larger (a slice may not be): a length past it is a caller's mistake.
    if len > isize::MAX as usize {
        return Err(Status::InvalidArgument);
    }
    // SAFETY: the caller passes `len` readable bytes that outlive the call.
    Ok(unsafe { std::slice::from_raw_parts(p as *const u8, len) })
}

/// Copies `values` into a caller's array of at least `values.len()` elements (NULL: nothing).
pub(crate) fn write_slice<T: Copy>(out: *mut T, values: &[T]) {
    if !out.is_null() {
        // SAFETY: the C caller passes room for `values.len()` elements.
        unsafe { std::ptr::copy_nonoverlapping(values.as_ptr(), out, values.len()) }
    }
}

/// Lends a caller's array of `len` elements for the library to fill (NULL allowed when
/// `len` is 0). Its contents need not be initialised.
pub(crate) fn slice_out<'a, T>(p: *mut T, len: usize) -> Result<&'a mut [std::mem::MaybeUninit<T>], Status> {
    if len == 0 {
        return Ok(&mut []);
    }
    non_null(p)?;
    // SAFETY: the C caller passes room for `len` elements, used by nothing else during the
    // call; `MaybeUninit` makes no claim about their contents.
    Ok(unsafe { std::slice::from_raw_parts_mut(p.cast(), len) })
}

/// A bytes task as the core calls it: same ABI, the `cfut_result *` is the core's sink.
pub(crate) fn bytes_fn(f: unsafe extern "C" fn(*const c_void, usize, *mut cfut_result) -> i32) -> crate::task::BytesFn {
    // SAFETY: both are `int (*)(const void *, size_t, T *)` with T an opaque struct pointer;
    // the core passes a `Sink` where C sees a `cfut_result` (task.rs).
    unsafe { std::mem::transmute::<unsafe extern "C" fn(*const c_void, usize, *mut cfut_result) -> i32, crate::task::BytesFn>(f) }
}

/// A pointer task as the core calls it: same ABI, the `cfut_result *` is the core's sink.
pub(crate) fn task_fn(f: unsafe extern "C" fn(*mut c_void, *mut cfut_result) -> i32) -> crate::future::ForeignFn {
    // SAFETY: both are `int (*)(void *, T *)` with T an opaque struct pointer; the core passes
    // a `Sink` where C sees a `cfut_result` (task.rs).
    unsafe { std::mem::transmute::<unsafe extern "C" fn(*mut c_void, *mut cfut_result) -> i32, crate::future::ForeignFn>(f) }
}

/// A raw pointer moved into a task that runs on another thread.
#[derive(Clone, Copy)]
pub(crate) struct SendPtr(pub *mut u8);
// SAFETY: the C caller promises the memory stays valid and may be used from workers.
unsafe impl Send for SendPtr {}
// SAFETY: as above.
unsafe impl Sync for SendPtr {}

impl SendPtr {
    /// Read through a method so closures capture the whole wrapper, not the raw field.
    pub fn get(self) -> *mut u8 {
        self.0
    }
}
