//! PeerSig: signed HTTP requests (hub.md §3). A peer proves it holds the key of a PeerId with three
//! headers over the request's audience, timestamp, method, target and body. Signing is here for
//! every client (with [`sign_request`] for `reqwest` behind feature `client`); verifying, with its replay cache, is behind feature `server`.

#[cfg(feature = "client")]
mod client;
#[cfg(test)]
mod proptests;
#[cfg(feature = "server")]
mod verify;

use libp2p::identity::ed25519::Keypair;

use crate::ids::Ed25519PeerId;
use crate::signing;

#[cfg(feature = "client")]
pub use client::{SignRequestError, sign_request};
#[cfg(feature = "server")]
pub use verify::{PeerSigError, PeerSigVerifier};

/// Signer header: the peer's Ed25519 PeerId.
pub const PEER_ID_HEADER: &str = "x-goop-peer-id";
/// Timestamp header: unix milliseconds, decimal.
pub const TIMESTAMP_HEADER: &str = "x-goop-timestamp";
/// Signature header: b64u Ed25519 signature of the request signing input.
pub const SIGNATURE_HEADER: &str = "x-goop-signature";

/// The three PeerSig header values of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedHeaders {
    /// Value of [`PEER_ID_HEADER`].
    pub peer_id: String,
    /// Value of [`TIMESTAMP_HEADER`].
    pub timestamp: String,
    /// Value of [`SIGNATURE_HEADER`].
    pub signature: String,
}

impl SignedHeaders {
    /// Signs a request by `key` to the server `audience` at `ts_ms` (unix milliseconds); `target`
    /// is the path with its query, exactly as sent.
    pub fn sign(
        key: &Keypair,
        audience: &Ed25519PeerId,
        ts_ms: i64,
        method: &str,
        target: &str,
        body: &[u8],
    ) -> Self {
        let timestamp = ts_ms.to_string();
        let input = signing::request_signing_input(audience, &timestamp, method, target, body);
        Self {
            peer_id: Ed25519PeerId::from(key.public()).to_string(),
            signature: signing::sign_b64u(key, &input),
            timestamp,
        }
    }

    /// `(header name, value)` for each of the three headers, ready for any HTTP client.
    pub fn into_pairs(self) -> [(&'static str, String); 3] {
        [
            (PEER_ID_HEADER, self.peer_id),
            (TIMESTAMP_HEADER, self.timestamp),
            (SIGNATURE_HEADER, self.signature),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_headers_verify_against_the_request_signing_input() {
        let key = Keypair::generate();
        let audience = Ed25519PeerId::from(Keypair::generate().public());

        let signed = SignedHeaders::sign(
            &key,
            &audience,
            1_767_225_600_000,
            "POST",
            "/publish",
            b"{}",
        );

        let input =
            signing::request_signing_input(&audience, "1767225600000", "POST", "/publish", b"{}");
        let signer: Ed25519PeerId = signed.peer_id.parse().unwrap();
        assert_eq!(signer, Ed25519PeerId::from(key.public()));
        assert_eq!(signed.timestamp, "1767225600000");
        assert!(signing::verify_b64u(&signer, &input, &signed.signature).is_ok());
    }
}
