//! Dropping an executor at any moment, on smol: drivers run on an executor of the
//! test's own (`aiozmq_smol::set_spawner`, process-wide, hence this binary
//! of its own), which the test drops at a moment of its choosing; dropping
//! an `Executor` drops every task on it. Nothing may hang or leak.
//!
//! These tests look at the whole process, so they run one at a time.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, Once};
use std::time::Duration;

use aiozmq_smol::{create_zmq_connection, SocketType, Transport, ZmqProtocol, ZmqTransport};
use aiozmq_tests::drops::{self, numbered, DropRt};
use aiozmq_tests::stress::scaled;
use smol::Executor;

type Task = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// The executor drivers are spawned on now: each [`Exec`] installs its own.
static CURRENT: Mutex<Option<Arc<Executor<'static>>>> = Mutex::new(None);

fn spawn_on_current(task: Task) {
    let ex = CURRENT
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone()
        .expect("a test executor is installed");
    ex.spawn(task).detach();
}

/// A smol executor run by two threads, until dropped.
struct Exec {
    ex: Arc<Executor<'static>>,
    stop: smol::channel::Sender<()>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Exec {
    fn new() -> Exec {
        static SPAWNER: Once = Once::new();
        SPAWNER.call_once(|| assert!(aiozmq_smol::set_spawner(spawn_on_current)));
        let ex = Arc::new(Executor::new());
        *CURRENT.lock().unwrap_or_else(|p| p.into_inner()) = Some(ex.clone());
        let (stop, stopped) = smol::channel::bounded::<()>(1);
        let threads = (0..2)
            .map(|_| {
                let (ex, stopped) = (ex.clone(), stopped.clone());
                std::thread::spawn(move || {
                    let _ = smol::block_on(ex.run(stopped.recv()));
                })
            })
            .collect();
        Exec { ex, stop, threads }
    }
}

impl DropRt for Exec {
    type T = Transport;

    fn name(&self) -> String {
        "a smol executor".into()
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
        smol::block_on(b.open())
    }

    fn enable_monitor(&self, t: &Transport) -> io::Result<()> {
        smol::block_on(t.enable_monitor(None))
    }

    fn spawn_writer(&self, t: Transport, n: u64) {
        self.ex
            .spawn(async move {
                for i in 0..n {
                    if t.write(numbered(i)).is_err() {
                        return;
                    }
                    if i % 8 == 7 {
                        smol::future::yield_now().await;
                    }
                }
            })
            .detach();
    }

    fn drop_now(self) {
        let Exec { ex, stop, threads } = self;
        drop(stop);
        aiozmq_tests::leaks::bounded(
            "stopping the executor's threads",
            Duration::from_secs(10),
            move || {
                for t in threads {
                    t.join().expect("an executor thread");
                }
            },
        );
        CURRENT.lock().unwrap_or_else(|p| p.into_inner()).take();
        // The last reference: the executor drops, and every task on it.
        drops::drop_bounded("dropping the executor", ex);
    }
}

/// An executor dropped at each point of a monitored pair's life
/// (with traffic) hangs nothing and leaks nothing.
#[test]
fn dropping_a_smol_executor_hangs_and_leaks_nothing() {
    drops::every_point("a smol executor", Exec::new, 3);
}

/// The stress case on smol (300 lives; AIOZMQ_STRESS_DIVISOR
/// divides, AIOZMQ_SEED replays).
#[test]
fn stress_dropping_smol_executors_at_random_points() {
    drops::stress(|_| Exec::new(), scaled(300).max(1), 0x2545_f491_4f6c_dd1d);
}

/// The README's Echo on a dropped smol executor: the protocol is
/// freed and its port released.
#[test]
fn echo_pattern_freed_when_a_smol_executor_is_dropped() {
    drops::echo_is_freed(Exec::new);
}
