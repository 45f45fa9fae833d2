//! Serving the HTTP listener (hub.md §13.1, superhub.md §10): HTTP/1.1 with a header read
//! deadline and a header size limit, `TCP_NODELAY`, WebSocket upgrades, `ConnectInfo`, graceful
//! shutdown, a cap on open TCP connections in total and per client address, enforced at
//! accept (a connection over the cap is closed at once, never held), and a write stall deadline
//! that closes a connection whose client stopped reading.

use std::future::Future as _;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Sleep;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::Service as _;

use super::HttpMetrics;
use crate::config::HttpConfig;
use crate::rate_limit::{KeyedCount, ip_key};

/// Pause after an accept error that is not about one connection (e.g. out of file descriptors).
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Serves `app` on `listener` until `token` is cancelled, within the limits of `http`
/// (`header_read_timeout_secs`, `max_header_bytes`, `max_tcp_connections`,
/// `max_tcp_connections_per_ip`, `write_timeout_secs`). `TCP_NODELAY` is set on every connection: presence frames are
/// small, and Nagle's algorithm would hold one back behind an unacknowledged ping for a
/// delayed-ACK period. On cancellation it stops accepting, lets each connection finish its
/// request in flight and waits for them.
///
/// # Errors
/// None today: accept errors are logged and retried; the signature leaves room for listener
/// failures.
pub async fn serve_http(
    listener: TcpListener,
    app: axum::Router,
    http: &HttpConfig,
    metrics: HttpMetrics,
    token: CancellationToken,
) -> io::Result<()> {
    let gate = Arc::new(ConnectionGate::new(http));
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(http.header_read_timeout)
        .max_buf_size(http.max_header_bytes);
    let mut make_service = app.into_make_service_with_connect_info::<SocketAddr>();
    let connections = TaskTracker::new();
    loop {
        let accepted = tokio::select! {
            () = token.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let (tcp, remote) = match accepted {
            Ok(pair) => pair,
            Err(e) if is_connection_error(&e) => continue,
            Err(e) => {
                tracing::warn!(error = %e, "accepting an HTTP connection failed");
                tokio::select! {
                    () = token.cancelled() => break,
                    () = tokio::time::sleep(ACCEPT_BACKOFF) => continue,
                }
            }
        };
        // Over a cap: dropping the stream closes it before a byte is read.
        let slot = match gate.admit(remote.ip()) {
            Ok(slot) => slot,
            Err(cap) => {
                metrics.refused_connection(cap);
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let Ok(service) = make_service.call(remote).await;
        let service = TowerToHyperService::new(service);
        let builder = builder.clone();
        let token = token.clone();
        let write_timeout = http.write_timeout;
        connections.spawn(async move {
            // The slot travels with the socket, also into an upgraded WebSocket.
            let io = TokioIo::new(Slotted::new(tcp, slot, write_timeout));
            let conn = builder.serve_connection(io, service).with_upgrades();
            let mut conn = std::pin::pin!(conn);
            tokio::select! {
                result = conn.as_mut() => {
                    if let Err(e) = result {
                        tracing::debug!(error = %e, "HTTP connection ended with an error");
                    }
                    return;
                }
                () = token.cancelled() => {}
            }
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        });
    }
    drop(listener);
    connections.close();
    connections.wait().await;
    Ok(())
}

fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// Counts open TCP connections, in total and per client address ([`ip_key`]); connections from
/// `http.trusted_proxies` count only toward the total, since every client behind them shares
/// their address.
#[derive(Debug)]
struct ConnectionGate {
    max_total: usize,
    max_per_ip: usize,
    trusted: HttpConfig,
    open: Mutex<Open>,
}

#[derive(Debug, Default)]
struct Open {
    total: usize,
    per_ip: KeyedCount<IpAddr>,
}

impl ConnectionGate {
    fn new(http: &HttpConfig) -> Self {
        Self {
            max_total: http.max_tcp_connections,
            max_per_ip: http.max_tcp_connections_per_ip,
            trusted: http.clone(),
            open: Mutex::new(Open::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Open> {
        self.open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A slot for a connection from `ip`, or the cap that is reached.
    fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<ConnectionSlot, ConnectionCap> {
        let key = (!self.trusted.is_trusted_proxy(ip)).then(|| ip_key(ip));
        let mut open = self.lock();
        if open.total >= self.max_total {
            return Err(ConnectionCap::Total);
        }
        if let Some(key) = key {
            if open.per_ip.get(&key) >= self.max_per_ip {
                return Err(ConnectionCap::PerIp);
            }
            open.per_ip.add(key);
        }
        open.total += 1;
        Ok(ConnectionSlot {
            gate: Arc::clone(self),
            key,
        })
    }
}

/// The cap that refused a connection at accept (`reason` of `*_http_connections_refused_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ConnectionCap {
    /// `http.max_tcp_connections`.
    Total,
    /// `http.max_tcp_connections_per_ip`.
    PerIp,
}

impl ConnectionCap {
    /// The metric label.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Total => "total",
            Self::PerIp => "per_ip",
        }
    }
}

/// One admitted connection; dropping it frees the slot. The per-IP map holds only addresses with
/// open connections, so it is bounded by `max_tcp_connections`.
#[derive(Debug)]
struct ConnectionSlot {
    gate: Arc<ConnectionGate>,
    key: Option<IpAddr>,
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        let mut open = self.gate.lock();
        open.total = open.total.saturating_sub(1);
        if let Some(key) = self.key {
            open.per_ip.remove_one(&key);
        }
    }
}

/// A TCP stream holding its connection slot for as long as the socket lives, with a write stall
/// deadline: once writes have returned `Pending` without a byte written for `write_timeout`, the
/// next poll fails with [`io::ErrorKind::TimedOut`], so hyper (or the WebSocket over the upgraded
/// connection) closes the socket and frees the slot. A client that stops reading would otherwise
/// hold both forever, since hyper polls nothing else while a write is pending.
#[derive(Debug)]
struct Slotted {
    tcp: TcpStream,
    _slot: ConnectionSlot,
    write_timeout: Duration,
    /// Fires `write_timeout` after the first `Pending` write since the last progress.
    stall: Pin<Box<Sleep>>,
    /// Whether a write is pending and `stall` runs.
    stalled: bool,
}

impl Slotted {
    fn new(tcp: TcpStream, slot: ConnectionSlot, write_timeout: Duration) -> Self {
        Self {
            tcp,
            _slot: slot,
            write_timeout,
            stall: Box::pin(tokio::time::sleep(write_timeout)),
            stalled: false,
        }
    }

    /// Passes a finished write through (progress, the deadline stops); a pending one starts the
    /// deadline or fails once it has passed.
    fn watch<T>(&mut self, cx: &mut Context<'_>, poll: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        if poll.is_ready() {
            self.stalled = false;
            return poll;
        }
        if !self.stalled {
            self.stalled = true;
            let deadline = tokio::time::Instant::now() + self.write_timeout;
            self.stall.as_mut().reset(deadline);
        }
        match self.stall.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client read nothing within http.write_timeout_secs",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl AsyncRead for Slotted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_read(cx, buf)
    }
}

impl AsyncWrite for Slotted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.tcp).poll_write(cx, buf);
        self.watch(cx, poll)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.tcp).poll_write_vectored(cx, bufs);
        self.watch(cx, poll)
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let poll = Pin::new(&mut self.tcp).poll_flush(cx);
        self.watch(cx, poll)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate(total: usize, per_ip: usize) -> Arc<ConnectionGate> {
        let mut http = HttpConfig::on_port(0);
        http.max_tcp_connections = total;
        http.max_tcp_connections_per_ip = per_ip;
        http.trusted_proxies = vec!["10.0.0.0/8".parse().unwrap()];
        Arc::new(ConnectionGate::new(&http))
    }

    #[test]
    fn per_ip_cap_counts_ipv6_by_64_and_frees_on_drop() {
        let gate = gate(10, 2);
        let a: IpAddr = "2001:db8::1".parse().unwrap();
        let b: IpAddr = "2001:db8::2".parse().unwrap();

        let first = gate.admit(a);
        let second = gate.admit(b);
        let third = gate.admit(a);
        drop(first);
        let after_drop = gate.admit(b);

        assert!(second.is_ok());
        assert_eq!(third.err(), Some(ConnectionCap::PerIp));
        assert!(after_drop.is_ok());
    }

    #[tokio::test]
    async fn writes_a_client_never_reads_fail_with_timed_out_after_the_write_timeout() {
        use tokio::io::AsyncWriteExt as _;
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let _client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (tcp, remote) = listener.accept().await.unwrap();
        let slot = gate(1, 1).admit(remote.ip()).unwrap();
        let mut slotted = Slotted::new(tcp, slot, Duration::from_millis(200));
        let chunk = vec![0u8; 64 * 1024];

        let written = tokio::time::timeout(Duration::from_secs(30), async {
            loop {
                if let Err(e) = slotted.write_all(&chunk).await {
                    return e;
                }
            }
        })
        .await
        .expect("the write fails in time");

        assert_eq!(written.kind(), io::ErrorKind::TimedOut);
    }

    #[test]
    fn total_cap_applies_to_trusted_proxies_which_have_no_per_ip_cap() {
        let gate = gate(3, 1);
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();

        let slots: Vec<_> = (0..4).map(|_| gate.admit(proxy)).collect();

        assert!(slots[..3].iter().all(Result::is_ok));
        assert_eq!(slots[3].as_ref().err(), Some(&ConnectionCap::Total));
        assert_eq!(
            gate.admit("192.0.2.1".parse().unwrap()).err(),
            Some(ConnectionCap::Total)
        );
    }
}
