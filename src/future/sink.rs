//! What a task produces: its value or error, and the sink (the C `cfut_result`) it writes
//! them into.

use super::*;

/// A successful result.
#[derive(Default)]
pub enum Value {
    #[default]
    Empty,
    /// A foreign pointer (length 0), dropped with its destructor when the future goes.
    Foreign(Owned),
    Bytes(Box<[u8]>),
    /// A Rust value, for the core's own users (e.g. map chunk reports).
    Any(Box<dyn Any + Send + Sync>),
}

static EMPTY_BYTES: [u8; 1] = [0];

impl Value {
    /// The (pointer, length) pair the C API hands out. Zero-length bytes get a valid
    /// non-NULL pointer, so "no value" and "empty bytes" stay distinguishable.
    pub fn as_ptr_len(&self) -> (*const c_void, usize) {
        match self {
            Value::Empty | Value::Any(_) => (std::ptr::null(), 0),
            Value::Foreign(o) => (o.as_ptr() as *const c_void, 0),
            Value::Bytes(b) if b.is_empty() => (EMPTY_BYTES.as_ptr() as *const c_void, 0),
            Value::Bytes(b) => (b.as_ptr() as *const c_void, b.len()),
        }
    }

    pub fn downcast_ref<T: Any>(&self) -> Option<&T> {
        match self {
            Value::Any(b) => b.downcast_ref(),
            _ => None,
        }
    }
}

/// Why a future failed.
pub struct TaskError {
    /// `TaskFailed`, `WorkerDied` or `Broken`.
    pub status: Status,
    pub code: i32,
    pub message: Option<CString>,
    pub payload: Option<Owned>,
}

impl TaskError {
    pub fn new(status: Status, code: i32, message: Option<&str>) -> TaskError {
        TaskError {
            status,
            code,
            message: message.map(to_cstring),
            payload: None,
        }
    }
}

/// A message as a C string; interior NULs (impossible from C) are cut.
pub fn to_cstring(s: &str) -> CString {
    let end = s.find('\0').unwrap_or(s.len());
    CString::new(&s[..end]).unwrap_or_default()
}

pub type Outcome = Result<Value, TaskError>;

/// An outcome as a future stores it: the error boxed, so a future that succeeds (the common
/// case) does not carry the error's room.
pub(super) type Stored = Result<Value, Box<TaskError>>;

/// What a running task writes its result into (the C `cfut_result`).
pub struct Sink {
    value: Value,
    error: Option<(i32, Option<CString>)>,
    payload: Option<Owned>,
    pointers_allowed: bool,
}

impl Sink {
    /// `pointers_allowed` is false where only bytes can cross (process pools).
    pub fn new(pointers_allowed: bool) -> Sink {
        Sink {
            value: Value::Empty,
            error: None,
            payload: None,
            pointers_allowed,
        }
    }

    /// Replaces the value (a previous value is dropped now).
    pub fn set_value(&mut self, value: Owned) -> Status {
        if !self.pointers_allowed {
            return Status::Unsupported;
        }
        self.value = Value::Foreign(value);
        Status::Ok
    }

    pub fn set_bytes(&mut self, bytes: &[u8]) {
        self.value = Value::Bytes(bytes.into());
    }

    pub fn set_any(&mut self, v: Box<dyn Any + Send + Sync>) {
        self.value = Value::Any(v);
    }

    /// Marks the task failed with this code and message.
    pub fn set_error(&mut self, code: i32, message: Option<&CStr>) {
        self.error = Some((code, message.map(CStr::to_owned)));
    }

    pub fn set_error_payload(&mut self, payload: Owned) -> Status {
        if !self.pointers_allowed {
            return Status::Unsupported;
        }
        self.payload = Some(payload);
        if self.error.is_none() {
            self.error = Some((0, None));
        }
        Status::Ok
    }

    /// The outcome of a task that returned `rc`: a non-zero return or a recorded error fails
    /// it, and the non-zero return wins for the code.
    pub fn into_outcome(self, rc: i32) -> Outcome {
        if rc == 0 && self.error.is_none() {
            return Ok(self.value);
        }
        let (code, message) = self.error.unwrap_or((rc, None));
        Err(TaskError {
            status: Status::TaskFailed,
            code: if rc != 0 { rc } else { code },
            message,
            payload: self.payload,
        })
    }
}
