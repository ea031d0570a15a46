//! Opening a transport with the soak's protocol on each driver: the one
//! thing [`Driver`] cannot do, since its protocol is the recording one.

use std::io;

use aiozmq_core::{OptValue, SockOpt, SocketType};

use super::SoakProto;
use crate::blocking_driver::Blocking;
use crate::smol_driver::Smol;
use crate::tokio_driver::Tokio;
use crate::Driver;

/// How to open one of a path's transports.
#[derive(Debug, Clone)]
pub struct Open {
    /// Socket type.
    pub kind: SocketType,
    /// Options set before binding or connecting.
    pub options: Vec<(SockOpt, OptValue)>,
    /// `.bind`.
    pub bind: Option<String>,
    /// `.connect`.
    pub connect: Option<String>,
}

impl Open {
    /// A transport of this type, no option, no endpoint yet.
    pub fn new(kind: SocketType) -> Open {
        Open {
            kind,
            options: Vec::new(),
            bind: None,
            connect: None,
        }
    }

    /// Sets an option before binding or connecting.
    pub fn option(mut self, opt: SockOpt, value: i32) -> Open {
        self.options.push((opt, OptValue::Int(value)));
        self
    }
}

/// A [`Driver`] that can open a transport with the soak's protocol.
pub trait SoakDriver: Driver {
    /// `create_zmq_connection(|| proto, kind)...open()`.
    fn open_soak(&self, how: Open, proto: SoakProto<Self::T>) -> io::Result<Self::T>;
}

macro_rules! builder {
    ($drv:ident, $how:ident, $proto:ident) => {{
        let mut b = $drv::create_zmq_connection(move || $proto, $how.kind);
        for (opt, value) in $how.options {
            b = b.setsockopt(opt, value);
        }
        if let Some(ep) = $how.bind {
            b = b.bind(ep);
        }
        if let Some(ep) = $how.connect {
            b = b.connect(ep);
        }
        b
    }};
}

impl SoakDriver for Tokio {
    fn open_soak(&self, how: Open, proto: SoakProto<Self::T>) -> io::Result<Self::T> {
        use aiozmq_tokio as drv;
        let b = builder!(drv, how, proto);
        self.block(b.open()).map(|(t, _)| t)
    }
}

impl SoakDriver for Smol {
    fn open_soak(&self, how: Open, proto: SoakProto<Self::T>) -> io::Result<Self::T> {
        use aiozmq_smol as drv;
        let b = builder!(drv, how, proto);
        smol::block_on(b.open()).map(|(t, _)| t)
    }
}

impl SoakDriver for Blocking {
    fn open_soak(&self, how: Open, proto: SoakProto<Self::T>) -> io::Result<Self::T> {
        use aiozmq_blocking as drv;
        let b = builder!(drv, how, proto);
        b.open().map(|(t, _)| t)
    }
}
