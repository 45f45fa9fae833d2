//! The state behind [`super::Presence`]: live peers, subscribers, signature locks and punch
//! cooldowns, and the fan-out over them. Every method runs under the presence lock and never
//! waits: queues are written with `try_send`, a full queue closes its subscriber.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use libp2p::PeerId;
use shared::rate_limit::{KeyedCount, ip_key};
use tokio::sync::{mpsc, watch};

use super::slots::Slots;
use super::{
    Class, CloseReason, Frame, MsgType, PresenceMsg, PublishError, SubscribeError,
    SubscribeRequest, Transport, now_ms,
};
use crate::config::PresenceConfig;
use crate::metrics::{FrameLabels, Metrics, TransportLabel};

/// One live peer (hub.md §5.7).
#[derive(Debug)]
pub(super) struct Live {
    pub(super) msg: PresenceMsg,
    fingerprint: u64,
    last_seen: Instant,
    addrs: Vec<String>,
}

#[derive(Debug)]
struct Subscriber {
    request: SubscribeRequest,
    tx: mpsc::Sender<Frame>,
    close: watch::Sender<Option<CloseReason>>,
    /// Frames its transport took from the queue so far (counted by the SSE stream).
    taken: Arc<AtomicU64>,
    /// `taken` as last seen, and when the queue last was empty or moved (the write deadline).
    progress: (u64, Instant),
}

/// A message serialized at most once per class.
struct Frames<'a> {
    msg: &'a PresenceMsg,
    kind: MsgType,
    cache: [Option<Frame>; 3],
}

impl<'a> Frames<'a> {
    fn new(msg: &'a PresenceMsg, kind: MsgType) -> Self {
        Self {
            msg,
            kind,
            cache: [None, None, None],
        }
    }

    fn get(&mut self, class: Class) -> Frame {
        let slot = match class {
            Class::Admin => 0,
            Class::Participant => 1,
            Class::Public => 2,
        };
        self.cache[slot]
            .get_or_insert_with(|| Frame::from(self.msg.to_json(self.kind, class)))
            .clone()
    }
}

#[derive(Debug, Default)]
pub(super) struct State {
    pub(super) live: HashMap<PeerId, Live>,
    subscribers: HashMap<u64, Subscriber>,
    /// WS sessions per peer, newest last.
    sessions: HashMap<PeerId, Vec<u64>>,
    /// SSE streams per client address ([`ip_key`]); WebSockets are counted by the slots.
    sse_per_ip: KeyedCount<IpAddr>,
    per_transport: HashMap<Transport, usize>,
    pub(super) locks: HashMap<PeerId, Instant>,
    punched: HashMap<(PeerId, PeerId), Instant>,
    /// WebSocket slots, taken before the upgrade (hub.md §5.4).
    pub(super) slots: Slots,
    next_id: u64,
    shutting_down: bool,
}

impl State {
    pub(super) fn is_locked(&self, peer: &PeerId, now: Instant) -> bool {
        self.locks.get(peer).is_some_and(|until| *until > now)
    }

    /// hub.md §5.7 steps 1–4; returns the counted type and outcome.
    pub(super) fn apply(
        &mut self,
        msg: PresenceMsg,
        now: Instant,
        config: &PresenceConfig,
        metrics: &Metrics,
    ) -> Result<(MsgType, &'static str), PublishError> {
        let peer = msg.peer_id.peer_id();
        if msg.kind == MsgType::Offline {
            let was_live = self.take_offline(&peer, metrics);
            return Ok((
                MsgType::Offline,
                if was_live { "changed" } else { "unchanged" },
            ));
        }
        let fingerprint = msg.fingerprint();
        let addrs = sorted_set(&msg.addrs);
        let (kind, addrs_changed) = match self.live.get_mut(&peer) {
            None => {
                if self.live.len() >= config.max_peers {
                    return Err(PublishError::Full);
                }
                (MsgType::Online, !addrs.is_empty())
            }
            Some(live) if live.fingerprint == fingerprint => {
                live.last_seen = now;
                return Ok((msg.kind, "unchanged"));
            }
            Some(live) => (msg.kind, live.addrs != addrs),
        };
        let received = msg.kind;
        self.live.insert(
            peer,
            Live {
                msg,
                fingerprint,
                last_seen: now,
                addrs: addrs.clone(),
            },
        );
        metrics.presence_peers.set(self.live.len() as i64);
        let live = &self.live[&peer];
        let mut frames = Frames::new(&live.msg, kind);
        let dead = fan_out(&self.subscribers, &mut frames, metrics);
        self.close_slow(dead, metrics);
        if addrs_changed && !addrs.is_empty() && config.punch_hints {
            self.punch(peer, now, config, metrics);
        }
        Ok((received, "changed"))
    }

