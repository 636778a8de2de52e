//! Status codes, their names, and the library version.

use std::ffi::c_char;

use crate::status::Status;

/// Every fallible function returns one of the `CFUT_*` status values defined at the top of
/// this header. Values are pinned forever; new ones may be added.
pub type cfut_status = u32;

/// The name of a status constant, e.g. `"CFUT_TIMEOUT"`, or `"unknown status"`.
/// The string is static: never freed, never NULL. Any thread.
#[no_mangle]
pub extern "C" fn cfut_status_name(status: u32) -> *const c_char {
    match Status::from_u32(status) {
        Some(s) => s.name().as_ptr(),
        None => c"unknown status".as_ptr(),
    }
}

/// A human sentence describing a status, e.g. `"the deadline passed first"`, or
/// `"unknown status"`. The string is static: never freed, never NULL. Any thread.
#[no_mangle]
pub extern "C" fn cfut_status_str(status: u32) -> *const c_char {
    match Status::from_u32(status) {
        Some(s) => s.describe().as_ptr(),
        None => c"unknown status".as_ptr(),
    }
}

/// The version of the loaded library as `major * 10000 + minor * 100 + patch`; compare
/// with `CFUT_VERSION_NUMBER`, the version the program was compiled against.
#[no_mangle]
pub extern "C" fn cfut_version_number() -> u32 {
    let n = |s: &str| s.parse::<u32>().unwrap_or(0);
    n(env!("CARGO_PKG_VERSION_MAJOR")) * 10000
        + n(env!("CARGO_PKG_VERSION_MINOR")) * 100
        + n(env!("CARGO_PKG_VERSION_PATCH"))
}

/// The version of the loaded library as a static string, e.g. `"0.1.0"`. Never NULL.
#[no_mangle]
pub extern "C" fn cfut_version_string() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr() as *const c_char
}
