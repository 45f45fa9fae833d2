//! Property tests of the WS v2 `auth` frame (hub.md §5.4): any text is answered without a panic,
//! a frame signed over the challenge is accepted, and a change to the nonce, the hub id, the
//! PeerId, the type or the signature refuses it. (Inbound presence frames are `PresenceMsg`s,
//! whose properties live in `shared::presence`.)

use libp2p::identity::ed25519::Keypair;
use proptest::prelude::*;
use serde_json::json;
use shared::ids::Ed25519PeerId;
use shared::signing;

use super::auth_signature;

const B64U: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// A challenge (hub id and nonce), the peer's key and its id.
struct Challenge {
    hub: Ed25519PeerId,
    nonce: String,
    key: Keypair,
    peer: Ed25519PeerId,
}

impl Challenge {
    fn new(nonce_bytes: [u8; 32]) -> Self {
        let key = Keypair::generate();
        Self {
            hub: Ed25519PeerId::from(Keypair::generate().public()),
            nonce: signing::b64u_encode(&nonce_bytes),
            peer: Ed25519PeerId::from(key.public()),
            key,
        }
    }

    /// The `auth` frame answering this challenge, signed over `hub`, `nonce` and `peer` as given.
    fn answer(&self, hub: &Ed25519PeerId, nonce: &str, peer: &Ed25519PeerId) -> (String, String) {
        let input = format!("goop-ws-v1\n{hub}\n{nonce}\n{peer}");
        let sig = signing::sign_b64u(&self.key, input.as_bytes());
        let frame = json!({"type": "auth", "peerId": self.peer.to_string(), "nonce": self.nonce, "sig": sig});
        (frame.to_string(), sig)
    }

    fn check(&self, frame: &str) -> Option<String> {
        auth_signature(frame, &self.hub, &self.nonce, &self.peer)
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_frame_text_is_answered_and_refused(
        nonce in any::<[u8; 32]>(),
        text in prop_oneof![
            "(?s).{0,200}",
            (0usize..70_000).prop_map(|n| format!(r#"{{"type":"auth","sig":"{}"}}"#, "A".repeat(n))),
            "[\\x00-\\x1f\\u{200b}-\\u{200f}\\u{202a}-\\u{202e}]{0,40}".prop_map(|s| format!(r#"{{"type":"auth","peerId":"{s}","nonce":"{s}","sig":"{s}"}}"#)),
        ],
    ) {
        prop_assert_eq!(Challenge::new(nonce).check(&text), None);
    }

    #[test]
    fn frame_signed_over_the_challenge_is_accepted(nonce in any::<[u8; 32]>()) {
        let challenge = Challenge::new(nonce);
        let (frame, sig) = challenge.answer(&challenge.hub, &challenge.nonce, &challenge.peer);

        prop_assert_eq!(challenge.check(&frame), Some(sig));
    }

    #[test]
    fn frame_signed_over_another_challenge_is_refused(
        nonce in any::<[u8; 32]>(),
        other_nonce in any::<[u8; 32]>(),
    ) {
        prop_assume!(nonce != other_nonce);
        let challenge = Challenge::new(nonce);
        let other = Challenge::new(other_nonce);

        let (for_nonce, _) = challenge.answer(&challenge.hub, &other.nonce, &challenge.peer);
        let (for_hub, _) = challenge.answer(&other.hub, &challenge.nonce, &challenge.peer);
        let (for_peer, _) = challenge.answer(&challenge.hub, &challenge.nonce, &other.peer);

        prop_assert_eq!(challenge.check(&for_nonce), None);
        prop_assert_eq!(challenge.check(&for_hub), None);
        prop_assert_eq!(challenge.check(&for_peer), None);
    }

    #[test]
    fn any_changed_field_of_a_signed_frame_is_refused(
        nonce in any::<[u8; 32]>(),
        field in prop::sample::select(vec!["type", "peerId", "nonce", "sig"]),
        at in any::<prop::sample::Index>(),
        replacement in prop::sample::select(B64U.to_vec()),
    ) {
        let challenge = Challenge::new(nonce);
        let (frame, _) = challenge.answer(&challenge.hub, &challenge.nonce, &challenge.peer);
        let mut value: serde_json::Value = serde_json::from_str(&frame).unwrap();
        let mut bytes = value[field].as_str().unwrap().as_bytes().to_vec();
        let i = at.index(bytes.len());
        prop_assume!(bytes[i] != replacement);
        bytes[i] = replacement;
        value[field] = json!(String::from_utf8(bytes).unwrap());

        prop_assert_eq!(challenge.check(&value.to_string()), None);
    }
}
