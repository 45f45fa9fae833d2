//! Rows 1–10 of superhub.md §3.1, in order, the first failure deciding: what makes an envelope a
//! record or tombstone this directory may store. Registration and federation both pass through
//! [`check`], so a record pulled from a peer meets exactly the rules of a direct registration.

use shared::envelope::{Envelope, EnvelopeError, EnvelopeType, Verified};
use shared::error_code::ErrorCode;
use shared::record::{HubRecord, Tombstone};

use crate::config::DirectoryConfig;

/// A refused envelope: the §3.1 code, the payload field for `invalid_field`, and a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct Refusal {
    /// The error code of the row that failed.
    pub code: ErrorCode,
    /// The payload field at fault (`invalid_field`, `expired` on lifetime).
    pub field: Option<&'static str>,
    /// What was wrong, for the error body and the log.
    pub message: String,
}

impl Refusal {
    fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            field: None,
            message: message.into(),
        }
    }

    fn field(code: ErrorCode, field: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            field: Some(field),
            message: message.into(),
        }
    }
}

/// A checked envelope and what it carries.
// One lives per request or feed item and moves once: boxing the record would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Checked {
    /// A hub record.
    Record(Envelope, HubRecord),
    /// A hub's tombstone.
    Tombstone(Envelope, Tombstone),
}

impl Checked {
    /// The hub the item is about.
    pub fn hub_id(&self) -> &str {
        match self {
            Self::Record(_, r) => &r.id,
            Self::Tombstone(_, t) => &t.id,
        }
    }

    /// The envelope as received.
    pub fn envelope(&self) -> &Envelope {
        match self {
            Self::Record(e, _) | Self::Tombstone(e, _) => e,
        }
    }

    /// `hub-record` or `hub-tombstone`.
    pub fn type_label(&self) -> &'static str {
        match self {
            Self::Record(..) => EnvelopeType::HubRecord.as_str(),
            Self::Tombstone(..) => EnvelopeType::HubTombstone.as_str(),
        }
    }
}

/// Runs rows 1–10 of §3.1 over the JSON bytes of an envelope at `now_ms`.
///
/// # Errors
/// [`Refusal`] of the first row that fails.
pub fn check(bytes: &[u8], policy: &DirectoryConfig, now_ms: i64) -> Result<Checked, Refusal> {
    let envelope = Envelope::parse(bytes).map_err(|e| match e {
        EnvelopeError::TooLarge => Refusal::new(ErrorCode::PayloadTooLarge, e.to_string()),
        _ => Refusal::new(ErrorCode::InvalidEnvelope, e.to_string()),
    })?;
    check_envelope(envelope, policy, now_ms)
}

/// Rows 2–10 for an envelope that already parsed (a federation item carries it as a JSON value).
///
/// # Errors
/// [`Refusal`] of the first row that fails.
pub fn check_envelope(
    envelope: Envelope,
    policy: &DirectoryConfig,
    now_ms: i64,
) -> Result<Checked, Refusal> {
    match EnvelopeType::parse(&envelope.kind) {
        Some(EnvelopeType::HubRecord | EnvelopeType::HubTombstone) => {}
        _ => {
            return Err(Refusal::new(
                ErrorCode::UnsupportedType,
                "type must be hub-record or hub-tombstone",
            ));
        }
    }
    let verified = envelope.verify().map_err(|e| match e {
        EnvelopeError::BadSigner => Refusal::new(ErrorCode::UnsupportedPeerId, e.to_string()),
        _ => Refusal::new(ErrorCode::BadSignature, e.to_string()),
    })?;
    check_payload_head(&verified)?;
    let checked = match verified.kind {
        EnvelopeType::HubRecord => {
            let record = HubRecord::from_verified(&verified).map_err(invalid_field)?;
            check_times(record.issued_at, Some(record.expires_at), policy, now_ms)?;
            if policy.require_https && !record.http_url.starts_with("https://") {
                return Err(Refusal::new(
                    ErrorCode::HttpsRequired,
                    "this directory lists only https hubs",
                ));
            }
            Checked::Record(envelope.clone(), record)
        }
        _ => {
            let tombstone = Tombstone::from_verified(&verified).map_err(invalid_field)?;
            check_times(tombstone.issued_at, None, policy, now_ms)?;
            Checked::Tombstone(envelope.clone(), tombstone)
        }
    };
    Ok(checked)
}

