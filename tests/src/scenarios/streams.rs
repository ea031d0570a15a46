//! Streams: timeouts at their limits, and read water marks that count
//! messages of empty frames.

use std::time::Duration;

use aiozmq_core::{event, Bytes, Multipart, OptValue, SockOpt, SocketType, ZmqTransport};

use crate::{msg, Driver, Ev, Spec, StreamSpec, TestStream, TIMEOUT};

/// `Duration::MAX` as a read, event or drain timeout means "no deadline":
/// each call still returns what is ready instead of panicking on the
/// deadline's arithmetic.
pub fn stream_huge_timeouts_mean_no_deadline<D: Driver>(d: &D) {
    let mut a = d.open_stream(StreamSpec::new(SocketType::Pair)).unwrap();
    a.enable_monitor(Some(event::LISTENING)).unwrap();
    let ep = a.transport().bind(crate::ANY_TCP).unwrap();
    let ev = a.read_event(Duration::MAX).unwrap();
    assert_eq!(ev.event, event::LISTENING, "{}", d.name());
    a.drain(Duration::MAX)
        .unwrap_or_else(|e| panic!("{}: drain(MAX) while not paused: {e}", d.name()));
    let (b, _) = d.open(Spec::new(SocketType::Pair).connect(ep)).unwrap();
    b.write(msg(&[b"no deadline"])).unwrap();
    assert_eq!(
        a.read(Duration::MAX).unwrap(),
        msg(&[b"no deadline"]),
        "{}",
        d.name()
    );
    a.close();
    b.close();
}

/// A stream's read buffer counts a message of empty frames as at least
/// `MIN_MESSAGE_COST` bytes, so a flood of them pauses reading instead of
/// growing the buffer for ever: libzmq's queues (HWM 10 here) fill, and the
/// writer, whose marks count the same way, gets `pause_writing`. Reading
/// them all then resumes both, and nothing is lost.
pub fn stream_empty_messages_fill_the_read_buffer<D: Driver>(d: &D) {
    const N: usize = 1_000;
    let ep = format!("inproc://empty-flood-{}-{}", d.name(), std::process::id());
    let mut spec = StreamSpec::new(SocketType::Pull);
    spec.read_limits = (Some(1024), Some(256));
    let mut a = d.open_stream(spec).unwrap();
    a.transport()
        .setsockopt(SockOpt::RCVHWM, OptValue::Int(10))
        .unwrap();
    a.transport().bind(&ep).unwrap();
    let (b, log) = d.open(Spec::new(SocketType::Push)).unwrap();
    b.setsockopt(SockOpt::SNDHWM, OptValue::Int(10)).unwrap();
    b.set_write_buffer_limits(Some(1024), Some(256)).unwrap();
    b.connect(&ep).unwrap();
    let empty: Multipart = [Bytes::new()].into_iter().collect();
    for _ in 0..N {
        b.write(empty.clone()).unwrap();
    }
    // Nothing is read yet: the reader must stop pulling from libzmq.
    log.wait("pause_writing: the reader's buffer never filled", |evs| {
        evs.contains(&Ev::Pause).then_some(())
    });
    for i in 0..N {
        let m = a
            .read(TIMEOUT)
            .unwrap_or_else(|e| panic!("{}: message {i} of {N}: {e}", d.name()));
        assert_eq!(m, empty);
    }
    log.wait("resume_writing once read", |evs| {
        evs.contains(&Ev::Resume).then_some(())
    });
    a.close();
    b.close();
}
