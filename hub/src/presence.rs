//! Presence (hub.md §5): the live map of who is online, the subscribers (WebSocket sessions and
//! SSE streams), and the fan-out between them. Unchanged heartbeats cost nothing; a change costs
//! one frame per subscriber, serialized once per visibility class; a slow subscriber is closed,
//! never waited for.

mod slots;
mod state;

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use libp2p::PeerId;
use tokio::sync::{mpsc, watch};

pub(crate) use shared::presence::{Class, MsgType, PresenceMsg};
pub(crate) use slots::WsSlot;
use state::State;

use crate::config::PresenceConfig;
use crate::metrics::{Metrics, SubscriberLabels};
use crate::utc::now_ms;

/// How long unsigned input may not change a PeerId after it was seen signed (hub.md §5.2 rule 2).
const SIGNATURE_LOCK: Duration = Duration::from_secs(600);

/// One serialized JSON frame, shared by every subscriber of a class: cloning is a reference
/// count, and WebSocket sessions send it without copying.
pub(crate) type Frame = axum::extract::ws::Utf8Bytes;

/// Why a subscriber is being closed: WebSocket close code and reason; SSE streams just end.
pub(crate) type CloseReason = (u16, &'static str);

/// A subscriber whose queue overflowed or whose writes stalled.
const SLOW_CONSUMER: CloseReason = (4008, "slow-consumer");

/// How a subscriber is connected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Transport {
    /// `GET /ws`.
    Ws,
    /// `GET /events`.
    Sse,
}

impl Transport {
    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::Ws => "ws",
            Self::Sse => "sse",
        }
    }
}

/// What a new subscriber asks for.
#[derive(Debug, Clone)]
pub(crate) struct SubscribeRequest {
    pub(crate) transport: Transport,
    pub(crate) class: Class,
    /// WS v1 and SSE without `v=2`: the hub re-sends live peers periodically.
    pub(crate) legacy: bool,
    /// The peer this subscriber speaks for: a WS session's PeerId, or the identity an SSE stream
    /// authenticated with (for revocation).
    pub(crate) identity: Option<PeerId>,
    /// Whether this is a WS session of `identity` (a publisher; replaces older sessions).
    pub(crate) session: bool,
    pub(crate) ip: IpAddr,
}

impl SubscribeRequest {
    /// The `hub_presence_subscribers` labels of this subscription.
    pub(crate) fn labels(&self) -> SubscriberLabels {
        let class = match self.class {
            Class::Admin => "admin",
            Class::Participant => "participant",
            Class::Public => "public",
        };
        SubscriberLabels {
            transport: self.transport.label(),
            class,
        }
    }
}

/// A live peer as the admin presence list shows it (hub.md §9).
#[derive(Debug, Clone)]
pub(crate) struct LivePeer {
    pub(crate) peer_id: PeerId,
    /// The `email` of its messages (admin class only).
    pub(crate) email: String,
    /// Seen signed within the signature lock (hub.md §5.2 rule 2).
    pub(crate) signed: bool,
    /// `ws`/`sse` of the subscribers speaking for it; empty when it only publishes over HTTP.
    pub(crate) transports: Vec<&'static str>,
    /// Last message or heartbeat (unix ms).
    pub(crate) last_seen: i64,
    pub(crate) addrs: Vec<String>,
}

/// Why a subscription was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SubscribeError {
    /// Per-IP or total limit reached (429).
    TooMany,
    /// The hub is shutting down (503).
    ShuttingDown,
}

/// Why a publish was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PublishError {
    /// Unsigned input for a signature-locked PeerId.
    SignatureRequired,
    /// The live map is full.
    Full,
}

/// A live subscription; dropping it unsubscribes (and may take its peer offline).
#[derive(Debug)]
pub(crate) struct Subscription {
    pub(crate) id: u64,
    /// Frames of every visible live peer, to send before anything from `rx`.
    pub(crate) snapshot: Vec<Frame>,
    pub(crate) rx: mpsc::Receiver<Frame>,
    /// Set once when the hub closes this subscriber.
    pub(crate) closed: watch::Receiver<Option<CloseReason>>,
    /// Frames taken from `rx` through [`Subscription::next_frame`] (the write deadline's progress).
    taken: Arc<AtomicU64>,
    presence: Presence,
}

impl Subscription {
    /// The next queued frame for a stream that ends when the hub drops it: `None` at once once it
    /// was closed as a slow consumer (overflow or write deadline, hub.md §5.5), otherwise after the
    /// queue drained (e.g. the `offline`s of a shutdown).
    pub(crate) async fn next_frame(&mut self) -> Option<Frame> {
        if *self.closed.borrow() == Some(SLOW_CONSUMER) {
            return None;
        }
        let frame = self.rx.recv().await?;
        self.taken.fetch_add(1, Ordering::Relaxed);
        Some(frame)
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.presence.unsubscribe(self.id);
    }
}

/// Cheap-to-clone handle on the presence state.
#[derive(Debug, Clone)]
pub(crate) struct Presence {
    state: Arc<Mutex<State>>,
    config: Arc<PresenceConfig>,
    metrics: Metrics,
}

