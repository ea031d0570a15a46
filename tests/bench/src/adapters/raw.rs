//! Raw `zmq` 0.10 (libzmq 4.3.4) with blocking calls: the reference row.
//! Its futures are ready at once; the workloads run it on `rt::Threads`.

use std::future::{ready, Future};
use std::time::Duration;

use super::{Ep, Got, Kind, Opts, Sock, SockLib};
use crate::measure::Ctx;

/// A blocking wait that makes no progress this long fails (RCVTIMEO).
pub const STALL_MS: i32 = 20_000;

/// The libzmq socket type of a [`Kind`].
pub fn zmq_kind(kind: Kind) -> zmq::SocketType {
    match kind {
        Kind::Push => zmq::PUSH,
        Kind::Pull => zmq::PULL,
        Kind::Req => zmq::REQ,
        Kind::Rep => zmq::REP,
        Kind::Pub => zmq::PUB,
        Kind::Sub => zmq::SUB,
        Kind::Dealer => zmq::DEALER,
        Kind::Router => zmq::ROUTER,
    }
}

/// The endpoint a bound socket really listens on.
pub fn last_endpoint(s: &zmq::Socket) -> Result<String, String> {
    s.get_last_endpoint()
        .ctx("last endpoint")?
        .map_err(|_| "endpoint is not utf-8".to_string())
}

/// Applies the workload's options to a libzmq socket (before bind/connect).
pub fn apply(s: &zmq::Socket, kind: Kind, opts: Opts) -> Result<(), String> {
    s.set_linger(0).ctx("linger")?;
    if opts.unbounded {
        s.set_sndhwm(0).ctx("sndhwm")?;
        s.set_rcvhwm(0).ctx("rcvhwm")?;
    }
    if kind == Kind::Sub {
        s.set_subscribe(b"").ctx("subscribe")?;
    }
    if let Some(side) = opts.curve {
        if side == super::Curve::Server {
            s.set_curve_server(true).ctx("curve server")?;
        }
        let k = super::curve_keys();
        match side {
            super::Curve::Server => s.set_curve_secretkey(k.server_secret.as_bytes()),
            super::Curve::Client => s
                .set_curve_serverkey(k.server_public.as_bytes())
                .and_then(|()| s.set_curve_publickey(k.client_public.as_bytes()))
                .and_then(|()| s.set_curve_secretkey(k.client_secret.as_bytes())),
        }
        .ctx("curve keys")?;
    }
    Ok(())
}

/// A libzmq context whose ZMQ_MAX_SOCKETS is raised to `max` (the `zmq`
/// crate has no setter for it): sockets come from [`RaisedContext::socket`].
/// The context is never terminated (the case's process ends with it).
pub struct RaisedContext(*mut std::ffi::c_void);

// SAFETY: libzmq contexts are thread-safe.
unsafe impl Send for RaisedContext {}
// SAFETY: as above.
unsafe impl Sync for RaisedContext {}

impl RaisedContext {
    /// A new context allowing `max` sockets.
    pub fn new(max: i32) -> Result<RaisedContext, String> {
        // SAFETY: plain libzmq calls on a context we own.
        unsafe {
            let ctx = zmq_sys::zmq_ctx_new();
            if ctx.is_null() {
                return Err("zmq_ctx_new failed".into());
            }
            if zmq_sys::zmq_ctx_set(ctx, zmq_sys::ZMQ_MAX_SOCKETS as _, max) != 0 {
                return Err(format!(
                    "zmq_ctx_set(ZMQ_MAX_SOCKETS, {max}): {}",
                    zmq::Error::from_raw(zmq_sys::zmq_errno())
                ));
            }
            Ok(RaisedContext(ctx))
        }
    }

