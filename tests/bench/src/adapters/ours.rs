//! Our drivers: the protocol API as a [`ProtoDriver`] and the stream API as a
//! [`SockLib`], for tokio, smol and the blocking driver.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aiozmq_core::{Bytes, Multipart, OptValue, SockOpt, SocketType, ZmqProtocol, ZmqTransport};

use super::{Ep, Got, Kind, Opts, Sock, SockLib};
use crate::measure::Ctx;

/// The socket type of a [`Kind`].
pub fn socket_type(kind: Kind) -> SocketType {
    match kind {
        Kind::Push => SocketType::Push,
        Kind::Pull => SocketType::Pull,
        Kind::Req => SocketType::Req,
        Kind::Rep => SocketType::Rep,
        Kind::Pub => SocketType::Pub,
        Kind::Sub => SocketType::Sub,
        Kind::Dealer => SocketType::Dealer,
        Kind::Router => SocketType::Router,
    }
}

/// One frame.
pub fn one(b: &Bytes) -> Multipart {
    let mut m = Multipart::new();
    m.push(b.clone());
    m
}

fn got(m: &Multipart) -> Got {
    Got::new(
        m.len(),
        m.first().and_then(|f| f.first().copied()),
        m.last().map_or(0, |f| f.len()),
    )
}

/// The libzmq contexts of one case: none (the driver's default context) or
/// one per `per` pairs of a scale case.
#[derive(Clone, Default)]
pub struct Contexts {
    ctxs: Vec<zmq::Context>,
    per: usize,
}

impl Contexts {
    /// `pairs` spread over contexts of `per` pairs; `None`: the default context.
    pub fn new(pairs: usize, per: Option<usize>) -> Contexts {
        match per {
            Some(per) => Contexts {
                ctxs: (0..pairs.div_ceil(per))
                    .map(|_| zmq::Context::new())
                    .collect(),
                per,
            },
            None => Contexts::default(),
        }
    }

    /// The context of a pair (`None`: the default one).
    pub fn get(&self, group: usize) -> Option<zmq::Context> {
        self.ctxs.get(group / self.per.max(1)).cloned()
    }
}

/// The builder options of a workload's [`Opts`].
fn options(opts: Opts) -> Vec<(SockOpt, OptValue)> {
    let mut v = Vec::new();
    if opts.unbounded {
        v.push((SockOpt::SNDHWM, OptValue::Int(0)));
        v.push((SockOpt::RCVHWM, OptValue::Int(0)));
    }
    if let Some(side) = opts.curve {
        if side == super::Curve::Server {
            v.push((SockOpt::CURVE_SERVER, OptValue::Int(1)));
        }
        for (opt, key) in super::curve_key_options(side) {
            v.push((opt, key.into()));
        }
    }
    v
}

/// Our protocol API, as the protocol-API workloads see a driver.
pub trait ProtoDriver: Send + Sync + 'static {
    /// The driver's transport.
    type T: ZmqTransport;
    /// `create_zmq_connection(f, kind)`, with the case's context and options,
    /// connected to `connect` if given, opened.
    #[allow(clippy::type_complexity)]
    fn open<P, F>(
        &self,
        kind: Kind,
        opts: Opts,
        connect: Option<String>,
        f: F,
    ) -> impl Future<Output = Result<(Self::T, Arc<Mutex<P>>), String>> + Send
    where
        F: FnOnce() -> P + Send + 'static,
        P: ZmqProtocol<Self::T> + Send + 'static;
}

/// The stream API of one of our drivers, as a [`SockLib`].
pub struct Streams<D> {
    ctxs: Contexts,
    _driver: std::marker::PhantomData<fn() -> D>,
}

/// A stream and the last message it read.
pub struct StreamSock<S> {
    s: S,
    last: Option<Multipart>,
}

