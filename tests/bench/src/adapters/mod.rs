//! One small adapter per library. The send/receive-style libraries (raw
//! libzmq, our stream API, the peers) implement [`SockLib`]; our protocol API
//! implements [`ProtoDriver`](ours::ProtoDriver). The workloads are written once
//! against these traits (`crate::workloads`).

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};

pub mod async_zmq;
pub mod omq;
pub mod ours;
pub mod raw;
pub mod rzmq;
pub mod tmq;
pub mod zeromq;

/// A socket type, as the workloads need them.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    /// PUSH.
    Push,
    /// PULL.
    Pull,
    /// REQ.
    Req,
    /// REP.
    Rep,
    /// PUB.
    Pub,
    /// SUB (subscribed to everything on connect).
    Sub,
    /// DEALER.
    Dealer,
    /// ROUTER.
    Router,
}

/// Where to bind.
#[derive(Clone, Debug)]
pub enum Ep {
    /// tcp loopback, any port.
    Tcp,
    /// ipc:// at this path.
    Ipc(String),
    /// inproc:// with this name.
    Inproc(String),
}

impl Ep {
    /// A fresh endpoint of this transport (unique in the process).
    pub fn fresh(tr: crate::catalog::Tr) -> Ep {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        match tr {
            crate::catalog::Tr::Tcp | crate::catalog::Tr::TcpCurve => Ep::Tcp,
            crate::catalog::Tr::Ipc => {
                let dir = ipc_dir(std::process::id());
                let _ = std::fs::create_dir_all(&dir);
                Ep::Ipc(format!("{dir}/{n}.sock"))
            }
            crate::catalog::Tr::Inproc => Ep::Inproc(format!("bench-{n}")),
        }
    }

    /// The endpoint as libzmq spells it (`*` for any tcp port).
    pub fn zmq(&self) -> String {
        match self {
            Ep::Tcp => "tcp://127.0.0.1:*".into(),
            Ep::Ipc(p) => format!("ipc://{p}"),
            Ep::Inproc(n) => format!("inproc://{n}"),
        }
    }

    /// The endpoint with port 0 for any tcp port (the pure-Rust peers).
    pub fn port0(&self) -> String {
        match self {
            Ep::Tcp => "tcp://127.0.0.1:0".into(),
            other => other.zmq(),
        }
    }
}

/// The folder of a case process's ipc sockets; the parent removes it.
pub fn ipc_dir(pid: u32) -> String {
    format!("/tmp/aiozmq-bench-{pid}")
}

/// Socket options a workload asks for.
#[derive(Clone, Copy, Default, Debug)]
pub struct Opts {
    /// No high-water mark (libzmq: 0; peers that read 0 as 1 get a large one).
    pub unbounded: bool,
    /// The pair's index in a scale case (picks the libzmq context when the
    /// pairs are spread over several).
    pub group: usize,
    /// CURVE, and this socket's side of it.
    pub curve: Option<Curve>,
}

/// A socket's side of CURVE.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Curve {
    /// `CURVE_SERVER` with the server's secret key (the binding side).
    Server,
    /// The client's key pair and the server's public key.
    Client,
}

impl Curve {
    /// The options of each side of a case on `tr` (`None`s unless CURVE).
    pub fn sides(tr: crate::catalog::Tr) -> (Option<Curve>, Option<Curve>) {
        if tr == crate::catalog::Tr::TcpCurve {
            (Some(Curve::Server), Some(Curve::Client))
        } else {
            (None, None)
        }
    }
}

/// The CURVE keys of a benchmark process, Z85: one server and one client
/// key pair, made once by libzmq.
pub struct CurveKeys {
    /// The server's public key.
    pub server_public: String,
    /// The server's secret key.
    pub server_secret: String,
    /// The client's public key.
    pub client_public: String,
    /// The client's secret key.
    pub client_secret: String,
}

/// This process's CURVE keys.
pub fn curve_keys() -> &'static CurveKeys {
    static KEYS: std::sync::OnceLock<CurveKeys> = std::sync::OnceLock::new();
    KEYS.get_or_init(|| {
        let z85 = |k: &[u8; 32]| zmq::z85_encode(k).expect("32 bytes encode");
        let pair = || zmq::CurveKeyPair::new().expect("libzmq with CURVE");
        let (server, client) = (pair(), pair());
        CurveKeys {
            server_public: z85(&server.public_key),
            server_secret: z85(&server.secret_key),
            client_public: z85(&client.public_key),
            client_secret: z85(&client.secret_key),
        }
    })
}

