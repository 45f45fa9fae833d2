//! Property tests of the inbound presence rules (hub.md §5.1–5.2): any bytes are answered without
//! a panic, hostile values are refused naming their key, a message survives its own encoding, and
//! every bounded field refuses input over its limit.

use libp2p::identity::Keypair;
use proptest::prelude::*;
use serde_json::{Map, Value, json};

use super::{Class, PresenceMsg};
use crate::error_code::ErrorCode;
use crate::ids::Ed25519PeerId;

const NOW: i64 = 1_767_225_600_000;
/// Every key the parser reads.
const KEYS: [&str; 15] = [
    "type",
    "peerId",
    "content",
    "email",
    "avatarHash",
    "videoDisabled",
    "activeTemplate",
    "target",
    "addrs",
    "verificationToken",
    "publicKey",
    "encryptionSupported",
    "goopClientVersion",
    "ts",
    "verified",
];

fn new_peer() -> Ed25519PeerId {
    Keypair::generate_ed25519()
        .public()
        .to_peer_id()
        .try_into()
        .expect("an Ed25519 key")
}

/// Any JSON value a key might carry: hostile values, and the words `type` takes.
fn hostile_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => crate::hostile::json_value(),
        1 => prop::sample::select(vec!["online", "update", "offline", "punch", ""]).prop_map(Value::from),
    ]
}

fn valid_addr() -> impl Strategy<Value = String> {
    (any::<[u8; 4]>(), 1u16..)
        .prop_map(|(ip, port)| format!("/ip4/{}.{}.{}.{}/tcp/{port}", ip[0], ip[1], ip[2], ip[3]))
}

/// A message within every limit of §5.1, as a client sends it.
fn valid_message(peer: Ed25519PeerId) -> impl Strategy<Value = Value> {
    (
        prop::sample::select(vec!["online", "update", "offline"]),
        "[^\\x00]{0,200}",
        "[^\\x00]{0,80}",
        "[0-9a-f]{0,64}",
        any::<bool>(),
        "[^\\x00]{0,64}",
        proptest::collection::vec(valid_addr(), 0..=20),
        "[^\\x00]{0,128}",
        any::<bool>(),
        "[^\\x00]{0,16}",
        1i64..=i64::MAX,
    )
        .prop_map(
            move |(kind, content, email, avatar, video, template, addrs, key, enc, version, ts)| {
                json!({
                    "type": kind, "peerId": peer.to_string(), "content": content, "email": email,
                    "avatarHash": avatar, "videoDisabled": video, "activeTemplate": template,
                    "addrs": addrs, "verificationToken": "token", "publicKey": key,
                    "encryptionSupported": enc, "goopClientVersion": version, "ts": ts,
                })
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn parse_never_panics_on_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = PresenceMsg::parse(&bytes, NOW, None);
    }

    #[test]
    fn parse_never_panics_on_hostile_values_and_names_a_known_key(
        fields in proptest::collection::btree_map(prop::sample::select(KEYS.to_vec()), hostile_value(), 0..8),
    ) {
        let body: Map<String, Value> = fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        let session = new_peer();

        match PresenceMsg::parse(Value::Object(body).to_string().as_bytes(), NOW, Some(&session)) {
            Ok(msg) => {
                prop_assert!(!msg.verified);
                prop_assert!(msg.target.is_none());
                prop_assert!(!msg.content.contains('\0') && msg.content.len() <= 4096);
                prop_assert!(msg.addrs.len() <= 20);
            }
            Err(refusal) => {
                prop_assert!(KEYS.contains(&refusal.field), "{:?}", refusal);
                prop_assert!(refusal.message.len() <= 200, "{:?}", refusal);
            }
        }
    }

    #[test]
    fn invalid_utf8_or_lone_surrogates_are_invalid_json(
        prefix in "[a-z]{0,8}",
        bad in prop_oneof![
            Just(b"\xff".to_vec()), Just(b"\xc3\x28".to_vec()), Just(b"\xed\xa0\x80".to_vec()),
            Just(br"\ud800".to_vec()), Just(br"\udfff".to_vec()),
        ],
    ) {
        let mut bytes = format!(r#"{{"type":"online","content":"{prefix}"#).into_bytes();
        bytes.extend_from_slice(&bad);
        bytes.extend_from_slice(br#""}"#);

        let refusal = PresenceMsg::parse(&bytes, NOW, Some(&new_peer())).unwrap_err();

        prop_assert_eq!(refusal.code, ErrorCode::InvalidJson);
    }

    #[test]
    fn message_survives_its_own_encoding(
        sent in Just(new_peer()).prop_flat_map(valid_message),
    ) {
        let first = PresenceMsg::parse(sent.to_string().as_bytes(), NOW, None).unwrap();

        let encoded = first.to_json(first.kind, Class::Admin);
        let again = PresenceMsg::parse(encoded.as_bytes(), NOW + 1, None).unwrap();

        prop_assert_eq!(&again, &first);
        prop_assert_eq!(again.fingerprint(), first.fingerprint());
    }

    #[test]
    fn every_bounded_field_refuses_one_unit_over_its_limit(
        (key, over) in prop_oneof![
            (Just("content"), (4097usize..4200).prop_map(|n| json!("x".repeat(n)))),
            (Just("email"), (161usize..200).prop_map(|n| json!("é".repeat(n)))),
            (Just("avatarHash"), (65usize..100).prop_map(|n| json!("a".repeat(n)))),
            (Just("activeTemplate"), (257usize..300).prop_map(|n| json!("x".repeat(n)))),
            (Just("goopClientVersion"), (33usize..60).prop_map(|n| json!("é".repeat(n)))),
            (Just("publicKey"), (129usize..200).prop_map(|n| json!("é".repeat(n)))),
            (Just("verificationToken"), (4097usize..4200).prop_map(|n| json!("x".repeat(n)))),
            (Just("addrs"), (21usize..40).prop_map(|n| json!(vec!["/ip4/192.0.2.1/tcp/1"; n]))),
            (Just("addrs"), (257usize..300).prop_map(|n| json!([format!("/dns4/{}/tcp/1", "a".repeat(n))]))),
        ],
    ) {
        let body = json!({"type": "online", key: over});

        let refusal = PresenceMsg::parse(body.to_string().as_bytes(), NOW, Some(&new_peer())).unwrap_err();

        prop_assert_eq!(refusal.code, ErrorCode::InvalidField);
        prop_assert_eq!(refusal.field, key);
    }

    #[test]
    fn nul_in_any_text_field_is_refused(
        key in prop::sample::select(vec!["content", "email", "activeTemplate", "publicKey", "goopClientVersion"]),
        before in "[a-z]{0,8}",
        after in "[a-z]{0,8}",
    ) {
        let body = json!({"type": "update", key: format!("{before}\u{0}{after}")});

        let refusal = PresenceMsg::parse(body.to_string().as_bytes(), NOW, Some(&new_peer())).unwrap_err();

        prop_assert_eq!(refusal.field, key);
    }
}
