//! The event loop: the only owner of the `Swarm`. It answers [`Command`]s, keeps the relay metrics
//! and refuses address confirmations it did not configure, until cancelled.

use std::collections::{HashMap, HashSet};

use futures::StreamExt as _;
use libp2p::metrics::Recorder as _;
use libp2p::swarm::SwarmEvent;
use libp2p::{Multiaddr, PeerId, Swarm, relay, request_response};
use shared::ids::Ed25519PeerId;
use shared::voucher;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::behaviour::{Refusals, VoucherResponse};
use super::{Behaviour, BehaviourEvent, Command, NetworkStatus};
use crate::entitlements::Entitlements;
use crate::metrics::{Metrics, ReasonLabel, TierLabel};

/// Owns the swarm; run it with [`EventLoop::run`].
pub(crate) struct EventLoop {
    pub(super) swarm: Swarm<Behaviour>,
    pub(super) command_rx: mpsc::Receiver<Command>,
    pub(super) libp2p_metrics: libp2p::metrics::Metrics,
    pub(super) metrics: Metrics,
    pub(super) entitlements: Entitlements,
    pub(super) refusals: Refusals,
    /// Reservations held per peer and the tier they were counted under. Only accepted
    /// reservations are counted, so close events of peers that never reserved change nothing.
    pub(super) reservations: HashMap<PeerId, (usize, &'static str)>,
    /// `p2p.external_addrs`: the only addresses the hub may hold as external.
    pub(super) external: HashSet<Multiaddr>,
    /// This hub and `relay.trusted_voucher_issuers`.
    pub(super) voucher_issuers: Vec<Ed25519PeerId>,
}

impl std::fmt::Debug for EventLoop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventLoop")
            .field("peer_id", self.swarm.local_peer_id())
            .finish_non_exhaustive()
    }
}

impl EventLoop {
    /// Runs until `token` is cancelled or every handle is gone.
    pub(crate) async fn run(mut self, token: CancellationToken) {
        loop {
            tokio::select! {
                () = token.cancelled() => break,
                event = self.swarm.select_next_some() => self.handle_event(event),
                command = self.command_rx.recv() => match command {
                    Some(command) => self.handle_command(command),
                    None => break,
                },
            }
        }
        tracing::debug!("libp2p event loop stopped");
    }

    fn handle_event(&mut self, event: SwarmEvent<BehaviourEvent>) {
        self.libp2p_metrics.record(&event);
        match event {
            SwarmEvent::Behaviour(BehaviourEvent::Identify(event)) => {
                self.libp2p_metrics.record(&event)
            }
            SwarmEvent::Behaviour(BehaviourEvent::Ping(event)) => {
                self.libp2p_metrics.record(&event)
            }
            SwarmEvent::Behaviour(BehaviourEvent::Relay(event)) => {
                self.libp2p_metrics.record(&event);
                self.on_relay_event(event);
            }
            SwarmEvent::Behaviour(BehaviourEvent::Voucher(request_response::Event::Message {
                peer,
                message:
                    request_response::Message::Request {
                        request, channel, ..
                    },
                ..
            })) => {
                let response = self.check_voucher(peer, &request.voucher);
                let _ = self
                    .swarm
                    .behaviour_mut()
                    .voucher
                    .send_response(channel, response);
            }
            SwarmEvent::ExternalAddrConfirmed { address } if !self.external.contains(&address) => {
                // Remotes must not be able to make the hub advertise an address (hub.md §4.1 rule 2).
                tracing::debug!(%address, "dropping an external address the config does not list");
                self.swarm.remove_external_address(&address);
            }
            SwarmEvent::ListenerError { error, .. } => {
                tracing::warn!(%error, "libp2p listener error");
            }
            _ => {}
        }
    }

