//! Bindings as the admin changes them (hub.md §9, §7.4): unbinding a member's peer and voiding a
//! peer's vouchers.

use libp2p::PeerId;
use serde_json::json;

use super::{Actor, Error, Membership, Result, account, audit};
use crate::store::{self, StoreError};

impl Membership {
    /// `DELETE …/members/{id}/peers/{peer_id}`: unbinds the peer; its rights end and its vouchers
    /// are revoked.
    pub(crate) async fn admin_unbind(&self, actor: &Actor, id: &str, peer: &str) -> Result<()> {
        let mut tx = self.store().begin_write().await?;
        let now = self.now_ms();
        account(&mut tx, id).await?;
        if !store::delete_binding(&mut tx, id, peer).await? {
            return Err(Error::NotFound {
                what: "binding",
                id: peer.to_owned(),
            });
        }
        self.revoke_in(&mut tx, &[peer.to_owned()], None, "unbind", now)
            .await?;
        audit::record(
            &mut tx,
            actor,
            "peer.unbind",
            ("peer", peer),
            json!({"account_id": id}),
            now,
        )
        .await?;
        tx.commit().await.map_err(StoreError::from)?;
        self.after_change(id, &[], "unbind").await
    }

    /// `POST …/vouchers/revoke`: every voucher of `peer` issued until now is void (hub.md §7.4);
    /// its rights stay as they are.
    pub(crate) async fn admin_revoke_vouchers(&self, actor: &Actor, peer: PeerId) -> Result<()> {
        let now = self.now_ms();
        let peer_id = peer.to_string();
        let mut tx = self.store().begin_write().await?;
        store::insert_revocation(&mut tx, &peer_id, "admin", now).await?;
        let owner = store::find_binding(&mut tx, &peer_id)
            .await?
            .map(|b| b.account_id);
        let details = json!({"account_id": owner});
        audit::record(
            &mut tx,
            actor,
            "voucher.revoke",
            ("peer", &peer_id),
            details,
            now,
        )
        .await?;
        tx.commit().await.map_err(StoreError::from)?;
        self.inner.enforcer.entitlements.revoke_vouchers(peer, now);
        Ok(())
    }
}
