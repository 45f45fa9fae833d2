//! Joins that end without a membership (peer.md §3.6, §1.4 exit codes, §14): a wrong invite or
//! bind code (2), a rejected application (2), a hub answering garbage (4, 502), a paid community
//! (step 6 not served: 2); nothing is stored. And the membership-state rules: a ban stops
//! presence and relay without a reconnect loop, an unban resumes both at the next re-read.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use hub::config::JoinMode;
use hub::members::Access;
use libp2p::identity::ed25519::Keypair;
use peer::Peer;
use peer::hub_url::HubUrl;
use peer::membership::{JoinError, JoinOptions};
use serde_json::json;
use shared::ids::Ed25519PeerId;
use shared::voucher::Claims;

use super::join::{admin, applying, confirm, hub_in, joiner, options, pending_application};
use super::{DEADLINE, hub_view, url};

/// Nothing about `hub` was stored: no `_memberships` row, no `_hubs` row, not in the registry.
async fn nothing_stored(peer: &Peer, hub: &HubUrl) {
    let node = peer.node();
    assert_eq!(node.store.membership(hub).await.unwrap(), None);
    assert!(node.store.list_hubs().await.unwrap().is_empty());
    assert!(node.hubs.get(hub).is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_invite_code_is_refused_with_exit_2_and_nothing_stored() {
    let (hub, _db, _sink) = hub_in(JoinMode::Invite, |_| {}).await;
    let (peer, _dir) = joiner().await;
    let h = url(&hub.base_url);

    let error = peer
        .join_hub(
            &h,
            JoinOptions {
                email: Some("eve@example.org".to_owned()),
                invite: Some("NOPE-NOPE-NOPE".to_owned()),
                ..options()
            },
        )
        .await
        .unwrap_err();

    assert_eq!(error, JoinError::Refused("invalid_invite".to_owned()));
    assert_eq!(error.exit_code(), 2);
    nothing_stored(&peer, &h).await;
    peer.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_bind_code_is_a_409_from_the_local_api_and_nothing_stored() {
    let (hub, _db, _sink) = hub_in(JoinMode::Email, |_| {}).await;
    let (peer, _dir) = joiner().await;
    let api = format!("http://{}", peer.http_addr().unwrap());

    let answer = reqwest::Client::new()
        .post(format!("{api}/api/hubs/join"))
        .json(&json!({ "url": hub.base_url, "bind_code": "AAAAA-BBBBB", "wait": 5 }))
        .send()
        .await
        .unwrap();
    let (status, body) = testkit::json_of(answer).await;

    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "invalid_bind_code");
    nothing_stored(&peer, &url(&hub.base_url)).await;
    peer.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_email_asks_for_it_without_calling_the_join() {
    let (hub, _db, sink) = hub_in(JoinMode::Email, |_| {}).await;
    let (peer, _dir) = joiner().await;
    let h = url(&hub.base_url);

    let error = peer.join_hub(&h, options()).await.unwrap_err();
    let answer = reqwest::Client::new()
        .post(format!(
            "http://{}/api/hubs/join",
            peer.http_addr().unwrap()
        ))
        .json(&json!({ "url": hub.base_url }))
        .send()
        .await
        .unwrap();
    let (status, body) = testkit::json_of(answer).await;

    assert!(matches!(error, JoinError::NeedsInput(ref what) if what.contains("--email")));
    assert_eq!(error.exit_code(), 2);
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["state"], "none");
    assert_eq!(body["action"]["kind"], "enter_code");
    assert!(
        body["action"]["message"]
            .as_str()
            .unwrap()
            .contains("email"),
        "{body}"
    );
    assert!(sink.messages().is_empty());
    nothing_stored(&peer, &h).await;
    peer.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_application_ends_with_exit_2() {
    let (hub, _db, sink) = hub_in(JoinMode::Application, |_| {}).await;
    let (peer, _dir) = joiner().await;

    let h = url(&hub.base_url);
    let join = peer.join_hub(&h, applying("fay@example.org", "let me in"));
    let reject = async {
        confirm(&hub, &sink, "fay@example.org").await;
        let account = pending_application(&hub).await;
        // The rejection must follow the peer's sight of `pending_approval`, as it does for people.
        testkit::eventually(DEADLINE, "pending_approval seen", || async {
            let row = peer.node().store.membership(&h).await.ok()??;
            (row.state == "pending_approval").then_some(())
        })
        .await;
        let response = hub
            .client
            .post(hub.url(&format!("/api/v1/admin/members/{account}/reject")))
            .bearer_auth(super::join::ADMIN)
            .json(&json!({ "reason": "not now" }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 204);
    };
    let (result, ()) = tokio::join!(join, reject);

    let error = result.unwrap_err();
    assert_eq!(error, JoinError::Refused("application_rejected".to_owned()));
    assert_eq!(error.exit_code(), 2);
    peer.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hub_answering_garbage_fails_the_join_with_exit_4_and_502() {
    let app = Router::new()
        .route(
            "/api/capabilities",
            get(|| async { axum::Json(json!({ "signed_presence": true })) }),
        )
        .fallback(|| async { "<html>not a hub</html>" });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let (peer, _dir) = joiner().await;
    let h = url(&base);

    let error = peer.join_hub(&h, options()).await.unwrap_err();
    let answer = reqwest::Client::new()
        .post(format!(
            "http://{}/api/hubs/join",
            peer.http_addr().unwrap()
        ))
        .json(&json!({ "url": base, "wait": 5 }))
        .send()
        .await
        .unwrap();

    assert!(matches!(error, JoinError::Hub(_)), "{error}");
    assert_eq!(error.exit_code(), 4);
    assert_eq!(answer.status(), 502);
    nothing_stored(&peer, &h).await;
    peer.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paid_community_without_billing_ends_with_exit_2() {
    let (hub, _db, _sink) = hub_in(JoinMode::Open, |c| c.membership.access = Access::Paid).await;
    let (peer, _dir) = joiner().await;
    let h = url(&hub.base_url);

    let no_plan = peer.join_hub(&h, options()).await.unwrap_err();
    let chosen = JoinOptions {
        plan: Some("yearly".to_owned()),
        ..options()
    };
    let error = peer.join_hub(&h, chosen).await.unwrap_err();

    assert_eq!(no_plan, JoinError::PlanRequired(Vec::new()));
    assert_eq!(no_plan.exit_code(), 2);
    assert_eq!(error, JoinError::Refused("billing_disabled".to_owned()));
    assert_eq!(error.exit_code(), 2);
    assert!(peer.node().store.voucher(&h).await.unwrap().is_none());
    peer.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ban_stops_presence_and_relay_without_a_loop_and_an_unban_resumes_both() {
    let (hub, _db, _sink) = hub_in(JoinMode::Open, |_| {}).await;
    let (peer, _dir) = joiner().await;
    let h = url(&hub.base_url);
    peer.join_hub(&h, options()).await.unwrap();
    hub_view(&peer, &h, "online and reserved", |v| {
        v.state == "online" && v.relay_state == "reserved"
    })
    .await;
    let account = hub.account_of(super::join::ADMIN, &peer.peer_id()).await;

    admin(
        &hub,
        &format!("/members/{account}/ban"),
        &json!({ "reason": "spam" }),
    )
    .await;

    let refused = hub_view(&peer, &h, "refused, relay not entitled", |v| {
        v.state == "refused" && v.relay_state == "not_entitled"
    })
    .await;
    assert_eq!(refused.membership.as_deref(), Some("banned"));
    assert!(!refused.presence_allowed && !refused.relay_allowed && !refused.relay_entitled);
    testkit::eventually(DEADLINE, "the voucher dropped", || async {
        peer.node()
            .store
            .voucher(&h)
            .await
            .unwrap()
            .is_none()
            .then_some(())
    })
    .await;
    let mut events = peer.events();
    let quiet = tokio::time::timeout(Duration::from_secs(3), async {
        loop {
            let e = events.recv().await.unwrap();
            if matches!(e.event.kind(), "hub.state" | "relay.state") {
                return e;
            }
        }
    })
    .await;
    assert!(
        quiet.is_err(),
        "a reconnect attempt after the ban: {quiet:?}"
    );

    admin(&hub, &format!("/members/{account}/unban"), &json!({})).await;

    let back = hub_view(&peer, &h, "online and reserved again", |v| {
        v.state == "online" && v.relay_state == "reserved"
    })
    .await;
    assert_eq!(back.membership.as_deref(), Some("active"));
    assert!(back.presence_allowed);
    peer.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_or_unusable_pasted_token_is_refused_and_nothing_stored() {
    let (hub, _db, _sink) = hub_in(JoinMode::Email, |_| {}).await;
    let (peer, _dir) = joiner().await;
    let verify = format!(
        "http://{}/api/memberships/verify",
        peer.http_addr().unwrap()
    );
    let client = reqwest::Client::new();
    let post = |token: &'static str| {
        client
            .post(&verify)
            .json(&json!({ "url": hub.base_url, "token": token }))
            .send()
    };

    let (unknown, unknown_body) = testkit::json_of(post("bm90LWEtdG9rZW4").await.unwrap()).await;
    let (junk, junk_body) = testkit::json_of(post("not a token").await.unwrap()).await;

    assert_eq!(unknown, 409, "{unknown_body}");
    assert_eq!(unknown_body["error"]["code"], "invalid_token");
    assert_eq!(junk, 400, "{junk_body}");
    assert_eq!(junk_body["error"]["code"], "invalid_field");
    nothing_stored(&peer, &url(&hub.base_url)).await;
    peer.shutdown().await;
}

/// A hub double that speaks the join API but issues `voucher(hub key, our id)` as the voucher.
async fn lying_hub(
    voucher: impl Fn(&Keypair, &str, &str) -> String + Send + Sync + 'static,
) -> String {
    let key = Keypair::generate();
    let id = Ed25519PeerId::from(key.public()).to_string();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let info = json!({ "id": id, "slug": "liars", "http_url": base, "join_mode": "open", "access": "free" });
    let voucher = Arc::new(voucher);
    let app = Router::new()
        .route(
            "/api/capabilities",
            get(|| async { axum::Json(json!({ "signed_presence": true })) }),
        )
        .route("/api/v1/info", get(move || async move { axum::Json(info) }))
        .route(
            "/api/v1/membership",
            get(|| async {
                axum::Json(json!({ "state": "active", "tier": "member",
                    "entitlements": { "presence": true, "relay": true, "voucher": true } }))
            }),
        )
        .route(
            "/api/v1/vouchers",
            post(move |headers: HeaderMap| async move {
                let caller = headers["x-goop-peer-id"].to_str().unwrap().to_owned();
                let token = voucher(&key, &id, &caller);
                (StatusCode::CREATED, axum::Json(json!({ "voucher": token })))
            }),
        );
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

/// Claims of a day-long member voucher of the `liars` community at `hub_url`.
fn claims(iss: &str, sub: &str, hub_url: &str) -> Claims {
    let now = testkit::now_ms() as u64 / 1000;
    Claims {
        iss: iss.to_owned(),
        sub: sub.to_owned(),
        aud: shared::voucher::AUDIENCE.to_owned(),
        community: "liars".to_owned(),
        hub_url: hub_url.to_owned(),
        tier: "member".to_owned(),
        state: "active".to_owned(),
        iat: now,
        nbf: now,
        exp: now + 86_400,
        jti: "j".to_owned(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_voucher_for_someone_else_or_from_another_key_fails_the_join_with_exit_4() {
    let other = Ed25519PeerId::from(Keypair::generate().public()).to_string();
    let wrong_subject = lying_hub(move |key, id, _caller| {
        shared::voucher::sign(key, &claims(id, &other, "http://x")).unwrap()
    })
    .await;
    let wrong_issuer = lying_hub(|_key, _id, caller| {
        let stranger = Keypair::generate();
        let stranger_id = Ed25519PeerId::from(stranger.public()).to_string();
        shared::voucher::sign(&stranger, &claims(&stranger_id, caller, "http://x")).unwrap()
    })
    .await;
    let (peer, _dir) = joiner().await;

    for (base, why) in [
        (wrong_subject, "wrong_subject"),
        (wrong_issuer, "untrusted_issuer"),
    ] {
        let h = url(&base);
        let error = peer.join_hub(&h, options()).await.unwrap_err();

        let refused = format!("voucher refused: {why}");
        assert!(
            matches!(&error, JoinError::Hub(e) if e.to_string().contains(&refused)),
            "{error}"
        );
        assert_eq!(error.exit_code(), 4);
        nothing_stored(&peer, &h).await;
    }
    peer.shutdown().await;
}
