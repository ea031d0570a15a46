//! rzmq 0.5 (pure Rust; its io_uring backend is an opt-in feature, left off)
//! on tokio's multi-thread runtime. It reads an HWM of 0 as 1, so
//! "unbounded" is a large HWM here; its PUB is told `XPUB_NODROP`.

use rzmq::socket::options::{LINGER, RCVHWM, SNDHWM, SUBSCRIBE, XPUB_NODROP};
use rzmq::{Context, Msg, SocketType};

use super::{Ep, Got, Kind, Opts, Sock, SockLib, BIG_HWM};
use crate::measure::Ctx;

/// rzmq with the case's context (create it inside the case's runtime).
pub struct Rzmq {
    ctx: Context,
}

impl Rzmq {
    /// A context.
    pub fn new() -> Result<Rzmq, String> {
        Ok(Rzmq {
            ctx: Context::new().ctx("context")?,
        })
    }

    async fn open(&self, kind: Kind, opts: Opts) -> Result<rzmq::Socket, String> {
        let t = match kind {
            Kind::Push => SocketType::Push,
            Kind::Pull => SocketType::Pull,
            Kind::Req => SocketType::Req,
            Kind::Rep => SocketType::Rep,
            Kind::Pub => SocketType::Pub,
            Kind::Sub => SocketType::Sub,
            Kind::Dealer => SocketType::Dealer,
            Kind::Router => SocketType::Router,
        };
        let s = self.ctx.socket(t).ctx("socket")?;
        s.set_option(LINGER, 0i32).await.ctx("linger")?;
        if opts.unbounded {
            s.set_option(SNDHWM, BIG_HWM).await.ctx("sndhwm")?;
            s.set_option(RCVHWM, BIG_HWM).await.ctx("rcvhwm")?;
        }
        if kind == Kind::Pub {
            s.set_option(XPUB_NODROP, 1i32).await.ctx("xpub_nodrop")?;
        }
        if kind == Kind::Sub {
            s.set_option_raw(SUBSCRIBE, b"").await.ctx("subscribe")?;
        }
        Ok(s)
    }
}

/// An rzmq socket and the last message received (ROUTER: all its frames).
pub struct RzSock {
    s: rzmq::Socket,
    router: bool,
    last: Vec<Msg>,
}

impl Sock for RzSock {
    type Out = aiozmq_core::Bytes;

    async fn send(&mut self, m: &aiozmq_core::Bytes) -> Result<(), String> {
        self.s.send(Msg::from_bytes(m.clone())).await.ctx("send")
    }

    async fn recv(&mut self) -> Result<Got, String> {
        if self.router {
            self.last = self.s.recv_multipart().await.ctx("recv")?;
        } else {
            self.last.clear();
            self.last.push(self.s.recv().await.ctx("recv")?);
        }
        let n = self.last.len();
        Ok(Got::new(
            n,
            self.last
                .first()
                .and_then(|f| f.data().and_then(|d| d.first().copied())),
            self.last.last().map_or(0, |f| f.size()),
        ))
    }

    async fn echo(&mut self) -> Result<(), String> {
        let frames = std::mem::take(&mut self.last);
        if self.router {
            self.s.send_multipart(frames).await.ctx("send")
        } else {
            let m = frames.into_iter().next().ok_or("nothing to echo")?;
            self.s.send(m).await.ctx("send")
        }
    }
}

impl SockLib for Rzmq {
    type Sock = RzSock;

    fn out(&self, data: &[u8]) -> aiozmq_core::Bytes {
        aiozmq_core::Bytes::copy_from_slice(data)
    }

    async fn bind(&self, kind: Kind, ep: &Ep, opts: Opts) -> Result<(RzSock, String), String> {
        let s = self.open(kind, opts).await?;
        s.bind(&ep.port0()).await.ctx("bind")?;
        let addr = match ep {
            Ep::Tcp => {
                let raw = s
                    .get_option(rzmq::socket::options::LAST_ENDPOINT)
                    .await
                    .ctx("last endpoint")?;
                String::from_utf8_lossy(&raw)
                    .trim_end_matches('\0')
                    .to_string()
            }
            other => other.port0(),
        };
        Ok((
            RzSock {
                s,
                router: kind == Kind::Router,
                last: Vec::new(),
            },
            addr,
        ))
    }

    async fn connect(&self, kind: Kind, ep: &str, opts: Opts) -> Result<RzSock, String> {
        let s = self.open(kind, opts).await?;
        s.connect(ep).await.ctx("connect")?;
        Ok(RzSock {
            s,
            router: kind == Kind::Router,
            last: Vec::new(),
        })
    }

    fn burst_note(&self) -> &'static str {
        " (send() pends at SNDHWM)"
    }
}
