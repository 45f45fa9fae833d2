//! The audit log (hub.md §9.3): one row for every mutating call.

use hub::members::{State, Tier};
use libp2p::PeerId;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use testkit::{TestDb, each_backend};

use super::{ACTOR, Seed, admin, admin_hub, get_json, post_json, seed};

each_backend!(every_mutating_call_writes_one_audit_row,);

async fn every_mutating_call_writes_one_audit_row(db: TestDb) {
    let hub = admin_hub(&db).await;
    let store = db.hub_store().await;
    let peer = PeerId::from(libp2p::identity::Keypair::generate_ed25519().public());
    let ann = seed(
        &store,
        Seed {
            peer: Some(peer),
            ..Seed::new("ann@example.org", State::Active, Tier::Member)
        },
    )
    .await;
    let bob = seed(
        &store,
        Seed {
            application: Some("hi"),
            ..Seed::new("bob@example.org", State::PendingApproval, Tier::Member)
        },
    )
    .await;
    let carol = seed(
        &store,
        Seed {
            application: Some("hi"),
            ..Seed::new("carol@example.org", State::PendingApproval, Tier::Member)
        },
    )
    .await;

    let mut expected = Vec::new();
    let peer_id = peer.to_string();
    let calls = [
        (
            post_json(&hub, &format!("/members/{bob}/approve"), json!({})).await,
            "member.approve",
            &bob,
        ),
        (
            post_json(
                &hub,
                &format!("/members/{carol}/reject"),
                json!({"reason": "no"}),
            )
            .await,
            "member.reject",
            &carol,
        ),
        (
            post_json(
                &hub,
                &format!("/members/{ann}/comp"),
                json!({"until": null, "note": "friend"}),
            )
            .await,
            "member.comp",
            &ann,
        ),
        (
            admin(&hub, Method::DELETE, &format!("/members/{ann}/comp"))
                .send()
                .await
                .unwrap(),
            "member.uncomp",
            &ann,
        ),
        (
            post_json(
                &hub,
                &format!("/members/{ann}/ban"),
                json!({"reason": "abuse", "cancel_subscription": false}),
            )
            .await,
            "member.ban",
            &ann,
        ),
        (
            post_json(&hub, &format!("/members/{ann}/unban"), json!({})).await,
            "member.unban",
            &ann,
        ),
        (
            post_json(&hub, "/vouchers/revoke", json!({"peer_id": peer_id})).await,
            "voucher.revoke",
            &peer_id,
        ),
        (
            admin(
                &hub,
                Method::DELETE,
                &format!("/members/{ann}/peers/{peer}"),
            )
            .send()
            .await
            .unwrap(),
            "peer.unbind",
            &peer_id,
        ),
    ];
    for (response, action, target) in calls {
        assert!(
            response.status().is_success(),
            "{action}: {}",
            response.status()
        );
        expected.push((action.to_owned(), target.clone()));
    }
    let invite = post_json(&hub, "/invites", json!({"max_uses": 2})).await;
    let code = invite.json::<Value>().await.unwrap()["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let normalized = code.replace('-', "");
    expected.push(("invite.create".to_owned(), normalized.clone()));
    let revoked = admin(&hub, Method::DELETE, &format!("/invites/{code}"))
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), StatusCode::NO_CONTENT);
    expected.push(("invite.revoke".to_owned(), normalized));
    let refused = post_json(&hub, &format!("/members/{ann}/unban"), json!({})).await;
    let reads = get_json(&hub, "/stats").await;

    assert_eq!(
        refused.status(),
        StatusCode::CONFLICT,
        "a refused change is not audited"
    );
    assert!(reads["members"].is_object());
    let page = get_json(&hub, "/audit?limit=200").await;
    let rows = page["items"].as_array().unwrap();
    let mut actual: Vec<(String, String)> = rows
        .iter()
        .map(|r| {
            (
                r["action"].as_str().unwrap().to_owned(),
                r["target_id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    actual.reverse();
    assert_eq!(actual, expected, "one row per change, newest first");
    assert!(
        rows.iter()
            .all(|r| r["actor"] == ACTOR && r["ip"] == "127.0.0.1")
    );
    let ban = rows.iter().find(|r| r["action"] == "member.ban").unwrap();
    assert_eq!(ban["details"]["reason"], "abuse");
    assert_eq!(ban["details"]["cancel_subscription"], false);
    let first_page = get_json(&hub, "/audit?limit=4").await;
    let rest = get_json(
        &hub,
        &format!(
            "/audit?limit=200&cursor={}",
            first_page["next"].as_str().unwrap()
        ),
    )
    .await;
    assert_eq!(
        first_page["items"].as_array().unwrap().len() + rest["items"].as_array().unwrap().len(),
        rows.len()
    );
}
