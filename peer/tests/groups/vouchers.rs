//! The `voucher` join policy (peer.md §8.3, §8.5): the host asks for a voucher naming the
//! community, and the member retries once with the voucher it holds for that community.

use peer::groups::member::{self, JoinError};
use peer::hub_url::HubUrl;
use peer::store::StoredVoucher;

use crate::harness::{connect, create, hosted_members, start, stop};

const COMMUNITY: &str = "http://community.example";

fn code(error: &JoinError) -> &str {
    match error {
        JoinError::Refused { code, .. } => code,
        other => panic!("not a refusal: {other}"),
    }
}

#[tokio::test]
async fn voucher_group_requires_a_voucher_and_the_member_retries_with_the_one_it_holds() {
    let host = start().await;
    let a = start().await;
    connect(&a, &host).await;
    let group = create(&host, |g| {
        g.join_policy = Some("voucher".into());
        g.community = Some(COMMUNITY.into());
    })
    .await;

    let refused = member::join(a.peer.node(), host.peer.peer_id(), &group, None)
        .await
        .unwrap_err();
    assert_eq!(code(&refused), "voucher_required");

    let url = HubUrl::parse(COMMUNITY).unwrap();
    let voucher = StoredVoucher {
        hub_id: "hub",
        community: "community",
        state: "active",
        tier: "member",
        voucher: "a.b.c",
        expires_at: i64::MAX,
    };
    a.peer
        .node()
        .store
        .store_voucher(&url, &voucher, 1)
        .await
        .unwrap();
    // Without naming the community the member learns it from `voucher_required` and retries
    // once with its voucher, which the host then checks.
    let refused = member::join(a.peer.node(), host.peer.peer_id(), &group, None)
        .await
        .unwrap_err();
    assert_eq!(code(&refused), "voucher_unverifiable");
    let refused = member::join(a.peer.node(), host.peer.peer_id(), &group, Some(&url))
        .await
        .unwrap_err();
    assert_eq!(code(&refused), "voucher_unverifiable");
    assert_eq!(hosted_members(&host, &group).len(), 1);
    stop(vec![a, host]).await;
}
