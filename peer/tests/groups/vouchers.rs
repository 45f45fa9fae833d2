//! The `voucher` join policy (peer.md §8.3, §8.5, §3.7) with real hubs as the communities: the
//! host asks for a voucher naming the community, the member retries once with the voucher it
//! holds, the host checks it with the node's checker (each refusal its code), and a member whose
//! voucher the community revokes is removed at the host's next revocation poll.

use std::time::Duration;

use hub::config::JoinMode;
use peer::groups::member::{self, JoinError};
use peer::hub_url::HubUrl;
use peer::membership::JoinOptions;
use peer::store::StoredVoucher;
use serde_json::json;
use testkit::{TestDb, TestHub, eventually};

use crate::harness::{Node, connect, create, hosted_members, start, start_with, stop};

const ADMIN: &str = "admin-token-0123456789abcdefghijklmnop";
const DEADLINE: Duration = Duration::from_secs(15);

fn code(error: &JoinError) -> &str {
    match error {
        JoinError::Refused { code, .. } => code,
        other => panic!("not a refusal: {other}"),
    }
}

/// An open hub with an admin token, and its database (keep it: the SQLite file vanishes with it).
async fn community() -> (TestHub, TestDb, HubUrl) {
    let db = TestDb::sqlite();
    let hub = TestHub::spawn_with(&db, |c| {
        c.membership.join_mode = JoinMode::Open;
        c.admin.token = Some(ADMIN.to_owned().into());
    })
    .await;
    let url = HubUrl::parse(&hub.base_url).unwrap();
    (hub, db, url)
}

/// `node` joins the community at `url` and holds its voucher.
async fn become_member(node: &Node, url: &HubUrl) {
    let options = JoinOptions {
        wait: DEADLINE,
        ..JoinOptions::default()
    };
    let joined = node.peer.join_hub(url, options).await.unwrap();
    assert_eq!(joined.state, "active");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn voucher_group_admits_members_of_its_community_and_refuses_others_with_their_codes() {
    let (_hub, _db, community_url) = community().await;
    let (_other_hub, _other_db, other_url) = community().await;
    let host = start().await;
    let (a, b, c) = (start().await, start().await, start().await);
    for member in [&a, &b, &c] {
        connect(member, &host).await;
    }
    let group = create(&host, |g| {
        g.join_policy = Some("voucher".into());
        g.community = Some(community_url.to_string());
    })
    .await;
    let join = async |node: &Node, community: Option<&HubUrl>| {
        member::join(node.peer.node(), host.peer.peer_id(), &group, community).await
    };

    // Without a voucher of the community.
    let without = join(&a, None).await.unwrap_err();
    // A member of the community: it learns the community from `voucher_required` and retries
    // once with its voucher.
    become_member(&a, &community_url).await;
    let welcome = join(&a, None).await.unwrap();
    // A forged voucher stored for the community (its renewal fails: no account there).
    let forged = StoredVoucher {
        hub_id: "hub",
        community: "community",
        state: "active",
        tier: "member",
        voucher: "a.b.c",
        expires_at: i64::MAX,
    };
    b.peer
        .node()
        .store
        .store_voucher(&community_url, &forged, 1)
        .await
        .unwrap();
    let invalid = join(&b, Some(&community_url)).await.unwrap_err();
    // A real voucher of another community, presented for this one.
    become_member(&c, &other_url).await;
    let other = c.peer.node().store.voucher(&other_url).await.unwrap();
    let held = StoredVoucher {
        voucher: other.as_deref().unwrap(),
        ..forged
    };
    c.peer
        .node()
        .store
        .store_voucher(&community_url, &held, 1)
        .await
        .unwrap();
    let wrong = join(&c, Some(&community_url)).await.unwrap_err();

    assert_eq!(code(&without), "voucher_required");
    assert!(
        welcome
            .members
            .iter()
            .any(|m| m.peer_id == a.peer.peer_id().to_base58())
    );
    assert_eq!(code(&invalid), "voucher_invalid");
    assert_eq!(code(&wrong), "voucher_wrong_community");
    let mut members = hosted_members(&host, &group);
    members.sort();
    let mut expected = vec![
        host.peer.peer_id().to_base58(),
        a.peer.peer_id().to_base58(),
    ];
    expected.sort();
    assert_eq!(members, expected);
    stop(vec![a, b, c, host]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_whose_voucher_is_revoked_is_removed_at_the_next_revocation_poll() {
    let (hub, _db, community_url) = community().await;
    let host = start_with(|c| c.groups.revocation_poll_secs = 1).await;
    let a = start().await;
    connect(&a, &host).await;
    let group = create(&host, |g| {
        g.join_policy = Some("voucher".into());
        g.community = Some(community_url.to_string());
    })
    .await;
    become_member(&a, &community_url).await;
    member::join(
        a.peer.node(),
        host.peer.peer_id(),
        &group,
        Some(&community_url),
    )
    .await
    .unwrap();
    assert_eq!(hosted_members(&host, &group).len(), 2);

    let status = reqwest::Client::new()
        .post(hub.url("/api/v1/admin/vouchers/revoke"))
        .bearer_auth(ADMIN)
        .json(&json!({"peer_id": a.peer.peer_id().to_base58()}))
        .send()
        .await
        .unwrap()
        .status();
    assert!(status.is_success(), "{status}");

    let a_id = a.peer.peer_id().to_base58();
    eventually(DEADLINE, "the revoked member removed", || async {
        (!hosted_members(&host, &group).contains(&a_id)).then_some(())
    })
    .await;
    eventually(DEADLINE, "the member's subscription closed", || async {
        member::subscriptions(a.peer.node())
            .iter()
            .all(|s| s.row.group_id != group.as_str())
            .then_some(())
    })
    .await;
    stop(vec![a, host]).await;
}
