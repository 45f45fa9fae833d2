//! Live presence as the admin sees it (hub.md §9): online peers with their accounts.

use std::collections::HashMap;

use serde::Serialize;

use super::{Membership, Result};
use crate::store;

/// A live peer in `GET …/presence`.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct PresencePeer {
    peer_id: String,
    /// The account the peer is bound to.
    account_id: Option<String>,
    /// That account's address, else the one its messages carry.
    email: Option<String>,
    /// Seen signed within the signature lock (hub.md §5.2).
    signed: bool,
    /// `ws`/`sse` subscribers speaking for it; empty for HTTP-only publishers.
    transports: Vec<&'static str>,
    /// Last message or heartbeat (ms).
    last_seen: i64,
    /// Multiaddrs it announced.
    addrs: Vec<String>,
}

impl Membership {
    /// `GET …/presence`: live peers with their accounts, most recently seen first.
    pub(crate) async fn presence_peers(&self) -> Result<Vec<PresencePeer>> {
        let live = self.inner.enforcer.presence.live_peers();
        let ids: Vec<String> = live.iter().map(|p| p.peer_id.to_string()).collect();
        let mut conn = self.store().acquire().await?;
        let owners: HashMap<String, store::PeerOwner> = store::list_peer_owners(&mut conn, &ids)
            .await?
            .into_iter()
            .map(|o| (o.peer_id.clone(), o))
            .collect();
        let mut peers: Vec<PresencePeer> = live
            .into_iter()
            .map(|p| {
                let peer_id = p.peer_id.to_string();
                let owner = owners.get(&peer_id);
                let announced = (!p.email.is_empty()).then_some(p.email);
                PresencePeer {
                    account_id: owner.map(|o| o.account_id.clone()),
                    email: owner.and_then(|o| o.email.clone()).or(announced),
                    signed: p.signed,
                    transports: p.transports,
                    last_seen: p.last_seen,
                    addrs: p.addrs,
                    peer_id,
                }
            })
            .collect();
        peers.sort_by(|a, b| {
            b.last_seen
                .cmp(&a.last_seen)
                .then(a.peer_id.cmp(&b.peer_id))
        });
        Ok(peers)
    }
}
