//! The administration API and CLI (hub.md §9): authentication with its failure bucket, the audit
//! row of every change, state rules, invites, member search and pages, comps, and a ban that
//! takes a member's relay reservation away within 5 s (§6.6, §18 check 9).

use std::time::Duration;

use hub::config::{JoinMode, RateLimit};
use hub::members::{State, Tier};
use hub::store::{self, Account, Application, Binding, Store};
use libp2p::PeerId;
use libp2p::swarm::SwarmEvent;
use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::{Value, json};
use shared::db::DatabaseConfig;
use testkit::swarm::{client, pump};
use testkit::{SmtpSink, TestDb, TestHub};

const TOKEN: &str = "test-admin-token-0123456789abcdefghij";
const ACTOR: &str = "test:alice";

testkit::each_backend!(
    admin_routes_answer_404_when_no_token_is_configured,
    admin_answers_401_then_429_when_token_is_wrong,
    admin_refuses_actor_header_when_not_printable_ascii,
    approve_returns_409_when_account_is_not_pending_approval,
    approve_succeeds_once_when_two_admins_race,
    reject_deletes_account_and_keeps_application_rejected,
    every_mutating_call_writes_one_audit_row,
    invite_round_trip_when_created_listed_and_revoked,
    members_list_filters_searches_and_pages_newest_first,
    comp_sets_tier_comped_until_uncomp,
    ban_drops_relay_reservation_within_5_seconds_and_unban_restores,
    presence_and_stats_show_a_live_bound_peer,
    cli_lists_members_as_json,
    cli_creates_an_invite_with_expiry_and_actor,
    approve_then_ban_reach_a_peer_that_joined_through_the_application_flow,
);

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// A hub with the admin token, a small failure bucket and `join_mode = email`.
async fn admin_hub(db: &TestDb) -> TestHub {
    TestHub::spawn_with(db, |config| {
        config.admin.token = Some(TOKEN.to_owned().into());
        config.membership.join_mode = JoinMode::Email;
        config.rate_limits.admin_fail_ip = RateLimit {
            burst: 2,
            refill_secs: 3600.0,
        };
    })
    .await
}

/// A second handle on the hub's database, to arrange accounts as earlier flows would leave them.
async fn open_store(db: &TestDb) -> Store {
    let dir = tempfile::tempdir().unwrap();
    Store::open(&DatabaseConfig::with_url(&db.url), dir.path())
        .await
        .unwrap()
}

/// An account as a finished join flow leaves it.
struct Seed<'a> {
    email: &'a str,
    state: State,
    tier: Tier,
    created_at: i64,
    peer: Option<PeerId>,
    application: Option<&'a str>,
}

impl<'a> Seed<'a> {
    fn new(email: &'a str, state: State, tier: Tier) -> Self {
        Self {
            email,
            state,
            tier,
            created_at: now_ms(),
            peer: None,
            application: None,
        }
    }
}

async fn seed(store: &Store, seed: Seed<'_>) -> String {
    let id = uuid::Uuid::now_v7().to_string();
    let mut tx = store.begin_write().await.unwrap();
    let account = Account {
        id: id.clone(),
        email: Some(seed.email.to_owned()),
        email_verified_at: Some(seed.created_at),
        state: seed.state,
        tier: seed.tier,
        created_at: seed.created_at,
    };
    store::insert_account(&mut tx, &account, seed.created_at)
        .await
        .unwrap();
    if let Some(peer) = seed.peer {
        let binding = Binding {
            peer_id: peer.to_string(),
            account_id: id.clone(),
            label: Some("laptop".to_owned()),
            bound_via: "join".to_owned(),
            proof_ts: seed.created_at,
            proof_sig: "sig".to_owned(),
            bound_at: seed.created_at,
        };
        store::insert_binding(&mut tx, &binding).await.unwrap();
    }
    if let Some(message) = seed.application {
        let application = Application {
            id: uuid::Uuid::now_v7().to_string(),
            account_id: Some(id.clone()),
            email: seed.email.to_owned(),
            message: message.to_owned(),
            status: "pending".to_owned(),
            created_at: seed.created_at,
            decided_at: None,
            decided_by: None,
            decision_reason: None,
        };
        store::insert_application(&mut tx, &application)
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    id
}

fn admin(hub: &TestHub, method: Method, path: &str) -> RequestBuilder {
    hub.client
        .request(method, hub.url(&format!("/api/v1/admin{path}")))
        .bearer_auth(TOKEN)
        .header("x-goop-admin-actor", ACTOR)
}

async fn get_json(hub: &TestHub, path: &str) -> Value {
    let response = admin(hub, Method::GET, path).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "GET {path}");
    response.json().await.unwrap()
}

