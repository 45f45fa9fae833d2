//! `/goop/content/1.0.0`, the reachability probe (peer.md §4.1): the server writes our label as
//! one line and closes without reading; the client reads that line. Blocked callers and callers
//! over their concurrency get a reset (peer.md §4, §14).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{AsyncReadExt as _, AsyncWriteExt as _, StreamExt as _};
use libp2p::{PeerId, Stream, StreamProtocol};
use shared::server::Tasks;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::dial::{self, DialError};
use crate::node::Node;

/// The protocol.
pub const PROTOCOL: StreamProtocol = StreamProtocol::new("/goop/content/1.0.0");
/// The client's deadline from opening the stream to the end of the line (peer.md §13).
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(2);
/// Longest line the client reads, newline included.
pub const MAX_LINE: usize = 4096;
/// Longest label the server writes, in bytes without the newline.
pub const MAX_LABEL: usize = 256;
/// Streams served to one remote at once; more are reset (peer.md §4).
pub const PER_PEER: usize = 4;
/// Streams served at once in total.
const MAX_STREAMS: usize = 64;
/// The server's write deadline (peer.md §4).
const WRITE_TIMEOUT: Duration = Duration::from_secs(3);

/// Why a probe failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProbeError {
    /// No connection to the peer.
    #[error(transparent)]
    Dial(#[from] DialError),
    /// The stream could not be opened (e.g. the peer does not serve the protocol).
    #[error("content stream: {0}")]
    Open(String),
    /// The stream did not open within the deadline.
    #[error("content stream did not open within {PROBE_TIMEOUT:?}")]
    OpenTimeout,
    /// The line did not arrive within the deadline.
    #[error("no line within {PROBE_TIMEOUT:?}")]
    ReadTimeout,
    /// The stream ended (closed or reset) before a line arrived.
    #[error("the stream ended without a line")]
    Closed,
    /// The line is longer than [`MAX_LINE`].
    #[error("line longer than {MAX_LINE} bytes")]
    TooLong,
    /// The line is not UTF-8.
    #[error("line is not UTF-8")]
    NotUtf8,
    /// Reading failed.
    #[error("reading: {0}")]
    Io(String),
}

impl ProbeError {
    /// Whether the stream had opened: "any successful open counts as reachable" (peer.md §4.1).
    pub fn opened(&self) -> bool {
        !matches!(self, Self::Dial(_) | Self::Open(_) | Self::OpenTimeout)
    }
}

/// Probes `peer`: connects (peer.md §2.1), opens a content stream and reads its label within
/// [`PROBE_TIMEOUT`].
///
/// # Errors
/// [`ProbeError`]; [`ProbeError::opened`] tells whether it still counts as reachable.
///
/// Cancel-safe: dropping the future drops the stream.
pub async fn probe(node: &Node, peer: PeerId) -> Result<String, ProbeError> {
    dial::connect(node, peer).await?;
    let deadline = tokio::time::Instant::now() + PROBE_TIMEOUT;
    let mut control = node.net.streams();
    let mut stream = tokio::time::timeout_at(deadline, control.open_stream(peer, PROTOCOL))
        .await
        .map_err(|_| ProbeError::OpenTimeout)?
        .map_err(|e| ProbeError::Open(e.to_string()))?;
    tokio::time::timeout_at(deadline, read_line(&mut stream))
        .await
        .map_err(|_| ProbeError::ReadTimeout)?
}

