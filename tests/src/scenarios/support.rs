//! Helpers the scenarios share.

/// `tcp://127.0.0.1:P` where nobody listens: a port the OS just gave out
/// and took back (connections to it are refused, so libzmq keeps retrying).
pub fn absent_tcp_endpoint() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let port = listener.local_addr().expect("its address").port();
    drop(listener);
    format!("tcp://127.0.0.1:{port}")
}

/// The port of a `tcp://host:port` endpoint.
pub fn port_of(endpoint: &str) -> u16 {
    endpoint
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in {endpoint}"))
}

/// Whether `text` holds `n` as a whole number (not as a digit of another).
pub fn mentions_number(text: &str, n: usize) -> bool {
    text.split(|c: char| !c.is_ascii_digit())
        .any(|word| word == n.to_string())
}
