//! Member administration (hub.md §9.2): approve and reject with their state rules, listing and
//! search, comps, and approval and ban reaching a peer that joined by application.

use std::time::Duration;

use hub::config::JoinMode;
use hub::members::{State, Tier};
use libp2p::PeerId;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use testkit::{SmtpSink, TestDb, TestHub, TestPeer, code_of, each_backend};

use super::{ACTOR, Seed, TOKEN, admin, admin_hub, get_json, post_json, seed};

each_backend!(
    approve_returns_409_when_account_is_not_pending_approval,
    approve_succeeds_once_when_two_admins_race,
    reject_deletes_account_and_keeps_application_rejected,
    members_list_filters_searches_and_pages_newest_first,
    comp_sets_tier_comped_until_uncomp,
    approve_then_ban_reach_a_peer_that_joined_through_the_application_flow,
);

async fn approve_returns_409_when_account_is_not_pending_approval(db: TestDb) {
    let hub = admin_hub(&db).await;
    let store = db.hub_store().await;
    let active = seed(
        &store,
        Seed::new("ann@example.org", State::Active, Tier::Member),
    )
    .await;
    let pending = seed(
        &store,
        Seed {
            application: Some("let me in"),
            ..Seed::new("bob@example.org", State::PendingApproval, Tier::Member)
        },
    )
    .await;

    let refused = post_json(&hub, &format!("/members/{active}/approve"), json!({})).await;
    let unknown = post_json(&hub, "/members/no-such-id/approve", json!({})).await;
    let approved = post_json(
        &hub,
        &format!("/members/{pending}/approve"),
        json!({"note": "welcome"}),
    )
    .await;

    assert_eq!(refused.status(), StatusCode::CONFLICT);
    assert_eq!(code_of(refused).await.1, "conflict");
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    assert_eq!(approved.status(), StatusCode::OK);
    let member: Value = approved.json().await.unwrap();
    assert_eq!(member["state"], "active");
    assert_eq!(member["tier"], "member");
    let detail = get_json(&hub, &format!("/members/{pending}")).await;
    assert_eq!(detail["application"]["status"], "approved");
    assert_eq!(detail["application"]["decided_by"], ACTOR);
    assert_eq!(detail["application"]["decision_reason"], "welcome");
    assert_eq!(detail["audit"][0]["action"], "member.approve");
}

async fn approve_succeeds_once_when_two_admins_race(db: TestDb) {
    let hub = admin_hub(&db).await;
    let store = db.hub_store().await;
    let id = seed(
        &store,
        Seed {
            application: Some("hi"),
            ..Seed::new("bob@example.org", State::PendingApproval, Tier::Member)
        },
    )
    .await;
    let path = format!("/members/{id}/approve");

    let (a, b) = tokio::join!(
        post_json(&hub, &path, json!({})),
        post_json(&hub, &path, json!({}))
    );

    let mut statuses = [a.status(), b.status()];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::OK, StatusCode::CONFLICT]);
    let audit = get_json(&hub, "/audit").await;
    assert_eq!(audit["items"].as_array().unwrap().len(), 1);
}

