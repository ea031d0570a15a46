//! Where sockets are made: the process-wide default context, or the user's.
//!
//! libzmq admits 1,023 sockets per context unless `ZMQ_MAX_SOCKETS` is raised
//! before its first socket, and the `zmq` crate has no setter for it. A user
//! of the default context should meet the process's fd limit, never that
//! one, so the default context is made here with `zmq_sys` and its sockets
//! are handed to the `zmq` crate with `Socket::from_raw`.

use std::ffi::c_void;
use std::io;
use std::sync::OnceLock;

use aiozmq_core::SocketType;

use crate::sock;

/// The context a transport makes its sockets (main socket, monitor pipes) in.
#[derive(Clone)]
pub enum Ctx {
    /// The process-wide default context (see [`default_socket`]).
    Default,
    /// A context the user passed to a builder's `.context(..)`.
    User(zmq::Context),
}

impl std::fmt::Debug for Ctx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Ctx::Default => "Ctx::Default",
            Ctx::User(_) => "Ctx::User",
        })
    }
}

impl Ctx {
    /// A new socket of `zmq_type` in this context.
    pub fn socket(&self, zmq_type: SocketType) -> io::Result<zmq::Socket> {
        match self {
            Ctx::Default => default_socket(zmq_type),
            Ctx::User(context) => context
                .socket(sock::zmq_type(zmq_type))
                .map_err(sock::to_io),
        }
    }
}

/// The default context's raw handle. It lives in a static and is never
/// terminated (as `zmq.Context.instance()` in pyzmq), so closing never blocks
/// on it.
struct RawContext(*mut c_void);

// SAFETY: a libzmq context is thread-safe (zmq_ctx_new(3): "a ØMQ context is
// thread safe and may be shared among as many application threads as
// necessary"); the pointer is only passed to libzmq.
unsafe impl Send for RawContext {}
// SAFETY: as above.
unsafe impl Sync for RawContext {}

/// How many sockets the default context admits: libzmq's own ceiling
/// (`ZMQ_SOCKET_LIMIT`, 65,535 with epoll or kqueue), so the fd limit is
/// what a process meets first. libzmq sizes two small tables with it
/// (about 1 MiB at 65,535) when the first socket is made.
pub fn default_max_sockets() -> usize {
    default_raw().map_or(0, |ctx| {
        // SAFETY: `ctx.0` is a live context (never terminated).
        let n = unsafe { zmq_sys::zmq_ctx_get(ctx.0, zmq_sys::ZMQ_MAX_SOCKETS as i32) };
        usize::try_from(n).unwrap_or(0)
    })
}

fn default_raw() -> Option<&'static RawContext> {
    static CONTEXT: OnceLock<Option<RawContext>> = OnceLock::new();
    CONTEXT
        .get_or_init(|| {
            // SAFETY: zmq_ctx_new has no preconditions; it returns NULL on failure.
            let ctx = unsafe { zmq_sys::zmq_ctx_new() };
            if ctx.is_null() {
                return None;
            }
            // SAFETY: `ctx` is a fresh context with no socket yet, the only
            // time ZMQ_MAX_SOCKETS may change; get/set take an option number.
            unsafe {
                let limit = zmq_sys::zmq_ctx_get(ctx, zmq_sys::ZMQ_SOCKET_LIMIT as i32);
                if limit > 0 {
                    zmq_sys::zmq_ctx_set(ctx, zmq_sys::ZMQ_MAX_SOCKETS as i32, limit);
                }
            }
            Some(RawContext(ctx))
        })
        .as_ref()
}

/// A plain `zmq::Socket` in the process-wide default context, the one every
/// transport uses unless its builder was given `.context(..)`. Use it for a
/// socket of your own that talks to a transport over `inproc://` (inproc
/// peers must share a context).
pub fn default_socket(zmq_type: SocketType) -> io::Result<zmq::Socket> {
    let ctx = default_raw()
        .ok_or_else(|| io::Error::other("libzmq could not create the default context"))?;
    // SAFETY: `ctx.0` is a live context (never terminated); the type number
    // is libzmq's own (`SocketType::as_raw`).
    let raw = unsafe { zmq_sys::zmq_socket(ctx.0, zmq_type.as_raw()) };
    if raw.is_null() {
        return Err(sock::to_io(zmq::Error::from_raw(
            // SAFETY: reads this thread's errno as libzmq left it.
            unsafe { zmq_sys::zmq_errno() },
        )));
    }
    // SAFETY: `raw` is a fresh, non-null socket that nothing else owns; the
    // returned `zmq::Socket` closes it exactly once, on drop.
    Ok(unsafe { zmq::Socket::from_raw(raw) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_context_admits_more_sockets_than_libzmqs_default() {
        assert!(default_max_sockets() > 1023, "{}", default_max_sockets());
        let fds = || std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count());
        let before = fds();
        // 1,100 sockets: libzmq's default context refuses the 1,024th (EMFILE).
        let sockets: Vec<zmq::Socket> = (0..1100)
            .map(|i| default_socket(SocketType::Pair).unwrap_or_else(|e| panic!("socket {i}: {e}")))
            .collect();
        assert_eq!(sockets.len(), 1100);
        // On Linux each socket's mailbox is one eventfd, not a socketpair.
        if cfg!(target_os = "linux") {
            let grown = fds() - before;
            assert!(grown < 1300, "1,100 sockets took {grown} fds");
        }
    }
}
