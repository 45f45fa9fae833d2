//! One hub's reservation worker (peer.md §3.5 rules 2–6): dial the relay, listen on its
//! `/p2p-circuit` address only once connected, hold the reservation with a health check every
//! `refresh_interval`, recover a missing circuit address with the 0, 1, 3, 6 s → 5 min schedule,
//! and back off 30 s → 10 min after a refusal (`denied`). It stops when the manager cancels it
//! (hub removed, entitlement lost, relay changed) and then closes its listener and relay
//! connection; the manager sets the state that follows.

use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt as _;
use libp2p::core::transport::ListenerId;
use libp2p::multiaddr::Protocol;
use libp2p::{Multiaddr, PeerId};
use tokio::sync::{Notify, broadcast};
use tokio_util::sync::CancellationToken;

use super::wait::{Woke, denied_delay, recovery_delay, wait};
use crate::hub_url::HubUrl;
use crate::hubs::RelayInfo;
use crate::node::Node;
use crate::p2p::NetEvent;

/// How often the worker looks at the clock for its next health check.
const TICK: Duration = Duration::from_millis(250);

/// How an attempt or a held reservation ended.
#[derive(Debug)]
enum End {
    /// Reserved, with the circuit address.
    Reserved(Multiaddr),
    /// The relay refused the reservation.
    Refused(String),
    /// Connecting, listening or the relay connection failed.
    Failed(String),
    /// The circuit address is missing (health check, expiry, relay-refresh).
    Missing,
    /// The worker was stopped.
    Stopped,
}

struct Worker {
    node: Arc<Node>,
    url: HubUrl,
    info: RelayInfo,
    token: CancellationToken,
    recover: Arc<Notify>,
    events: broadcast::Receiver<NetEvent>,
    listener: Option<ListenerId>,
}

/// Runs the worker of `url` until `token` is cancelled.
pub(super) async fn run(
    node: Arc<Node>,
    url: HubUrl,
    info: RelayInfo,
    token: CancellationToken,
    recover: Arc<Notify>,
) {
    let events = node.net.subscribe();
    let mut worker = Worker {
        node,
        url,
        info,
        token,
        recover,
        events,
        listener: None,
    };
    worker.lifecycle().await;
    worker.release().await;
}

impl Worker {
    async fn lifecycle(&mut self) {
        let (mut failures, mut refusals) = (0u32, 0u32);
        let mut delay = Duration::ZERO;
        let mut refused = false;
        loop {
            // A relay-refresh request cuts a recovery wait short, never a refusal backoff.
            let recover = (!refused).then_some(&*self.recover);
            match wait(&self.node.clock, delay, &self.token, recover).await {
                Woke::Stopped => return,
                Woke::Elapsed | Woke::Recover => {}
            }
            let end = match self.attempt().await {
                End::Reserved(addr) => {
                    (failures, refusals) = (0, 0);
                    self.set_state("reserved", Some(addr), None);
                    self.hold().await
                }
                other => other,
            };
            refused = matches!(end, End::Refused(_));
            delay = match end {
                End::Stopped => return,
                End::Reserved(_) | End::Missing => {
                    if self.recovery_grace().await {
                        continue;
                    }
                    failures = 0;
                    Duration::ZERO
                }
                End::Failed(reason) => {
                    tracing::info!(hub = %self.url, relay = %self.info.peer_id, %reason, "relay reservation lost");
                    // After losing a held reservation, the first redial waits the grace.
                    let grace = if failures == 0 {
                        self.info.recovery_grace
                    } else {
                        Duration::ZERO
                    };
                    let delay = recovery_delay(failures).max(grace);
                    failures = failures.saturating_add(1);
                    self.set_state("recovering", None, Some(reason));
                    delay
                }
                End::Refused(reason) => {
                    let delay = denied_delay(refusals);
                    refusals = refusals.saturating_add(1);
                    tracing::info!(hub = %self.url, relay = %self.info.peer_id, %reason, retry_secs = delay.as_secs(), "relay reservation refused");
                    let detail = format!("{reason}; retry in {}s", delay.as_secs());
                    self.set_state("denied", None, Some(detail));
                    delay
                }
            };
            self.release().await;
            if !delay.is_zero() || self.info.cleanup_delay.is_zero() {
                continue;
            }
            // Rule 4: wait `cleanup_delay` between closing and redialling.
            if wait(&self.node.clock, self.info.cleanup_delay, &self.token, None).await
                == Woke::Stopped
            {
                return;
            }
        }
    }

