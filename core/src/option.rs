//! Socket options: libzmq's numbers, the value type each takes, and checking
//! a value against that type before it reaches libzmq.

use std::fmt;
use std::io;

use bytes::Bytes;

use crate::error;

/// A socket option by its libzmq number. Consts name every option of libzmq 4.3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SockOpt(pub i32);

/// The C type libzmq reads or writes for an option.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OptKind {
    /// `int`.
    Int,
    /// `int64_t`.
    Int64,
    /// `uint64_t`.
    UInt64,
    /// Binary data.
    Bytes,
    /// A character string (libzmq returns it NUL-terminated).
    Str,
}

/// The value of an option; which variant an option takes is [`SockOpt::kind`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum OptValue {
    /// For [`OptKind::Int`] options.
    Int(i32),
    /// For [`OptKind::Int64`] options.
    Int64(i64),
    /// For [`OptKind::UInt64`] options.
    UInt64(u64),
    /// For [`OptKind::Bytes`] options.
    Bytes(Bytes),
    /// For [`OptKind::Str`] options.
    Str(String),
}

impl OptValue {
    /// The integer, for any integer variant that fits `i64`.
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            OptValue::Int(v) => Some(v.into()),
            OptValue::Int64(v) => Some(v),
            OptValue::UInt64(v) => i64::try_from(v).ok(),
            _ => None,
        }
    }

    /// The bytes of a `Bytes` or `Str` value.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            OptValue::Bytes(b) => Some(b),
            OptValue::Str(s) => Some(s.as_bytes()),
            _ => None,
        }
    }

    fn variant(&self) -> &'static str {
        match self {
            OptValue::Int(_) => "Int",
            OptValue::Int64(_) => "Int64",
            OptValue::UInt64(_) => "UInt64",
            OptValue::Bytes(_) => "Bytes",
            OptValue::Str(_) => "Str",
        }
    }
}

impl From<i32> for OptValue {
    fn from(v: i32) -> Self {
        OptValue::Int(v)
    }
}
impl From<i64> for OptValue {
    fn from(v: i64) -> Self {
        OptValue::Int64(v)
    }
}
impl From<u64> for OptValue {
    fn from(v: u64) -> Self {
        OptValue::UInt64(v)
    }
}
impl From<&str> for OptValue {
    fn from(v: &str) -> Self {
        OptValue::Str(v.to_owned())
    }
}
impl From<String> for OptValue {
    fn from(v: String) -> Self {
        OptValue::Str(v)
    }
}
impl From<Bytes> for OptValue {
    fn from(v: Bytes) -> Self {
        OptValue::Bytes(v)
    }
}
impl From<&[u8]> for OptValue {
    fn from(v: &[u8]) -> Self {
        OptValue::Bytes(Bytes::copy_from_slice(v))
    }
}

