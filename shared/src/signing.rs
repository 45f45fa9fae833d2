//! Ed25519 signatures over libp2p keys, and the exact byte strings the specs sign: PeerSig request
//! inputs (hub.md §3) and signed envelopes (hub.md §11.2). Verifiers need only the signer's PeerId.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use libp2p::identity::ed25519;

use crate::ids::Ed25519PeerId;

/// Length of an Ed25519 signature in bytes.
pub const SIGNATURE_LEN: usize = 64;
/// Length of an Ed25519 signature in base64url without padding.
pub const SIGNATURE_B64U_LEN: usize = 86;

/// Why a signature was not accepted.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VerifySignatureError {
    /// Not 86 base64url characters / 64 bytes.
    #[error("signature is not 64 bytes of base64url")]
    Malformed,
    /// Well-formed, but not made by the signer's key over this payload.
    #[error("signature does not verify")]
    Invalid,
}

/// Encodes bytes as base64url without padding ("b64u").
pub fn b64u_encode(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes base64url without padding.
///
/// # Errors
/// The base64 error when the text is not canonical b64u.
pub fn b64u_decode(text: &str) -> Result<Vec<u8>, base64::DecodeError> {
    URL_SAFE_NO_PAD.decode(text)
}

/// Signs `payload` with `key`.
pub fn sign(key: &ed25519::Keypair, payload: &[u8]) -> [u8; SIGNATURE_LEN] {
    key.sign(payload)
        .try_into()
        .expect("invariant: ed25519 signatures are 64 bytes")
}

/// Signs `payload` and returns the signature as b64u (86 characters).
pub fn sign_b64u(key: &ed25519::Keypair, payload: &[u8]) -> String {
    b64u_encode(&sign(key, payload))
}

/// Verifies a raw 64-byte signature by `signer` over `payload`.
///
/// # Errors
/// [`VerifySignatureError::Malformed`] for a wrong length, [`VerifySignatureError::Invalid`] otherwise.
pub fn verify(
    signer: &Ed25519PeerId,
    payload: &[u8],
    signature: &[u8],
) -> Result<(), VerifySignatureError> {
    if signature.len() != SIGNATURE_LEN {
        return Err(VerifySignatureError::Malformed);
    }
    if signer.public_key().verify(payload, signature) {
        Ok(())
    } else {
        Err(VerifySignatureError::Invalid)
    }
}

/// Verifies a b64u signature (exactly 86 characters) by `signer` over `payload`.
///
/// # Errors
/// As [`verify`]; any text that is not 86 b64u characters is [`VerifySignatureError::Malformed`].
pub fn verify_b64u(
    signer: &Ed25519PeerId,
    payload: &[u8],
    signature: &str,
) -> Result<(), VerifySignatureError> {
    if signature.len() != SIGNATURE_B64U_LEN {
        return Err(VerifySignatureError::Malformed);
    }
    let bytes = b64u_decode(signature).map_err(|_| VerifySignatureError::Malformed)?;
    verify(signer, payload, &bytes)
}

/// The PeerSig signing input of hub.md §3:
/// `goop-req-v1\n<audience>\n<timestamp>\n<METHOD>\n<request-target>\n<raw body>`.
pub fn request_signing_input(
    audience: &Ed25519PeerId,
    timestamp: &str,
    method: &str,
    target: &str,
    body: &[u8],
) -> Vec<u8> {
    let head = format!(
        "goop-req-v1\n{audience}\n{timestamp}\n{}\n{target}\n",
        method.to_ascii_uppercase()
    );
    let mut input = head.into_bytes();
    input.extend_from_slice(body);
    input
}

/// The signed-envelope signing input of hub.md §11.2: `goop-signed-v1\n<type>\n<payload>`.
pub fn envelope_signing_input(kind: &str, payload: &str) -> Vec<u8> {
    format!("goop-signed-v1\n{kind}\n{payload}").into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer() -> (ed25519::Keypair, Ed25519PeerId) {
        let key = ed25519::Keypair::generate();
        let id = Ed25519PeerId::from(key.public());
        (key, id)
    }

    #[test]
    fn signature_verifies_when_payload_unchanged() {
        let (key, id) = signer();

        let sig = sign_b64u(&key, b"payload");

        assert_eq!(sig.len(), SIGNATURE_B64U_LEN);
        assert_eq!(verify_b64u(&id, b"payload", &sig), Ok(()));
    }

    #[test]
    fn signature_is_refused_when_one_payload_byte_flips() {
        let (key, id) = signer();
        let sig = sign(&key, b"payload");

        assert_eq!(
            verify(&id, b"payloae", &sig),
            Err(VerifySignatureError::Invalid)
        );
    }

    #[test]
    fn signature_is_refused_when_made_by_another_key() {
        let (key, _) = signer();
        let (_, other) = signer();
        let sig = sign(&key, b"payload");

        assert_eq!(
            verify(&other, b"payload", &sig),
            Err(VerifySignatureError::Invalid)
        );
    }

    #[test]
    fn signature_is_malformed_when_length_or_alphabet_is_wrong() {
        let (key, id) = signer();
        let good = sign_b64u(&key, b"x");
        let padded = format!("{}==", &good[..84]);
        let wrong_alphabet = format!("{}+/", &good[..84]);

        for bad in [
            "",
            &good[..85],
            &format!("{good}A"),
            &padded,
            &wrong_alphabet,
        ] {
            assert_eq!(
                verify_b64u(&id, b"x", bad),
                Err(VerifySignatureError::Malformed),
                "{bad}"
            );
        }
        assert_eq!(
            verify(&id, b"x", &[0u8; 63]),
            Err(VerifySignatureError::Malformed)
        );
    }

    #[test]
    fn request_signing_input_matches_spec_layout() {
        let (_, audience) = signer();

        let input =
            request_signing_input(&audience, "1767225600000", "post", "/publish?x=1", b"{}");

        let expected = format!("goop-req-v1\n{audience}\n1767225600000\nPOST\n/publish?x=1\n{{}}");
        assert_eq!(input, expected.into_bytes());
    }

    #[test]
    fn envelope_signature_breaks_when_payload_changes() {
        let (key, id) = signer();
        let payload = r#"{"v":1,"id":"x"}"#;
        let sig = sign(&key, &envelope_signing_input("hub-record", payload));

        let tampered = envelope_signing_input("hub-record", r#"{"v":2,"id":"x"}"#);
        let retyped = envelope_signing_input("hub-tombstone", payload);

        assert!(verify(&id, &envelope_signing_input("hub-record", payload), &sig).is_ok());
        assert!(verify(&id, &tampered, &sig).is_err());
        assert!(verify(&id, &retyped, &sig).is_err());
    }
}
