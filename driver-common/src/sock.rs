//! Plain libzmq calls on one `zmq::Socket`, in the core's vocabulary. Every
//! call is non-blocking, retries `EINTR` itself (no caller ever sees it), and
//! decides nothing.

use std::ffi::{c_int, c_void};
use std::io;
use std::mem::size_of;
use std::net::ToSocketAddrs;

use bytes::BytesMut;

use aiozmq_core::error::{self, from_errno, EPROTO};
use aiozmq_core::{Bytes, Multipart, OptKind, OptValue, SendResult, SockOpt};

/// Frames below this size are copied out of libzmq's message into the
/// receive arena, so the scratch message is reused; larger ones are handed
/// over whole, without copying.
const COPY_BELOW: usize = 512;

/// Frames from this size are sent without copying: libzmq keeps a clone of
/// the `Bytes` alive until its I/O thread has written it. Below it, a copy
/// costs less than the two allocations zero-copy takes.
const ZERO_COPY_FROM: usize = 8 * 1024;

/// Bytes of one receive arena chunk.
const ARENA_CHUNK: usize = 32 * 1024;

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
pub fn send(socket: &mut zmq::Socket, msg: &Multipart) -> SendResult {
    let last = msg.len().saturating_sub(1);
    for (i, frame) in msg.iter().enumerate() {
        let flags = zmq::DONTWAIT | if i < last { zmq::SNDMORE } else { 0 };
        let sent = if frame.len() >= ZERO_COPY_FROM {
            send_zero_copy(socket, frame, flags)
        } else {
            retry(|| socket.send(&frame[..], flags)).map_err(|e| e.to_raw())
        };
        if let Err(errno) = sent {
            return if i == 0 {
                SendResult::Refused(errno)
            } else {
                SendResult::Broken(errno)
            };
        }
    }
    SendResult::Sent
}

/// libzmq's free function for a zero-copy frame: drops the `Bytes` clone
/// that kept the data alive (called once, on libzmq's I/O thread or ours).
unsafe extern "C" fn release_frame(_data: *mut c_void, hint: *mut c_void) {
    // SAFETY: `hint` is the `Box<Bytes>` leaked by `send_zero_copy`, and
    // libzmq calls this exactly once per message.
    drop(unsafe { Box::from_raw(hint.cast::<Bytes>()) });
}

/// Sends one frame by reference: libzmq owns a clone of `frame` instead of a
/// copy of its bytes.
fn send_zero_copy(socket: &mut zmq::Socket, frame: &Bytes, flags: i32) -> Result<(), i32> {
    let owner = Box::into_raw(Box::new(frame.clone()));
    // SAFETY: `owner` is a valid, leaked Box; the Bytes' data stays put while
    // the Box lives (Bytes never moves its data).
    let (data, len) = unsafe {
        (
            (*owner).as_ptr().cast_mut().cast::<c_void>(),
            (*owner).len(),
        )
    };
    let mut msg = std::mem::MaybeUninit::<zmq_sys::zmq_msg_t>::uninit();
    // SAFETY: `msg` is writable storage for a zmq_msg_t; `data` is valid for
    // `len` bytes until `release_frame(owner)` runs, which libzmq calls when
    // it is done with them (libzmq never writes through `data`).
    let rc = unsafe {
        zmq_sys::zmq_msg_init_data(
            msg.as_mut_ptr(),
            data,
            len,
            Some(release_frame),
            owner.cast::<c_void>(),
        )
    };
    if rc == -1 {
        // SAFETY: libzmq did not take `owner` (init failed): we still own it.
        drop(unsafe { Box::from_raw(owner) });
        return Err(last_errno());
    }
    let raw = socket.as_mut_ptr();
    loop {
        // SAFETY: `msg` was initialised above; `raw` is a live socket owned
        // by the caller's `&mut`. On success libzmq owns the message.
        if unsafe { zmq_sys::zmq_msg_send(msg.as_mut_ptr(), raw, flags) } != -1 {
            return Ok(());
        }
        let errno = last_errno();
        if errno != error::EINTR {
            // SAFETY: a failed send leaves the message ours; closing it calls
            // `release_frame` once.
            unsafe { zmq_sys::zmq_msg_close(msg.as_mut_ptr()) };
            return Err(errno);
        }
    }
}

