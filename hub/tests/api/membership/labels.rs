//! Device labels (hub.md §6.10): format characters that reorder or hide text are refused on the
//! join and the bind route alike, and letters of right-to-left scripts are kept as sent.

use hub::config::JoinMode;
use reqwest::StatusCode;
use serde_json::json;
use testkit::{SmtpSink, TestDb, TestHub, TestPeer, each_backend, json_of};

use super::{hub_with, member};

each_backend!(
    join_refuses_a_label_with_format_characters_and_keeps_a_right_to_left_label,
    bind_refuses_a_label_with_format_characters_and_leaves_the_code_unused,
);

/// Labels that display as something else: bidi overrides, isolates and marks, zero-width
/// characters, a byte-order mark, a line separator.
const HOSTILE: [&str; 8] = [
    "\u{202E}exe.txt",
    "laptop\u{200E}",
    "phone\u{200F}",
    "a\u{2066}b\u{2069}",
    "\u{202A}x\u{202C}",
    "zero\u{200B}width",
    "\u{FEFF}bom",
    "two\u{2028}lines",
];

async fn join_refuses_a_label_with_format_characters_and_keeps_a_right_to_left_label(db: TestDb) {
    let hub = TestHub::spawn_with(&db, |c| c.membership.join_mode = JoinMode::Open).await;
    let peer = TestPeer::new();

    let mut refusals = Vec::new();
    for label in HOSTILE {
        let (status, body) = json_of(peer.join(&hub, &json!({ "label": label })).await).await;
        refusals.push((label, status, body));
    }
    let (status, joined) = json_of(peer.join(&hub, &json!({"label": " هاتف שלי "})).await).await;
    let (_, me) = json_of(hub.get_signed("/api/v1/me", &peer).await).await;

    for (label, status, body) in refusals {
        assert_eq!(status, StatusCode::BAD_REQUEST, "{label:?}: {body}");
        assert_eq!(body["error"]["code"], "invalid_field", "{label:?}: {body}");
        assert_eq!(body["error"]["field"], "label", "{label:?}: {body}");
    }
    assert_eq!(status, 201, "{joined}");
    assert_eq!(me["peers"][0]["label"], "هاتف שלי", "{me}");
}

async fn bind_refuses_a_label_with_format_characters_and_leaves_the_code_unused(db: TestDb) {
    let sink = SmtpSink::start().await;
    let hub = hub_with(&db, JoinMode::Email, &sink).await;
    let (laptop, _) = member(&hub, &sink, "ann@example.org").await;
    let (_, created) = json_of(
        hub.post_signed("/api/v1/me/bind-codes", &json!({}), &laptop)
            .await,
    )
    .await;
    let code = created["code"].as_str().unwrap().to_owned();
    let phone = TestPeer::new();

    let (refused, body) = json_of(
        phone
            .bind(&hub, &json!({"bind_code": code, "label": "\u{202E}enohp"}))
            .await,
    )
    .await;
    let (bound, _) = json_of(
        phone
            .bind(&hub, &json!({"bind_code": code, "label": "טלפון"}))
            .await,
    )
    .await;
    let (_, me) = json_of(hub.get_signed("/api/v1/me", &laptop).await).await;

    assert_eq!(refused, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["code"], "invalid_field", "{body}");
    assert_eq!(body["error"]["field"], "label", "{body}");
    assert_eq!(bound, StatusCode::CREATED);
    let labels: Vec<_> = me["peers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["label"].clone())
        .collect();
    assert!(labels.contains(&json!("טלפון")), "{me}");
}
