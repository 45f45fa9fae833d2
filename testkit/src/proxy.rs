//! [`TcpProxy`]: a TCP relay on loopback that a test can cut and restore, to make one server's
//! database (or any upstream) unreachable for that test alone while the shared cluster keeps
//! running.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// A loopback TCP proxy to one upstream. While cut it closes every relayed connection and
/// refuses new ones (accepts and drops them at once); restored, it relays again. While stalled
/// it keeps every connection open but reads nothing, so the senders' socket buffers fill up as
/// with a client that stopped reading. Dropping it stops it.
#[derive(Debug)]
pub struct TcpProxy {
    addr: SocketAddr,
    /// `true` while cut; every relay ends at the next change.
    cut: watch::Sender<bool>,
    /// `true` while stalled.
    stalled: watch::Sender<bool>,
    accept: JoinHandle<()>,
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
    }
}

impl TcpProxy {
    /// Listens on `127.0.0.1:0` and relays to `upstream`.
    ///
    /// # Panics
    /// When no loopback port can be bound.
    pub async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the proxy on loopback");
        let addr = listener.local_addr().expect("the proxy's address");
        let (cut, _) = watch::channel(false);
        let (stalled, _) = watch::channel(false);
        let accept = tokio::spawn({
            let (cut, stalled) = (cut.clone(), stalled.clone());
            async move {
                while let Ok((client, _)) = listener.accept().await {
                    let mut changes = cut.subscribe();
                    if !*changes.borrow_and_update() {
                        tokio::spawn(relay(client, upstream, changes, stalled.subscribe()));
                    }
                }
            }
        });
        Self {
            addr,
            cut,
            stalled,
            accept,
        }
    }

    /// A proxy in front of the host and port of `url` (e.g. a `postgres://` URL), and that URL
    /// pointing at the proxy instead.
    ///
    /// # Panics
    /// When `url` has no numeric host and port.
    pub async fn in_front_of(url: &str) -> (Self, String) {
        let mut parsed = reqwest::Url::parse(url).expect("a URL with host and port");
        let host = parsed.host_str().expect("a host in the URL").to_owned();
        let port = parsed.port().expect("a port in the URL");
        let upstream: SocketAddr = format!("{host}:{port}")
            .parse()
            .expect("a numeric host in the URL");
        let proxy = Self::start(upstream).await;
        parsed
            .set_port(Some(proxy.addr.port()))
            .expect("the URL takes a port");
        (proxy, parsed.to_string())
    }

    /// The address to connect to instead of the upstream.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Closes every relayed connection and refuses new ones until [`TcpProxy::restore`].
    pub fn cut(&self) {
        self.cut.send_replace(true);
    }

    /// Relays new connections again.
    pub fn restore(&self) {
        self.cut.send_replace(false);
    }

    /// Stops reading from both ends of every connection until [`TcpProxy::resume`].
    pub fn stall(&self) {
        self.stalled.send_replace(true);
    }

    /// Reads and relays again after [`TcpProxy::stall`].
    pub fn resume(&self) {
        self.stalled.send_replace(false);
    }
}

async fn relay(
    client: TcpStream,
    upstream: SocketAddr,
    mut cut: watch::Receiver<bool>,
    stalled: watch::Receiver<bool>,
) {
    let Ok(server) = TcpStream::connect(upstream).await else {
        return;
    };
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    let both = futures::future::join(
        pipe(client_read, server_write, stalled.clone()),
        pipe(server_read, client_write, stalled),
    );
    tokio::select! {
        _ = cut.changed() => {}
        _ = both => {}
    }
}

/// Copies `from` to `to` until `from` ends (then shuts `to` down) or `to` fails, reading only
/// while not stalled.
async fn pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut stalled: watch::Receiver<bool>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        if stalled.wait_for(|s| !*s).await.is_err() {
            return;
        }
        // A read in progress when the stall begins is given up (reads are cancel-safe).
        let read = tokio::select! {
            read = from.read(&mut buf) => read,
            _ = stalled.wait_for(|s| *s) => continue,
        };
        let n = match read {
            Ok(0) | Err(_) => {
                let _ = to.shutdown().await;
                return;
            }
            Ok(n) => n,
        };
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    use super::*;

    /// An echo server on loopback.
    async fn echo() -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let (mut read, mut write) = socket.split();
                    let _ = tokio::io::copy(&mut read, &mut write).await;
                });
            }
        });
        addr
    }

    /// Whether one byte goes through `addr` and back.
    async fn round_trip(socket: &mut TcpStream) -> bool {
        let mut byte = [0u8; 1];
        socket.write_all(b"x").await.is_ok() && matches!(socket.read(&mut byte).await, Ok(1))
    }

    #[tokio::test]
    async fn proxy_relays_until_cut_and_again_after_restore() {
        let proxy = TcpProxy::start(echo().await).await;
        let mut before = TcpStream::connect(proxy.addr()).await.unwrap();
        assert!(round_trip(&mut before).await);

        proxy.cut();
        let mut rest = [0u8; 1];
        let live_closed = tokio::time::timeout(Duration::from_secs(5), before.read(&mut rest))
            .await
            .is_ok_and(|read| !matches!(read, Ok(n) if n > 0));
        let mut during = TcpStream::connect(proxy.addr()).await.unwrap();
        let new_refused = !round_trip(&mut during).await;
        proxy.restore();
        let mut after = TcpStream::connect(proxy.addr()).await.unwrap();

        assert!(live_closed, "a cut closes relayed connections");
        assert!(new_refused, "a cut proxy relays nothing new");
        assert!(round_trip(&mut after).await, "restored, it relays again");
    }

    #[tokio::test]
    async fn a_stalled_proxy_holds_the_bytes_until_resumed() {
        let proxy = TcpProxy::start(echo().await).await;
        let mut socket = TcpStream::connect(proxy.addr()).await.unwrap();
        assert!(round_trip(&mut socket).await);

        proxy.stall();
        socket.write_all(b"y").await.unwrap();
        let mut byte = [0u8; 1];
        let held = tokio::time::timeout(Duration::from_millis(300), socket.read(&mut byte))
            .await
            .is_err();
        proxy.resume();
        let after = tokio::time::timeout(Duration::from_secs(5), socket.read(&mut byte)).await;

        assert!(held, "a stalled proxy relays nothing");
        assert!(
            matches!(after, Ok(Ok(1))) && byte == *b"y",
            "resumed, the held byte arrives on the same connection"
        );
    }

    #[tokio::test]
    async fn in_front_of_points_the_url_at_the_proxy() {
        let (proxy, url) = TcpProxy::in_front_of("postgres://u@127.0.0.1:5432/db").await;

        assert_eq!(
            url,
            format!("postgres://u@127.0.0.1:{}/db", proxy.addr().port())
        );
    }
}