/// Rows 5 and 6: a JSON object with `"v":1` whose `id` is the signer.
fn check_payload_head(verified: &Verified<'_>) -> Result<(), Refusal> {
    let value: serde_json::Value = serde_json::from_str(verified.payload)
        .map_err(|e| Refusal::new(ErrorCode::InvalidPayload, format!("payload: {e}")))?;
    let object = value
        .as_object()
        .ok_or_else(|| Refusal::new(ErrorCode::InvalidPayload, "payload must be a JSON object"))?;
    if object.get("v").and_then(serde_json::Value::as_u64) != Some(1) {
        return Err(Refusal::new(
            ErrorCode::InvalidPayload,
            "payload must carry \"v\":1",
        ));
    }
    if object.get("id").and_then(serde_json::Value::as_str) != Some(&verified.signer.to_string()) {
        return Err(Refusal::new(
            ErrorCode::IdMismatch,
            "payload.id must equal the envelope's signer",
        ));
    }
    Ok(())
}

/// Row 7.
fn invalid_field(e: shared::record::InvalidRecord) -> Refusal {
    Refusal::field(ErrorCode::InvalidField, e.field, e.to_string())
}

/// Rows 8 and 9.
fn check_times(
    issued_at: i64,
    expires_at: Option<i64>,
    policy: &DirectoryConfig,
    now_ms: i64,
) -> Result<(), Refusal> {
    let skew = i64::try_from(policy.max_future_skew.as_millis()).unwrap_or(i64::MAX);
    if issued_at > now_ms.saturating_add(skew) {
        return Err(Refusal::field(
            ErrorCode::FutureIssuedAt,
            "issued_at",
            "issued_at lies too far in the future",
        ));
    }
    let Some(expires_at) = expires_at else {
        return Ok(());
    };
    if expires_at <= now_ms {
        return Err(Refusal::field(
            ErrorCode::Expired,
            "expires_at",
            "the record has expired",
        ));
    }
    let max = i64::try_from(policy.record_max_lifetime.as_millis()).unwrap_or(i64::MAX);
    let lifetime = expires_at.saturating_sub(issued_at);
    if lifetime <= 0 || lifetime > max {
        return Err(Refusal::field(
            ErrorCode::InvalidField,
            "expires_at",
            format!("a record lives at most {} s", max / 1000),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use libp2p::identity::ed25519::Keypair;
    use serde_json::{Value, json};
    use shared::envelope::Envelope;
    use testkit::record::{envelope_bytes, hub_record, sign_record, sign_tombstone};

    use super::*;

    const NOW: i64 = 1_800_000_000_000;

    fn policy() -> DirectoryConfig {
        DirectoryConfig::default()
    }

    fn refusal(bytes: &[u8]) -> (ErrorCode, Option<&'static str>) {
        let refusal = check(bytes, &policy(), NOW).expect_err("refused");
        (refusal.code, refusal.field)
    }

    fn code(bytes: &[u8]) -> ErrorCode {
        refusal(bytes).0
    }

    /// An envelope over an edited payload object, signed by `key` as `kind`.
    fn signed_payload(key: &Keypair, kind: EnvelopeType, edit: impl FnOnce(&mut Value)) -> Vec<u8> {
        let mut payload =
            serde_json::to_value(hub_record(key, "https://hub.example.org", NOW)).unwrap();
        edit(&mut payload);
        envelope_bytes(&Envelope::sign(key, kind, payload.to_string()))
    }

    #[test]
    fn check_accepts_a_valid_record_and_tombstone() {
        let key = Keypair::generate();
        let record = hub_record(&key, "https://hub.example.org", NOW);

        let checked = check(&envelope_bytes(&sign_record(&key, &record)), &policy(), NOW);
        let tomb = check(
            &envelope_bytes(&sign_tombstone(&key, 5, NOW, "bye")),
            &policy(),
            NOW,
        );

        assert!(matches!(checked, Ok(Checked::Record(_, r)) if r == record));
        assert!(matches!(tomb, Ok(Checked::Tombstone(_, t)) if t.reason == "bye"));
    }

    #[test]
    fn row_1_refuses_what_is_not_exactly_the_four_string_fields() {
        let key = Keypair::generate();
        let good: Value = serde_json::from_slice(&envelope_bytes(&sign_record(
            &key,
            &hub_record(&key, "https://hub.example.org", NOW),
        )))
        .unwrap();
        let mut extra = good.clone();
        extra["extra"] = json!("x");
        let mut missing = good.clone();
        missing.as_object_mut().unwrap().remove("sig");
        let mut number = good.clone();
        number["sig"] = json!(7);

        for bytes in [
            b"not json".to_vec(),
            b"".to_vec(),
            b"[]".to_vec(),
            b"null".to_vec(),
            extra.to_string().into_bytes(),
            missing.to_string().into_bytes(),
            number.to_string().into_bytes(),
            vec![0xff, 0xfe, b'{'],
            "[".repeat(10_000).into_bytes(),
            format!("{{\"type\":{}", "[".repeat(10_000)).into_bytes(),
        ] {
            assert_eq!(code(&bytes), ErrorCode::InvalidEnvelope, "{bytes:?}");
        }
        assert_eq!(code(&vec![b' '; MAX_BYTES + 1]), ErrorCode::PayloadTooLarge);
    }

    const MAX_BYTES: usize = shared::envelope::MAX_ENVELOPE_BYTES;

    #[test]
    fn row_2_refuses_moderation_notes_and_unknown_types_before_the_signature() {
        let key = Keypair::generate();
        let note = signed_payload(&key, EnvelopeType::ModerationNote, |_| {});
        let mut unknown: Value = serde_json::from_slice(&note).unwrap();
        unknown["type"] = json!("hub-recordx");
        unknown["sig"] = json!("broken");

        assert_eq!(code(&note), ErrorCode::UnsupportedType);
        assert_eq!(
            code(unknown.to_string().as_bytes()),
            ErrorCode::UnsupportedType
        );
    }

    #[test]
    fn row_3_refuses_signers_that_are_not_ed25519_peer_ids() {
        let key = Keypair::generate();
        let mut envelope: Value =
            serde_json::from_slice(&signed_payload(&key, EnvelopeType::HubRecord, |_| {})).unwrap();
        for signer in [
            // An RSA PeerId (sha2-256 multihash).
            "QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N",
            "not a peer id",
            "",
            &"1".repeat(5000),
        ] {
            envelope["signer"] = json!(signer);

            assert_eq!(
                code(envelope.to_string().as_bytes()),
                ErrorCode::UnsupportedPeerId
            );
        }
    }

    #[test]
    fn row_4_refuses_a_tampered_payload_or_signature() {
        let key = Keypair::generate();
        let mut envelope: Value =
            serde_json::from_slice(&signed_payload(&key, EnvelopeType::HubRecord, |_| {})).unwrap();
        let payload = envelope["payload"]
            .as_str()
            .unwrap()
            .replacen("Test", "Tost", 1);
        envelope["payload"] = json!(payload);
        let mut other_type = envelope.clone();
        other_type["type"] = json!("hub-tombstone");

        assert_eq!(
            code(envelope.to_string().as_bytes()),
            ErrorCode::BadSignature
        );
        assert_eq!(
            code(other_type.to_string().as_bytes()),
            ErrorCode::BadSignature
        );
    }

    #[test]
    fn rows_5_and_6_refuse_payload_heads_and_the_earlier_row_decides() {
        let key = Keypair::generate();
        let not_object = envelope_bytes(&Envelope::sign(
            &key,
            EnvelopeType::HubRecord,
            "[1]".to_owned(),
        ));
        let not_json = envelope_bytes(&Envelope::sign(
            &key,
            EnvelopeType::HubRecord,
            "{".to_owned(),
        ));
        let v2 = signed_payload(&key, EnvelopeType::HubRecord, |p| p["v"] = json!(2));
        let v2_and_other_id = signed_payload(&key, EnvelopeType::HubRecord, |p| {
            p["v"] = json!(2);
            p["id"] = json!("12D3KooWSomeoneElse");
        });
        let other_id = signed_payload(&key, EnvelopeType::HubRecord, |p| {
            p["id"] = json!(testkit::record::hub_id(&Keypair::generate()));
        });

        let nested = envelope_bytes(&Envelope::sign(
            &key,
            EnvelopeType::HubRecord,
            "[".repeat(10_000),
        ));

        assert_eq!(code(&nested), ErrorCode::InvalidPayload);
        assert_eq!(code(&not_object), ErrorCode::InvalidPayload);
        assert_eq!(code(&not_json), ErrorCode::InvalidPayload);
        assert_eq!(code(&v2), ErrorCode::InvalidPayload);
        assert_eq!(code(&v2_and_other_id), ErrorCode::InvalidPayload);
        assert_eq!(code(&other_id), ErrorCode::IdMismatch);
    }

    #[test]
    fn row_7_names_the_field_and_decides_before_the_times() {
        let key = Keypair::generate();
        let bad_slug = signed_payload(&key, EnvelopeType::HubRecord, |p| {
            p["slug"] = json!("-Bad-");
        });
        let bad_tags = signed_payload(&key, EnvelopeType::HubRecord, |p| {
            p["tags"] = json!(["UPPER"]);
        });
        let bad_slug_and_future = signed_payload(&key, EnvelopeType::HubRecord, |p| {
            p["slug"] = json!("x");
            p["issued_at"] = json!(NOW + 600_000);
        });
        let long_reason = envelope_bytes(&sign_tombstone(&key, 1, NOW, &"r".repeat(201)));

        assert_eq!(refusal(&bad_slug), (ErrorCode::InvalidField, Some("slug")));
        assert_eq!(refusal(&bad_tags), (ErrorCode::InvalidField, Some("tags")));
        assert_eq!(
            refusal(&bad_slug_and_future),
            (ErrorCode::InvalidField, Some("slug"))
        );
        assert_eq!(
            refusal(&long_reason),
            (ErrorCode::InvalidField, Some("reason"))
        );
    }

    #[test]
    fn rows_8_and_9_check_issue_time_expiry_and_lifetime_in_order() {
        let key = Keypair::generate();
        let future = signed_payload(&key, EnvelopeType::HubRecord, |p| {
            p["issued_at"] = json!(NOW + 600_000);
            p["expires_at"] = json!(NOW + 1_200_000);
        });
        let within_skew = signed_payload(&key, EnvelopeType::HubRecord, |p| {
            p["issued_at"] = json!(NOW + 240_000);
        });
        let expired = signed_payload(&key, EnvelopeType::HubRecord, |p| {
            p["issued_at"] = json!(NOW - 7_200_000);
            p["expires_at"] = json!(NOW);
        });
        let three_hours = signed_payload(&key, EnvelopeType::HubRecord, |p| {
            p["expires_at"] = json!(NOW + 3 * 3_600_000);
        });
        let backwards = signed_payload(&key, EnvelopeType::HubRecord, |p| {
            p["issued_at"] = json!(NOW + 60_000);
            p["expires_at"] = json!(NOW + 30_000);
        });
        let future_tombstone = envelope_bytes(&sign_tombstone(&key, 1, NOW + 600_000, ""));

        assert_eq!(
            refusal(&future),
            (ErrorCode::FutureIssuedAt, Some("issued_at"))
        );
        assert!(check(&within_skew, &policy(), NOW).is_ok());
        assert_eq!(code(&expired), ErrorCode::Expired);
        assert_eq!(
            refusal(&three_hours),
            (ErrorCode::InvalidField, Some("expires_at"))
        );
        assert_eq!(
            refusal(&backwards),
            (ErrorCode::InvalidField, Some("expires_at"))
        );
        assert_eq!(code(&future_tombstone), ErrorCode::FutureIssuedAt);
    }

    #[test]
    fn row_10_refuses_plain_http_only_when_https_is_required_and_after_expiry() {
        let key = Keypair::generate();
        let plain = envelope_bytes(&sign_record(
            &key,
            &hub_record(&key, "http://hub.example.org", NOW),
        ));
        let plain_expired = signed_payload(&key, EnvelopeType::HubRecord, |p| {
            p["http_url"] = json!("http://hub.example.org");
            p["issued_at"] = json!(NOW - 7_200_000);
            p["expires_at"] = json!(NOW - 1);
        });
        let lenient = DirectoryConfig {
            require_https: false,
            ..policy()
        };

        assert_eq!(code(&plain), ErrorCode::HttpsRequired);
        assert_eq!(code(&plain_expired), ErrorCode::Expired);
        assert!(check(&plain, &lenient, NOW).is_ok());
    }
}