/// One line of at most [`MAX_LINE`] bytes, `\n` or `\r\n` terminated or ended by EOF.
async fn read_line(stream: impl futures::AsyncRead + Unpin) -> Result<String, ProbeError> {
    let mut buf = Vec::with_capacity(256);
    let mut limited = stream.take(MAX_LINE as u64 + 1);
    let mut chunk = [0_u8; 512];
    loop {
        let n = limited
            .read(&mut chunk)
            .await
            .map_err(|e| ProbeError::Io(e.to_string()))?;
        if n == 0 {
            if buf.is_empty() {
                return Err(ProbeError::Closed);
            }
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.iter().position(|b| *b == b'\n') {
            buf.truncate(end);
            break;
        }
        if buf.len() > MAX_LINE {
            return Err(ProbeError::TooLong);
        }
    }
    if buf.len() >= MAX_LINE {
        return Err(ProbeError::TooLong);
    }
    if buf.last() == Some(&b'\r') {
        buf.pop();
    }
    String::from_utf8(buf).map_err(|_| ProbeError::NotUtf8)
}

/// The line the server writes: `label` without `\n`/`\r`, cut to [`MAX_LABEL`] bytes on a
/// character boundary, then `\n`.
pub fn label_line(label: &str) -> String {
    let mut line = String::with_capacity(label.len().min(MAX_LABEL) + 1);
    for c in label.chars().filter(|c| !matches!(c, '\n' | '\r')) {
        if line.len() + c.len_utf8() > MAX_LABEL {
            break;
        }
        line.push(c);
    }
    line.push('\n');
    line
}

/// Starts the server.
pub(crate) fn spawn(node: &Arc<Node>, tasks: &Tasks) {
    let incoming = match node.net.inbound().accept(PROTOCOL) {
        Ok(incoming) => incoming,
        Err(error) => {
            tracing::error!(%error, "content protocol already registered; not serving it");
            return;
        }
    };
    tasks.spawn_infallible(
        "content server",
        serve(
            node.clone(),
            incoming,
            tasks.tracker().clone(),
            tasks.token().child_token(),
        ),
    );
}

async fn serve(
    node: Arc<Node>,
    mut incoming: crate::p2p::Incoming,
    tracker: TaskTracker,
    token: CancellationToken,
) {
    let per_peer = PerPeer::default();
    let slots = Arc::new(Semaphore::new(MAX_STREAMS));
    loop {
        let (peer, stream) = tokio::select! {
            () = token.cancelled() => return,
            next = incoming.next() => match next {
                Some(next) => next,
                None => return,
            },
        };
        // Dropping a stream that was never closed resets it (yamux RST).
        if node.peers.is_blocked(&peer) {
            tracing::debug!(%peer, "content stream from a blocked peer reset");
            continue;
        }
        let Some(slot) = per_peer.take(peer) else {
            tracing::debug!(%peer, "content streams over the per-peer limit; reset");
            continue;
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            tracing::debug!(%peer, "content streams over the global limit; reset");
            continue;
        };
        let line = label_line(&node.config.profile.label);
        tracker.spawn(async move {
            let _held = (slot, permit);
            if let Err(error) = answer(stream, &line).await {
                tracing::debug!(%peer, %error, "content answer failed");
            }
        });
    }
}

async fn answer(mut stream: Stream, line: &str) -> std::io::Result<()> {
    tokio::time::timeout(WRITE_TIMEOUT, async {
        stream.write_all(line.as_bytes()).await?;
        stream.close().await
    })
    .await
    .map_err(|_| std::io::Error::from(std::io::ErrorKind::TimedOut))?
}

/// Streams in flight per remote.
#[derive(Debug, Clone, Default)]
struct PerPeer(Arc<Mutex<HashMap<PeerId, usize>>>);

impl PerPeer {
    fn take(&self, peer: PeerId) -> Option<Slot> {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let count = map.entry(peer).or_default();
        if *count >= PER_PEER {
            return None;
        }
        *count += 1;
        Some(Slot {
            owner: self.clone(),
            peer,
        })
    }
}

/// One stream's place in [`PerPeer`], given back on drop.
#[derive(Debug)]
struct Slot {
    owner: PerPeer,
    peer: PeerId,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut map = self.owner.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = map.get_mut(&self.peer) {
            *count -= 1;
            if *count == 0 {
                map.remove(&self.peer);
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests;
