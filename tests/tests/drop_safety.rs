//! Dropping a runtime at any moment, on tokio (multi-thread and current-thread):
//! dropping a runtime at any moment never hangs libzmq and never leaks a
//! socket, port, FD or protocol (protocol↔transport cycles included).
//!
//! These tests look at the whole process (its FDs, its listening ports, the
//! default context), so they run one at a time, in a binary of their own.
//! Once one of them hangs libzmq's I/O thread, the others fail too (their
//! warm-up finds the default context dead).

use std::io;
use std::sync::{Arc, Mutex};

use aiozmq_tests::drops::{self, numbered, DropRt};
use aiozmq_tests::stress::scaled;
use aiozmq_tokio::{create_zmq_connection, SocketType, Transport, ZmqProtocol, ZmqTransport};
use tokio::runtime::{Builder, Handle, Runtime};

/// A tokio runtime the test drops when it chooses. The current-thread one
/// runs on a thread of its own (in `block_on` until told to stop), so its
/// driver tasks make progress while the test waits.
struct Rt {
    handle: Handle,
    inner: Inner,
}

enum Inner {
    Multi(Runtime),
    Current(
        tokio::sync::oneshot::Sender<()>,
        std::thread::JoinHandle<()>,
    ),
}

impl Rt {
    fn multi_thread() -> Rt {
        let rt = Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        Rt {
            handle: rt.handle().clone(),
            inner: Inner::Multi(rt),
        }
    }

    fn current_thread() -> Rt {
        let rt = Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let handle = rt.handle().clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            rt.block_on(async {
                let _ = stopped.await;
            });
            // `rt` drops here, with every task still on it.
        });
        Rt {
            handle,
            inner: Inner::Current(stop, thread),
        }
    }
}

impl DropRt for Rt {
    type T = Transport;

    fn name(&self) -> String {
        match self.inner {
            Inner::Multi(_) => "a multi-thread tokio runtime".into(),
            Inner::Current(..) => "a current-thread tokio runtime".into(),
        }
    }

    fn open<P: ZmqProtocol<Transport>>(
        &self,
        kind: SocketType,
        bind: Option<&str>,
        connect: Option<&str>,
        protocol: P,
    ) -> io::Result<(Transport, Arc<Mutex<P>>)> {
        let mut b = create_zmq_connection(move || protocol, kind);
        if let Some(ep) = bind {
            b = b.bind(ep);
        }
        if let Some(ep) = connect {
            b = b.connect(ep);
        }
        self.handle.block_on(b.open())
    }

    fn enable_monitor(&self, t: &Transport) -> io::Result<()> {
        self.handle.block_on(t.enable_monitor(None))
    }

    fn spawn_writer(&self, t: Transport, n: u64) {
        self.handle.spawn(async move {
            for i in 0..n {
                if t.write(numbered(i)).is_err() {
                    return;
                }
                if i % 8 == 7 {
                    tokio::task::yield_now().await;
                }
            }
        });
    }

    fn drop_now(self) {
        match self.inner {
            Inner::Multi(rt) => drops::drop_bounded("dropping the runtime", rt),
            Inner::Current(stop, thread) => {
                let _ = stop.send(());
                aiozmq_tests::leaks::bounded(
                    "dropping the runtime",
                    std::time::Duration::from_secs(10),
                    move || thread.join().expect("the runtime's thread"),
                );
            }
        }
    }
}

/// A multi-thread runtime dropped at each point of a monitored
/// pair's life (with traffic) hangs nothing and leaks nothing.
#[test]
fn dropping_a_multi_thread_runtime_hangs_and_leaks_nothing() {
    drops::every_point("a multi-thread tokio runtime", Rt::multi_thread, 3);
}

/// The same with a current-thread runtime.
#[test]
fn dropping_a_current_thread_runtime_hangs_and_leaks_nothing() {
    drops::every_point("a current-thread tokio runtime", Rt::current_thread, 3);
}

/// The stress case: 1,000 lives (AIOZMQ_STRESS_DIVISOR divides),
/// alternating runtime flavours, each dropped at a pseudo-random point
/// (AIOZMQ_SEED replays a run).
#[test]
fn stress_dropping_tokio_runtimes_at_random_points() {
    let new_rt = |i: usize| {
        if i.is_multiple_of(2) {
            Rt::multi_thread()
        } else {
            Rt::current_thread()
        }
    };
    drops::stress(new_rt, scaled(1000).max(1), 0x9e37_79b9_7f4a_7c15);
}

/// The README's Echo (a protocol↔transport cycle) on a dropped
/// multi-thread runtime: the protocol is freed and its port released.
#[test]
fn echo_pattern_freed_when_a_multi_thread_runtime_is_dropped() {
    drops::echo_is_freed(Rt::multi_thread);
}

/// The same on a current-thread runtime.
#[test]
fn echo_pattern_freed_when_a_current_thread_runtime_is_dropped() {
    drops::echo_is_freed(Rt::current_thread);
}
