//! The error numbers a user may compare [`zmq_errno`](crate::zmq_errno) with:
//! libzmq's own, and the POSIX ones it reports, with this platform's values.

pub(crate) const ZMQ_HAUSNUMERO: i32 = 156_384_712;
/// libzmq: operation cannot be accomplished in the current state (e.g. REQ sending twice).
pub const EFSM: i32 = ZMQ_HAUSNUMERO + 51;
/// libzmq: the transport's protocol does not fit the socket type.
pub const ENOCOMPATPROTO: i32 = ZMQ_HAUSNUMERO + 52;
/// libzmq: the context was terminated.
pub const ETERM: i32 = ZMQ_HAUSNUMERO + 53;
/// libzmq: no I/O thread is available.
pub const EMTHREAD: i32 = ZMQ_HAUSNUMERO + 54;

/// `EAGAIN`: the socket would block (this platform's number).
pub const EAGAIN: i32 = libc::EAGAIN;
/// `EINTR`: a signal interrupted libzmq's internal wait; drivers retry.
pub const EINTR: i32 = libc::EINTR;
/// `EINVAL`: an invalid argument, such as a malformed endpoint.
pub const EINVAL: i32 = libc::EINVAL;
/// `EHOSTUNREACH`: a ROUTER_MANDATORY message for a peer that is not there.
pub const EHOSTUNREACH: i32 = libc::EHOSTUNREACH;
/// `EPROTO`: reported when libzmq fails between the frames of one message.
pub const EPROTO: i32 = libc::EPROTO;
