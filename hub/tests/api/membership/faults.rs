//! Revocation that survives a database failure (hub.md §6.6, §7.4): unbind and ban end the
//! peer's rights in the table and write the revocation row inside their transaction, so a failure
//! between the commit and the enforcement after it leaves nothing behind; the sweep drops table
//! entries whose binding is gone.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use testkit::{SmtpSink, TestDb, TestHub, TestPeer, each_backend, eventually, json_of, ws};

use super::{DEADLINE, admin_hub, admin_post, member};

each_backend!(
    unbind_and_ban_end_rights_when_the_database_fails_after_the_commit,
    sweep_drops_the_entry_of_a_peer_no_longer_bound,
);

/// The close code and reason of `peer`'s v2 session right after its challenge, or `None` when the
/// hub admits it.
async fn refusal(hub: &TestHub, peer: &TestPeer) -> Option<(u16, String)> {
    let mut socket = peer.connect_v2(hub).await;
    peer.answer_challenge(&mut socket).await;
    ws::next_text_or_close(&mut socket, ws::DEADLINE)
        .await
        .err()?
}

/// The PeerIds of `GET /api/v1/vouchers/revocations?since=0`.
async fn revoked(hub: &TestHub) -> Vec<String> {
    let (_, body) = json_of(hub.get("/api/v1/vouchers/revocations?since=0").await).await;
    body["revocations"]
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|r| r["peer_id"].as_str().map(str::to_owned))
        .collect()
}

async fn account_of(hub: &TestHub, peer: &TestPeer) -> String {
    let membership: Value = peer.membership(hub).await;
    membership["account_id"].as_str().expect("bound").to_owned()
}

async fn unbind_and_ban_end_rights_when_the_database_fails_after_the_commit(db: TestDb) {
    let sink = SmtpSink::start().await;
    let faults = hub::config::Faults::default();
    let hook = faults.clone();
    let hub = admin_hub(&db, &sink, move |c| c.membership.faults = hook).await;
    let (ann, _) = member(&hub, &sink, "ann@example.org").await;
    let (bob, _) = member(&hub, &sink, "bob@example.org").await;
    let bob_account = account_of(&hub, &bob).await;
    assert_eq!(refusal(&hub, &ann).await, None, "a member is admitted");
    assert_eq!(refusal(&hub, &bob).await, None, "a member is admitted");

    faults.fail_after_commit(true);
    let path = format!("/api/v1/peers/{}", ann.peer_id());
    let unbind = hub
        .signed(&ann, Method::DELETE, &path, Vec::new())
        .send()
        .await
        .unwrap();
    let ban = admin_post(&hub, &bob_account, "ban", &json!({"reason": "spam"})).await;

    assert!(
        !unbind.status().is_success() && !ban.status().is_success(),
        "the injected failure reaches the caller: {} {}",
        unbind.status(),
        ban.status()
    );
    assert_eq!(
        ann.membership(&hub).await["state"],
        "none",
        "unbind committed"
    );
    assert_eq!(
        refusal(&hub, &ann).await,
        Some((4003, "not_member".to_owned()))
    );
    assert_eq!(refusal(&hub, &bob).await, Some((4003, "banned".to_owned())));
    let revoked = revoked(&hub).await;
    for peer in [&ann, &bob] {
        assert!(
            revoked.contains(&peer.peer_id().to_string()),
            "{} has a revocation row: {revoked:?}",
            peer.peer_id()
        );
    }
}

async fn sweep_drops_the_entry_of_a_peer_no_longer_bound(db: TestDb) {
    let sink = SmtpSink::start().await;
    let hub = admin_hub(&db, &sink, |c| {
        c.membership.sweep_interval = Duration::from_secs(1);
    })
    .await;
    let (ann, _) = member(&hub, &sink, "ann@example.org").await;
    let account = account_of(&hub, &ann).await;
    assert_eq!(refusal(&hub, &ann).await, None, "a member is admitted");

    // The binding goes without the hub's enforcement, as after a failure past the commit.
    let store = db.hub_store().await;
    let mut tx = store.begin_write().await.unwrap();
    let peer = ann.peer_id().to_string();
    assert!(
        hub::store::delete_binding(&mut tx, &account, &peer)
            .await
            .unwrap()
    );
    tx.commit().await.unwrap();

    let refused = eventually(DEADLINE, "the sweep drops the entry", || async {
        refusal(&hub, &ann).await
    })
    .await;
    assert_eq!(refused, (4003, "not_member".to_owned()));
}
