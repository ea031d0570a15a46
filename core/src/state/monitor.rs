//! The socket monitor: libzmq writes events to an inproc PAIR (a "pipe")
//! with a blocking send, so the pipe's life cycle decides whether libzmq can
//! hang. A new `enable_monitor` makes a new pipe; a stopped pipe is retired
//! and closed only after libzmq stopped writing to it; events of an older
//! pipe are never delivered.

use crate::edge::Edge;
use crate::error;
use crate::output::{MonitorId, MonitorPlan};
use crate::{Multipart, SocketEvent};

use super::{Mode, TransportState, Wakes};
use std::io;

/// The monitor pipes: the one running, and those retired but not yet closed.
#[derive(Debug, Default)]
pub(super) struct Monitor {
    pub(super) active: Option<(MonitorId, Edge)>,
    pub(super) retired: Vec<MonitorId>,
    next_id: u64,
    /// Bumped whenever the running monitor stops: events of an older epoch
    /// are no longer delivered.
    pub(super) epoch: u64,
    malformed: u64,
    /// Where a pipe's event is received before it is decoded.
    scratch: Multipart,
}

impl Monitor {
    pub(super) fn scratch(&mut self) -> &mut Multipart {
        self.scratch.clear();
        &mut self.scratch
    }
}

/// A caller's door to the monitor: [`TransportState::monitoring`].
#[derive(Debug)]
pub struct Monitoring<'a> {
    pub(super) state: &'a mut TransportState,
}

impl Monitoring<'_> {
    /// `enable_monitor()`: what the caller must do, in order. Enabling again
    /// replaces the running monitor (its pipe is retired and closed by the
    /// driver, which must stop waiting on its FD first).
    pub fn enable(&mut self) -> io::Result<MonitorPlan> {
        let s = &mut *self.state;
        s.require_open()?;
        s.monitor.next_id += 1;
        Ok(MonitorPlan {
            stop_first: s.monitor.active.is_some(),
            id: MonitorId(s.monitor.next_id),
        })
    }

    /// `disable_monitor()`: `true` when a monitor runs and the caller must
    /// stop it now and report [`handle_stopped`](Self::handle_stopped). No
    /// event is delivered after that.
    pub fn disable(&mut self) -> bool {
        self.state.monitor.active.is_some() && self.state.main_open
    }

    /// `zmq_socket_monitor` for the plan's new pipe ran, and its PAIR is
    /// connected (`ok`), or something failed and libzmq monitors nothing.
    pub fn handle_started(&mut self, id: MonitorId, ok: bool) {
        let s = &mut *self.state;
        s.handle_zmq_call();
        if ok && !s.is_closing() {
            s.monitor.active = Some((id, Edge::new()));
            s.request_wake();
        }
    }

    /// libzmq's monitor was stopped (`ok`): the running pipe is retired, its
    /// undelivered events dropped, and the driver closes it. If stopping
    /// failed, libzmq may still write to the pipe, so it stays open.
    pub fn handle_stopped(&mut self, ok: bool) {
        self.state.handle_monitor_stopped(ok);
    }
}

impl TransportState {
    /// The running monitor pipe, if any.
    pub fn monitor(&self) -> Option<MonitorId> {
        self.monitor.active.map(|(id, _)| id)
    }

    /// Monitor events that could not be decoded (and were skipped).
    pub fn malformed_events(&self) -> u64 {
        self.monitor.malformed
    }

    /// The answer to [`Output::StopMonitor`](crate::Output::StopMonitor)
    /// (and to a caller's `disable_monitor`): see [`Monitoring::handle_stopped`].
    pub fn handle_monitor_stopped(&mut self, ok: bool) {
        self.handle_zmq_call();
        // While closing there is no way back: libzmq refuses only when its
        // context is terminated, and then it no longer sends either.
        if !ok && !self.is_closing() {
            return;
        }
        if let Some((id, _)) = self.monitor.active.take() {
            self.monitor.retired.push(id);
            self.monitor.epoch += 1;
            match &mut self.mode {
                Mode::Protocol(d) => d.events.clear(),
                Mode::Stream(q) => q.clear_events(),
            }
            self.interrupt_deliverer();
            self.request_wake();
        }
    }

    /// A receive on a monitor pipe: decode the event (a malformed one is
    /// counted and skipped); a failure stops reading the pipe.
    pub(super) fn monitor_received(&mut self, id: MonitorId, result: Result<(), i32>) {
        let Some((active, edge)) = self.monitor.active.as_mut() else {
            return;
        };
        if *active != id {
            return;
        }
        edge.stale = true;
        match result {
            Ok(()) => match SocketEvent::decode(&self.monitor.scratch) {
                Ok(event) => self.queue_event(event),
                Err(_) => self.monitor.malformed += 1,
            },
            Err(errno) if error::is_interrupted(errno) => {}
            Err(errno) if error::is_would_block(errno) => edge.readable = false,
            Err(_) => {
                // The pipe is broken; libzmq still monitors, so it stays open
                // (closing it could block libzmq's sender) but is not read.
                edge.readable = false;
                self.monitor.malformed += 1;
            }
        }
    }

    /// An `EVENTS` reading of a monitor pipe (an error stops reading it).
    pub(super) fn monitor_events(&mut self, id: MonitorId, result: Result<(bool, bool), i32>) {
        if let Some((active, edge)) = self.monitor.active.as_mut() {
            if *active == id {
                match result {
                    Ok((pollin, _)) => edge.read(pollin, false),
                    Err(_) => edge.read(false, false),
                }
            }
        }
    }

    /// The pipe's FD signalled (or was just registered).
    pub(super) fn monitor_signalled(&mut self, id: MonitorId) {
        if let Some((active, edge)) = self.monitor.active.as_mut() {
            if *active == id {
                edge.stale = true;
            }
        }
    }

    fn queue_event(&mut self, event: SocketEvent) {
        if self.is_closing() {
            return;
        }
        match &mut self.mode {
            Mode::Protocol(d) => {
                d.events.push_back(event);
                self.maybe_wake();
            }
            Mode::Stream(q) => {
                q.push_event(event);
                if std::mem::take(&mut q.events_wait) {
                    self.wakes.set(Wakes::EVENTS);
                }
            }
        }
    }
}
