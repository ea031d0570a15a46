//! PUB/SUB: each subscriber hears exactly the topics it subscribed to, every
//! message of them once and in order, on the protocol and the stream API
//! alike; an unsubscribe stops its topic for that subscriber only, and for
//! good once the change has reached the publisher.
//!
//! Subscriptions travel to the publisher asynchronously, so each phase first
//! publishes warm-up rounds until the subscribers hear one (bounded); a
//! batch then ends with a sentinel per topic, so "exactly N" is checked
//! without waiting for something not to come.

use std::collections::BTreeSet;
use std::time::Duration;

use aiozmq_core::{Bytes, Multipart, OptValue, SockOpt, SocketType, ZmqTransport};

use crate::{Driver, Ev, Log, Spec, StreamSpec, TestStream, ANY_TCP, TIMEOUT};

/// Messages per topic in a batch.
const N: usize = 1_000;
/// Every topic published; no one is a prefix of another.
const TOPICS: [&str; 3] = ["weather", "sports", "news"];
/// The most warm-up rounds before the subscriptions count as lost.
const MAX_ROUNDS: usize = 2_000;
/// How long a warm-up round waits for a subscriber to hear it.
const ROUND_WAIT: Duration = Duration::from_millis(10);

/// A PUB whose queue for each subscriber (SNDHWM, set before its bind) holds
/// a whole batch with warm-up leftovers, so nothing is dropped for a slow reader.
fn publisher<D: Driver>(d: &D) -> (D::T, String) {
    let (publ, _) = d
        .open(
            Spec::new(SocketType::Pub)
                .option(SockOpt::SNDHWM, OptValue::Int(4 * N as i32))
                .bind(ANY_TCP),
        )
        .unwrap();
    let ep = publ.bindings().into_iter().next().expect("a binding");
    (publ, ep)
}

/// Publishes `[topic, body]`.
fn publish<T: ZmqTransport>(publ: &T, topic: &str, body: String) {
    let msg = Multipart::from_iter([Bytes::copy_from_slice(topic.as_bytes()), Bytes::from(body)]);
    publ.write(msg).unwrap();
}

/// `(topic, body)` of a two-frame message.
fn parts(m: &Multipart) -> (String, String) {
    assert_eq!(m.len(), 2, "a [topic, body] message: {m:?}");
    let text = |b: &Bytes| String::from_utf8_lossy(b).into_owned();
    (text(&m[0]), text(&m[1]))
}

/// Whether `m` is `topic`'s message with a body starting `prefix`.
fn is(m: &Multipart, topic: &str, prefix: &str) -> bool {
    let (t, body) = parts(m);
    t == topic && body.starts_with(prefix)
}

/// The messages a protocol recorded.
fn msgs_of(evs: &[Ev]) -> impl Iterator<Item = &Multipart> {
    evs.iter().filter_map(|e| match e {
        Ev::Msg(m) => Some(m),
        _ => None,
    })
}

/// Whether `log` has recorded `topic`'s message with a body starting `prefix`,
/// waiting at most `wait`.
fn log_heard(log: &Log, topic: &str, prefix: &str, wait: Duration) -> bool {
    log.wait_for(wait, |evs| {
        msgs_of(evs).any(|m| is(m, topic, prefix)).then_some(())
    })
    .is_some()
}

/// Publishes rounds of every topic tagged `phase` until `heard()` says the
/// subscribers have heard theirs; panics after [`MAX_ROUNDS`].
fn warm_up<T: ZmqTransport>(name: &str, publ: &T, phase: &str, mut heard: impl FnMut() -> bool) {
    for round in 0.. {
        assert!(
            round < MAX_ROUNDS,
            "{name}: {phase}: subscriptions never took effect"
        );
        for topic in TOPICS {
            publish(publ, topic, format!("{phase} warm-up {round}"));
        }
        if heard() {
            return;
        }
    }
}

/// Publishes `phase #0..N` on every topic, then `phase end` on each.
fn publish_batch<T: ZmqTransport>(publ: &T, phase: &str) {
    for i in 0..N {
        for topic in TOPICS {
            publish(publ, topic, format!("{phase} #{i}"));
        }
    }
    for topic in TOPICS {
        publish(publ, topic, format!("{phase} end"));
    }
}

/// Checks that `got` holds `topic`'s batch `phase`: #0..N, each once, in order.
fn assert_batch<'a>(
    name: &str,
    who: &str,
    got: impl Iterator<Item = &'a Multipart>,
    topic: &str,
    phase: &str,
) {
    let prefix = format!("{phase} #");
    let batch: Vec<String> = got
        .filter_map(|m| {
            let (t, body) = parts(m);
            body.strip_prefix(&prefix).map(|i| format!("{t} {i}"))
        })
        .collect();
    let want: Vec<String> = (0..N).map(|i| format!("{topic} {i}")).collect();
    if let Some(i) = (0..N.max(batch.len())).find(|&i| batch.get(i) != want.get(i)) {
        panic!(
            "{name}: {who} got {} messages of a batch of {N}; at #{i} expected {:?}, got {:?}",
            batch.len(),
            want.get(i),
            batch.get(i)
        );
    }
}