macro_rules! options {
    ($( $(#[$doc:meta])* $name:ident = $num:literal : $kind:ident ; )*) => {
        impl SockOpt {
            $( $(#[$doc])* pub const $name: SockOpt = SockOpt($num); )*

            /// Every option this table knows, with its name.
            pub const KNOWN: &'static [(SockOpt, &'static str)] = &[ $( (SockOpt($num), stringify!($name)), )* ];

            /// The value type libzmq uses for this option, `None` for a number
            /// this table does not know.
            pub fn kind(self) -> Option<OptKind> {
                match self.0 {
                    $( $num => Some(OptKind::$kind), )*
                    _ => None,
                }
            }

            /// libzmq's name without the `ZMQ_` prefix, if known.
            pub fn name(self) -> Option<&'static str> {
                match self.0 {
                    $( $num => Some(stringify!($name)), )*
                    _ => None,
                }
            }
        }
    };
}

options! {
    /// `ZMQ_AFFINITY`: I/O thread affinity bitmask.
    AFFINITY = 4: UInt64;
    /// `ZMQ_ROUTING_ID` (formerly `ZMQ_IDENTITY`).
    ROUTING_ID = 5: Bytes;
    /// `ZMQ_SUBSCRIBE`: add a message filter (SUB). Prefer `subscribe()`, which keeps `subscriptions()`.
    SUBSCRIBE = 6: Bytes;
    /// `ZMQ_UNSUBSCRIBE`: remove a message filter (SUB).
    UNSUBSCRIBE = 7: Bytes;
    /// `ZMQ_RATE`: multicast data rate, kbit/s.
    RATE = 8: Int;
    /// `ZMQ_RECOVERY_IVL`: multicast recovery interval, ms.
    RECOVERY_IVL = 9: Int;
    /// `ZMQ_SNDBUF`: kernel send buffer size.
    SNDBUF = 11: Int;
    /// `ZMQ_RCVBUF`: kernel receive buffer size.
    RCVBUF = 12: Int;
    /// `ZMQ_RCVMORE`: more frames of the current message follow.
    RCVMORE = 13: Int;
    /// `ZMQ_FD`: the socket's signalling file descriptor.
    FD = 14: Int;
    /// `ZMQ_EVENTS`: `POLLIN` (1) / `POLLOUT` (2) readiness.
    EVENTS = 15: Int;
    /// `ZMQ_TYPE`: the socket type.
    TYPE = 16: Int;
    /// `ZMQ_LINGER`: how long unsent messages outlive close, ms (-1 forever).
    LINGER = 17: Int;
    /// `ZMQ_RECONNECT_IVL`: reconnect interval, ms.
    RECONNECT_IVL = 18: Int;
    /// `ZMQ_BACKLOG`: listen backlog.
    BACKLOG = 19: Int;
    /// `ZMQ_RECONNECT_IVL_MAX`: upper bound of the reconnect back-off, ms.
    RECONNECT_IVL_MAX = 21: Int;
    /// `ZMQ_MAXMSGSIZE`: largest inbound message, bytes (-1 unlimited).
    MAXMSGSIZE = 22: Int64;
    /// `ZMQ_SNDHWM`: send high-water mark, messages.
    SNDHWM = 23: Int;
    /// `ZMQ_RCVHWM`: receive high-water mark, messages.
    RCVHWM = 24: Int;
    /// `ZMQ_MULTICAST_HOPS`.
    MULTICAST_HOPS = 25: Int;
    /// `ZMQ_RCVTIMEO`: receive timeout, ms (drivers never block in libzmq).
    RCVTIMEO = 27: Int;
    /// `ZMQ_SNDTIMEO`: send timeout, ms (drivers never block in libzmq).
    SNDTIMEO = 28: Int;
    /// `ZMQ_IPV4ONLY` (deprecated; use `IPV6`).
    IPV4ONLY = 31: Int;
    /// `ZMQ_LAST_ENDPOINT`: the endpoint of the last bind or connect.
    LAST_ENDPOINT = 32: Str;
    /// `ZMQ_ROUTER_MANDATORY`: unroutable messages fail with `EHOSTUNREACH`.
    ROUTER_MANDATORY = 33: Int;
    /// `ZMQ_TCP_KEEPALIVE`.
    TCP_KEEPALIVE = 34: Int;
    /// `ZMQ_TCP_KEEPALIVE_CNT`.
    TCP_KEEPALIVE_CNT = 35: Int;
    /// `ZMQ_TCP_KEEPALIVE_IDLE`.
    TCP_KEEPALIVE_IDLE = 36: Int;
    /// `ZMQ_TCP_KEEPALIVE_INTVL`.
    TCP_KEEPALIVE_INTVL = 37: Int;
    /// `ZMQ_TCP_ACCEPT_FILTER` (deprecated).
    TCP_ACCEPT_FILTER = 38: Str;
    /// `ZMQ_IMMEDIATE`: queue only to completed connections.
    IMMEDIATE = 39: Int;
    /// `ZMQ_XPUB_VERBOSE`: pass on duplicate subscriptions (XPUB).
    XPUB_VERBOSE = 40: Int;
    /// `ZMQ_ROUTER_RAW` (deprecated; use STREAM).
    ROUTER_RAW = 41: Int;
    /// `ZMQ_IPV6`: enable IPv6.
    IPV6 = 42: Int;
    /// `ZMQ_MECHANISM`: the security mechanism in use.
    MECHANISM = 43: Int;
    /// `ZMQ_PLAIN_SERVER`.
    PLAIN_SERVER = 44: Int;
    /// `ZMQ_PLAIN_USERNAME`.
    PLAIN_USERNAME = 45: Str;
    /// `ZMQ_PLAIN_PASSWORD`.
    PLAIN_PASSWORD = 46: Str;
    /// `ZMQ_CURVE_SERVER` (needs libzmq with CURVE: `zmq_has("curve")`).
    CURVE_SERVER = 47: Int;
    /// `ZMQ_CURVE_PUBLICKEY`.
    CURVE_PUBLICKEY = 48: Bytes;
    /// `ZMQ_CURVE_SECRETKEY`.
    CURVE_SECRETKEY = 49: Bytes;
    /// `ZMQ_CURVE_SERVERKEY`.
    CURVE_SERVERKEY = 50: Bytes;
    /// `ZMQ_PROBE_ROUTER`.
    PROBE_ROUTER = 51: Int;
    /// `ZMQ_REQ_CORRELATE`.
    REQ_CORRELATE = 52: Int;
    /// `ZMQ_REQ_RELAXED`.
    REQ_RELAXED = 53: Int;
    /// `ZMQ_CONFLATE`: keep only the newest message.
    CONFLATE = 54: Int;
    /// `ZMQ_ZAP_DOMAIN`.
    ZAP_DOMAIN = 55: Str;
    /// `ZMQ_ROUTER_HANDOVER`.
    ROUTER_HANDOVER = 56: Int;
    /// `ZMQ_TOS`: IP type-of-service.
    TOS = 57: Int;
    /// `ZMQ_IPC_FILTER_PID` (deprecated).
    IPC_FILTER_PID = 58: Int;
    /// `ZMQ_IPC_FILTER_UID` (deprecated).
    IPC_FILTER_UID = 59: Int;
    /// `ZMQ_IPC_FILTER_GID` (deprecated).
    IPC_FILTER_GID = 60: Int;
    /// `ZMQ_CONNECT_ROUTING_ID`: the peer id for the next connect (ROUTER).
    CONNECT_ROUTING_ID = 61: Bytes;
    /// `ZMQ_GSSAPI_SERVER`.
    GSSAPI_SERVER = 62: Int;
    /// `ZMQ_GSSAPI_PRINCIPAL`.
    GSSAPI_PRINCIPAL = 63: Str;
    /// `ZMQ_GSSAPI_SERVICE_PRINCIPAL`.
    GSSAPI_SERVICE_PRINCIPAL = 64: Str;
    /// `ZMQ_GSSAPI_PLAINTEXT`.
    GSSAPI_PLAINTEXT = 65: Int;
    /// `ZMQ_HANDSHAKE_IVL`: handshake timeout, ms.
    HANDSHAKE_IVL = 66: Int;
    /// `ZMQ_SOCKS_PROXY`.
    SOCKS_PROXY = 68: Str;
    /// `ZMQ_XPUB_NODROP`.
    XPUB_NODROP = 69: Int;
    /// `ZMQ_BLOCKY`.
    BLOCKY = 70: Int;
    /// `ZMQ_XPUB_MANUAL`.
    XPUB_MANUAL = 71: Int;
    /// `ZMQ_XPUB_WELCOME_MSG`.
    XPUB_WELCOME_MSG = 72: Bytes;
    /// `ZMQ_STREAM_NOTIFY`.
    STREAM_NOTIFY = 73: Int;
    /// `ZMQ_INVERT_MATCHING`.
    INVERT_MATCHING = 74: Int;
    /// `ZMQ_HEARTBEAT_IVL`, ms.
    HEARTBEAT_IVL = 75: Int;
    /// `ZMQ_HEARTBEAT_TTL`, ms.
    HEARTBEAT_TTL = 76: Int;
    /// `ZMQ_HEARTBEAT_TIMEOUT`, ms.
    HEARTBEAT_TIMEOUT = 77: Int;
    /// `ZMQ_XPUB_VERBOSER`.
    XPUB_VERBOSER = 78: Int;
    /// `ZMQ_CONNECT_TIMEOUT`, ms.
    CONNECT_TIMEOUT = 79: Int;
    /// `ZMQ_TCP_MAXRT`, ms.
    TCP_MAXRT = 80: Int;
    /// `ZMQ_THREAD_SAFE`.
    THREAD_SAFE = 81: Int;
    /// `ZMQ_MULTICAST_MAXTPDU`.
    MULTICAST_MAXTPDU = 84: Int;
    /// `ZMQ_VMCI_BUFFER_SIZE`.
    VMCI_BUFFER_SIZE = 85: UInt64;
    /// `ZMQ_VMCI_BUFFER_MIN_SIZE`.
    VMCI_BUFFER_MIN_SIZE = 86: UInt64;
    /// `ZMQ_VMCI_BUFFER_MAX_SIZE`.
    VMCI_BUFFER_MAX_SIZE = 87: UInt64;
    /// `ZMQ_VMCI_CONNECT_TIMEOUT`.
    VMCI_CONNECT_TIMEOUT = 88: Int;
    /// `ZMQ_USE_FD`.
    USE_FD = 89: Int;
    /// `ZMQ_GSSAPI_PRINCIPAL_NAMETYPE`.
    GSSAPI_PRINCIPAL_NAMETYPE = 90: Int;
    /// `ZMQ_GSSAPI_SERVICE_PRINCIPAL_NAMETYPE`.
    GSSAPI_SERVICE_PRINCIPAL_NAMETYPE = 91: Int;
    /// `ZMQ_BINDTODEVICE`.
    BINDTODEVICE = 92: Str;
}

impl SockOpt {
    /// `ZMQ_IDENTITY`, the pre-4.2 name of [`SockOpt::ROUTING_ID`].
    pub const IDENTITY: SockOpt = SockOpt(5);

    /// The buffer a getsockopt of this `Bytes`/`Str` option must offer.
    /// libzmq reads CURVE keys back only into 32 bytes (binary) or 41 (Z85
    /// and its NUL) and refuses any other length with `EINVAL`; we ask for
    /// Z85, as pyzmq does, so a key read back can be set again as is.
    pub fn read_buffer_len(self) -> usize {
        if self.is_curve_key() {
            Z85_KEY_LEN + 1
        } else {
            MAX_OPTION_BYTES
        }
    }

    /// Whether this is one of the three CURVE key options, read back as the
    /// key's 40 Z85 characters (without libzmq's trailing NUL).
    pub fn is_curve_key(self) -> bool {
        matches!(
            self,
            SockOpt::CURVE_PUBLICKEY | SockOpt::CURVE_SECRETKEY | SockOpt::CURVE_SERVERKEY
        )
    }
}

/// Characters of a CURVE key in Z85.
pub const Z85_KEY_LEN: usize = 40;

impl fmt::Display for SockOpt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "ZMQ_{name}"),
            None => write!(f, "socket option {}", self.0),
        }
    }
}

