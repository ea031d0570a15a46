//! The scale cases for raw libzmq: one thread serves every ROUTER and one
//! drives every DEALER, each with `zmq_poll` over all its sockets. For the
//! 1,000-pair case the pairs are spread over contexts of 500 (as for the other
//! libzmq rows); for 10,000 inproc sockets and 3,000 tcp pairs one context
//! whose ZMQ_MAX_SOCKETS is raised (through `zmq_sys`) holds them all.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Instant;

use super::{STALL, WINDOW};
use crate::adapters::raw::{apply, last_endpoint, zmq_kind, RaisedContext, POLL};
use crate::adapters::{Ep, Kind, Opts};
use crate::catalog::Scale;
use crate::measure::{
    check_count, fd_usage, peak_rss_mib, raise_fd_limit, rss_mib, Clock, Ctx, Outcome,
};

/// Where the sockets come from.
enum Contexts {
    Spread(Vec<zmq::Context>, usize),
    Raised(RaisedContext),
}

impl Contexts {
    fn socket(&self, kind: Kind, pair: usize) -> Result<zmq::Socket, String> {
        let s = match self {
            Contexts::Spread(c, per) => c[pair / per].socket(zmq_kind(kind)).ctx("socket")?,
            Contexts::Raised(c) => c.socket(kind)?,
        };
        apply(&s, kind, Opts::default())?;
        Ok(s)
    }
}

/// Runs a scale case: `m` echoes per pair.
pub fn run(s: Scale, m: u64) -> Result<Outcome, String> {
    raise_fd_limit();
    let base = rss_mib();
    let pairs = s.pairs();
    let ctxs = match s.per_context() {
        Some(per) => Contexts::Spread(
            (0..pairs.div_ceil(per))
                .map(|_| zmq::Context::new())
                .collect(),
            per,
        ),
        None => Contexts::Raised(RaisedContext::new(2 * pairs as i32 + 64)?),
    };
    let mut routers = Vec::with_capacity(pairs);
    let mut dealers = Vec::with_capacity(pairs);
    let setup = Instant::now();
    for i in 0..pairs {
        super::check_setup(setup, i, pairs)?;
        let at = |e: String| format!("pair {} of {pairs}: {e}{}", i + 1, fd_usage());
        let r = ctxs.socket(Kind::Router, i).map_err(at)?;
        r.bind(&Ep::fresh(s.tr()).zmq()).ctx("bind").map_err(at)?;
        let ep = last_endpoint(&r).map_err(at)?;
        let d = ctxs.socket(Kind::Dealer, i).map_err(at)?;
        d.connect(&ep).ctx("connect").map_err(at)?;
        routers.push(r);
        dealers.push(d);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = stop.clone();
    let server = thread::spawn(move || -> Result<(), String> {
        let mut items: Vec<zmq::PollItem> = routers
            .iter()
            .map(|r| r.as_poll_item(zmq::POLLIN))
            .collect();
        while !stop2.load(Ordering::Acquire) {
            zmq::poll(&mut items, POLL.as_millis() as i64).ctx("poll")?;
            for (i, item) in items.iter().enumerate() {
                if !item.is_readable() {
                    continue;
                }
                let r = &routers[i];
                loop {
                    let id = match r.recv_msg(zmq::DONTWAIT) {
                        Ok(id) => id,
                        Err(zmq::Error::EAGAIN) => break,
                        Err(e) => return Err(format!("ROUTER recv: {e}")),
                    };
                    let body = r.recv_msg(0).ctx("ROUTER recv")?;
                    r.send(id, zmq::SNDMORE).ctx("ROUTER send")?;
                    r.send(body, 0).ctx("ROUTER send")?;
                }
            }
        }
        Ok(())
    });
    let result = drive(&dealers, m, &stop);
    stop.store(true, Ordering::Release);
    let served = server
        .join()
        .map_err(|_| "the ROUTER thread panicked".to_string())?;
    let (total, bad, clock, end) = result?;
    served?;
    let (secs, cpu) = clock.stop(end);
    check_count("scale", total, m * pairs as u64, bad)?;
    let mut o = Outcome::new(total, secs, cpu);
    o.growth = peak_rss_mib() - base;
    o.note = format!("{pairs} pairs, {total} echoes in {secs:.2} s");
    if s.per_context().is_none() {
        o.note.push_str("; one context, ZMQ_MAX_SOCKETS raised");
    }
    Ok(o)
}

/// This thread drives every DEALER: warm-up, then the window, until `m`
/// echoes per pair. Returns (echoes, malformed, clock, end).
fn drive(
    dealers: &[zmq::Socket],
    m: u64,
    stop: &AtomicBool,
) -> Result<(u64, u64, Clock, Instant), String> {
    let pairs = dealers.len();
    let mut items: Vec<zmq::PollItem> = dealers
        .iter()
        .map(|d| d.as_poll_item(zmq::POLLIN))
        .collect();
    let data = [b'x'; 16];
    let mut sent = vec![0u64; pairs];
    let mut received = vec![0u64; pairs];
    let (mut warm, mut done, mut total, mut bad) = (0, 0, 0u64, 0u64);
    let mut clock: Option<Clock> = None;
    let mut end = None;
    for d in dealers {
        d.send(&b"w"[..], 0).ctx("DEALER send")?;
    }
    let mut progress = Instant::now();
    while done < pairs {
        if warm == pairs && clock.is_none() {
            clock = Some(Clock::start());
            for (i, d) in dealers.iter().enumerate() {
                for _ in 0..WINDOW.min(m) {
                    d.send(&data[..], 0).ctx("DEALER send")?;
                }
                sent[i] = WINDOW.min(m);
            }
        }
        if zmq::poll(&mut items, POLL.as_millis() as i64).ctx("poll")? == 0 {
            if progress.elapsed() > STALL || stop.load(Ordering::Acquire) {
                return Err(format!(
                    "stalled: {warm} pairs warm, {total} of {} echoes{}",
                    m * pairs as u64,
                    fd_usage()
                ));
            }
            continue;
        }
        progress = Instant::now();
        for (i, item) in items.iter().enumerate() {
            if !item.is_readable() {
                continue;
            }
            let d = &dealers[i];
            loop {
                let body = match d.recv_msg(zmq::DONTWAIT) {
                    Ok(b) => b,
                    Err(zmq::Error::EAGAIN) => break,
                    Err(e) => return Err(format!("DEALER recv: {e}")),
                };
                if body.len() == 1 {
                    warm += 1;
                    continue;
                }
                if body.len() != 16 {
                    bad += 1;
                }
                received[i] += 1;
                total += 1;
                if sent[i] < m {
                    d.send(&data[..], 0).ctx("DEALER send")?;
                    sent[i] += 1;
                }
                if received[i] == m {
                    done += 1;
                    if done == pairs {
                        end = Some(Instant::now());
                    }
                }
            }
        }
    }
    let clock = clock.ok_or("never started")?;
    Ok((total, bad, clock, end.unwrap_or_else(Instant::now)))
}
