//! Errors: libzmq errnos as `io::Error`, and the library's own misuse errors.
//!
//! POSIX errnos become `io::Error::from_raw_os_error`, so `raw_os_error()` and
//! `kind()` work as for any system call. libzmq's own errnos (EFSM, ENOCOMPATPROTO,
//! ETERM, EMTHREAD) have no `ErrorKind`; they carry their number and libzmq's
//! message in a [`ZmqError`] payload. [`zmq_errno`] reads the number back from either.

use std::error::Error as StdError;
use std::fmt;
use std::io;

use crate::errno::ZMQ_HAUSNUMERO;
pub use crate::errno::*;

/// POSIX `EAGAIN` on Linux and the BSDs' `EWOULDBLOCK` share this meaning; the
/// core needs only to recognise it, which `ErrorKind::WouldBlock` does portably.
fn is_libzmq_own(errno: i32) -> bool {
    errno > ZMQ_HAUSNUMERO
}

/// An errno with its text: libzmq's own numbers (which have no `ErrorKind`),
/// or a POSIX number this library reports with a message saying what was wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZmqError {
    errno: i32,
    detail: Option<String>,
}

impl ZmqError {
    /// libzmq's errno.
    pub fn errno(&self) -> i32 {
        self.errno
    }

    fn message(&self) -> &'static str {
        // The texts of libzmq 4.3's zmq_strerror.
        match self.errno {
            EFSM => "Operation cannot be accomplished in current state",
            ENOCOMPATPROTO => "The protocol is not compatible with the socket type",
            ETERM => "Context was terminated",
            EMTHREAD => "No thread available",
            n if n == ZMQ_HAUSNUMERO + 1 => "Not supported",
            n if n == ZMQ_HAUSNUMERO + 2 => "Protocol not supported",
            n if n == ZMQ_HAUSNUMERO + 3 => "No buffer space available",
            n if n == ZMQ_HAUSNUMERO + 4 => "Network is down",
            n if n == ZMQ_HAUSNUMERO + 5 => "Address in use",
            n if n == ZMQ_HAUSNUMERO + 6 => "Address not available",
            n if n == ZMQ_HAUSNUMERO + 7 => "Connection refused",
            n if n == ZMQ_HAUSNUMERO + 8 => "Operation in progress",
            _ => "Unknown libzmq error",
        }
    }
}

impl fmt::Display for ZmqError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.detail {
            Some(detail) => write!(f, "{detail} (errno {})", self.errno),
            None => write!(f, "{} (libzmq errno {})", self.message(), self.errno),
        }
    }
}

impl StdError for ZmqError {}

/// The `io::Error` for an errno that libzmq reported.
pub fn from_errno(errno: i32) -> io::Error {
    if is_libzmq_own(errno) {
        let kind = match errno {
            ETERM => io::ErrorKind::NotConnected,
            n if n == ZMQ_HAUSNUMERO + 1 || n == ZMQ_HAUSNUMERO + 2 => io::ErrorKind::Unsupported,
            _ => io::ErrorKind::Other,
        };
        io::Error::new(
            kind,
            ZmqError {
                errno,
                detail: None,
            },
        )
    } else {
        io::Error::from_raw_os_error(errno)
    }
}

/// The errno behind an error that came from libzmq: POSIX ones like `EINVAL` and
/// libzmq's own like [`EFSM`] and [`ETERM`]. `None` for this library's own
/// misuse errors (`InvalidInput`, `Unsupported`, `NotConnected`, …).
pub fn zmq_errno(err: &io::Error) -> Option<i32> {
    if let Some(raw) = err.raw_os_error() {
        return Some(raw);
    }
    err.get_ref()
        .and_then(|inner| inner.downcast_ref::<ZmqError>())
        .map(ZmqError::errno)
}

/// `ErrorKind::InvalidInput` with a message saying what was wrong.
pub fn invalid_input(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg.into())
}

/// `ErrorKind::InvalidInput` that also carries libzmq's `EINVAL`, for input
/// the library rejects before libzmq would (a malformed endpoint): the kind,
/// the errno and a message that says what was wrong.
pub fn invalid_argument(msg: impl Into<String>) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        ZmqError {
            errno: EINVAL,
            detail: Some(msg.into()),
        },
    )
}

