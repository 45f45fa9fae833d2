//! Membership end to end (hub.md §6, §7, §18 checks 11–13): signed joins in every mode, the
//! verification mail through a real SMTP listener (and the file transport), single-use tokens,
//! binds proven by the peer's key, relay admission, vouchers that verify offline, bind codes,
//! sessions with the CSRF rule, and revocation when a peer is unbound.

use std::time::Duration;

use hub::config::{JoinMode, MailTransportKind};
use libp2p::identity::ed25519::Keypair;
use libp2p::{Multiaddr, PeerId};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use shared::ids::Ed25519PeerId;
use testkit::swarm::{client_with, present_voucher, reserve};
use testkit::{SmtpSink, TestDb, TestHub, each_backend, eventually, signed_headers};

each_backend!(
    email_join_binds_the_peer_after_the_link_and_admits_it_to_the_relay,
    invite_join_activates_while_a_use_is_left_and_waits_for_approval_after,
    application_join_waits_for_approval_after_verification,
    open_signed_join_without_email_is_active_at_once,
    join_refuses_missing_and_malformed_fields_and_changes_nothing,
    sixth_join_for_one_address_within_five_minutes_is_rate_limited,
    join_for_a_verified_address_binds_the_new_peer_only_after_the_link,
    file_transport_carries_the_link_and_the_token_is_single_use,
    voucher_verifies_offline_and_forgeries_are_rejected,
    unbinding_a_peer_drops_its_reservation_and_revokes_its_voucher,
    bind_code_binds_a_second_device_and_cookie_posts_need_same_origin,
    resend_replaces_the_pending_link_and_login_mails_only_known_addresses,
    open_autojoin_binds_a_peer_on_its_first_signed_publish,
    email_change_moves_the_account_and_logout_ends_the_session,
    lapsed_member_is_refused_presence_with_membership_lapsed,
    sse_admits_a_voucher_or_a_member_session_and_refuses_a_revoked_voucher,
    a_strangers_join_names_its_device_and_can_be_confirmed_without_it,
    banned_account_cannot_unbind_its_peer_or_change_its_address,
    voucher_is_issued_again_after_a_timed_comp_ends,
    an_email_change_voids_older_links_of_the_account,
    autojoin_leaves_a_peer_with_a_pending_email_join_to_its_link,
    every_join_mode_ends_in_a_relay_reservation_that_a_ban_drops_within_5_s,
    expired_link_is_gone_and_binds_nothing,
    bind_with_a_signature_of_another_key_is_refused_and_binds_nothing,
    invite_guessing_runs_into_the_per_ip_limit,
    a_session_used_after_half_its_life_is_renewed_and_its_cookie_resent,
    concurrent_binds_never_exceed_the_peer_limit,
);

const DEADLINE: Duration = Duration::from_secs(15);

/// A peer: its key signs PeerSig requests and is its libp2p identity.
struct Peer {
    key: Keypair,
}

impl Peer {
    fn new() -> Self {
        Self {
            key: Keypair::generate(),
        }
    }

    fn id(&self) -> PeerId {
        PeerId::from_public_key(&self.key.public().into())
    }

    fn ed_id(&self) -> Ed25519PeerId {
        Ed25519PeerId::from(self.key.public())
    }
}

fn hub_id(hub: &TestHub) -> Ed25519PeerId {
    Ed25519PeerId::try_from(hub.server().peer_id()).unwrap()
}

fn hub_addr(hub: &TestHub) -> Multiaddr {
    hub.server().p2p_addrs()[0].clone()
}

/// A hub in `mode` whose mail goes to `sink`.
async fn hub_with(db: &TestDb, mode: JoinMode, sink: &SmtpSink) -> TestHub {
    let url = sink.url();
    TestHub::spawn_with(db, move |config| {
        config.membership.join_mode = mode;
        config.email.transport = MailTransportKind::Smtp;
        config.email.smtp_url = Some(url.into());
    })
    .await
}

/// `POST path` with a JSON body, signed by `peer` when given.
async fn post(hub: &TestHub, path: &str, body: &Value, peer: Option<&Peer>) -> Response {
    let bytes = serde_json::to_vec(body).unwrap();
    let mut request = hub
        .client
        .post(hub.url(path))
        .header("content-type", "application/json");
    if let Some(peer) = peer {
        for (name, value) in signed_headers(&peer.key, &hub_id(hub), "POST", path, &bytes) {
            request = request.header(name, value);
        }
    }
    request.body(bytes).send().await.unwrap()
}

/// `GET path` signed by `peer`.
async fn signed_get(hub: &TestHub, path: &str, peer: &Peer) -> Response {
    let mut request = hub.client.get(hub.url(path));
    for (name, value) in signed_headers(&peer.key, &hub_id(hub), "GET", path, b"") {
        request = request.header(name, value);
    }
    request.send().await.unwrap()
}

async fn json_of(response: Response) -> (StatusCode, Value) {
    let status = response.status();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body)
}

/// The error code of a JSON error response.
async fn code_of(response: Response) -> (StatusCode, String) {
    let (status, body) = json_of(response).await;
    (
        status,
        body["error"]["code"].as_str().unwrap_or("").to_owned(),
    )
}

/// The token of the newest link mailed to `to` that is not in `seen`.
async fn link_token(sink: &SmtpSink, to: &str, seen: usize) -> String {
    let mail = eventually(
        DEADLINE,
        &format!("mail number {} to {to}", seen + 1),
        || async {
            sink.messages()
                .into_iter()
                .filter(|m| m.to == [to])
                .nth(seen)
        },
    )
    .await;
    token_in(mail.body())
}

