//! A fault-injecting TCP relay for the tests: it sits between two ZeroMQ
//! peers on loopback and, when the test says so, adds latency and jitter,
//! caps bandwidth, stalls, resets (RST) or half-closes its connections, or
//! drops a connection at a chosen byte.
//!
//! Plain std threads and `std::net`, so it serves every driver's tests alike.
//! Each relayed connection has four threads (a reader and a writer each
//! way, joined by a bounded queue), and every blocking call in them is
//! bounded or woken on demand, so dropping the [`FaultProxy`] ends all of
//! them, and its listener, within a fraction of a second.
//!
//! Its threads are named `fp<port>` (accepting) and `fp<port>c<n>…` (relaying
//! connection n), so a test can look for leftovers in `/proc/self/task`.
//!
//! Directions: [`Dir::Up`] is from the client (who connected to the proxy)
//! to the target (the proxy's upstream); [`Dir::Down`] the other way.

use std::collections::VecDeque;
use std::fmt;
use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How much a direction of one connection holds in the proxy at most.
const QUEUE_CAP: usize = 256 * 1024;
/// The largest read the proxy makes at once.
const READ_CHUNK: usize = 64 * 1024;
/// The kernel receive buffer of the proxy's sockets, fixed, so what a
/// stalled path still takes is bounded and does not depend on the
/// kernel's autotuning (up to `tcp_rmem`'s 32 MiB here).
const RECV_BUFFER: usize = 16 * 1024;
/// How long a blocked write waits before it looks again at whether its
/// connection was killed.
const WRITE_POLL: Duration = Duration::from_millis(50);
/// How long the proxy tries to reach its target for a new connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long dropping the proxy waits for its threads, at most.
const JOIN_TIMEOUT: Duration = Duration::from_secs(5);

/// A direction through the proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    /// From the client (who connected to the proxy) to the target.
    Up,
    /// From the target to the client.
    Down,
}

impl Dir {
    fn index(self) -> usize {
        match self {
            Dir::Up => 0,
            Dir::Down => 1,
        }
    }
}

/// What the proxy has done so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Client connections accepted (and connected to the target).
    pub accepted: u64,
    /// Client connections refused because the target could not be reached
    /// (each closed with a RST, as a dead host would).
    pub connect_failures: u64,
    /// Connections relaying right now.
    pub active: u64,
    /// Bytes delivered from clients to the target.
    pub bytes_up: u64,
    /// Bytes delivered from the target to clients.
    pub bytes_down: u64,
    /// Connections ended by a fault of the test ([`Faults::reset_all`],
    /// [`Faults::half_close`], [`Faults::drop_after`]). Counted, with its
    /// time ([`Faults::last_disruption`]), *before* the fault takes effect.
    pub disruptions: u64,
    /// Connections ended for any reason (faults, peers closing, errors).
    pub ended: u64,
}

/// Whether, and until when, forwarding is stopped.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Stall {
    No,
    Until(Instant),
    Indefinite,
}

/// The faults in force.
#[derive(Debug)]
struct Settings {
    target: SocketAddr,
    latency: Duration,
    jitter: Duration,
    bandwidth: Option<u64>,
    stall: Stall,
    /// A one-shot drop: the first connection to forward this many more
    /// bytes this way is reset at exactly that byte.
    drop_after: Option<(Dir, u64)>,
    rng: u64,
    stop: bool,
}

impl Settings {
    /// When the stall in force ends: `None` if there is none, `Some(None)`
    /// if it lasts until resumed.
    fn stalled(&mut self, now: Instant) -> Option<Option<Instant>> {
        match self.stall {
            Stall::No => None,
            Stall::Indefinite => Some(None),
            Stall::Until(t) if t > now => Some(Some(t)),
            Stall::Until(_) => {
                self.stall = Stall::No;
                None
            }
        }
    }

