//! Memberships end to end (issue #14 "done when"), every hub on Postgres: hub E in `email` mode
//! (the link read from its SMTP sink and pasted back to the peer), hub I in `invite` mode (then a
//! second device binds with a bind code), hub Q in `application` mode (approved by its admin) and
//! hub P with `access = "paid"` and billing at the Stripe double. Peer A hosts a chat room with
//! `join_policy = voucher` for community E: B is refused until it is a member of E too, then
//! chats; D joins and leaves; after E's admin bans B, A removes B at its next revocation poll.
//! Members reach the room host by dialling its address.

mod harness;

use std::sync::Arc;

use hub::config::JoinMode;
use peer::event::{Event, GroupEvent, Numbered};
use peer::groups::member::{self, JoinError};
use peer::groups::{GroupId, NewGroup, manage, rooms};
use peer::membership::JoinOptions;
use reqwest::Method;
use serde_json::json;
use testkit::eventually;
use tokio::sync::broadcast;

use harness::{Community, DEADLINE, Member, opened, recording_opener};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_email_join_completes_with_the_mailed_link_pasted_back_to_the_peer() {
    let e = Community::start(JoinMode::Email, |_| {}).await;
    let a = Member::start("A", |_| {}).await;

    a.join_by_email(&e, "ann@example.org").await;

    a.wait_hub(&e, "online", |v| v.state == "online").await;
    a.peer.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invited_member_joins_then_binds_a_second_device_with_a_bind_code() {
    let i = Community::start(JoinMode::Invite, |_| {}).await;
    let b = Member::start("B", |_| {}).await;
    let b2 = Member::start("B2", |_| {}).await;

    let invited = JoinOptions {
        email: Some("bob@example.org".to_owned()),
        invite: Some(i.invite().await),
        ..JoinOptions::default()
    };
    let (joined, cookie) = b
        .join_while(&i, invited, i.confirm_in_browser("bob@example.org"))
        .await;
    let bind = JoinOptions {
        bind_code: Some(i.bind_code(&cookie).await),
        ..JoinOptions::default()
    };
    let (second, ()) = b2.join_while(&i, bind, async {}).await;

    for (device, joined) in [(&b, joined), (&b2, second)] {
        assert_eq!(joined.state, "active");
        device.assert_holds_voucher(&i, "member").await;
        device.wait_hub(&i, "online", |v| v.state == "online").await;
    }
    assert_eq!(
        i.account_of(b.id()).await,
        i.account_of(b2.id()).await,
        "both devices are bound to B's account"
    );
    for device in [b, b2] {
        device.peer.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_application_ends_active_once_the_admin_approves_it() {
    let q = Community::start(JoinMode::Application, |_| {}).await;
    let d = Member::start("D", |_| {}).await;

    let joined = apply_and_get_approved(&d, &q, "dan@example.org").await;

    assert_eq!(joined.state, "active");
    d.assert_holds_voucher(&q, "member").await;
    d.wait_hub(&q, "online", |v| v.state == "online").await;
    d.peer.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_voucher_room_of_community_e_admits_its_members_and_drops_one_banned_by_e() {
    let e = Community::start(JoinMode::Email, |_| {}).await;
    let i = Community::start(JoinMode::Invite, |_| {}).await;
    let q = Community::start(JoinMode::Application, |_| {}).await;
    let a = Member::start("A", |c| c.groups.revocation_poll_secs = 1).await;
    let b = Member::start("B", |_| {}).await;
    let d = Member::start("D", |_| {}).await;
    a.join_by_email(&e, "ann@example.org").await;
    let invited = JoinOptions {
        email: Some("bob@example.org".to_owned()),
        invite: Some(i.invite().await),
        ..JoinOptions::default()
    };
    b.join_while(&i, invited, i.confirm_in_browser("bob@example.org"))
        .await;
    apply_and_get_approved(&d, &q, "dan@example.org").await;
    for member in [&b, &d] {
        member.connect(&a).await;
    }
    let new = NewGroup {
        name: "Readers".to_owned(),
        group_type: "chat".to_owned(),
        join_policy: Some("voucher".to_owned()),
        community: Some(e.url.to_string()),
        host_joined: Some(true),
        ..NewGroup::default()
    };
    let room = manage::create(a.peer.node(), new).await.unwrap();
    let join = async |m: &Member| member::join(m.peer.node(), a.id(), &room, None).await;
    let mut a_events = a.peer.events();

    // B, a member of I only, is refused; once a member of E too it is welcomed.
    let refused = join(&b).await.unwrap_err();
    b.join_by_email(&e, "bob@example.org").await;
    let welcome = join(&b).await.unwrap();
    let mut b_events = b.peer.events();

    assert!(
        matches!(&refused, JoinError::Refused { code, .. } if code == "voucher_required"),
        "{refused}"
    );
    assert!(
        welcome
            .members
            .iter()
            .any(|m| m.peer_id == a.id().to_base58())
    );
    assert!(hosted_members(&a, &room).contains(&b.id().to_base58()));

    // B and A chat in the room, each line reaching the other.
    rooms::say(b.peer.node(), &room, "hello from B")
        .await
        .unwrap();
    let line = room_line(&mut a_events, &room, "hello from B").await;
    rooms::say(a.peer.node(), &room, "hello from A")
        .await
        .unwrap();
    room_line(&mut b_events, &room, "hello from A").await;
    assert_eq!(line.payload.unwrap()["from"], b.id().to_base58());

    // D (a member of Q) joins E, then the room, and leaves it.
    d.join_by_email(&e, "dan@example.org").await;
    join(&d).await.unwrap();
    assert!(hosted_members(&a, &room).contains(&d.id().to_base58()));
    assert!(member::leave(d.peer.node(), a.id(), &room).await.unwrap());
    let d_id = d.id().to_base58();
    eventually(DEADLINE, "D gone from the room", || async {
        (!hosted_members(&a, &room).contains(&d_id)).then_some(())
    })
    .await;

    // E's admin bans B: A's next revocation poll removes B from the room (a `close` from A).
    let account = e.account_of(b.id()).await;
    let ban = format!("/members/{account}/ban");
    e.admin(Method::POST, &ban, &json!({ "reason": "spam" }))
        .await;
    let a_id = a.id().to_base58();
    let closed = group_event(&mut b_events, "close", &room, |_| true).await;
    assert_eq!(closed.from.as_deref(), Some(a_id.as_str()));
    let b_id = b.id().to_base58();
    eventually(DEADLINE, "B removed from the room", || async {
        (!hosted_members(&a, &room).contains(&b_id)).then_some(())
    })
    .await;
    eventually(DEADLINE, "B's subscription closed", || async {
        member::subscriptions(b.peer.node())
            .iter()
            .all(|s| s.row.group_id != room.as_str())
            .then_some(())
    })
    .await;
    assert_eq!(hosted_members(&a, &room), [a_id]);
    for m in [a, b, d] {
        m.peer.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paid_join_completes_checkout_at_the_double_and_holds_a_relay_reservation() {
    let (p, stripe) = Community::paid().await;
    let scripts = tempfile::tempdir().unwrap();
    let opener = recording_opener(scripts.path());
    let c = Member::start("C", |config| {
        config.hubs.checkout_opener = opener.display().to_string();
    })
    .await;

    let options = JoinOptions {
        open_browser: true,
        ..JoinOptions::default()
    };
    let checkout = async {
        let url = opened(scripts.path()).await;
        stripe
            .complete_checkout(url.rsplit('/').next().unwrap())
            .await;
    };
    let (joined, ()) = c.join_while(&p, options, checkout).await;

    assert_eq!(joined.state, "active");
    assert_eq!(joined.tier.as_deref(), Some("paid"));
    c.assert_holds_voucher(&p, "paid").await;
    c.wait_hub(&p, "online with a relay reservation", |v| {
        v.state == "online" && v.relay_state == "reserved"
    })
    .await;
    c.peer.shutdown().await;
}

/// Applies to `q` as `email` with a message; its admin approves once the address is confirmed.
async fn apply_and_get_approved(
    member: &Member,
    q: &Community,
    email: &str,
) -> peer::membership::Joined {
    let application = JoinOptions {
        email: Some(email.to_owned()),
        message: Some("I run a reading group.".to_owned()),
        ..JoinOptions::default()
    };
    let approve = async {
        q.confirm_in_browser(email).await;
        let account = q.pending_application().await;
        let path = format!("/members/{account}/approve");
        q.admin(Method::POST, &path, &json!({})).await;
    };
    member.join_while(q, application, approve).await.0
}

/// The members of `host`'s room `room`, by PeerId.
fn hosted_members(host: &Member, room: &GroupId) -> Vec<String> {
    manage::list(host.peer.node())
        .into_iter()
        .find(|g| g.id == room.as_str())
        .map(|g| g.members.into_iter().map(|m| m.peer_id).collect())
        .unwrap_or_default()
}

/// Waits for the `group.msg` event of `room` carrying `text`.
async fn room_line(
    events: &mut broadcast::Receiver<Arc<Numbered>>,
    room: &GroupId,
    text: &str,
) -> GroupEvent {
    group_event(events, "msg", room, |e| {
        e.payload.as_ref().is_some_and(|p| p["text"] == text)
    })
    .await
}

/// Waits for a `group.<kind>` event of `room` passing `also`.
async fn group_event(
    events: &mut broadcast::Receiver<Arc<Numbered>>,
    kind: &str,
    room: &GroupId,
    also: impl Fn(&GroupEvent) -> bool,
) -> GroupEvent {
    let wait = async {
        loop {
            match events.recv().await {
                Ok(numbered) => {
                    if let Event::Group(e) = &numbered.event
                        && e.kind == kind
                        && e.group == room.as_str()
                        && also(e)
                    {
                        return e.clone();
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => panic!("event bus closed"),
            }
        }
    };
    tokio::time::timeout(DEADLINE, wait)
        .await
        .unwrap_or_else(|_| panic!("no group.{kind} event of {room} within {DEADLINE:?}"))
}
