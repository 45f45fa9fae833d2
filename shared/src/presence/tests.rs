//! Unit tests of the presence message: parsing (hub.md §5.1–5.2), class encodings (§5.6) and the
//! change fingerprint (§5.7).

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use libp2p::identity::Keypair;
use serde_json::{Value, json};

use super::parse::MAX_QUOTE_BYTES;
use super::*;
use crate::error_code::ErrorCode;

const NOW: i64 = 1_700_000_000_000;
const RSA_PEER: &str = "QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N";
const CLASSES: [Class; 3] = [Class::Admin, Class::Participant, Class::Public];

fn new_peer() -> Ed25519PeerId {
    Keypair::generate_ed25519()
        .public()
        .to_peer_id()
        .try_into()
        .unwrap()
}

fn full(peer: &Ed25519PeerId) -> Value {
    json!({
        "type": "update",
        "peerId": peer.to_string(),
        "content": "Alice's laptop\nüñí",
        "email": "alice@example.org",
        "avatarHash": "0123456789abcdef",
        "videoDisabled": true,
        "activeTemplate": "blog",
        "addrs": ["/ip4/192.0.2.1/tcp/4001", "/ip6/::1/udp/4001/quic-v1"],
        "verificationToken": "secret-token",
        "publicKey": "base64key==",
        "encryptionSupported": true,
        "goopClientVersion": "goop2/1.4.0",
        "ts": 1_700_000_000_123_i64,
    })
}

fn parse(value: &Value) -> Result<PresenceMsg, InvalidField> {
    PresenceMsg::parse(value.to_string().as_bytes(), NOW, None)
}

fn with(mut value: Value, key: &str, field: Value) -> Value {
    value[key] = field;
    value
}

fn without(mut value: Value, key: &str) -> Value {
    value.as_object_mut().unwrap().remove(key);
    value
}

/// `(code, field)` of the refusal of `value`.
fn refusal(value: &Value) -> (ErrorCode, &'static str) {
    let error = parse(value).expect_err("accepted");
    (error.code, error.field)
}

/// `(code, field)` of the refusal of a full message whose `key` is set to `field`.
fn refusal_of(key: &str, field: Value) -> (ErrorCode, &'static str) {
    refusal(&with(full(&new_peer()), key, field))
}

fn keys(json: &str) -> BTreeSet<String> {
    let value: Value = serde_json::from_str(json).unwrap();
    value.as_object().unwrap().keys().cloned().collect()
}

#[test]
fn parse_keeps_every_field_when_message_is_full() {
    let peer = new_peer();

    let msg = parse(&full(&peer)).unwrap();

    let addrs = ["/ip4/192.0.2.1/tcp/4001", "/ip6/::1/udp/4001/quic-v1"];
    assert_eq!(
        (msg.kind, msg.peer_id, msg.ts),
        (MsgType::Update, peer, 1_700_000_000_123)
    );
    assert_eq!(msg.content, "Alice's laptop\nüñí");
    assert_eq!(msg.email, "alice@example.org");
    assert_eq!(msg.avatar_hash, "0123456789abcdef");
    assert_eq!(msg.active_template, "blog");
    assert_eq!(msg.addrs, addrs);
    assert_eq!(msg.public_key, "base64key==");
    assert_eq!(msg.goop_client_version, "goop2/1.4.0");
    assert!(msg.video_disabled && msg.encryption_supported);
    assert!(msg.target.is_none() && !msg.verified);
}

#[test]
fn to_json_round_trips_when_class_is_admin() {
    let msg = parse(&full(&new_peer())).unwrap();

    let json = msg.to_json(msg.kind, Class::Admin);

    assert_eq!(PresenceMsg::parse(json.as_bytes(), 1, None).unwrap(), msg);
}

#[test]
fn to_json_drops_only_email_when_class_is_participant() {
    let msg = parse(&full(&new_peer())).unwrap();

    let json = msg.to_json(msg.kind, Class::Participant);

    let back = PresenceMsg::parse(json.as_bytes(), 1, None).unwrap();
    assert_eq!(
        back,
        PresenceMsg {
            email: String::new(),
            ..msg
        }
    );
    assert!(!json.contains("alice@example.org"));
}

#[test]
fn to_json_sends_public_subset_when_class_is_public() {
    let msg = PresenceMsg {
        verified: true,
        ..parse(&full(&new_peer())).unwrap()
    };

    let json = msg.to_json(msg.kind, Class::Public);

    let expected = [
        "type",
        "peerId",
        "content",
        "avatarHash",
        "activeTemplate",
        "verified",
        "ts",
    ];
    assert_eq!(keys(&json), expected.map(String::from).into());
}

