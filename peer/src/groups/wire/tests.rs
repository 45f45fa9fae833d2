//! Golden goop2 JSON of peer.md §15.2 in both directions, malformed, oversize and unknown input,
//! and property tests: no payload panics the parser, and what we write parses back.

use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;

fn peer(seed: u8) -> PeerId {
    let key = libp2p::identity::Keypair::ed25519_from_bytes([seed; 32]).unwrap();
    key.public().to_peer_id()
}

fn gid() -> GroupId {
    GroupId::parse("g1").unwrap()
}

#[test]
fn topic_type_comes_from_the_suffix_and_unknown_types_are_refused() {
    let topic = Topic::parse("group:abc_1.-X:welcome").unwrap();
    assert_eq!(topic.group.as_str(), "abc_1.-X");
    assert_eq!(topic.kind, Kind::Welcome);
    assert_eq!(
        Topic::render(&topic.group, Kind::Pong),
        "group:abc_1.-X:pong"
    );
    for unknown in ["group:g:dance", "group:a:b:msg"] {
        assert_eq!(
            Topic::parse(unknown),
            Err(GroupWireError::UnknownType),
            "{unknown}"
        );
    }
    for bad in ["group::msg", "group:g", "grp:g:msg", "group:ü:msg"] {
        assert_eq!(Topic::parse(bad), Err(GroupWireError::BadTopic), "{bad}");
    }
    let long = format!("group:{}:msg", "a".repeat(65));
    assert_eq!(Topic::parse(&long), Err(GroupWireError::BadTopic));
    assert_eq!(GroupId::generate().as_str().len(), 16);
}

#[test]
fn goop2_join_and_pong_match_the_golden_json() {
    let join = GroupMsg::Join { voucher: None }.to_payload(&gid());
    assert_eq!(join, json!({"type":"join","group":"g1"}));
    let pong = GroupMsg::Pong.to_payload(&gid());
    assert_eq!(
        serde_json::to_string(&pong).unwrap(),
        r#"{"group":"g1","type":"pong"}"#
    );
    assert_eq!(
        GroupMsg::parse(Kind::Join, &json!({"type":"join","group":"g1"})).unwrap(),
        GroupMsg::Join { voucher: None }
    );
    let with = GroupMsg::Join {
        voucher: Some("a.b.c".into()),
    }
    .to_payload(&gid());
    assert_eq!(with["voucher"], "a.b.c");
}

#[test]
fn goop2_welcome_parses_and_ours_serialises_to_the_same_json() {
    let (host, us) = (peer(1).to_base58(), peer(2).to_base58());
    let golden = format!(
        r#"{{"group_name":"Chess","group_type":"template","max_members":0,"volatile":false,"members":[{{"peer_id":"{host}","role":"owner","joined_at":1767225600000}},{{"peer_id":"{us}","role":"viewer","joined_at":1767225605000}}]}}"#
    );
    let value: Value = serde_json::from_str(&golden).unwrap();
    let GroupMsg::Welcome(welcome) = GroupMsg::parse(Kind::Welcome, &value).unwrap() else {
        panic!("not a welcome");
    };
    assert_eq!(welcome.group_name, "Chess");
    assert_eq!(welcome.members[1].role, "viewer");
    assert_eq!(welcome.members[0].joined_at, 1_767_225_600_000);
    assert_eq!(serde_json::to_string(&welcome).unwrap(), golden);
    assert_eq!(GroupMsg::Welcome(welcome).to_payload(&gid()), value);
}

