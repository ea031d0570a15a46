//! Plain libzmq calls on one `zmq::Socket`, in the core's vocabulary. Every
//! call is non-blocking, retries `EINTR` itself (no caller ever sees it), and
//! decides nothing.

use std::ffi::{c_int, c_void};
use std::io;
use std::mem::size_of;
use std::net::ToSocketAddrs;

use aiozmq_core::error::{self, from_errno, EPROTO};
use aiozmq_core::option::MAX_OPTION_BYTES;
use aiozmq_core::{Bytes, Multipart, OptKind, OptValue, SendResult, SockOpt};

/// Frames up to this size are copied out of libzmq's message (one small
/// allocation) so the scratch message is reused; larger ones are handed over
/// whole, without copying.
const COPY_BELOW: usize = 512;

/// Runs a libzmq call again while a signal interrupts it.
fn retry<T>(mut call: impl FnMut() -> Result<T, zmq::Error>) -> Result<T, zmq::Error> {
    loop {
        match call() {
            Err(zmq::Error::EINTR) => continue,
            other => return other,
        }
    }
}

/// Sends every frame of `msg` with `DONTWAIT`.
pub fn send(socket: &zmq::Socket, msg: &Multipart) -> SendResult {
    let last = msg.len().saturating_sub(1);
    for (i, frame) in msg.iter().enumerate() {
        let flags = zmq::DONTWAIT | if i < last { zmq::SNDMORE } else { 0 };
        if let Err(e) = retry(|| socket.send(&frame[..], flags)) {
            return if i == 0 {
                SendResult::Refused(e.to_raw())
            } else {
                SendResult::Broken(e.to_raw())
            };
        }
    }
    SendResult::Sent
}

/// A received libzmq message that a `Bytes` owns without copying.
struct Owned(zmq::Message);

