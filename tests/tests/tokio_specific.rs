//! What only the tokio driver promises: its handles move into tasks on the
//! multi-thread runtime, and `ZmqStream::read()` is cancel-safe.

use std::collections::BTreeSet;
use std::time::Duration;

use aiozmq_tokio::{
    create_zmq_connection, create_zmq_stream, Bytes, Multipart, SocketType, Transport, ZmqProtocol,
    ZmqTransport,
};
use futures_util::{SinkExt, StreamExt};

const TIMEOUT: Duration = Duration::from_secs(20);

fn assert_send_sync_clone<T: Send + Sync + Clone + 'static>() {}

#[test]
fn transport_and_stream_are_send() {
    assert_send_sync_clone::<Transport>();
    fn send<T: Send>() {}
    send::<aiozmq_tokio::ZmqStream>();
}

#[derive(Debug)]
struct Null;
impl ZmqProtocol<Transport> for Null {
    fn msg_received(&mut self, _msg: Multipart) {}
}

fn numbered(i: u64) -> Multipart {
    Multipart::from_iter([Bytes::copy_from_slice(&i.to_le_bytes())])
}

fn number(m: &Multipart) -> u64 {
    u64::from_le_bytes(m[0][..8].try_into().unwrap())
}

/// A clone moves into a spawned task on the multi-thread runtime while the
/// original keeps writing: both streams of messages arrive whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clone_moves_into_spawned_task_while_original_writes() {
    let mut pull = create_zmq_stream(SocketType::Pull)
        .bind("tcp://127.0.0.1:*")
        .await
        .unwrap();
    let ep = pull.transport().bindings().into_iter().next().unwrap();
    let (push, _) = create_zmq_connection(|| Null, SocketType::Push)
        .connect(ep)
        .await
        .unwrap();
    let clone = push.clone();
    let task = tokio::spawn(async move {
        for i in 0..1000u64 {
            clone.write(numbered(1_000_000 + i)).unwrap();
            if i % 100 == 0 {
                tokio::task::yield_now().await;
            }
        }
    });
    for i in 0..1000u64 {
        push.write(numbered(i)).unwrap();
    }
    task.await.unwrap();
    let mut seen = BTreeSet::new();
    for _ in 0..2000 {
        let m = tokio::time::timeout(TIMEOUT, pull.read())
            .await
            .unwrap()
            .unwrap();
        assert!(seen.insert(number(&m)), "duplicate");
    }
    assert_eq!(seen.len(), 2000);
    // Each writer's own messages keep their order.
    push.close();
}

/// Reads cancelled at arbitrary points (timeouts and select!) lose nothing
/// and duplicate nothing; the stream stays usable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_is_cancel_safe() {
    let mut pull = create_zmq_stream(SocketType::Pull)
        .bind("tcp://127.0.0.1:*")
        .await
        .unwrap();
    let ep = pull.transport().bindings().into_iter().next().unwrap();
    let (push, _) = create_zmq_connection(|| Null, SocketType::Push)
        .connect(ep)
        .await
        .unwrap();
    let n = 5000u64;
    // The writer stops after each burst until the reader has read it all
    // and cancelled a read that was waiting: a fast writer otherwise keeps
    // every read ready, and no read is ever cancelled while it waits.
    const BURST: u64 = 500;
    let (go, mut gone) = tokio::sync::mpsc::channel::<()>(1);
    let writer = tokio::spawn(async move {
        for i in 0..n {
            push.write(numbered(i)).unwrap();
            if i % 7 == 0 {
                tokio::task::yield_now().await;
            }
            if (i + 1).is_multiple_of(BURST) && i + 1 < n {
                gone.recv().await.expect("the reader lets the writer go on");
            }
        }
        push
    });
    let mut got = Vec::new();
    let mut cancelled = 0;
    let mut waiting_cancelled = 0;
    let mut rounds = 0u64;
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    while (got.len() as u64) < n {
        assert!(
            tokio::time::Instant::now() < deadline,
            "stuck at {}",
            got.len()
        );
        rounds += 1;
        // A pseudo-random mix of cancellation points.
        match rounds % 3 {
            0 => {
                match tokio::time::timeout(Duration::from_micros(rounds % 50), pull.read()).await {
                    Ok(m) => got.push(number(&m.unwrap())),
                    Err(_) => cancelled += 1,
                }
            }
            1 => {
                tokio::select! {
                    m = pull.read() => got.push(number(&m.unwrap())),
                    _ = tokio::task::yield_now() => cancelled += 1,
                }
            }
            _ => got.push(number(&pull.read().await.unwrap())),
        }
        let len = got.len() as u64;
        if len > 0 && len.is_multiple_of(BURST) && len < n && waiting_cancelled < len / BURST {
            // The writer waits for `go`: this read waits, and is cancelled.
            let early = tokio::time::timeout(Duration::from_millis(1), pull.read()).await;
            assert!(early.is_err(), "a message before the writer went on");
            waiting_cancelled += 1;
            cancelled += 1;
            go.send(()).await.unwrap();
        }
    }
    let push = writer.await.unwrap();
    assert_eq!(
        got,
        (0..n).collect::<Vec<_>>(),
        "lost, duplicated or reordered"
    );
    assert_eq!(waiting_cancelled, n / BURST - 1, "a waiting read per burst");
    assert!(cancelled > 0);
    // Still usable after all the cancellations.
    push.write(numbered(n)).unwrap();
    let m = tokio::time::timeout(TIMEOUT, pull.read())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(number(&m), n);
}

