//! Presence gossip on `goop.presence.v1` (peer.md §6): we publish our `online` once a listen
//! address exists, an `update` every `heartbeat_secs` and on change, and `offline` at shutdown;
//! what others publish feeds the peer table with source `gossip` after the checks of §6 and §14.

use std::sync::Arc;
use std::time::Duration;

use libp2p::PeerId;
use shared::presence::{Class, InvalidField, MsgType, PresenceMsg};
use shared::server::Tasks;
use tokio::sync::broadcast;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::node::Node;
use crate::p2p::{NetEvent, PRESENCE_TOPIC};
use crate::peers::{PeerTable, Source};

/// Largest presence payload sent or accepted (peer.md §6).
pub const MAX_PAYLOAD: usize = 16 * 1024;
/// At most one change-triggered `update` per this (peer.md §3.3).
const CHANGE_INTERVAL: Duration = Duration::from_secs(1);
/// The `offline` at shutdown gives up after this.
const OFFLINE_TIMEOUT: Duration = Duration::from_secs(1);

/// Why a gossip message was dropped (peer.md §14 "presence (gossip)").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DropReason {
    /// Larger than [`MAX_PAYLOAD`].
    #[error("payload of {0} bytes is over the limit")]
    Oversize(usize),
    /// Not a valid presence message.
    #[error("invalid presence: {0}")]
    Invalid(#[from] InvalidField),
    /// The signed source is not the `peerId` of the message.
    #[error("presence of another peer than the signed source")]
    ForgedSource,
    /// Our own presence, relayed back.
    #[error("own presence")]
    Own,
    /// A type gossip does not carry (`punch`; the parser already refuses it from clients).
    #[error("type not carried by gossip")]
    UnexpectedType,
}

/// Checks one gossip payload from the signed `source` and applies it to `peers` with source
/// `gossip` (never verified).
///
/// # Errors
/// [`DropReason`]; nothing changed.
pub fn accept(
    peers: &PeerTable,
    me: &PeerId,
    source: PeerId,
    data: &[u8],
    now: i64,
) -> Result<(), DropReason> {
    if data.len() > MAX_PAYLOAD {
        return Err(DropReason::Oversize(data.len()));
    }
    let msg = PresenceMsg::parse(data, now, None)?;
    let claimed = msg.peer_id.peer_id();
    if claimed != source {
        return Err(DropReason::ForgedSource);
    }
    if claimed == *me {
        return Err(DropReason::Own);
    }
    match msg.kind {
        MsgType::Online | MsgType::Update => peers.upsert(Source::Gossip, &msg, false, now),
        MsgType::Offline => peers.mark_offline(&Source::Gossip, &claimed, now),
        MsgType::Punch => return Err(DropReason::UnexpectedType),
    }
    Ok(())
}

/// `msg` as gossip carries it: without `publicKey` (a PresenceMsg has no verification token
/// field); `None` over [`MAX_PAYLOAD`].
pub fn encode(mut msg: PresenceMsg) -> Option<Vec<u8>> {
    msg.public_key.clear();
    let json = msg.to_json(msg.kind, Class::Admin);
    if json.len() > MAX_PAYLOAD {
        tracing::warn!(
            bytes = json.len(),
            "own presence over the gossip limit; not sent"
        );
        return None;
    }
    Some(json.into_bytes())
}

/// Starts publishing and receiving, unless `presence.gossip` is off.
pub(crate) fn spawn(node: &Arc<Node>, tasks: &Tasks) {
    if !node.config.presence.gossip {
        return;
    }
    // Subscribed here, before anything can be missed.
    let received = node.net.subscribe();
    let watched = node.net.subscribe();
    tasks.spawn_infallible(
        "gossip receiver",
        receive(node.clone(), received, tasks.token().child_token()),
    );
    tasks.spawn_infallible(
        "gossip publisher",
        publish(node.clone(), watched, tasks.token().child_token()),
    );
}