    fn jitter(&mut self) -> Duration {
        if self.jitter.is_zero() {
            return Duration::ZERO;
        }
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        let r = self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d);
        let nanos = self.jitter.as_nanos().min(u64::MAX as u128) as u64;
        Duration::from_nanos(r % nanos.max(1))
    }
}

/// The state every thread of one proxy shares.
struct Shared {
    settings: Mutex<Settings>,
    conns: Mutex<Vec<Arc<Conn>>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    /// Woken on any change a waiter of [`Faults`] may look for.
    changed: Condvar,
    changed_lock: Mutex<()>,
    accepted: AtomicU64,
    connect_failures: AtomicU64,
    bytes: [AtomicU64; 2],
    disruptions: AtomicU64,
    last_disruption: Mutex<Option<Instant>>,
    ended: AtomicU64,
    next_id: AtomicU64,
}

impl Shared {
    fn settings(&self) -> MutexGuard<'_, Settings> {
        self.settings.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn conns(&self) -> MutexGuard<'_, Vec<Arc<Conn>>> {
        self.conns.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn notify(&self) {
        let _g = self.changed_lock.lock().unwrap_or_else(|p| p.into_inner());
        self.changed.notify_all();
    }

    /// Wakes every connection's threads to look at the settings again.
    fn poke_all(&self) {
        for c in self.conns().iter() {
            c.poke();
        }
    }

    /// Counts a disruption (and its time), before it takes effect.
    fn disrupt(&self) {
        *self
            .last_disruption
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
        self.disruptions.fetch_add(1, Ordering::AcqRel);
    }

    /// Forgets an ended connection (its threads hold it until they end).
    fn forget(&self, conn: &Conn) {
        self.conns().retain(|c| c.id != conn.id);
        self.ended.fetch_add(1, Ordering::AcqRel);
        self.notify();
    }
}

/// One chunk of bytes on its way.
struct Chunk {
    bytes: Vec<u8>,
    due: Instant,
    /// The connection is reset right after this chunk is written.
    kill_after: bool,
}

/// One direction of one connection.
#[derive(Default)]
struct Lane {
    queue: VecDeque<Chunk>,
    queued: usize,
    /// The reader met end of stream (or was told to stop): the writer
    /// forwards what is queued, then half-closes its side.
    eof: bool,
    /// Bytes read this way so far.
    read: u64,
    /// Reset the connection once `read` reaches this.
    drop_at: Option<u64>,
    /// The latest due time given so far (chunks leave in order).
    last_due: Option<Instant>,
    /// Bandwidth cap: no write before this.
    next_write: Option<Instant>,
}

struct ConnState {
    dead: bool,
    lanes: [Lane; 2],
}

/// One relayed connection: the client's socket and the target's.
struct Conn {
    id: u64,
    client: TcpStream,
    server: TcpStream,
    state: Mutex<ConnState>,
    cv: Condvar,
    ended: AtomicBool,
}

impl Conn {
    fn lock(&self) -> MutexGuard<'_, ConnState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn poke(&self) {
        let _g = self.lock();
        self.cv.notify_all();
    }

    /// The socket bytes going `dir` are read from.
    fn src(&self, dir: Dir) -> &TcpStream {
        match dir {
            Dir::Up => &self.client,
            Dir::Down => &self.server,
        }
    }

    /// The socket bytes going `dir` are written to.
    fn dst(&self, dir: Dir) -> &TcpStream {
        match dir {
            Dir::Up => &self.server,
            Dir::Down => &self.client,
        }
    }

    /// Ends the connection at once: both sockets will close with a RST
    /// when the last of its threads lets go of it (within [`WRITE_POLL`]).
    fn kill(&self, shared: &Shared) {
        {
            let mut st = self.lock();
            if st.dead {
                return;
            }
            st.dead = true;
            for s in [&self.client, &self.server] {
                // SO_LINGER 0: the close that follows sends a RST, not a FIN.
                let _ = socket2::SockRef::from(s).set_linger(Some(Duration::ZERO));
                // Wakes a reader blocked in read(); on Linux a read-side
                // shutdown sends nothing to the peer.
                let _ = s.shutdown(Shutdown::Read);
            }
            self.cv.notify_all();
        }
        self.end(shared);
    }

    /// Counts the connection's end, once.
    fn end(&self, shared: &Shared) {
        if !self.ended.swap(true, Ordering::AcqRel) {
            shared.forget(self);
        }
    }
}