/// A received libzmq message that a `Bytes` owns without copying.
struct Owned(zmq::Message);

impl AsRef<[u8]> for Owned {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

/// Where received frames are taken from libzmq: one reusable message for
/// libzmq to fill, and an arena that small frames are copied into, so a small
/// frame costs a copy and a reference count, not an allocation. A frame the
/// user keeps holds its chunk (at most 32 KiB) alive.
pub struct RecvBuf {
    scratch: zmq::Message,
    arena: BytesMut,
}

impl std::fmt::Debug for RecvBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecvBuf")
            .field("arena", &self.arena.len())
            .finish_non_exhaustive()
    }
}

impl Default for RecvBuf {
    fn default() -> RecvBuf {
        RecvBuf {
            scratch: zmq::Message::new(),
            arena: BytesMut::new(),
        }
    }
}

impl RecvBuf {
    fn take_frame(&mut self) -> Bytes {
        let len = self.scratch.len();
        if len >= COPY_BELOW {
            return Bytes::from_owner(Owned(std::mem::replace(
                &mut self.scratch,
                zmq::Message::new(),
            )));
        }
        if self.arena.capacity() < len {
            self.arena = BytesMut::with_capacity(ARENA_CHUNK);
        }
        self.arena.extend_from_slice(&self.scratch);
        self.arena.split().freeze()
    }
}

