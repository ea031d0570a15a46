//! Write flow control: what the water marks count, and the order of flow
//! callbacks with concurrent writers.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aiozmq_core::{Bytes, Multipart, OptValue, SockOpt, SocketType};
use aiozmq_core::{ZmqTransport, MIN_MESSAGE_COST};

use crate::{msg, raw, Driver, Ev, Spec, StreamSpec, TestStream, ANY_TCP, TIMEOUT};

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

/// The documented rule for a `write()` from another thread while one of the
/// protocol's callbacks runs: `write()` returns without waiting (waiting
/// could deadlock), and `pause_writing` is the very next callback, right
/// after the running one ends.
pub fn pause_writing_from_another_thread_comes_after_the_running_callback<D: Driver>(d: &D) {
    let (router, rlog) = d.open(Spec::new(SocketType::Router).bind(ANY_TCP)).unwrap();
    router
        .setsockopt(SockOpt::RCVHWM, OptValue::Int(1))
        .unwrap();
    router
        .setsockopt(SockOpt::RCVBUF, OptValue::Int(4096))
        .unwrap();
    let (entered_tx, entered) = mpsc::channel::<()>();
    let (release, release_rx) = mpsc::channel::<()>();
    let (dealer, log) = d
        .open(Spec::new(SocketType::Dealer).on_msg(move |_t: &D::T, m| {
            if m[0][..] == b"block"[..] {
                entered_tx.send(()).unwrap();
                release_rx.recv_timeout(TIMEOUT).expect("released");
            }
        }))
        .unwrap();
    dealer
        .setsockopt(SockOpt::ROUTING_ID, OptValue::from(&b"dealer"[..]))
        .unwrap();
    dealer
        .setsockopt(SockOpt::SNDHWM, OptValue::Int(1))
        .unwrap();
    dealer
        .setsockopt(SockOpt::SNDBUF, OptValue::Int(4096))
        .unwrap();
    dealer
        .set_write_buffer_limits(Some(usize::MAX), None)
        .unwrap();
    dealer
        .connect(&router.bindings().into_iter().next().unwrap())
        .unwrap();
    dealer.write(msg(&[b"hello"])).unwrap();
    rlog.wait_msgs(1);
    router.pause_reading().unwrap();
    let body = vec![0u8; 64 * 1024];
    let mut i = 0;
    while dealer.get_write_buffer_size() < 1 << 20 {
        assert!(i < 20_000, "{}: the dealer never had to buffer", d.name());
        dealer.write(msg(&[&body])).unwrap();
        i += 1;
    }
    // The dealer's protocol is now inside msg_received.
    router.write(msg(&[b"dealer", b"block"])).unwrap();
    entered.recv_timeout(TIMEOUT).expect("msg_received began");
    // The write may first flush what libzmq takes (a message or two: the
    // peer reads nothing, SNDHWM is 1); one of more than four times the
    // others' size crosses the mark whatever went before it.
    let size = dealer.get_write_buffer_size();
    dealer.set_write_buffer_limits(Some(size), None).unwrap();
    dealer
        .write(msg(&[&vec![0u8; 4 * body.len() + 1]]))
        .unwrap();
    assert_eq!(
        log.pauses(),
        0,
        "{}: pause_writing ran while another callback ran",
        d.name()
    );
    release.send(()).unwrap();
    let after = log.wait("pause_writing after the running callback", |evs| {
        let at = evs.iter().position(|e| *e == Ev::Pause)?;
        Some(evs[at - 1].clone())
    });
    assert_eq!(after, Ev::Msg(msg(&[b"block"])), "{}", d.name());
    dealer.abort();
    router.close();
}

const FLOW_HIGH: usize = 4096;
const FLOW_LOW: usize = 1024;
const FLOW_SIZE: usize = 1024;
/// How long the transport's flow scenario writes, at most (per driver):
/// long enough for thousands of crossings on 2 busy cores.
const FLOW_TIME: Duration = Duration::from_secs(8);
/// How long the stream's flow scenario writes, at most (per driver).
const STREAM_FLOW_TIME: Duration = Duration::from_secs(4);
/// Enough crossings to see a misordering that happens a few times in 10,000.
const FLOW_TARGET: usize = 30_000;
/// The reader rests 1 ms after this many messages.
const READER_PACE: usize = 16;
/// Writer threads in the transport case (more only share the 2 cores).
const FLOW_WRITERS: usize = 2;
/// Writer threads in the stream case.
const STREAM_WRITERS: usize = 3;
/// Messages each writer writes at a time (4 cross high from low).
const FLOW_BURST: usize = 4;