/// The control handle of a [`FaultProxy`]: cheap to clone, usable from any
/// thread while the proxy runs. Every change applies at once to every
/// connection, open or future.
#[derive(Clone)]
pub struct Faults {
    shared: Arc<Shared>,
}

impl fmt::Debug for Faults {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Faults")
            .field("settings", &*self.shared.settings())
            .field("stats", &self.stats())
            .finish()
    }
}

impl Faults {
    /// Every chunk is delivered `latency` plus a random part of `jitter`
    /// after it was read, and never before the chunk read before it.
    pub fn set_latency(&self, latency: Duration, jitter: Duration) {
        {
            let mut s = self.shared.settings();
            s.latency = latency;
            s.jitter = jitter;
        }
        self.shared.poke_all();
    }

    /// Caps each direction of each connection to `bytes_per_sec` (`None`:
    /// no cap).
    pub fn set_bandwidth(&self, bytes_per_sec: Option<u64>) {
        self.shared.settings().bandwidth = bytes_per_sec.map(|b| b.max(1));
        self.shared.poke_all();
    }

    /// Stops forwarding (and reading) both ways until [`Faults::resume`].
    /// Connections stay open: the peers see silence, not a close.
    pub fn stall(&self) {
        self.shared.settings().stall = Stall::Indefinite;
        self.shared.poke_all();
    }

    /// Stops forwarding both ways for `d`.
    pub fn stall_for(&self, d: Duration) {
        self.shared.settings().stall = Stall::Until(Instant::now() + d);
        self.shared.poke_all();
    }

    /// Ends a stall.
    pub fn resume(&self) {
        self.shared.settings().stall = Stall::No;
        self.shared.poke_all();
    }

    /// Whether forwarding is stalled now.
    pub fn is_stalled(&self) -> bool {
        self.shared.settings().stalled(Instant::now()).is_some()
    }

    /// Resets every open connection (both peers get a RST; what was in
    /// flight is lost). Returns how many were reset.
    pub fn reset_all(&self) -> usize {
        let conns: Vec<Arc<Conn>> = self.shared.conns().clone();
        let mut n = 0;
        for c in conns {
            if !c.lock().dead {
                self.shared.disrupt();
                c.kill(&self.shared);
                n += 1;
            }
        }
        n
    }

    /// Half-closes every open connection in direction `dir`: the peer on
    /// that side gets a FIN once what is queued that way is delivered,
    /// and nothing more goes that way. The other direction keeps flowing
    /// until a peer closes. Returns how many connections it touched.
    pub fn half_close(&self, dir: Dir) -> usize {
        let conns: Vec<Arc<Conn>> = self.shared.conns().clone();
        let mut n = 0;
        for c in conns {
            let mut st = c.lock();
            if st.dead || st.lanes[dir.index()].eof {
                continue;
            }
            self.shared.disrupt();
            st.lanes[dir.index()].eof = true;
            // The reader of that way stops: wake it out of read().
            let _ = c.src(dir).shutdown(Shutdown::Read);
            c.cv.notify_all();
            n += 1;
        }
        n
    }

    /// Arms a one-shot drop: the first connection to forward `bytes` more
    /// bytes in direction `dir` (counted from now for open connections, from
    /// their start for new ones) forwards exactly that many, then is reset.
    pub fn drop_after(&self, dir: Dir, bytes: u64) {
        let bytes = bytes.max(1);
        self.shared.settings().drop_after = Some((dir, bytes));
        for c in self.shared.conns().iter() {
            let mut st = c.lock();
            let lane = &mut st.lanes[dir.index()];
            lane.drop_at = Some(lane.read + bytes);
        }
    }

