//! Signature locks (hub.md §5.2 rule 2): unsigned input never touches a PeerId of the entitlement
//! table, however long it was quiet and across restarts.

use hub::config::JoinMode;
use hub::members::{State, Tier};
use reqwest::StatusCode;
use testkit::ws;
use testkit::{TestDb, TestHub, TestPeer, code_of, each_backend};

use super::publish_unsigned;
use crate::admin::{Seed, seed};

each_backend!(unsigned_input_is_refused_for_bound_and_banned_peers_after_a_restart);

async fn unsigned_input_is_refused_for_bound_and_banned_peers_after_a_restart(db: TestDb) {
    let (member, banned, stranger) = (TestPeer::new(), TestPeer::new(), TestPeer::new());
    let store = db.hub_store().await;
    for (email, state, peer) in [
        ("ann@example.org", State::Active, &member),
        ("bob@example.org", State::Banned, &banned),
    ] {
        let account = Seed::new(email, state, Tier::Member);
        seed(
            &store,
            Seed {
                peer: Some(peer.peer_id()),
                ..account
            },
        )
        .await;
    }
    // A fresh hub on that database: nothing was seen signed since it started.
    let hub = TestHub::spawn_with(&db, |c| {
        c.membership.join_mode = JoinMode::Open;
        c.presence.allow_unsigned = true;
    })
    .await;

    let as_member = publish_unsigned(&hub, &member.msg("online", "impostor")).await;
    let as_banned = publish_unsigned(&hub, &banned.msg("online", "back again")).await;
    let legacy_ws =
        tokio_tungstenite::connect_async(ws::url(&hub, &format!("peer_id={}", banned.id))).await;
    let as_stranger = publish_unsigned(&hub, &stranger.msg("online", "goop2")).await;

    let locked = (StatusCode::UNAUTHORIZED, "signature_required".to_owned());
    assert_eq!(code_of(as_member).await, locked);
    assert_eq!(code_of(as_banned).await, locked);
    match legacy_ws {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 403)
        }
        other => panic!("expected 403, got {other:?}"),
    }
    assert_eq!(as_stranger.status(), StatusCode::NO_CONTENT);
}
