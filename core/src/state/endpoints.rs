//! The endpoint book: what went through this transport — bound and
//! connected endpoints and subscriptions, as libzmq holds them — and the
//! checks before a bind, connect, subscription or option reaches libzmq.

use std::collections::BTreeSet;
use std::io;

use bytes::Bytes;

use super::TransportState;
use crate::error;
use crate::option::{OptValue, SockOpt};
use crate::sets::{remove_endpoint, Sets};
use crate::SocketType;

/// The sets behind `bindings()`, `connections()` and `subscriptions()`.
pub(super) type Book = Sets;

/// A caller's door to endpoints, subscriptions and options:
/// [`TransportState::endpoints`].
#[derive(Debug)]
pub struct Endpoints<'a> {
    pub(super) state: &'a mut TransportState,
}

impl Endpoints<'_> {
    /// Checks an endpoint before `bind`; the caller binds and reports
    /// [`handle_bound`](Self::handle_bound).
    pub fn check_bind(&self, endpoint: &str) -> io::Result<()> {
        self.check_endpoint(endpoint)
    }

    /// Checks an endpoint before `connect`, `unbind` or `disconnect`.
    pub fn check_endpoint(&self, endpoint: &str) -> io::Result<()> {
        self.state.require_open()?;
        check_endpoint(endpoint)
    }

    /// `bind` succeeded with this real endpoint.
    pub fn handle_bound(&mut self, endpoint: String) {
        self.state.handle_zmq_call();
        self.state.book.bindings.insert(endpoint);
    }

    /// `unbind(endpoint)` succeeded. `spellings` are other forms libzmq may
    /// have matched it by (a tcp host resolved to its addresses); the entry
    /// libzmq removed leaves the set.
    pub fn handle_unbound(&mut self, endpoint: &str, spellings: &[String]) {
        self.state.handle_zmq_call();
        remove_endpoint(&mut self.state.book.bindings, endpoint, spellings);
    }

    /// `connect` succeeded.
    pub fn handle_connected(&mut self, endpoint: String) {
        self.state.handle_zmq_call();
        self.state.book.connections.insert(endpoint);
    }

    /// `disconnect(endpoint)` succeeded; `spellings` as for
    /// [`handle_unbound`](Self::handle_unbound).
    pub fn handle_disconnected(&mut self, endpoint: &str, spellings: &[String]) {
        self.state.handle_zmq_call();
        remove_endpoint(&mut self.state.book.connections, endpoint, spellings);
    }

    /// `subscribe(prefix)`: `Ok(true)` when the caller must set `ZMQ_SUBSCRIBE`,
    /// `Ok(false)` when the prefix is already held (aiozmq's dedup).
    pub fn check_subscribe(&self, prefix: &[u8]) -> io::Result<bool> {
        self.state.require_sub("subscribe")?;
        self.state.require_open()?;
        Ok(!self.state.book.subscriptions.contains(prefix))
    }

    /// `unsubscribe(prefix)`: `Ok(true)` when the caller must set
    /// `ZMQ_UNSUBSCRIBE`, `Ok(false)` when the prefix is not held.
    pub fn check_unsubscribe(&self, prefix: &[u8]) -> io::Result<bool> {
        self.state.require_sub("unsubscribe")?;
        self.state.require_open()?;
        Ok(self.state.book.subscriptions.contains(prefix))
    }

    /// `ZMQ_SUBSCRIBE` succeeded.
    pub fn handle_subscribed(&mut self, prefix: Bytes) {
        self.state.handle_zmq_call();
        self.state.book.subscriptions.insert(prefix);
    }

    /// `ZMQ_UNSUBSCRIBE` succeeded.
    pub fn handle_unsubscribed(&mut self, prefix: &[u8]) {
        self.state.handle_zmq_call();
        self.state.book.subscriptions.remove(prefix);
    }

    /// Checks `setsockopt(opt, value)` and returns the value in the option's type.
    pub fn check_setsockopt(&self, opt: SockOpt, value: OptValue) -> io::Result<OptValue> {
        self.state.require_open()?;
        crate::option::coerce(opt, value)
    }

    /// Checks `getsockopt(opt)` (and any other use of the open socket).
    pub fn check_getsockopt(&self, _opt: SockOpt) -> io::Result<()> {
        self.state.require_open()
    }

    /// A `setsockopt` succeeded; a user-chosen `LINGER` sets the close deadline.
    pub fn handle_setsockopt(&mut self, opt: SockOpt, value: &OptValue) {
        self.state.handle_zmq_call();
        if opt == SockOpt::LINGER {
            if let OptValue::Int(ms) = *value {
                self.state.user_linger = Some(ms);
            }
        }
    }
}

impl TransportState {
    /// Endpoints bound through this transport, as libzmq reports them.
    pub fn bindings(&self) -> &BTreeSet<String> {
        &self.book.bindings
    }

    /// Endpoints connected through this transport.
    pub fn connections(&self) -> &BTreeSet<String> {
        &self.book.connections
    }

    /// Filters subscribed through this transport; `Unsupported` unless SUB.
    pub fn subscriptions(&self) -> io::Result<&BTreeSet<Bytes>> {
        self.require_sub("subscriptions")?;
        Ok(&self.book.subscriptions)
    }

    fn require_sub(&self, what: &str) -> io::Result<()> {
        if self.socket_type == SocketType::Sub {
            Ok(())
        } else {
            Err(error::unsupported(format!(
                "{what} is only for SUB sockets, not {}",
                self.socket_type
            )))
        }
    }
}

fn check_endpoint(endpoint: &str) -> io::Result<()> {
    if endpoint.contains('\0') {
        return Err(error::invalid_argument(format!(
            "endpoint {endpoint:?} contains a NUL byte"
        )));
    }
    match endpoint.split_once("://") {
        Some((scheme, addr)) if !scheme.is_empty() && !addr.is_empty() => Ok(()),
        _ => Err(error::invalid_argument(format!(
            "endpoint {endpoint:?} is not of the form transport://address"
        ))),
    }
}