    /// Whether a drop armed by [`Faults::drop_after`] is still waiting.
    pub fn drop_pending(&self) -> bool {
        self.shared.settings().drop_after.is_some()
    }

    /// New connections go to `target` from now on (open ones keep theirs).
    pub fn set_target(&self, target: SocketAddr) {
        self.shared.settings().target = target;
    }

    /// Turns every fault off: no latency, no cap, no stall, no armed drop.
    pub fn clear(&self) {
        {
            let mut s = self.shared.settings();
            s.latency = Duration::ZERO;
            s.jitter = Duration::ZERO;
            s.bandwidth = None;
            s.stall = Stall::No;
            s.drop_after = None;
        }
        for c in self.shared.conns().iter() {
            let mut st = c.lock();
            for lane in &mut st.lanes {
                lane.drop_at = None;
            }
            c.cv.notify_all();
        }
    }

    /// The counters so far.
    pub fn stats(&self) -> Stats {
        let s = &self.shared;
        Stats {
            accepted: s.accepted.load(Ordering::Acquire),
            connect_failures: s.connect_failures.load(Ordering::Acquire),
            active: s.conns().len() as u64,
            bytes_up: s.bytes[0].load(Ordering::Acquire),
            bytes_down: s.bytes[1].load(Ordering::Acquire),
            disruptions: s.disruptions.load(Ordering::Acquire),
            ended: s.ended.load(Ordering::Acquire),
        }
    }

    /// Connections ended by a fault so far (see [`Stats::disruptions`]):
    /// cheap, for stamping messages.
    pub fn disruptions(&self) -> u64 {
        self.shared.disruptions.load(Ordering::Acquire)
    }

    /// When the last disruption was counted (see [`Stats::disruptions`]).
    pub fn last_disruption(&self) -> Option<Instant> {
        *self
            .shared
            .last_disruption
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// Waits up to `timeout` for `f` to hold of the stats; returns the
    /// stats that satisfied it, or `None` on timeout.
    pub fn wait_for(&self, timeout: Duration, f: impl Fn(&Stats) -> bool) -> Option<Stats> {
        let deadline = Instant::now() + timeout;
        let mut g = self
            .shared
            .changed_lock
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        loop {
            let stats = self.stats();
            if f(&stats) {
                return Some(stats);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            // Bytes are counted without notifying: look again now and then.
            g = self
                .shared
                .changed
                .wait_timeout(g, left.min(Duration::from_millis(20)))
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }
}

/// The relay: a listener on `127.0.0.1:0` forwarding each connection to a
/// target address, with the faults its [`Faults`] handle sets. Dropping it
/// resets every connection, closes the listener and joins its threads.
pub struct FaultProxy {
    faults: Faults,
    addr: SocketAddr,
    accept: Option<JoinHandle<()>>,
}

impl fmt::Debug for FaultProxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FaultProxy")
            .field("addr", &self.addr)
            .field("faults", &self.faults)
            .finish()
    }
}

/// The socket address of `tcp://host:port` (or `host:port`).
pub fn socket_addr(endpoint: &str) -> io::Result<SocketAddr> {
    let hostport = endpoint.strip_prefix("tcp://").unwrap_or(endpoint);
    hostport.to_socket_addrs()?.next().ok_or_else(|| {
        io::Error::new(
            ErrorKind::InvalidInput,
            format!("no address for {endpoint}"),
        )
    })
}

impl FaultProxy {
    /// Starts a proxy on `127.0.0.1:0` to `target` (`tcp://host:port` or
    /// `host:port`), with no fault in force.
    pub fn start(target: &str) -> io::Result<FaultProxy> {
        let target = socket_addr(target)?;
        let listener = TcpListener::bind("127.0.0.1:0")?;
        // Set before any client connects: accepted sockets inherit it.
        socket2::SockRef::from(&listener).set_recv_buffer_size(RECV_BUFFER)?;
        let addr = listener.local_addr()?;
        let seed = (addr.port() as u64) << 17 | 0x9e37_79b9;
        let shared = Arc::new(Shared {
            settings: Mutex::new(Settings {
                target,
                latency: Duration::ZERO,
                jitter: Duration::ZERO,
                bandwidth: None,
                stall: Stall::No,
                drop_after: None,
                rng: seed,
                stop: false,
            }),
            conns: Mutex::new(Vec::new()),
            threads: Mutex::new(Vec::new()),
            changed: Condvar::new(),
            changed_lock: Mutex::new(()),
            accepted: AtomicU64::new(0),
            connect_failures: AtomicU64::new(0),
            bytes: [AtomicU64::new(0), AtomicU64::new(0)],
            disruptions: AtomicU64::new(0),
            last_disruption: Mutex::new(None),
            ended: AtomicU64::new(0),
            next_id: AtomicU64::new(0),
        });
        let s2 = shared.clone();
        let accept = std::thread::Builder::new()
            .name(format!("fp{}", addr.port()))
            .spawn(move || accept_loop(&s2, listener))?;
        Ok(FaultProxy {
            faults: Faults { shared },
            addr,
            accept: Some(accept),
        })
    }

