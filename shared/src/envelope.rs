//! Signed envelopes (hub.md §11.2): a signed object travels as
//! `{"type","signer","payload","sig"}`, the signature covering `goop-signed-v1\n<type>\n<payload>`
//! where `payload` is the exact JSON text the signer produced. Verifiers check the signature
//! before parsing the payload and never re-serialize it, so relays forward it byte for byte.
//!
//! ```
//! use shared::envelope::{Envelope, EnvelopeType};
//!
//! let key = libp2p::identity::ed25519::Keypair::generate();
//! let envelope = Envelope::sign(&key, EnvelopeType::HubRecord, r#"{"v":1}"#.to_owned());
//! let text = serde_json::to_vec(&envelope).unwrap();
//! let received = Envelope::parse(&text).unwrap();
//! let verified = received.verify().unwrap();
//! assert_eq!(verified.payload, r#"{"v":1}"#);
//! ```

use libp2p::identity::ed25519;
use serde::{Deserialize, Serialize};

use crate::ids::Ed25519PeerId;
use crate::signing;

/// The largest envelope accepted, in bytes of JSON.
pub const MAX_ENVELOPE_BYTES: usize = 16 * 1024;

/// What an envelope carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnvelopeType {
    /// A hub record (hub.md §11.3).
    HubRecord,
    /// A hub's tombstone: it left the directory.
    HubTombstone,
    /// A super hub's moderation note (superhub.md).
    ModerationNote,
}

impl EnvelopeType {
    /// The `type` text.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::HubRecord => "hub-record",
            Self::HubTombstone => "hub-tombstone",
            Self::ModerationNote => "moderation-note",
        }
    }

    /// The type named by `text`, if it is one.
    pub fn parse(text: &str) -> Option<Self> {
        [Self::HubRecord, Self::HubTombstone, Self::ModerationNote]
            .into_iter()
            .find(|t| t.as_str() == text)
    }
}

/// Why an envelope was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    /// Larger than [`MAX_ENVELOPE_BYTES`].
    #[error("envelope larger than {MAX_ENVELOPE_BYTES} bytes")]
    TooLarge,
    /// Not a JSON object of exactly `type`, `signer`, `payload` and `sig`, all strings.
    #[error("malformed envelope: {0}")]
    Malformed(String),
    /// A `type` this spec does not define.
    #[error("unknown envelope type")]
    UnknownType,
    /// `signer` is not an Ed25519 PeerId.
    #[error("signer is not an Ed25519 PeerId")]
    BadSigner,
    /// The signature does not verify over the payload.
    #[error("signature does not verify")]
    BadSignature,
}

/// An envelope as it travels; nothing in it is trusted before [`Envelope::verify`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Envelope {
    /// `hub-record`, `hub-tombstone` or `moderation-note`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The signer's PeerId.
    pub signer: String,
    /// The payload's JSON text, exactly as signed.
    pub payload: String,
    /// Ed25519 signature, base64url without padding.
    pub sig: String,
}

/// A verified envelope: its type, its signer and the payload text it signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified<'a> {
    /// What it carries.
    pub kind: EnvelopeType,
    /// Who signed it.
    pub signer: Ed25519PeerId,
    /// The payload text (parse it only now).
    pub payload: &'a str,
}

impl Envelope {
    /// Signs `payload` (JSON text, serialized once by the caller) as `kind` with `key`.
    pub fn sign(key: &ed25519::Keypair, kind: EnvelopeType, payload: String) -> Self {
        let signer = Ed25519PeerId::from(key.public());
        let sig = signing::sign_b64u(
            key,
            &signing::envelope_signing_input(kind.as_str(), &payload),
        );
        Self {
            kind: kind.as_str().to_owned(),
            signer: signer.to_string(),
            payload,
            sig,
        }
    }

    /// Reads an envelope from JSON bytes: at most [`MAX_ENVELOPE_BYTES`], exactly the four
    /// string fields.
    ///
    /// # Errors
    /// [`EnvelopeError::TooLarge`] or [`EnvelopeError::Malformed`].
    pub fn parse(bytes: &[u8]) -> Result<Self, EnvelopeError> {
        if bytes.len() > MAX_ENVELOPE_BYTES {
            return Err(EnvelopeError::TooLarge);
        }
        serde_json::from_slice(bytes).map_err(|e| EnvelopeError::Malformed(e.to_string()))
    }