/// A raw PULL that reads steadily (1 ms of rest every [`READER_PACE`]
/// messages: about 16 MB/s, slower than the writers), through the smallest
/// queues, so that the writers' buffer fills and empties all the time. It stops once
/// it has read as many messages as the returned counter says were written
/// (`usize::MAX` until then), or after [`TIMEOUT`] without any.
fn paced_reader() -> (String, Arc<AtomicUsize>, std::thread::JoinHandle<usize>) {
    let ctx = zmq::Context::new();
    let peer = raw(&ctx, zmq::PULL);
    peer.set_rcvhwm(1).unwrap();
    peer.set_rcvbuf(4096).unwrap();
    peer.set_rcvtimeo(50).unwrap();
    peer.bind(ANY_TCP).unwrap();
    let ep = peer.get_last_endpoint().unwrap().unwrap();
    let expect = Arc::new(AtomicUsize::new(usize::MAX));
    let expect2 = expect.clone();
    let reader = std::thread::spawn(move || {
        let _ctx = ctx;
        let mut n = 0;
        let mut last = Instant::now();
        while n < expect2.load(Ordering::Acquire) {
            match peer.recv_bytes(0) {
                Ok(_) => {
                    n += 1;
                    last = Instant::now();
                    if n % READER_PACE == 0 {
                        // Pacing the reader (not synchronising): the writers
                        // always outrun it, so the buffer fills every time.
                        std::thread::sleep(Duration::from_millis(1));
                    }
                }
                Err(zmq::Error::EAGAIN) | Err(zmq::Error::EINTR) => {
                    if last.elapsed() > TIMEOUT {
                        break;
                    }
                }
                Err(e) => panic!("the reader failed: {e}"),
            }
        }
        n
    });
    (ep, expect, reader)
}

/// Indexes where the sequence breaks `Pause, Resume, Pause, …`.
fn flow_violations(flow: &[Ev]) -> Vec<usize> {
    flow.iter()
        .enumerate()
        .filter(|(i, e)| **e != if i % 2 == 0 { Ev::Pause } else { Ev::Resume })
        .map(|(i, _)| i)
        .collect()
}

