//! Per-IP connection limits for the libp2p listener (hub.md §4.1): at most
//! `p2p.max_pending_per_ip` inbound connections still in their handshake and
//! `p2p.max_connections_per_ip` established inbound connections per client address, IPv6 keyed by
//! its /64. rust-libp2p's `connection_limits` counts totals and per peer only; a PeerId costs
//! nothing to make, so the address is what an attacker cannot multiply cheaply.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::IpAddr;
use std::task::{Context, Poll};

use libp2p::core::transport::PortUse;
use libp2p::core::{ConnectedPoint, Endpoint};
use libp2p::multiaddr::Protocol;
use libp2p::swarm::behaviour::ConnectionEstablished;
use libp2p::swarm::{
    ConnectionClosed, ConnectionDenied, ConnectionId, FromSwarm, ListenFailure, NetworkBehaviour,
    THandler, THandlerInEvent, THandlerOutEvent, ToSwarm, dummy,
};
use libp2p::{Multiaddr, PeerId};
use shared::rate_limit::ip_key;

/// The address `addr`'s limits count under ([`ip_key`]: IPv4, or the /64 of IPv6); `None` for
/// addresses without an IP.
fn key_of(addr: &Multiaddr) -> Option<IpAddr> {
    addr.iter().find_map(|p| match p {
        Protocol::Ip4(ip) => Some(ip_key(IpAddr::V4(ip))),
        Protocol::Ip6(ip) => Some(ip_key(IpAddr::V6(ip))),
        _ => None,
    })
}

/// Why a connection was refused.
#[derive(Debug, thiserror::Error)]
#[error("{kind} connections from {ip} reached the limit of {limit}")]
pub(crate) struct LimitReached {
    kind: &'static str,
    ip: IpAddr,
    limit: usize,
}

/// Counts inbound connections per client address ([`key_of`]) and denies those beyond the limits.
#[derive(Debug)]
pub(crate) struct PerIp {
    max_pending: usize,
    max_established: usize,
    pending: HashMap<ConnectionId, IpAddr>,
    established: HashMap<ConnectionId, IpAddr>,
    /// Pending and established connections per key; an entry goes when both reach zero.
    counts: HashMap<IpAddr, (usize, usize)>,
}

impl PerIp {
    /// Limits of `max_pending` handshakes and `max_established` connections per address.
    pub(crate) fn new(max_pending: usize, max_established: usize) -> Self {
        Self {
            max_pending,
            max_established,
            pending: HashMap::new(),
            established: HashMap::new(),
            counts: HashMap::new(),
        }
    }

    fn count(&self, key: IpAddr) -> (usize, usize) {
        self.counts.get(&key).copied().unwrap_or_default()
    }

    fn change(&mut self, key: IpAddr, pending: isize, established: isize) {
        let entry = self.counts.entry(key).or_default();
        entry.0 = entry.0.saturating_add_signed(pending);
        entry.1 = entry.1.saturating_add_signed(established);
        if *entry == (0, 0) {
            self.counts.remove(&key);
        }
    }

    fn end_pending(&mut self, id: ConnectionId) {
        if let Some(key) = self.pending.remove(&id) {
            self.change(key, -1, 0);
        }
    }

    fn check(
        kind: &'static str,
        key: IpAddr,
        count: usize,
        limit: usize,
    ) -> Result<(), ConnectionDenied> {
        if count < limit {
            return Ok(());
        }
        Err(ConnectionDenied::new(LimitReached {
            kind,
            ip: key,
            limit,
        }))
    }
}

impl NetworkBehaviour for PerIp {
    type ConnectionHandler = dummy::ConnectionHandler;
    type ToSwarm = Infallible;

    fn handle_pending_inbound_connection(
        &mut self,
        id: ConnectionId,
        _: &Multiaddr,
        remote_addr: &Multiaddr,
    ) -> Result<(), ConnectionDenied> {
        let Some(key) = key_of(remote_addr) else {
            return Ok(());
        };
        Self::check("pending", key, self.count(key).0, self.max_pending)?;
        self.pending.insert(id, key);
        self.change(key, 1, 0);
        Ok(())
    }

    fn handle_established_inbound_connection(
        &mut self,
        id: ConnectionId,
        _: PeerId,
        _: &Multiaddr,
        remote_addr: &Multiaddr,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        self.end_pending(id);
        if let Some(key) = key_of(remote_addr) {
            Self::check("established", key, self.count(key).1, self.max_established)?;
        }
        Ok(dummy::ConnectionHandler)
    }

    fn handle_established_outbound_connection(
        &mut self,
        _: ConnectionId,
        _: PeerId,
        _: &Multiaddr,
        _: Endpoint,
        _: PortUse,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        Ok(dummy::ConnectionHandler)
    }