impl AsRef<[u8]> for Owned {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

fn take_frame(scratch: &mut zmq::Message) -> Bytes {
    if scratch.len() < COPY_BELOW {
        Bytes::copy_from_slice(scratch)
    } else {
        Bytes::from_owner(Owned(std::mem::replace(scratch, zmq::Message::new())))
    }
}

/// Receives one whole multipart message with `DONTWAIT`, or libzmq's errno.
pub fn recv(socket: &zmq::Socket, scratch: &mut zmq::Message) -> Result<Multipart, i32> {
    let mut msg = Multipart::new();
    loop {
        if let Err(e) = retry(|| socket.recv(scratch, zmq::DONTWAIT)) {
            // libzmq delivers a message whole: failing between its frames
            // means the socket cannot be trusted.
            return Err(if msg.is_empty() { e.to_raw() } else { EPROTO });
        }
        let more = scratch.get_more();
        msg.push(take_frame(scratch));
        if !more {
            return Ok(msg);
        }
    }
}

/// Reads `ZMQ_EVENTS`: `(POLLIN, POLLOUT)`.
pub fn events(socket: &zmq::Socket) -> Result<(bool, bool), i32> {
    retry(|| socket.get_events())
        .map(|ev| (ev.contains(zmq::POLLIN), ev.contains(zmq::POLLOUT)))
        .map_err(zmq::Error::to_raw)
}

/// A `zmq::Error` as the `io::Error` every public call returns.
pub fn to_io(e: zmq::Error) -> io::Error {
    from_errno(e.to_raw())
}

fn last_errno() -> i32 {
    // SAFETY: zmq_errno only reads libzmq's thread-local errno.
    unsafe { zmq_sys::zmq_errno() }
}

/// Runs a raw libzmq call returning -1 on error, retrying `EINTR`.
fn retry_raw(mut call: impl FnMut() -> c_int) -> io::Result<()> {
    loop {
        if call() != -1 {
            return Ok(());
        }
        match last_errno() {
            errno if errno == error::EINTR => continue,
            errno => return Err(from_errno(errno)),
        }
    }
}

/// `zmq_getsockopt` for any option, read in the option's type (`Int` when unknown).
pub fn getsockopt(socket: &mut zmq::Socket, opt: SockOpt) -> io::Result<OptValue> {
    let raw = socket.as_mut_ptr();
    let get = |buf: *mut c_void, len: &mut usize| -> io::Result<()> {
        let start = *len;
        retry_raw(|| {
            *len = start;
            // SAFETY: `raw` is a live socket owned by the caller's `&mut`, `buf`
            // points to `*len` writable bytes, and libzmq writes at most `*len`.
            unsafe { zmq_sys::zmq_getsockopt(raw, opt.0, buf, len) }
        })
    };
    Ok(match opt.kind().unwrap_or(OptKind::Int) {
        OptKind::Int => {
            let mut v: c_int = 0;
            let mut len = size_of::<c_int>();
            get(&mut v as *mut c_int as *mut c_void, &mut len)?;
            OptValue::Int(v)
        }
        OptKind::Int64 => {
            let mut v: i64 = 0;
            let mut len = size_of::<i64>();
            get(&mut v as *mut i64 as *mut c_void, &mut len)?;
            OptValue::Int64(v)
        }
        OptKind::UInt64 => {
            let mut v: u64 = 0;
            let mut len = size_of::<u64>();
            get(&mut v as *mut u64 as *mut c_void, &mut len)?;
            OptValue::UInt64(v)
        }
        kind @ (OptKind::Bytes | OptKind::Str) => {
            let mut buf = vec![0u8; MAX_OPTION_BYTES];
            let mut len = buf.len();
            get(buf.as_mut_ptr() as *mut c_void, &mut len)?;
            buf.truncate(len.min(MAX_OPTION_BYTES));
            if kind == OptKind::Bytes {
                OptValue::Bytes(Bytes::from(buf))
            } else {
                if buf.last() == Some(&0) {
                    buf.pop();
                }
                OptValue::Str(String::from_utf8_lossy(&buf).into_owned())
            }
        }
    })
}

/// `zmq_setsockopt` with a value already checked against the option's type.
pub fn setsockopt(socket: &mut zmq::Socket, opt: SockOpt, value: &OptValue) -> io::Result<()> {
    let raw = socket.as_mut_ptr();
    let set = |ptr: *const c_void, len: usize| -> io::Result<()> {
        retry_raw(|| {
            // SAFETY: `raw` is a live socket owned by the caller's `&mut`; `ptr`
            // points to `len` readable bytes that outlive the call.
            unsafe { zmq_sys::zmq_setsockopt(raw, opt.0, ptr, len) }
        })
    };
    match value {
        OptValue::Int(v) => set(v as *const i32 as *const c_void, size_of::<i32>()),
        OptValue::Int64(v) => set(v as *const i64 as *const c_void, size_of::<i64>()),
        OptValue::UInt64(v) => set(v as *const u64 as *const c_void, size_of::<u64>()),
        OptValue::Bytes(b) => set(b.as_ptr() as *const c_void, b.len()),
        OptValue::Str(s) => set(s.as_ptr() as *const c_void, s.len()),
    }
}

/// Stops the socket monitor (`zmq_socket_monitor(s, NULL, 0)`).
pub fn stop_monitor(socket: &mut zmq::Socket) -> io::Result<()> {
    let raw = socket.as_mut_ptr();
    retry_raw(|| {
        // SAFETY: a null endpoint is libzmq's documented way to stop
        // monitoring; the socket is live and exclusively borrowed.
        unsafe { zmq_sys::zmq_socket_monitor(raw, std::ptr::null(), 0) }
    })
}

/// Starts libzmq's monitor on `endpoint` and connects a PAIR to it at once
/// (before any event can be emitted, libzmq#1434). The PAIR's receive queue
/// is unbounded: libzmq writes events with a blocking send from its I/O
/// thread, which must never wait for us. If the PAIR cannot be made, the
/// monitor is stopped again: a monitor without a reader would block libzmq.
pub fn start_monitor(
    socket: &mut zmq::Socket,
    new_pair: impl FnOnce() -> io::Result<zmq::Socket>,
    endpoint: &str,
    mask: u16,
) -> io::Result<zmq::Socket> {
    retry(|| socket.monitor(endpoint, i32::from(mask))).map_err(to_io)?;
    let pair = (|| {
        let pair = new_pair()?;
        pair.set_rcvhwm(0).map_err(to_io)?;
        pair.set_linger(0).map_err(to_io)?;
        retry(|| pair.connect(endpoint)).map_err(to_io)?;
        Ok(pair)
    })();
    pair.map_err(|e: io::Error| {
        if let Err(stop) = stop_monitor(socket) {
            tracing::error!("stopping a monitor without a reader failed: {stop}");
        }
        e
    })
}

/// Binds and returns the real endpoint (`ZMQ_LAST_ENDPOINT`: the wildcard port resolved).
pub fn bind(socket: &mut zmq::Socket, endpoint: &str) -> io::Result<String> {
    retry(|| socket.bind(endpoint)).map_err(to_io)?;
    match getsockopt(socket, SockOpt::LAST_ENDPOINT)? {
        OptValue::Str(real) if !real.is_empty() => Ok(real),
        _ => Ok(endpoint.to_owned()),
    }
}

/// Unbinds.
pub fn unbind(socket: &zmq::Socket, endpoint: &str) -> io::Result<()> {
    retry(|| socket.unbind(endpoint)).map_err(to_io)
}

/// Connects.
pub fn connect(socket: &zmq::Socket, endpoint: &str) -> io::Result<()> {
    retry(|| socket.connect(endpoint)).map_err(to_io)
}

/// Disconnects.
pub fn disconnect(socket: &zmq::Socket, endpoint: &str) -> io::Result<()> {
    retry(|| socket.disconnect(endpoint)).map_err(to_io)
}

/// The other spellings libzmq may match a tcp endpoint by in `unbind` and
/// `disconnect`: its host resolved to each of its addresses, as libzmq
/// formats them (`tcp://127.0.0.1:5555`, `tcp://[::1]:5555`).
pub fn spellings(endpoint: &str) -> Vec<String> {
    let Some(addr) = endpoint.strip_prefix("tcp://") else {
        return Vec::new();
    };
    match addr.to_socket_addrs() {
        Ok(addrs) => addrs.map(|a| format!("tcp://{a}")).collect(),
        Err(_) => Vec::new(),
    }
}

/// The socket's type as libzmq reports it.
pub fn socket_type(socket: &mut zmq::Socket) -> io::Result<aiozmq_core::SocketType> {
    match getsockopt(socket, SockOpt::TYPE)? {
        OptValue::Int(t) => aiozmq_core::SocketType::from_raw(t),
        other => Err(error::invalid_input(format!("ZMQ_TYPE read as {other:?}"))),
    }
}

/// The socket's signalling FD, read once: `AsRawFd` on a closed socket panics.
pub fn fd(socket: &zmq::Socket) -> io::Result<std::os::fd::RawFd> {
    retry(|| socket.get_fd()).map_err(to_io)
}

/// The `zmq::SocketType` for the core's type.
pub fn zmq_type(t: aiozmq_core::SocketType) -> zmq::SocketType {
    use aiozmq_core::SocketType as S;
    match t {
        S::Pair => zmq::PAIR,
        S::Pub => zmq::PUB,
        S::Sub => zmq::SUB,
        S::Req => zmq::REQ,
        S::Rep => zmq::REP,
        S::Dealer => zmq::DEALER,
        S::Router => zmq::ROUTER,
        S::Pull => zmq::PULL,
        S::Push => zmq::PUSH,
        S::XPub => zmq::XPUB,
        S::XSub => zmq::XSUB,
        S::Stream => zmq::STREAM,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tcp_hosts_resolve_to_libzmqs_spelling() {
        let s = spellings("tcp://localhost:5555");
        assert!(
            s.iter()
                .any(|e| e == "tcp://127.0.0.1:5555" || e == "tcp://[::1]:5555"),
            "{s:?}"
        );
        assert!(spellings("inproc://x").is_empty());
        assert!(spellings("tcp://no such host:1").is_empty());
    }
}
