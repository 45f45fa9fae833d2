//! Joining (hub.md §6.2, §6.10): a signed join in each mode, refusals of bad fields, the limits
//! per address and per IP, and a second device joining with a known address.

use hub::config::JoinMode;
use reqwest::StatusCode;
use serde_json::{Value, json};
use testkit::swarm::{client_with, reserve};
use testkit::{
    SmtpSink, TestDb, TestHub, TestPeer, code_of, each_backend, eventually, json_of, verify_token,
};

use super::{DEADLINE, hub_with, invite, link_token, member};

each_backend!(
    email_join_binds_the_peer_after_the_link_and_admits_it_to_the_relay,
    invite_join_activates_while_a_use_is_left_and_waits_for_approval_after,
    application_join_waits_for_approval_after_verification,
    open_signed_join_without_email_is_active_at_once,
    join_refuses_missing_and_malformed_fields_and_changes_nothing,
    sixth_join_for_one_address_within_five_minutes_is_rate_limited,
    join_for_a_verified_address_binds_the_new_peer_only_when_asked,
    strangers_join_confirmed_with_the_page_button_adds_its_device_only_when_ticked,
    a_strangers_join_names_its_device_and_can_be_confirmed_without_it,
    invite_guessing_runs_into_the_per_ip_limit,
);

