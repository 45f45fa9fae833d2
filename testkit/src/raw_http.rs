//! Raw TCP clients for tests of the HTTP server's own limits (hub.md §13.1): half headers, slow
//! bodies and connection caps, which an HTTP client library would never send.

use std::time::Duration;

use tokio::io::AsyncReadExt as _;
use tokio::net::TcpStream;

use crate::TestServer;

/// How long [`read_until_closed`] waits for the server to close the connection.
pub const CLOSE_DEADLINE: Duration = Duration::from_secs(5);

/// A raw TCP connection to `server`'s HTTP listener.
///
/// # Panics
/// When the listener does not accept the TCP handshake.
pub async fn connect<S>(server: &TestServer<S>) -> TcpStream {
    TcpStream::connect(server.base_url.trim_start_matches("http://"))
        .await
        .expect("the HTTP listener accepts TCP")
}

/// Reads until the server closes the connection: what it sent, or `None` when it is still open
/// after [`CLOSE_DEADLINE`].
pub async fn read_until_closed(stream: &mut TcpStream) -> Option<String> {
    let mut received = Vec::new();
    match tokio::time::timeout(CLOSE_DEADLINE, stream.read_to_end(&mut received)).await {
        Ok(_) => Some(String::from_utf8_lossy(&received).into_owned()),
        Err(_) => None,
    }
}