    /// Where to connect: `tcp://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("tcp://{}", self.addr)
    }

    /// The listener's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The control handle.
    pub fn faults(&self) -> &Faults {
        &self.faults
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        let shared = &self.faults.shared;
        shared.settings().stop = true;
        // Wake the accept loop with a connection of our own.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
        let conns: Vec<Arc<Conn>> = shared.conns().clone();
        for c in conns {
            c.kill(shared);
        }
        let threads: Vec<JoinHandle<()>> =
            std::mem::take(&mut *shared.threads.lock().unwrap_or_else(|p| p.into_inner()));
        let deadline = Instant::now() + JOIN_TIMEOUT;
        for t in threads {
            // Every thread ends within WRITE_POLL of its connection's death;
            // one that does not is left to finish on its own.
            while !t.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(1));
            }
            if t.is_finished() {
                let _ = t.join();
            }
        }
    }
}

fn accept_loop(shared: &Arc<Shared>, listener: TcpListener) {
    let port = listener.local_addr().map_or(0, |a| a.port());
    for client in listener.incoming() {
        if shared.settings().stop {
            return;
        }
        let Ok(client) = client else { continue };
        let target = shared.settings().target;
        match TcpStream::connect_timeout(&target, CONNECT_TIMEOUT) {
            Ok(server) => start_conn(shared, port, client, server),
            Err(_) => {
                // A dead host: the client's connection is refused with a RST.
                // Counted first, so a client that saw the RST sees the count.
                shared.connect_failures.fetch_add(1, Ordering::AcqRel);
                let _ = socket2::SockRef::from(&client).set_linger(Some(Duration::ZERO));
                drop(client);
                shared.notify();
            }
        }
        // Forget the threads of connections that ended.
        shared
            .threads
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|t| !t.is_finished());
    }
}

fn start_conn(shared: &Arc<Shared>, port: u16, client: TcpStream, server: TcpStream) {
    let _ = socket2::SockRef::from(&server).set_recv_buffer_size(RECV_BUFFER);
    for s in [&client, &server] {
        let _ = s.set_nodelay(true);
        let _ = s.set_write_timeout(Some(WRITE_POLL));
    }
    let (drop_after, stop) = {
        let s = shared.settings();
        (s.drop_after, s.stop)
    };
    let mut lanes: [Lane; 2] = Default::default();
    if let Some((dir, n)) = drop_after {
        lanes[dir.index()].drop_at = Some(n);
    }
    let conn = Arc::new(Conn {
        id: shared.next_id.fetch_add(1, Ordering::AcqRel),
        client,
        server,
        state: Mutex::new(ConnState { dead: stop, lanes }),
        cv: Condvar::new(),
        ended: AtomicBool::new(false),
    });
    shared.conns().push(conn.clone());
    let mut handles = Vec::new();
    for dir in [Dir::Up, Dir::Down] {
        for writer in [false, true] {
            let (s, c) = (shared.clone(), conn.clone());
            // Short (Linux keeps 15 bytes): fp<port>c<id><u|d><r|w>.
            let name = format!(
                "fp{}c{}{}{}",
                port,
                conn.id,
                if dir == Dir::Up { 'u' } else { 'd' },
                if writer { 'w' } else { 'r' }
            );
            let spawned = std::thread::Builder::new().name(name).spawn(move || {
                if writer {
                    write_loop(&s, &c, dir)
                } else {
                    read_loop(&s, &c, dir)
                }
            });
            match spawned {
                Ok(h) => handles.push(h),
                Err(_) => conn.kill(shared),
            }
        }
    }
    shared
        .threads
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .extend(handles);
    shared.accepted.fetch_add(1, Ordering::AcqRel);
    shared.notify();
}