#[test]
fn to_json_sends_email_only_when_class_is_admin() {
    let msg = parse(&full(&new_peer())).unwrap();

    let seen = CLASSES.map(|class| keys(&msg.to_json(msg.kind, class)).contains("email"));

    assert_eq!(seen, [true, false, false]);
}

#[test]
fn to_json_never_sends_verification_token_when_client_sent_one() {
    let msg = parse(&full(&new_peer())).unwrap();

    let sent = CLASSES.map(|class| msg.to_json(msg.kind, class));

    for json in sent {
        assert!(
            !json.contains("verificationToken") && !json.contains("secret-token"),
            "{json}"
        );
    }
}

#[test]
fn to_json_omits_empty_false_and_unverified_when_fields_are_unset() {
    let peer = new_peer();
    let minimal = json!({"type": "online", "peerId": peer.to_string(), "videoDisabled": false, "addrs": [], "content": ""});
    let msg = parse(&minimal).unwrap();

    let json = msg.to_json(msg.kind, Class::Admin);

    assert_eq!(
        json,
        format!(r#"{{"type":"online","peerId":"{peer}","ts":{NOW}}}"#)
    );
}

#[test]
fn to_json_sends_verified_when_hub_set_it() {
    let msg = PresenceMsg {
        verified: true,
        ..PresenceMsg::offline(new_peer(), NOW)
    };

    let json = msg.to_json(MsgType::Online, Class::Public);

    assert!(json.ends_with(r#""verified":true}"#), "{json}");
}

#[test]
fn to_json_uses_given_kind_when_it_differs_from_received_type() {
    let msg = parse(&full(&new_peer())).unwrap();

    let json = msg.to_json(MsgType::Online, Class::Participant);

    assert!(json.starts_with(r#"{"type":"online","#), "{json}");
}

#[test]
fn parse_accepts_limit_and_refuses_one_over_when_field_has_length_limit() {
    let text = |unit: &str, count: usize| json!(unit.repeat(count));
    let dns = |len: usize| format!("/dns4/{}/tcp/4001", "a".repeat(len - 15));
    let addrs = |count: usize| json!(vec!["/ip4/10.0.0.1/tcp/1"; count]);
    let cases = [
        ("content", text("a", 4096), text("a", 4097)),
        ("content", text("é", 2048), text("é", 2049)),
        ("email", text("e", 320), text("e", 321)),
        ("avatarHash", text("f", 64), text("f", 65)),
        ("activeTemplate", text("t", 256), text("t", 257)),
        ("goopClientVersion", text("v", 64), text("v", 65)),
        ("publicKey", text("é", 128), text("é", 129)),
        ("verificationToken", text("k", 4096), text("k", 4097)),
        ("addrs", json!([dns(256)]), json!([dns(257)])),
        ("addrs", addrs(20), addrs(21)),
    ];

    for (key, at_limit, over) in cases {
        let accepted = parse(&with(full(&new_peer()), key, at_limit));
        let refused = refusal_of(key, over);

        assert!(accepted.is_ok(), "{key} at limit: {accepted:?}");
        assert_eq!(refused, (ErrorCode::InvalidField, key));
    }
}

#[test]
fn parse_refuses_avatar_hash_when_not_lower_case_hex() {
    for bad in ["ABCDEF", "0123xyz", "ab cd"] {
        assert_eq!(
            refusal_of("avatarHash", json!(bad)),
            (ErrorCode::InvalidField, "avatarHash"),
            "{bad}"
        );
    }
}

#[test]
fn parse_refuses_body_when_not_json() {
    for bad in [
        &b"{"[..],
        b"",
        b"online",
        b"{\"type\":\"online\",}",
        b"\"\xff\"",
    ] {
        let error = PresenceMsg::parse(bad, NOW, None).unwrap_err();

        assert_eq!((error.code, error.field), (ErrorCode::InvalidJson, "body"));
    }
}

#[test]
fn parse_refuses_body_when_not_an_object() {
    for bad in [json!([]), json!("online"), json!(5), json!(null)] {
        assert_eq!(refusal(&bad), (ErrorCode::InvalidJson, "body"), "{bad}");
    }
}

#[test]
fn parse_refuses_key_when_json_type_is_wrong() {
    let cases = [
        ("type", json!(1)),
        ("peerId", json!(5)),
        ("content", json!(5)),
        ("email", json!(true)),
        ("avatarHash", json!(["ab"])),
        ("videoDisabled", json!("yes")),
        ("activeTemplate", json!({})),
        ("addrs", json!("/ip4/10.0.0.1/tcp/1")),
        ("addrs", json!([1])),
        ("verificationToken", json!(1)),
        ("publicKey", json!(1.5)),
        ("encryptionSupported", json!(1)),
        ("goopClientVersion", json!(false)),
        ("ts", json!("1700000000000")),
        ("ts", json!(1.5)),
        ("ts", json!(u64::MAX)),
        ("verified", json!("yes")),
    ];

    for (key, value) in cases {
        assert_eq!(refusal_of(key, value), (ErrorCode::InvalidField, key));
    }
}

#[test]
fn parse_refuses_string_when_it_contains_nul() {
    let keys = [
        "content",
        "email",
        "activeTemplate",
        "verificationToken",
        "publicKey",
        "goopClientVersion",
    ];

    for key in keys {
        assert_eq!(
            refusal_of(key, json!("a\u{0}b")),
            (ErrorCode::InvalidField, key)
        );
    }
    let addrs = json!(["/ip4/10.0.0.1/tcp/1\u{0}"]);
    assert_eq!(
        refusal_of("addrs", addrs),
        (ErrorCode::InvalidField, "addrs")
    );
}

#[test]
fn parse_refuses_addrs_when_entry_is_not_a_multiaddr() {
    for bad in ["", "not an addr", "/ip4/999.0.0.1/tcp/1", "ip4/10.0.0.1"] {
        assert_eq!(
            refusal_of("addrs", json!([bad])),
            (ErrorCode::InvalidField, "addrs"),
            "{bad}"
        );
    }
}

#[test]
fn parse_refuses_type_when_not_sendable_by_clients() {
    for bad in ["punch", "ONLINE", "challenge", ""] {
        assert_eq!(
            refusal_of("type", json!(bad)),
            (ErrorCode::InvalidField, "type"),
            "{bad}"
        );
    }
    assert_eq!(
        refusal(&without(full(&new_peer()), "type")),
        (ErrorCode::InvalidField, "type")
    );
}

#[test]
fn parse_refuses_target_when_client_sends_one() {
    let target = json!(new_peer().to_string());

    assert_eq!(
        refusal_of("target", target),
        (ErrorCode::InvalidField, "target")
    );
}

#[test]
fn parse_reports_unsupported_peer_id_when_key_is_rsa() {
    assert_eq!(
        refusal_of("peerId", json!(RSA_PEER)),
        (ErrorCode::UnsupportedPeerId, "peerId")
    );
}

#[test]
fn parse_reports_invalid_field_when_peer_id_is_garbage() {
    for bad in ["12D3KooW!!!", "hello", &"1".repeat(10_000)] {
        assert_eq!(
            refusal_of("peerId", json!(bad)),
            (ErrorCode::InvalidField, "peerId"),
            "{bad:.20}"
        );
    }
}

#[test]
fn parse_refuses_peer_id_when_missing_without_session() {
    let absent = without(full(&new_peer()), "peerId");
    let empty = with(full(&new_peer()), "peerId", json!(""));

    for value in [absent, empty] {
        assert_eq!(refusal(&value), (ErrorCode::InvalidField, "peerId"));
    }
}

#[test]
fn parse_takes_session_peer_when_peer_id_missing_or_empty() {
    let session = new_peer();

    for value in [
        json!({"type": "online"}),
        json!({"type": "online", "peerId": ""}),
    ] {
        let msg = PresenceMsg::parse(value.to_string().as_bytes(), NOW, Some(&session));

        assert_eq!(msg.unwrap().peer_id, session);
    }
}

#[test]
fn parse_keeps_sent_peer_id_when_it_differs_from_session_peer() {
    let sent = new_peer();
    let value = json!({"type": "online", "peerId": sent.to_string()});

    let msg = PresenceMsg::parse(value.to_string().as_bytes(), NOW, Some(&new_peer()));

    assert_eq!(msg.unwrap().peer_id, sent);
}

#[test]
fn parse_ignores_verified_when_client_sends_true() {
    let msg = parse(&with(full(&new_peer()), "verified", json!(true))).unwrap();

    assert!(!msg.verified);
    assert!(!msg.to_json(msg.kind, Class::Admin).contains("verified"));
}

#[test]
fn parse_uses_now_when_ts_is_zero_absent_or_null() {
    let zero = with(full(&new_peer()), "ts", json!(0));
    let null = with(full(&new_peer()), "ts", Value::Null);

    for value in [zero, null, without(full(&new_peer()), "ts")] {
        assert_eq!(parse(&value).unwrap().ts, NOW);
    }
}

#[test]
fn parse_refuses_ts_when_negative() {
    assert_eq!(refusal_of("ts", json!(-1)), (ErrorCode::InvalidField, "ts"));
}

#[test]
fn parse_ignores_key_when_unknown() {
    let known = full(&new_peer());
    let extended = with(known.clone(), "somethingNew", json!({"nested": [1, 2]}));

    let msg = parse(&extended);

    assert_eq!(msg, parse(&known));
}

#[test]
fn parse_refuses_quickly_when_field_is_one_mib() {
    for (key, field) in [
        ("content", json!("a".repeat(1 << 20))),
        ("peerId", json!("1".repeat(1 << 20))),
    ] {
        let bytes = with(full(&new_peer()), key, field).to_string();
        let started = Instant::now();

        let error = PresenceMsg::parse(bytes.as_bytes(), NOW, None).unwrap_err();

        assert_eq!(error.field, key);
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{key}: {:?}",
            started.elapsed()
        );
    }
}

#[test]
fn error_message_stays_short_when_input_is_long() {
    let long = format!("{}\u{7}{}", "é".repeat(40), "x".repeat(10_000));

    let error = parse(&with(full(&new_peer()), "type", json!(long))).unwrap_err();

    let quoted = error.message.split('"').nth(1).unwrap();
    assert!(
        quoted.trim_end_matches('…').len() <= MAX_QUOTE_BYTES,
        "{quoted}"
    );
    assert!(error.to_string().chars().count() <= 200, "{error}");
    assert!(!error.message.contains('\u{7}'));
}

#[test]
fn fingerprint_is_equal_when_addrs_are_reordered_or_duplicated() {
    let msg = parse(&full(&new_peer())).unwrap();
    let mut addrs = msg.addrs.clone();
    addrs.reverse();
    addrs.push(addrs[0].clone());

    let reordered = PresenceMsg {
        addrs,
        ..msg.clone()
    };

    assert_eq!(reordered.fingerprint(), msg.fingerprint());
}

#[test]
fn fingerprint_is_equal_when_only_type_peer_or_ts_change() {
    let msg = parse(&full(&new_peer())).unwrap();

    let moved = PresenceMsg {
        kind: MsgType::Online,
        peer_id: new_peer(),
        ts: msg.ts + 5_000,
        ..msg.clone()
    };

    assert_eq!(moved.fingerprint(), msg.fingerprint());
}

#[test]
fn fingerprint_differs_when_any_fingerprinted_field_changes() {
    let msg = parse(&full(&new_peer())).unwrap();
    let changes: [fn(&mut PresenceMsg); 10] = [
        |m| m.content = "Bob".into(),
        |m| m.email = "bob@example.org".into(),
        |m| m.avatar_hash = "ff".into(),
        |m| m.video_disabled = false,
        |m| m.active_template = "shop".into(),
        |m| m.addrs = vec!["/ip4/192.0.2.1/tcp/4001".into()],
        |m| m.public_key = "other".into(),
        |m| m.encryption_supported = false,
        |m| m.goop_client_version = "goop2/1.5.0".into(),
        |m| m.verified = true,
    ];

    for change in changes {
        let mut other = msg.clone();
        change(&mut other);

        assert_ne!(other.fingerprint(), msg.fingerprint(), "{other:?}");
    }
}

#[test]
fn punch_encodes_goop2_shape_when_sent_to_target() {
    let (peer, target) = (new_peer(), new_peer());
    let addrs = vec!["/ip4/192.0.2.1/tcp/4001".to_owned()];

    let punch = PresenceMsg::punch(peer, target, addrs, NOW);

    let expected = format!(
        r#"{{"type":"punch","peerId":"{peer}","target":"{target}","addrs":["/ip4/192.0.2.1/tcp/4001"],"ts":{NOW}}}"#
    );
    assert_eq!(punch.to_json(MsgType::Punch, Class::Participant), expected);
}

#[test]
fn offline_encodes_exactly_three_keys_when_hub_generated() {
    let peer = new_peer();

    let offline = PresenceMsg::offline(peer, NOW);

    let expected = format!(r#"{{"type":"offline","peerId":"{peer}","ts":{NOW}}}"#);
    for class in CLASSES {
        assert_eq!(offline.to_json(MsgType::Offline, class), expected);
    }
}