/// `ErrorKind::TimedOut`: `close()` gave up flushing.
pub fn timed_out(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, msg.into())
}

/// `ErrorKind::Unsupported`: the socket type has no such operation.
pub fn unsupported(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::Unsupported, msg.into())
}

/// `ErrorKind::NotConnected`: the transport was closed, aborted or lost.
pub fn not_connected(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, msg.into())
}

/// Whether an errno means "try again later" (`EAGAIN`) rather than failure.
pub fn is_would_block(errno: i32) -> bool {
    errno == EAGAIN || errno == libc::EWOULDBLOCK
}

/// Whether an errno means "interrupted, just retry" (`EINTR`); never surfaced to users.
pub fn is_interrupted(errno: i32) -> bool {
    errno == EINTR
}

/// Errnos with which libzmq rejects one message on its own, leaving the
/// socket usable: a REQ/REP out of turn (`EFSM`), a ROUTER_MANDATORY peer
/// that is not there (`EHOSTUNREACH`).
pub fn rejects_only_the_message(errno: i32) -> bool {
    errno == EFSM || errno == EHOSTUNREACH
}

/// A copy of an error for a second receiver, keeping kind, errno and message.
pub fn duplicate(err: &io::Error) -> io::Error {
    match err.get_ref().and_then(|e| e.downcast_ref::<ZmqError>()) {
        Some(zmq) => io::Error::new(err.kind(), zmq.clone()),
        None => match err.raw_os_error() {
            Some(errno) => from_errno(errno),
            None => io::Error::new(err.kind(), err.to_string()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn posix_errnos_keep_raw_os_error() {
        let e = from_errno(EINVAL);
        assert_eq!(e.raw_os_error(), Some(EINVAL));
        assert_eq!(zmq_errno(&e), Some(EINVAL));
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    }

    #[test]
    fn libzmq_errnos_keep_number_and_message() {
        for (errno, text) in [
            (EFSM, "Operation cannot be accomplished in current state"),
            (
                ENOCOMPATPROTO,
                "The protocol is not compatible with the socket type",
            ),
            (ETERM, "Context was terminated"),
            (EMTHREAD, "No thread available"),
        ] {
            let e = from_errno(errno);
            assert_eq!(zmq_errno(&e), Some(errno));
            assert_eq!(e.raw_os_error(), None);
            assert!(e.to_string().contains(text), "{e}");
        }
        assert_eq!(from_errno(ETERM).kind(), io::ErrorKind::NotConnected);
    }

    #[test]
    fn own_errors_have_no_errno() {
        assert_eq!(zmq_errno(&invalid_input("x")), None);
        assert_eq!(zmq_errno(&unsupported("x")), None);
    }

    #[test]
    fn classification_uses_this_platforms_numbers() {
        assert!(is_would_block(libc::EAGAIN));
        assert!(!is_would_block(EFSM));
        assert!(is_interrupted(libc::EINTR));
        assert!(!is_interrupted(EINVAL));
        assert!(rejects_only_the_message(libc::EHOSTUNREACH));
        assert!(rejects_only_the_message(EFSM));
        assert!(!rejects_only_the_message(ETERM));
        assert_eq!(
            from_errno(EHOSTUNREACH).kind(),
            io::ErrorKind::HostUnreachable
        );
    }

    #[test]
    fn invalid_argument_has_kind_errno_and_message() {
        let e = invalid_argument("endpoint \"tcp://\" has no address");
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        assert_eq!(zmq_errno(&e), Some(EINVAL));
        assert!(e.to_string().contains("no address"), "{e}");
        let d = duplicate(&e);
        assert_eq!((d.kind(), zmq_errno(&d)), (e.kind(), Some(EINVAL)));
        assert_eq!(d.to_string(), e.to_string());
    }

    #[test]
    fn duplicate_keeps_errno_and_kind() {
        let d = duplicate(&from_errno(EFSM));
        assert_eq!(zmq_errno(&d), Some(EFSM));
        let d = duplicate(&invalid_input("bad"));
        assert_eq!(d.kind(), io::ErrorKind::InvalidInput);
        assert_eq!(d.to_string(), "bad");
    }
}
