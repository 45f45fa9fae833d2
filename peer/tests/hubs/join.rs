//! `peer join` against real hubs (peer.md §3.6): every join mode ends `active` with a stored
//! voucher that verifies; the email link read from an SMTP sink, pasted back through the local
//! API; invites and approvals through the hub's admin API; a bind code from a bound device.

use hub::config::JoinMode;
use peer::membership::{JoinOptions, Joined};
use peer::{Peer, PeerConfig};
use serde_json::{Value, json};
use shared::ids::Ed25519PeerId;
use tempfile::TempDir;
use testkit::{SmtpSink, TestDb, TestHub, TestPeer, eventually, verify_token};

use super::{DEADLINE, hub_view, start_peer, url};

/// The admin token of the test hubs.
pub(super) const ADMIN: &str = "admin-token-0123456789abcdefghijklmnop";

/// A hub in `mode`, mail to a fresh SMTP sink, an admin token; `adjust` applied last.
pub(super) async fn hub_in(
    mode: JoinMode,
    adjust: impl FnOnce(&mut hub::Config),
) -> (TestHub, TestDb, SmtpSink) {
    let db = TestDb::sqlite();
    let (hub, sink) = TestHub::spawn_mailing(&db, mode, ADMIN, adjust).await;
    (hub, db, sink)
}

/// A peer with no hubs, polling approvals every second.
pub(super) async fn joiner() -> (Peer, TempDir) {
    start_peer(&[], |c: &mut PeerConfig| {
        c.hubs.approval_poll_secs = 1;
        c.hubs.membership_reread_secs = 1;
    })
    .await
}

/// Options with `wait` = the test deadline.
pub(super) fn options() -> JoinOptions {
    JoinOptions {
        wait: DEADLINE,
        ..JoinOptions::default()
    }
}

/// Options of an application by `email` with `message`.
pub(super) fn applying(email: &str, message: &str) -> JoinOptions {
    JoinOptions {
        email: Some(email.to_owned()),
        message: Some(message.to_owned()),
        ..options()
    }
}

/// The token of the first mail to `to`.
pub(super) async fn mailed_token(sink: &SmtpSink, to: &str) -> String {
    let mail = eventually(DEADLINE, "the join mail", || async {
        sink.messages().into_iter().find(|m| m.to == [to])
    })
    .await;
    verify_token(mail.body())
}

/// Confirms the first link mailed to `to` as its owner would.
pub(super) async fn confirm(hub: &TestHub, sink: &SmtpSink, to: &str) {
    let (status, body, _) = hub.verify(&mailed_token(sink, to).await).await;
    assert_eq!(status, 200, "{body}");
}

/// `POST /api/v1/admin{path}` with `body` on a test hub; the JSON answer.
pub(super) async fn admin(hub: &TestHub, path: &str, body: &Value) -> Value {
    hub.admin_post(ADMIN, path, body).await
}

/// The account id of the one pending application.
pub(super) async fn pending_application(hub: &TestHub) -> String {
    eventually(DEADLINE, "a pending application", || async {
        let response = hub
            .client
            .get(hub.url("/api/v1/admin/applications"))
            .bearer_auth(ADMIN)
            .send()
            .await
            .ok()?;
        let body: Value = response.json().await.ok()?;
        body["items"][0]["account_id"].as_str().map(str::to_owned)
    })
    .await
}

