//! WebSocket presence sessions for tests (hub.md §5.4): connecting to a hub's `/ws`, and reading
//! text frames and close frames under a deadline.

use std::time::Duration;

use futures::{SinkExt as _, StreamExt as _};
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

use crate::TestHub;

/// How long a test waits for the next frame.
pub const DEADLINE: Duration = Duration::from_secs(10);

/// A client WebSocket to a hub.
pub type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The `ws://` URL of the hub's `/ws?query`.
pub fn url(hub: &TestHub, query: &str) -> String {
    format!("{}/ws?{query}", hub.base_url.replacen("http", "ws", 1))
}

/// Opens `/ws?query` on `hub`.
///
/// # Panics
/// When the upgrade fails.
pub async fn connect(hub: &TestHub, query: &str) -> Ws {
    let (socket, _) = tokio_tungstenite::connect_async(url(hub, query))
        .await
        .expect("the WebSocket upgrade succeeds");
    socket
}

/// Sends `value` as one text frame.
///
/// # Panics
/// When the socket is closed.
pub async fn send_json(socket: &mut Ws, value: &Value) {
    socket
        .send(Message::Text(value.to_string().into()))
        .await
        .expect("the frame is sent");
}

/// The next text frame as JSON, skipping pings.
///
/// # Panics
/// When the socket closes first or no frame comes within [`DEADLINE`].
pub async fn next_json(socket: &mut Ws) -> Value {
    match next_text_or_close(socket, DEADLINE).await {
        Ok(text) => serde_json::from_str(&text).expect("a JSON frame"),
        Err(close) => panic!("socket closed: {close:?}"),
    }
}

/// The next text frame, or the close frame's code and reason (`None` when the socket ended
/// without one).
///
/// # Panics
/// When nothing arrives within `deadline`.
pub async fn next_text_or_close(
    socket: &mut Ws,
    deadline: Duration,
) -> Result<String, Option<(u16, String)>> {
    tokio::time::timeout(deadline, async {
        loop {
            match socket.next().await {
                Some(Ok(Message::Text(text))) => return Ok(text.to_string()),
                Some(Ok(Message::Close(frame))) => {
                    return Err(frame.map(|f| (u16::from(f.code), f.reason.to_string())));
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return Err(None),
            }
        }
    })
    .await
    .expect("a frame in time")
}

/// The close frame of a socket, skipping everything before it.
///
/// # Panics
/// When the socket ends without a close frame or nothing arrives in time.
pub async fn close_of(socket: &mut Ws) -> (u16, String) {
    loop {
        if let Err(close) = next_text_or_close(socket, DEADLINE).await {
            return close.expect("a close frame");
        }
    }
}