    /// Checks the type, the signer and the signature, in that order; the payload is not parsed.
    ///
    /// # Errors
    /// [`EnvelopeError`].
    pub fn verify(&self) -> Result<Verified<'_>, EnvelopeError> {
        let kind = EnvelopeType::parse(&self.kind).ok_or(EnvelopeError::UnknownType)?;
        let signer: Ed25519PeerId = self.signer.parse().map_err(|_| EnvelopeError::BadSigner)?;
        signing::verify_b64u(
            &signer,
            &signing::envelope_signing_input(&self.kind, &self.payload),
            &self.sig,
        )
        .map_err(|_| EnvelopeError::BadSignature)?;
        Ok(Verified {
            kind,
            signer,
            payload: &self.payload,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signed(payload: &str) -> (ed25519::Keypair, Envelope) {
        let key = ed25519::Keypair::generate();
        let envelope = Envelope::sign(&key, EnvelopeType::HubRecord, payload.to_owned());
        (key, envelope)
    }

    #[test]
    fn verify_accepts_what_sign_made_with_only_the_signer_id() {
        let (key, envelope) = signed(r#"{"v":1,"id":"x"}"#);

        let verified = envelope.verify().unwrap();

        assert_eq!(verified.kind, EnvelopeType::HubRecord);
        assert_eq!(verified.signer, Ed25519PeerId::from(key.public()));
        assert_eq!(verified.payload, r#"{"v":1,"id":"x"}"#);
    }

    #[test]
    fn verify_refuses_a_changed_type_signer_or_signature() {
        let (_, envelope) = signed("{}");
        let other = Ed25519PeerId::from(ed25519::Keypair::generate().public()).to_string();
        let cases = [
            (
                Envelope {
                    kind: "hub-tombstone".into(),
                    ..envelope.clone()
                },
                EnvelopeError::BadSignature,
            ),
            (
                Envelope {
                    kind: "hub-recordx".into(),
                    ..envelope.clone()
                },
                EnvelopeError::UnknownType,
            ),
            (
                Envelope {
                    signer: other,
                    ..envelope.clone()
                },
                EnvelopeError::BadSignature,
            ),
            (
                Envelope {
                    signer: "QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N".into(),
                    ..envelope.clone()
                },
                EnvelopeError::BadSigner,
            ),
            (
                Envelope {
                    sig: "A".repeat(86),
                    ..envelope.clone()
                },
                EnvelopeError::BadSignature,
            ),
            (
                Envelope {
                    sig: String::new(),
                    ..envelope
                },
                EnvelopeError::BadSignature,
            ),
        ];
        for (changed, error) in cases {
            assert_eq!(changed.verify().unwrap_err(), error, "{changed:?}");
        }
    }

    #[test]
    fn parse_refuses_extra_missing_or_mistyped_fields_and_oversized_input() {
        let (_, envelope) = signed("{}");
        let mut extra = serde_json::to_value(&envelope).unwrap();
        extra["note"] = "x".into();
        let mut missing = serde_json::to_value(&envelope).unwrap();
        missing.as_object_mut().unwrap().remove("sig");
        let mut mistyped = serde_json::to_value(&envelope).unwrap();
        mistyped["payload"] = serde_json::json!({"v": 1});
        for bad in [
            extra,
            missing,
            mistyped,
            serde_json::json!([1]),
            serde_json::json!("x"),
        ] {
            assert!(
                matches!(
                    Envelope::parse(bad.to_string().as_bytes()),
                    Err(EnvelopeError::Malformed(_))
                ),
                "{bad}"
            );
        }
        let huge = serde_json::to_vec(&Envelope {
            payload: "x".repeat(MAX_ENVELOPE_BYTES),
            ..envelope
        })
        .unwrap();
        assert_eq!(Envelope::parse(&huge), Err(EnvelopeError::TooLarge));
        assert!(matches!(
            Envelope::parse(b"\xff\xfe"),
            Err(EnvelopeError::Malformed(_))
        ));
    }

    #[test]
    fn payload_travels_byte_for_byte_through_json() {
        let payload = "{\"name\":\"Caf\u{e9} \\\"x\\\"\",\"n\":1.50,\"e\":\"\u{1f600}\"}";
        let (_, envelope) = signed(payload);

        let text = serde_json::to_string(&envelope).unwrap();
        let back = Envelope::parse(text.as_bytes()).unwrap();

        assert_eq!(back.verify().unwrap().payload, payload);
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn parse_never_panics_on_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
                let _ = Envelope::parse(&bytes).map(|e| e.verify().is_ok());
            }

            #[test]
            fn any_payload_round_trips_and_any_changed_byte_breaks_it(
                payload in "\\PC{1,200}",
                index in any::<prop::sample::Index>(),
            ) {
                let (_, envelope) = signed(&payload);
                let text = serde_json::to_vec(&envelope).unwrap();
                let back = Envelope::parse(&text).unwrap();
                prop_assert_eq!(back.verify().unwrap().payload, payload.as_str());

                let mut bytes = payload.clone().into_bytes();
                let i = index.index(bytes.len());
                bytes[i] = if bytes[i] == b'a' { b'b' } else { b'a' };
                if let Ok(changed) = String::from_utf8(bytes) {
                    let tampered = Envelope { payload: changed, ..envelope };
                    prop_assert_eq!(tampered.verify().unwrap_err(), EnvelopeError::BadSignature);
                }
            }
        }
    }
}