    /// Rule 4: the circuit address is missing. Waits `recovery_grace`; true when it came back.
    async fn recovery_grace(&mut self) -> bool {
        self.set_state(
            "recovering",
            None,
            Some("circuit address missing".to_owned()),
        );
        if wait(
            &self.node.clock,
            self.info.recovery_grace,
            &self.token,
            None,
        )
        .await
            == Woke::Stopped
        {
            return false;
        }
        if let Some(addr) = self.circuit_present().await {
            self.set_state("reserved", Some(addr), None);
            return true;
        }
        false
    }

    /// Rules 2–3: dial the relay, then listen on its circuit address; waits up to
    /// `poll_deadline` for the reservation and the circuit address.
    async fn attempt(&mut self) -> End {
        let relay = self.info.peer_id;
        let Some(addr) = self.info.addrs.first().cloned() else {
            return End::Failed("the relay has no usable address".to_owned());
        };
        self.set_state("reserving", None, None);
        let dial = self
            .node
            .net
            .dial(relay, self.info.addrs.clone(), self.info.connect_timeout);
        tokio::select! {
            () = self.token.cancelled() => return End::Stopped,
            dialled = dial => if let Err(error) = dialled {
                return End::Failed(format!("connect: {error}"));
            },
        }
        self.events = self.events.resubscribe();
        let listener = match self
            .node
            .net
            .listen_on(addr.with(Protocol::P2pCircuit))
            .await
        {
            Ok(listener) => listener,
            Err(error) => return End::Failed(format!("listen: {error}")),
        };
        self.listener = Some(listener);
        let token = self.token.clone();
        let outcome =
            tokio::time::timeout(self.info.poll_deadline, self.await_reservation(listener));
        tokio::select! {
            () = token.cancelled() => End::Stopped,
            outcome = outcome => outcome.unwrap_or_else(|_| End::Failed("no reservation within the poll deadline".to_owned())),
        }
    }

