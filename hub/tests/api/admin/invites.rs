//! Invites through the administration API (hub.md §9.2): create, list and revoke.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use testkit::{TestDb, each_backend};

use super::{ACTOR, admin, admin_hub, get_json, post_json};

each_backend!(invite_round_trip_when_created_listed_and_revoked,);

async fn invite_round_trip_when_created_listed_and_revoked(db: TestDb) {
    let hub = admin_hub(&db).await;
    let before = testkit::now_ms();

    let created = post_json(
        &hub,
        "/invites",
        json!({"max_uses": 5, "expires_in_secs": 3600, "note": "meetup"}),
    )
    .await;
    let never = post_json(&hub, "/invites", json!({"expires_in_secs": null})).await;
    let too_many = post_json(&hub, "/invites", json!({"max_uses": 10_001})).await;
    let too_long = post_json(&hub, "/invites", json!({"expires_in_secs": 31_536_001})).await;

    assert_eq!(created.status(), StatusCode::CREATED);
    assert_eq!(too_many.status(), StatusCode::BAD_REQUEST);
    assert_eq!(too_long.status(), StatusCode::BAD_REQUEST);
    let invite: Value = created.json().await.unwrap();
    let code = invite["code"].as_str().unwrap().to_owned();
    assert_eq!(code.len(), 14);
    assert!(code.chars().enumerate().all(|(i, c)| if i == 4 || i == 9 {
        c == '-'
    } else {
        "0123456789ABCDEFGHJKMNPQRSTVWXYZ".contains(c)
    }));
    assert_eq!(invite["uses"], 0);
    assert_eq!(invite["max_uses"], 5);
    let expires_at = invite["expires_at"].as_i64().unwrap();
    assert!(expires_at >= before + 3_600_000 && expires_at <= testkit::now_ms() + 3_600_000);
    let never: Value = never.json().await.unwrap();
    assert_eq!(never["expires_at"], Value::Null);
    assert_eq!(never["max_uses"], 1);

    let listed = get_json(&hub, "/invites").await;
    let items = listed["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    let listed = items.iter().find(|i| i["code"] == code.as_str()).unwrap();
    assert_eq!(listed["created_by"], ACTOR);
    assert_eq!(listed["note"], "meetup");

    let lowercase = code.to_lowercase();
    let revoked = admin(&hub, Method::DELETE, &format!("/invites/{lowercase}"))
        .send()
        .await
        .unwrap();
    let again = admin(&hub, Method::DELETE, &format!("/invites/{code}"))
        .send()
        .await
        .unwrap();
    let unknown = admin(&hub, Method::DELETE, "/invites/0000-0000-0000")
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), StatusCode::NO_CONTENT);
    assert_eq!(again.status(), StatusCode::CONFLICT);
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    let active = get_json(&hub, "/invites").await;
    assert_eq!(active["items"].as_array().unwrap().len(), 1);
    assert_ne!(active["items"][0]["code"], code.as_str());
    let all = get_json(&hub, "/invites?include_revoked=true").await;
    let revoked = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["code"] == code.as_str())
        .unwrap();
    assert!(revoked["revoked_at"].is_i64());
}