fn token_in(body: &str) -> String {
    let start = body.find("/verify?token=").expect("a verify link") + "/verify?token=".len();
    body[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}

/// A signed `online` presence message from `peer`.
async fn publish_online(hub: &TestHub, peer: &Peer) -> Response {
    let body =
        json!({"type": "online", "peerId": peer.id().to_string(), "content": "hi"}).to_string();
    let mut request = hub.client.post(hub.url("/publish")).body(body.clone());
    for (name, value) in
        signed_headers(&peer.key, &hub_id(hub), "POST", "/publish", body.as_bytes())
    {
        request = request.header(name, value);
    }
    request.send().await.unwrap()
}

async fn membership_state(hub: &TestHub, peer: &Peer) -> Value {
    let (status, body) = json_of(signed_get(hub, "/api/v1/membership", peer).await).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// Consumes a token; the JSON answer and the session cookie.
async fn verify(hub: &TestHub, token: &str) -> (StatusCode, Value, Option<String>) {
    let response = post(hub, "/api/v1/verify", &json!({ "token": token }), None).await;
    let cookie = response
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(str::to_owned);
    let (status, body) = json_of(response).await;
    (status, body, cookie)
}

async fn email_join_binds_the_peer_after_the_link_and_admits_it_to_the_relay(db: TestDb) {
    let sink = SmtpSink::start().await;
    let hub = hub_with(&db, JoinMode::Email, &sink).await;
    let peer = Peer::new();
    let mut swarm = client_with(peer.key.clone());

    let (status, joined) = json_of(
        post(
            &hub,
            "/api/v1/join",
            &json!({"email": "Ann@Example.org", "label": "laptop"}),
            Some(&peer),
        )
        .await,
    )
    .await;
    assert_eq!(status, 202, "{joined}");
    assert_eq!(joined["status"], "check_email");
    assert_eq!(
        membership_state(&hub, &peer).await["state"],
        "pending_email"
    );
    let refused = reserve(&mut swarm, &hub_addr(&hub), hub.server().peer_id()).await;
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
    let token = token_in(mail.body());
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
    let (status, verified, cookie) = verify(&hub, &token).await;
    assert_eq!(status, 200, "{verified}");
    assert_eq!(verified["state"], "active");
    assert_eq!(verified["tier"], "member");
    assert_eq!(verified["bound_peer"], peer.id().to_string());
    assert!(cookie.unwrap().starts_with("goop_hub_session="));
    let (again, code, _) = verify(&hub, &token).await;
    assert_eq!(
        (again, code["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("token_used"))
    );

    let view = membership_state(&hub, &peer).await;
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
    reserve(&mut swarm, &hub_addr(&hub), hub.server().peer_id())
        .await
        .expect("a verified member reserves");

    let (status, issued) =
        json_of(post(&hub, "/api/v1/vouchers", &json!({}), Some(&peer)).await).await;
    assert_eq!(status, 201, "{issued}");
    let claims = shared::voucher::verify(
        issued["voucher"].as_str().unwrap(),
        &shared::voucher::Expected {
            subject: Some(&peer.ed_id()),
            community: Some("community"),
            hub_url: Some(&hub.base_url),
            issuers: &[hub_id(&hub)],
        },
    )
    .expect("the voucher verifies offline from the hub id");
    assert_eq!(claims.tier, "member");
    assert_eq!(claims.state, "active");
}

/// Creates an invite with `max_uses` directly in the database; returns its code as shown.
async fn invite(db: &TestDb, max_uses: i64) -> String {
    let dir = tempfile::tempdir().unwrap();
    let store = hub::store::Store::open(&shared::db::DatabaseConfig::with_url(&db.url), dir.path())
        .await
        .unwrap();
    let code: String =
        ["4F7K2MX9QH3D", "7K2QF9XM3DAB", "0123456789AB"][max_uses as usize % 3].to_owned();
    let mut tx = store.begin_write().await.unwrap();
    hub::store::insert_invite(
        &mut tx,
        &hub::store::Invite {
            code: code.clone(),
            note: None,
            max_uses,
            uses: 0,
            created_by: "test".to_owned(),
            created_at: 1,
            expires_at: None,
            revoked_at: None,
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    format!("{}-{}-{}", &code[..4], &code[4..8], &code[8..]).to_lowercase()
}

async fn invite_join_activates_while_a_use_is_left_and_waits_for_approval_after(db: TestDb) {
    let sink = SmtpSink::start().await;
    let hub = hub_with(&db, JoinMode::Invite, &sink).await;
    let code = invite(&db, 1).await;
    let (first, second) = (Peer::new(), Peer::new());

    for (peer, email) in [(&first, "ann@example.org"), (&second, "bob@example.org")] {
        let response = post(
            &hub,
            "/api/v1/join",
            &json!({"email": email, "invite_code": code}),
            Some(peer),
        )
        .await;
        assert_eq!(
            response.status(),
            202,
            "both joins pass while the invite has a use left"
        );
    }
    let (_, ann, _) = verify(&hub, &link_token(&sink, "ann@example.org", 0).await).await;
    let (_, bob, _) = verify(&hub, &link_token(&sink, "bob@example.org", 0).await).await;

    assert_eq!(ann["state"], "active", "{ann}");
    assert_eq!(
        bob["state"], "pending_approval",
        "the single use went to ann: {bob}"
    );
    assert_eq!(
        membership_state(&hub, &second).await["state"],
        "pending_approval"
    );
    let (status, code) =
        code_of(post(&hub, "/api/v1/vouchers", &json!({}), Some(&second)).await).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::FORBIDDEN, "membership_pending")
    );
    let exhausted = post(
        &hub,
        "/api/v1/join",
        &json!({"email": "cy@example.org", "invite_code": "4F7K-2MX9-QH3D"}),
        None,
    )
    .await;
    assert_eq!(code_of(exhausted).await.1, "invalid_invite");
}

async fn application_join_waits_for_approval_after_verification(db: TestDb) {
    let sink = SmtpSink::start().await;
    let hub = hub_with(&db, JoinMode::Application, &sink).await;
    let peer = Peer::new();
    let mut swarm = client_with(peer.key.clone());

    let response = post(
        &hub,
        "/api/v1/join",
        &json!({"email": "ann@example.org", "message": "I write Go and want to help."}),
        Some(&peer),
    )
    .await;
    assert_eq!(response.status(), 202);
    let (status, verified, _) = verify(&hub, &link_token(&sink, "ann@example.org", 0).await).await;

    assert_eq!(status, 200, "{verified}");
    assert_eq!(verified["state"], "pending_approval");
    assert_eq!(verified["bound_peer"], peer.id().to_string());
    let view = membership_state(&hub, &peer).await;
    assert_eq!(
        view["entitlements"],
        json!({"presence": false, "relay": false, "voucher": false})
    );
    assert!(
        reserve(&mut swarm, &hub_addr(&hub), hub.server().peer_id())
            .await
            .is_err()
    );
}

async fn open_signed_join_without_email_is_active_at_once(db: TestDb) {
    let hub = TestHub::spawn_with(&db, |c| {
        c.membership.join_mode = JoinMode::Open;
        c.membership.open_autojoin = false;
    })
    .await;
    let peer = Peer::new();

    let (status, joined) = json_of(
        post(
            &hub,
            "/api/v1/join",
            &json!({"label": "phone"}),
            Some(&peer),
        )
        .await,
    )
    .await;
    let (twice, code) = code_of(post(&hub, "/api/v1/join", &json!({}), Some(&peer)).await).await;
    let (unsigned, unsigned_code) =
        code_of(post(&hub, "/api/v1/join", &json!({}), None).await).await;

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
    assert_eq!(
        membership_state(&hub, &peer).await["entitlements"]["relay"],
        true
    );
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
        let (status, code) = code_of(post(&hub, "/api/v1/join", &body, None).await).await;
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
    let huge = post(
        &hub,
        "/api/v1/join",
        &json!({"email": "a@example.org", "message": "x".repeat(20_000)}),
        None,
    )
    .await;
    let application_hub = hub_with(&TestDb::sqlite(), JoinMode::Application, &sink).await;
    let no_message = post(
        &application_hub,
        "/api/v1/join",
        &json!({"email": "ann@example.org"}),
        None,
    )
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
        let response = post(
            &hub,
            "/api/v1/join",
            &json!({"email": "ann@example.org"}),
            None,
        )
        .await;
        statuses.push((
            response.status(),
            response.headers().get("retry-after").is_some(),
        ));
    }
    let other = post(
        &hub,
        "/api/v1/join",
        &json!({"email": "bob@example.org"}),
        None,
    )
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

async fn join_for_a_verified_address_binds_the_new_peer_only_after_the_link(db: TestDb) {
    let sink = SmtpSink::start().await;
    let hub = hub_with(&db, JoinMode::Email, &sink).await;
    let (laptop, phone) = (Peer::new(), Peer::new());
    post(
        &hub,
        "/api/v1/join",
        &json!({"email": "ann@example.org"}),
        Some(&laptop),
    )
    .await;
    verify(&hub, &link_token(&sink, "ann@example.org", 0).await).await;

    let response = post(
        &hub,
        "/api/v1/join",
        &json!({"email": "ann@example.org", "label": "phone"}),
        Some(&phone),
    )
    .await;
    assert_eq!(
        response.status(),
        202,
        "the same answer as for a new address"
    );
    let token = link_token(&sink, "ann@example.org", 1).await;
    assert_eq!(
        membership_state(&hub, &phone).await["state"],
        "pending_email",
        "not bound before the link is consumed"
    );
    let (status, verified, _) = verify(&hub, &token).await;

    assert_eq!(status, 200, "{verified}");
    assert_eq!(verified["bound_peer"], phone.id().to_string());
    let laptop_account = membership_state(&hub, &laptop).await["account_id"].clone();
    assert_eq!(
        membership_state(&hub, &phone).await["account_id"],
        laptop_account
    );
}

async fn file_transport_carries_the_link_and_the_token_is_single_use(db: TestDb) {
    let hub = TestHub::spawn_with(&db, |c| c.email.transport = MailTransportKind::File).await;
    let outbox = hub.data_path().join("outbox");

    let response = post(
        &hub,
        "/api/v1/join",
        &json!({"email": "ann@example.org"}),
        None,
    )
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
    let token = token_in(&message);

    let (first, body, _) = verify(&hub, &token).await;
    let (second, again, _) = verify(&hub, &token).await;
    let last = if token.ends_with('A') { 'B' } else { 'A' };
    let (forged, forged_body, _) = verify(&hub, &format!("{}{last}", &token[..42])).await;
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

/// A member bound through the email flow on `hub`.
async fn member(hub: &TestHub, sink: &SmtpSink, email: &str) -> (Peer, Option<String>) {
    let peer = Peer::new();
    let seen = sink.messages().iter().filter(|m| m.to == [email]).count();
    post(hub, "/api/v1/join", &json!({ "email": email }), Some(&peer)).await;
    let (status, body, cookie) = verify(hub, &link_token(sink, email, seen).await).await;
    assert_eq!(status, 200, "{body}");
    (peer, cookie)
}

async fn voucher_verifies_offline_and_forgeries_are_rejected(db: TestDb) {
    use shared::voucher::{Expected, VoucherError};
    let sink = SmtpSink::start().await;
    let hub = hub_with(&db, JoinMode::Email, &sink).await;
    let (peer, _) = member(&hub, &sink, "ann@example.org").await;
    let (_, issued) = json_of(post(&hub, "/api/v1/vouchers", &json!({}), Some(&peer)).await).await;
    let token = issued["voucher"].as_str().unwrap().to_owned();
    let issuers = [hub_id(&hub)];
    let expected = Expected {
        subject: Some(&peer.ed_id()),
        issuers: &issuers,
        ..Expected::default()
    };
    let claims = shared::voucher::verify(&token, &expected).unwrap();
    let hub_key = shared::keyfile::load(&hub.data_path().join("hub.key")).unwrap();
    let b64 = shared::signing::b64u_encode;
    let parts: Vec<&str> = token.split('.').collect();
    let header = json!({"alg": "HS256", "typ": "JWT", "kid": hub_id(&hub).to_string()});
    let hs256 = format!(
        "{}.{}.{}",
        b64(header.to_string().as_bytes()),
        parts[1],
        parts[2]
    );
    let wrong_aud = shared::voucher::sign(
        &hub_key,
        &shared::voucher::Claims {
            aud: "other".to_owned(),
            ..claims.clone()
        },
    )
    .unwrap();
    let other_peer = Peer::new().ed_id();

    assert_eq!(claims.iss, hub_id(&hub).to_string());
    assert_eq!(claims.exp - claims.iat, 86_400);
    assert_eq!(
        shared::voucher::verify(&hs256, &expected),
        Err(VoucherError::BadSignature)
    );
    assert_eq!(
        shared::voucher::verify(&wrong_aud, &expected),
        Err(VoucherError::WrongAudience)
    );
    assert_eq!(
        shared::voucher::verify(
            &token,
            &Expected {
                subject: Some(&other_peer),
                ..expected.clone()
            }
        ),
        Err(VoucherError::WrongSubject)
    );
    let (status, code) =
        code_of(post(&hub, "/api/v1/vouchers", &json!({}), Some(&Peer::new())).await).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::FORBIDDEN, "not_member")
    );
}

async fn unbinding_a_peer_drops_its_reservation_and_revokes_its_voucher(db: TestDb) {
    let sink = SmtpSink::start().await;
    let hub = hub_with(&db, JoinMode::Email, &sink).await;
    let (peer, cookie) = member(&hub, &sink, "ann@example.org").await;
    let (_, issued) = json_of(post(&hub, "/api/v1/vouchers", &json!({}), Some(&peer)).await).await;
    let voucher = issued["voucher"].as_str().unwrap().to_owned();
    let mut swarm = client_with(peer.key.clone());
    reserve(&mut swarm, &hub_addr(&hub), hub.server().peer_id())
        .await
        .expect("member reserves");
    let accepted = present_voucher(
        &mut swarm,
        &hub_addr(&hub),
        hub.server().peer_id(),
        &voucher,
    )
    .await;
    assert_eq!(accepted["ok"], true, "{accepted}");

    let unbound = hub
        .client
        .delete(hub.url(&format!("/api/v1/peers/{}", peer.id())))
        .header("cookie", cookie.unwrap())
        .header("origin", &hub.base_url)
        .send()
        .await
        .unwrap();
    assert_eq!(unbound.status(), StatusCode::NO_CONTENT);
    testkit::swarm::pump(&mut [&mut swarm], Duration::from_secs(5), "the reservation to end", |_, event| {
        matches!(event, libp2p::swarm::SwarmEvent::ConnectionClosed { peer_id, num_established: 0, .. }
            if *peer_id == hub.server().peer_id())
        .then_some(())
    })
    .await;
    let revoked = present_voucher(
        &mut swarm,
        &hub_addr(&hub),
        hub.server().peer_id(),
        &voucher,
    )
    .await;
    let (_, list) = json_of(hub.get("/api/v1/vouchers/revocations?since=0").await).await;

    assert_eq!(revoked["error"], "revoked", "{revoked}");
    assert_eq!(
        list["revocations"][0]["peer_id"],
        peer.id().to_string(),
        "{list}"
    );
    assert!(
        reserve(&mut swarm, &hub_addr(&hub), hub.server().peer_id())
            .await
            .is_err()
    );
}

async fn bind_code_binds_a_second_device_and_cookie_posts_need_same_origin(db: TestDb) {
    let sink = SmtpSink::start().await;
    let hub = hub_with(&db, JoinMode::Email, &sink).await;
    let (laptop, cookie) = member(&hub, &sink, "ann@example.org").await;
    let cookie = cookie.unwrap();
    let create = |origin: Option<&str>| {
        let mut request = hub
            .client
            .post(hub.url("/api/v1/me/bind-codes"))
            .header("cookie", &cookie);
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        request.send()
    };

    let no_origin = create(None).await.unwrap();
    let foreign = create(Some("https://evil.example")).await.unwrap();
    let (status, created) = json_of(create(Some(&hub.base_url)).await.unwrap()).await;
    assert_eq!(
        code_of(no_origin).await,
        (StatusCode::FORBIDDEN, "csrf".to_owned())
    );
    assert_eq!(
        code_of(foreign).await,
        (StatusCode::FORBIDDEN, "csrf".to_owned())
    );
    assert_eq!(status, 201, "{created}");
    let code = created["code"].as_str().unwrap().to_owned();
    assert_eq!(code.len(), 11, "shown as XXXXX-XXXXX: {code}");

    let phone = Peer::new();
    let typed = code.to_lowercase().replace('-', " ");
    let (status, bound) = json_of(
        post(
            &hub,
            "/api/v1/peers",
            &json!({"bind_code": typed, "label": "phone"}),
            Some(&phone),
        )
        .await,
    )
    .await;
    let reused = post(
        &hub,
        "/api/v1/peers",
        &json!({"bind_code": code}),
        Some(&Peer::new()),
    )
    .await;
    let (_, me) = json_of(signed_get(&hub, "/api/v1/me", &laptop).await).await;
    let unbound_me = signed_get(&hub, "/api/v1/me", &Peer::new()).await;
    let anonymous_me = hub.get("/api/v1/me").await;

    assert_eq!(status, 201, "{bound}");
    assert_eq!(bound["peer_id"], phone.id().to_string());
    assert_eq!(
        code_of(reused).await,
        (StatusCode::BAD_REQUEST, "invalid_bind_code".to_owned())
    );
    assert_eq!(me["account"]["email"], "ann@example.org");
    assert_eq!(me["peers"].as_array().unwrap().len(), 2, "{me}");
    assert_eq!(me["entitlements"]["voucher_tier"], "member");
    assert_eq!(
        code_of(unbound_me).await,
        (StatusCode::NOT_FOUND, "not_bound".to_owned())
    );
    assert_eq!(anonymous_me.status(), StatusCode::UNAUTHORIZED);
}

async fn resend_replaces_the_pending_link_and_login_mails_only_known_addresses(db: TestDb) {
    let sink = SmtpSink::start().await;
    let hub = hub_with(&db, JoinMode::Email, &sink).await;
    let peer = Peer::new();
    post(
        &hub,
        "/api/v1/join",
        &json!({"email": "ann@example.org"}),
        Some(&peer),
    )
    .await;
    let first = link_token(&sink, "ann@example.org", 0).await;

    let resent = post(
        &hub,
        "/api/v1/verify/resend",
        &json!({"email": "ann@example.org"}),
        None,
    )
    .await;
    let second = link_token(&sink, "ann@example.org", 1).await;
    let unknown = post(
        &hub,
        "/api/v1/login",
        &json!({"email": "nobody@example.org"}),
        None,
    )
    .await;
    let old = hub.get(&format!("/api/v1/verify?token={first}")).await;
    let (_, verified, _) = verify(&hub, &second).await;
    let login = post(
        &hub,
        "/api/v1/login",
        &json!({"email": "ann@example.org"}),
        None,
    )
    .await;
    let signin = eventually(DEADLINE, "the sign-in mail", || async {
        sink.messages().into_iter().find(|m| {
            m.header("subject")
                .is_some_and(|s| s.starts_with("Sign in"))
        })
    })
    .await;
    let (status, session, cookie) = verify(&hub, &token_in(signin.body())).await;

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
        peer.id().to_string(),
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

async fn open_autojoin_binds_a_peer_on_its_first_signed_publish(db: TestDb) {
    let hub = TestHub::spawn_with(&db, |c| c.membership.join_mode = JoinMode::Open).await;
    let peer = Peer::new();
    assert_eq!(membership_state(&hub, &peer).await["state"], "none");

    let published = publish_online(&hub, &peer).await;
    let view = membership_state(&hub, &peer).await;
    let (_, me) = json_of(signed_get(&hub, "/api/v1/me", &peer).await).await;

    assert_eq!(published.status(), StatusCode::NO_CONTENT);
    assert_eq!(view["state"], "active", "{view}");
    assert!(view["account_id"].is_string(), "{view}");
    assert_eq!(me["peers"][0]["bound_via"], "autojoin", "{me}");
    assert_eq!(me["account"]["email"], Value::Null);
}

/// A cookie-authenticated request from the hub's own origin.
fn with_session(
    request: reqwest::RequestBuilder,
    hub: &TestHub,
    cookie: &str,
) -> reqwest::RequestBuilder {
    request
        .header("cookie", cookie)
        .header("origin", &hub.base_url)
}

async fn email_change_moves_the_account_and_logout_ends_the_session(db: TestDb) {
    let sink = SmtpSink::start().await;
    let hub = hub_with(&db, JoinMode::Email, &sink).await;
    let (peer, cookie) = member(&hub, &sink, "ann@example.org").await;
    member(&hub, &sink, "bob@example.org").await;
    let cookie = cookie.unwrap();
    let change = |email: &'static str| {
        with_session(hub.client.post(hub.url("/api/v1/me/email")), &hub, &cookie)
            .header("content-type", "application/json")
            .body(json!({ "email": email }).to_string())
            .send()
    };

    assert_eq!(
        change("ann.new@example.org").await.unwrap().status(),
        StatusCode::ACCEPTED
    );
    let (status, changed, _) =
        verify(&hub, &link_token(&sink, "ann.new@example.org", 0).await).await;
    assert_eq!(
        (status, changed["purpose"].as_str()),
        (StatusCode::OK, Some("change_email")),
        "{changed}"
    );
    assert_eq!(
        change("bob@example.org").await.unwrap().status(),
        StatusCode::ACCEPTED
    );
    let (taken, body, _) = verify(&hub, &link_token(&sink, "bob@example.org", 1).await).await;
    let (_, me) = json_of(signed_get(&hub, "/api/v1/me", &peer).await).await;
    let logout = with_session(hub.client.post(hub.url("/api/v1/logout")), &hub, &cookie)
        .send()
        .await
        .unwrap();
    let cleared = logout
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let after = hub
        .client
        .get(hub.url("/api/v1/me"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();

    assert_eq!(
        (taken, body["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("email_taken"))
    );
    assert_eq!(me["account"]["email"], "ann.new@example.org", "{me}");
    assert_eq!(logout.status(), StatusCode::NO_CONTENT);
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    assert_eq!(after.status(), StatusCode::UNAUTHORIZED);
}

/// The close frame a v2 WebSocket session of `peer` ends with right after its key challenge.
async fn v2_close(hub: &TestHub, peer: &Peer) -> (u16, String) {
    use futures::{SinkExt as _, StreamExt as _};
    use tokio_tungstenite::tungstenite::Message;
    let url = format!(
        "{}/ws?peer_id={}&v=2",
        hub.base_url.replacen("http", "ws", 1),
        peer.id()
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let next = async |ws: &mut tokio_tungstenite::WebSocketStream<_>| loop {
        match tokio::time::timeout(DEADLINE, ws.next())
            .await
            .expect("a frame in time")
        {
            Some(Ok(Message::Text(text))) => {
                return Ok(serde_json::from_str::<Value>(&text).unwrap());
            }
            Some(Ok(Message::Close(frame))) => {
                return Err(frame
                    .map(|f| (u16::from(f.code), f.reason.to_string()))
                    .unwrap_or_default());
            }
            Some(Ok(_)) => {}
            other => panic!("socket ended without a close frame: {other:?}"),
        }
    };
    let challenge = next(&mut ws).await.expect("a challenge");
    let input = format!(
        "goop-ws-v1\n{}\n{}\n{}",
        challenge["hubId"].as_str().unwrap(),
        challenge["nonce"].as_str().unwrap(),
        peer.id()
    );
    let sig = shared::signing::sign_b64u(&peer.key, input.as_bytes());
    let auth = json!({"type": "auth", "peerId": peer.id().to_string(), "nonce": challenge["nonce"], "sig": sig});
    ws.send(Message::Text(auth.to_string().into()))
        .await
        .unwrap();
    next(&mut ws).await.expect_err("the session is refused")
}

async fn lapsed_member_is_refused_presence_with_membership_lapsed(db: TestDb) {
    const TOKEN: &str = "admin-token-0123456789abcdefghijklmnop";
    let sink = SmtpSink::start().await;
    let url = sink.url();
    let hub = TestHub::spawn_with(&db, move |c| {
        c.membership.access = hub::members::Access::Paid;
        c.email.transport = MailTransportKind::Smtp;
        c.email.smtp_url = Some(url.into());
        c.admin.token = Some(TOKEN.to_owned().into());
    })
    .await;
    let (peer, _) = member(&hub, &sink, "ann@example.org").await;
    let account = membership_state(&hub, &peer).await["account_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let admin = |method: reqwest::Method, action: &str| {
        hub.client
            .request(
                method,
                hub.url(&format!("/api/v1/admin/members/{account}/{action}")),
            )
            .bearer_auth(TOKEN)
            .header("content-type", "application/json")
            .body("{}")
            .send()
    };
    assert_eq!(
        membership_state(&hub, &peer).await["tier"],
        "guest",
        "paid access starts as guest"
    );

    assert_eq!(
        admin(reqwest::Method::POST, "comp").await.unwrap().status(),
        StatusCode::OK
    );
    assert_eq!(membership_state(&hub, &peer).await["tier"], "comped");
    assert_eq!(
        admin(reqwest::Method::DELETE, "comp")
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    let view = membership_state(&hub, &peer).await;
    let closed = v2_close(&hub, &peer).await;
    let (_, voucher) = json_of(post(&hub, "/api/v1/vouchers", &json!({}), Some(&peer)).await).await;

    assert_eq!(
        (view["state"].as_str(), view["tier"].as_str()),
        (Some("lapsed"), Some("guest")),
        "{view}"
    );
    assert_eq!(closed, (4003, "membership_lapsed".to_owned()));
    assert_eq!(
        voucher["tier"], "guest",
        "a lapsed account still gets a guest voucher: {voucher}"
    );
}

/// The status of `GET /events` with `request`'s credentials, and its first bytes when 200.
async fn events(request: reqwest::RequestBuilder) -> (StatusCode, String) {
    let mut response = request.send().await.unwrap();
    let status = response.status();
    let first = if status == StatusCode::OK {
        let chunk = tokio::time::timeout(DEADLINE, response.chunk())
            .await
            .unwrap()
            .unwrap();
        String::from_utf8_lossy(&chunk.unwrap_or_default()).into_owned()
    } else {
        response.json::<Value>().await.unwrap()["error"]["code"]
            .as_str()
            .unwrap_or("")
            .to_owned()
    };
    (status, first)
}

async fn sse_admits_a_voucher_or_a_member_session_and_refuses_a_revoked_voucher(db: TestDb) {
    let sink = SmtpSink::start().await;
    let hub = hub_with(&db, JoinMode::Email, &sink).await;
    let (peer, cookie) = member(&hub, &sink, "ann@example.org").await;
    let cookie = cookie.unwrap();
    let (_, issued) = json_of(post(&hub, "/api/v1/vouchers", &json!({}), Some(&peer)).await).await;
    let voucher = issued["voucher"].as_str().unwrap().to_owned();
    let get = |path: &str| hub.client.get(hub.url(path));

    let bearer = events(get("/events").bearer_auth(&voucher)).await;
    let query = events(get(&format!("/events?voucher={voucher}"))).await;
    let session = events(get("/events").header("cookie", &cookie)).await;
    let forged = events(get("/events").bearer_auth(format!("{voucher}x"))).await;
    let stranger_session =
        events(get("/events").header("cookie", format!("goop_hub_session={}", "A".repeat(43))))
            .await;
    let unbound = hub
        .client
        .delete(hub.url(&format!("/api/v1/peers/{}", peer.id())))
        .header("cookie", &cookie)
        .header("origin", &hub.base_url)
        .send()
        .await
        .unwrap();
    assert_eq!(unbound.status(), StatusCode::NO_CONTENT);
    let revoked = events(get("/events").bearer_auth(&voucher)).await;
    let peerless_session = events(get("/events").header("cookie", &cookie)).await;

    assert_eq!(bearer, (StatusCode::OK, ": ok\n\n".to_owned()));
    assert_eq!(query.0, StatusCode::OK);
    assert_eq!(session.0, StatusCode::OK);
    assert_eq!(
        forged,
        (StatusCode::UNAUTHORIZED, "invalid_voucher".to_owned())
    );
    assert_eq!(
        stranger_session,
        (StatusCode::UNAUTHORIZED, "unauthorized".to_owned())
    );
    assert_eq!(
        revoked,
        (StatusCode::UNAUTHORIZED, "invalid_voucher".to_owned())
    );
    assert_eq!(
        peerless_session,
        (StatusCode::FORBIDDEN, "not_member".to_owned())
    );
}

const ADMIN_TOKEN: &str = "admin-token-0123456789abcdefghijklmnop";

/// A hub in `email` mode with mail to `sink`, an admin token, and `adjust` applied.
async fn admin_hub(db: &TestDb, sink: &SmtpSink, adjust: impl FnOnce(&mut hub::Config)) -> TestHub {
    let url = sink.url();
    TestHub::spawn_with(db, move |c| {
        c.email.transport = MailTransportKind::Smtp;
        c.email.smtp_url = Some(url.into());
        c.admin.token = Some(ADMIN_TOKEN.to_owned().into());
        adjust(c);
    })
    .await
}

/// `POST /api/v1/admin/members/{account}/{action}` with `body`.
async fn admin_post(hub: &TestHub, account: &str, action: &str, body: &Value) -> Response {
    hub.client
        .post(hub.url(&format!("/api/v1/admin/members/{account}/{action}")))
        .bearer_auth(ADMIN_TOKEN)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap()
}

async fn a_strangers_join_names_its_device_and_can_be_confirmed_without_it(db: TestDb) {
    let sink = SmtpSink::start().await;
    let hub = hub_with(&db, JoinMode::Email, &sink).await;
    member(&hub, &sink, "ann@example.org").await;
    let stranger = Peer::new();

    post(
        &hub,
        "/api/v1/join",
        &json!({"email": "ann@example.org", "label": "not-ann"}),
        Some(&stranger),
    )
    .await;
    let mail = eventually(DEADLINE, "the second mail", || async {
        sink.messages()
            .into_iter()
            .filter(|m| m.to == ["ann@example.org"])
            .nth(1)
    })
    .await;
    let token = token_in(mail.body());
    let (_, info) = json_of(hub.get(&format!("/api/v1/verify?token={token}")).await).await;
    let response = post(
        &hub,
        "/api/v1/verify",
        &json!({"token": token, "bind": false}),
        None,
    )
    .await;
    let (status, verified) = json_of(response).await;

    assert!(
        mail.body().contains(&stranger.id().to_string()),
        "the mail names the device: {}",
        mail.body()
    );
    assert!(mail.body().contains("\"not-ann\""), "{}", mail.body());
    assert_eq!(info["peer_id"], stranger.id().to_string(), "{info}");
    assert_eq!(info["peer_label"], "not-ann");
    assert_eq!(status, 200, "{verified}");
    assert_eq!(verified["bound_peer"], Value::Null);
    assert_eq!(membership_state(&hub, &stranger).await["state"], "none");
}

async fn banned_account_cannot_unbind_its_peer_or_change_its_address(db: TestDb) {
    let sink = SmtpSink::start().await;
    let hub = admin_hub(&db, &sink, |_| {}).await;
    let (peer, _) = member(&hub, &sink, "ann@example.org").await;
    let account = membership_state(&hub, &peer).await["account_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let banned = admin_post(&hub, &account, "ban", &json!({"reason": "spam"})).await;
    assert_eq!(banned.status(), StatusCode::OK);

    let mut unbind = hub
        .client
        .delete(hub.url(&format!("/api/v1/peers/{}", peer.id())));
    let path = format!("/api/v1/peers/{}", peer.id());
    for (name, value) in signed_headers(&peer.key, &hub_id(&hub), "DELETE", &path, b"") {
        unbind = unbind.header(name, value);
    }
    let unbind = unbind.send().await.unwrap();
    let change = post(
        &hub,
        "/api/v1/me/email",
        &json!({"email": "new@example.org"}),
        Some(&peer),
    )
    .await;
    let join_again = post(
        &hub,
        "/api/v1/join",
        &json!({"email": "ann@example.org"}),
        None,
    )
    .await;

    assert_eq!(
        code_of(unbind).await,
        (StatusCode::FORBIDDEN, "banned".to_owned())
    );
    assert_eq!(
        code_of(change).await,
        (StatusCode::FORBIDDEN, "banned".to_owned())
    );
    assert_eq!(
        join_again.status(),
        StatusCode::ACCEPTED,
        "the same answer as for anyone"
    );
    assert_eq!(membership_state(&hub, &peer).await["state"], "banned");
    assert_eq!(
        sink.messages().len(),
        1,
        "a banned address receives no mail"
    );
}

async fn voucher_is_issued_again_after_a_timed_comp_ends(db: TestDb) {
    let sink = SmtpSink::start().await;
    let hub = admin_hub(&db, &sink, |c| {
        c.membership.sweep_interval = Duration::from_secs(1)
    })
    .await;
    let (peer, _) = member(&hub, &sink, "ann@example.org").await;
    let account = membership_state(&hub, &peer).await["account_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let until = now + 2_000;

    assert_eq!(
        admin_post(&hub, &account, "comp", &json!({ "until": until }))
            .await
            .status(),
        StatusCode::OK
    );
    let (_, comped) = json_of(post(&hub, "/api/v1/vouchers", &json!({}), Some(&peer)).await).await;
    eventually(DEADLINE, "the sweep to end the comp", || async {
        (membership_state(&hub, &peer).await["tier"] == "member").then_some(())
    })
    .await;
    let (status, after) =
        json_of(post(&hub, "/api/v1/vouchers", &json!({}), Some(&peer)).await).await;

    assert_eq!(comped["tier"], "comped");
    assert!(
        comped["expires_at"].as_i64().unwrap() <= until,
        "a comp voucher ends with the comp: {comped}"
    );
    assert_eq!(
        status, 201,
        "the old comp end no longer caps vouchers: {after}"
    );
    assert_eq!(after["tier"], "member");
    assert!(after["expires_at"].as_i64().unwrap() > until + 3_600_000);
}

async fn an_email_change_voids_older_links_of_the_account(db: TestDb) {
    let sink = SmtpSink::start().await;
    let hub = hub_with(&db, JoinMode::Email, &sink).await;
    let (peer, _) = member(&hub, &sink, "ann@example.org").await;

    post(
        &hub,
        "/api/v1/me/email",
        &json!({"email": "ann@exmaple.org"}),
        Some(&peer),
    )
    .await;
    let typo = link_token(&sink, "ann@exmaple.org", 0).await;
    post(
        &hub,
        "/api/v1/me/email",
        &json!({"email": "ann@example.net"}),
        Some(&peer),
    )
    .await;
    let (status, _, _) = verify(&hub, &link_token(&sink, "ann@example.net", 0).await).await;
    let (late, body, _) = verify(&hub, &typo).await;

    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (late, body["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("invalid_token"))
    );
    let (_, me) = json_of(signed_get(&hub, "/api/v1/me", &peer).await).await;
    assert_eq!(me["account"]["email"], "ann@example.net");
}

async fn autojoin_leaves_a_peer_with_a_pending_email_join_to_its_link(db: TestDb) {
    let sink = SmtpSink::start().await;
    let hub = hub_with(&db, JoinMode::Open, &sink).await;
    let peer = Peer::new();
    post(
        &hub,
        "/api/v1/join",
        &json!({"email": "ann@example.org"}),
        Some(&peer),
    )
    .await;

    assert_eq!(
        publish_online(&hub, &peer).await.status(),
        StatusCode::NO_CONTENT
    );
    let (status, verified, _) = verify(&hub, &link_token(&sink, "ann@example.org", 0).await).await;

    assert_eq!(status, 200, "{verified}");
    assert_eq!(verified["bound_peer"], peer.id().to_string());
}

/// The newest `.eml` in the file transport's outbox that is not in `seen`; its verify token.
async fn eml_token(
    hub: &TestHub,
    seen: &mut std::collections::HashSet<std::path::PathBuf>,
) -> String {
    let outbox = hub.data_path().join("outbox");
    let (path, text) = eventually(DEADLINE, "a new .eml file", || async {
        let entry = std::fs::read_dir(&outbox).ok()?.flatten().find(|e| {
            e.path().extension().is_some_and(|x| x == "eml") && !seen.contains(&e.path())
        })?;
        Some((entry.path(), std::fs::read_to_string(entry.path()).ok()?))
    })
    .await;
    seen.insert(path);
    token_in(&text)
}

/// hub.md §18 checks 9 and 11 and the issue's "done when", for each join mode: a signed join,
/// the link from the file transport (the GET does not consume it), activation (an admin approves
/// applications), a relay reservation, a voucher that verifies offline, then a ban that drops
/// the reservation within 5 s.
async fn every_join_mode_ends_in_a_relay_reservation_that_a_ban_drops_within_5_s(db: TestDb) {
    // One database, one hub per mode in turn (addresses differ per mode).
    for mode in [
        JoinMode::Open,
        JoinMode::Email,
        JoinMode::Invite,
        JoinMode::Application,
    ] {
        let hub = TestHub::spawn_with(&db, |c| {
            c.membership.join_mode = mode;
            c.email.transport = MailTransportKind::File;
            c.admin.token = Some(ADMIN_TOKEN.to_owned().into());
        })
        .await;
        let mut seen = std::collections::HashSet::new();
        let peer = Peer::new();
        let mut join =
            json!({"email": format!("{mode:?}@example.org").to_lowercase(), "message": "hello"});
        if mode == JoinMode::Invite {
            let created = hub
                .client
                .post(hub.url("/api/v1/admin/invites"))
                .bearer_auth(ADMIN_TOKEN)
                .header("content-type", "application/json")
                .body(json!({"max_uses": 1}).to_string())
                .send()
                .await
                .unwrap();
            let (status, invite) = json_of(created).await;
            assert_eq!(status, 201, "{invite}");
            join["invite_code"] = invite["code"].clone();
        }

        let joined = post(&hub, "/api/v1/join", &join, Some(&peer)).await;
        assert_eq!(joined.status(), StatusCode::ACCEPTED, "{mode:?}");
        let token = eml_token(&hub, &mut seen).await;
        let looked = hub.get(&format!("/api/v1/verify?token={token}")).await;
        assert_eq!(json_of(looked).await.1["consumed"], false);
        let (status, verified, _) = verify(&hub, &token).await;
        assert_eq!(status, 200, "{mode:?}: {verified}");
        let account = verified["account_id"].as_str().unwrap().to_owned();
        if mode == JoinMode::Application {
            assert_eq!(verified["state"], "pending_approval");
            let approved = admin_post(&hub, &account, "approve", &json!({})).await;
            assert_eq!(approved.status(), StatusCode::OK, "{mode:?}");
        }
        assert_eq!(
            membership_state(&hub, &peer).await["state"],
            "active",
            "{mode:?}"
        );

        let mut swarm = client_with(peer.key.clone());
        reserve(&mut swarm, &hub_addr(&hub), hub.server().peer_id())
            .await
            .unwrap_or_else(|e| panic!("{mode:?}: the member reserves: {e}"));
        let (_, issued) =
            json_of(post(&hub, "/api/v1/vouchers", &json!({}), Some(&peer)).await).await;
        let issuers = [hub_id(&hub)];
        let expected = shared::voucher::Expected {
            subject: Some(&peer.ed_id()),
            issuers: &issuers,
            ..shared::voucher::Expected::default()
        };
        assert!(
            shared::voucher::verify(issued["voucher"].as_str().unwrap(), &expected).is_ok(),
            "{mode:?}"
        );

        let banned = admin_post(&hub, &account, "ban", &json!({"reason": "test"})).await;
        assert_eq!(banned.status(), StatusCode::OK, "{mode:?}");
        testkit::swarm::pump(&mut [&mut swarm], Duration::from_secs(5), "the ban to drop the reservation", |_, event| {
            matches!(event, libp2p::swarm::SwarmEvent::ConnectionClosed { peer_id, num_established: 0, .. }
                if *peer_id == hub.server().peer_id())
            .then_some(())
        })
        .await;
        assert!(
            reserve(&mut swarm, &hub_addr(&hub), hub.server().peer_id())
                .await
                .is_err(),
            "{mode:?}"
        );
        hub.shutdown().await;
    }
}

async fn expired_link_is_gone_and_binds_nothing(db: TestDb) {
    let sink = SmtpSink::start().await;
    let url = sink.url();
    let hub = TestHub::spawn_with(&db, move |c| {
        c.email.transport = MailTransportKind::Smtp;
        c.email.smtp_url = Some(url.into());
        c.email.token_ttl = Duration::from_secs(1);
    })
    .await;
    let peer = Peer::new();
    let joined = post(
        &hub,
        "/api/v1/join",
        &json!({"email": "ann@example.org"}),
        Some(&peer),
    )
    .await;
    let expires_at = json_of(joined).await.1["expires_at"].as_i64().unwrap();
    let token = link_token(&sink, "ann@example.org", 0).await;

    // The clock passing the link's expiry is the condition (asking the API would spend the
    // verify_ip bucket).
    eventually(DEADLINE, "the link's expiry time to pass", || async {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .ok()?;
        (now.as_millis() as i64 > expires_at).then_some(())
    })
    .await;
    let (_, gone) = code_of(hub.get(&format!("/api/v1/verify?token={token}")).await).await;
    let (status, body, cookie) = verify(&hub, &token).await;

    assert_eq!(gone, "token_expired");
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::GONE, Some("token_expired"))
    );
    assert!(cookie.is_none());
    assert_eq!(membership_state(&hub, &peer).await["state"], "none");
}

async fn bind_with_a_signature_of_another_key_is_refused_and_binds_nothing(db: TestDb) {
    let sink = SmtpSink::start().await;
    let hub = hub_with(&db, JoinMode::Email, &sink).await;
    let (laptop, _) = member(&hub, &sink, "ann@example.org").await;
    let (_, created) =
        json_of(post(&hub, "/api/v1/me/bind-codes", &json!({}), Some(&laptop)).await).await;
    let (victim, signer) = (Peer::new(), Peer::new());
    let body = json!({"bind_code": created["code"]}).to_string();

    // Headers name the victim's PeerId, the signature is the signer's.
    let mut request = hub
        .client
        .post(hub.url("/api/v1/peers"))
        .header("content-type", "application/json");
    for (name, value) in signed_headers(
        &signer.key,
        &hub_id(&hub),
        "POST",
        "/api/v1/peers",
        body.as_bytes(),
    ) {
        let value = if name == "x-goop-peer-id" {
            victim.id().to_string()
        } else {
            value
        };
        request = request.header(name, value);
    }
    let forged = request.body(body.clone()).send().await.unwrap();
    let (_, me) = json_of(signed_get(&hub, "/api/v1/me", &laptop).await).await;

    assert_eq!(
        code_of(forged).await,
        (StatusCode::UNAUTHORIZED, "bad_signature".to_owned())
    );
    assert_eq!(
        me["peers"].as_array().unwrap().len(),
        1,
        "nothing was bound: {me}"
    );
    assert_eq!(membership_state(&hub, &victim).await["state"], "none");
}

async fn invite_guessing_runs_into_the_per_ip_limit(db: TestDb) {
    let sink = SmtpSink::start().await;
    let hub = hub_with(&db, JoinMode::Invite, &sink).await;

    let mut codes = Vec::new();
    for n in 0..11 {
        let body = json!({"email": format!("guess{n}@example.org"), "invite_code": format!("AAAA-AAAA-AA{n:02}")});
        codes.push(code_of(post(&hub, "/api/v1/join", &body, None).await).await);
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

async fn a_session_used_after_half_its_life_is_renewed_and_its_cookie_resent(db: TestDb) {
    use sha2::Digest as _;
    let sink = SmtpSink::start().await;
    let hub = hub_with(&db, JoinMode::Email, &sink).await;
    let (_, cookie) = member(&hub, &sink, "ann@example.org").await;
    let cookie = cookie.unwrap();
    let me = || {
        hub.client
            .get(hub.url("/api/v1/me"))
            .header("cookie", &cookie)
            .send()
    };
    let fresh = me().await.unwrap();
    assert_eq!(fresh.status(), StatusCode::OK);
    assert!(
        fresh.headers().get("set-cookie").is_none(),
        "a fresh session is not re-sent"
    );

    // Move the session into the second half of its life: one minute left.
    let value = cookie.split_once('=').unwrap().1;
    let hash: String = sha2::Sha256::digest(value.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let store = hub::store::Store::open(&shared::db::DatabaseConfig::with_url(&db.url), dir.path())
        .await
        .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    store
        .find_and_renew_session(&hash, now, i64::MAX, now + 60_000)
        .await
        .unwrap()
        .expect("the session exists");
    let renewed = me().await.unwrap();

    assert_eq!(renewed.status(), StatusCode::OK);
    let set = renewed
        .headers()
        .get("set-cookie")
        .expect("the cookie is re-sent")
        .to_str()
        .unwrap()
        .to_owned();
    assert!(set.starts_with(&cookie), "{set}");
    assert!(set.contains("Max-Age=2592000"), "{set}");
    let session = store
        .find_and_renew_session(&hash, now, 0, 0)
        .await
        .unwrap()
        .unwrap();
    assert!(
        session.expires_at > now + 29 * 86_400_000,
        "renewed in the database too"
    );
}

async fn concurrent_binds_never_exceed_the_peer_limit(db: TestDb) {
    let sink = SmtpSink::start().await;
    let url = sink.url();
    let hub = TestHub::spawn_with(&db, move |c| {
        c.email.transport = MailTransportKind::Smtp;
        c.email.smtp_url = Some(url.into());
        c.membership.max_peers_per_account = 2;
    })
    .await;
    let (laptop, _) = member(&hub, &sink, "ann@example.org").await;
    let mut codes = Vec::new();
    for _ in 0..4 {
        let (_, created) =
            json_of(post(&hub, "/api/v1/me/bind-codes", &json!({}), Some(&laptop)).await).await;
        codes.push(created["code"].as_str().unwrap().to_owned());
    }
    let peers: Vec<Peer> = (0..4).map(|_| Peer::new()).collect();

    let binds = futures::future::join_all(peers.iter().zip(&codes).map(|(peer, code)| {
        let hub = &hub;
        async move {
            code_of(
                post(
                    hub,
                    "/api/v1/peers",
                    &json!({ "bind_code": code }),
                    Some(peer),
                )
                .await,
            )
            .await
        }
    }))
    .await;
    let (_, me) = json_of(signed_get(&hub, "/api/v1/me", &laptop).await).await;

    let created = binds
        .iter()
        .filter(|(status, _)| *status == StatusCode::CREATED)
        .count();
    let full = binds
        .iter()
        .filter(|b| **b == (StatusCode::CONFLICT, "too_many_peers".to_owned()))
        .count();
    assert_eq!((created, full), (1, 3), "{binds:?}");
    assert_eq!(me["peers"].as_array().unwrap().len(), 2, "{me}");
}