/// Reads one direction into its lane, as the faults allow.
fn read_loop(shared: &Shared, conn: &Conn, dir: Dir) {
    let mut buf = vec![0u8; READ_CHUNK];
    let i = dir.index();
    loop {
        // Wait until reading is allowed: not stalled, room in the queue.
        {
            let mut st = conn.lock();
            loop {
                if st.dead || st.lanes[i].eof {
                    return;
                }
                let stalled = shared.settings().stalled(Instant::now());
                if let Some(until) = stalled {
                    let wait = until
                        .map(|t| t.saturating_duration_since(Instant::now()))
                        .unwrap_or(Duration::from_secs(1));
                    st = conn
                        .cv
                        .wait_timeout(st, wait.max(Duration::from_millis(1)))
                        .unwrap_or_else(|p| p.into_inner())
                        .0;
                } else if st.lanes[i].queued >= QUEUE_CAP {
                    st = conn.cv.wait(st).unwrap_or_else(|p| p.into_inner());
                } else {
                    break;
                }
            }
        }
        let read = conn.src(dir).read(&mut buf);
        let now = Instant::now();
        let mut st = conn.lock();
        if st.dead || st.lanes[i].eof {
            // Killed, or half-closed by the test meanwhile: this way is over.
            return;
        }
        let n = match read {
            Ok(0) => {
                // End of stream from this side: forward what is queued,
                // then pass the half-close on.
                st.lanes[i].eof = true;
                conn.cv.notify_all();
                return;
            }
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(_) => {
                drop(st);
                conn.kill(shared);
                return;
            }
        };
        let delay = {
            let mut s = shared.settings();
            s.latency + s.jitter()
        };
        let lane = &mut st.lanes[i];
        let mut n = n;
        let mut kill_after = false;
        if let Some(at) = lane.drop_at {
            if lane.read + n as u64 >= at {
                lane.drop_at = None;
                // The one-shot drop goes to the first connection that
                // reaches it (taken under the settings' lock): it forwards
                // exactly up to that byte.
                let mut s = shared.settings();
                if s.drop_after.is_some_and(|(d, _)| d == dir) {
                    s.drop_after = None;
                    kill_after = true;
                    n = (at - lane.read) as usize;
                }
            }
        }
        lane.read += n as u64;
        let mut due = now + delay;
        if let Some(last) = lane.last_due {
            due = due.max(last);
        }
        lane.last_due = Some(due);
        lane.queued += n;
        lane.queue.push_back(Chunk {
            bytes: buf[..n].to_vec(),
            due,
            kill_after,
        });
        conn.cv.notify_all();
        if kill_after {
            // Nothing more is read this way: the writer resets the
            // connection right after this chunk.
            drop(st);
            for c in shared.conns().iter() {
                if c.id != conn.id {
                    c.lock().lanes[i].drop_at = None;
                }
            }
            wait_dead(conn);
            return;
        }
    }
}

/// Waits until the connection is dead (its writer kills it).
fn wait_dead(conn: &Conn) {
    let mut st = conn.lock();
    while !st.dead {
        st = conn.cv.wait(st).unwrap_or_else(|p| p.into_inner());
    }
}