macro_rules! async_driver {
    ($name:ident, $krate:ident) => {
        /// The protocol API of this driver, with a case's contexts.
        pub struct $name(pub Contexts);

        impl ProtoDriver for $name {
            type T = $krate::Transport;

            #[allow(clippy::manual_async_fn)]
            fn open<P, F>(
                &self,
                kind: Kind,
                opts: Opts,
                connect: Option<String>,
                f: F,
            ) -> impl Future<Output = Result<(Self::T, Arc<Mutex<P>>), String>> + Send
            where
                F: FnOnce() -> P + Send + 'static,
                P: ZmqProtocol<Self::T> + Send + 'static,
            {
                let mut b = $krate::create_zmq_connection(f, socket_type(kind));
                if let Some(c) = self.0.get(opts.group) {
                    b = b.context(c);
                }
                for (o, v) in options(opts) {
                    b = b.setsockopt(o, v);
                }
                if let Some(ep) = connect {
                    b = b.connect(ep);
                }
                async move { b.open().await.ctx("open") }
            }
        }

        impl Sock for StreamSock<$krate::ZmqStream> {
            type Out = Bytes;

            async fn send(&mut self, m: &Bytes) -> Result<(), String> {
                self.s.write(one(m)).ctx("write")?;
                self.s.drain().await.ctx("drain")
            }

            async fn recv(&mut self) -> Result<Got, String> {
                let m = self.s.read().await.ctx("read")?;
                let g = got(&m);
                self.last = Some(m);
                Ok(g)
            }

            async fn echo(&mut self) -> Result<(), String> {
                let m = self.last.take().ok_or("nothing to echo")?;
                self.s.write(m).ctx("write")
            }
        }

        impl SockLib for Streams<$name> {
            type Sock = StreamSock<$krate::ZmqStream>;

            fn out(&self, data: &[u8]) -> Bytes {
                Bytes::copy_from_slice(data)
            }

            async fn bind(
                &self,
                kind: Kind,
                ep: &Ep,
                opts: Opts,
            ) -> Result<(Self::Sock, String), String> {
                let mut b = $krate::create_zmq_stream(socket_type(kind));
                if let Some(c) = self.ctxs.get(opts.group) {
                    b = b.context(c);
                }
                for (o, v) in options(opts) {
                    b = b.setsockopt(o, v);
                }
                let s = b.open().await.ctx("open")?;
                let addr = s.transport().bind(&ep.zmq()).ctx("bind")?;
                Ok((StreamSock { s, last: None }, addr))
            }

            async fn connect(
                &self,
                kind: Kind,
                ep: &str,
                opts: Opts,
            ) -> Result<Self::Sock, String> {
                let mut b = $krate::create_zmq_stream(socket_type(kind));
                if let Some(c) = self.ctxs.get(opts.group) {
                    b = b.context(c);
                }
                for (o, v) in options(opts) {
                    b = b.setsockopt(o, v);
                }
                let s = b.open().await.ctx("open")?;
                if kind == Kind::Sub {
                    s.transport().subscribe(b"").ctx("subscribe")?;
                }
                s.transport().connect(ep).ctx("connect")?;
                Ok(StreamSock { s, last: None })
            }

            fn burst_note(&self) -> &'static str {
                " (drain() waited)"
            }
        }
    };
}

async_driver!(TokioDriver, aiozmq_tokio);
async_driver!(SmolDriver, aiozmq_smol);

/// The blocking driver's protocol API, with a case's contexts.
pub struct BlockingDriver(pub Contexts);

impl ProtoDriver for BlockingDriver {
    type T = aiozmq_blocking::Transport;

    fn open<P, F>(
        &self,
        kind: Kind,
        opts: Opts,
        connect: Option<String>,
        f: F,
    ) -> impl Future<Output = Result<(Self::T, Arc<Mutex<P>>), String>> + Send
    where
        F: FnOnce() -> P + Send + 'static,
        P: ZmqProtocol<Self::T> + Send + 'static,
    {
        let mut b = aiozmq_blocking::create_zmq_connection(f, socket_type(kind));
        if let Some(c) = self.0.get(opts.group) {
            b = b.context(c);
        }
        for (o, v) in options(opts) {
            b = b.setsockopt(o, v);
        }
        if let Some(ep) = connect {
            b = b.connect(ep);
        }
        std::future::ready(b.open().ctx("open"))
    }
}

/// A blocking wait of the blocking stream that makes no progress this long fails.
const STALL: Duration = Duration::from_secs(20);

impl Sock for StreamSock<aiozmq_blocking::ZmqStream> {
    type Out = Bytes;

    async fn send(&mut self, m: &Bytes) -> Result<(), String> {
        self.s.write(one(m)).ctx("write")?;
        self.s.drain_timeout(STALL).ctx("drain")
    }

    async fn recv(&mut self) -> Result<Got, String> {
        let m = self.s.read_timeout(STALL).ctx("read")?;
        let g = got(&m);
        self.last = Some(m);
        Ok(g)
    }

    async fn echo(&mut self) -> Result<(), String> {
        let m = self.last.take().ok_or("nothing to echo")?;
        self.s.write(m).ctx("write")
    }
}

impl SockLib for Streams<BlockingDriver> {
    type Sock = StreamSock<aiozmq_blocking::ZmqStream>;

    fn out(&self, data: &[u8]) -> Bytes {
        Bytes::copy_from_slice(data)
    }

    async fn bind(&self, kind: Kind, ep: &Ep, opts: Opts) -> Result<(Self::Sock, String), String> {
        let mut b = aiozmq_blocking::create_zmq_stream(socket_type(kind));
        if let Some(c) = self.ctxs.get(opts.group) {
            b = b.context(c);
        }
        for (o, v) in options(opts) {
            b = b.setsockopt(o, v);
        }
        let s = b.open().ctx("open")?;
        let addr = s.transport().bind(&ep.zmq()).ctx("bind")?;
        Ok((StreamSock { s, last: None }, addr))
    }

    async fn connect(&self, kind: Kind, ep: &str, opts: Opts) -> Result<Self::Sock, String> {
        let mut b = aiozmq_blocking::create_zmq_stream(socket_type(kind));
        if let Some(c) = self.ctxs.get(opts.group) {
            b = b.context(c);
        }
        for (o, v) in options(opts) {
            b = b.setsockopt(o, v);
        }
        let s = b.open().ctx("open")?;
        if kind == Kind::Sub {
            s.transport().subscribe(b"").ctx("subscribe")?;
        }
        s.transport().connect(ep).ctx("connect")?;
        Ok(StreamSock { s, last: None })
    }

    fn burst_note(&self) -> &'static str {
        " (drain() waited)"
    }
}

impl<D> Streams<D> {
    /// The stream API with a case's contexts.
    pub fn new(ctxs: Contexts) -> Streams<D> {
        Streams {
            ctxs,
            _driver: std::marker::PhantomData,
        }
    }
}
