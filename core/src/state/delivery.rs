//! Delivery: the callbacks owed to a protocol (flow control, monitor events,
//! messages, and last `connection_lost`) and who delivers them. One deliverer
//! at a time — the driver, or a caller delivering the flow callbacks its own
//! write made owed — so callbacks reach the protocol in the order handed out,
//! whatever threads write.

use std::collections::VecDeque;
use std::io;

use super::{Mode, Phase, TransportState, Wakes};
use crate::output::{Callback, Deliveries};
use crate::write_buffer::Crossing;
use crate::{Multipart, SocketEvent};

/// Who holds the right to deliver callbacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Claim {
    /// The driver, with everything owed.
    Driver,
    /// A handle's caller, with the flow callbacks its input made owed.
    Caller,
}

/// The callbacks owed to a protocol and who delivers them.
#[derive(Debug, Default)]
pub(super) struct Delivery {
    pub(super) claim: Option<Claim>,
    pub(super) flows: VecDeque<Crossing>,
    pub(super) events: VecDeque<SocketEvent>,
    pub(super) inbox: VecDeque<Multipart>,
    /// [`Wake::FlowOwed`](crate::Wake::FlowOwed) was handed out for the flows
    /// owed (a refused offer stays offered: no caller is asked again until a
    /// new crossing).
    pub(super) flow_offered: bool,
    /// That caller has not answered yet: the driver leaves the flows to it,
    /// so `pause_writing` reaches the protocol before its `write()` returns.
    pub(super) caller_answering: bool,
}

/// A deliverer's door: [`TransportState::delivery`].
#[derive(Debug)]
pub struct DeliveryDoor<'a> {
    pub(super) state: &'a mut TransportState,
}