    /// Removes `peer` and fans out `offline`; returns whether it was live.
    fn take_offline(&mut self, peer: &PeerId, metrics: &Metrics) -> bool {
        let Some(live) = self.live.remove(peer) else {
            return false;
        };
        metrics.presence_peers.set(self.live.len() as i64);
        let offline = PresenceMsg::offline(live.msg.peer_id, now_ms());
        let mut frames = Frames::new(&offline, MsgType::Offline);
        let dead = fan_out(&self.subscribers, &mut frames, metrics);
        self.close_slow(dead, metrics);
        true
    }

    /// Open subscribers of `transport`.
    pub(super) fn subscriber_count(&self, transport: Transport) -> usize {
        self.per_transport.get(&transport).copied().unwrap_or(0)
    }

    /// The live peers with their subscribers' transports; `now`/`now_ms` date `last_seen`.
    pub(super) fn live_peers(&self, now: Instant, now_ms: i64) -> Vec<super::LivePeer> {
        let mut transports: HashMap<PeerId, Vec<&'static str>> = HashMap::new();
        for sub in self.subscribers.values() {
            if let Some(peer) = sub.request.identity {
                let list = transports.entry(peer).or_default();
                let label = sub.request.transport.label();
                if !list.contains(&label) {
                    list.push(label);
                }
            }
        }
        self.live
            .iter()
            .map(|(peer, live)| {
                let age = now.saturating_duration_since(live.last_seen).as_millis();
                super::LivePeer {
                    peer_id: *peer,
                    email: live.msg.email.clone(),
                    signed: self.is_locked(peer, now),
                    transports: transports.remove(peer).unwrap_or_default(),
                    last_seen: now_ms - i64::try_from(age).unwrap_or(i64::MAX),
                    addrs: live.msg.addrs.clone(),
                }
            })
            .collect()
    }

    /// Whether another SSE stream from `ip` fits the SSE caps. WebSockets hold a slot of
    /// `presence::Slots` from before their upgrade, which is what their caps count.
    fn has_sse_room(&self, ip: IpAddr, config: &PresenceConfig) -> bool {
        let ip_count = self.sse_per_ip.get(&ip_key(ip));
        let total_count = self
            .per_transport
            .get(&Transport::Sse)
            .copied()
            .unwrap_or(0);
        ip_count < config.sse_max_per_ip && total_count < config.sse_max_total
    }

    pub(super) fn subscribe(
        &mut self,
        request: SubscribeRequest,
        tx: mpsc::Sender<Frame>,
        close: watch::Sender<Option<CloseReason>>,
        taken: Arc<AtomicU64>,
        config: &PresenceConfig,
        metrics: &Metrics,
    ) -> Result<(u64, Vec<Frame>), SubscribeError> {
        if self.shutting_down {
            return Err(SubscribeError::ShuttingDown);
        }
        if request.transport == Transport::Sse && !self.has_sse_room(request.ip, config) {
            return Err(SubscribeError::TooMany);
        }
        self.next_id += 1;
        let id = self.next_id;
        if request.session
            && let Some(peer) = request.identity
        {
            // A new session replaces the old ones without taking the peer offline (hub.md §5.4).
            let old = self.sessions.insert(peer, vec![id]).unwrap_or_default();
            for old_id in old {
                if let Some(sub) = self.remove_subscriber(old_id, metrics) {
                    let _ = sub.close.send(Some((4000, "replaced")));
                }
            }
        }
        let snapshot = self
            .live
            .values()
            .map(|live| Frame::from(live.msg.to_json(MsgType::Online, request.class)))
            .collect::<Vec<_>>();
        if request.transport == Transport::Sse {
            self.sse_per_ip.add(ip_key(request.ip));
        }
        *self.per_transport.entry(request.transport).or_default() += 1;
        metrics
            .presence_subscribers
            .get_or_create(&request.labels())
            .inc();
        metrics
            .presence_frames
            .get_or_create(&FrameLabels {
                transport: request.transport.label(),
                kind: "snapshot",
            })
            .inc_by(snapshot.len() as u64);
        let subscriber = Subscriber {
            request,
            tx,
            close,
            taken,
            progress: (0, Instant::now()),
        };
        self.subscribers.insert(id, subscriber);
        Ok((id, snapshot))
    }

