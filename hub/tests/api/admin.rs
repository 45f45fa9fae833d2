//! The administration API and CLI (hub.md §9): authentication with its failure bucket, the audit
//! row of every change, state rules, invites, member search and pages, comps, and a ban that
//! takes a member's relay reservation away within 5 s (§6.6, §18 check 9).

mod access;
mod audit;
mod cli;
mod invites;
mod members;
mod stats;

use hub::config::{JoinMode, RateLimit};
use hub::members::{State, Tier};
use hub::store::{self, Account, Application, Binding, Store};
use libp2p::PeerId;
use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::Value;
use testkit::{TestDb, TestHub};

/// The admin token of [`admin_hub`].
pub(crate) const TOKEN: &str = "test-admin-token-0123456789abcdefghij";

/// The actor every admin call names in `x-goop-admin-actor`.
const ACTOR: &str = "test:alice";

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

/// An account as a finished join flow leaves it.
pub(crate) struct Seed<'a> {
    pub(crate) email: &'a str,
    pub(crate) state: State,
    pub(crate) tier: Tier,
    pub(crate) created_at: i64,
    pub(crate) peer: Option<PeerId>,
    pub(crate) application: Option<&'a str>,
}

impl<'a> Seed<'a> {
    pub(crate) fn new(email: &'a str, state: State, tier: Tier) -> Self {
        Self {
            email,
            state,
            tier,
            created_at: testkit::now_ms(),
            peer: None,
            application: None,
        }
    }
}

/// Writes `seed` into `store` in one transaction; the account id.
pub(crate) async fn seed(store: &Store, seed: Seed<'_>) -> String {
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

/// A request to `/api/v1/admin{path}` with the token and the actor.
fn admin(hub: &TestHub, method: Method, path: &str) -> RequestBuilder {
    hub.client
        .request(method, hub.url(&format!("/api/v1/admin{path}")))
        .bearer_auth(TOKEN)
        .header("x-goop-admin-actor", ACTOR)
}

/// `GET` an admin path, asserting a 200; the JSON body.
async fn get_json(hub: &TestHub, path: &str) -> Value {
    let response = admin(hub, Method::GET, path).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "GET {path}");
    response.json().await.unwrap()
}

/// `POST` an admin path with `body` as JSON.
async fn post_json(hub: &TestHub, path: &str, body: Value) -> reqwest::Response {
    admin(hub, Method::POST, path)
        .json(&body)
        .send()
        .await
        .unwrap()
}