    fn on_relay_event(&mut self, event: relay::Event) {
        match event {
            relay::Event::ReservationReqAccepted {
                src_peer_id,
                renewed: false,
            } => {
                let tier = self.entitlements.relay_tier(&src_peer_id);
                let entry = self.reservations.entry(src_peer_id).or_insert((0, tier));
                entry.0 += 1;
                self.metrics
                    .relay_reservations
                    .get_or_create(&TierLabel { tier: entry.1 })
                    .inc();
            }
            relay::Event::ReservationClosed { src_peer_id }
            | relay::Event::ReservationTimedOut { src_peer_id } => {
                if let Some(entry) = self.reservations.get_mut(&src_peer_id) {
                    entry.0 -= 1;
                    self.metrics
                        .relay_reservations
                        .get_or_create(&TierLabel { tier: entry.1 })
                        .dec();
                    if entry.0 == 0 {
                        self.reservations.remove(&src_peer_id);
                    }
                }
            }
            relay::Event::ReservationReqDenied { src_peer_id, .. } => {
                let reason = if self.take_refusal(&src_peer_id) {
                    "not_member"
                } else {
                    "limit"
                };
                self.deny(reason);
            }
            relay::Event::CircuitReqDenied {
                src_peer_id,
                status,
                ..
            } => {
                let reason = if self.take_refusal(&src_peer_id) {
                    "source_not_allowed"
                } else if matches!(status, relay::StatusCode::NoReservation) {
                    "no_reservation"
                } else {
                    "limit"
                };
                self.deny(reason);
            }
            relay::Event::CircuitReqAccepted { .. } => {
                self.metrics.relay_circuits.inc();
            }
            relay::Event::CircuitClosed { .. } => {
                self.metrics.relay_circuits.dec();
            }
            _ => {}
        }
    }

    /// A voucher presented over `/goop/hub/voucher/1.0.0` (hub.md §4.5): accepted ones admit the
    /// peer as a circuit source until the voucher expires. This hub's own vouchers also need the
    /// holder's current entitlement (§7.3); a holder that lost it hears `revoked`.
    fn check_voucher(&self, peer: PeerId, token: &str) -> VoucherResponse {
        let refuse = |code: &str| VoucherResponse {
            ok: false,
            tier: None,
            expires_at: None,
            error: Some(code.to_owned()),
        };
        let Ok(subject) = Ed25519PeerId::try_from(peer) else {
            return refuse("wrong_subject");
        };
        let expected = voucher::Expected {
            subject: Some(&subject),
            issuers: &self.voucher_issuers,
            ..voucher::Expected::default()
        };
        match voucher::verify(token, &expected) {
            Err(error) => refuse(&error.to_string()),
            Ok(claims)
                if self.is_own(&claims.iss)
                    && (self.entitlements.is_revoked(&peer, claims.iat)
                        || !self.entitlements.rights(&peer).relay) =>
            {
                refuse("revoked")
            }
            Ok(claims) if !matches!(claims.tier.as_str(), "member" | "paid" | "comped") => {
                refuse("guest_tier")
            }
            Ok(claims) => {
                self.entitlements.admit_voucher(peer, claims.exp);
                VoucherResponse {
                    ok: true,
                    expires_at: Some(
                        i64::try_from(claims.exp.saturating_mul(1000)).unwrap_or(i64::MAX),
                    ),
                    tier: Some(claims.tier),
                    error: None,
                }
            }
        }
    }

    /// Whether `issuer` is this hub (the first of the voucher issuers).
    fn is_own(&self, issuer: &str) -> bool {
        self.voucher_issuers
            .first()
            .is_some_and(|hub| hub.to_string() == issuer)
    }

    fn take_refusal(&self, peer: &PeerId) -> bool {
        self.refusals
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(peer)
    }

    fn deny(&self, reason: &'static str) {
        self.metrics
            .relay_denied
            .get_or_create(&ReasonLabel { reason })
            .inc();
    }

    fn handle_command(&mut self, command: Command) {
        match command {
            Command::Status { reply } => {
                let status = NetworkStatus {
                    listen_addrs: self.swarm.listeners().cloned().collect(),
                };
                let _ = reply.send(status);
            }
            Command::IsConnected { peer, reply } => {
                let _ = reply.send(self.swarm.is_connected(&peer));
            }
            Command::Disconnect {
                peer,
                reason,
                reply,
            } => {
                // Its rendezvous registration goes too (hub.md §4.4 rule 3).
                if let Some(rendezvous) = self.swarm.behaviour_mut().rendezvous.as_mut() {
                    rendezvous.drop_peer(&peer);
                }
                let connected = self.swarm.disconnect_peer_id(peer).is_ok();
                if connected {
                    self.metrics
                        .relay_revocations
                        .get_or_create(&ReasonLabel { reason })
                        .inc();
                    tracing::info!(%peer, reason, "disconnected a peer whose entitlement ended");
                }
                let _ = reply.send(connected);
            }
        }
    }
}