/// `pause_writing`/`resume_writing` strictly alternate, starting
/// with pause, while several threads write as fast as they can (each one
/// honouring pause, but writing again as soon as the buffer is at low).
pub fn flow_callbacks_alternate_with_concurrent_writers<D: Driver>(d: &D) {
    let (ep, expect, reader) = paced_reader();
    let (push, log) = d
        .open(
            Spec::new(SocketType::Push)
                .option(SockOpt::SNDHWM, OptValue::Int(1))
                .option(SockOpt::SNDBUF, OptValue::Int(4096))
                .connect(ep),
        )
        .unwrap();
    push.set_write_buffer_limits(Some(FLOW_HIGH), Some(FLOW_LOW))
        .unwrap();
    let deadline = Instant::now() + FLOW_TIME;
    let writes = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..FLOW_WRITERS {
            let push = push.clone();
            let (log, writes) = (&log, &writes);
            s.spawn(move || {
                let body = Bytes::from(vec![7u8; FLOW_SIZE]);
                let mut n = 0usize;
                loop {
                    if n.is_multiple_of(32)
                        && (log.pauses() >= FLOW_TARGET || Instant::now() >= deadline)
                    {
                        break;
                    }
                    let size = push.get_write_buffer_size();
                    // Write while the protocol was not told to pause, and at
                    // once when the buffer is back at low, resumed or not
                    // yet; never while the buffer is over high (so the
                    // test goes on crossing should the callbacks get out of
                    // step with the buffer).
                    if !(size <= FLOW_LOW || (!log.is_paused() && size <= FLOW_HIGH)) {
                        std::hint::spin_loop();
                        std::thread::yield_now();
                        n += 1;
                        continue;
                    }
                    // A burst: enough to cross high at once from low.
                    for _ in 0..FLOW_BURST {
                        push.write(Multipart::from_iter([body.clone()])).unwrap();
                    }
                    n += 1;
                    writes.fetch_add(FLOW_BURST, Ordering::Relaxed);
                }
            });
        }
    });
    // Everything leaves; the last pause, if any, is answered.
    let drained = Instant::now() + TIMEOUT;
    while push.get_write_buffer_size() > 0 {
        assert!(
            Instant::now() < drained,
            "{}: the buffer never drained",
            d.name()
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    let flow = log.wait(&format!("{}: the last resume_writing", d.name()), |evs| {
        let flow: Vec<Ev> = evs
            .iter()
            .filter(|e| matches!(e, Ev::Pause | Ev::Resume))
            .cloned()
            .collect();
        (flow.last() != Some(&Ev::Pause)).then_some(flow)
    });
    push.close();
    log.wait_lost();
    expect.store(writes.load(Ordering::Relaxed), Ordering::Release);
    let read = reader.join().unwrap();
    let bad = flow_violations(&flow);
    eprintln!(
        "{}: {} flow callbacks, {} out of order, {} writes",
        d.name(),
        flow.len(),
        bad.len(),
        writes.load(Ordering::Relaxed)
    );
    assert!(
        bad.is_empty(),
        "{}: {} of {} flow callbacks out of order (pause/resume must alternate, pause first); \
         first at {}: {:?}",
        d.name(),
        bad.len(),
        flow.len(),
        bad[0],
        &flow[bad[0].saturating_sub(3)..(bad[0] + 3).min(flow.len())]
    );
    let crossings = flow.len() / 2;
    assert!(
        crossings >= 300,
        "{}: only {crossings} pause/resume crossings in {} writes: the test proves nothing",
        d.name(),
        writes.load(Ordering::Relaxed)
    );
    assert_eq!(read, writes.load(Ordering::Relaxed), "{}", d.name());
    log.assert_contract();
}

/// The stream: several threads each `write(); drain();` as fast as
/// they can; right after `drain()` returns Ok the buffer is at most high,
/// give or take the one message each other writer may have added since.
pub fn stream_drain_never_returns_over_high_with_concurrent_writers<D: Driver>(d: &D)
where
    D::S: Sync,
{
    let (ep, expect, reader) = paced_reader();
    let mut spec = StreamSpec::new(SocketType::Push);
    spec.write_limits = (Some(FLOW_HIGH), Some(FLOW_LOW));
    let s = d.open_stream(spec).unwrap();
    s.transport()
        .setsockopt(SockOpt::SNDHWM, OptValue::Int(1))
        .unwrap();
    s.transport()
        .setsockopt(SockOpt::SNDBUF, OptValue::Int(4096))
        .unwrap();
    s.transport().connect(&ep).unwrap();
    let bound = FLOW_HIGH + STREAM_WRITERS * FLOW_SIZE;
    let deadline = Instant::now() + STREAM_FLOW_TIME;
    let crossings = AtomicUsize::new(0);
    let writes = AtomicUsize::new(0);
    let worst = AtomicUsize::new(0);
    let over = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..STREAM_WRITERS {
            let (s, crossings, writes, worst, over) = (&s, &crossings, &writes, &worst, &over);
            scope.spawn(move || {
                let body = Bytes::from(vec![7u8; FLOW_SIZE]);
                let mut n = 0usize;
                while !(n.is_multiple_of(32)
                    && (crossings.load(Ordering::Relaxed) >= FLOW_TARGET
                        || Instant::now() >= deadline))
                {
                    n += 1;
                    s.write(Multipart::from_iter([body.clone()])).unwrap();
                    writes.fetch_add(1, Ordering::Relaxed);
                    if s.transport().get_write_buffer_size() > FLOW_HIGH {
                        crossings.fetch_add(1, Ordering::Relaxed);
                    }
                    s.drain(TIMEOUT).unwrap();
                    let size = s.transport().get_write_buffer_size();
                    if size > bound {
                        over.fetch_add(1, Ordering::Relaxed);
                        worst.fetch_max(size, Ordering::Relaxed);
                    }
                }
            });
        }
    });
    let drained = Instant::now() + TIMEOUT;
    while s.transport().get_write_buffer_size() > 0 {
        assert!(
            Instant::now() < drained,
            "{}: the buffer never drained",
            d.name()
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    s.close();
    expect.store(writes.load(Ordering::Relaxed), Ordering::Release);
    let read = reader.join().unwrap();
    eprintln!(
        "{}: {} writes over high, {} drains returned over the bound (worst {} B)",
        d.name(),
        crossings.load(Ordering::Relaxed),
        over.load(Ordering::Relaxed),
        worst.load(Ordering::Relaxed)
    );
    assert_eq!(
        over.load(Ordering::Relaxed),
        0,
        "{}: drain() returned Ok {} times with the buffer over high ({FLOW_HIGH}) + \
         {STREAM_WRITERS} messages; worst {} bytes",
        d.name(),
        over.load(Ordering::Relaxed),
        worst.load(Ordering::Relaxed)
    );
    let crossings = crossings.load(Ordering::Relaxed);
    assert!(
        crossings >= 300,
        "{}: only {crossings} writes over high: the test proves nothing",
        d.name()
    );
    assert_eq!(read, writes.load(Ordering::Relaxed), "{}", d.name());
}
