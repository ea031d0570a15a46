//! Wake-ups: whom a caller's input or a driver step must wake, and when a
//! parked driver has work (waking it for nothing costs a thread switch;
//! not waking it when it has work is a hang).

use super::{Mode, Phase, TransportState};
use crate::output::{Waiter, Wake};

/// Wake-ups owed, as bits.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Wakes(u8);

impl Wakes {
    pub(super) const DRIVER: u8 = 1;
    pub(super) const DELIVERER: u8 = 2;
    pub(super) const READER: u8 = 4;
    pub(super) const EVENTS: u8 = 8;
    pub(super) const DRAIN: u8 = 16;

    pub(super) fn set(&mut self, bit: u8) {
        self.0 |= bit;
    }

    pub(super) fn is_empty(&self) -> bool {
        self.0 == 0
    }

    pub(super) fn take(&mut self, bit: u8) -> bool {
        let had = self.0 & bit != 0;
        self.0 &= !bit;
        had
    }
}

impl TransportState {
    /// What a caller other than the driver must do after its input: wake the
    /// driver, a deliverer, or a stream waiter, or deliver flow callbacks.
    /// Call until `None`.
    #[must_use = "a dropped wake-up can leave a driver or a waiter asleep"]
    pub fn poll_wake(&mut self) -> Option<Wake> {
        if self.wakes.is_empty() && !self.owes_flow_offer() {
            return None;
        }
        if let Some(w) = self.poll_waiters() {
            return Some(Wake::Waiter(w));
        }
        if let Mode::Protocol(d) = &mut self.mode {
            if !d.flows.is_empty() && d.claim.is_none() && !d.flow_offered {
                d.flow_offered = true;
                d.caller_answering = true;
                return Some(Wake::FlowOwed);
            }
        }
        if self.wakes.take(Wakes::DRIVER) {
            return Some(Wake::Driver);
        }
        None
    }

    fn owes_flow_offer(&self) -> bool {
        matches!(&self.mode, Mode::Protocol(d) if !d.flows.is_empty() && d.claim.is_none() && !d.flow_offered)
    }

    pub(super) fn poll_waiters(&mut self) -> Option<Waiter> {
        if self.wakes.take(Wakes::DELIVERER) {
            return Some(Waiter::Deliverer);
        }
        if self.wakes.take(Wakes::READER) {
            return Some(Waiter::Reader);
        }
        if self.wakes.take(Wakes::EVENTS) {
            return Some(Waiter::Events);
        }
        if self.wakes.take(Wakes::DRAIN) {
            return Some(Waiter::Drain);
        }
        None
    }

    /// Whether a parked driver has something to do if woken: it does as soon
    /// as EVENTS is stale on a socket whose readiness it would act on, or
    /// anything is owed.
    fn driver_has_work(&self) -> bool {
        let claim_free = match &self.mode {
            Mode::Protocol(d) => d.claim.is_none(),
            Mode::Stream(_) => true,
        };
        match self.phase {
            Phase::Open | Phase::Flushing { .. } => {
                let sending = !self.write.is_empty();
                (claim_free && self.owes_delivery())
                    || !self.monitor.retired.is_empty()
                    || self
                        .monitor
                        .active
                        .is_some_and(|(_, e)| e.stale || e.readable)
                    || (self.main.stale && (self.wants_recv() || sending))
                    || (self.main.writable && sending && !self.deferring())
                    || (self.main.readable && self.wants_recv())
                    || (matches!(self.phase, Phase::Flushing { .. }) && !sending)
            }
            Phase::Closing { .. } | Phase::Lost { .. } => claim_free,
            Phase::Done => !self.monitor.retired.is_empty(),
        }
    }

    /// Wakes a parked driver if it has work.
    pub(super) fn maybe_wake(&mut self) {
        if self.parked && self.driver_has_work() {
            self.parked = false;
            self.wakes.set(Wakes::DRIVER);
        }
    }

    /// Wakes a parked driver whatever it has to do: the state changed in a
    /// way only a new turn sees (a deadline, a monitor pipe, closing).
    pub(super) fn request_wake(&mut self) {
        if self.parked {
            self.parked = false;
            self.wakes.set(Wakes::DRIVER);
        }
    }
}
