//! The suite's view of `aiozmq-tokio`, on a multi-thread or a current-thread
//! runtime. The test thread is never a runtime thread: async calls go
//! through `Handle::block_on`, and driver tasks run on the runtime's threads.

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use aiozmq_core::{Multipart, SocketEvent};
use aiozmq_tokio as drv;
use tokio::runtime::{Builder, Handle, Runtime};

use crate::driver::{Driver, Spec, StreamSpec, TestStream};
use crate::log::{Log, Rec};

/// A tokio runtime for the suite.
pub struct Tokio {
    name: &'static str,
    handle: Handle,
    runtime: Option<Runtime>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Tokio {
    /// The multi-thread runtime (2 workers).
    pub fn multi_thread() -> Tokio {
        let runtime = Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        Tokio {
            name: "tokio-mt",
            handle: runtime.handle().clone(),
            runtime: Some(runtime),
            stop: None,
            thread: None,
        }
    }

    /// The current-thread runtime, run by one background thread: every
    /// driver task shares that thread.
    pub fn current_thread() -> Tokio {
        let runtime = Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let handle = runtime.handle().clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            runtime.block_on(async {
                let _ = stopped.await;
            });
        });
        Tokio {
            name: "tokio-ct",
            handle,
            runtime: None,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// Runs a future to completion from the test thread.
    pub fn block<F: Future>(&self, f: F) -> F::Output {
        self.handle.block_on(f)
    }

    /// Runs a future with a timeout: `TimedOut` after it.
    pub fn block_timeout<T>(
        &self,
        d: Duration,
        f: impl Future<Output = io::Result<T>>,
    ) -> io::Result<T> {
        self.block(async {
            match tokio::time::timeout(d, f).await {
                Ok(r) => r,
                Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, "timed out")),
            }
        })
    }

    /// The runtime's handle.
    pub fn handle(&self) -> &Handle {
        &self.handle
    }
}

impl Drop for Tokio {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_timeout(Duration::from_secs(2));
        }
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A tokio stream with bounded waits.
pub struct TokioStream {
    stream: drv::ZmqStream,
    handle: Handle,
}

impl TokioStream {
    fn block<T>(&self, d: Duration, f: impl Future<Output = io::Result<T>>) -> io::Result<T> {
        self.handle.block_on(async {
            match tokio::time::timeout(d, f).await {
                Ok(r) => r,
                Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, "timed out")),
            }
        })
    }
}

impl TestStream for TokioStream {
    type T = drv::Transport;

    fn transport(&self) -> &drv::Transport {
        self.stream.transport()
    }
    fn write(&self, msg: Multipart) -> io::Result<()> {
        self.stream.write(msg)
    }
    fn read(&mut self, timeout: Duration) -> io::Result<Multipart> {
        let handle = self.handle.clone();
        let stream = &mut self.stream;
        handle.block_on(async {
            match tokio::time::timeout(timeout, stream.read()).await {
                Ok(r) => r,
                Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, "timed out")),
            }
        })
    }
    fn read_event(&mut self, timeout: Duration) -> io::Result<SocketEvent> {
        let handle = self.handle.clone();
        let stream = &mut self.stream;
        handle.block_on(async {
            match tokio::time::timeout(timeout, stream.read_event()).await {
                Ok(r) => r,
                Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, "timed out")),
            }
        })
    }
    fn drain(&self, timeout: Duration) -> io::Result<()> {
        self.block(timeout, self.stream.drain())
    }
    fn close(&self) {
        self.stream.close()
    }
    fn at_closing(&self) -> bool {
        self.stream.at_closing()
    }
    fn set_read_buffer_limits(&self, high: Option<usize>, low: Option<usize>) -> io::Result<()> {
        self.stream.set_read_buffer_limits(high, low)
    }
    fn get_read_buffer_limits(&self) -> (usize, usize) {
        self.stream.get_read_buffer_limits()
    }
    fn enable_monitor(&self, events: Option<u16>) -> io::Result<()> {
        self.handle
            .block_on(self.stream.transport().enable_monitor(events))
    }
}

impl Driver for Tokio {
    type T = drv::Transport;
    type A = drv::Authenticator;
    type S = TokioStream;

    fn name(&self) -> &'static str {
        self.name
    }

    fn open_into(&self, spec: Spec<drv::Transport>, log: Arc<Log>) -> io::Result<drv::Transport> {
        let rec_log = log;
        let on_msg = spec.on_msg;
        let on_made = spec.on_made;
        let b = drv::create_zmq_connection(move || Rec::new(rec_log, on_msg, on_made), spec.kind);
        let b = crate::apply_spec!(b, spec);
        let (t, _proto) = self.block(b.open())?;
        Ok(t)
    }

    fn open_stream(&self, spec: StreamSpec) -> io::Result<TokioStream> {
        let b = drv::create_zmq_stream(spec.kind);
        let b = crate::apply_stream_spec!(b, spec);
        let stream = self.block(b.open())?;
        Ok(TokioStream {
            stream,
            handle: self.handle.clone(),
        })
    }

    fn enable_monitor(&self, t: &drv::Transport, events: Option<u16>) -> io::Result<()> {
        self.block(t.enable_monitor(events))
    }

    fn disable_monitor(&self, t: &drv::Transport) -> io::Result<()> {
        self.block(t.disable_monitor())
    }

    fn with_socket(&self, t: &drv::Transport, f: &mut dyn FnMut(&zmq::Socket)) -> io::Result<()> {
        t.with_zmq_socket(|s| f(s))
    }

    fn start_authenticator(&self, context: zmq::Context) -> io::Result<drv::Authenticator> {
        self.block(drv::Authenticator::start_in(context))
    }
}