/// Two subscribers to one PUB, A (protocol API) on `weather` and B (stream
/// API) on `sports`: each hears only its topic — no one hears `news` — and
/// every message of it exactly once, in order, frames intact.
pub fn pub_sub_each_subscriber_hears_exactly_its_prefix<D: Driver>(d: &D) {
    let name = d.name();
    let (publ, ep) = publisher(d);
    let (a, a_log) = d.open(Spec::new(SocketType::Sub).connect(&ep)).unwrap();
    a.subscribe("weather").unwrap();
    let mut b = d
        .open_stream(StreamSpec::new(SocketType::Sub).connect(&ep))
        .unwrap();
    b.transport().subscribe("sports").unwrap();

    let mut b_got: Vec<Multipart> = Vec::new();
    // B reads what came within `wait`, until a `sports` message tagged `prefix`.
    let mut b_read = |b: &mut D::S, prefix: &str, wait: Duration| loop {
        match b.read(wait) {
            Ok(m) => {
                let done = is(&m, "sports", prefix);
                b_got.push(m);
                if done {
                    return true;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => return false,
            Err(e) => panic!("{name}: B's read failed: {e}"),
        }
    };
    let mut b_heard = false;
    warm_up(name, &publ, "warm", || {
        b_heard = b_heard || b_read(&mut b, "warm", ROUND_WAIT);
        log_heard(&a_log, "weather", "warm", ROUND_WAIT) && b_heard
    });
    publish_batch(&publ, "batch");
    assert!(
        log_heard(&a_log, "weather", "batch end", TIMEOUT),
        "{name}: A's batch never ended"
    );
    assert!(
        b_read(&mut b, "batch end", TIMEOUT),
        "{name}: B's batch never ended"
    );

    let a_got = a_log.msgs();
    for (who, got, topic) in [("A", &a_got, "weather"), ("B", &b_got, "sports")] {
        let heard: BTreeSet<String> = got.iter().map(|m| parts(m).0).collect();
        assert_eq!(
            heard,
            BTreeSet::from([topic.to_owned()]),
            "{name}: {who} heard other topics"
        );
        assert_batch(name, who, got.iter(), topic, "batch");
    }
    a.close();
    b.close();
    publ.close();
    a_log.wait_lost();
    a_log.assert_contract();
}

/// A swaps `weather` for `news` while C stays on `weather`: from A's first
/// `news` on, A never hears `weather` again and gets every `news` in order,
/// and C still gets every `weather`.
pub fn pub_sub_unsubscribe_stops_its_topic<D: Driver>(d: &D) {
    let name = d.name();
    let (publ, ep) = publisher(d);
    let (a, a_log) = d.open(Spec::new(SocketType::Sub).connect(&ep)).unwrap();
    let (c, c_log) = d.open(Spec::new(SocketType::Sub).connect(&ep)).unwrap();
    a.subscribe("weather").unwrap();
    c.subscribe("weather").unwrap();
    warm_up(name, &publ, "first", || {
        log_heard(&a_log, "weather", "first", ROUND_WAIT)
            && log_heard(&c_log, "weather", "first", ROUND_WAIT)
    });

    a.unsubscribe("weather").unwrap();
    a.subscribe("news").unwrap();
    let subs = a.subscriptions().unwrap();
    assert_eq!(
        subs,
        BTreeSet::from([Bytes::from_static(b"news")]),
        "{name}"
    );
    warm_up(name, &publ, "second", || {
        log_heard(&a_log, "news", "second", ROUND_WAIT)
    });
    publish_batch(&publ, "batch");
    assert!(
        log_heard(&a_log, "news", "batch end", TIMEOUT),
        "{name}: A's batch never ended"
    );
    assert!(
        log_heard(&c_log, "weather", "batch end", TIMEOUT),
        "{name}: C's batch never ended"
    );

    let a_got = a_log.msgs();
    let first_news = a_got
        .iter()
        .position(|m| parts(m).0 == "news")
        .expect("a news");
    // Before the change reached the PUB, A may still hear `weather`; never after.
    let after: Vec<&Multipart> = a_got[first_news..].iter().collect();
    let stray: Vec<_> = after.iter().filter(|m| parts(m).0 != "news").collect();
    assert!(
        stray.is_empty(),
        "{name}: A heard after its first news: {:?}",
        stray.first()
    );
    assert!(
        a_got.iter().all(|m| parts(m).0 != "sports"),
        "{name}: A heard sports"
    );
    assert_batch(name, "A", after.into_iter(), "news", "batch");
    let c_got = c_log.msgs();
    assert!(
        c_got.iter().all(|m| parts(m).0 == "weather"),
        "{name}: C heard another topic"
    );
    assert_batch(name, "C", c_got.iter(), "weather", "batch");
    for t in [&a, &c, &publ] {
        t.close();
    }
    a_log.wait_lost();
    c_log.wait_lost();
    a_log.assert_contract();
    c_log.assert_contract();
}