/// Receives one whole multipart message with `DONTWAIT` into `msg` (empty
/// when called: the core's slot, so the message is never moved), or
/// libzmq's errno.
pub fn recv(socket: &zmq::Socket, buf: &mut RecvBuf, msg: &mut Multipart) -> Result<(), i32> {
    loop {
        if let Err(e) = retry(|| socket.recv(&mut buf.scratch, zmq::DONTWAIT)) {
            // libzmq delivers a message whole: failing between its frames
            // means the socket cannot be trusted.
            return Err(if msg.is_empty() { e.to_raw() } else { EPROTO });
        }
        let more = buf.scratch.get_more();
        msg.push(buf.take_frame());
        if !more {
            return Ok(());
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
            let mut buf = vec![0u8; opt.read_buffer_len()];
            let mut len = buf.len();
            get(buf.as_mut_ptr() as *mut c_void, &mut len)?;
            buf.truncate(len.min(opt.read_buffer_len()));
            if opt.is_curve_key() && buf.last() == Some(&0) {
                buf.pop();
            }
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
    pair.inspect_err(|_| {
        if let Err(stop) = stop_monitor(socket) {
            tracing::error!("stopping a monitor without a reader failed: {stop}");
        }
    })
}

/// Whether `socket` lives in the context `new_pair` makes sockets in.
/// libzmq has no option that says, and monitoring a socket from another
/// context hangs: its monitor PAIR (in the socket's context) never meets our
/// reader, and libzmq's blocking send of the first event waits for ever. So a
/// silent monitor (no events: it never sends, not even `MONITOR_STOPPED`)
/// binds `probe` in the socket's context, and a PAIR of ours tries to bind
/// the same inproc name: it is taken only in the same context.
pub fn in_context(
    socket: &mut zmq::Socket,
    new_pair: impl FnOnce() -> io::Result<zmq::Socket>,
    probe: &str,
) -> io::Result<bool> {
    retry(|| socket.monitor(probe, 0)).map_err(to_io)?;
    let verdict = (|| {
        let pair = new_pair()?;
        pair.set_linger(0).map_err(to_io)?;
        match retry(|| pair.bind(probe)) {
            Err(zmq::Error::EADDRINUSE) => Ok(true),
            Ok(()) => Ok(false),
            Err(e) => Err(to_io(e)),
        }
    })();
    stop_monitor(socket)?;
    verdict
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
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    /// (sender, receiver) over inproc. The sender connects: an inproc
    /// connecter has its pipe at once, so its first DONTWAIT send goes out
    /// (a binder's pipe arrives with a command it may not have read yet).
    fn pair(name: &str) -> (zmq::Socket, zmq::Socket) {
        let ctx = zmq::Context::new();
        let sender = ctx.socket(zmq::PAIR).unwrap();
        let receiver = ctx.socket(zmq::PAIR).unwrap();
        receiver.bind(name).unwrap();
        sender.connect(name).unwrap();
        (sender, receiver)
    }

    fn recv_blocking(socket: &zmq::Socket, buf: &mut RecvBuf) -> Multipart {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let mut m = Multipart::new();
            match recv(socket, buf, &mut m) {
                Ok(()) => return m,
                Err(e) if error::is_would_block(e) && Instant::now() < deadline => {
                    std::thread::yield_now()
                }
                Err(e) => panic!("recv: {}", from_errno(e)),
            }
        }
    }

    /// Sends, waiting (bounded) while libzmq's pipe is full: the sender learns
    /// that the receiver has read only when it next processes commands.
    fn send_blocking(socket: &mut zmq::Socket, msg: &Multipart) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match send(socket, msg) {
                SendResult::Sent => return,
                SendResult::Refused(e) if error::is_would_block(e) && Instant::now() < deadline => {
                    std::thread::yield_now()
                }
                other => panic!("send: {other:?}"),
            }
        }
    }

    /// Marks when libzmq has let go of a zero-copy frame.
    struct Tracked(Vec<u8>, Arc<AtomicBool>);

    impl AsRef<[u8]> for Tracked {
        fn as_ref(&self) -> &[u8] {
            &self.0
        }
    }

    impl Drop for Tracked {
        fn drop(&mut self) {
            self.1.store(true, Ordering::SeqCst);
        }
    }

    #[test]
    fn large_frames_go_by_reference_and_are_released() {
        let (mut a, b) = pair("inproc://zero-copy");
        let released = Arc::new(AtomicBool::new(false));
        let data: Vec<u8> = (0..64 * 1024).map(|i| i as u8).collect();
        let frame = Bytes::from_owner(Tracked(data.clone(), released.clone()));
        let msg: Multipart = [Bytes::from_static(b"head"), frame].into_iter().collect();
        send_blocking(&mut a, &msg);
        drop(msg);
        assert!(!released.load(Ordering::SeqCst), "libzmq still holds it");
        let mut buf = RecvBuf::default();
        let got = recv_blocking(&b, &mut buf);
        assert_eq!(got.len(), 2);
        assert_eq!(&got[0][..], b"head");
        assert_eq!(&got[1][..], &data[..]);
        drop(got);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !released.load(Ordering::SeqCst) {
            assert!(Instant::now() < deadline, "the frame was never released");
            std::thread::yield_now();
        }
    }

    #[test]
    fn small_frames_share_an_arena_and_stay_intact() {
        let (mut a, b) = pair("inproc://arena");
        let mut buf = RecvBuf::default();
        let mut kept = Vec::new();
        // More than one chunk's worth, of every small size.
        for i in 0..4000usize {
            let body = vec![(i % 251) as u8; i % COPY_BELOW];
            let msg: Multipart = [Bytes::from(body)].into_iter().collect();
            send_blocking(&mut a, &msg);
            kept.push(recv_blocking(&b, &mut buf));
        }
        for (i, m) in kept.iter().enumerate() {
            assert_eq!(m.len(), 1);
            assert_eq!(m[0].len(), i % COPY_BELOW, "frame {i}");
            assert!(m[0].iter().all(|&x| x == (i % 251) as u8), "frame {i}");
        }
    }

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
