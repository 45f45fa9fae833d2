//! The in-memory entitlement table (hub.md §6.6): PeerId → presence and relay rights. It is the one
//! place every gate asks — the relay's reservation and circuit-source gate, rendezvous, presence —
//! and it answers without blocking on I/O.
//!
//! Membership fills it from accounts (bound peers get an entry with their account's rights, tier
//! and refusal code); peers without an entry get the default, which follows the join mode: in an
//! `open` community with `open_autojoin` every peer that proved its key is entitled, otherwise
//! nobody is. It also holds the voucher set of §4.5 and the voucher revocations of §7.4.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use libp2p::PeerId;
use shared::error_code::ErrorCode;

use crate::config::Policy;
use crate::members::{Rights, State, Tier};

/// A bound peer's entry: its account's rights, tier, and the code refusals name (hub.md §6.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Entitlement {
    /// What the peer may do.
    pub(crate) rights: Rights,
    /// The account's state.
    pub(crate) state: Option<State>,
    /// The account's tier (the `tier` metric label).
    pub(crate) tier: Option<Tier>,
    /// The membership code of a refusal.
    pub(crate) refusal: ErrorCode,
}

impl Entitlement {
    /// An entry with `rights` and no account behind it (explicit grants and revocations).
    pub(crate) fn bare(rights: Rights) -> Self {
        Self {
            rights,
            state: None,
            tier: None,
            refusal: ErrorCode::NotMember,
        }
    }
}

/// Vouchers held at most; the least recently presented is evicted first (hub.md §4.5).
const MAX_VOUCHERS: usize = 10_000;

