//! Deadlines computed once from a timeout in nanoseconds.

use std::time::{Duration, Instant};

/// `u64::MAX` nanoseconds means "no limit".
pub const FOREVER: u64 = u64::MAX;

/// A point in time a wait must not pass, fixed when the call starts so that re-waits
/// after spurious wake-ups do not extend it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Deadline {
    /// Check once, never block.
    Poll,
    At(Instant),
    Never,
}

impl Deadline {
    /// `0` polls, `FOREVER` never expires, anything else is counted from now.
    pub fn after_ns(timeout_ns: u64) -> Deadline {
        match timeout_ns {
            0 => Deadline::Poll,
            FOREVER => Deadline::Never,
            ns => match Instant::now().checked_add(Duration::from_nanos(ns)) {
                Some(t) => Deadline::At(t),
                None => Deadline::Never,
            },
        }
    }

    pub fn after(d: Duration) -> Deadline {
        Deadline::after_ns(u64::try_from(d.as_nanos()).unwrap_or(FOREVER - 1).max(1))
    }

    /// True once the deadline has passed (always for `Poll`).
    pub fn expired(&self) -> bool {
        match self {
            Deadline::Poll => true,
            Deadline::At(t) => Instant::now() >= *t,
            Deadline::Never => false,
        }
    }

    /// The instant to block until, or `None` to block without limit.
    pub fn instant(&self) -> Option<Instant> {
        match self {
            Deadline::Poll => Some(Instant::now()),
            Deadline::At(t) => Some(*t),
            Deadline::Never => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_map_to_deadlines() {
        assert_eq!(Deadline::after_ns(0), Deadline::Poll);
        assert_eq!(Deadline::after_ns(FOREVER), Deadline::Never);
        assert!(Deadline::Poll.expired());
        assert!(!Deadline::Never.expired());
        let d = Deadline::after_ns(1_000_000_000);
        assert!(!d.expired());
        assert!(matches!(Deadline::after_ns(FOREVER - 1), Deadline::At(_) | Deadline::Never));
    }
}