async fn post_json(hub: &TestHub, path: &str, body: Value) -> reqwest::Response {
    admin(hub, Method::POST, path)
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn error_code(response: reqwest::Response) -> String {
    let body: Value = response.json().await.unwrap();
    body["error"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

async fn admin_routes_answer_404_when_no_token_is_configured(db: TestDb) {
    let hub = TestHub::spawn(&db).await;

    let list = admin(&hub, Method::GET, "/members").send().await.unwrap();
    let create = post_json(&hub, "/invites", json!({})).await;

    assert_eq!(list.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(list).await, "not_found");
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
    assert_eq!(error_code(missing).await, "unauthorized");
    assert_eq!(first.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(drained.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(drained.headers().contains_key("retry-after"));
    assert_eq!(error_code(drained).await, "rate_limited");
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
    assert_eq!(error_code(long).await, "invalid_field");
    assert_eq!(fine.status(), StatusCode::OK);
    assert_eq!(fine.headers()["cache-control"], "no-store");
}

async fn approve_returns_409_when_account_is_not_pending_approval(db: TestDb) {
    let hub = admin_hub(&db).await;
    let store = open_store(&db).await;
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
    assert_eq!(error_code(refused).await, "conflict");
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
    let store = open_store(&db).await;
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
    let store = open_store(&db).await;
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

async fn every_mutating_call_writes_one_audit_row(db: TestDb) {
    let hub = admin_hub(&db).await;
    let store = open_store(&db).await;
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

async fn invite_round_trip_when_created_listed_and_revoked(db: TestDb) {
    let hub = admin_hub(&db).await;
    let before = now_ms();

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
    assert!(expires_at >= before + 3_600_000 && expires_at <= now_ms() + 3_600_000);
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

async fn members_list_filters_searches_and_pages_newest_first(db: TestDb) {
    let hub = admin_hub(&db).await;
    let store = open_store(&db).await;
    let peer = PeerId::from(libp2p::identity::Keypair::generate_ed25519().public());
    let t = now_ms();
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
    let store = open_store(&db).await;
    let id = seed(
        &store,
        Seed::new("ann@example.org", State::Active, Tier::Member),
    )
    .await;
    let until = now_ms() + 86_400_000;

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
    let metrics = metrics(&hub).await;
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

async fn metrics(hub: &TestHub) -> String {
    let addr = hub.server().metrics_addr().unwrap();
    hub.client
        .get(format!("http://{addr}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

async fn ban_drops_relay_reservation_within_5_seconds_and_unban_restores(db: TestDb) {
    let mut listener = client();
    let peer = *listener.local_peer_id();
    let store = open_store(&db).await;
    let id = seed(
        &store,
        Seed {
            peer: Some(peer),
            ..Seed::new("ann@example.org", State::Active, Tier::Member)
        },
    )
    .await;
    let hub = admin_hub(&db).await;
    let hub_id = hub.server().peer_id();
    let hub_addr = hub.server().p2p_addrs()[0].clone();
    testkit::swarm::reserve(&mut listener, &hub_addr, hub_id)
        .await
        .expect("a member reserves");

    let banned = post_json(
        &hub,
        &format!("/members/{id}/ban"),
        json!({"reason": "abuse"}),
    )
    .await;

    assert_eq!(banned.status(), StatusCode::OK);
    pump(
        &mut [&mut listener],
        Duration::from_secs(5),
        "the hub to drop the banned member",
        |_, event| {
            matches!(event, SwarmEvent::ConnectionClosed { peer_id, num_established: 0, .. } if *peer_id == hub_id)
                .then_some(())
        },
    )
    .await;
    let member = get_json(&hub, &format!("/members/{id}")).await;
    assert_eq!(member["member"]["state"], "banned");
    assert_eq!(member["member"]["ban_reason"], "abuse");
    let again = testkit::swarm::reserve(&mut listener, &hub_addr, hub_id).await;
    assert!(again.is_err(), "a banned member cannot reserve");

    let unbanned = post_json(&hub, &format!("/members/{id}/unban"), json!({})).await;
    assert_eq!(unbanned.status(), StatusCode::OK);
    let member: Value = unbanned.json().await.unwrap();
    assert_eq!(
        (member["state"].as_str(), member["tier"].as_str()),
        (Some("active"), Some("member"))
    );
    testkit::swarm::reserve(&mut listener, &hub_addr, hub_id)
        .await
        .expect("the unbanned member reserves again");
    let mut fresh = client();
    let refused = testkit::swarm::reserve(&mut fresh, &hub_addr, hub_id).await;
    assert!(refused.is_err(), "an unbound peer still cannot");
}

async fn presence_and_stats_show_a_live_bound_peer(db: TestDb) {
    let key = libp2p::identity::ed25519::Keypair::generate();
    let peer_id = shared::ids::Ed25519PeerId::from(key.public());
    let store = open_store(&db).await;
    let id = seed(
        &store,
        Seed {
            peer: Some(peer_id.peer_id()),
            ..Seed::new("ann@example.org", State::Active, Tier::Member)
        },
    )
    .await;
    let hub = admin_hub(&db).await;
    let hub_id = shared::ids::Ed25519PeerId::try_from(hub.server().peer_id()).unwrap();
    let body =
        json!({"type": "online", "peerId": peer_id.to_string(), "content": "Ann"}).to_string();
    let mut request = hub.client.post(hub.url("/publish")).body(body.clone());
    for (name, value) in testkit::signed_headers(&key, &hub_id, "POST", "/publish", body.as_bytes())
    {
        request = request.header(name, value);
    }

    let published = request.send().await.unwrap();
    let presence = get_json(&hub, "/presence").await;
    let stats = get_json(&hub, "/stats").await;

    assert_eq!(published.status(), StatusCode::NO_CONTENT);
    let live = &presence["peers"][0];
    assert_eq!(live["peer_id"], peer_id.to_string());
    assert_eq!(live["account_id"], id.as_str());
    assert_eq!(live["email"], "ann@example.org");
    assert_eq!(live["signed"], true);
    assert!(live["last_seen"].as_i64().unwrap() > now_ms() - 60_000);
    assert_eq!(stats["presence"]["peers"], 1);
    assert_eq!(stats["members"]["active"], 1);
    assert_eq!(stats["members"]["banned"], 0);
    assert_eq!(stats["tiers"]["member"], 1);
    assert_eq!(stats["relay"]["reservations"], 0);
    assert_eq!(stats["billing"]["donations_30d"]["count"], 0);
    assert_eq!(stats["email"]["sent_24h"], 0);
}

/// Runs the real `hub` binary with a clean environment holding only the admin token.
async fn cli(args: &[&str]) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    tokio::process::Command::new(env!("CARGO_BIN_EXE_hub"))
        .args(args)
        .env_clear()
        .env("HUB_ADMIN__TOKEN", TOKEN)
        .env("USER", "tester")
        .current_dir(dir.path())
        .output()
        .await
        .unwrap()
}

async fn cli_lists_members_as_json(db: TestDb) {
    let hub = admin_hub(&db).await;
    let store = open_store(&db).await;
    seed(
        &store,
        Seed::new("ann@example.org", State::Active, Tier::Member),
    )
    .await;
    seed(
        &store,
        Seed::new("bob@example.org", State::Banned, Tier::Guest),
    )
    .await;

    let out = cli(&[
        "admin",
        "--url",
        &hub.base_url,
        "members",
        "list",
        "--state",
        "active",
        "--json",
    ])
    .await;

    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let page: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    assert_eq!(page["items"][0]["email"], "ann@example.org");
    let table = cli(&["admin", "--url", &hub.base_url, "members", "list"]).await;
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(text.starts_with("ID"), "{text}");
    assert!(
        text.contains("bob@example.org") && text.contains("banned"),
        "{text}"
    );
    let api_error = cli(&[
        "admin",
        "--url",
        &hub.base_url,
        "members",
        "approve",
        "nope",
    ])
    .await;
    assert_eq!(api_error.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&api_error.stderr).contains("404 not_found"));
}

async fn cli_creates_an_invite_with_expiry_and_actor(db: TestDb) {
    let hub = admin_hub(&db).await;
    let before = now_ms();

    let out = cli(&[
        "admin",
        "--url",
        &hub.base_url,
        "invites",
        "create",
        "--uses",
        "3",
        "--expires",
        "2d",
        "--note",
        "cli",
    ])
    .await;

    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let code = stdout.lines().next().unwrap().to_owned();
    assert_eq!(code.len(), 14, "{stdout}");
    let listed = get_json(&hub, "/invites").await;
    let invite = &listed["items"][0];
    assert_eq!(invite["code"], code.as_str());
    assert_eq!(invite["max_uses"], 3);
    assert_eq!(invite["created_by"], "cli:tester");
    let expires_at = invite["expires_at"].as_i64().unwrap();
    assert!(expires_at >= before + 2 * 86_400_000 && expires_at <= now_ms() + 2 * 86_400_000);
    let usage = cli(&[
        "admin",
        "--url",
        &hub.base_url,
        "invites",
        "create",
        "--expires",
        "soon",
    ])
    .await;
    assert_eq!(usage.status.code(), Some(2));
}

#[tokio::test]
async fn cli_exits_3_when_hub_is_unreachable() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);

    let out = cli(&["admin", "--url", &url, "stats"]).await;

    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unreachable"));
}

/// `path` on the hub, signed by `key` (PeerSig), with a JSON body for POST.
async fn signed(
    hub: &TestHub,
    key: &libp2p::identity::ed25519::Keypair,
    method: Method,
    path: &str,
    body: Option<&Value>,
) -> reqwest::Response {
    let hub_id = shared::ids::Ed25519PeerId::try_from(hub.server().peer_id()).unwrap();
    let bytes = body
        .map(|b| serde_json::to_vec(b).unwrap())
        .unwrap_or_default();
    let mut request = hub.client.request(method.clone(), hub.url(path));
    if body.is_some() {
        request = request
            .header("content-type", "application/json")
            .body(bytes.clone());
    }
    for (name, value) in testkit::signed_headers(key, &hub_id, method.as_str(), path, &bytes) {
        request = request.header(name, value);
    }
    request.send().await.unwrap()
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
    let key = libp2p::identity::ed25519::Keypair::generate();
    let join = json!({"email": "ann@example.org", "message": "I run a reading group."});
    let joined = signed(&hub, &key, Method::POST, "/api/v1/join", Some(&join)).await;
    assert_eq!(joined.status(), StatusCode::ACCEPTED);
    let mail = testkit::eventually(Duration::from_secs(15), "the join mail", || async {
        sink.messages().into_iter().next()
    })
    .await;
    let body = mail.body();
    let start = body.find("/verify?token=").unwrap() + "/verify?token=".len();
    let token: String = body[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    let verified = hub
        .client
        .post(hub.url("/api/v1/verify"))
        .json(&json!({ "token": token }))
        .send()
        .await
        .unwrap();
    assert_eq!(verified.status(), StatusCode::OK);
    let pending = get_json(&hub, "/applications").await;
    let application = &pending["items"][0];
    assert_eq!(application["message"], "I run a reading group.");
    let account = application["account_id"].as_str().unwrap().to_owned();

    let approved = post_json(&hub, &format!("/members/{account}/approve"), json!({})).await;

    assert_eq!(approved.status(), StatusCode::OK);
    let membership: Value = signed(&hub, &key, Method::GET, "/api/v1/membership", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(membership["state"], "active");
    assert_eq!(membership["entitlements"]["relay"], true);
    let voucher = signed(
        &hub,
        &key,
        Method::POST,
        "/api/v1/vouchers",
        Some(&json!({})),
    )
    .await;
    assert_eq!(voucher.status(), StatusCode::CREATED);

    let banned = post_json(
        &hub,
        &format!("/members/{account}/ban"),
        json!({"reason": "spam"}),
    )
    .await;

    assert_eq!(banned.status(), StatusCode::OK);
    let membership: Value = signed(&hub, &key, Method::GET, "/api/v1/membership", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(membership["state"], "banned");
    assert_eq!(
        membership["entitlements"],
        json!({"presence": false, "relay": false, "voucher": false})
    );
    let refused = signed(
        &hub,
        &key,
        Method::POST,
        "/api/v1/vouchers",
        Some(&json!({})),
    )
    .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(error_code(refused).await, "banned");
    let revocations: Value = hub
        .get("/api/v1/vouchers/revocations?since=0")
        .await
        .json()
        .await
        .unwrap();
    let peer = PeerId::from_public_key(&key.public().into()).to_string();
    assert!(
        revocations["revocations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["peer_id"] == peer.as_str()),
        "{revocations}"
    );
}