#[test]
fn full_error_matches_goop2_and_both_error_shapes_parse() {
    let full = GroupMsg::Error(ErrorBody::new("full", "group is full")).to_payload(&gid());
    let golden: Value = serde_json::from_str(
        r#"{"type":"error","group":"g1","payload":{"code":"full","message":"group is full"}}"#,
    )
    .unwrap();
    assert_eq!(full, golden);
    let nested = GroupMsg::parse(Kind::Error, &golden).unwrap();
    let bare = GroupMsg::parse(
        Kind::Error,
        &json!({"code":"full","message":"group is full"}),
    );
    assert_eq!(nested, bare.unwrap());
    let voucher = GroupMsg::parse(
        Kind::Error,
        &json!({"type":"error","group":"g1","payload":{"code":"voucher_required","message":"m","community":"https://h.example"}}),
    )
    .unwrap();
    assert!(
        matches!(voucher, GroupMsg::Error(e) if e.community.as_deref() == Some("https://h.example"))
    );
}

#[test]
fn members_meta_and_close_round_trip_in_goop2_shapes() {
    let members = vec![MemberInfo {
        peer_id: peer(3).to_base58(),
        name: Some("ann".into()),
        role: "viewer".into(),
        joined_at: 5,
    }];
    let payload = GroupMsg::Members(members.clone()).to_payload(&gid());
    assert_eq!(payload["members"][0]["name"], "ann");
    assert_eq!(
        GroupMsg::parse(Kind::Members, &payload).unwrap(),
        GroupMsg::Members(members)
    );
    let meta = Meta {
        group_name: "n".into(),
        group_type: "chat".into(),
        max_members: 3,
    };
    let payload = GroupMsg::Meta(meta.clone()).to_payload(&gid());
    assert_eq!(
        payload,
        json!({"group_name":"n","group_type":"chat","max_members":3})
    );
    assert_eq!(
        GroupMsg::parse(Kind::Meta, &payload).unwrap(),
        GroupMsg::Meta(meta)
    );
    assert_eq!(
        GroupMsg::Close.to_payload(&gid()),
        json!({"type":"close","group":"g1"})
    );
}

#[test]
fn relay_stamps_from_over_any_sender_value_and_leaves_non_objects() {
    let author = peer(4);
    let relayed = stamp_from(&json!({"move":"e2e4"}), &author);
    assert_eq!(relayed, json!({"move":"e2e4","_from": author.to_base58()}));
    let forged = stamp_from(&json!({"_from": peer(5).to_base58()}), &author);
    assert_eq!(forged["_from"], author.to_base58());
    assert_eq!(stamp_from(&json!([1, 2]), &author), json!([1, 2]));
    assert_eq!(
        addressee(&json!({"_to": author.to_base58()})),
        Some(Ok(author))
    );
    assert_eq!(addressee(&json!({"_to": 5})), Some(Err(())));
    assert_eq!(addressee(&json!({"x": 1})), None);
}

#[test]
fn invite_matches_goop2_and_refuses_bad_ids() {
    let host = peer(6);
    let golden = json!({"group_id":"g1","group_name":"Room","host_peer_id":host.to_base58(),"group_type":"chat","volatile":false});
    let (invite, group, from) = Invite::parse(&golden).unwrap();
    assert_eq!((group.as_str(), from), ("g1", host));
    assert_eq!(serde_json::to_value(&invite).unwrap(), golden);
    let mut bad = golden.clone();
    bad["host_peer_id"] = json!("QmNotEd25519");
    assert!(Invite::parse(&bad).is_err());
    bad = golden;
    bad["group_id"] = json!("a:b");
    assert!(Invite::parse(&bad).is_err());
    assert!(Invite::parse(&json!("x")).is_err());
}

#[test]
fn malformed_payloads_are_refused() {
    let cases = [
        (Kind::Join, json!("join")),
        (Kind::Join, json!({"voucher": 5})),
        (Kind::Join, json!({"voucher": "x".repeat(MAX_VOUCHER + 1)})),
        (Kind::Welcome, json!({"group_type":"chat"})),
        (
            Kind::Welcome,
            json!({"group_name":"n","group_type":"t","members":[{"peer_id":"nope","role":"r"}]}),
        ),
        (Kind::Members, json!({"members": 5})),
        (Kind::Members, json!([])),
        (Kind::Error, json!({"message":"no code"})),
        (Kind::Error, json!({"code":""})),
        (Kind::Meta, json!({"group_name": 1})),
        (Kind::Leave, json!(null)),
        (Kind::Ping, json!([])),
    ];
    for (kind, payload) in cases {
        assert!(
            matches!(
                GroupMsg::parse(kind, &payload),
                Err(GroupWireError::Malformed(..))
            ),
            "{kind:?} {payload}"
        );
    }
}