/// What a writer does next.
enum Next {
    /// Write these bytes; reset the connection after them if `kill_after`.
    Write { bytes: Vec<u8>, kill_after: bool },
    /// The source ended: pass the FIN on.
    Fin,
}

/// Writes one direction's lane out, as the faults allow.
fn write_loop(shared: &Shared, conn: &Conn, dir: Dir) {
    let i = dir.index();
    loop {
        let next = {
            let mut st = conn.lock();
            loop {
                if st.dead {
                    return;
                }
                let now = Instant::now();
                let (stalled, bandwidth) = {
                    let mut s = shared.settings();
                    (s.stalled(now), s.bandwidth)
                };
                let lane = &mut st.lanes[i];
                if bandwidth.is_none() {
                    lane.next_write = None;
                }
                let Some(front) = lane.queue.front_mut() else {
                    if lane.eof {
                        break Next::Fin;
                    }
                    st = conn.cv.wait(st).unwrap_or_else(|p| p.into_inner());
                    continue;
                };
                let mut ready_at = front.due;
                if let Some(t) = lane.next_write {
                    ready_at = ready_at.max(t);
                }
                let wait = match stalled {
                    Some(Some(until)) => Some(until.saturating_duration_since(now)),
                    Some(None) => Some(Duration::from_secs(1)),
                    None if ready_at > now => Some(ready_at - now),
                    None => None,
                };
                if let Some(w) = wait {
                    st = conn
                        .cv
                        .wait_timeout(st, w.max(Duration::from_micros(100)))
                        .unwrap_or_else(|p| p.into_inner())
                        .0;
                    continue;
                }
                // Under a cap, a piece of 1/50 s worth at a time, each
                // paid for before the next.
                let piece = bandwidth.map_or(usize::MAX, |bw| (bw / 50).max(1) as usize);
                let next = if front.bytes.len() > piece {
                    let rest = front.bytes.split_off(piece);
                    let bytes = std::mem::replace(&mut front.bytes, rest);
                    Next::Write {
                        bytes,
                        kill_after: false,
                    }
                } else {
                    let chunk = lane.queue.pop_front().expect("a front chunk");
                    Next::Write {
                        bytes: chunk.bytes,
                        kill_after: chunk.kill_after,
                    }
                };
                if let Next::Write { bytes, .. } = &next {
                    lane.queued -= bytes.len();
                    if let Some(bw) = bandwidth {
                        let start = lane.next_write.map_or(now, |t| t.max(now));
                        let cost = Duration::from_secs_f64(bytes.len() as f64 / bw as f64);
                        lane.next_write = Some(start + cost);
                    }
                }
                // Room in the queue: the reader may go on.
                conn.cv.notify_all();
                break next;
            }
        };
        match next {
            Next::Fin => {
                let _ = conn.dst(dir).shutdown(Shutdown::Write);
                let both = {
                    let st = conn.lock();
                    st.lanes.iter().all(|l| l.eof && l.queue.is_empty())
                };
                if both {
                    conn.end(shared);
                }
                return;
            }
            Next::Write { bytes, kill_after } => {
                if !write_all(conn, conn.dst(dir), &bytes) {
                    conn.kill(shared);
                    return;
                }
                shared.bytes[i].fetch_add(bytes.len() as u64, Ordering::AcqRel);
                if kill_after {
                    shared.disrupt();
                    conn.kill(shared);
                    return;
                }
            }
        }
    }
}

/// Writes all of `bytes`, looking every [`WRITE_POLL`] at whether the
/// connection was killed. False on an error or a kill.
fn write_all(conn: &Conn, mut dst: &TcpStream, mut bytes: &[u8]) -> bool {
    while !bytes.is_empty() {
        match dst.write(bytes) {
            Ok(0) => return false,
            Ok(n) => bytes = &bytes[n..],
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                ) =>
            {
                if conn.lock().dead {
                    return false;
                }
            }
            Err(_) => return false,
        }
    }
    true
}