    /// A socket of this context.
    pub fn socket(&self, kind: Kind) -> Result<zmq::Socket, String> {
        let kind = match kind {
            Kind::Push => zmq_sys::ZMQ_PUSH,
            Kind::Pull => zmq_sys::ZMQ_PULL,
            Kind::Req => zmq_sys::ZMQ_REQ,
            Kind::Rep => zmq_sys::ZMQ_REP,
            Kind::Pub => zmq_sys::ZMQ_PUB,
            Kind::Sub => zmq_sys::ZMQ_SUB,
            Kind::Dealer => zmq_sys::ZMQ_DEALER,
            Kind::Router => zmq_sys::ZMQ_ROUTER,
        };
        // SAFETY: the context outlives the process's sockets (never
        // terminated); `from_raw` takes ownership of a fresh socket.
        unsafe {
            let s = zmq_sys::zmq_socket(self.0, kind as _);
            if s.is_null() {
                return Err(format!(
                    "socket: {}",
                    zmq::Error::from_raw(zmq_sys::zmq_errno())
                ));
            }
            Ok(zmq::Socket::from_raw(s))
        }
    }
}

/// Raw libzmq: both ends of a case in one context.
pub struct Raw {
    ctx: zmq::Context,
}

impl Default for Raw {
    /// A fresh context for one case.
    fn default() -> Raw {
        Raw {
            ctx: zmq::Context::new(),
        }
    }
}

impl Raw {
    fn open(&self, kind: Kind, opts: Opts) -> Result<RawSock, String> {
        let s = self.ctx.socket(zmq_kind(kind)).ctx("socket")?;
        apply(&s, kind, opts)?;
        s.set_rcvtimeo(STALL_MS).ctx("rcvtimeo")?;
        Ok(RawSock {
            s,
            buf: Vec::new(),
            n: 0,
        })
    }
}

/// A raw socket; received frames go into reused `zmq::Message`s.
pub struct RawSock {
    s: zmq::Socket,
    buf: Vec<zmq::Message>,
    n: usize,
}

impl RawSock {
    fn recv_now(&mut self) -> Result<Got, String> {
        let mut i = 0;
        loop {
            if self.buf.len() <= i {
                self.buf.push(zmq::Message::new());
            }
            self.s.recv(&mut self.buf[i], 0).ctx("recv")?;
            i += 1;
            if !self.buf[i - 1].get_more() {
                break;
            }
        }
        self.n = i;
        Ok(Got::new(
            i,
            self.buf[0].first().copied(),
            self.buf[i - 1].len(),
        ))
    }

    fn echo_now(&mut self) -> Result<(), String> {
        for i in 0..self.n {
            let m = std::mem::replace(&mut self.buf[i], zmq::Message::new());
            let flags = if i + 1 < self.n { zmq::SNDMORE } else { 0 };
            self.s.send(m, flags).ctx("send")?;
        }
        self.n = 0;
        Ok(())
    }
}

impl Sock for RawSock {
    type Out = Vec<u8>;

    fn send(&mut self, m: &Vec<u8>) -> impl Future<Output = Result<(), String>> + Send {
        ready(self.s.send(&m[..], 0).ctx("send"))
    }

    fn recv(&mut self) -> impl Future<Output = Result<Got, String>> + Send {
        ready(self.recv_now())
    }

    fn echo(&mut self) -> impl Future<Output = Result<(), String>> + Send {
        ready(self.echo_now())
    }
}

impl SockLib for Raw {
    type Sock = RawSock;

    fn out(&self, data: &[u8]) -> Vec<u8> {
        data.to_vec()
    }

    fn bind(
        &self,
        kind: Kind,
        ep: &Ep,
        opts: Opts,
    ) -> impl Future<Output = Result<(RawSock, String), String>> + Send {
        ready((|| {
            let s = self.open(kind, opts)?;
            s.s.bind(&ep.zmq()).ctx("bind")?;
            let addr = last_endpoint(&s.s)?;
            Ok((s, addr))
        })())
    }

    fn connect(
        &self,
        kind: Kind,
        ep: &str,
        opts: Opts,
    ) -> impl Future<Output = Result<RawSock, String>> + Send {
        ready((|| {
            let s = self.open(kind, opts)?;
            s.s.connect(ep).ctx("connect")?;
            Ok(s)
        })())
    }

    fn burst_note(&self) -> &'static str {
        " (send blocks at SNDHWM)"
    }
}

/// How long raw's poll loops wait per call.
pub const POLL: Duration = Duration::from_millis(10);
