//! `Authenticator`: a ZAP handler (RFC 27) on any driver, like pyzmq's
//! `zmq.auth`. It is an ordinary transport — a REP socket bound at
//! `inproc://zeromq.zap.01` in its context — whose protocol answers each of
//! libzmq's requests with the core's pure [`ZapPolicy`].

use std::fmt;
use std::io;
use std::sync::{Arc, Mutex, MutexGuard};

use aiozmq_core::zap::{ZapPolicy, ZAP_ENDPOINT};
use aiozmq_core::{Multipart, SocketType, ZmqProtocol, ZmqTransport};

use crate::asynch::AsyncRuntime;
use crate::builder::connection;
use crate::runtime::{Async, Blocking, Runtime};
use crate::transport::Transport;

/// Answers ZAP requests for every socket of its context: which IP addresses
/// may connect, which PLAIN users and passwords, which CURVE client keys, per
/// ZAP domain (`"*"` for all). Start it before the sockets it guards bind or
/// connect: libzmq admits everyone while no handler is bound.
///
/// [`stop`](Self::stop) (or dropping it) unbinds the handler.
pub struct Authenticator<R> {
    transport: Transport<R>,
    policy: Arc<Mutex<ZapPolicy>>,
}

/// The handler's protocol: one reply per request, from the policy.
struct ZapHandler<T> {
    policy: Arc<Mutex<ZapPolicy>>,
    transport: Option<T>,
}

impl<T: ZmqTransport> ZmqProtocol<T> for ZapHandler<T> {
    fn connection_made(&mut self, transport: T) {
        self.transport = Some(transport);
    }

    fn msg_received(&mut self, request: Multipart) {
        let reply = lock(&self.policy).handle(&request);
        if let Some(t) = &self.transport {
            // libzmq holds the peer's handshake until this reply comes.
            if let Err(e) = t.write(reply.to_frames()) {
                tracing::error!("the ZAP handler could not reply: {e}");
            }
        }
    }

    fn connection_lost(&mut self, _exc: Option<io::Error>) {
        self.transport = None;
    }
}

fn lock(policy: &Mutex<ZapPolicy>) -> MutexGuard<'_, ZapPolicy> {
    policy.lock().unwrap_or_else(|p| p.into_inner())
}

impl<R: Runtime> Authenticator<R> {
    fn open(context: Option<zmq::Context>) -> io::Result<Authenticator<R>> {
        let policy = Arc::new(Mutex::new(ZapPolicy::new()));
        let handler_policy = policy.clone();
        let mut builder = connection::<R, _, _>(
            move || ZapHandler {
                policy: handler_policy,
                transport: None,
            },
            SocketType::Rep,
        );
        if let Some(context) = context {
            builder = builder.context(context);
        }
        let (transport, _) = builder.bind(ZAP_ENDPOINT).open_now()?;
        Ok(Authenticator { transport, policy })
    }

    /// Admits only these IP addresses (once any is given), whatever their
    /// credentials; PLAIN and CURVE peers from them must still authenticate.
    pub fn allow(&self, addresses: impl IntoIterator<Item = impl Into<String>>) {
        lock(&self.policy).allow(addresses);
    }

    /// Refuses these IP addresses (ignored while an allow list is set).
    pub fn deny(&self, addresses: impl IntoIterator<Item = impl Into<String>>) {
        lock(&self.policy).deny(addresses);
    }

    /// The PLAIN `(user, password)` pairs admitted in `domain` (`"*"`: all),
    /// replacing the domain's earlier ones.
    pub fn configure_plain(
        &self,
        domain: &str,
        passwords: impl IntoIterator<Item = (impl Into<String>, impl Into<String>)>,
    ) {
        lock(&self.policy).configure_plain(domain, passwords);
    }

    /// The CURVE client public keys (Z85) admitted in `domain` (`"*"`: all),
    /// replacing the domain's earlier ones.
    pub fn configure_curve(
        &self,
        domain: &str,
        allowed_public_keys: impl IntoIterator<Item = impl Into<String>>,
    ) {
        lock(&self.policy).configure_curve(domain, allowed_public_keys);
    }

    /// Admits any CURVE client key in `domain`: encrypted, not authenticated.
    pub fn configure_curve_any(&self, domain: &str) {
        lock(&self.policy).configure_curve_any(domain);
    }

    /// Unbinds the handler and closes it; libzmq's own rules apply again.
    /// Idempotent; dropping the authenticator does the same.
    pub fn stop(&self) {
        if !self.transport.is_closing() {
            // Unbinding an inproc endpoint is immediate; closing is not, and a
            // new authenticator may want the endpoint at once.
            let _ = self.transport.unbind(ZAP_ENDPOINT);
            self.transport.close();
        }
    }
}

impl<R: AsyncRuntime> Authenticator<Async<R>> {
    /// Starts a ZAP handler for the process-wide default context (the one
    /// transports use unless given another).
    pub async fn start() -> io::Result<Self> {
        Self::open(None)
    }

    /// Starts a ZAP handler for the sockets of `context`.
    pub async fn start_in(context: zmq::Context) -> io::Result<Self> {
        Self::open(Some(context))
    }
}

impl<R: Runtime> Authenticator<Blocking<R>> {
    /// Starts a ZAP handler for the process-wide default context (the one
    /// transports use unless given another).
    pub fn start() -> io::Result<Self> {
        Self::open(None)
    }

    /// Starts a ZAP handler for the sockets of `context`.
    pub fn start_in(context: zmq::Context) -> io::Result<Self> {
        Self::open(Some(context))
    }
}

impl<R> Drop for Authenticator<R> {
    fn drop(&mut self) {
        if !self.transport.handle.is_closing() {
            let _ = self.transport.handle.unbind(ZAP_ENDPOINT);
            self.transport.handle.close();
        }
    }
}

impl<R> fmt::Debug for Authenticator<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authenticator")
            .field("transport", &self.transport)
            .finish_non_exhaustive()
    }
}
