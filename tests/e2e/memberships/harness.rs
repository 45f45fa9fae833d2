//! The communities (hubs on Postgres with an SMTP sink and an admin token, one paid through the
//! Stripe double), the peers, and the joins of the membership end-to-end tests.

use std::path::{Path, PathBuf};
use std::time::Duration;

use hub::config::JoinMode;
use libp2p::PeerId;
use peer::hub_url::HubUrl;
use peer::hubs::HubView;
use peer::membership::{JoinOptions, Joined};
use peer::{Peer, PeerConfig};
use reqwest::Method;
use serde_json::{Value, json};
use shared::ids::Ed25519PeerId;
use tempfile::TempDir;
use testkit::{
    SmtpSink, StripeAccount, StripeMock, TestDb, TestHub, eventually, json_of, verify_token,
};

/// Generous for a machine running other suites at the same time.
pub(super) const DEADLINE: Duration = Duration::from_secs(30);
/// The admin token of every community.
const ADMIN: &str = "e2e-admin-token-0123456789abcdefghijklmn";
const STRIPE_KEY: &str = "sk_test_goop_e2e";
const WEBHOOK_SECRET: &str = "whsec_goop_e2e";
const PRICE: &str = "price_goop_e2e_yearly";

/// A hub on Postgres, its mail going to an SMTP sink, administered with [`ADMIN`].
pub(super) struct Community {
    pub(super) hub: TestHub,
    pub(super) url: HubUrl,
    pub(super) sink: SmtpSink,
    _db: TestDb,
}

impl Community {
    /// A community in `mode`, after `adjust`.
    pub(super) async fn start(mode: JoinMode, adjust: impl FnOnce(&mut hub::Config)) -> Self {
        testkit::init_tracing();
        let db = TestDb::postgres().await;
        let (hub, sink) = TestHub::spawn_mailing(&db, mode, ADMIN, adjust).await;
        let url = HubUrl::parse(&hub.base_url).unwrap();
        Self {
            hub,
            url,
            sink,
            _db: db,
        }
    }

    /// A paid community (`access = "paid"`, open join) selling plan `yearly` through a fresh
    /// Stripe double, and the double.
    pub(super) async fn paid() -> (Self, StripeMock) {
        let stripe = StripeMock::start(STRIPE_KEY).await;
        stripe.add_price(PRICE, 999, "usd", Some("year"));
        let api = stripe.url();
        let community = Self::start(JoinMode::Open, move |c| {
            let account = StripeAccount {
                api_base: &api,
                secret_key: STRIPE_KEY,
                webhook_secret: WEBHOOK_SECRET,
                price: PRICE,
            };
            testkit::sell_yearly_plan(c, account);
        })
        .await;
        let webhook = community.hub.url("/api/v1/billing/stripe-webhook");
        stripe.set_webhook(&webhook, WEBHOOK_SECRET);
        (community, stripe)
    }

    /// `method /api/v1/admin<path>` with `body`; panics unless it succeeds.
    pub(super) async fn admin(&self, method: Method, path: &str, body: &Value) -> Value {
        let response = self
            .hub
            .client
            .request(method, self.hub.url(&format!("/api/v1/admin{path}")))
            .bearer_auth(ADMIN)
            .json(body)
            .send()
            .await
            .unwrap();
        let (status, body) = json_of(response).await;
        assert!(status.is_success(), "admin {path}: {status} {body}");
        body
    }

    /// A single-use invite code made through the admin API.
    pub(super) async fn invite(&self) -> String {
        let invite = self
            .admin(Method::POST, "/invites", &json!({ "max_uses": 1 }))
            .await;
        invite["code"].as_str().unwrap().to_owned()
    }

    /// The id of the account `peer` is bound to.
    pub(super) async fn account_of(&self, peer: PeerId) -> String {
        let path = format!("/members?q={}", peer.to_base58());
        let members = self.admin(Method::GET, &path, &Value::Null).await;
        members["items"][0]["id"].as_str().unwrap().to_owned()
    }

    /// The account id of the one pending application, once there is one.
    pub(super) async fn pending_application(&self) -> String {
        eventually(DEADLINE, "a pending application", || async {
            let body = self.admin(Method::GET, "/applications", &Value::Null).await;
            body["items"][0]["account_id"].as_str().map(str::to_owned)
        })
        .await
    }

    /// The token of the first mail to `to`, read from the sink.
    pub(super) async fn mailed_token(&self, to: &str) -> String {
        let mail = eventually(DEADLINE, "the join mail", || async {
            self.sink.messages().into_iter().find(|m| m.to == [to])
        })
        .await;
        verify_token(mail.body())
    }

    /// Confirms the link mailed to `to` in a browser: the session cookie it sets.
    pub(super) async fn confirm_in_browser(&self, to: &str) -> String {
        let (status, body, cookie) = self.hub.verify(&self.mailed_token(to).await).await;
        assert_eq!(status, 200, "{body}");
        cookie.expect("a session cookie")
    }

    /// A bind code made by the account signed in with `cookie` (hub.md §6.9).
    pub(super) async fn bind_code(&self, cookie: &str) -> String {
        let response = self
            .hub
            .client
            .post(self.hub.url("/api/v1/me/bind-codes"))
            .header("cookie", cookie)
            .header("origin", &self.hub.base_url)
            .send()
            .await
            .unwrap();
        let (status, body) = json_of(response).await;
        assert_eq!(status, 201, "{body}");
        body["code"].as_str().unwrap().to_owned()
    }
}

