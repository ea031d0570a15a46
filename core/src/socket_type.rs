//! ZeroMQ socket types and what each one can do.

use std::fmt;
use std::io;

use crate::error;

/// A ZeroMQ socket type, with libzmq's numeric value as discriminant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(i32)]
pub enum SocketType {
    /// `ZMQ_PAIR`: one exclusive peer.
    Pair = 0,
    /// `ZMQ_PUB`: fan-out to subscribers; send only.
    Pub = 1,
    /// `ZMQ_SUB`: receives what matches its subscriptions; receive only.
    Sub = 2,
    /// `ZMQ_REQ`: strict send/receive alternation.
    Req = 3,
    /// `ZMQ_REP`: strict receive/send alternation.
    Rep = 4,
    /// `ZMQ_DEALER`: asynchronous request side.
    Dealer = 5,
    /// `ZMQ_ROUTER`: asynchronous reply side, addresses peers by routing id.
    Router = 6,
    /// `ZMQ_PULL`: receive end of a pipeline; receive only.
    Pull = 7,
    /// `ZMQ_PUSH`: send end of a pipeline; send only.
    Push = 8,
    /// `ZMQ_XPUB`: PUB that also receives subscription messages.
    XPub = 9,
    /// `ZMQ_XSUB`: SUB that sends subscriptions as messages.
    XSub = 10,
    /// `ZMQ_STREAM`: raw TCP peers.
    Stream = 11,
}

impl SocketType {
    /// Every socket type, in libzmq order.
    pub const ALL: [SocketType; 12] = [
        SocketType::Pair,
        SocketType::Pub,
        SocketType::Sub,
        SocketType::Req,
        SocketType::Rep,
        SocketType::Dealer,
        SocketType::Router,
        SocketType::Pull,
        SocketType::Push,
        SocketType::XPub,
        SocketType::XSub,
        SocketType::Stream,
    ];

    /// libzmq's value (`ZMQ_PAIR` = 0 … `ZMQ_STREAM` = 11).
    pub fn as_raw(self) -> i32 {
        self as i32
    }

    /// The type for libzmq's value, or `InvalidInput` for a value libzmq does not define.
    pub fn from_raw(raw: i32) -> io::Result<SocketType> {
        Self::ALL
            .get(usize::try_from(raw).unwrap_or(usize::MAX))
            .copied()
            .ok_or_else(|| error::invalid_input(format!("{raw} is not a ZeroMQ socket type")))
    }

    /// Whether messages can be written to this socket type (all but SUB and PULL).
    pub fn can_send(self) -> bool {
        !matches!(self, SocketType::Sub | SocketType::Pull)
    }

    /// Whether messages can arrive on this socket type (all but PUB and PUSH).
    pub fn can_recv(self) -> bool {
        !matches!(self, SocketType::Pub | SocketType::Push)
    }

    /// libzmq's name for the type, e.g. `"DEALER"`.
    pub fn name(self) -> &'static str {
        match self {
            SocketType::Pair => "PAIR",
            SocketType::Pub => "PUB",
            SocketType::Sub => "SUB",
            SocketType::Req => "REQ",
            SocketType::Rep => "REP",
            SocketType::Dealer => "DEALER",
            SocketType::Router => "ROUTER",
            SocketType::Pull => "PULL",
            SocketType::Push => "PUSH",
            SocketType::XPub => "XPUB",
            SocketType::XSub => "XSUB",
            SocketType::Stream => "STREAM",
        }
    }
}

impl fmt::Display for SocketType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_values_round_trip_and_match_libzmq() {
        for t in SocketType::ALL {
            assert_eq!(SocketType::from_raw(t.as_raw()).unwrap(), t);
        }
        assert_eq!(SocketType::Stream.as_raw(), 11);
        assert_eq!(SocketType::Dealer.as_raw(), 5);
        let err = SocketType::from_raw(12).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert!(SocketType::from_raw(-1).is_err());
    }

    #[test]
    fn directions() {
        assert!(!SocketType::Sub.can_send());
        assert!(!SocketType::Pull.can_send());
        assert!(!SocketType::Pub.can_recv());
        assert!(!SocketType::Push.can_recv());
        assert!(SocketType::XPub.can_recv() && SocketType::XSub.can_send());
    }
}
