//! async_zmq 0.4 (libzmq through `zmq` 0.10) on tokio.

use async_zmq::{MultipartIter, SinkExt, StreamExt};

use super::ours::Contexts;
use super::raw::{apply, last_endpoint, zmq_kind};
use super::{AssertSend, Ep, Got, Kind, Opts, Sock, SockLib};
use crate::measure::Ctx;

type Iter = std::vec::IntoIter<zmq::Message>;
type Msg = MultipartIter<Iter, zmq::Message>;

/// async_zmq with a case's context(s).
pub struct AsyncZmq {
    ctx: zmq::Context,
    spread: Contexts,
}

impl AsyncZmq {
    /// As [`super::tmq::Tmq::new`].
    pub fn new(spread: Contexts) -> AsyncZmq {
        AsyncZmq {
            ctx: zmq::Context::new(),
            spread,
        }
    }

    fn socket(&self, kind: Kind, opts: Opts) -> Result<zmq::Socket, String> {
        let ctx = self
            .spread
            .get(opts.group)
            .unwrap_or_else(|| self.ctx.clone());
        let s = ctx.socket(zmq_kind(kind)).ctx("socket")?;
        apply(&s, kind, opts)?;
        Ok(s)
    }
}

/// One of async_zmq's socket types, and the last message received.
pub struct AzSock {
    s: AzKind,
    last: Option<Vec<zmq::Message>>,
}

enum AzKind {
    Push(async_zmq::Push<Iter, zmq::Message>),
    Pull(async_zmq::Pull),
    Pub(async_zmq::Publish<Iter, zmq::Message>),
    Sub(async_zmq::Subscribe),
    Dealer(async_zmq::Dealer<Iter, zmq::Message>),
    Router(async_zmq::Router<Iter, zmq::Message>),
    Req(async_zmq::Request<Iter, zmq::Message>),
    Rep(async_zmq::Reply<Iter, zmq::Message>),
}

fn msg(b: &[u8]) -> Msg {
    MultipartIter(vec![zmq::Message::from(b)].into_iter())
}

impl Sock for AzSock {
    type Out = Vec<u8>;

    async fn send(&mut self, m: &Vec<u8>) -> Result<(), String> {
        match &mut self.s {
            AzKind::Push(s) => s.send(msg(m)).await.ctx("send"),
            AzKind::Pub(s) => s.send(msg(m)).await.ctx("send"),
            AzKind::Dealer(s) => s.send(msg(m)).await.ctx("send"),
            // Its REQ/REP futures borrow the !Sync socket; `&mut self` makes
            // the borrow exclusive.
            AzKind::Req(s) => AssertSend(s.send(msg(m))).await.ctx("send"),
            _ => Err("this socket does not send".into()),
        }
    }

    async fn recv(&mut self) -> Result<Got, String> {
        let m = match &mut self.s {
            AzKind::Pull(s) => s.next().await.ok_or("the stream ended")?.ctx("recv")?,
            AzKind::Sub(s) => s.next().await.ok_or("the stream ended")?.ctx("recv")?,
            AzKind::Dealer(s) => s.next().await.ok_or("the stream ended")?.ctx("recv")?,
            AzKind::Router(s) => s.next().await.ok_or("the stream ended")?.ctx("recv")?,
            AzKind::Req(s) => AssertSend(s.recv()).await.ctx("recv")?,
            AzKind::Rep(s) => AssertSend(s.recv()).await.ctx("recv")?,
            _ => return Err("this socket does not receive".into()),
        };
        let g = Got::new(
            m.len(),
            m.first().and_then(|f| f.first().copied()),
            m.last().map_or(0, |f| f.len()),
        );
        self.last = Some(m);
        Ok(g)
    }

    async fn echo(&mut self) -> Result<(), String> {
        let m = MultipartIter(self.last.take().ok_or("nothing to echo")?.into_iter());
        match &mut self.s {
            AzKind::Router(s) => s.send(m).await.ctx("send"),
            AzKind::Rep(s) => AssertSend(s.send(m)).await.ctx("send"),
            _ => Err("this socket does not echo".into()),
        }
    }
}

fn wrap(kind: Kind, s: zmq::Socket) -> AzSock {
    let s = match kind {
        Kind::Push => AzKind::Push(s.into()),
        Kind::Pull => AzKind::Pull(s.into()),
        Kind::Pub => AzKind::Pub(s.into()),
        Kind::Sub => AzKind::Sub(s.into()),
        Kind::Dealer => AzKind::Dealer(s.into()),
        Kind::Router => AzKind::Router(s.into()),
        Kind::Req => AzKind::Req(s.into()),
        Kind::Rep => AzKind::Rep(s.into()),
    };
    AzSock { s, last: None }
}

impl SockLib for AsyncZmq {
    type Sock = AzSock;

    fn out(&self, data: &[u8]) -> Vec<u8> {
        data.to_vec()
    }

    async fn bind(&self, kind: Kind, ep: &Ep, opts: Opts) -> Result<(AzSock, String), String> {
        let s = self.socket(kind, opts)?;
        s.bind(&ep.zmq()).ctx("bind")?;
        let addr = last_endpoint(&s)?;
        Ok((wrap(kind, s), addr))
    }

    async fn connect(&self, kind: Kind, ep: &str, opts: Opts) -> Result<AzSock, String> {
        let s = self.socket(kind, opts)?;
        s.connect(ep).ctx("connect")?;
        Ok(wrap(kind, s))
    }
}