/// A peer listening on loopback with its local API, polling memberships every second.
pub(super) struct Member {
    pub(super) peer: Peer,
    _dir: TempDir,
}

impl Member {
    /// A peer in no community yet, after `adjust`.
    pub(super) async fn start(label: &str, adjust: impl FnOnce(&mut PeerConfig)) -> Self {
        testkit::init_tracing();
        let dir = tempfile::tempdir().unwrap();
        let mut config = PeerConfig::for_tests(dir.path());
        config.profile.label = label.to_owned();
        config.hubs.approval_poll_secs = 1;
        config.hubs.membership_reread_secs = 1;
        config.hubs.payment_poll_secs = 1;
        config.groups.ping_secs = 1;
        config.groups.silence_secs = 5;
        config.groups.rejoin_delay_secs = 1;
        config.groups.rejoin_backoff_secs = 1;
        config.groups.rejoin_backoff_max_secs = 2;
        adjust(&mut config);
        let peer = Peer::start(config).await.unwrap();
        Self { peer, _dir: dir }
    }

    pub(super) fn id(&self) -> PeerId {
        self.peer.peer_id()
    }

    /// `POST path` with `body` on our local API.
    async fn local(&self, path: &str, body: &Value) -> (reqwest::StatusCode, Value) {
        let api = format!("http://{}{path}", self.peer.http_addr().unwrap());
        let response = reqwest::Client::new()
            .post(api)
            .json(body)
            .send()
            .await
            .unwrap();
        json_of(response).await
    }

    /// Joins the email community as `email` through the local API, then pastes the link read
    /// from the community's mail back (`POST /api/memberships/verify`).
    pub(super) async fn join_by_email(&self, community: &Community, email: &str) {
        let url = community.url.to_string();
        let join = json!({ "url": url, "email": email });
        let (status, waiting) = self.local("/api/hubs/join", &join).await;
        assert_eq!(status, 202, "{waiting}");
        assert_eq!(waiting["state"], "pending_email");
        assert_eq!(waiting["action"]["kind"], "verify_email");
        let token = community.mailed_token(email).await;
        let link = format!("{}/verify?token={token}", community.hub.base_url);
        let paste = json!({ "url": url, "token": link });
        let (status, verified) = self.local("/api/memberships/verify", &paste).await;
        assert_eq!(status, 200, "{verified}");
        assert_eq!(verified["state"], "active");
        self.assert_holds_voucher(community, "member").await;
    }

    /// Joins with `options` while `alongside` runs (a confirmation, an approval).
    pub(super) async fn join_while<T>(
        &self,
        community: &Community,
        options: JoinOptions,
        alongside: impl Future<Output = T>,
    ) -> (Joined, T) {
        let options = JoinOptions {
            wait: DEADLINE,
            ..options
        };
        let (joined, other) = tokio::join!(self.peer.join_hub(&community.url, options), alongside);
        (joined.unwrap(), other)
    }

    /// Our stored voucher of `community` verifies for us, from its hub, with `tier`; the
    /// membership row is active.
    pub(super) async fn assert_holds_voucher(&self, community: &Community, tier: &str) {
        let store = &self.peer.node().store;
        let voucher = store
            .voucher(&community.url)
            .await
            .unwrap()
            .expect("stored");
        let own = Ed25519PeerId::try_from(self.id()).unwrap();
        let expected = shared::voucher::Expected {
            subject: Some(&own),
            issuers: &[community.hub.hub_id()],
            ..Default::default()
        };
        let claims = shared::voucher::verify(&voucher, &expected).unwrap();
        assert_eq!(claims.tier, tier);
        let row = store.membership(&community.url).await.unwrap().unwrap();
        assert_eq!(row.state, "active");
        assert_eq!(row.tier.as_deref(), Some(tier));
    }

    /// Waits until our view of `community` passes `check`.
    pub(super) async fn wait_hub(
        &self,
        community: &Community,
        what: &str,
        check: impl Fn(&HubView) -> bool,
    ) -> HubView {
        let what = format!("{} at {}: {what}", self.id(), community.url);
        eventually(DEADLINE, &what, || async {
            self.peer
                .node()
                .hubs
                .get(&community.url)
                .filter(|v| check(v))
        })
        .await
    }

    /// Dials `host` by its listen addresses; returns once both sides hold the connection.
    pub(super) async fn connect(&self, host: &Self) {
        let net = &self.peer.node().net;
        let addrs = host.peer.listen_addrs().to_vec();
        net.dial(host.id(), addrs, DEADLINE).await.unwrap();
        eventually(DEADLINE, "the host seeing the connection", || async {
            let net = &host.peer.node().net;
            net.is_connected(self.id()).await.unwrap().then_some(())
        })
        .await;
    }
}

/// A script appending its argument to `opened` in `dir`: the checkout opener.
pub(super) fn recording_opener(dir: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt as _;
    let script = dir.join("opener.sh");
    let log = dir.join("opened");
    let text = format!("#!/bin/sh\nprintf '%s\\n' \"$1\" >> '{}'\n", log.display());
    std::fs::write(&script, text).unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    script
}

/// The first URL the recording opener in `dir` was given.
pub(super) async fn opened(dir: &Path) -> String {
    eventually(DEADLINE, "the opener to run", || async {
        let text = std::fs::read_to_string(dir.join("opened")).ok()?;
        text.lines().next().map(str::to_owned)
    })
    .await
}