    fn remove_subscriber(&mut self, id: u64, metrics: &Metrics) -> Option<Subscriber> {
        let sub = self.subscribers.remove(&id)?;
        if sub.request.transport == Transport::Sse {
            self.sse_per_ip.remove_one(&ip_key(sub.request.ip));
        }
        if let Some(count) = self.per_transport.get_mut(&sub.request.transport) {
            *count = count.saturating_sub(1);
        }
        metrics
            .presence_subscribers
            .get_or_create(&sub.request.labels())
            .dec();
        Some(sub)
    }

    /// A subscriber went away. When it was the last session of its peer (and not replaced), the
    /// peer goes offline at once (hub.md §5.4, §5.8).
    pub(super) fn unsubscribe(&mut self, id: u64, metrics: &Metrics) {
        let Some(sub) = self.remove_subscriber(id, metrics) else {
            return;
        };
        self.end_session(&sub, id, metrics);
    }

    fn end_session(&mut self, sub: &Subscriber, id: u64, metrics: &Metrics) {
        if !sub.request.session {
            return;
        }
        let Some(peer) = sub.request.identity else {
            return;
        };
        let last = match self.sessions.get_mut(&peer) {
            Some(ids) => {
                ids.retain(|s| *s != id);
                ids.is_empty()
            }
            None => false,
        };
        if last {
            self.sessions.remove(&peer);
            self.take_offline(&peer, metrics);
        }
    }

    /// Closes subscribers whose queue overflowed or stalled (4008 `slow-consumer`).
    fn close_slow(&mut self, mut dead: Vec<u64>, metrics: &Metrics) {
        while let Some(id) = dead.pop() {
            let Some(sub) = self.remove_subscriber(id, metrics) else {
                continue;
            };
            metrics
                .presence_slow_consumers
                .get_or_create(&TransportLabel {
                    transport: sub.request.transport.label(),
                })
                .inc();
            let _ = sub.close.send(Some(super::SLOW_CONSUMER));
            if sub.request.session
                && let Some(peer) = sub.request.identity
                && self.sessions.get(&peer).is_some_and(|ids| ids == &[id])
            {
                self.sessions.remove(&peer);
                if let Some(live) = self.live.remove(&peer) {
                    metrics.presence_peers.set(self.live.len() as i64);
                    let offline = PresenceMsg::offline(live.msg.peer_id, now_ms());
                    let mut frames = Frames::new(&offline, MsgType::Offline);
                    dead.extend(fan_out(&self.subscribers, &mut frames, metrics));
                }
            }
        }
    }

    pub(super) fn sweep(&mut self, now: Instant, ttl: Duration, metrics: &Metrics) {
        let expired: Vec<PeerId> = self
            .live
            .iter()
            .filter(|(peer, live)| !self.sessions.contains_key(peer) && live.last_seen + ttl <= now)
            .map(|(peer, _)| *peer)
            .collect();
        for peer in expired {
            self.take_offline(&peer, metrics);
        }
        self.locks.retain(|_, until| *until > now);
        self.punched.retain(|_, until| *until > now);
    }

    /// Closes SSE streams whose queued events made no progress towards the client for `timeout`
    /// (a client that stopped reading: hub.md §5.5 write deadline) as slow consumers.
    pub(super) fn end_stalled(&mut self, now: Instant, timeout: Duration, metrics: &Metrics) {
        let mut dead = Vec::new();
        for (id, sub) in &mut self.subscribers {
            if sub.request.transport != Transport::Sse {
                continue;
            }
            let taken = sub.taken.load(Ordering::Relaxed);
            let queued = sub.tx.max_capacity() - sub.tx.capacity();
            if queued == 0 || taken != sub.progress.0 {
                sub.progress = (taken, now);
            } else if now.saturating_duration_since(sub.progress.1) >= timeout {
                dead.push(*id);
            }
        }
        self.close_slow(dead, metrics);
    }

    pub(super) fn refresh_legacy(&mut self, slot: u64, slots: u64, metrics: &Metrics) {
        if !self.subscribers.values().any(|s| s.request.legacy) {
            return;
        }
        let mut dead = Vec::new();
        for (peer, live) in &self.live {
            if slot_of(peer, slots) != slot {
                continue;
            }
            let mut frames = Frames::new(&live.msg, MsgType::Update);
            for (id, sub) in self.subscribers.iter().filter(|(_, s)| s.request.legacy) {
                if !send(sub, frames.get(sub.request.class), "refresh", metrics) {
                    dead.push(*id);
                }
            }
        }
        self.close_slow(dead, metrics);
    }