    fn on_swarm_event(&mut self, event: FromSwarm) {
        match event {
            // Counted once every behaviour accepted the connection, as `connection_limits` does.
            FromSwarm::ConnectionEstablished(ConnectionEstablished {
                connection_id,
                endpoint: ConnectedPoint::Listener { send_back_addr, .. },
                ..
            }) => {
                if let Some(key) = key_of(send_back_addr) {
                    self.established.insert(connection_id, key);
                    self.change(key, 0, 1);
                }
            }
            FromSwarm::ConnectionClosed(ConnectionClosed { connection_id, .. }) => {
                if let Some(key) = self.established.remove(&connection_id) {
                    self.change(key, 0, -1);
                }
            }
            FromSwarm::ListenFailure(ListenFailure { connection_id, .. }) => {
                self.end_pending(connection_id);
            }
            _ => {}
        }
    }

    fn on_connection_handler_event(
        &mut self,
        _: PeerId,
        _: ConnectionId,
        event: THandlerOutEvent<Self>,
    ) {
        match event {}
    }

    fn poll(&mut self, _: &mut Context<'_>) -> Poll<ToSwarm<Self::ToSwarm, THandlerInEvent<Self>>> {
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> Multiaddr {
        s.parse().unwrap()
    }

    fn listener(remote: &Multiaddr) -> ConnectedPoint {
        ConnectedPoint::Listener {
            local_addr: addr("/ip4/127.0.0.1/tcp/4001"),
            send_back_addr: remote.clone(),
        }
    }

    /// Runs a connection from `remote` through the pending and established checks, and reports
    /// it established when both pass.
    fn connect(limits: &mut PerIp, id: u32, remote: &Multiaddr) -> Result<(), ConnectionDenied> {
        let id = ConnectionId::new_unchecked(id as usize);
        let local = addr("/ip4/127.0.0.1/tcp/4001");
        limits.handle_pending_inbound_connection(id, &local, remote)?;
        limits.handle_established_inbound_connection(id, PeerId::random(), &local, remote)?;
        limits.on_swarm_event(FromSwarm::ConnectionEstablished(ConnectionEstablished {
            peer_id: PeerId::random(),
            connection_id: id,
            endpoint: &listener(remote),
            failed_addresses: &[],
            other_established: 0,
        }));
        Ok(())
    }

    #[test]
    fn established_connection_beyond_the_limit_is_denied_only_for_its_address() {
        let mut limits = PerIp::new(8, 2);
        let (a, b) = (addr("/ip4/10.0.0.1/tcp/1"), addr("/ip4/10.0.0.2/tcp/1"));

        connect(&mut limits, 1, &a).unwrap();
        connect(&mut limits, 2, &a).unwrap();

        assert!(connect(&mut limits, 3, &a).is_err());
        connect(&mut limits, 4, &b).expect("another address still connects");
    }

    #[test]
    fn closing_a_connection_frees_its_slot() {
        let mut limits = PerIp::new(8, 1);
        let a = addr("/ip4/10.0.0.1/tcp/1");
        connect(&mut limits, 1, &a).unwrap();

        limits.on_swarm_event(FromSwarm::ConnectionClosed(ConnectionClosed {
            peer_id: PeerId::random(),
            connection_id: ConnectionId::new_unchecked(1),
            endpoint: &listener(&a),
            cause: None,
            remaining_established: 0,
        }));

        connect(&mut limits, 2, &a).expect("the slot was freed");
        assert_eq!(limits.counts.len(), 1);
    }

    #[test]
    fn pending_handshakes_beyond_the_limit_are_denied_until_one_fails() {
        let mut limits = PerIp::new(2, 8);
        let (local, a) = (addr("/ip4/127.0.0.1/tcp/4001"), addr("/ip4/10.0.0.1/tcp/1"));
        let id = ConnectionId::new_unchecked;
        for n in 1..=2 {
            limits
                .handle_pending_inbound_connection(id(n), &local, &a)
                .unwrap();
        }

        assert!(
            limits
                .handle_pending_inbound_connection(id(3), &local, &a)
                .is_err()
        );
        let error = libp2p::swarm::ListenError::Aborted;
        limits.on_swarm_event(FromSwarm::ListenFailure(ListenFailure {
            local_addr: &local,
            send_back_addr: &a,
            error: &error,
            connection_id: id(1),
            peer_id: None,
        }));
        limits
            .handle_pending_inbound_connection(id(4), &local, &a)
            .expect("the failed handshake freed its slot");
    }

    #[test]
    fn ipv6_addresses_of_one_64_share_a_limit() {
        let mut limits = PerIp::new(8, 1);
        connect(&mut limits, 1, &addr("/ip6/2001:db8:1:2::1/tcp/1")).unwrap();

        assert!(connect(&mut limits, 2, &addr("/ip6/2001:db8:1:2:ffff::9/tcp/1")).is_err());
        connect(&mut limits, 3, &addr("/ip6/2001:db8:1:3::1/tcp/1"))
            .expect("another /64 still connects");
    }

    #[test]
    fn ipv4_mapped_ipv6_counts_as_its_ipv4_address() {
        assert_eq!(
            ip_key("::ffff:10.0.0.1".parse().unwrap()),
            ip_key("10.0.0.1".parse().unwrap())
        );
    }
}
