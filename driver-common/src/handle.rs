//! `Handle`: the body of every driver's `Transport`. Each method takes the
//! lock, asks the core, makes the libzmq call the core allows, reports it,
//! and — the law of use — drains the outputs: wake the driver if the core
//! says so, deliver `pause_writing` before returning.

use std::collections::BTreeSet;
use std::io;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use aiozmq_core::{
    error, Bytes, Multipart, OptValue, SockOpt, SocketType, TransportState, WriteAction,
};

use crate::deliver::in_callback;
use crate::shared::{retire_monitor, Inner, Monitor, Shared};
use crate::sock;

/// A transport handle: cheap to clone, `Send + Sync`. Dropping the last
/// counted handle closes the transport (the copy given to `connection_made`
/// does not count, so a protocol that keeps it does not keep the socket open).
pub struct Handle {
    shared: Arc<Shared>,
    counted: bool,
}

impl Clone for Handle {
    fn clone(&self) -> Self {
        self.shared.handles.fetch_add(1, Ordering::Relaxed);
        Handle {
            shared: self.shared.clone(),
            counted: true,
        }
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        if self.counted && self.shared.handles.fetch_sub(1, Ordering::AcqRel) == 1 {
            tracing::debug!(transport = self.shared.id(), "last handle dropped: closing");
            self.close();
        }
    }
}

fn closed() -> io::Error {
    error::not_connected("the transport is closed")
}

impl Handle {
    /// The handle the user gets from `open()`.
    pub fn counted(shared: Arc<Shared>) -> Handle {
        shared.handles.fetch_add(1, Ordering::Relaxed);
        Handle {
            shared,
            counted: true,
        }
    }

    /// The handle given to `connection_made`.
    pub fn uncounted(shared: Arc<Shared>) -> Handle {
        Handle {
            shared,
            counted: false,
        }
    }

    /// The shared half.
    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Runs `f` under the lock, then drains the outputs the core owes.
    fn with<R>(&self, f: impl FnOnce(&mut Inner) -> R) -> R {
        let mut inner = self.shared.lock();
        let out = f(&mut inner);
        let flow = inner.state.has_flow_callbacks();
        let mut wake = inner.state.take_wake();
        drop(inner);
        if flow && !self.deliver_flow() {
            wake = true;
        }
        if wake {
            self.shared.wake();
        }
        out
    }

    /// `pause_writing`/`resume_writing` before the mutator returns — unless we
    /// are inside this protocol's callback (then right after it returns), or the
    /// protocol is locked elsewhere (then by whoever holds it, as soon as it can).
    /// `false`: left to the driver.
    fn deliver_flow(&self) -> bool {
        self.shared.note_flow_owed();
        if in_callback(self.shared.id()) {
            return true;
        }
        match self.shared.protocol() {
            Some(p) => p.try_deliver_flow(&self.shared),
            None => false,
        }
    }

    /// The socket type.
    pub fn zmq_type(&self) -> SocketType {
        self.shared.socket_type()
    }

    /// `write()`: the fast path sends from the caller's thread while nothing is buffered.
    pub fn write(&self, msg: Multipart) -> io::Result<()> {
        self.with(|inner| {
            let Inner { state, socket, .. } = inner;
            match state.write(msg)? {
                WriteAction::Queued => Ok(()),
                WriteAction::SendNow => {
                    let (Some(socket), Some(msg)) = (socket.as_ref(), state.front()) else {
                        return Err(closed());
                    };
                    let result = sock::send(socket, msg);
                    state.handle_direct_send(result)
                }
            }
        })
    }

    /// `close()`.
    pub fn close(&self) {
        self.with(|inner| inner.state.close());
        self.shared.interrupt_delivery();
    }

    /// `abort()`.
    pub fn abort(&self) {
        let dropped = self.with(|inner| inner.state.abort());
        self.shared.interrupt_delivery();
        if dropped > 0 {
            tracing::debug!(
                transport = self.shared.id(),
                dropped,
                "abort dropped buffered messages"
            );
        }
    }

    /// `is_closing()`.
    pub fn is_closing(&self) -> bool {
        self.shared.lock().state.is_closing()
    }

