//! libzmq's edge-triggered readiness, for one socket.
//!
//! `ZMQ_FD` signals "something changed" and any libzmq call on the socket may
//! consume that signal. So after any call, `ZMQ_EVENTS` must be read again
//! before the driver parks: `stale` records that it has not been.

#[derive(Debug, Clone, Copy)]
pub(crate) struct Edge {
    /// A libzmq call ran (or the FD signalled) since `ZMQ_EVENTS` was read.
    pub(crate) stale: bool,
    /// `POLLIN` at the last reading (cleared by EAGAIN).
    pub(crate) readable: bool,
    /// `POLLOUT` at the last reading (cleared by EAGAIN).
    pub(crate) writable: bool,
}

impl Edge {
    /// A socket not yet looked at: EVENTS unread, and optimistic about
    /// writing, as aiozmq: the first write tries libzmq at once.
    pub(crate) fn new() -> Edge {
        Edge {
            stale: true,
            readable: false,
            writable: true,
        }
    }

    /// A `ZMQ_EVENTS` reading.
    pub(crate) fn read(&mut self, pollin: bool, pollout: bool) {
        self.stale = false;
        self.readable = pollin;
        self.writable = pollout;
    }
}
