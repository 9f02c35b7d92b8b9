//! Local ports for tests: one that nothing listens on, to see how a client takes a refused
//! connection.

/// A port on 127.0.0.1 that nothing listens on: bound, learned and closed again. Another
/// process could take it in between; on a test machine that is rare enough to accept.
pub fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free local port")
        .port()
}
