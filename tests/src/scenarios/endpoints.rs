//! Endpoints: what bind, connect and their undoing record, and bad addresses.

use aiozmq_core::ZmqTransport;
use aiozmq_core::{zmq_errno, SocketType};

use super::support::port_of;
use crate::{raw, Driver, Spec, ANY_TCP};

/// Libzmq resolves tcp addresses in unbind/disconnect, so another
/// spelling of the same address (`localhost` for `127.0.0.1`) succeeds;
/// `bindings()`/`connections()` must then no longer list the endpoint.
/// A spelling libzmq refuses leaves the sets as they were.
pub fn unbind_and_disconnect_by_another_spelling_update_sets<D: Driver>(d: &D) {
    // What libzmq itself does.
    let ctx = zmq::Context::new();
    let s = raw(&ctx, zmq::PULL);
    s.bind(ANY_TCP).unwrap();
    let p = port_of(&s.get_last_endpoint().unwrap().unwrap());
    s.unbind(&format!("tcp://localhost:{p}"))
        .expect("libzmq unbinds tcp://localhost:P bound as tcp://127.0.0.1:P");
    let c = raw(&ctx, zmq::PUSH);
    c.connect(&format!("tcp://127.0.0.1:{p}")).unwrap();
    c.disconnect(&format!("tcp://localhost:{p}"))
        .expect("libzmq disconnects tcp://localhost:P connected as tcp://127.0.0.1:P");
    drop((s, c));

    let (server, _) = d.open(Spec::new(SocketType::Pull)).unwrap();
    let kept = server.bind(ANY_TCP).unwrap();
    let real = server.bind(ANY_TCP).unwrap();
    let p = port_of(&real);
    server.unbind(&format!("tcp://localhost:{p}")).unwrap();
    assert_eq!(
        server.bindings().into_iter().collect::<Vec<_>>(),
        vec![kept.clone()],
        "{}: {real} was unbound as tcp://localhost:{p}",
        d.name()
    );
    crate::leaks::wait_ports_free(&[p], d.name());
    // A spelling libzmq refuses (another address): nothing changes.
    let e = server
        .unbind(&format!("tcp://127.0.0.2:{}", port_of(&kept)))
        .unwrap_err();
    assert_eq!(zmq_errno(&e), Some(libc::ENOENT), "{e}");
    assert_eq!(server.bindings().len(), 1);

    let (client, _) = d.open(Spec::new(SocketType::Push)).unwrap();
    let a = client.connect(&format!("tcp://127.0.0.1:{p}")).unwrap();
    let b = client.connect(&kept).unwrap();
    client.disconnect(&format!("tcp://localhost:{p}")).unwrap();
    assert_eq!(
        client.connections().into_iter().collect::<Vec<_>>(),
        vec![b.clone()],
        "{}: {a} was disconnected as tcp://localhost:{p}",
        d.name()
    );
    let e = client
        .disconnect(&format!("tcp://127.0.0.2:{}", port_of(&kept)))
        .unwrap_err();
    assert_eq!(zmq_errno(&e), Some(libc::ENOENT), "{e}");
    assert_eq!(client.connections().len(), 1);
    client.close();
    server.close();
}
