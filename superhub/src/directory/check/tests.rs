//! Rows 1–10 of §3.1 one by one, and the first failing row deciding when a payload breaks two.

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
