//! A test peer: an ed25519 key that is both its libp2p identity and its PeerSig signer (hub.md
//! §3), with the membership and presence calls the API tests make as that peer.

use libp2p::PeerId;
use libp2p::identity::ed25519::Keypair;
use reqwest::Response;
use serde_json::{Value, json};
use shared::ids::Ed25519PeerId;

use crate::TestHub;
use crate::ws::{self, Ws};

/// A peer with its own key, signing its requests to a [`TestHub`].
#[derive(Debug, Clone)]
pub struct TestPeer {
    /// The peer's key: its libp2p identity and its PeerSig signer.
    pub key: Keypair,
    /// The peer id of `key`.
    pub id: Ed25519PeerId,
}

impl TestPeer {
    /// A peer with a fresh key.
    pub fn new() -> Self {
        let key = Keypair::generate();
        let id = key.public().into();
        Self { key, id }
    }

    /// The libp2p peer id of the key.
    pub fn peer_id(&self) -> PeerId {
        self.id.peer_id()
    }

    /// A PresenceMsg-shaped body (hub.md §5.1) of `kind` from this peer.
    pub fn msg(&self, kind: &str, content: &str) -> Value {
        json!({"type": kind, "peerId": self.id.to_string(), "content": content})
    }

    /// `POST /publish` of `msg` as its raw JSON text, signed by this peer.
    ///
    /// # Panics
    /// When the request cannot be sent.
    pub async fn publish(&self, hub: &TestHub, msg: &Value) -> Response {
        hub.signed(
            self,
            reqwest::Method::POST,
            "/publish",
            msg.to_string().into_bytes(),
        )
        .send()
        .await
        .expect("POST /publish reaches the hub")
    }

    /// `POST /api/v1/join` with `body`, signed by this peer (hub.md §6.2, §6.10).
    pub async fn join(&self, hub: &TestHub, body: &Value) -> Response {
        hub.post_signed("/api/v1/join", body, self).await
    }

    /// `POST /api/v1/peers` with `body` (a `bind_code` and maybe a `label`), signed by this peer:
    /// binds it to the account that made the code (hub.md §6.9, §6.10).
    pub async fn bind(&self, hub: &TestHub, body: &Value) -> Response {
        hub.post_signed("/api/v1/peers", body, self).await
    }

    /// `GET /api/v1/membership` as this peer; the body, asserting a 200.
    ///
    /// # Panics
    /// When the hub answers anything but 200 with JSON.
    pub async fn membership(&self, hub: &TestHub) -> Value {
        let (status, body) = crate::json_of(hub.get_signed("/api/v1/membership", self).await).await;
        assert_eq!(status, 200, "{body}");
        body
    }

    /// Answers the v2 key challenge (hub.md §5.4) that is the next frame on `socket`.
    ///
    /// # Panics
    /// When the next frame is not a challenge or the answer cannot be sent.
    pub async fn answer_challenge(&self, socket: &mut Ws) {
        self.answer_challenge_with_nonce(socket, None).await;
    }

    /// Like [`TestPeer::answer_challenge`], but answers with `nonce` instead of the challenge's
    /// when given.
    ///
    /// # Panics
    /// When the next frame is not a challenge or the answer cannot be sent.
    pub async fn answer_challenge_with_nonce(&self, socket: &mut Ws, nonce: Option<&str>) {
        let challenge = ws::next_json(socket).await;
        let nonce = nonce.unwrap_or_else(|| challenge["nonce"].as_str().expect("a nonce"));
        let input = format!(
            "goop-ws-v1\n{}\n{}\n{}",
            challenge["hubId"].as_str().expect("a hub id"),
            nonce,
            self.id
        );
        let sig = shared::signing::sign_b64u(&self.key, input.as_bytes());
        ws::send_json(
            socket,
            &json!({"type": "auth", "peerId": self.id.to_string(), "nonce": nonce, "sig": sig}),
        )
        .await;
    }

    /// Opens a v2 session (`GET /ws?peer_id=…&v=2`) without answering its challenge.
    pub async fn connect_v2(&self, hub: &TestHub) -> Ws {
        ws::connect(hub, &format!("peer_id={}&v=2", self.id)).await
    }

    /// Opens a v2 session and completes the key challenge; returns the socket after
    /// `snapshot-end` and the snapshot's frames.
    ///
    /// # Panics
    /// When the hub refuses the session or the snapshot count does not match.
    pub async fn open_v2(&self, hub: &TestHub) -> (Ws, Vec<Value>) {
        let mut socket = self.connect_v2(hub).await;
        self.answer_challenge(&mut socket).await;
        assert_eq!(ws::next_json(&mut socket).await["type"], "auth-ok");
        let mut snapshot = Vec::new();
        loop {
            let frame = ws::next_json(&mut socket).await;
            if frame["type"] == "snapshot-end" {
                assert_eq!(frame["count"], snapshot.len());
                return (socket, snapshot);
            }
            snapshot.push(frame);
        }
    }

    /// The close frame a v2 session of this peer ends with right after its key challenge.
    ///
    /// # Panics
    /// When the hub admits the session (a text frame follows the answer) or closes without a
    /// close frame.
    pub async fn refused_v2(&self, hub: &TestHub) -> (u16, String) {
        let mut socket = self.connect_v2(hub).await;
        self.answer_challenge(&mut socket).await;
        match ws::next_text_or_close(&mut socket, ws::DEADLINE).await {
            Ok(text) => panic!("the session is refused, but the hub sent {text}"),
            Err(close) => close.expect("a close frame"),
        }
    }
}

impl Default for TestPeer {
    fn default() -> Self {
        Self::new()
    }
}
