//! Property tests of hub records and tombstones (hub.md §11.3) beyond `tests::properties`: any
//! value in any field of a signed record is answered without a panic, an accepted record keeps
//! every rule and survives its own encoding, and bounded fields refuse input over the limit.

use libp2p::identity::ed25519;
use proptest::prelude::*;
use serde_json::{Value, json};

use super::{HubRecord, Tombstone};
use crate::envelope::{Envelope, EnvelopeType};
use crate::ids::Ed25519PeerId;

/// Every field of a record payload.
const FIELDS: [&str; 22] = [
    "v",
    "id",
    "seq",
    "issued_at",
    "expires_at",
    "name",
    "slug",
    "description",
    "icon_url",
    "tags",
    "languages",
    "region",
    "contact_email",
    "join_mode",
    "access",
    "plans",
    "relay",
    "multiaddrs",
    "http_url",
    "software",
    "member_count",
    "extra",
];

fn open(
    key: &ed25519::Keypair,
    kind: EnvelopeType,
    payload: &Value,
) -> Option<(HubRecord, Tombstone)> {
    let envelope = Envelope::sign(key, kind, payload.to_string());
    let verified = envelope.verify().expect("signed here");
    let record = HubRecord::from_verified(&verified).ok();
    let tombstone = Tombstone::from_verified(&verified).ok();
    record.zip(tombstone)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn any_value_in_any_field_is_answered_and_accepted_records_keep_the_rules(
        changes in proptest::collection::vec((prop::sample::select(FIELDS.to_vec()), crate::hostile::json_value()), 1..4),
    ) {
        let key = ed25519::Keypair::generate();
        let mut payload = super::tests::record(&key);
        for (field, value) in changes {
            payload[field] = value;
        }

        let _ = open(&key, EnvelopeType::HubTombstone, &payload);
        let envelope = Envelope::sign(&key, EnvelopeType::HubRecord, payload.to_string());
        if let Ok(record) = HubRecord::from_verified(&envelope.verify().expect("signed here")) {
            prop_assert!(record.validate().is_ok());
            prop_assert!((1..=64).contains(&record.name.chars().count()));
            let again = Envelope::sign(&key, EnvelopeType::HubRecord, serde_json::to_string(&record).unwrap());
            prop_assert_eq!(HubRecord::from_verified(&again.verify().unwrap()), Ok(record));
        }
    }

    #[test]
    fn bounded_fields_refuse_input_over_the_limit(
        (field, over) in prop_oneof![
            (Just("name"), (65usize..200).prop_map(|n| json!("é".repeat(n)))),
            (Just("description"), (1001usize..1100).prop_map(|n| json!("x".repeat(n)))),
            (Just("icon_url"), (505usize..600).prop_map(|n| json!(format!("https://{}", "a".repeat(n))))),
            (Just("tags"), (11usize..20).prop_map(|n| json!(vec!["go"; n]))),
            (Just("tags"), (33usize..60).prop_map(|n| json!(["a".repeat(n)]))),
            (Just("languages"), (6usize..10).prop_map(|n| json!(vec!["en"; n]))),
            (Just("languages"), (17usize..40).prop_map(|n| json!(["a".repeat(n)]))),
            (Just("contact_email"), (250usize..300).prop_map(|n| json!(format!("{}@example.org", "a".repeat(n))))),
            (Just("http_url"), (505usize..600).prop_map(|n| json!(format!("https://{}", "a".repeat(n))))),
            (Just("seq"), ((1u64 << 53)..u64::MAX).prop_map(|n| json!(n))),
        ],
    ) {
        let key = ed25519::Keypair::generate();
        let mut payload = super::tests::record(&key);
        payload[field] = over;
        let envelope = Envelope::sign(&key, EnvelopeType::HubRecord, payload.to_string());

        let refusal = HubRecord::from_verified(&envelope.verify().unwrap()).unwrap_err();

        prop_assert_eq!(refusal.field, field);
    }

    #[test]
    fn tombstone_reason_over_200_characters_is_refused(n in 201usize..400) {
        let key = ed25519::Keypair::generate();
        let id = Ed25519PeerId::from(key.public()).to_string();
        let payload = json!({"v": 1, "id": id, "seq": 1, "issued_at": 1, "reason": "é".repeat(n)});
        let envelope = Envelope::sign(&key, EnvelopeType::HubTombstone, payload.to_string());

        let refusal = Tombstone::from_verified(&envelope.verify().unwrap()).unwrap_err();

        prop_assert_eq!(refusal.field, "reason");
    }
}
