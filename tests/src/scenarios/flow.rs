//! Write flow control: what the water marks count.

use aiozmq_core::{Bytes, Multipart, SocketType, ZmqTransport, MIN_MESSAGE_COST};

use crate::{Driver, Ev, Spec};

/// Messages of empty frames weigh `MIN_MESSAGE_COST` each against the write
/// marks: with no peer, a writer of them gets `pause_writing` (bounded
/// memory) while `get_write_buffer_size()` still reports payload bytes.
pub fn empty_messages_pause_writing<D: Driver>(d: &D) {
    let (push, log) = d.open(Spec::new(SocketType::Push)).unwrap();
    push.set_write_buffer_limits(Some(1024), Some(256)).unwrap();
    let empty: Multipart = [Bytes::new(), Bytes::new()].into_iter().collect();
    let mut written = 0;
    while log.pauses() == 0 {
        assert!(
            written <= 1024 / MIN_MESSAGE_COST,
            "{}: {written} empty messages buffered and no pause_writing",
            d.name()
        );
        push.write(empty.clone()).unwrap();
        written += 1;
    }
    assert_eq!(written, 1024 / MIN_MESSAGE_COST + 1, "{}", d.name());
    assert_eq!(push.get_write_buffer_size(), 0, "{}", d.name());
    assert_eq!(log.flow(), vec![Ev::Pause], "{}", d.name());
    push.abort();
}
