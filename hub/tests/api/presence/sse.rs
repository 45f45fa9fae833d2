//! `GET /events` (hub.md §5.5): who may subscribe and what the admin stream adds.

use serde_json::json;
use testkit::TestPeer;
use testkit::ws::next_json;

use super::{Sse, open_hub};

#[tokio::test]
async fn email_reaches_admin_stream_but_never_a_participant() {
    let hub = open_hub(|c| c.admin.token = Some("admin-secret".to_owned().into())).await;
    let (alice, bob) = (TestPeer::new(), TestPeer::new());
    let (status, mut admin) = Sse::open(
        &hub,
        "/events",
        &[("authorization", "Bearer admin-secret".to_owned())],
    )
    .await
    .unwrap();
    let (mut bob_ws, _) = bob.open_v2(&hub).await;

    let mut msg = alice.msg("online", "Alice");
    msg["email"] = json!("alice@example.org");
    alice.publish(&hub, &msg).await;

    assert_eq!(status, 200);
    assert_eq!(admin.next().await.unwrap()["email"], "alice@example.org");
    let participant = next_json(&mut bob_ws).await;
    assert_eq!(participant["peerId"], alice.id.to_string());
    assert!(participant.get("email").is_none(), "{participant}");
}

#[tokio::test]
async fn wrong_admin_token_or_no_credential_is_refused_on_events() {
    let hub = open_hub(|c| c.admin.token = Some("admin-secret".to_owned().into())).await;

    let (wrong, _) = Sse::open(
        &hub,
        "/events",
        &[("authorization", "Bearer nope".to_owned())],
    )
    .await
    .unwrap();
    let (none, _) = Sse::open(&hub, "/events", &[]).await.unwrap();

    assert_eq!(wrong, 401);
    assert_eq!(none, 401);
}
