//! Browser sessions (hub.md §6.9): the cookie and its CSRF rule, email change, logout, renewal,
//! and the SSE stream a session or a voucher opens.

use hub::config::JoinMode;
use reqwest::StatusCode;
use serde_json::{Value, json};
use testkit::{SmtpSink, TestDb, TestHub, each_backend, json_of};

use super::{DEADLINE, hub_with, link_token, member};

each_backend!(
    email_change_moves_the_account_and_logout_ends_the_session,
    sign_out_everywhere_and_a_ban_end_every_session_of_the_account,
    a_session_used_after_half_its_life_is_renewed_and_its_cookie_resent,
    sse_admits_a_voucher_or_a_member_session_and_refuses_a_revoked_voucher,
);

/// A cookie-authenticated request from the hub's own origin.
fn with_session(
    request: reqwest::RequestBuilder,
    hub: &TestHub,
    cookie: &str,
) -> reqwest::RequestBuilder {
    request
        .header("cookie", cookie)
        .header("origin", &hub.base_url)
}

/// The status of `GET /events` with `request`'s credentials, and its first bytes when 200.
async fn events(request: reqwest::RequestBuilder) -> (StatusCode, String) {
    let mut response = request.send().await.unwrap();
    let status = response.status();
    let first = if status == StatusCode::OK {
        let chunk = tokio::time::timeout(DEADLINE, response.chunk())
            .await
            .unwrap()
            .unwrap();
        String::from_utf8_lossy(&chunk.unwrap_or_default()).into_owned()
    } else {
        response.json::<Value>().await.unwrap()["error"]["code"]
            .as_str()
            .unwrap_or("")
            .to_owned()
    };
    (status, first)
}