async fn email_join_binds_the_peer_after_the_link_and_admits_it_to_the_relay(db: TestDb) {
    let sink = SmtpSink::start().await;
    let hub = hub_with(&db, JoinMode::Email, &sink).await;
    let peer = TestPeer::new();
    let mut swarm = client_with(peer.key.clone());

    let (status, joined) = json_of(
        peer.join(
            &hub,
            &json!({"email": "Ann@Example.org", "label": "laptop"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 202, "{joined}");
    assert_eq!(joined["status"], "check_email");
    assert_eq!(peer.membership(&hub).await["state"], "pending_email");
    let refused = reserve(&mut swarm, &hub).await;
    assert!(refused.is_err(), "a pending peer may not reserve");

    let mail = sink
        .wait_for(DEADLINE, |m| m.to == ["ann@example.org"])
        .await;
    let subject = mail.header("subject").unwrap();
    assert!(
        subject.starts_with("Confirm your email for ") && subject.ends_with(" community"),
        "the community name (RFC 2047-encoded: it has a ²): {subject}"
    );
    assert_eq!(
        mail.header("content-transfer-encoding").as_deref(),
        Some("8bit")
    );
    let token = verify_token(mail.body());
    assert!(
        mail.body()
            .contains(&format!("\r\n{}/verify?token={token}\r\n", hub.base_url)),
        "the link stands alone on its line: {}",
        mail.body()
    );
    for _ in 0..2 {
        let (status, info) = json_of(hub.get(&format!("/api/v1/verify?token={token}")).await).await;
        assert_eq!(status, 200, "{info}");
        assert_eq!(info["consumed"], false);
        assert_eq!(info["purpose"], "join");
        assert_eq!(info["email_hint"], "a***@example.org");
    }
    let (status, verified, cookie) = hub.verify(&token).await;
    assert_eq!(status, 200, "{verified}");
    assert_eq!(verified["state"], "active");
    assert_eq!(verified["tier"], "member");
    assert_eq!(verified["bound_peer"], peer.peer_id().to_string());
    assert!(cookie.unwrap().starts_with("goop_hub_session="));
    let (again, code, _) = hub.verify(&token).await;
    assert_eq!(
        (again, code["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("token_used"))
    );

    let view = peer.membership(&hub).await;
    assert_eq!(view["state"], "active");
    assert_eq!(
        view["entitlements"],
        json!({"presence": true, "relay": true, "voucher": true})
    );
    let (_, info) = json_of(hub.get("/api/v1/info").await).await;
    assert_eq!(
        info["member_count"], 1,
        "the published count follows the activation"
    );
    reserve(&mut swarm, &hub)
        .await
        .expect("a verified member reserves");

    let (status, issued) =
        json_of(hub.post_signed("/api/v1/vouchers", &json!({}), &peer).await).await;
    assert_eq!(status, 201, "{issued}");
    let claims = shared::voucher::verify(
        issued["voucher"].as_str().unwrap(),
        &shared::voucher::Expected {
            subject: Some(&peer.id),
            community: Some("community"),
            hub_url: Some(&hub.base_url),
            issuers: &[hub.hub_id()],
        },
    )
    .expect("the voucher verifies offline from the hub id");
    assert_eq!(claims.tier, "member");
    assert_eq!(claims.state, "active");
}

async fn invite_join_activates_while_a_use_is_left_and_waits_for_approval_after(db: TestDb) {
    let sink = SmtpSink::start().await;
    let hub = hub_with(&db, JoinMode::Invite, &sink).await;
    let code = invite(&db, 1).await;
    let (first, second) = (TestPeer::new(), TestPeer::new());

    for (peer, email) in [(&first, "ann@example.org"), (&second, "bob@example.org")] {
        let response = peer
            .join(&hub, &json!({"email": email, "invite_code": code}))
            .await;
        assert_eq!(
            response.status(),
            202,
            "both joins pass while the invite has a use left"
        );
    }
    let (_, ann, _) = hub
        .verify(&link_token(&sink, "ann@example.org", 0).await)
        .await;
    let (_, bob, _) = hub
        .verify(&link_token(&sink, "bob@example.org", 0).await)
        .await;

    assert_eq!(ann["state"], "active", "{ann}");
    assert_eq!(
        bob["state"], "pending_approval",
        "the single use went to ann: {bob}"
    );
    assert_eq!(second.membership(&hub).await["state"], "pending_approval");
    let (status, code) = code_of(
        hub.post_signed("/api/v1/vouchers", &json!({}), &second)
            .await,
    )
    .await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::FORBIDDEN, "membership_pending")
    );
    let exhausted = hub
        .post(
            "/api/v1/join",
            &json!({"email": "cy@example.org", "invite_code": "4F7K-2MX9-QH3D"}),
        )
        .await;
    assert_eq!(code_of(exhausted).await.1, "invalid_invite");
}

async fn application_join_waits_for_approval_after_verification(db: TestDb) {
    let sink = SmtpSink::start().await;
    let hub = hub_with(&db, JoinMode::Application, &sink).await;
    let peer = TestPeer::new();
    let mut swarm = client_with(peer.key.clone());

    let response = peer
        .join(
            &hub,
            &json!({"email": "ann@example.org", "message": "I write Go and want to help."}),
        )
        .await;
    assert_eq!(response.status(), 202);
    let (status, verified, _) = hub
        .verify(&link_token(&sink, "ann@example.org", 0).await)
        .await;

    assert_eq!(status, 200, "{verified}");
    assert_eq!(verified["state"], "pending_approval");
    assert_eq!(verified["bound_peer"], peer.peer_id().to_string());
    let view = peer.membership(&hub).await;
    assert_eq!(
        view["entitlements"],
        json!({"presence": false, "relay": false, "voucher": false})
    );
    assert!(reserve(&mut swarm, &hub).await.is_err());
}

async fn open_signed_join_without_email_is_active_at_once(db: TestDb) {
    let hub = TestHub::spawn_with(&db, |c| {
        c.membership.join_mode = JoinMode::Open;
        c.membership.open_autojoin = false;
    })
    .await;
    let peer = TestPeer::new();

    let (status, joined) = json_of(peer.join(&hub, &json!({"label": "phone"})).await).await;
    let (twice, code) = code_of(peer.join(&hub, &json!({})).await).await;
    let (unsigned, unsigned_code) = code_of(hub.post("/api/v1/join", &json!({})).await).await;

    assert_eq!(status, 201, "{joined}");
    assert_eq!(joined["state"], "active");
    assert_eq!(joined["tier"], "member");
    assert_eq!(
        (twice, code.as_str()),
        (StatusCode::CONFLICT, "peer_already_bound")
    );
    assert_eq!(
        (unsigned, unsigned_code.as_str()),
        (StatusCode::BAD_REQUEST, "email_required")
    );
    assert_eq!(peer.membership(&hub).await["entitlements"]["relay"], true);
}

async fn join_refuses_missing_and_malformed_fields_and_changes_nothing(db: TestDb) {
    let sink = SmtpSink::start().await;
    let hub = hub_with(&db, JoinMode::Invite, &sink).await;
    let cases = [
        (json!({}), "email_required"),
        (json!({"email": "ann@example.org"}), "invite_required"),
        (
            json!({"email": "ann@example.org", "invite_code": "ZZZZ-ZZZZ-ZZZZ"}),
            "invalid_invite",
        ),
        (
            json!({"email": "ann@example.org", "invite_code": "<script>"}),
            "invalid_invite",
        ),
        (
            json!({"email": "ann@example", "invite_code": "ZZZZ-ZZZZ-ZZZZ"}),
            "invalid_field",
        ),
        (
            json!({"email": "ann@example.org\r\nBcc: x@example.org"}),
            "invalid_field",
        ),
        (
            json!({"email": format!("{}@example.org", "a".repeat(300))}),
            "invalid_field",
        ),
        (json!({"email": 42}), "invalid_json"),
    ];

    for (body, expected) in cases {
        let (status, code) = code_of(hub.post("/api/v1/join", &body).await).await;
        assert_eq!(
            (status, code.as_str()),
            (StatusCode::BAD_REQUEST, expected),
            "{body}"
        );
    }
    let wrong_type = hub
        .client
        .post(hub.url("/api/v1/join"))
        .header("content-type", "text/plain")
        .body(r#"{"email":"ann@example.org"}"#)
        .send()
        .await
        .unwrap();
    let huge = hub
        .post(
            "/api/v1/join",
            &json!({"email": "a@example.org", "message": "x".repeat(20_000)}),
        )
        .await;
    let application_hub = hub_with(&TestDb::sqlite(), JoinMode::Application, &sink).await;
    let no_message = application_hub
        .post("/api/v1/join", &json!({"email": "ann@example.org"}))
        .await;

    assert_eq!(wrong_type.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(huge.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(code_of(no_message).await.1, "message_required");
    assert!(sink.messages().is_empty(), "refused joins send no mail");
}

async fn sixth_join_for_one_address_within_five_minutes_is_rate_limited(db: TestDb) {
    let sink = SmtpSink::start().await;
    let hub = hub_with(&db, JoinMode::Email, &sink).await;

    let mut statuses = Vec::new();
    for _ in 0..6 {
        let response = hub
            .post("/api/v1/join", &json!({"email": "ann@example.org"}))
            .await;
        statuses.push((
            response.status(),
            response.headers().get("retry-after").is_some(),
        ));
    }
    let other = hub
        .post("/api/v1/join", &json!({"email": "bob@example.org"}))
        .await;

    assert!(
        statuses[..5]
            .iter()
            .all(|(s, _)| *s == StatusCode::ACCEPTED),
        "{statuses:?}"
    );
    assert_eq!(statuses[5], (StatusCode::TOO_MANY_REQUESTS, true));
    assert_eq!(
        other.status(),
        StatusCode::ACCEPTED,
        "the limit is per address"
    );
}

/// hub.md §6.8 rule 8: anyone can start a join for an address, so a link for an address verified
/// already adds its device only when asked (`bind: true`); the bare confirmation signs in.
async fn join_for_a_verified_address_binds_the_new_peer_only_when_asked(db: TestDb) {
    let sink = SmtpSink::start().await;
    let hub = hub_with(&db, JoinMode::Email, &sink).await;
    let (laptop, phone) = (TestPeer::new(), TestPeer::new());
    laptop
        .join(&hub, &json!({"email": "ann@example.org"}))
        .await;
    hub.verify(&link_token(&sink, "ann@example.org", 0).await)
        .await;

    let response = phone
        .join(&hub, &json!({"email": "ann@example.org", "label": "phone"}))
        .await;
    assert_eq!(
        response.status(),
        202,
        "the same answer as for a new address"
    );
    let token = link_token(&sink, "ann@example.org", 1).await;
    let (_, info) = json_of(hub.get(&format!("/api/v1/verify?token={token}")).await).await;
    let (status, plain, _) = hub.verify(&token).await;
    assert_eq!(status, 200, "{plain}");
    assert_eq!(plain["bound_peer"], Value::Null, "not without `bind: true`");
    assert_eq!(phone.membership(&hub).await["state"], "none");
    assert_eq!(info["account_verified"], true, "{info}");

    phone
        .join(&hub, &json!({"email": "ann@example.org", "label": "phone"}))
        .await;
    let token = link_token(&sink, "ann@example.org", 2).await;
    let (status, asked) = json_of(
        hub.post("/api/v1/verify", &json!({"token": token, "bind": true}))
            .await,
    )
    .await;

    assert_eq!(status, 200, "{asked}");
    assert_eq!(asked["bound_peer"], phone.peer_id().to_string());
    let laptop_account = laptop.membership(&hub).await["account_id"].clone();
    assert_eq!(phone.membership(&hub).await["account_id"], laptop_account);
}

async fn a_strangers_join_names_its_device_and_can_be_confirmed_without_it(db: TestDb) {
    let sink = SmtpSink::start().await;
    let hub = hub_with(&db, JoinMode::Email, &sink).await;
    member(&hub, &sink, "ann@example.org").await;
    let stranger = TestPeer::new();

    stranger
        .join(
            &hub,
            &json!({"email": "ann@example.org", "label": "not-ann"}),
        )
        .await;
    let mail = eventually(DEADLINE, "the second mail", || async {
        sink.messages()
            .into_iter()
            .filter(|m| m.to == ["ann@example.org"])
            .nth(1)
    })
    .await;
    let token = verify_token(mail.body());
    let (_, info) = json_of(hub.get(&format!("/api/v1/verify?token={token}")).await).await;
    let response = hub
        .post("/api/v1/verify", &json!({"token": token, "bind": false}))
        .await;
    let (status, verified) = json_of(response).await;

    assert!(
        mail.body().contains(&stranger.peer_id().to_string()),
        "the mail names the device: {}",
        mail.body()
    );
    assert!(mail.body().contains("\"not-ann\""), "{}", mail.body());
    assert_eq!(info["peer_id"], stranger.peer_id().to_string(), "{info}");
    assert_eq!(info["peer_label"], "not-ann");
    assert_eq!(status, 200, "{verified}");
    assert_eq!(verified["bound_peer"], Value::Null);
    assert_eq!(stranger.membership(&hub).await["state"], "none");
}

/// hub.md §6.8 rule 8, §10: for an address verified already, the confirm page's button never
/// adds the join's device by itself; an unchecked box that names the device does, when ticked.
async fn strangers_join_confirmed_with_the_page_button_adds_its_device_only_when_ticked(
    db: TestDb,
) {
    let sink = SmtpSink::start().await;
    let hub = hub_with(&db, JoinMode::Email, &sink).await;
    member(&hub, &sink, "ann@example.org").await;
    let (stranger, tablet) = (TestPeer::new(), TestPeer::new());
    let confirm = |token: String, ticked: bool| {
        let mut fields = vec![("token", token)];
        if ticked {
            fields.push(("bind", "1".to_owned()));
        }
        hub.client
            .post(hub.url("/verify"))
            .header("origin", &hub.base_url)
            .form(&fields)
            .send()
    };

    stranger
        .join(&hub, &json!({"email": "ann@example.org", "label": "evil"}))
        .await;
    let token = link_token(&sink, "ann@example.org", 1).await;
    let page = hub
        .get(&format!("/verify?token={token}"))
        .await
        .text()
        .await
        .unwrap();
    let clicked = confirm(token, false).await.unwrap();
    tablet
        .join(
            &hub,
            &json!({"email": "ann@example.org", "label": "tablet"}),
        )
        .await;
    let token = link_token(&sink, "ann@example.org", 2).await;
    let ticked = confirm(token, true).await.unwrap();

    let checkbox = page
        .split("<input")
        .find(|tag| tag.contains("id=\"add-device\""))
        .unwrap_or_else(|| panic!("a device choice in {page}"));
    assert!(
        !checkbox.split('>').next().unwrap().contains("checked"),
        "{checkbox}"
    );
    assert!(page.contains(&stranger.peer_id().to_string()), "{page}");
    assert!(page.contains("evil"), "{page}");
    assert_eq!(clicked.status(), 200);
    assert_eq!(stranger.membership(&hub).await["state"], "none");
    assert_eq!(ticked.status(), 200);
    assert_eq!(tablet.membership(&hub).await["state"], "active");
}

async fn invite_guessing_runs_into_the_per_ip_limit(db: TestDb) {
    let sink = SmtpSink::start().await;
    let hub = hub_with(&db, JoinMode::Invite, &sink).await;

    let mut codes = Vec::new();
    for n in 0..11 {
        let body = json!({"email": format!("guess{n}@example.org"), "invite_code": format!("AAAA-AAAA-AA{n:02}")});
        codes.push(code_of(hub.post("/api/v1/join", &body).await).await);
    }

    assert!(
        codes[..10].iter().all(|c| c.1 == "invalid_invite"),
        "{codes:?}"
    );
    assert_eq!(
        codes[10],
        (StatusCode::TOO_MANY_REQUESTS, "rate_limited".to_owned())
    );
}
