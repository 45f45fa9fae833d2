//! Who may call the administration API (hub.md §9.1): no token configured, a wrong token and its
//! failure bucket, and the actor header.

use reqwest::{Method, StatusCode};
use serde_json::json;
use testkit::{TestDb, TestHub, code_of, each_backend};

use super::{TOKEN, admin, admin_hub, post_json};

each_backend!(
    admin_routes_answer_404_when_no_token_is_configured,
    admin_answers_401_then_429_when_token_is_wrong,
    admin_refuses_actor_header_when_not_printable_ascii,
    wrong_admin_token_on_presence_routes_spends_the_same_budget,
);

async fn admin_routes_answer_404_when_no_token_is_configured(db: TestDb) {
    let hub = TestHub::spawn(&db).await;

    let list = admin(&hub, Method::GET, "/members").send().await.unwrap();
    let create = post_json(&hub, "/invites", json!({})).await;

    assert_eq!(list.status(), StatusCode::NOT_FOUND);
    assert_eq!(code_of(list).await.1, "not_found");
    assert_eq!(create.status(), StatusCode::NOT_FOUND);
}

async fn admin_answers_401_then_429_when_token_is_wrong(db: TestDb) {
    let hub = admin_hub(&db).await;
    let wrong = || {
        hub.client
            .get(hub.url("/api/v1/admin/stats"))
            .bearer_auth("wrong-token-wrong-token-wrong-token")
    };

    let missing = hub.get("/api/v1/admin/stats").await;
    let first = wrong().send().await.unwrap();
    let drained = wrong().send().await.unwrap();
    let right_but_blocked = admin(&hub, Method::GET, "/stats").send().await.unwrap();

    assert_eq!(missing.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        missing.headers()["cache-control"],
        "no-store",
        "errors are not cached either"
    );
    assert_eq!(code_of(missing).await.1, "unauthorized");
    assert_eq!(first.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(drained.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(drained.headers().contains_key("retry-after"));
    assert_eq!(code_of(drained).await.1, "rate_limited");
    assert_eq!(
        right_but_blocked.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "the bucket is checked before the token is compared"
    );
}

async fn admin_refuses_actor_header_when_not_printable_ascii(db: TestDb) {
    let hub = admin_hub(&db).await;

    let long = hub
        .client
        .get(hub.url("/api/v1/admin/stats"))
        .bearer_auth(TOKEN)
        .header("x-goop-admin-actor", "x".repeat(65))
        .send()
        .await
        .unwrap();
    let fine = admin(&hub, Method::GET, "/stats").send().await.unwrap();

    assert_eq!(long.status(), StatusCode::BAD_REQUEST);
    assert_eq!(code_of(long).await.1, "invalid_field");
    assert_eq!(fine.status(), StatusCode::OK);
    assert_eq!(fine.headers()["cache-control"], "no-store");
}

/// hub.md §13.2 `admin_fail_ip`: every route that accepts the admin token charges a wrong one to
/// the same budget (burst 2 here), `/events` and the encryption-key route included; a bearer value
/// shaped like a voucher is judged as a voucher and costs nothing.
async fn wrong_admin_token_on_presence_routes_spends_the_same_budget(db: TestDb) {
    let hub = admin_hub(&db).await;
    let with_bearer =
        |path: &str, token: &str| hub.client.get(hub.url(path)).bearer_auth(token).send();
    let wrong = "wrong-token-wrong-token-wrong-token";

    let events = with_bearer("/events?v=2", wrong).await.unwrap();
    let mut vouchers = Vec::new();
    for _ in 0..3 {
        vouchers.push(with_bearer("/events?v=2", "a.b.c").await.unwrap().status());
    }
    let still_open = admin(&hub, Method::GET, "/stats").send().await.unwrap();
    let key = with_bearer("/api/encryption/keys/12D3KooWx", wrong)
        .await
        .unwrap();
    let blocked = admin(&hub, Method::GET, "/stats").send().await.unwrap();

    assert_eq!(
        code_of(events).await,
        (StatusCode::UNAUTHORIZED, "unauthorized".to_owned())
    );
    assert_eq!(
        vouchers,
        [StatusCode::UNAUTHORIZED; 3],
        "not a valid voucher"
    );
    assert_eq!(
        still_open.status(),
        StatusCode::OK,
        "one failure charged, none for the voucher-shaped values"
    );
    assert_eq!(key.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        blocked.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "the presence routes drained the admin budget"
    );
}