    /// Runs a libzmq call on the open socket, then tells the core a call was made.
    fn call<R>(
        &self,
        check: impl FnOnce(&TransportState) -> io::Result<()>,
        f: impl FnOnce(&mut zmq::Socket) -> io::Result<R>,
    ) -> io::Result<R> {
        self.with(|inner| {
            check(&inner.state)?;
            let socket = inner.socket.as_mut().ok_or_else(closed)?;
            let out = f(socket);
            inner.state.handle_zmq_call();
            out
        })
    }

    /// `getsockopt()`.
    pub fn getsockopt(&self, opt: SockOpt) -> io::Result<OptValue> {
        self.call(
            |s| s.check_getsockopt(opt),
            |sock| sock::getsockopt(sock, opt),
        )
    }

    /// `setsockopt()`.
    pub fn setsockopt(&self, opt: SockOpt, value: OptValue) -> io::Result<()> {
        self.with(|inner| {
            let value = inner.state.check_setsockopt(opt, value)?;
            let socket = inner.socket.as_mut().ok_or_else(closed)?;
            let result = sock::setsockopt(socket, opt, &value);
            match &result {
                Ok(()) => inner.state.handle_setsockopt(opt, &value),
                Err(_) => inner.state.handle_zmq_call(),
            }
            result
        })
    }

    /// `get_write_buffer_limits()`: `(low, high)`.
    pub fn get_write_buffer_limits(&self) -> (usize, usize) {
        self.shared.lock().state.write_limits()
    }

    /// `set_write_buffer_limits()`.
    pub fn set_write_buffer_limits(
        &self,
        high: Option<usize>,
        low: Option<usize>,
    ) -> io::Result<()> {
        self.with(|inner| inner.state.set_write_limits(high, low))
    }

    /// `get_write_buffer_size()`.
    pub fn get_write_buffer_size(&self) -> usize {
        self.shared.lock().state.write_buffer_size()
    }

    /// `pause_reading()`.
    pub fn pause_reading(&self) -> io::Result<()> {
        self.with(|inner| inner.state.pause_reading())?;
        self.shared.interrupt_delivery();
        Ok(())
    }

    /// `resume_reading()`.
    pub fn resume_reading(&self) -> io::Result<()> {
        self.with(|inner| inner.state.resume_reading())
    }

    /// `bind()`: the real endpoint.
    pub fn bind(&self, endpoint: &str) -> io::Result<String> {
        self.with(|inner| {
            inner.state.check_bind(endpoint)?;
            let socket = inner.socket.as_mut().ok_or_else(closed)?;
            let result = sock::bind(socket, endpoint);
            match &result {
                Ok(real) => inner.state.handle_bound(real.clone()),
                Err(_) => inner.state.handle_zmq_call(),
            }
            result
        })
    }

    /// `unbind()`.
    pub fn unbind(&self, endpoint: &str) -> io::Result<()> {
        self.with(|inner| {
            inner.state.check_endpoint(endpoint)?;
            let socket = inner.socket.as_mut().ok_or_else(closed)?;
            let result = socket.unbind(endpoint).map_err(sock::to_io);
            match &result {
                Ok(()) => inner.state.handle_unbound(endpoint),
                Err(_) => inner.state.handle_zmq_call(),
            }
            result
        })
    }

    /// `bindings()`.
    pub fn bindings(&self) -> BTreeSet<String> {
        self.shared.lock().state.bindings().clone()
    }

    /// `connect()`: the endpoint.
    pub fn connect(&self, endpoint: &str) -> io::Result<String> {
        self.with(|inner| {
            inner.state.check_endpoint(endpoint)?;
            let socket = inner.socket.as_mut().ok_or_else(closed)?;
            let result = socket.connect(endpoint).map_err(sock::to_io);
            match &result {
                Ok(()) => inner.state.handle_connected(endpoint.to_owned()),
                Err(_) => inner.state.handle_zmq_call(),
            }
            result.map(|()| endpoint.to_owned())
        })
    }

    /// `disconnect()`.
    pub fn disconnect(&self, endpoint: &str) -> io::Result<()> {
        self.with(|inner| {
            inner.state.check_endpoint(endpoint)?;
            let socket = inner.socket.as_mut().ok_or_else(closed)?;
            let result = socket.disconnect(endpoint).map_err(sock::to_io);
            match &result {
                Ok(()) => inner.state.handle_disconnected(endpoint),
                Err(_) => inner.state.handle_zmq_call(),
            }
            result
        })
    }