/// The stream is a futures Stream and Sink.
#[tokio::test]
async fn stream_and_sink() {
    let mut a = create_zmq_stream(SocketType::Pair)
        .bind("tcp://127.0.0.1:*")
        .await
        .unwrap();
    let ep = a.transport().bindings().into_iter().next().unwrap();
    let mut b = create_zmq_stream(SocketType::Pair)
        .connect(ep)
        .await
        .unwrap();
    for i in 0..10 {
        b.send(numbered(i)).await.unwrap();
    }
    for i in 0..10 {
        let m = tokio::time::timeout(TIMEOUT, a.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(number(&m), i);
    }
    a.close();
    let end = tokio::time::timeout(TIMEOUT, a.next()).await.unwrap();
    assert!(end.is_none(), "the stream ends after close");
}

/// Opening outside a runtime is an error, not a panic.
#[test]
fn open_outside_a_runtime_is_an_error() {
    let err = futures_util::FutureExt::now_or_never(
        create_zmq_connection(|| Null, SocketType::Push).open(),
    )
    .expect("ready at once")
    .unwrap_err();
    assert!(err.to_string().contains("tokio runtime"), "{err}");
}

/// After close, the driver task ends and lets go of the protocol: the
/// protocol keeps a transport handle of its own, and still nothing leaks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_ends_the_driver_and_frees_the_protocol() {
    struct Keeper(Option<Transport>);
    impl ZmqProtocol<Transport> for Keeper {
        fn connection_made(&mut self, t: Transport) {
            self.0 = Some(t); // a cycle, unless the driver breaks it
        }
        fn msg_received(&mut self, _msg: Multipart) {}
    }
    let (t, proto) = create_zmq_connection(|| Keeper(None), SocketType::Dealer)
        .bind("tcp://127.0.0.1:*")
        .await
        .unwrap();
    let weak = std::sync::Arc::downgrade(&proto);
    drop(proto);
    drop(t); // the last counted handle: closes the transport
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    while weak.strong_count() > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the protocol was never freed"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// A runtime without the time driver (the close deadline sleeps) or without
/// the I/O driver: `open()` returns an error naming the builder call that is
/// missing, instead of panicking now or in the driver task later.
#[test]
fn runtime_without_time_or_io_fails_open_with_an_error() {
    use tokio::runtime::Builder;
    let cases = [
        (
            Builder::new_current_thread().enable_io().build(),
            "enable_time",
        ),
        (
            Builder::new_current_thread().enable_time().build(),
            "enable_io",
        ),
        (
            Builder::new_multi_thread()
                .worker_threads(1)
                .enable_io()
                .build(),
            "enable_time",
        ),
        (
            Builder::new_multi_thread()
                .worker_threads(1)
                .enable_time()
                .build(),
            "enable_io",
        ),
    ];
    for (runtime, missing) in cases {
        let runtime = runtime.unwrap();
        let opened = runtime.block_on(async {
            create_zmq_connection(|| Null, SocketType::Push)
                .bind("tcp://127.0.0.1:*")
                .await
                .map(drop)
        });
        let e = opened.expect_err("a connection opened on a runtime missing a driver");
        assert!(e.to_string().contains(missing), "{missing}: {e}");
        let opened =
            runtime.block_on(async { create_zmq_stream(SocketType::Pull).await.map(drop) });
        let e = opened.expect_err("a stream opened on a runtime missing a driver");
        assert!(e.to_string().contains(missing), "{missing}: {e}");
    }
    // A complete runtime still opens.
    let runtime = Builder::new_current_thread().enable_all().build().unwrap();
    runtime
        .block_on(async { create_zmq_stream(SocketType::Pull).await })
        .expect("enable_all opens");
}