impl DeliveryDoor<'_> {
    /// After [`Output::Deliver`](crate::Output::Deliver): moves the callbacks
    /// owed into `batch`, in delivery order — flow control first, then
    /// monitor events, then messages (unless reading is paused), and last,
    /// alone, `connection_lost`. The driver delivers them without holding the
    /// lock around this state, reviews the batch whenever
    /// [`Waiter::Deliverer`](crate::Waiter::Deliverer) arrives, and ends with
    /// [`finish`](Self::finish).
    pub fn take(&mut self, batch: &mut Deliveries) {
        let s = &mut *self.state;
        let epoch = s.monitor.epoch;
        let open = matches!(s.phase, Phase::Open);
        let paused = s.reading_paused;
        let lost = matches!(s.phase, Phase::Lost { .. });
        let Mode::Protocol(d) = &mut s.mode else {
            return;
        };
        debug_assert_eq!(d.claim, Some(Claim::Driver));
        batch.events_epoch = epoch;
        batch
            .callbacks()
            .extend(d.flows.drain(..).map(flow_callback));
        batch
            .callbacks()
            .extend(d.events.drain(..).map(Callback::EventReceived));
        if open && !paused && !d.inbox.is_empty() {
            if batch.msgs().is_empty() {
                std::mem::swap(&mut d.inbox, batch.msgs());
            } else {
                batch.msgs().extend(d.inbox.drain(..));
            }
        }
        if lost && batch.is_empty() {
            if let Phase::Lost { exc } = &mut s.phase {
                let exc = exc.take();
                s.phase = Phase::Done;
                batch.callbacks().push_back(Callback::ConnectionLost(exc));
            }
        }
    }

    /// [`Waiter::Deliverer`](crate::Waiter::Deliverer) came: before its next
    /// callback the deliverer lets the state reorder what it holds. Flow
    /// callbacks now owed go next (after older flow callbacks the batch still
    /// holds); events of a stopped monitor go; messages go back to the inbox
    /// if reading was paused, or are dropped if the transport is closing.
    pub fn review(&mut self, batch: &mut Deliveries) {
        let s = &mut *self.state;
        let closing = s.is_closing();
        let paused = s.reading_paused;
        let epoch = s.monitor.epoch;
        let Mode::Protocol(d) = &mut s.mode else {
            return;
        };
        // After the flow callbacks the batch already holds (they are older),
        // before its events and messages.
        let at = batch
            .callbacks()
            .iter()
            .take_while(|cb| matches!(cb, Callback::PauseWriting | Callback::ResumeWriting))
            .count();
        for (i, flow) in d.flows.drain(..).enumerate() {
            batch.callbacks().insert(at + i, flow_callback(flow));
        }
        if batch.events_epoch != epoch || closing {
            batch
                .callbacks()
                .retain(|cb| !matches!(cb, Callback::EventReceived(_)));
            batch.events_epoch = epoch;
        }
        if closing {
            batch.msgs().clear();
        } else if paused {
            while let Some(msg) = batch.msgs().pop_back() {
                d.inbox.push_front(msg);
            }
        }
    }

    /// The batch is delivered (or, after a panic, abandoned). `true`: flow
    /// callbacks became owed meanwhile and are now in `batch` — deliver them
    /// too and call again. `false`: the claim is released.
    pub fn finish(&mut self, batch: &mut Deliveries) -> bool {
        let s = &mut *self.state;
        let Mode::Protocol(d) = &mut s.mode else {
            return false;
        };
        if !d.flows.is_empty() && !matches!(s.phase, Phase::Done) {
            batch
                .callbacks()
                .extend(d.flows.drain(..).map(flow_callback));
            return true;
        }
        let was = d.claim.take();
        batch.clear();
        if was == Some(Claim::Caller) {
            s.maybe_wake();
        }
        false
    }

    /// A callback of this batch panicked. The rule: the transport fails
    /// (`connection_lost(Some(e))`, `e` naming the panic, follows from the
    /// driver), the rest of the batch is dropped and the claim released.
    /// Flow callbacks owed meanwhile are the driver's to deliver: the
    /// panicking deliverer delivers nothing more.
    pub fn panicked(&mut self, what: &str, batch: &mut Deliveries) {
        self.state.fail(io::Error::other(format!(
            "a protocol callback panicked: {what}"
        )));
        batch.clear();
        while self.finish(batch) {
            batch.clear();
        }
    }

    /// After [`Wake::FlowOwed`](crate::Wake::FlowOwed), with the protocol
    /// locked: claims delivery of the flow callbacks owed. `false` when
    /// someone else delivers them now (nothing to do).
    pub fn begin_flow(&mut self, batch: &mut Deliveries) -> bool {
        let s = &mut *self.state;
        let Mode::Protocol(d) = &mut s.mode else {
            return false;
        };
        d.flow_offered = false;
        d.caller_answering = false;
        if d.claim.is_some() || d.flows.is_empty() {
            // The driver holds the claim: its batch takes the flows.
            if !d.flows.is_empty() {
                s.request_wake();
            }
            return false;
        }
        d.claim = Some(Claim::Caller);
        batch
            .callbacks()
            .extend(d.flows.drain(..).map(flow_callback));
        true
    }

    /// After [`Wake::FlowOwed`](crate::Wake::FlowOwed): the protocol is locked
    /// elsewhere (perhaps by the caller itself), so the driver delivers the
    /// flow callbacks as soon as it can.
    pub fn flow_refused(&mut self) {
        let s = &mut *self.state;
        // Still "offered": no caller is asked again until a new crossing.
        if let Mode::Protocol(d) = &mut s.mode {
            d.caller_answering = false;
        }
        s.request_wake();
    }
}

impl TransportState {
    /// Callbacks a driver could deliver now.
    pub(super) fn owes_delivery(&self) -> bool {
        let Mode::Protocol(d) = &self.mode else {
            return false;
        };
        (!d.flows.is_empty() && !d.caller_answering)
            || !d.events.is_empty()
            || (!self.reading_paused && matches!(self.phase, Phase::Open) && !d.inbox.is_empty())
    }

    /// Claims delivery for the driver when callbacks are owed and nobody delivers.
    pub(super) fn claim_for_driver(&mut self) -> bool {
        let deliverable = self.owes_delivery();
        let Mode::Protocol(d) = &mut self.mode else {
            return false;
        };
        if d.claim.is_none() && deliverable {
            d.claim = Some(Claim::Driver);
            d.flow_offered = false;
            true
        } else {
            false
        }
    }

    /// A deliverer holding a batch must look again before its next callback.
    pub(super) fn interrupt_deliverer(&mut self) {
        if let Mode::Protocol(d) = &self.mode {
            if d.claim.is_some() {
                self.wakes.set(Wakes::DELIVERER);
            }
        }
    }
}

fn flow_callback(crossing: Crossing) -> Callback {
    match crossing {
        Crossing::Pause => Callback::PauseWriting,
        Crossing::Resume => Callback::ResumeWriting,
    }
}
