//! tmq 0.5 (libzmq through `zmq` 0.10) on tokio.

use futures_util::{SinkExt, StreamExt};
use tmq::{AsZmqSocket, Multipart};

use super::ours::Contexts;
use super::raw::last_endpoint;
use super::{Ep, Got, Kind, Opts, Sock, SockLib};
use crate::measure::Ctx;

/// tmq with a case's context(s).
pub struct Tmq {
    ctx: zmq::Context,
    spread: Contexts,
}

impl Tmq {
    /// `spread`: the contexts of a scale case that spreads its pairs; else
    /// one plain context for every socket (as a tmq user would have).
    pub fn new(spread: Contexts) -> Tmq {
        Tmq {
            ctx: zmq::Context::new(),
            spread,
        }
    }

    fn ctx(&self, opts: Opts) -> zmq::Context {
        self.spread
            .get(opts.group)
            .unwrap_or_else(|| self.ctx.clone())
    }
}

/// One of tmq's socket types (REQ and REP change type with each call).
pub enum TmqSock {
    /// PUSH.
    Push(tmq::push::Push),
    /// PULL.
    Pull(tmq::pull::Pull),
    /// PUB.
    Pub(tmq::publish::Publish),
    /// SUB.
    Sub(tmq::subscribe::Subscribe),
    /// DEALER.
    Dealer(tmq::dealer::Dealer),
    /// ROUTER (with the last message, for the echo).
    Router(tmq::router::Router, Option<Multipart>),
    /// REQ or REP: whichever half the next call needs, and the last message.
    ReqRep(
        Option<tmq::request_reply::RequestSender>,
        Option<tmq::request_reply::RequestReceiver>,
        Option<Multipart>,
    ),
}

fn got(m: &Multipart) -> Got {
    Got::new(
        m.len(),
        m.0.front().and_then(|f| f.first().copied()),
        m.0.back().map_or(0, |f| f.len()),
    )
}

fn ended<T>() -> Result<T, String> {
    Err("the stream ended".into())
}

impl Sock for TmqSock {
    type Out = Vec<u8>;

    async fn send(&mut self, m: &Vec<u8>) -> Result<(), String> {
        let msg = vec![&m[..]];
        match self {
            TmqSock::Push(s) => s.send(msg).await.ctx("send"),
            TmqSock::Pub(s) => s.send(msg).await.ctx("send"),
            TmqSock::Dealer(s) => s.send(msg).await.ctx("send"),
            TmqSock::ReqRep(tx, rx, _) => {
                let t = tx.take().ok_or("REQ: send out of turn")?;
                *rx = Some(t.send(msg.into()).await.ctx("send")?);
                Ok(())
            }
            _ => Err("this socket does not send".into()),
        }
    }

    async fn recv(&mut self) -> Result<Got, String> {
        match self {
            TmqSock::Pull(s) => s
                .next()
                .await
                .map_or_else(ended, |m| Ok(got(&m.ctx("recv")?))),
            TmqSock::Sub(s) => s
                .next()
                .await
                .map_or_else(ended, |m| Ok(got(&m.ctx("recv")?))),
            TmqSock::Dealer(s) => s
                .next()
                .await
                .map_or_else(ended, |m| Ok(got(&m.ctx("recv")?))),
            TmqSock::Router(s, last) => {
                let m = s.next().await.ok_or("the stream ended")?.ctx("recv")?;
                let g = got(&m);
                *last = Some(m);
                Ok(g)
            }
            TmqSock::ReqRep(tx, rx, last) => {
                let r = rx.take().ok_or("recv out of turn")?;
                let (m, t) = r.recv().await.ctx("recv")?;
                let g = got(&m);
                *tx = Some(t);
                *last = Some(m);
                Ok(g)
            }
            _ => Err("this socket does not receive".into()),
        }
    }

    async fn echo(&mut self) -> Result<(), String> {
        match self {
            TmqSock::Router(s, last) => {
                let m = last.take().ok_or("nothing to echo")?;
                s.send(m).await.ctx("send")
            }
            TmqSock::ReqRep(tx, rx, last) => {
                let m = last.take().ok_or("nothing to echo")?;
                let t = tx.take().ok_or("REP: send out of turn")?;
                *rx = Some(t.send(m).await.ctx("send")?);
                Ok(())
            }
            _ => Err("this socket does not echo".into()),
        }
    }
}

impl Tmq {
    fn open(&self, kind: Kind, opts: Opts, ep: &str, bind: bool) -> Result<TmqSock, String> {
        let ctx = self.ctx(opts);
        macro_rules! build {
            ($b:expr) => {{
                let mut b = $b.set_linger(0);
                if opts.unbounded {
                    b = b.set_sndhwm(0).set_rcvhwm(0);
                }
                if bind {
                    b.bind(ep).ctx("bind")?
                } else {
                    b.connect(ep).ctx("connect")?
                }
            }};
        }
        Ok(match kind {
            Kind::Push => TmqSock::Push(build!(tmq::push(&ctx))),
            Kind::Pull => TmqSock::Pull(build!(tmq::pull(&ctx))),
            Kind::Pub => TmqSock::Pub(build!(tmq::publish(&ctx))),
            Kind::Sub => TmqSock::Sub(
                build!(tmq::subscribe(&ctx))
                    .subscribe(b"")
                    .ctx("subscribe")?,
            ),
            Kind::Dealer => TmqSock::Dealer(build!(tmq::dealer(&ctx))),
            Kind::Router => TmqSock::Router(build!(tmq::router(&ctx)), None),
            Kind::Req => TmqSock::ReqRep(Some(build!(tmq::request(&ctx))), None, None),
            Kind::Rep => TmqSock::ReqRep(None, Some(build!(tmq::reply(&ctx))), None),
        })
    }
}

impl TmqSock {
    fn socket(&self) -> Option<&zmq::Socket> {
        Some(match self {
            TmqSock::Push(s) => s.get_socket(),
            TmqSock::Pull(s) => s.get_socket(),
            TmqSock::Pub(s) => s.get_socket(),
            TmqSock::Sub(s) => s.get_socket(),
            TmqSock::Dealer(s) => s.get_socket(),
            TmqSock::Router(s, _) => s.get_socket(),
            TmqSock::ReqRep(Some(s), _, _) => s.get_socket(),
            TmqSock::ReqRep(_, Some(s), _) => s.get_socket(),
            TmqSock::ReqRep(None, None, _) => return None,
        })
    }
}

impl SockLib for Tmq {
    type Sock = TmqSock;

    fn out(&self, data: &[u8]) -> Vec<u8> {
        data.to_vec()
    }

    async fn bind(&self, kind: Kind, ep: &Ep, opts: Opts) -> Result<(TmqSock, String), String> {
        let s = self.open(kind, opts, &ep.zmq(), true)?;
        let addr = last_endpoint(s.socket().ok_or("no socket")?)?;
        Ok((s, addr))
    }

    async fn connect(&self, kind: Kind, ep: &str, opts: Opts) -> Result<TmqSock, String> {
        self.open(kind, opts, ep, false)
    }

    fn burst_note(&self) -> &'static str {
        " (send() pends at SNDHWM)"
    }
}