/// How many bytes a getsockopt of a `Bytes`/`Str` option may need: the
/// longest is `LAST_ENDPOINT` of an ipc path.
pub const MAX_OPTION_BYTES: usize = 1024;

/// Checks a value against the option's type and returns it in that type.
///
/// Integer variants convert where the number fits; a `Str` is accepted for a
/// `Bytes` option. Anything else is `InvalidInput` naming the option and both
/// types. An option this table does not know is passed to libzmq as given.
pub fn coerce(opt: SockOpt, value: OptValue) -> io::Result<OptValue> {
    let Some(kind) = opt.kind() else {
        return Ok(value);
    };
    let mismatch = |v: &OptValue| {
        error::invalid_input(format!(
            "{opt} takes a {kind:?} value, not {} ({v:?})",
            v.variant()
        ))
    };
    let out_of_range =
        |v: &OptValue| error::invalid_input(format!("{v:?} is out of range for {opt} ({kind:?})"));
    Ok(match kind {
        OptKind::Int => {
            let n = value.as_i64().ok_or_else(|| mismatch(&value))?;
            OptValue::Int(i32::try_from(n).map_err(|_| out_of_range(&value))?)
        }
        OptKind::Int64 => OptValue::Int64(value.as_i64().ok_or_else(|| mismatch(&value))?),
        OptKind::UInt64 => match value {
            OptValue::UInt64(v) => OptValue::UInt64(v),
            ref v => {
                let n = v.as_i64().ok_or_else(|| mismatch(v))?;
                OptValue::UInt64(u64::try_from(n).map_err(|_| out_of_range(v))?)
            }
        },
        OptKind::Bytes => match value {
            OptValue::Bytes(b) => OptValue::Bytes(b),
            OptValue::Str(s) => OptValue::Bytes(Bytes::from(s.into_bytes())),
            v => return Err(mismatch(&v)),
        },
        OptKind::Str => match value {
            OptValue::Str(s) => OptValue::Str(s),
            v => return Err(mismatch(&v)),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_match_libzmq() {
        assert_eq!(SockOpt::SNDHWM.kind(), Some(OptKind::Int));
        assert_eq!(SockOpt::MAXMSGSIZE.kind(), Some(OptKind::Int64));
        assert_eq!(SockOpt::AFFINITY.kind(), Some(OptKind::UInt64));
        assert_eq!(SockOpt::ROUTING_ID.kind(), Some(OptKind::Bytes));
        assert_eq!(SockOpt::LAST_ENDPOINT.kind(), Some(OptKind::Str));
        assert_eq!(SockOpt(9999).kind(), None);
        assert_eq!(SockOpt::IDENTITY, SockOpt::ROUTING_ID);
        assert_eq!(SockOpt::TYPE.to_string(), "ZMQ_TYPE");
    }

    #[test]
    fn numbers_are_unique() {
        let mut seen = std::collections::BTreeSet::new();
        for (opt, name) in SockOpt::KNOWN {
            assert!(seen.insert(opt.0), "{name} repeats {}", opt.0);
        }
    }

    #[test]
    fn coerce_accepts_fitting_values() {
        assert_eq!(
            coerce(SockOpt::LINGER, OptValue::Int64(5)).unwrap(),
            OptValue::Int(5)
        );
        assert_eq!(
            coerce(SockOpt::AFFINITY, OptValue::Int(3)).unwrap(),
            OptValue::UInt64(3)
        );
        assert_eq!(
            coerce(SockOpt::ROUTING_ID, "id".into()).unwrap(),
            OptValue::Bytes(Bytes::from_static(b"id"))
        );
    }

    #[test]
    fn coerce_rejects_wrong_types() {
        let e = coerce(SockOpt::LINGER, "x".into()).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        assert!(e.to_string().contains("ZMQ_LINGER"), "{e}");
        let e = coerce(SockOpt::SNDHWM, OptValue::Int64(1 << 40)).unwrap_err();
        assert!(e.to_string().contains("out of range"), "{e}");
        let e = coerce(SockOpt::AFFINITY, OptValue::Int(-1)).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        assert!(coerce(SockOpt::PLAIN_USERNAME, OptValue::Int(1)).is_err());
        assert!(coerce(SockOpt::SUBSCRIBE, OptValue::Int(1)).is_err());
    }
}