async fn reject_deletes_account_and_keeps_application_rejected(db: TestDb) {
    let hub = admin_hub(&db).await;
    let store = db.hub_store().await;
    let id = seed(
        &store,
        Seed {
            application: Some("hello"),
            ..Seed::new("carol@example.org", State::PendingApproval, Tier::Member)
        },
    )
    .await;

    let without_reason = post_json(&hub, &format!("/members/{id}/reject"), json!({})).await;
    let rejected = post_json(
        &hub,
        &format!("/members/{id}/reject"),
        json!({"reason": "spam"}),
    )
    .await;

    assert_eq!(without_reason.status(), StatusCode::BAD_REQUEST);
    assert_eq!(rejected.status(), StatusCode::NO_CONTENT);
    let gone = admin(&hub, Method::GET, &format!("/members/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);
    let applications = get_json(&hub, "/applications?status=rejected").await;
    assert_eq!(applications["items"][0]["email"], "carol@example.org");
    assert_eq!(applications["items"][0]["account_id"], Value::Null);
    let pending = get_json(&hub, "/applications").await;
    assert_eq!(pending["items"], json!([]));
}

async fn members_list_filters_searches_and_pages_newest_first(db: TestDb) {
    let hub = admin_hub(&db).await;
    let store = db.hub_store().await;
    let peer = PeerId::from(libp2p::identity::Keypair::generate_ed25519().public());
    let t = testkit::now_ms();
    let people = [
        ("ann@example.org", State::Active, Tier::Member, None),
        ("bob@example.org", State::Banned, Tier::Guest, None),
        (
            "carol@sample.net",
            State::PendingApproval,
            Tier::Member,
            None,
        ),
        ("dave@example.org", State::Active, Tier::Comped, Some(peer)),
        ("erin_x@sample.net", State::Lapsed, Tier::Guest, None),
    ];
    let mut ids = Vec::new();
    for (i, (email, state, tier, peer)) in people.into_iter().enumerate() {
        let seeded = Seed {
            created_at: t + i as i64,
            peer,
            ..Seed::new(email, state, tier)
        };
        ids.push(seed(&store, seeded).await);
    }
    let emails = |page: &Value| -> Vec<String> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["email"].as_str().unwrap().to_owned())
            .collect()
    };

    let all = get_json(&hub, "/members").await;
    let by_email = get_json(&hub, "/members?q=EXAMPLE.org").await;
    let wildcard = get_json(&hub, "/members?q=n_x").await;
    let underscore_is_literal = get_json(&hub, "/members?q=n_").await;
    let by_id = get_json(&hub, &format!("/members?q={}", ids[2])).await;
    let by_peer = get_json(&hub, &format!("/members?q={}", &peer.to_string()[..30])).await;
    let active = get_json(&hub, "/members?state=active").await;
    let comped = get_json(&hub, "/members?tier=comped&state=active").await;
    let bad_state = admin(&hub, Method::GET, "/members?state=sleeping")
        .send()
        .await
        .unwrap();

    assert_eq!(
        emails(&all),
        [
            "erin_x@sample.net",
            "dave@example.org",
            "carol@sample.net",
            "bob@example.org",
            "ann@example.org"
        ]
    );
    assert_eq!(all["next"], Value::Null);
    assert_eq!(
        emails(&by_email),
        ["dave@example.org", "bob@example.org", "ann@example.org"]
    );
    assert_eq!(emails(&wildcard), ["erin_x@sample.net"]);
    assert_eq!(emails(&underscore_is_literal), ["erin_x@sample.net"]);
    assert_eq!(emails(&by_id), ["carol@sample.net"]);
    assert_eq!(emails(&by_peer), ["dave@example.org"]);
    assert_eq!(by_peer["items"][0]["peers"], json!([peer.to_string()]));
    assert_eq!(emails(&active), ["dave@example.org", "ann@example.org"]);
    assert_eq!(emails(&comped), ["dave@example.org"]);
    assert_eq!(bad_state.status(), StatusCode::BAD_REQUEST);

    let mut seen = Vec::new();
    let mut path = "/members?limit=2".to_owned();
    loop {
        let page = get_json(&hub, &path).await;
        assert!(page["items"].as_array().unwrap().len() <= 2);
        seen.extend(emails(&page));
        match page["next"].as_str() {
            Some(cursor) => path = format!("/members?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(
        seen,
        emails(&all),
        "pages cover every member once, in order"
    );
}

async fn comp_sets_tier_comped_until_uncomp(db: TestDb) {
    let hub = admin_hub(&db).await;
    let store = db.hub_store().await;
    let id = seed(
        &store,
        Seed::new("ann@example.org", State::Active, Tier::Member),
    )
    .await;
    let until = testkit::now_ms() + 86_400_000;

    let past = post_json(&hub, &format!("/members/{id}/comp"), json!({"until": 1})).await;
    let comped = post_json(
        &hub,
        &format!("/members/{id}/comp"),
        json!({"until": until, "note": "speaker"}),
    )
    .await;

    assert_eq!(past.status(), StatusCode::BAD_REQUEST);
    assert_eq!(comped.status(), StatusCode::OK);
    let member: Value = comped.json().await.unwrap();
    assert_eq!(member["tier"], "comped");
    assert_eq!(member["state"], "active");
    assert_eq!(member["comped_until"], until);
    assert!(member["ever_paid_at"].is_i64());
    let metrics = hub.metrics().await;
    assert!(
        metrics.contains("hub_members{state=\"active\",tier=\"comped\"} 1"),
        "{metrics}"
    );

    let uncomped = admin(&hub, Method::DELETE, &format!("/members/{id}/comp"))
        .send()
        .await
        .unwrap();
    let twice = admin(&hub, Method::DELETE, &format!("/members/{id}/comp"))
        .send()
        .await
        .unwrap();
    assert_eq!(uncomped.status(), StatusCode::OK);
    let member: Value = uncomped.json().await.unwrap();
    assert_eq!(
        member["tier"], "member",
        "a free community falls back to member"
    );
    assert_eq!(member["comped_until"], Value::Null);
    assert_eq!(twice.status(), StatusCode::CONFLICT);
}

async fn approve_then_ban_reach_a_peer_that_joined_through_the_application_flow(db: TestDb) {
    let sink = SmtpSink::start().await;
    let url = sink.url();
    let hub = TestHub::spawn_with(&db, move |config| {
        config.admin.token = Some(TOKEN.to_owned().into());
        config.membership.join_mode = JoinMode::Application;
        config.email.transport = hub::config::MailTransportKind::Smtp;
        config.email.smtp_url = Some(url.into());
    })
    .await;
    let peer = TestPeer::new();
    let join = json!({"email": "ann@example.org", "message": "I run a reading group."});
    let joined = peer.join(&hub, &join).await;
    assert_eq!(joined.status(), StatusCode::ACCEPTED);
    let mail = testkit::eventually(Duration::from_secs(15), "the join mail", || async {
        sink.messages().into_iter().next()
    })
    .await;
    let token = testkit::verify_token(mail.body());
    let (verified, _, _) = hub.verify(&token).await;
    assert_eq!(verified, StatusCode::OK);
    let pending = get_json(&hub, "/applications").await;
    let application = &pending["items"][0];
    assert_eq!(application["message"], "I run a reading group.");
    let account = application["account_id"].as_str().unwrap().to_owned();

    let approved = post_json(&hub, &format!("/members/{account}/approve"), json!({})).await;

    assert_eq!(approved.status(), StatusCode::OK);
    let membership: Value = hub
        .get_signed("/api/v1/membership", &peer)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(membership["state"], "active");
    assert_eq!(membership["entitlements"]["relay"], true);
    let voucher = hub.post_signed("/api/v1/vouchers", &json!({}), &peer).await;
    assert_eq!(voucher.status(), StatusCode::CREATED);

    let banned = post_json(
        &hub,
        &format!("/members/{account}/ban"),
        json!({"reason": "spam"}),
    )
    .await;

    assert_eq!(banned.status(), StatusCode::OK);
    let membership: Value = hub
        .get_signed("/api/v1/membership", &peer)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(membership["state"], "banned");
    assert_eq!(
        membership["entitlements"],
        json!({"presence": false, "relay": false, "voucher": false})
    );
    let refused = hub.post_signed("/api/v1/vouchers", &json!({}), &peer).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(code_of(refused).await.1, "banned");
    let revocations: Value = hub
        .get("/api/v1/vouchers/revocations?since=0")
        .await
        .json()
        .await
        .unwrap();
    let peer = peer.peer_id().to_string();
    assert!(
        revocations["revocations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["peer_id"] == peer.as_str()),
        "{revocations}"
    );
}