    /// `connections()`.
    pub fn connections(&self) -> BTreeSet<String> {
        self.shared.lock().state.connections().clone()
    }

    /// `subscribe()`: SUB only; a prefix already held does nothing.
    pub fn subscribe(&self, prefix: &[u8]) -> io::Result<()> {
        self.with(|inner| {
            if !inner.state.check_subscribe(prefix)? {
                return Ok(());
            }
            let socket = inner.socket.as_mut().ok_or_else(closed)?;
            let value = OptValue::Bytes(Bytes::copy_from_slice(prefix));
            let result = sock::setsockopt(socket, SockOpt::SUBSCRIBE, &value);
            match &result {
                Ok(()) => inner
                    .state
                    .handle_subscribed(Bytes::copy_from_slice(prefix)),
                Err(_) => inner.state.handle_zmq_call(),
            }
            result
        })
    }

    /// `unsubscribe()`: SUB only.
    pub fn unsubscribe(&self, prefix: &[u8]) -> io::Result<()> {
        self.with(|inner| {
            if !inner.state.check_unsubscribe(prefix)? {
                return Ok(());
            }
            let socket = inner.socket.as_mut().ok_or_else(closed)?;
            let value = OptValue::Bytes(Bytes::copy_from_slice(prefix));
            let result = sock::setsockopt(socket, SockOpt::UNSUBSCRIBE, &value);
            match &result {
                Ok(()) => inner.state.handle_unsubscribed(prefix),
                Err(_) => inner.state.handle_zmq_call(),
            }
            result
        })
    }

    /// `subscriptions()`: SUB only.
    pub fn subscriptions(&self) -> io::Result<BTreeSet<Bytes>> {
        self.shared.lock().state.subscriptions().cloned()
    }

    /// aiozmq's `get_extra_info("zmq_socket")`: runs `f` on the socket, under
    /// the transport's lock (so never concurrently with the driver).
    pub fn with_zmq_socket<R>(&self, f: impl FnOnce(&zmq::Socket) -> R) -> io::Result<R> {
        self.call(|s| s.check_getsockopt(SockOpt::TYPE), |sock| Ok(f(sock)))
    }

    /// `enable_monitor(events)`: events reach `event_received`. Enabling again
    /// replaces the event mask.
    pub fn enable_monitor(&self, events: Option<u16>) -> io::Result<()> {
        let mask = i32::from(events.unwrap_or(aiozmq_core::event::ALL));
        let context = self.shared.context()?.clone();
        let id = self.shared.id();
        self.with(|inner| {
            inner.state.check_getsockopt(SockOpt::EVENTS)?;
            if inner.monitor.is_some() {
                stop_monitor(inner)?;
            }
            let endpoint = format!("inproc://aiozmq-monitor-{id}-{}", inner.monitor_seq);
            let socket = inner.socket.as_mut().ok_or_else(closed)?;
            socket.monitor(&endpoint, mask).map_err(sock::to_io)?;
            inner.state.handle_zmq_call();
            // Connect at once, before any event can be emitted (libzmq#1434).
            let pair = context.socket(zmq::PAIR).map_err(sock::to_io)?;
            pair.connect(&endpoint).map_err(sock::to_io)?;
            let fd = sock::fd(&pair)?;
            // The driver must register this FD and read its EVENTS: wake it.
            let state = TransportState::new(SocketType::Pair);
            inner.monitor_seq += 1;
            inner.monitor = Some(Monitor {
                socket: pair,
                state,
                fd,
                warned: false,
            });
            inner.state.request_wake();
            Ok(())
        })
    }

    /// `disable_monitor()`: no events are delivered after it returns.
    pub fn disable_monitor(&self) -> io::Result<()> {
        self.with(|inner| {
            if inner.monitor.is_none() {
                return Ok(());
            }
            stop_monitor(inner)
        })
    }
}

/// Stops libzmq's monitor and asks the driver to close the pipe (it owns the
/// FD registration); events already queued are dropped.
fn stop_monitor(inner: &mut Inner) -> io::Result<()> {
    inner.state.drop_monitor_events();
    retire_monitor(inner);
    inner.state.request_wake();
    Ok(())
}
