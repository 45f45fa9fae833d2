//! Email links (hub.md §6.8): single-use tokens, the file transport, resends, logins, expiry and
//! links voided by an address change.

use hub::config::{JoinMode, MailTransportKind};
use reqwest::StatusCode;
use serde_json::json;
use testkit::{
    SmtpSink, TestDb, TestHub, TestPeer, code_of, each_backend, eventually, json_of, verify_token,
};

use super::{DEADLINE, hub_with, link_token, member};

each_backend!(
    file_transport_carries_the_link_and_the_token_is_single_use,
    resend_replaces_the_pending_link_and_login_mails_only_known_addresses,
    an_email_change_voids_older_links_of_the_account,
    expired_link_is_gone_and_binds_nothing,
);

async fn file_transport_carries_the_link_and_the_token_is_single_use(db: TestDb) {
    let hub = TestHub::spawn_with(&db, |c| c.email.transport = MailTransportKind::File).await;
    let outbox = hub.data_path().join("outbox");

    let response = hub
        .post("/api/v1/join", &json!({"email": "ann@example.org"}))
        .await;
    assert_eq!(response.status(), 202);
    let message = eventually(DEADLINE, "an .eml file", || async {
        let entry = std::fs::read_dir(&outbox)
            .ok()?
            .flatten()
            .find(|e| e.path().extension().is_some_and(|x| x == "eml"))?;
        std::fs::read_to_string(entry.path()).ok()
    })
    .await;
    let token = verify_token(&message);

    let (first, body, _) = hub.verify(&token).await;
    let (second, again, _) = hub.verify(&token).await;
    let last = if token.ends_with('A') { 'B' } else { 'A' };
    let (forged, forged_body, _) = hub.verify(&format!("{}{last}", &token[..42])).await;
    let inspect_used = hub.get(&format!("/api/v1/verify?token={token}")).await;

    assert_eq!(first, 200, "{body}");
    assert_eq!(
        (second, again["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("token_used"))
    );
    assert_eq!(
        (forged, forged_body["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("invalid_token"))
    );
    assert_eq!(inspect_used.status(), StatusCode::CONFLICT);
}

async fn resend_replaces_the_pending_link_and_login_mails_only_known_addresses(db: TestDb) {
    let sink = SmtpSink::start().await;
    let hub = hub_with(&db, JoinMode::Email, &sink).await;
    let peer = TestPeer::new();
    peer.join(&hub, &json!({"email": "ann@example.org"})).await;
    let first = link_token(&sink, "ann@example.org", 0).await;

    let resent = hub
        .post(
            "/api/v1/verify/resend",
            &json!({"email": "ann@example.org"}),
        )
        .await;
    let second = link_token(&sink, "ann@example.org", 1).await;
    let unknown = hub
        .post("/api/v1/login", &json!({"email": "nobody@example.org"}))
        .await;
    let old = hub.get(&format!("/api/v1/verify?token={first}")).await;
    let (_, verified, _) = hub.verify(&second).await;
    let login = hub
        .post("/api/v1/login", &json!({"email": "ann@example.org"}))
        .await;
    let signin = eventually(DEADLINE, "the sign-in mail", || async {
        sink.messages().into_iter().find(|m| {
            m.header("subject")
                .is_some_and(|s| s.starts_with("Sign in"))
        })
    })
    .await;
    let (status, session, cookie) = hub.verify(&verify_token(signin.body())).await;

    assert_eq!(resent.status(), StatusCode::ACCEPTED);
    assert_eq!(
        unknown.status(),
        StatusCode::ACCEPTED,
        "unknown addresses look the same"
    );
    assert_eq!(
        old.status(),
        StatusCode::NOT_FOUND,
        "the older link is gone"
    );
    assert_eq!(
        verified["bound_peer"],
        peer.peer_id().to_string(),
        "resend keeps the peer: {verified}"
    );
    assert_eq!(login.status(), StatusCode::ACCEPTED);
    assert_eq!(
        (status, session["purpose"].as_str()),
        (StatusCode::OK, Some("login"))
    );
    assert!(cookie.is_some());
    assert!(
        !sink
            .messages()
            .iter()
            .any(|m| m.to == ["nobody@example.org"]),
        "no mail for unknown addresses"
    );
}

async fn an_email_change_voids_older_links_of_the_account(db: TestDb) {
    let sink = SmtpSink::start().await;
    let hub = hub_with(&db, JoinMode::Email, &sink).await;
    let (peer, cookie) = member(&hub, &sink, "ann@example.org").await;
    let cookie = cookie.unwrap();
    let change = |email: &'static str| {
        hub.client
            .post(hub.url("/api/v1/me/email"))
            .header("cookie", &cookie)
            .header("origin", &hub.base_url)
            .header("content-type", "application/json")
            .body(json!({ "email": email }).to_string())
            .send()
    };

    change("ann@exmaple.org").await.unwrap();
    let typo = link_token(&sink, "ann@exmaple.org", 0).await;
    change("ann@example.net").await.unwrap();
    let (status, _, _) = hub
        .verify(&link_token(&sink, "ann@example.net", 0).await)
        .await;
    let (late, body, _) = hub.verify(&typo).await;

    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (late, body["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("invalid_token"))
    );
    let (_, me) = json_of(hub.get_signed("/api/v1/me", &peer).await).await;
    assert_eq!(me["account"]["email"], "ann@example.net");
}

async fn expired_link_is_gone_and_binds_nothing(db: TestDb) {
    let sink = SmtpSink::start().await;
    let url = sink.url();
    let hub = TestHub::spawn_with(&db, move |c| {
        c.email.transport = MailTransportKind::Smtp;
        c.email.smtp_url = Some(url.into());
        c.email.token_ttl = std::time::Duration::from_secs(1);
    })
    .await;
    let peer = TestPeer::new();
    let joined = peer.join(&hub, &json!({"email": "ann@example.org"})).await;
    let expires_at = json_of(joined).await.1["expires_at"].as_i64().unwrap();
    let token = link_token(&sink, "ann@example.org", 0).await;

    // The clock passing the link's expiry is the condition (asking the API would spend the
    // verify_ip bucket).
    eventually(DEADLINE, "the link's expiry time to pass", || async {
        (testkit::now_ms() > expires_at).then_some(())
    })
    .await;
    let (_, gone) = code_of(hub.get(&format!("/api/v1/verify?token={token}")).await).await;
    let (status, body, cookie) = hub.verify(&token).await;

    assert_eq!(gone, "token_expired");
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::GONE, Some("token_expired"))
    );
    assert!(cookie.is_none());
    assert_eq!(peer.membership(&hub).await["state"], "none");
}
