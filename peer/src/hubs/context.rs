//! [`Ctx`]: what the parts of one hub's presence channel share (node, HTTP client, registry
//! updates, our frames, applying received frames), and [`Backoff`] (peer.md §3.3: 250 ms doubling
//! to 30 s, ±20 %).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use libp2p::Multiaddr;
use rand::Rng as _;
use shared::presence::{Class, MsgType};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::client::{HubCallError, HubClient};
use super::discovery;
use super::inbound::Frame;
use super::{Admission, HubKind, HubView};
use crate::hub_url::HubUrl;
use crate::node::Node;
use crate::peers::Source;

/// Dials for punch hints in flight at once, per hub.
const PUNCH_SLOTS: usize = 4;
/// Direct dial deadline of a punch hint.
const PUNCH_TIMEOUT: Duration = Duration::from_secs(3);

/// Exponential backoff with jitter.
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    first: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    /// Reconnect backoff: 250 ms doubling to 30 s.
    pub(crate) fn reconnect() -> Self {
        Self::new(Duration::from_millis(250), Duration::from_secs(30))
    }

    /// `first` doubling up to `max`.
    pub(crate) fn new(first: Duration, max: Duration) -> Self {
        Self {
            first,
            max,
            next: first,
        }
    }

    /// The next delay, ±20 %.
    pub(crate) fn next_delay(&mut self) -> Duration {
        let base = self.next;
        self.next = (self.next * 2).min(self.max);
        base.mul_f64(rand::rng().random_range(0.8..=1.2))
    }

    /// Back to the first delay.
    pub(crate) fn reset(&mut self) {
        self.next = self.first;
    }
}

/// What one hub's tasks share.
#[derive(Debug)]
pub(crate) struct Ctx {
    /// The node.
    pub(crate) node: Arc<Node>,
    /// HTTP to the hub.
    pub(crate) client: Arc<HubClient>,
    /// The hub.
    pub(crate) url: HubUrl,
    /// `hub:<url>` in the peer table.
    pub(crate) source: Source,
    /// Cancelled on shutdown or leave.
    pub(crate) token: CancellationToken,
    /// Short tasks (punch dials, membership re-reads).
    pub(crate) tracker: TaskTracker,
    /// When we last published over HTTP.
    pub(crate) last_publish: Mutex<Option<Instant>>,
    /// Whether presence went out over HTTP since the last WS session (offline owed at the end).
    pub(crate) http_presence: Mutex<bool>,
    /// `relay.reservations` of the info document (signed hubs).
    pub(crate) reservations: Mutex<Admission>,
    punches: Arc<Semaphore>,
}

impl Ctx {
    /// The context of `url`'s channel.
    pub(crate) fn new(
        node: Arc<Node>,
        client: Arc<HubClient>,
        token: CancellationToken,
        tracker: TaskTracker,
    ) -> Self {
        let url = client.url().clone();
        Self {
            node,
            source: Source::Hub(url.clone()),
            url,
            client,
            token,
            tracker,
            last_publish: Mutex::new(None),
            http_presence: Mutex::new(false),
            reservations: Mutex::new(Admission::Members),
            punches: Arc::new(Semaphore::new(PUNCH_SLOTS)),
        }
    }

    /// The hub's kind, once known.
    pub(crate) fn kind(&self) -> Option<HubKind> {
        self.node.hubs.get(&self.url).and_then(|v| v.kind)
    }

    /// Changes the hub's view.
    pub(crate) fn set(&self, change: impl FnOnce(&mut HubView)) {
        self.node.hubs.update(&self.url, change);
    }

    /// Our presence message of `kind` as sent to this hub.
    pub(crate) async fn own_frame(&self, kind: MsgType) -> String {
        let msg = crate::presence::own_message(&self.node, kind, self.url.is_loopback()).await;
        let text = msg.to_json(kind, Class::Admin);
        let token = (self.kind() == Some(HubKind::Legacy) && kind != MsgType::Offline)
            .then(|| self.verification_token())
            .flatten();
        match (token, serde_json::from_str::<serde_json::Value>(&text)) {
            (Some(token), Ok(serde_json::Value::Object(mut map))) => {
                map.insert("verificationToken".to_owned(), token.into());
                serde_json::Value::Object(map).to_string()
            }
            _ => text,
        }
    }

    fn verification_token(&self) -> Option<String> {
        self.node
            .config
            .hubs
            .verification_tokens
            .iter()
            .find(|(url, _)| HubUrl::parse(url).ok().as_ref() == Some(&self.url))
            .map(|(_, token)| token.clone())
    }

