//! omq-tokio 0.33 (pure-Rust ZMTP over a sans-IO codec) on tokio's
//! multi-thread runtime, in two modes: `Context::current()` (socket drivers on
//! the caller's runtime) and `Context::new()` (omq's own I/O thread). It reads
//! an HWM of 0 as 1, so "unbounded" is a large HWM here, and its PUB waits
//! for room instead of dropping only with `xpub_nodrop`.

use std::time::Duration;

use omq_tokio::{
    Context, CurveKeypair, CurvePublicKey, CurveSecretKey, Message, Options, SocketType,
};

use super::{Curve, Ep, Got, Kind, Opts, Sock, SockLib, BIG_HWM};
use crate::catalog::OmqMode;
use crate::measure::Ctx;

/// omq with the case's context (create it inside the case's runtime).
pub struct Omq {
    ctx: Context,
}

impl Omq {
    /// A context of this mode.
    pub fn new(mode: OmqMode) -> Omq {
        Omq {
            ctx: match mode {
                OmqMode::Current => Context::current(),
                OmqMode::IoThread => Context::new(),
            },
        }
    }

    fn open(&self, kind: Kind, opts: Opts) -> omq_tokio::Socket {
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
        let mut o = Options::default().linger(Duration::ZERO);
        if opts.unbounded {
            o = o.send_hwm(BIG_HWM as u32).recv_hwm(BIG_HWM as u32);
        }
        if kind == Kind::Pub {
            o.xpub_nodrop = true;
        }
        if let Some(side) = opts.curve {
            let k = super::curve_keys();
            let pair = |public: &str, secret: &str| CurveKeypair {
                public: CurvePublicKey::from_z85(public).expect("our Z85 public key"),
                secret: CurveSecretKey::from_z85(secret).expect("our Z85 secret key"),
            };
            o = match side {
                Curve::Server => o.curve_server(pair(&k.server_public, &k.server_secret)),
                Curve::Client => o.curve_client(
                    pair(&k.client_public, &k.client_secret),
                    CurvePublicKey::from_z85(&k.server_public).expect("our Z85 public key"),
                ),
            };
        }
        self.ctx.socket(t, o)
    }
}

/// An omq socket and the last message received.
pub struct OmqSock {
    s: omq_tokio::Socket,
    last: Option<Message>,
}

impl Sock for OmqSock {
    type Out = Message;

    async fn send(&mut self, m: &Message) -> Result<(), String> {
        self.s.send(m.clone()).await.ctx("send")
    }

    async fn recv(&mut self) -> Result<Got, String> {
        let m = self.s.recv().await.ctx("recv")?;
        let n = m.len();
        let g = Got::new(
            n,
            m.get(0).and_then(|f| f.first().copied()),
            m.get(n.saturating_sub(1)).map_or(0, |f| f.len()),
        );
        self.last = Some(m);
        Ok(g)
    }

    async fn echo(&mut self) -> Result<(), String> {
        let m = self.last.take().ok_or("nothing to echo")?;
        self.s.send(m).await.ctx("send")
    }
}

impl SockLib for Omq {
    type Sock = OmqSock;

    fn out(&self, data: &[u8]) -> Message {
        Message::from_slice(data)
    }

    async fn bind(&self, kind: Kind, ep: &Ep, opts: Opts) -> Result<(OmqSock, String), String> {
        let s = self.open(kind, opts);
        let addr = s.bind(ep.port0().as_str()).await.ctx("bind")?.to_string();
        Ok((OmqSock { s, last: None }, addr))
    }

    async fn connect(&self, kind: Kind, ep: &str, opts: Opts) -> Result<OmqSock, String> {
        let s = self.open(kind, opts);
        if kind == Kind::Sub {
            s.subscribe(aiozmq_core::Bytes::new())
                .await
                .ctx("subscribe")?;
        }
        s.connect(ep).await.ctx("connect")?;
        Ok(OmqSock { s, last: None })
    }

    fn burst_note(&self) -> &'static str {
        " (send() pends at SNDHWM)"
    }
}
