//! The core's error: a status and, where it helps the caller, a sentence saying why.
//! The C layer turns it into a `cfut_status` and the thread's last-error message.

use std::borrow::Cow;
use std::fmt;

use crate::status::Status;

/// Why a core call failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    status: Status,
    message: Option<Cow<'static, str>>,
}

impl Error {
    /// A failure with a message for `cfut_last_error_message`.
    pub fn new(status: Status, message: impl Into<Cow<'static, str>>) -> Error {
        Error { status, message: Some(message.into()) }
    }

    /// The status the C caller sees.
    pub fn status(&self) -> Status {
        self.status
    }

    /// The sentence saying why, if the failure has one.
    pub fn message(&self) -> Option<&str> {
        self.message.as_deref()
    }
}

impl From<Status> for Error {
    fn from(status: Status) -> Error {
        Error { status, message: None }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = self.status.name().to_string_lossy();
        match &self.message {
            Some(m) => write!(f, "{name}: {m}"),
            None => write!(f, "{name}"),
        }
    }
}

impl std::error::Error for Error {}

/// A core call's result.
pub type Result<T> = std::result::Result<T, Error>;

/// A copy of a caller's bytes (a task's input or result). The length is the caller's, so
/// the allocation is fallible: `NoMemory` instead of an abort.
pub fn copy_bytes(b: &[u8]) -> Result<Box<[u8]>> {
    let mut v = Vec::new();
    v.try_reserve_exact(b.len())
        .map_err(|_| Error::new(Status::NoMemory, format!("cannot allocate {} bytes for a copy", b.len())))?;
    v.extend_from_slice(b);
    Ok(v.into_boxed_slice())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_converts_and_message_is_kept() {
        let e: Error = Status::Shutdown.into();
        assert_eq!(e.status(), Status::Shutdown);
        assert_eq!(e.message(), None);
        let e = Error::new(Status::Unsupported, "no fork here");
        assert_eq!(e.message(), Some("no fork here"));
        assert_eq!(e.to_string(), "CFUT_UNSUPPORTED: no fork here");
    }
}
