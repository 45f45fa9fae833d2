//! The in-memory entitlement table (hub.md §6.6): PeerId → presence and relay rights. It is the one
//! place every gate asks — the relay's reservation and circuit-source gate, rendezvous, presence —
//! and it answers without blocking on I/O.
//!
//! Until membership fills it from accounts, the default follows the join mode: in an `open`
//! community every peer that proved its key is entitled, in other modes nobody is. Explicit
//! entries (e.g. a revocation) override the default.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use libp2p::PeerId;

use crate::config::{JoinMode, Policy};

/// What a peer may do (hub.md §6.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Rights {
    /// Publish and subscribe presence; use rendezvous.
    pub presence: bool,
    /// Reserve on the relay and open circuits.
    pub relay: bool,
}

impl Rights {
    /// Every right.
    pub const ALL: Self = Self {
        presence: true,
        relay: true,
    };
    /// No right.
    pub const NONE: Self = Self {
        presence: false,
        relay: false,
    };
}

/// Vouchers held at most; the least recently presented is evicted first (hub.md §4.5).
const MAX_VOUCHERS: usize = 10_000;

#[derive(Debug)]
struct Table {
    default: Rights,
    peers: HashMap<PeerId, Rights>,
    /// Peers admitted as circuit sources by a presented voucher, until its `exp` (unix s), with
    /// the order they were presented in for eviction.
    vouchers: HashMap<PeerId, (u64, u64)>,
    presented: u64,
}

/// Shared handle to the table. Cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct Entitlements {
    table: Arc<RwLock<Table>>,
}

impl Entitlements {
    /// An empty table whose default follows `join_mode`.
    pub(crate) fn new(join_mode: JoinMode) -> Self {
        let default = if join_mode == JoinMode::Open {
            Rights::ALL
        } else {
            Rights::NONE
        };
        Self {
            table: Arc::new(RwLock::new(Table {
                default,
                peers: HashMap::new(),
                vouchers: HashMap::new(),
                presented: 0,
            })),
        }
    }

    /// The rights of `peer`.
    pub(crate) fn rights(&self, peer: &PeerId) -> Rights {
        let table = self
            .table
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        table.peers.get(peer).copied().unwrap_or(table.default)
    }

    /// Whether `peer` passes the gate of a relay function under `policy`.
    pub(crate) fn admits(&self, peer: &PeerId, policy: Policy) -> bool {
        policy == Policy::Any || self.rights(peer).relay
    }

    /// The `tier` metric label of a peer until membership supplies account tiers: `member` for
    /// peers with the relay right, `none` for the rest (admitted only by `any` policies).
    pub(crate) fn relay_tier(&self, peer: &PeerId) -> &'static str {
        if self.rights(peer).relay {
            "member"
        } else {
            "none"
        }
    }

    /// Whether `peer` may open circuits under `policy`: the relay right, or an unexpired voucher
    /// it presented (hub.md §4.3).
    pub(crate) fn admits_circuit_source(
        &self,
        peer: &PeerId,
        policy: Policy,
        now_secs: u64,
    ) -> bool {
        if self.admits(peer, policy) {
            return true;
        }
        let table = self
            .table
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        table
            .vouchers
            .get(peer)
            .is_some_and(|(exp, _)| *exp > now_secs)
    }

    /// Admits `peer` as a circuit source until `exp` (unix seconds), evicting the least recently
    /// presented voucher when full.
    pub(crate) fn admit_voucher(&self, peer: PeerId, exp: u64) {
        let mut table = self
            .table
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        table.presented += 1;
        let order = table.presented;
        table.vouchers.insert(peer, (exp, order));
        if table.vouchers.len() > MAX_VOUCHERS
            && let Some(oldest) = table
                .vouchers
                .iter()
                .min_by_key(|(_, (_, o))| *o)
                .map(|(p, _)| *p)
        {
            table.vouchers.remove(&oldest);
        }
    }

    /// Sets the rights of `peer`, returning the previous ones.
    pub(crate) fn set(&self, peer: PeerId, rights: Rights) -> Rights {
        let mut table = self
            .table
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let previous = table.peers.get(&peer).copied().unwrap_or(table.default);
        table.peers.insert(peer, rights);
        if !rights.relay {
            table.vouchers.remove(&peer);
        }
        previous
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer() -> PeerId {
        PeerId::random()
    }

    #[test]
    fn every_peer_is_entitled_when_community_is_open() {
        let table = Entitlements::new(JoinMode::Open);

        assert_eq!(table.rights(&peer()), Rights::ALL);
    }

    #[test]
    fn nobody_is_entitled_when_mode_needs_membership() {
        let table = Entitlements::new(JoinMode::Email);
        let p = peer();

        assert_eq!(table.rights(&p), Rights::NONE);
        assert!(!table.admits(&p, Policy::Members));
        assert!(table.admits(&p, Policy::Any));
    }

    #[test]
    fn voucher_admits_a_circuit_source_until_it_expires() {
        let table = Entitlements::new(JoinMode::Email);
        let p = peer();

        table.admit_voucher(p, 1_000);

        assert!(table.admits_circuit_source(&p, Policy::Members, 999));
        assert!(!table.admits_circuit_source(&p, Policy::Members, 1_000));
        assert!(
            !table.admits(&p, Policy::Members),
            "a voucher opens circuits, it does not reserve"
        );
    }

    #[test]
    fn explicit_entry_overrides_default_when_set() {
        let table = Entitlements::new(JoinMode::Open);
        let p = peer();

        let before = table.set(p, Rights::NONE);

        assert_eq!(before, Rights::ALL);
        assert!(!table.admits(&p, Policy::Members));
        assert_eq!(table.rights(&peer()), Rights::ALL);
    }
}
