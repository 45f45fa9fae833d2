//! `healthcheck`: one `GET /readyz` to the server's own HTTP listener (hub.md §16, superhub.md
//! §13), for container health checks in images without curl. Plain HTTP/1.1 over a TCP socket,
//! bounded in time and in what it reads.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::config::LoadConfigError;

/// The whole check (connect, request, status line) must finish within this.
const TIMEOUT: Duration = Duration::from_secs(5);
/// The most of the answer read: the status line comes first.
const MAX_READ: usize = 1024;

/// Why the server is not ready, or could not be asked.
#[derive(Debug, thiserror::Error)]
pub enum HealthcheckError {
    /// The configuration could not be loaded.
    #[error(transparent)]
    Config(#[from] LoadConfigError),
    /// Nothing answered at the address, or the connection broke.
    #[error("GET http://{addr}/readyz")]
    Io {
        /// Where the request went.
        addr: SocketAddr,
        /// What failed.
        #[source]
        source: std::io::Error,
    },
    /// No answer within the time limit.
    #[error("GET http://{addr}/readyz: no answer within {}s", TIMEOUT.as_secs())]
    Timeout {
        /// Where the request went.
        addr: SocketAddr,
    },
    /// The server answered, but not `200`.
    #[error("GET http://{addr}/readyz: not ready: {status}")]
    NotReady {
        /// Where the request went.
        addr: SocketAddr,
        /// The status line, or what came instead.
        status: String,
    },
}

/// Where a server bound to `bind` is reached from its own host: an unspecified address (`0.0.0.0`,
/// `::`) becomes loopback of the same family.
pub fn local_addr(bind: SocketAddr) -> SocketAddr {
    let ip = match bind.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, bind.port())
}

/// Sends `GET /readyz` to `addr`; `Ok` on a `200` answer.
///
/// # Errors
/// [`HealthcheckError`] when nothing answers in time or the status is not 200.
pub async fn check_ready(addr: SocketAddr) -> Result<(), HealthcheckError> {
    let status = tokio::time::timeout(TIMEOUT, status_line(addr))
        .await
        .map_err(|_| HealthcheckError::Timeout { addr })?
        .map_err(|source| HealthcheckError::Io { addr, source })?;
    let code = status.split_whitespace().nth(1);
    if status.starts_with("HTTP/1.") && code == Some("200") {
        Ok(())
    } else {
        Err(HealthcheckError::NotReady { addr, status })
    }
}

/// The first line of the answer to `GET /readyz`.
async fn status_line(addr: SocketAddr) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(addr).await?;
    let request = format!("GET /readyz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut answer = Vec::with_capacity(MAX_READ);
    let mut limited = stream.take(MAX_READ as u64);
    loop {
        let before = answer.len();
        if limited.read_buf(&mut answer).await? == 0 || answer[before..].contains(&b'\n') {
            break;
        }
    }
    let text = String::from_utf8_lossy(&answer);
    Ok(text.lines().next().unwrap_or("").trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unspecified_bind_is_reached_on_loopback_of_its_family() {
        let v4: SocketAddr = "0.0.0.0:8787".parse().unwrap();
        let v6: SocketAddr = "[::]:8788".parse().unwrap();
        let given: SocketAddr = "10.1.2.3:80".parse().unwrap();

        assert_eq!(local_addr(v4), "127.0.0.1:8787".parse().unwrap());
        assert_eq!(local_addr(v6), "[::1]:8788".parse().unwrap());
        assert_eq!(local_addr(given), given);
    }

    async fn answering(answer: &'static [u8]) -> SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = [0u8; 256];
            let _ = socket.read(&mut request).await;
            let _ = socket.write_all(answer).await;
        });
        addr
    }

    #[tokio::test]
    async fn ok_answer_passes_and_others_fail_naming_status() {
        let ok = answering(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").await;
        let down = answering(b"HTTP/1.1 503 Service Unavailable\r\n\r\n").await;
        let garbage = answering(&[0xff; 2000]).await;

        assert!(check_ready(ok).await.is_ok());
        let error = check_ready(down).await.unwrap_err().to_string();
        assert!(error.contains("503"), "{error}");
        assert!(matches!(
            check_ready(garbage).await,
            Err(HealthcheckError::NotReady { .. })
        ));
    }

    #[tokio::test]
    async fn nothing_listening_fails() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);

        assert!(matches!(
            check_ready(addr).await,
            Err(HealthcheckError::Io { .. })
        ));
    }
}
