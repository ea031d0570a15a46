//! zeromq 0.7 (pure Rust) on tokio. It has no high-water-mark option: its PUB
//! drops what a slow subscriber cannot take, reported as a loss.

use aiozmq_core::Bytes;
use zeromq::{Socket, SocketRecv, SocketSend, ZmqMessage};

use super::{Ep, Got, Kind, Opts, Sock, SockLib};
use crate::measure::Ctx;

/// zeromq: no context.
pub struct Zeromq;

/// One of zeromq's socket types, and the last message received.
pub struct ZSock {
    s: ZKind,
    last: Option<ZmqMessage>,
}

enum ZKind {
    Push(zeromq::PushSocket),
    Pull(zeromq::PullSocket),
    Pub(zeromq::PubSocket),
    Sub(zeromq::SubSocket),
    Dealer(zeromq::DealerSocket),
    Router(zeromq::RouterSocket),
    Req(zeromq::ReqSocket),
    Rep(zeromq::RepSocket),
}

impl Sock for ZSock {
    type Out = Bytes;

    async fn send(&mut self, m: &Bytes) -> Result<(), String> {
        let m = ZmqMessage::from(m.clone());
        match &mut self.s {
            ZKind::Push(s) => s.send(m).await,
            ZKind::Pub(s) => s.send(m).await,
            ZKind::Dealer(s) => s.send(m).await,
            ZKind::Req(s) => s.send(m).await,
            _ => return Err("this socket does not send".into()),
        }
        .ctx("send")
    }

    async fn recv(&mut self) -> Result<Got, String> {
        let m = match &mut self.s {
            ZKind::Pull(s) => s.recv().await,
            ZKind::Sub(s) => s.recv().await,
            ZKind::Dealer(s) => s.recv().await,
            ZKind::Router(s) => s.recv().await,
            ZKind::Req(s) => s.recv().await,
            ZKind::Rep(s) => s.recv().await,
            _ => return Err("this socket does not receive".into()),
        }
        .ctx("recv")?;
        let g = Got::new(
            m.len(),
            m.get(0).and_then(|f| f.first().copied()),
            m.get(m.len().saturating_sub(1)).map_or(0, |f| f.len()),
        );
        self.last = Some(m);
        Ok(g)
    }

    async fn echo(&mut self) -> Result<(), String> {
        let m = self.last.take().ok_or("nothing to echo")?;
        match &mut self.s {
            ZKind::Router(s) => s.send(m).await,
            ZKind::Rep(s) => s.send(m).await,
            _ => return Err("this socket does not echo".into()),
        }
        .ctx("send")
    }
}

fn new(kind: Kind) -> ZKind {
    match kind {
        Kind::Push => ZKind::Push(zeromq::PushSocket::new()),
        Kind::Pull => ZKind::Pull(zeromq::PullSocket::new()),
        Kind::Pub => ZKind::Pub(zeromq::PubSocket::new()),
        Kind::Sub => ZKind::Sub(zeromq::SubSocket::new()),
        Kind::Dealer => ZKind::Dealer(zeromq::DealerSocket::new()),
        Kind::Router => ZKind::Router(zeromq::RouterSocket::new()),
        Kind::Req => ZKind::Req(zeromq::ReqSocket::new()),
        Kind::Rep => ZKind::Rep(zeromq::RepSocket::new()),
    }
}

macro_rules! each {
    ($s:expr, $x:ident => $e:expr) => {
        match $s {
            ZKind::Push($x) => $e,
            ZKind::Pull($x) => $e,
            ZKind::Pub($x) => $e,
            ZKind::Sub($x) => $e,
            ZKind::Dealer($x) => $e,
            ZKind::Router($x) => $e,
            ZKind::Req($x) => $e,
            ZKind::Rep($x) => $e,
        }
    };
}

impl SockLib for Zeromq {
    type Sock = ZSock;

    fn out(&self, data: &[u8]) -> Bytes {
        Bytes::copy_from_slice(data)
    }

    async fn bind(&self, kind: Kind, ep: &Ep, _opts: Opts) -> Result<(ZSock, String), String> {
        let mut s = new(kind);
        let addr = each!(&mut s, x => x.bind(&ep.port0()).await.ctx("bind")?.to_string());
        Ok((ZSock { s, last: None }, addr))
    }

    async fn connect(&self, kind: Kind, ep: &str, _opts: Opts) -> Result<ZSock, String> {
        let mut s = new(kind);
        each!(&mut s, x => x.connect(ep).await.ctx("connect")?);
        if let ZKind::Sub(x) = &mut s {
            x.subscribe("").await.ctx("subscribe")?;
        }
        Ok(ZSock { s, last: None })
    }

    fn lossy_pub(&self) -> bool {
        true
    }
}