    /// `auth-ok`: record state and tier; presence is granted.
    pub(crate) fn auth_ok(self: &Arc<Self>, state: Option<String>, tier: Option<String>) {
        self.set(|v| {
            if state.is_some() {
                v.membership.clone_from(&state);
            }
            v.tier.clone_from(&tier);
            v.presence_allowed = true;
        });
        let ctx = self.clone();
        self.tracker.spawn(async move {
            ctx.refresh_membership().await;
        });
    }

    /// The stream delivers presence: `online` (WS v2/v1) or `fallback` (SSE).
    pub(crate) fn stream_up(&self, ws: bool) {
        let state = if ws { "online" } else { "fallback" };
        self.set(|v| {
            v.state = state.to_owned();
            v.last_error = None;
        });
        tracing::info!(hub = %self.url, state, "hub presence up");
    }

    /// Applies a presence frame to the peer table.
    pub(crate) fn apply(&self, frame: Frame, now: i64) {
        match frame {
            Frame::Presence(msg) => {
                self.node
                    .peers
                    .upsert(self.source.clone(), &msg, msg.verified, now);
            }
            Frame::Offline(peer) => self.node.peers.mark_offline(&self.source, &peer, now),
            Frame::Punch(peer, addrs) => self.punch(peer, addrs),
            Frame::Challenge { .. } | Frame::AuthOk { .. } | Frame::SnapshotEnd => {}
        }
    }

    fn punch(&self, peer: libp2p::PeerId, addrs: Vec<Multiaddr>) {
        let Ok(permit) = self.punches.clone().try_acquire_owned() else {
            tracing::debug!(hub = %self.url, %peer, "punch hint dropped: dials busy");
            return;
        };
        if addrs.is_empty() {
            return;
        }
        let node = self.node.clone();
        self.tracker.spawn(async move {
            let _permit = permit;
            if let Err(error) = node.net.dial(peer, addrs, PUNCH_TIMEOUT).await {
                tracing::debug!(%peer, %error, "punch dial failed");
            }
        });
    }

    /// Re-reads `GET /api/v1/membership` and takes its state (signed hubs). Returns whether
    /// presence is granted.
    pub(crate) async fn refresh_membership(&self) -> Option<bool> {
        if self.kind() != Some(HubKind::Signed) {
            return None;
        }
        match discovery::read_membership(&self.client).await {
            Ok(m) => {
                let reservations_any = self.reservations_any();
                self.set(|v| {
                    v.membership = Some(m.state.clone());
                    v.tier.clone_from(&m.tier);
                    v.relay_allowed = reservations_any || m.entitlements.relay;
                    v.relay_entitled = m.entitlements.relay;
                });
                self.store_membership(&m.state, m.tier.as_deref()).await;
                Some(m.entitlements.presence)
            }
            Err(HubCallError::Refused(code)) => {
                let state = refusal_state(&code);
                let reservations_any = self.reservations_any();
                self.set(|v| {
                    v.membership = Some(state.to_owned());
                    v.presence_allowed = false;
                    v.relay_allowed = reservations_any;
                    v.relay_entitled = false;
                });
                self.store_membership(state, None).await;
                Some(false)
            }
            Err(error) => {
                tracing::debug!(hub = %self.url, %error, "membership read failed");
                None
            }
        }
    }

    /// Records the membership in `_memberships` (a failure is logged).
    async fn store_membership(&self, state: &str, tier: Option<&str>) {
        let hub_id = self
            .client
            .hub_id()
            .map(|id| id.to_string())
            .unwrap_or_default();
        let now = self.node.clock.now_ms();
        let stored = self
            .node
            .store
            .set_membership(&self.url, &hub_id, state, tier, now);
        if let Err(error) = stored.await {
            tracing::warn!(hub = %self.url, %error, "membership not stored");
        }
    }

    fn reservations_any(&self) -> bool {
        *self.reservations.lock().unwrap_or_else(|e| e.into_inner()) == Admission::Any
    }
}

/// The membership state a refusal code stands for until the hub answers a re-read (peer.md §3.6).
pub(crate) fn refusal_state(code: &str) -> &'static str {
    match code {
        "membership_pending" => "pending_approval",
        "membership_lapsed" => "lapsed",
        "banned" => "banned",
        _ => "none",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reconnect_backoff_doubles_to_30_s_with_jitter_and_resets() {
        let mut backoff = Backoff::reconnect();
        let delays: Vec<Duration> = (0..10).map(|_| backoff.next_delay()).collect();
        assert!(delays[0] >= Duration::from_millis(200) && delays[0] <= Duration::from_millis(300));
        assert!(delays[1] >= Duration::from_millis(400) && delays[1] <= Duration::from_millis(600));
        assert!(delays[9] >= Duration::from_secs(24) && delays[9] <= Duration::from_secs(36));
        backoff.reset();
        assert!(backoff.next_delay() <= Duration::from_millis(300));
    }
}