async fn receive(
    node: Arc<Node>,
    mut events: broadcast::Receiver<NetEvent>,
    token: CancellationToken,
) {
    loop {
        let event = tokio::select! {
            () = token.cancelled() => return,
            event = events.recv() => event,
        };
        match event {
            Ok(NetEvent::Gossip {
                source,
                topic,
                data,
            }) if topic == PRESENCE_TOPIC => {
                let now = node.clock.now_ms();
                if let Err(reason) = accept(&node.peers, &node.peer_id, source, &data, now) {
                    tracing::debug!(%source, %reason, "presence gossip dropped");
                }
            }
            Ok(_) => {}
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                tracing::warn!(missed, "presence gossip receiver fell behind");
            }
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}

/// What the publisher has sent so far.
#[derive(Debug, Default)]
struct Published {
    /// An `online` went out: later messages are `update`s, and shutdown sends `offline`.
    online: bool,
    /// Fingerprint of the last message sent.
    fingerprint: Option<u64>,
    /// When the last message went out.
    at: Option<Instant>,
}

async fn publish(
    node: Arc<Node>,
    mut events: broadcast::Receiver<NetEvent>,
    token: CancellationToken,
) {
    let heartbeat = Duration::from_secs(node.config.presence.heartbeat_secs);
    let mut tick = tokio::time::interval(heartbeat);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut state = Published::default();
    let mut change_pending = false;
    loop {
        let change_due = state
            .at
            .map_or_else(Instant::now, |at| at + CHANGE_INTERVAL);
        tokio::select! {
            () = token.cancelled() => break,
            _ = tick.tick() => publish_once(&node, &mut state, true).await,
            () = tokio::time::sleep_until(change_due), if change_pending => {
                change_pending = false;
                publish_once(&node, &mut state, false).await;
            }
            event = events.recv() => match event {
                Ok(
                    NetEvent::NewListenAddr { .. }
                    | NetEvent::ExpiredListenAddr { .. }
                    | NetEvent::ListenerClosed { .. }
                    | NetEvent::ReservationAccepted { .. },
                )
                | Err(broadcast::error::RecvError::Lagged(_)) => change_pending = true,
                Ok(_) => {}
                Err(broadcast::error::RecvError::Closed) => break,
            },
        }
    }
    if state.online {
        say_offline(&node).await;
    }
}

/// Publishes `online` (until one went out) or `update`: on the heartbeat always, otherwise only
/// when the message changed. Nothing before we have a listen address.
async fn publish_once(node: &Node, state: &mut Published, heartbeat: bool) {
    let listening = node
        .net
        .status()
        .await
        .is_ok_and(|s| !s.listen_addrs.is_empty());
    if !listening {
        return;
    }
    let kind = if state.online {
        MsgType::Update
    } else {
        MsgType::Online
    };
    let msg = crate::presence::own_message(node, kind, false).await;
    let fingerprint = msg.fingerprint();
    if !heartbeat && state.fingerprint == Some(fingerprint) {
        return;
    }
    let Some(payload) = encode(msg) else {
        return;
    };
    state.at = Some(Instant::now());
    match node.net.publish(PRESENCE_TOPIC, payload).await {
        Ok(()) => {
            if !state.online {
                tracing::info!("presence gossip: online published");
            }
            state.online = true;
            state.fingerprint = Some(fingerprint);
        }
        // No gossip peer yet is the normal case for a lone peer.
        Err(error) => tracing::debug!(%error, ?kind, "presence gossip not published"),
    }
}

/// Publishes `offline`, bounded by [`OFFLINE_TIMEOUT`]; the libp2p loop drains briefly after
/// cancellation so it still reaches the wire.
async fn say_offline(node: &Node) {
    let send = async {
        let payload = encode(crate::presence::own_message(node, MsgType::Offline, false).await)?;
        node.net.publish(PRESENCE_TOPIC, payload).await.ok()
    };
    match tokio::time::timeout(OFFLINE_TIMEOUT, send).await {
        Ok(Some(())) => tracing::debug!("presence gossip: offline published"),
        _ => tracing::debug!("presence gossip: offline not published"),
    }
}

#[cfg(test)]
mod tests;