#[derive(Debug)]
struct Table {
    default: Rights,
    peers: HashMap<PeerId, Entitlement>,
    /// Voucher revocations (hub.md §7.4): vouchers of this hub issued before the time (ms) are
    /// revoked.
    revocations: HashMap<PeerId, i64>,
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
    /// An empty table whose peers without an entry get `default`.
    pub(crate) fn new(default: Rights) -> Self {
        Self {
            table: Arc::new(RwLock::new(Table {
                default,
                peers: HashMap::new(),
                revocations: HashMap::new(),
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
        table
            .peers
            .get(peer)
            .map_or(table.default, |entry| entry.rights)
    }

    /// The membership code to refuse `peer` with (hub.md §6.5).
    pub(crate) fn refusal(&self, peer: &PeerId) -> ErrorCode {
        self.read()
            .peers
            .get(peer)
            .map_or(ErrorCode::NotMember, |entry| entry.refusal)
    }

    /// The account state and tier behind `peer`'s entry, if it has one.
    pub(crate) fn standing(&self, peer: &PeerId) -> Option<(State, Tier)> {
        self.read()
            .peers
            .get(peer)
            .and_then(|entry| entry.state.zip(entry.tier))
    }

    /// The entry of `peer`, if it has one.
    pub(crate) fn entry(&self, peer: &PeerId) -> Option<Entitlement> {
        self.read().peers.get(peer).copied()
    }

    /// Whether `peer` has an entry of its own (an account, or an explicit grant or revocation).
    pub(crate) fn has_entry(&self, peer: &PeerId) -> bool {
        self.read().peers.contains_key(peer)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Table> {
        self.table
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Table> {
        self.table
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The peers whose entry comes from an account (not explicit grants or revocations).
    pub(crate) fn account_peers(&self) -> Vec<PeerId> {
        self.read()
            .peers
            .iter()
            .filter(|(_, entry)| entry.state.is_some())
            .map(|(peer, _)| *peer)
            .collect()
    }

    /// Whether `peer` passes the gate of a relay function under `policy`.
    pub(crate) fn admits(&self, peer: &PeerId, policy: Policy) -> bool {
        policy == Policy::Any || self.rights(peer).relay
    }

    /// The `tier` metric label of a peer: its account's tier when it has the relay right, `member`
    /// for entitled peers without an account (open communities), `none` for the rest (admitted
    /// only by `any` policies).
    pub(crate) fn relay_tier(&self, peer: &PeerId) -> &'static str {
        let table = self.read();
        let (rights, tier) = table
            .peers
            .get(peer)
            .map_or((table.default, None), |e| (e.rights, e.tier));
        match (rights.relay, tier) {
            (false, _) => "none",
            (true, Some(Tier::Paid)) => "paid",
            (true, Some(Tier::Comped)) => "comped",
            (true, _) => "member",
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

    /// Sets the entry of `peer` (`None`: back to the default), returning the previous rights.
    pub(crate) fn set(&self, peer: PeerId, entry: Option<Entitlement>) -> Rights {
        let mut table = self.write();
        let previous = table.peers.get(&peer).map_or(table.default, |e| e.rights);
        let now = match entry {
            Some(entry) => {
                table.peers.insert(peer, entry);
                entry.rights
            }
            None => {
                table.peers.remove(&peer);
                table.default
            }
        };
        if !now.relay {
            table.vouchers.remove(&peer);
        }
        previous
    }

    /// Records that vouchers of this hub for `peer` issued before `before_ms` are revoked; also
    /// drops an admitted voucher of the peer.
    pub(crate) fn revoke_vouchers(&self, peer: PeerId, before_ms: i64) {
        let mut table = self.write();
        let entry = table.revocations.entry(peer).or_insert(before_ms);
        *entry = (*entry).max(before_ms);
        table.vouchers.remove(&peer);
    }

    /// Whether a voucher of this hub for `peer` issued at `iat_secs` is revoked.
    pub(crate) fn is_revoked(&self, peer: &PeerId, iat_secs: u64) -> bool {
        let iat_ms = i64::try_from(iat_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
        self.read()
            .revocations
            .get(peer)
            .is_some_and(|before| iat_ms < *before)
    }

    /// Forgets revocations older than `cutoff_ms`: every voucher they revoke has expired.
    pub(crate) fn prune_revocations(&self, cutoff_ms: i64) {
        self.write()
            .revocations
            .retain(|_, before| *before >= cutoff_ms);
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
        let table = Entitlements::new(Rights::ALL);

        assert_eq!(table.rights(&peer()), Rights::ALL);
    }

    #[test]
    fn nobody_is_entitled_when_mode_needs_membership() {
        let table = Entitlements::new(Rights::NONE);
        let p = peer();

        assert_eq!(table.rights(&p), Rights::NONE);
        assert!(!table.admits(&p, Policy::Members));
        assert!(table.admits(&p, Policy::Any));
    }

    #[test]
    fn voucher_admits_a_circuit_source_until_it_expires() {
        let table = Entitlements::new(Rights::NONE);
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
        let table = Entitlements::new(Rights::ALL);
        let p = peer();

        let before = table.set(p, Some(Entitlement::bare(Rights::NONE)));

        assert_eq!(before, Rights::ALL);
        assert!(!table.admits(&p, Policy::Members));
        assert_eq!(table.rights(&peer()), Rights::ALL);
        assert_eq!(table.set(p, None), Rights::NONE);
        assert!(table.admits(&p, Policy::Members));
    }

    #[test]
    fn account_entry_names_tier_and_refusal_when_set() {
        let table = Entitlements::new(Rights::NONE);
        let (paid, lapsed) = (peer(), peer());
        table.set(
            paid,
            Some(Entitlement {
                rights: Rights::ALL,
                state: Some(State::Active),
                tier: Some(Tier::Paid),
                refusal: ErrorCode::NotMember,
            }),
        );
        table.set(
            lapsed,
            Some(Entitlement {
                rights: Rights::NONE,
                state: Some(State::Lapsed),
                tier: Some(Tier::Guest),
                refusal: ErrorCode::MembershipLapsed,
            }),
        );

        assert_eq!(table.relay_tier(&paid), "paid");
        assert_eq!(table.relay_tier(&lapsed), "none");
        assert_eq!(table.refusal(&lapsed).as_str(), "membership_lapsed");
        assert_eq!(table.refusal(&peer()).as_str(), "not_member");
    }

    #[test]
    fn revocation_covers_vouchers_issued_before_it_when_recorded() {
        let table = Entitlements::new(Rights::NONE);
        let p = peer();
        table.admit_voucher(p, u64::MAX);

        table.revoke_vouchers(p, 2_000_000);

        assert!(table.is_revoked(&p, 1_999));
        assert!(!table.is_revoked(&p, 2_000));
        assert!(!table.is_revoked(&peer(), 0));
        assert!(!table.admits_circuit_source(&p, Policy::Members, 0));
        table.prune_revocations(2_000_001);
        assert!(!table.is_revoked(&p, 1_999));
    }
}