#[test]
fn lying_member_lists_are_refused() {
    let id = peer(7).to_base58();
    let twice = json!({"members":[{"peer_id":id,"role":"a"},{"peer_id":id,"role":"b"}]});
    assert!(GroupMsg::parse(Kind::Members, &twice).is_err());
    let many: Vec<Value> = (0..=MAX_MEMBERS)
        .map(|i| json!({"peer_id": peer((i % 250) as u8).to_base58(), "role":"r"}))
        .collect();
    assert!(GroupMsg::parse(Kind::Members, &json!({ "members": many })).is_err());
}

#[test]
fn oversize_msg_and_state_are_refused_at_their_limits() {
    let fits = json!("x".repeat(MAX_MSG - 2));
    assert!(GroupMsg::parse(Kind::Msg, &fits).is_ok());
    let over = json!("x".repeat(MAX_MSG - 1));
    assert_eq!(
        GroupMsg::parse(Kind::Msg, &over),
        Err(GroupWireError::TooLarge(MAX_MSG))
    );
    assert!(GroupMsg::parse(Kind::State, &over).is_ok());
    let over_state = json!({"s": "x".repeat(MAX_STATE)});
    assert_eq!(
        GroupMsg::parse(Kind::State, &over_state),
        Err(GroupWireError::TooLarge(MAX_STATE))
    );
}

fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        "(?s).{0,40}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 40, 8, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..8).prop_map(Value::from),
            proptest::collection::btree_map(
                prop_oneof![
                    Just("type".to_owned()),
                    Just("group".to_owned()),
                    Just("payload".to_owned()),
                    Just("code".to_owned()),
                    Just("members".to_owned()),
                    Just("group_name".to_owned()),
                    Just("group_type".to_owned()),
                    Just("voucher".to_owned()),
                    "[a-z_]{1,8}",
                ],
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn hostile_payloads_never_panic_any_parser(payload in any_json(), topic in "(?s).{0,80}") {
        for kind in Kind::ALL {
            let _ = GroupMsg::parse(kind, &payload);
        }
        let _ = Invite::parse(&payload);
        let _ = Topic::parse(&topic);
        let _ = addressee(&payload);
    }

    #[test]
    fn what_we_write_parses_back(name in "[a-zA-Z ]{0,20}", max in 0u32..300, code in "[a-z_]{1,20}", msg in any_json()) {
        let g = gid();
        let members = vec![MemberInfo { peer_id: peer(9).to_base58(), name: None, role: "owner".into(), joined_at: 1 }];
        let sent = [
            GroupMsg::Join { voucher: Some("v".into()) },
            GroupMsg::Welcome(Welcome { group_name: name.clone(), group_type: "chat".into(), group_context: None, max_members: max, volatile: true, members: members.clone(), state: Some(json!({"k": 1})) }),
            GroupMsg::Error(ErrorBody::new(&code, "m")),
            GroupMsg::Members(members),
            GroupMsg::Meta(Meta { group_name: name, group_type: "x".into(), max_members: max }),
            GroupMsg::Msg(msg.clone()),
            GroupMsg::State(msg),
            GroupMsg::Leave, GroupMsg::Close, GroupMsg::Ping, GroupMsg::Pong,
        ];
        for message in sent {
            let payload = message.to_payload(&g);
            prop_assert_eq!(GroupMsg::parse(message.kind(), &payload).unwrap(), message);
        }
    }
}
