//! Opening a transport: socket, binds and connects, before any callback.

use std::io;
use std::sync::Arc;

use aiozmq_core::{error, OptValue, SockOpt, SocketType, TransportState};

use crate::context::Ctx;
use crate::shared::{Shared, Wakeup};
use crate::sock;

/// What a builder collected: `.bind`, `.connect`, `.zmq_sock`, `.context`.
pub struct Setup {
    /// The socket type asked for.
    pub zmq_type: SocketType,
    /// Endpoints to bind, in order.
    pub binds: Vec<String>,
    /// Endpoints to connect, in order.
    pub connects: Vec<String>,
    /// A pre-made socket to use instead of a new one.
    pub sock: Option<zmq::Socket>,
    /// The context for a new socket (default: the process-wide one, see
    /// [`default_socket`](crate::default_socket)).
    pub context: Option<zmq::Context>,
    /// Options set before any bind or connect (libzmq applies most options
    /// only to connections made after them).
    pub options: Vec<(SockOpt, OptValue)>,
}

impl std::fmt::Debug for Setup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Setup")
            .field("zmq_type", &self.zmq_type)
            .field("binds", &self.binds)
            .field("connects", &self.connects)
            .field("premade_socket", &self.sock.is_some())
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl Setup {
    /// Nothing collected yet.
    pub fn new(zmq_type: SocketType) -> Setup {
        Setup {
            zmq_type,
            binds: Vec::new(),
            connects: Vec::new(),
            sock: None,
            context: None,
            options: Vec::new(),
        }
    }

    /// Makes the socket, sets the options and runs the binds and connects,
    /// recording them in `state`. On an error the socket is closed (zero
    /// linger) and the error returned; nothing else ran.
    pub fn open(
        self,
        mut state: TransportState,
        wakeup: Box<dyn Wakeup>,
    ) -> io::Result<Arc<Shared>> {
        let premade = self.sock.is_some();
        let custom = premade || self.context.is_some();
        let context = self.context.map_or(Ctx::Default, Ctx::User);
        let mut socket = match self.sock {
            Some(s) => s,
            None => context.socket(self.zmq_type)?,
        };
        let result = (|| {
            let actual = sock::socket_type(&mut socket)?;
            if actual != self.zmq_type {
                return Err(error::invalid_input(format!(
                    "the pre-made socket is {actual}, not {}",
                    self.zmq_type
                )));
            }
            for (opt, value) in self.options {
                let value = state.endpoints().check_setsockopt(opt, value)?;
                sock::setsockopt(&mut socket, opt, &value)?;
                state.endpoints().handle_setsockopt(opt, &value);
            }
            for endpoint in &self.binds {
                state.endpoints().check_bind(endpoint)?;
                let real = sock::bind(&mut socket, endpoint)?;
                state.endpoints().handle_bound(real);
            }
            for endpoint in &self.connects {
                state.endpoints().check_endpoint(endpoint)?;
                sock::connect(&socket, endpoint)?;
                state.endpoints().handle_connected(endpoint.clone());
            }
            sock::fd(&socket)
        })();
        match result {
            Ok(fd) => Ok(Arc::new(Shared::new(
                state, socket, fd, context, custom, premade, wakeup,
            ))),
            Err(e) => {
                let _ = socket.set_linger(0);
                Err(e)
            }
        }
    }
}