    pub(super) fn revoke(&mut self, peer: &PeerId, reason: CloseReason, metrics: &Metrics) {
        let ids: Vec<u64> = self
            .subscribers
            .iter()
            .filter(|(_, s)| s.request.identity.as_ref() == Some(peer))
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            if let Some(sub) = self.remove_subscriber(id, metrics) {
                let _ = sub.close.send(Some(reason));
            }
        }
        self.sessions.remove(peer);
        self.take_offline(peer, metrics);
    }

    pub(super) fn shutdown(&mut self, metrics: &Metrics) {
        self.shutting_down = true;
        let peers: Vec<PeerId> = self.live.keys().copied().collect();
        for peer in peers {
            self.take_offline(&peer, metrics);
        }
        let ids: Vec<u64> = self.subscribers.keys().copied().collect();
        for id in ids {
            if let Some(sub) = self.remove_subscriber(id, metrics) {
                let _ = sub.close.send(Some((1001, "shutdown")));
            }
        }
        self.sessions.clear();
    }

    /// Punch hints for `peer`, whose address set just changed (hub.md §5.9).
    fn punch(&mut self, peer: PeerId, now: Instant, config: &PresenceConfig, metrics: &Metrics) {
        let cooldown = config.punch_cooldown;
        let mut candidates: Vec<(&PeerId, &Live)> = self
            .live
            .iter()
            .filter(|(q, live)| {
                **q != peer && !live.addrs.is_empty() && self.sessions.contains_key(q)
            })
            .filter(|(q, _)| {
                self.punched
                    .get(&pair(peer, **q))
                    .is_none_or(|until| *until <= now)
            })
            .collect();
        candidates.sort_by_key(|(_, live)| std::cmp::Reverse(live.last_seen));
        candidates.truncate(config.punch_max_per_change);
        let me = &self.live[&peer];
        let targets: Vec<(PeerId, PresenceMsg, PresenceMsg)> = candidates
            .into_iter()
            .map(|(q, live)| {
                let to_q = PresenceMsg::punch(
                    me.msg.peer_id,
                    live.msg.peer_id,
                    me.msg.addrs.clone(),
                    now_ms(),
                );
                let to_p = PresenceMsg::punch(
                    live.msg.peer_id,
                    me.msg.peer_id,
                    live.msg.addrs.clone(),
                    now_ms(),
                );
                (*q, to_q, to_p)
            })
            .collect();
        let mut dead = Vec::new();
        for (q, to_q, to_p) in targets {
            self.punched.insert(pair(peer, q), now + cooldown);
            for (target, msg) in [(q, to_q), (peer, to_p)] {
                let mut frames = Frames::new(&msg, MsgType::Punch);
                for id in self.sessions.get(&target).into_iter().flatten() {
                    if let Some(sub) = self.subscribers.get(id)
                        && !send(sub, frames.get(Class::Participant), "punch", metrics)
                    {
                        dead.push(*id);
                    }
                }
            }
        }
        self.close_slow(dead, metrics);
    }
}

/// Sends `frames` to every subscriber; returns the ones whose queue is full.
fn fan_out(
    subscribers: &HashMap<u64, Subscriber>,
    frames: &mut Frames<'_>,
    metrics: &Metrics,
) -> Vec<u64> {
    let mut dead = Vec::new();
    let mut sent = [0u64; 2];
    for (id, sub) in subscribers {
        if sub.tx.try_send(frames.get(sub.request.class)).is_ok() {
            sent[usize::from(sub.request.transport == Transport::Sse)] += 1;
        } else {
            dead.push(*id);
        }
    }
    for (transport, count) in [(Transport::Ws, sent[0]), (Transport::Sse, sent[1])] {
        if count > 0 {
            metrics
                .presence_frames
                .get_or_create(&FrameLabels {
                    transport: transport.label(),
                    kind: "event",
                })
                .inc_by(count);
        }
    }
    dead
}

fn send(sub: &Subscriber, frame: Frame, kind: &'static str, metrics: &Metrics) -> bool {
    let ok = sub.tx.try_send(frame).is_ok();
    if ok {
        metrics
            .presence_frames
            .get_or_create(&FrameLabels {
                transport: sub.request.transport.label(),
                kind,
            })
            .inc();
    }
    ok
}

fn sorted_set(addrs: &[String]) -> Vec<String> {
    let set: HashSet<&String> = addrs.iter().collect();
    let mut out: Vec<String> = set.into_iter().cloned().collect();
    out.sort();
    out
}

fn pair(a: PeerId, b: PeerId) -> (PeerId, PeerId) {
    if a < b { (a, b) } else { (b, a) }
}

/// Which refresh slot a peer falls in, spreading peers evenly over the interval.
fn slot_of(peer: &PeerId, slots: u64) -> u64 {
    let bytes = peer.to_bytes();
    let tail = bytes[bytes.len().saturating_sub(8)..]
        .iter()
        .fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
    tail % slots
}
