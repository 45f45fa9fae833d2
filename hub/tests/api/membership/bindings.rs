//! Peer bindings (hub.md §6.9, §6.10): bind codes, binds proven by the peer's key, the peer limit,
//! unbinding, and open autojoin on a first signed publish.

use std::time::Duration;

use hub::config::{JoinMode, MailTransportKind};
use reqwest::StatusCode;
use serde_json::{Value, json};
use testkit::swarm::{client_with, present_voucher, reserve};
use testkit::{
    SmtpSink, TestDb, TestHub, TestPeer, code_of, each_backend, json_of, signed_headers,
};

use super::{hub_with, link_token, member};

each_backend!(
    unbinding_a_peer_drops_its_reservation_and_revokes_its_voucher,
    bind_code_binds_a_second_device_and_cookie_posts_need_same_origin,
    bind_with_a_signature_of_another_key_is_refused_and_binds_nothing,
    concurrent_binds_never_exceed_the_peer_limit,
    open_autojoin_binds_a_peer_on_its_first_signed_publish,
    autojoin_leaves_a_peer_with_a_pending_email_join_to_its_link,
);

async fn unbinding_a_peer_drops_its_reservation_and_revokes_its_voucher(db: TestDb) {
    let sink = SmtpSink::start().await;
    let hub = hub_with(&db, JoinMode::Email, &sink).await;
    let (peer, cookie) = member(&hub, &sink, "ann@example.org").await;
    let (_, issued) = json_of(hub.post_signed("/api/v1/vouchers", &json!({}), &peer).await).await;
    let voucher = issued["voucher"].as_str().unwrap().to_owned();
    let mut swarm = client_with(peer.key.clone());
    reserve(&mut swarm, &hub).await.expect("member reserves");
    let accepted = present_voucher(&mut swarm, &hub, &voucher).await;
    assert_eq!(accepted["ok"], true, "{accepted}");

    let unbound = hub
        .client
        .delete(hub.url(&format!("/api/v1/peers/{}", peer.peer_id())))
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
    let revoked = present_voucher(&mut swarm, &hub, &voucher).await;
    let (_, list) = json_of(hub.get("/api/v1/vouchers/revocations?since=0").await).await;

    assert_eq!(revoked["error"], "revoked", "{revoked}");
    assert_eq!(
        list["revocations"][0]["peer_id"],
        peer.peer_id().to_string(),
        "{list}"
    );
    assert!(reserve(&mut swarm, &hub).await.is_err());
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

    let phone = TestPeer::new();
    let typed = code.to_lowercase().replace('-', " ");
    let (status, bound) = json_of(
        phone
            .bind(&hub, &json!({"bind_code": typed, "label": "phone"}))
            .await,
    )
    .await;
    let reused = TestPeer::new()
        .bind(&hub, &json!({"bind_code": code}))
        .await;
    let (_, me) = json_of(hub.get_signed("/api/v1/me", &laptop).await).await;
    let unbound_me = hub.get_signed("/api/v1/me", &TestPeer::new()).await;
    let anonymous_me = hub.get("/api/v1/me").await;

    assert_eq!(status, 201, "{bound}");
    assert_eq!(bound["peer_id"], phone.peer_id().to_string());
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

async fn bind_with_a_signature_of_another_key_is_refused_and_binds_nothing(db: TestDb) {
    let sink = SmtpSink::start().await;
    let hub = hub_with(&db, JoinMode::Email, &sink).await;
    let (laptop, _) = member(&hub, &sink, "ann@example.org").await;
    let (_, created) = json_of(
        hub.post_signed("/api/v1/me/bind-codes", &json!({}), &laptop)
            .await,
    )
    .await;
    let (victim, signer) = (TestPeer::new(), TestPeer::new());
    let body = json!({"bind_code": created["code"]}).to_string();

    // Headers name the victim's PeerId, the signature is the signer's.
    let mut request = hub
        .client
        .post(hub.url("/api/v1/peers"))
        .header("content-type", "application/json");
    for (name, value) in signed_headers(
        &signer.key,
        &hub.hub_id(),
        "POST",
        "/api/v1/peers",
        body.as_bytes(),
    ) {
        let value = if name == "x-goop-peer-id" {
            victim.peer_id().to_string()
        } else {
            value
        };
        request = request.header(name, value);
    }
    let forged = request.body(body.clone()).send().await.unwrap();
    let (_, me) = json_of(hub.get_signed("/api/v1/me", &laptop).await).await;

    assert_eq!(
        code_of(forged).await,
        (StatusCode::UNAUTHORIZED, "bad_signature".to_owned())
    );
    assert_eq!(
        me["peers"].as_array().unwrap().len(),
        1,
        "nothing was bound: {me}"
    );
    assert_eq!(victim.membership(&hub).await["state"], "none");
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
        let (_, created) = json_of(
            hub.post_signed("/api/v1/me/bind-codes", &json!({}), &laptop)
                .await,
        )
        .await;
        codes.push(created["code"].as_str().unwrap().to_owned());
    }
    let peers: Vec<TestPeer> = (0..4).map(|_| TestPeer::new()).collect();

    let binds = futures::future::join_all(peers.iter().zip(&codes).map(|(peer, code)| {
        let hub = &hub;
        async move { code_of(peer.bind(hub, &json!({ "bind_code": code })).await).await }
    }))
    .await;
    let (_, me) = json_of(hub.get_signed("/api/v1/me", &laptop).await).await;

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

async fn open_autojoin_binds_a_peer_on_its_first_signed_publish(db: TestDb) {
    let hub = TestHub::spawn_with(&db, |c| c.membership.join_mode = JoinMode::Open).await;
    let peer = TestPeer::new();
    assert_eq!(peer.membership(&hub).await["state"], "none");

    let published = peer.publish(&hub, &peer.msg("online", "hi")).await;
    let view = peer.membership(&hub).await;
    let (_, me) = json_of(hub.get_signed("/api/v1/me", &peer).await).await;

    assert_eq!(published.status(), StatusCode::NO_CONTENT);
    assert_eq!(view["state"], "active", "{view}");
    assert!(view["account_id"].is_string(), "{view}");
    assert_eq!(me["peers"][0]["bound_via"], "autojoin", "{me}");
    assert_eq!(me["account"]["email"], Value::Null);
}

async fn autojoin_leaves_a_peer_with_a_pending_email_join_to_its_link(db: TestDb) {
    let sink = SmtpSink::start().await;
    let hub = hub_with(&db, JoinMode::Open, &sink).await;
    let peer = TestPeer::new();
    peer.join(&hub, &json!({"email": "ann@example.org"})).await;

    assert_eq!(
        peer.publish(&hub, &peer.msg("online", "hi")).await.status(),
        StatusCode::NO_CONTENT
    );
    let (status, verified, _) = hub
        .verify(&link_token(&sink, "ann@example.org", 0).await)
        .await;

    assert_eq!(status, 200, "{verified}");
    assert_eq!(verified["bound_peer"], peer.peer_id().to_string());
}
