use proptest::prelude::*;
use serde_json::json;

use super::*;

/// peer.md §15.1 item 2, exactly.
const GOLDEN_MSG: &str = r#"{"type":"msg","id":"6b0f3a2e-3f7c-4a54-9d8e-2b1f4c9a7e10","seq":1,"topic":"chat","payload":{"content":"hello from js"}}"#;
const GOLDEN_ACK: &str = r#"{"type":"ack","id":"6b0f3a2e-3f7c-4a54-9d8e-2b1f4c9a7e10","seq":1}"#;

fn read(bytes: &[u8], max: usize) -> Result<Vec<u8>, ReadLineError> {
    futures::executor::block_on(read_line(&mut futures::io::Cursor::new(bytes), max))
}

#[test]
fn golden_msg_parses_and_answers_the_golden_ack() {
    let msg = parse_msg(GOLDEN_MSG.as_bytes()).unwrap();

    assert_eq!(msg.id.as_str(), "6b0f3a2e-3f7c-4a54-9d8e-2b1f4c9a7e10");
    assert_eq!(msg.seq, 1);
    assert_eq!(msg.topic, "chat");
    assert_eq!(msg.payload, json!({"content": "hello from js"}));
    assert_eq!(msg.ack_line(), format!("{GOLDEN_ACK}\n").into_bytes());
    assert_eq!(msg.to_line(), format!("{GOLDEN_MSG}\n").into_bytes());
    assert_eq!(
        parse_ack(GOLDEN_ACK.as_bytes()).unwrap(),
        (msg.id.to_string(), 1)
    );
}

#[test]
fn read_line_accepts_lf_crlf_and_eof_and_ignores_what_follows() {
    assert_eq!(read(b"{}\nrest", 64).unwrap(), b"{}");
    assert_eq!(read(b"{}\r\n", 64).unwrap(), b"{}");
    assert_eq!(read(b"{}", 64).unwrap(), b"{}");
    assert!(matches!(read(b"", 64), Err(ReadLineError::Empty)));
}

#[test]
fn read_line_stops_at_the_limit_terminator_included() {
    assert_eq!(read(b"abc\n", 4).unwrap(), b"abc");
    assert!(matches!(read(b"abcd\n", 4), Err(ReadLineError::TooLong(4))));
    let huge = vec![b'x'; 3 * MAX_LINE];
    assert!(matches!(
        read(&huge, MAX_LINE),
        Err(ReadLineError::TooLong(_))
    ));
}

#[test]
fn malformed_lines_are_refused() {
    let bad: &[&[u8]] = &[
        b"\xEF\xBB\xBF{\"type\":\"msg\",\"id\":\"6b0f3a2e-3f7c-4a54-9d8e-2b1f4c9a7e10\",\"topic\":\"t\"}",
        br#"{"type":"msg","type":"msg","id":"6b0f3a2e-3f7c-4a54-9d8e-2b1f4c9a7e10","topic":"t"}"#,
        br#"{"type":"msg","id":"6b0f3a2e-3f7c-4a54-9d8e-2b1f4c9a7e10","topic":"t","payload":{"a":1,"a":2}}"#,
        br#"{"type":"msg","id":"6b0f3a2e-3f7c-4a54-9d8e-2b1f4c9a7e10","topic":"t"} x"#,
        br#"{"type":"msg","id":"6b0f3a2e-3f7c-4a54-9d8e-2b1f4c9a7e10","topic":"t"}{}"#,
        b"{\"type\":\"msg\",\"id\":\"6b0f3a2e-3f7c-4a54-9d8e-2b1f4c9a7e10\",\"topic\":\"\xff\"}",
        br#"{"type":"ack","id":"6b0f3a2e-3f7c-4a54-9d8e-2b1f4c9a7e10","topic":"t"}"#,
        br#"{"id":"6b0f3a2e-3f7c-4a54-9d8e-2b1f4c9a7e10","topic":"t"}"#,
        br#"{"type":"msg","topic":"t"}"#,
        br#"{"type":"msg","id":"6B0F3A2E-3F7C-4A54-9D8E-2B1F4C9A7E10","topic":"t"}"#,
        br#"{"type":"msg","id":"not-a-uuid","topic":"t"}"#,
        br#"{"type":"msg","id":"6b0f3a2e-3f7c-4a54-9d8e-2b1f4c9a7e10"}"#,
        br#"{"type":"msg","id":"6b0f3a2e-3f7c-4a54-9d8e-2b1f4c9a7e10","topic":"a b"}"#,
        br#"{"type":"msg","id":"6b0f3a2e-3f7c-4a54-9d8e-2b1f4c9a7e10","topic":"a\u0007"}"#,
        br#"{"type":"msg","id":"6b0f3a2e-3f7c-4a54-9d8e-2b1f4c9a7e10","topic":""}"#,
        br#"{"type":"msg","id":"6b0f3a2e-3f7c-4a54-9d8e-2b1f4c9a7e10","topic":7}"#,
        br#"{"type":"msg","id":"6b0f3a2e-3f7c-4a54-9d8e-2b1f4c9a7e10","topic":"t","seq":1.5}"#,
        br#"["type","msg"]"#,
        b"",
    ];
    for line in bad {
        assert!(
            parse_msg(line).is_err(),
            "accepted {}",
            String::from_utf8_lossy(line)
        );
    }
}

#[test]
fn optional_fields_default_and_unknown_fields_are_ignored() {
    let msg = parse_msg(
        br#" {"type":"msg","id":"6b0f3a2e-3f7c-4a54-9d8e-2b1f4c9a7e10","topic":"x","extra":[1]} "#,
    )
    .unwrap();
    assert_eq!((msg.seq, msg.payload), (0, Value::Null));
}

#[test]
fn topic_is_limited_to_256_bytes() {
    assert!(valid_topic(&"t".repeat(MAX_TOPIC)));
    assert!(!valid_topic(&"t".repeat(MAX_TOPIC + 1)));
    assert!(valid_topic("group:abc:msg"));
    assert!(!valid_topic("tab\there"));
}

#[test]
fn msg_id_round_trips_and_is_v4() {
    let id = MsgId::new();
    assert_eq!(MsgId::parse(id.as_str()), Some(id.clone()));
    assert_eq!(
        uuid::Uuid::parse_str(id.as_str())
            .unwrap()
            .get_version_num(),
        4
    );
}

fn hostile_line() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..512),
        "(?s).{0,256}".prop_map(String::into_bytes),
        (0usize..200).prop_map(|n| "[".repeat(n).into_bytes()),
        (
            "[a-z]{0,8}",
            "(?s).{0,40}",
            proptest::option::of(any::<i64>())
        )
            .prop_map(|(kind, topic, seq)| {
                json!({"type": kind, "id": MsgId::new().as_str(), "topic": topic, "seq": seq})
                    .to_string()
                    .into_bytes()
            }),
    ]
}

proptest! {
    #[test]
    fn hostile_lines_never_panic_the_parsers(line in hostile_line()) {
        let _ = parse_msg(&line);
        let _ = parse_ack(&line);
        let _ = read(&line, 64);
    }

    #[test]
    fn any_valid_message_round_trips(topic in "[!-~]{1,64}", seq in any::<i64>(), text in "(?s).{0,64}") {
        let msg = Msg { id: MsgId::new(), seq, topic, payload: json!({"content": text}) };
        let line = msg.to_line();
        prop_assert_eq!(line.last(), Some(&b'\n'));
        prop_assert_eq!(parse_msg(&line[..line.len() - 1]).unwrap(), msg);
    }
}