    async fn await_reservation(&mut self, listener: ListenerId) -> End {
        let (mut accepted, mut circuit) = (false, None);
        loop {
            match self.events.recv().await {
                Ok(NetEvent::ReservationAccepted { relay, .. }) if relay == self.info.peer_id => {
                    accepted = true;
                }
                Ok(NetEvent::NewListenAddr { listener: l, addr }) if l == listener => {
                    circuit = Some(addr);
                }
                Ok(NetEvent::ListenerClosed { listener: l, error }) if l == listener => {
                    self.listener = None;
                    return closed(error);
                }
                Ok(_) => {}
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    if let Some(addr) = self.circuit_present().await {
                        circuit = Some(addr);
                        accepted = true;
                    }
                }
                Err(broadcast::error::RecvError::Closed) => return End::Stopped,
            }
            if accepted && let Some(addr) = circuit.take() {
                return End::Reserved(addr);
            }
        }
    }

    /// Holds the reservation until it ends: health check every `refresh_interval`, listener and
    /// relay connection watched, relay-refresh requests obeyed.
    async fn hold(&mut self) -> End {
        let relay = self.info.peer_id;
        let mut next_check = self.next_check();
        // A request that came while reserving is answered by the reservation itself.
        let _ = self.recover.notified().now_or_never();
        loop {
            let event = tokio::select! {
                () = self.token.cancelled() => return End::Stopped,
                () = self.recover.notified() => return End::Missing,
                () = tokio::time::sleep(TICK) => None,
                event = self.events.recv() => Some(event),
            };
            match event {
                None => {
                    if self.node.clock.now_ms() < next_check {
                        continue;
                    }
                    next_check = self.next_check();
                    if self.circuit_present().await.is_none() {
                        return End::Missing;
                    }
                }
                Some(Ok(NetEvent::ListenerClosed { listener, error }))
                    if Some(listener) == self.listener =>
                {
                    self.listener = None;
                    return closed(error);
                }
                Some(Ok(NetEvent::ConnectionClosed { peer, remaining: 0 })) if peer == relay => {
                    return End::Failed("relay connection lost".to_owned());
                }
                Some(Ok(NetEvent::ExpiredListenAddr { listener, .. }))
                    if Some(listener) == self.listener =>
                {
                    return End::Missing;
                }
                Some(Ok(NetEvent::NewListenAddr { listener, addr }))
                    if Some(listener) == self.listener =>
                {
                    self.set_state("reserved", Some(addr), None);
                }
                Some(Ok(NetEvent::ReservationAccepted {
                    relay: r,
                    renewal: true,
                })) if r == relay => {
                    tracing::debug!(hub = %self.url, %relay, "relay reservation renewed");
                }
                Some(Ok(_)) => {}
                Some(Err(broadcast::error::RecvError::Lagged(_))) => {
                    if self.circuit_present().await.is_none() {
                        return End::Missing;
                    }
                }
                Some(Err(broadcast::error::RecvError::Closed)) => return End::Stopped,
            }
        }
    }

    fn next_check(&self) -> i64 {
        let interval = i64::try_from(self.info.refresh_interval.as_millis()).unwrap_or(i64::MAX);
        self.node.clock.now_ms().saturating_add(interval)
    }

    /// Our circuit address through this relay, when the swarm still listens on it.
    async fn circuit_present(&self) -> Option<Multiaddr> {
        let status = self.node.net.status().await.ok()?;
        status
            .listen_addrs
            .into_iter()
            .find(|addr| is_circuit_via(addr, &self.info.peer_id))
    }

    /// Closes the listener and the relay connections (rule 4, and when stopped).
    async fn release(&mut self) {
        if let Some(listener) = self.listener.take() {
            let _ = self.node.net.remove_listener(listener).await;
        }
        let _ = self.node.net.disconnect(self.info.peer_id).await;
    }

    /// Publishes the relay state, unless the manager has stopped this worker (it then owns the
    /// state; the check runs under the registry lock, after the manager's cancel).
    fn set_state(&self, state: &str, circuit: Option<Multiaddr>, error: Option<String>) {
        let token = &self.token;
        self.node.hubs.update(&self.url, |view| {
            if token.is_cancelled() {
                return;
            }
            if view.relay_state != state {
                tracing::info!(hub = %view.url, relay = %self.info.peer_id, from = %view.relay_state, to = state, error = ?error, "relay state");
            }
            view.relay_state = state.to_owned();
            view.circuit_addr = circuit;
            view.relay_error = error;
        });
    }
}

/// How a relay listener's close ends the attempt or the held reservation (a renewal can be
/// refused too).
fn closed(error: Option<String>) -> End {
    match error {
        Some(error) if is_refusal(&error) => End::Refused(error),
        Some(error) => End::Failed(error),
        None => End::Failed("the relay listener closed".to_owned()),
    }
}

/// Whether a relay listener's close reason is a refused reservation (status
/// `RESERVATION_REFUSED`/`PERMISSION_DENIED`/`NO_RESERVATION` or `RESOURCE_LIMIT_EXCEEDED`), as
/// opposed to a broken connection.
fn is_refusal(error: &str) -> bool {
    error.contains("Reservation refused") || error.contains("resource limit exceeded")
}

/// Whether `addr` is a circuit address through `relay`: `…/p2p/<relay>/p2p-circuit…`.
fn is_circuit_via(addr: &Multiaddr, relay: &PeerId) -> bool {
    crate::dial::relay_of(addr) == Some(*relay)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn circuit_addresses_are_matched_by_their_relay() {
        let (relay, other, me) = (PeerId::random(), PeerId::random(), PeerId::random());
        let base: Multiaddr = "/ip4/127.0.0.1/tcp/4001".parse().unwrap();
        let via = |r: PeerId| {
            base.clone()
                .with(Protocol::P2p(r))
                .with(Protocol::P2pCircuit)
                .with(Protocol::P2p(me))
        };

        assert!(is_circuit_via(&via(relay), &relay));
        assert!(!is_circuit_via(&via(other), &relay));
        assert!(!is_circuit_via(
            &base.clone().with(Protocol::P2p(relay)),
            &relay
        ));
    }

    #[test]
    fn refusals_are_told_apart_from_broken_connections() {
        assert!(is_refusal(
            "Failed to get Reservation.: Reservation refused."
        ));
        assert!(is_refusal(
            "Failed to get Reservation.: Remote reported resource limit exceeded."
        ));
        assert!(!is_refusal("Failed to get Reservation.: IO error: reset"));
    }
}
