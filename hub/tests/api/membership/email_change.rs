//! Moving an account to another address (hub.md §6.10): an account without an address adds one by
//! signature, one with an address changes it only from a browser session, and the former address
//! gets a notice whose link moves the account back for 7 days.

use hub::config::JoinMode;
use reqwest::StatusCode;
use serde_json::json;
use testkit::{SmtpSink, TestDb, TestHub, TestPeer, code_of, each_backend, json_of, verify_token};

use super::{hub_with, link_token, member};

each_backend!(
    signed_change_needs_a_session_once_the_account_has_an_address,
    former_address_gets_an_undo_link_that_moves_the_account_back,
);

/// `POST /api/v1/me/email` from the browser session `cookie`.
async fn change_by_session(hub: &TestHub, cookie: &str, email: &str) -> reqwest::Response {
    hub.client
        .post(hub.url("/api/v1/me/email"))
        .header("cookie", cookie)
        .header("origin", &hub.base_url)
        .header("content-type", "application/json")
        .body(json!({ "email": email }).to_string())
        .send()
        .await
        .unwrap()
}

async fn signed_change_needs_a_session_once_the_account_has_an_address(db: TestDb) {
    let sink = SmtpSink::start().await;
    let hub = hub_with(&db, JoinMode::Open, &sink).await;
    let (ann, _) = member(&hub, &sink, "ann@example.org").await;
    let carl = TestPeer::new();
    let joined = carl.join(&hub, &json!({})).await;
    assert_eq!(
        joined.status(),
        StatusCode::CREATED,
        "an account without an address"
    );

    let taken = hub
        .post_signed(
            "/api/v1/me/email",
            &json!({"email": "mallory@example.org"}),
            &ann,
        )
        .await;
    let added = hub
        .post_signed(
            "/api/v1/me/email",
            &json!({"email": "carl@example.org"}),
            &carl,
        )
        .await;

    assert_eq!(
        code_of(taken).await,
        (StatusCode::FORBIDDEN, "session_required".to_owned())
    );
    assert_eq!(added.status(), StatusCode::ACCEPTED);
    let (status, body, _) = hub
        .verify(&link_token(&sink, "carl@example.org", 0).await)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, me) = json_of(hub.get_signed("/api/v1/me", &carl).await).await;
    assert_eq!(me["account"]["email"], "carl@example.org", "{me}");
    assert!(
        sink.messages()
            .iter()
            .all(|m| m.to != ["mallory@example.org"]),
        "a signature alone sends no link for an account that has an address"
    );
}

async fn former_address_gets_an_undo_link_that_moves_the_account_back(db: TestDb) {
    let sink = SmtpSink::start().await;
    let hub = hub_with(&db, JoinMode::Email, &sink).await;
    let (ann, cookie) = member(&hub, &sink, "ann@example.org").await;

    let asked = change_by_session(&hub, &cookie.unwrap(), "thief@example.org").await;
    assert_eq!(asked.status(), StatusCode::ACCEPTED);
    let (status, _, thief_cookie) = hub
        .verify(&link_token(&sink, "thief@example.org", 0).await)
        .await;
    assert_eq!(status, StatusCode::OK);
    let notice = testkit::eventually(
        super::DEADLINE,
        "the notice to the former address",
        || async {
            sink.messages()
                .into_iter()
                .filter(|m| m.to == ["ann@example.org"])
                .nth(1)
        },
    )
    .await;
    let undo = verify_token(notice.body());
    let (_, info) = json_of(hub.get(&format!("/api/v1/verify?token={undo}")).await).await;
    let (status, undone, _) = hub.verify(&undo).await;
    let (_, me) = json_of(hub.get_signed("/api/v1/me", &ann).await).await;
    let thief_session = hub
        .client
        .get(hub.url("/api/v1/me"))
        .header("cookie", thief_cookie.unwrap())
        .send()
        .await
        .unwrap();

    assert!(
        notice.body().contains("t***@example.org"),
        "{}",
        notice.body()
    );
    let lifetime = info["expires_at"].as_i64().unwrap() - testkit::now_ms();
    assert!(
        (6 * 86_400_000..=7 * 86_400_000).contains(&lifetime),
        "the undo link works for 7 days: {info}"
    );
    assert_eq!(status, StatusCode::OK, "{undone}");
    assert_eq!(me["account"]["email"], "ann@example.org", "{me}");
    assert_eq!(
        thief_session.status(),
        StatusCode::UNAUTHORIZED,
        "undoing ends the sessions of the change"
    );
}