impl Presence {
    pub(crate) fn new(config: PresenceConfig, metrics: Metrics) -> Self {
        Self {
            state: Arc::new(Mutex::new(State::default())),
            config: Arc::new(config),
            metrics,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Applies one accepted message (hub.md §5.7).
    pub(crate) fn publish(
        &self,
        msg: PresenceMsg,
        signed: bool,
        now: Instant,
    ) -> Result<(), PublishError> {
        let peer = msg.peer_id.peer_id();
        let mut state = self.lock();
        if signed {
            state.locks.insert(peer, now + SIGNATURE_LOCK);
        } else if state.is_locked(&peer, now) {
            self.count_message(msg.kind, "rejected");
            return Err(PublishError::SignatureRequired);
        }
        let outcome = state.apply(msg, now, &self.config, &self.metrics)?;
        self.count_message(outcome.0, outcome.1);
        Ok(())
    }

    fn count_message(&self, kind: MsgType, outcome: &'static str) {
        self.metrics
            .presence_messages
            .get_or_create(&crate::metrics::MessageLabels {
                r#type: kind_label(kind),
                outcome,
            })
            .inc();
    }

    /// Registers a subscriber and returns its snapshot and queue.
    pub(crate) fn subscribe(
        &self,
        request: SubscribeRequest,
    ) -> Result<Subscription, SubscribeError> {
        let queue = match request.transport {
            Transport::Ws => self.config.ws_queue,
            Transport::Sse => self.config.sse_queue,
        };
        let (tx, rx) = mpsc::channel(queue);
        let (close_tx, closed) = watch::channel(None);
        let taken = Arc::new(AtomicU64::new(0));
        let (id, snapshot) = self.lock().subscribe(
            request,
            tx,
            close_tx,
            taken.clone(),
            &self.config,
            &self.metrics,
        )?;
        Ok(Subscription {
            id,
            snapshot,
            rx,
            closed,
            taken,
            presence: self.clone(),
        })
    }

    fn unsubscribe(&self, id: u64) {
        self.lock().unsubscribe(id, &self.metrics);
    }

    /// The `publicKey` a live peer announced, if any.
    pub(crate) fn public_key(&self, peer: &PeerId) -> Option<String> {
        let state = self.lock();
        let key = &state.live.get(peer)?.msg.public_key;
        (!key.is_empty()).then(|| key.clone())
    }

    /// Whether `peer` is live.
    pub(crate) fn is_live(&self, peer: &PeerId) -> bool {
        self.lock().live.contains_key(peer)
    }

    /// Every live peer, for the admin presence list.
    pub(crate) fn live_peers(&self) -> Vec<LivePeer> {
        self.lock().live_peers(Instant::now(), now_ms())
    }

    /// How many peers are live.
    pub(crate) fn live_count(&self) -> usize {
        self.lock().live.len()
    }

    /// Open subscribers: (WebSocket, SSE).
    pub(crate) fn subscriber_counts(&self) -> (usize, usize) {
        let state = self.lock();
        (
            state.subscriber_count(Transport::Ws),
            state.subscriber_count(Transport::Sse),
        )
    }

    /// Whether unsigned input may not touch `peer` (hub.md §5.2 rule 2).
    pub(crate) fn is_locked(&self, peer: &PeerId, now: Instant) -> bool {
        self.lock().is_locked(peer, now)
    }

    /// Marks `peer` as seen in a signed request or v2 session.
    pub(crate) fn lock_signature(&self, peer: PeerId, now: Instant) {
        self.lock().locks.insert(peer, now + SIGNATURE_LOCK);
    }

    /// Removes peers whose TTL passed without an open session and fans out `offline`; ends SSE
    /// streams past their write deadline.
    pub(crate) fn sweep(&self, now: Instant) {
        let ttl = self.config.peer_ttl;
        let mut state = self.lock();
        state.sweep(now, ttl, &self.metrics);
        state.end_stalled(now, self.config.sse_write_timeout, &self.metrics);
    }

    /// Re-sends one slice of the live peers as `update` to legacy subscribers; called once per
    /// second, so that every peer is refreshed once per `legacy_refresh_secs`.
    pub(crate) fn refresh_legacy(&self, tick: u64) {
        let interval = self.config.legacy_refresh.as_secs();
        if interval > 0 {
            self.lock()
                .refresh_legacy(tick % interval, interval, &self.metrics);
        }
    }

    /// Takes `peer` offline at once and closes its sessions and streams (revocation, §5.8).
    pub(crate) fn revoke(&self, peer: &PeerId, reason: &'static str) {
        self.lock().revoke(peer, (4003, reason), &self.metrics);
    }

    /// Fans out `offline` for every live peer, then closes every subscriber with 1001.
    pub(crate) fn shutdown(&self) {
        self.lock().shutdown(&self.metrics);
    }
}

/// The `type` label of a message kind.
pub(crate) fn kind_label(kind: MsgType) -> &'static str {
    match kind {
        MsgType::Online => "online",
        MsgType::Update => "update",
        MsgType::Offline => "offline",
        MsgType::Punch => "punch",
    }
}

#[cfg(test)]
mod tests;
