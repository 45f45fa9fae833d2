//! What a membership decision does to a peer (hub.md §6.4–6.6, §18 checks 9 and 11): every join
//! mode ends in a relay reservation that a ban drops; lapsed and banned accounts lose presence and
//! their self-service.

use std::time::Duration;

use hub::config::{JoinMode, MailTransportKind};
use reqwest::StatusCode;
use serde_json::json;
use testkit::swarm::{client_with, reserve};
use testkit::{
    SmtpSink, TestDb, TestHub, TestPeer, code_of, each_backend, eventually, json_of, verify_token,
};

use super::{ADMIN_TOKEN, DEADLINE, admin_hub, admin_post, member};

each_backend!(
    every_join_mode_ends_in_a_relay_reservation_that_a_ban_drops_within_5_s,
    lapsed_member_is_refused_presence_with_membership_lapsed,
    banned_account_cannot_unbind_its_peer_or_change_its_address,
);

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
    verify_token(&text)
}

/// hub.md §18 checks 9 and 11 and the "done when", for each join mode: a signed join,
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
        let peer = TestPeer::new();
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

        let joined = peer.join(&hub, &join).await;
        assert_eq!(joined.status(), StatusCode::ACCEPTED, "{mode:?}");
        let token = eml_token(&hub, &mut seen).await;
        let looked = hub.get(&format!("/api/v1/verify?token={token}")).await;
        assert_eq!(json_of(looked).await.1["consumed"], false);
        let (status, verified, _) = hub.verify(&token).await;
        assert_eq!(status, 200, "{mode:?}: {verified}");
        let account = verified["account_id"].as_str().unwrap().to_owned();
        if mode == JoinMode::Application {
            assert_eq!(verified["state"], "pending_approval");
            let approved = admin_post(&hub, &account, "approve", &json!({})).await;
            assert_eq!(approved.status(), StatusCode::OK, "{mode:?}");
        }
        assert_eq!(peer.membership(&hub).await["state"], "active", "{mode:?}");

        let mut swarm = client_with(peer.key.clone());
        reserve(&mut swarm, &hub)
            .await
            .unwrap_or_else(|e| panic!("{mode:?}: the member reserves: {e}"));
        let (_, issued) =
            json_of(hub.post_signed("/api/v1/vouchers", &json!({}), &peer).await).await;
        let issuers = [hub.hub_id()];
        let expected = shared::voucher::Expected {
            subject: Some(&peer.id),
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
        assert!(reserve(&mut swarm, &hub).await.is_err(), "{mode:?}");
        hub.shutdown().await;
    }
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
    let account = peer.membership(&hub).await["account_id"]
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
        peer.membership(&hub).await["tier"],
        "guest",
        "paid access starts as guest"
    );

    assert_eq!(
        admin(reqwest::Method::POST, "comp").await.unwrap().status(),
        StatusCode::OK
    );
    assert_eq!(peer.membership(&hub).await["tier"], "comped");
    assert_eq!(
        admin(reqwest::Method::DELETE, "comp")
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    let view = peer.membership(&hub).await;
    let closed = peer.refused_v2(&hub).await;
    let (_, voucher) = json_of(hub.post_signed("/api/v1/vouchers", &json!({}), &peer).await).await;

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

async fn banned_account_cannot_unbind_its_peer_or_change_its_address(db: TestDb) {
    let sink = SmtpSink::start().await;
    let hub = admin_hub(&db, &sink, |_| {}).await;
    let (peer, _) = member(&hub, &sink, "ann@example.org").await;
    let account = peer.membership(&hub).await["account_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let banned = admin_post(&hub, &account, "ban", &json!({"reason": "spam"})).await;
    assert_eq!(banned.status(), StatusCode::OK);

    let path = format!("/api/v1/peers/{}", peer.peer_id());
    let unbind = hub
        .signed(&peer, reqwest::Method::DELETE, &path, Vec::new())
        .send()
        .await
        .unwrap();
    let change = hub
        .post_signed(
            "/api/v1/me/email",
            &json!({"email": "new@example.org"}),
            &peer,
        )
        .await;
    let join_again = hub
        .post("/api/v1/join", &json!({"email": "ann@example.org"}))
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
    assert_eq!(peer.membership(&hub).await["state"], "banned");
    assert_eq!(
        sink.messages().len(),
        1,
        "a banned address receives no mail"
    );
}
