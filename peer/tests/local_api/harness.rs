//! A started peer and a raw HTTP/1.1 client for it.

use std::net::SocketAddr;
use std::time::Duration;

use peer::{Peer, PeerConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A started peer with its data directory.
pub(crate) struct Api {
    pub(crate) peer: Peer,
    pub(crate) addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Api {
    pub(crate) async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let peer = Peer::start(PeerConfig::for_tests(dir.path()))
            .await
            .unwrap();
        let addr = peer.http_addr().unwrap();
        Self {
            peer,
            addr,
            _dir: dir,
        }
    }

    /// The `Host` value the listener accepts.
    pub(crate) fn host(&self) -> String {
        format!("127.0.0.1:{}", self.addr.port())
    }

    /// Sends `head` (request line and headers, without the blank line) and `body`; returns the
    /// status and the body of the answer.
    pub(crate) async fn raw(&self, head: &str, body: &[u8]) -> (u16, String) {
        let mut stream = TcpStream::connect(self.addr).await.unwrap();
        let request = format!(
            "{head}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        // The server may answer before reading a refused body; a reset write is fine then.
        let _ = stream.write_all(body).await;
        let mut answer = Vec::new();
        tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer))
            .await
            .expect("the server answers within 10 s")
            .unwrap_or_default();
        let text = String::from_utf8_lossy(&answer).into_owned();
        let status = text
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no status line in {text:?}"));
        let body = text
            .split_once("\r\n\r\n")
            .map_or("", |(_, b)| b)
            .to_owned();
        (status, body)
    }

    /// `GET path` with the right Host.
    pub(crate) async fn get(&self, path: &str) -> (u16, String) {
        self.raw(
            &format!("GET {path} HTTP/1.1\r\nHost: {}", self.host()),
            b"",
        )
        .await
    }

    /// `POST path` with a JSON body and the right Host.
    pub(crate) async fn post_json(&self, path: &str, body: &serde_json::Value) -> (u16, String) {
        self.raw(
            &format!(
                "POST {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json",
                self.host()
            ),
            body.to_string().as_bytes(),
        )
        .await
    }

    pub(crate) async fn stop(self) {
        self.peer.shutdown().await;
    }
}

/// The `error.code` of an error body.
pub(crate) fn error_code(body: &str) -> String {
    let value: serde_json::Value = serde_json::from_str(body).unwrap_or_else(|_| panic!("{body}"));
    value["error"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}