async fn email_change_moves_the_account_and_logout_ends_the_session(db: TestDb) {
    let sink = SmtpSink::start().await;
    let hub = hub_with(&db, JoinMode::Email, &sink).await;
    let (peer, cookie) = member(&hub, &sink, "ann@example.org").await;
    member(&hub, &sink, "bob@example.org").await;
    let old_cookie = cookie.unwrap();
    let change = |email: &'static str, cookie: String| {
        with_session(hub.client.post(hub.url("/api/v1/me/email")), &hub, &cookie)
            .header("content-type", "application/json")
            .body(json!({ "email": email }).to_string())
            .send()
    };

    assert_eq!(
        change("ann.new@example.org", old_cookie.clone())
            .await
            .unwrap()
            .status(),
        StatusCode::ACCEPTED
    );
    let (status, changed, cookie) = hub
        .verify(&link_token(&sink, "ann.new@example.org", 0).await)
        .await;
    assert_eq!(
        (status, changed["purpose"].as_str()),
        (StatusCode::OK, Some("change_email")),
        "{changed}"
    );
    let cookie = cookie.expect("the link's consumer gets a new session");
    let old_session = hub
        .client
        .get(hub.url("/api/v1/me"))
        .header("cookie", &old_cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(
        old_session.status(),
        StatusCode::UNAUTHORIZED,
        "an address change ends the sessions opened before it"
    );
    assert_eq!(
        change("bob@example.org", cookie.clone())
            .await
            .unwrap()
            .status(),
        StatusCode::ACCEPTED
    );
    let (taken, body, _) = hub
        .verify(&link_token(&sink, "bob@example.org", 1).await)
        .await;
    let (_, me) = json_of(hub.get_signed("/api/v1/me", &peer).await).await;
    let logout = with_session(hub.client.post(hub.url("/api/v1/logout")), &hub, &cookie)
        .send()
        .await
        .unwrap();
    let cleared = logout
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let after = hub
        .client
        .get(hub.url("/api/v1/me"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();

    assert_eq!(
        (taken, body["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("email_taken"))
    );
    assert_eq!(me["account"]["email"], "ann.new@example.org", "{me}");
    assert_eq!(logout.status(), StatusCode::NO_CONTENT);
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    assert_eq!(after.status(), StatusCode::UNAUTHORIZED);
}

async fn a_session_used_after_half_its_life_is_renewed_and_its_cookie_resent(db: TestDb) {
    use sha2::Digest as _;
    let sink = SmtpSink::start().await;
    let hub = hub_with(&db, JoinMode::Email, &sink).await;
    let (_, cookie) = member(&hub, &sink, "ann@example.org").await;
    let cookie = cookie.unwrap();
    let me = || {
        hub.client
            .get(hub.url("/api/v1/me"))
            .header("cookie", &cookie)
            .send()
    };
    let fresh = me().await.unwrap();
    assert_eq!(fresh.status(), StatusCode::OK);
    assert!(
        fresh.headers().get("set-cookie").is_none(),
        "a fresh session is not re-sent"
    );

    // Move the session into the second half of its life: one minute left.
    let value = cookie.split_once('=').unwrap().1;
    let hash: String = sha2::Sha256::digest(value.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let store = db.hub_store().await;
    let now = testkit::now_ms();
    store
        .find_and_renew_session(&hash, now, i64::MAX, now + 60_000)
        .await
        .unwrap()
        .expect("the session exists");
    let renewed = me().await.unwrap();

    assert_eq!(renewed.status(), StatusCode::OK);
    let set = renewed
        .headers()
        .get("set-cookie")
        .expect("the cookie is re-sent")
        .to_str()
        .unwrap()
        .to_owned();
    assert!(set.starts_with(&cookie), "{set}");
    assert!(set.contains("Max-Age=2592000"), "{set}");
    let session = store
        .find_and_renew_session(&hash, now, 0, 0)
        .await
        .unwrap()
        .unwrap();
    assert!(
        session.expires_at > now + 29 * 86_400_000,
        "renewed in the database too"
    );
}

async fn sse_admits_a_voucher_or_a_member_session_and_refuses_a_revoked_voucher(db: TestDb) {
    let sink = SmtpSink::start().await;
    let hub = hub_with(&db, JoinMode::Email, &sink).await;
    let (peer, cookie) = member(&hub, &sink, "ann@example.org").await;
    let cookie = cookie.unwrap();
    let (_, issued) = json_of(hub.post_signed("/api/v1/vouchers", &json!({}), &peer).await).await;
    let voucher = issued["voucher"].as_str().unwrap().to_owned();
    let get = |path: &str| hub.client.get(hub.url(path));

    let bearer = events(get("/events").bearer_auth(&voucher)).await;
    let query = events(get(&format!("/events?voucher={voucher}"))).await;
    let session = events(get("/events").header("cookie", &cookie)).await;
    let forged = events(get("/events").bearer_auth(format!("{voucher}x"))).await;
    let stranger_session =
        events(get("/events").header("cookie", format!("goop_hub_session={}", "A".repeat(43))))
            .await;
    let unbound = hub
        .client
        .delete(hub.url(&format!("/api/v1/peers/{}", peer.peer_id())))
        .header("cookie", &cookie)
        .header("origin", &hub.base_url)
        .send()
        .await
        .unwrap();
    assert_eq!(unbound.status(), StatusCode::NO_CONTENT);
    let revoked = events(get("/events").bearer_auth(&voucher)).await;
    let peerless_session = events(get("/events").header("cookie", &cookie)).await;

    assert_eq!(bearer, (StatusCode::OK, ": ok\n\n".to_owned()));
    assert_eq!(query.0, StatusCode::OK);
    assert_eq!(session.0, StatusCode::OK);
    assert_eq!(
        forged,
        (StatusCode::UNAUTHORIZED, "invalid_voucher".to_owned())
    );
    assert_eq!(
        stranger_session,
        (StatusCode::UNAUTHORIZED, "unauthorized".to_owned())
    );
    assert_eq!(
        revoked,
        (StatusCode::UNAUTHORIZED, "invalid_voucher".to_owned())
    );
    assert_eq!(
        peerless_session,
        (StatusCode::FORBIDDEN, "not_member".to_owned())
    );
}

/// hub.md §6.10: `POST /api/v1/logout {"all": true}` ends every session of the account, the
/// `/account` page's "Sign out everywhere" does the same, and a ban ends them too.
async fn sign_out_everywhere_and_a_ban_end_every_session_of_the_account(db: TestDb) {
    let sink = SmtpSink::start().await;
    let hub = super::admin_hub(&db, &sink, |_| {}).await;
    let (peer, laptop) = member(&hub, &sink, "ann@example.org").await;
    let laptop = laptop.unwrap();
    let sign_in = |seen: usize| {
        let hub = &hub;
        let sink = &sink;
        async move {
            hub.post("/api/v1/login", &json!({"email": "ann@example.org"}))
                .await;
            let (_, _, cookie) = hub
                .verify(&link_token(sink, "ann@example.org", seen).await)
                .await;
            cookie.unwrap()
        }
    };
    let me = |cookie: String| {
        hub.client
            .get(hub.url("/api/v1/me"))
            .header("cookie", cookie)
            .send()
    };
    let phone = sign_in(1).await;
    assert_eq!(me(phone.clone()).await.unwrap().status(), StatusCode::OK);

    let everywhere = with_session(hub.client.post(hub.url("/api/v1/logout")), &hub, &laptop)
        .header("content-type", "application/json")
        .body(json!({"all": true}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(everywhere.status(), StatusCode::NO_CONTENT);
    assert_eq!(me(laptop).await.unwrap().status(), StatusCode::UNAUTHORIZED);
    assert_eq!(me(phone).await.unwrap().status(), StatusCode::UNAUTHORIZED);

    let (tablet, desk) = (sign_in(2).await, sign_in(3).await);
    let page = with_session(hub.client.get(hub.url("/account")), &hub, &tablet)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("id=\"logout-all\""), "{page}");
    let form = with_session(hub.client.post(hub.url("/logout")), &hub, &tablet)
        .form(&[("all", "1")])
        .send()
        .await
        .unwrap();
    assert!(
        form.status().is_success(),
        "redirected to the landing page: {}",
        form.status()
    );
    assert_eq!(me(desk).await.unwrap().status(), StatusCode::UNAUTHORIZED);

    let kept = sign_in(4).await;
    let account = peer.membership(&hub).await["account_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let banned = super::admin_post(&hub, &account, "ban", &json!({"reason": "spam"})).await;
    assert_eq!(banned.status(), StatusCode::OK);
    assert_eq!(
        me(kept).await.unwrap().status(),
        StatusCode::UNAUTHORIZED,
        "a ban ends the account's sessions"
    );
}