/// The (option, Z85 key) pairs a side of CURVE sets, with libzmq's option
/// numbers (`ZMQ_CURVE_SERVER` is set apart: it is an int).
pub fn curve_key_options(side: Curve) -> Vec<(aiozmq_core::SockOpt, &'static str)> {
    use aiozmq_core::SockOpt;
    let k = curve_keys();
    match side {
        Curve::Server => vec![(SockOpt::CURVE_SECRETKEY, k.server_secret.as_str())],
        Curve::Client => vec![
            (SockOpt::CURVE_SERVERKEY, k.server_public.as_str()),
            (SockOpt::CURVE_PUBLICKEY, k.client_public.as_str()),
            (SockOpt::CURVE_SECRETKEY, k.client_secret.as_str()),
        ],
    }
}

/// A high-water mark "large enough to be unlimited" for the libraries that
/// read 0 as 1 (more than any case queues).
pub const BIG_HWM: i32 = 10_000_000;

/// The shape of a received message.
#[derive(Clone, Copy, Debug)]
pub struct Got {
    /// Frames.
    pub parts: usize,
    /// The first byte of the first frame (0 if empty).
    pub first: u8,
    /// Bytes in the last frame.
    pub last_len: usize,
}

impl Got {
    /// From the frames' lengths and the first byte.
    pub fn new(parts: usize, first: Option<u8>, last_len: usize) -> Got {
        Got {
            parts,
            first: first.unwrap_or(0),
            last_len,
        }
    }

    /// One frame of `size` bytes.
    pub fn is_single(&self, size: usize) -> bool {
        self.parts == 1 && self.last_len == size
    }
}

/// An open socket of a send/receive-style library. Each call completes one
/// message; futures are ready at once for the blocking libraries.
pub trait Sock: Send + 'static {
    /// A message prepared once for sending many times.
    type Out: Send + Sync + 'static;
    /// Sends one message (and waits while the library says "full").
    fn send(&mut self, m: &Self::Out) -> impl Future<Output = Result<(), String>> + Send;
    /// Receives one message, keeps it for [`echo`](Self::echo).
    fn recv(&mut self) -> impl Future<Output = Result<Got, String>> + Send;
    /// Sends the last message received back, whole (REP, ROUTER).
    fn echo(&mut self) -> impl Future<Output = Result<(), String>> + Send;
}

/// A send/receive-style library: opens sockets of one case. An instance
/// lives as long as its case and owns the library's context(s).
pub trait SockLib: Send + Sync + 'static {
    /// Its sockets.
    type Sock: Sock;
    /// Prepares a message of one frame.
    fn out(&self, data: &[u8]) -> <Self::Sock as Sock>::Out;
    /// Opens a socket bound to `ep`; returns the endpoint to connect to.
    fn bind(
        &self,
        kind: Kind,
        ep: &Ep,
        opts: Opts,
    ) -> impl Future<Output = Result<(Self::Sock, String), String>> + Send;
    /// Opens a socket connected to `ep` (SUB: subscribed to everything).
    fn connect(
        &self,
        kind: Kind,
        ep: &str,
        opts: Opts,
    ) -> impl Future<Output = Result<Self::Sock, String>> + Send;
    /// What the writer does at the high-water mark (the burst case's note).
    fn burst_note(&self) -> &'static str {
        ""
    }
    /// Its PUB drops by design (no option prevents it): a loss is a note, not
    /// a failure.
    fn lossy_pub(&self) -> bool {
        false
    }
}

/// A future that is `Send` although it holds a shared borrow of a `!Sync`
/// socket. Sound only when the socket is borrowed exclusively for the
/// future's life (through `&mut self`), so no other thread can touch it.
pub struct AssertSend<F>(pub F);

// SAFETY: see the type's docs: every use borrows its socket through `&mut`.
unsafe impl<F> Send for AssertSend<F> {}

impl<F: Future> Future for AssertSend<F> {
    type Output = F::Output;
    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<F::Output> {
        // SAFETY: structural pinning of the only field.
        unsafe { self.map_unchecked_mut(|s| &mut s.0) }.poll(cx)
    }
}
