//! Socket-monitor events: libzmq's event numbers and the decoding of monitor frames.

use std::io;

/// libzmq's `ZMQ_EVENT_*` values: bit flags, so they can be or-ed into a mask
/// for `enable_monitor(Some(mask))`.
pub mod event {
    /// A connection to a remote peer was made.
    pub const CONNECTED: u16 = 0x0001;
    /// A connect attempt is pending (synchronous connect failed).
    pub const CONNECT_DELAYED: u16 = 0x0002;
    /// A reconnect will be tried after the reconnect interval.
    pub const CONNECT_RETRIED: u16 = 0x0004;
    /// The socket was bound and listens.
    pub const LISTENING: u16 = 0x0008;
    /// A bind failed.
    pub const BIND_FAILED: u16 = 0x0010;
    /// A connection from a remote peer was accepted.
    pub const ACCEPTED: u16 = 0x0020;
    /// Accepting a connection failed.
    pub const ACCEPT_FAILED: u16 = 0x0040;
    /// A connection's underlying descriptor was closed.
    pub const CLOSED: u16 = 0x0080;
    /// Closing a descriptor failed.
    pub const CLOSE_FAILED: u16 = 0x0100;
    /// The session was disconnected unexpectedly.
    pub const DISCONNECTED: u16 = 0x0200;
    /// The monitor was stopped; the last event a monitor sends.
    pub const MONITOR_STOPPED: u16 = 0x0400;
    /// A handshake failed, no detail.
    pub const HANDSHAKE_FAILED_NO_DETAIL: u16 = 0x0800;
    /// A ZMTP handshake succeeded.
    pub const HANDSHAKE_SUCCEEDED: u16 = 0x1000;
    /// A handshake failed on a protocol error.
    pub const HANDSHAKE_FAILED_PROTOCOL: u16 = 0x2000;
    /// A handshake failed on authentication.
    pub const HANDSHAKE_FAILED_AUTH: u16 = 0x4000;
    /// Every event.
    pub const ALL: u16 = 0xFFFF;
}

/// One socket-monitor event (aiozmq's `SocketEvent` named tuple).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SocketEvent {
    /// One of the [`event`] constants.
    pub event: u16,
    /// Event-specific: a file descriptor, an errno or a reconnect interval.
    pub value: u32,
    /// The endpoint the event is about.
    pub endpoint: String,
}

impl SocketEvent {
    /// Decodes the two frames a libzmq 4 monitor sends per event: first
    /// `u16 event` + `u32 value` little-endian (6 bytes), then the endpoint.
    ///
    /// A malformed message is `InvalidData`, never a panic.
    pub fn decode(frames: &[impl AsRef<[u8]>]) -> io::Result<SocketEvent> {
        let [head, endpoint] = frames else {
            return Err(malformed(format!(
                "expected 2 frames, got {}",
                frames.len()
            )));
        };
        let head = head.as_ref();
        let Ok(head) = <[u8; 6]>::try_from(head) else {
            return Err(malformed(format!(
                "first frame is {} bytes, expected 6",
                head.len()
            )));
        };
        let event = u16::from_le_bytes([head[0], head[1]]);
        let value = u32::from_le_bytes([head[2], head[3], head[4], head[5]]);
        let endpoint = String::from_utf8_lossy(endpoint.as_ref()).into_owned();
        Ok(SocketEvent {
            event,
            value,
            endpoint,
        })
    }

    /// Encodes the event as a libzmq monitor would (for tests and custom loops).
    pub fn encode(&self) -> [Vec<u8>; 2] {
        let mut head = Vec::with_capacity(6);
        head.extend_from_slice(&self.event.to_le_bytes());
        head.extend_from_slice(&self.value.to_le_bytes());
        [head, self.endpoint.clone().into_bytes()]
    }
}

fn malformed(what: String) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("malformed socket-monitor event: {what}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_round_trips() {
        let ev = SocketEvent {
            event: event::ACCEPTED,
            value: 17,
            endpoint: "tcp://127.0.0.1:5555".into(),
        };
        assert_eq!(SocketEvent::decode(&ev.encode()).unwrap(), ev);
    }

    #[test]
    fn malformed_frames_are_errors() {
        let e = SocketEvent::decode(&[b"abc".to_vec()]).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        let e = SocketEvent::decode(&[b"abc".to_vec(), b"x".to_vec()]).unwrap_err();
        assert!(e.to_string().contains("3 bytes"), "{e}");
        let empty: [&[u8]; 0] = [];
        assert!(SocketEvent::decode(&empty).is_err());
    }

    #[test]
    fn values_are_libzmqs() {
        assert_eq!(event::HANDSHAKE_SUCCEEDED, 0x1000);
        assert_eq!(event::MONITOR_STOPPED, 0x0400);
        assert_eq!(event::ALL, 0xFFFF);
    }
}