/// Asserts the stored voucher verifies for `peer` at `hub` and the hub runs presence.
pub(super) async fn assert_member(peer: &Peer, hub: &TestHub, joined: &Joined) {
    let h = url(&hub.base_url);
    assert_eq!(joined.state, "active");
    assert_eq!(joined.tier.as_deref(), Some("member"));
    let voucher = peer
        .node()
        .store
        .voucher(&h)
        .await
        .unwrap()
        .expect("stored");
    let own = Ed25519PeerId::try_from(peer.peer_id()).unwrap();
    let claims = shared::voucher::verify(
        &voucher,
        &shared::voucher::Expected {
            subject: Some(&own),
            issuers: &[hub.hub_id()],
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(Some(claims.exp as i64 * 1000), joined.voucher_expires_at);
    let row = peer.node().store.membership(&h).await.unwrap().unwrap();
    assert_eq!(row.state, "active");
    assert_eq!(row.voucher_expires_at, joined.voucher_expires_at);
    hub_view(peer, &h, "online after the join", |v| v.state == "online").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_join_ends_active_with_a_verified_voucher_and_presence() {
    let (hub, _db, _sink) = hub_in(JoinMode::Open, |_| {}).await;
    let (peer, _dir) = joiner().await;
    let mut events = peer.events();

    let joined = peer.join_hub(&url(&hub.base_url), options()).await.unwrap();

    assert_member(&peer, &hub, &joined).await;
    let mut states = Vec::new();
    while let Ok(e) = events.try_recv() {
        if e.event.kind() == "membership.state" {
            states.push(serde_json::to_value(&e.event).unwrap()["state"].clone());
        }
    }
    assert_eq!(states.first(), Some(&json!("none")), "{states:?}");
    assert!(states.contains(&json!("active")), "{states:?}");
    peer.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_join_waits_for_the_mailed_link_then_holds_a_voucher() {
    let (hub, _db, sink) = hub_in(JoinMode::Email, |_| {}).await;
    let (peer, _dir) = joiner().await;
    let h = url(&hub.base_url);

    let join = peer.join_hub(
        &h,
        JoinOptions {
            email: Some("ann@example.org".to_owned()),
            ..options()
        },
    );
    let (joined, ()) = tokio::join!(join, confirm(&hub, &sink, "ann@example.org"));

    assert_member(&peer, &hub, &joined.unwrap()).await;
    peer.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pasted_token_through_the_local_api_completes_an_email_join() {
    let (hub, _db, sink) = hub_in(JoinMode::Email, |_| {}).await;
    let (peer, _dir) = joiner().await;
    let api = format!("http://{}", peer.http_addr().unwrap());
    let client = reqwest::Client::new();

    let started = client
        .post(format!("{api}/api/hubs/join"))
        .json(&json!({ "url": hub.base_url, "email": "bob@example.org" }))
        .send()
        .await
        .unwrap();
    let (status, waiting) = testkit::json_of(started).await;
    assert_eq!(status, 202, "{waiting}");
    assert_eq!(waiting["state"], "pending_email");
    assert_eq!(waiting["action"]["kind"], "verify_email");
    let token = mailed_token(&sink, "bob@example.org").await;
    let link = format!("{}/verify?token={token}", hub.base_url);
    let verified = client
        .post(format!("{api}/api/memberships/verify"))
        .json(&json!({ "url": hub.base_url, "token": link }))
        .send()
        .await
        .unwrap();
    let (status, body) = testkit::json_of(verified).await;

    assert_eq!(status, 200, "{body}");
    assert_eq!(body["state"], "active");
    let joined = Joined {
        url: url(&hub.base_url),
        state: "active".to_owned(),
        tier: Some("member".to_owned()),
        voucher_expires_at: body["voucher_expires_at"].as_i64(),
    };
    assert_member(&peer, &hub, &joined).await;
    peer.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invite_join_with_a_valid_code_ends_active() {
    let (hub, _db, sink) = hub_in(JoinMode::Invite, |_| {}).await;
    let invite = admin(&hub, "/invites", &json!({ "max_uses": 1 })).await["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let (peer, _dir) = joiner().await;

    let h = url(&hub.base_url);
    let join = peer.join_hub(
        &h,
        JoinOptions {
            email: Some("cat@example.org".to_owned()),
            invite: Some(invite),
            ..options()
        },
    );
    let (joined, ()) = tokio::join!(join, confirm(&hub, &sink, "cat@example.org"));

    assert_member(&peer, &hub, &joined.unwrap()).await;
    peer.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn application_join_waits_for_the_admins_approval() {
    let (hub, _db, sink) = hub_in(JoinMode::Application, |_| {}).await;
    let (peer, _dir) = joiner().await;

    let h = url(&hub.base_url);
    let join = peer.join_hub(&h, applying("dan@example.org", "I run a reading group."));
    let approve = async {
        confirm(&hub, &sink, "dan@example.org").await;
        let account = pending_application(&hub).await;
        admin(&hub, &format!("/members/{account}/approve"), &json!({})).await;
    };
    let (joined, ()) = tokio::join!(join, approve);

    assert_member(&peer, &hub, &joined.unwrap()).await;
    peer.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bind_code_from_a_bound_device_joins_a_second_peer() {
    let (hub, _db, _sink) = hub_in(JoinMode::Open, |_| {}).await;
    let device = TestPeer::new();
    assert_eq!(device.join(&hub, &json!({})).await.status(), 201);
    let code = hub
        .post_signed("/api/v1/me/bind-codes", &json!({}), &device)
        .await
        .json::<Value>()
        .await
        .unwrap()["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let (peer, _dir) = joiner().await;

    let joined = peer
        .join_hub(
            &url(&hub.base_url),
            JoinOptions {
                bind_code: Some(code),
                ..options()
            },
        )
        .await
        .unwrap();

    assert_member(&peer, &hub, &joined).await;
    peer.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_goop2_hub_joins_as_legacy_without_membership_calls() {
    let goop2 = testkit::Goop2Hub::start(true, true).await;
    let (peer, _dir) = joiner().await;
    let h = url(&goop2.base_url);

    let joined = peer
        .join_hub(
            &h,
            JoinOptions {
                email: Some("ignored@example.org".to_owned()),
                ..options()
            },
        )
        .await
        .unwrap();

    assert_eq!(joined.state, "legacy");
    assert_eq!(joined.voucher_expires_at, None);
    assert_eq!(peer.node().store.membership(&h).await.unwrap(), None);
    let view = hub_view(&peer, &h, "legacy online", |v| v.state == "online").await;
    assert_eq!(view.membership.as_deref(), Some("legacy"));
    peer.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn joining_a_configured_hub_that_refused_presence_resumes_it_at_once() {
    let (hub, _db, sink) = hub_in(JoinMode::Email, |_| {}).await;
    let (peer, _dir) = start_peer(&[&hub.base_url], |c: &mut PeerConfig| {
        c.hubs.membership_reread_secs = 3600;
    })
    .await;
    let h = url(&hub.base_url);
    hub_view(&peer, &h, "refused", |v| v.state == "refused").await;

    let join = peer.join_hub(
        &h,
        JoinOptions {
            email: Some("gil@example.org".to_owned()),
            ..options()
        },
    );
    let (joined, ()) = tokio::join!(join, confirm(&hub, &sink, "gil@example.org"));

    // The re-read period is an hour: only the join's nudge can bring presence back in time.
    assert_member(&peer, &hub, &joined.unwrap()).await;
    peer.shutdown().await;
}
