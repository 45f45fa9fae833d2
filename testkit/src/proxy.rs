//! [`TcpProxy`]: a TCP relay on loopback that a test can cut and restore, to make one server's
//! database (or any upstream) unreachable for that test alone while the shared cluster keeps
//! running.

use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// A loopback TCP proxy to one upstream. While cut it closes every relayed connection and
/// refuses new ones (accepts and drops them at once); restored, it relays again. Dropping it
/// stops it.
#[derive(Debug)]
pub struct TcpProxy {
    addr: SocketAddr,
    /// `true` while cut; every relay ends at the next change.
    cut: watch::Sender<bool>,
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
        let accept = tokio::spawn({
            let cut = cut.clone();
            async move {
                while let Ok((client, _)) = listener.accept().await {
                    let mut changes = cut.subscribe();
                    if !*changes.borrow_and_update() {
                        tokio::spawn(relay(client, upstream, changes));
                    }
                }
            }
        });
        Self { addr, cut, accept }
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
}

async fn relay(mut client: TcpStream, upstream: SocketAddr, mut cut: watch::Receiver<bool>) {
    let Ok(mut server) = TcpStream::connect(upstream).await else {
        return;
    };
    tokio::select! {
        _ = cut.changed() => {}
        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
    }
}
