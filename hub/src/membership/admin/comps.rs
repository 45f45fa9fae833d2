//! Comps (hub.md §6.4, §9): access without payment, granted and ended by an admin.

use serde_json::json;

use super::members::MemberView;
use super::{Actor, Error, Membership, Result, account, audit, wrong_state};
use crate::store::{self, StoreError};

impl Membership {
    /// `POST …/members/{id}/comp`: access without payment until `until` (`None` = open-ended).
    pub(crate) async fn comp(
        &self,
        actor: &Actor,
        id: &str,
        until: Option<i64>,
        note: Option<&str>,
    ) -> Result<MemberView> {
        let now = self.now_ms();
        if until.is_some_and(|until| until <= now) {
            return Err(Error::CompEndsInPast);
        }
        let mut tx = self.store().begin_write().await?;
        let before = account(&mut tx, id).await?;
        store::update_comp(&mut tx, id, until, note, now).await?;
        let standing = self.recompute_in(&mut tx, id, now).await?;
        let details = json!({
            "until": until,
            "note": note,
            "previous_until": before.comped_until,
            "state": standing.state,
            "tier": standing.tier,
        });
        audit::record(&mut tx, actor, "member.comp", ("account", id), details, now).await?;
        tx.commit().await.map_err(StoreError::from)?;
        self.after_change(id, &[], "comp").await?;
        self.member_view(id).await
    }

    /// `DELETE …/members/{id}/comp`: ends a comp; 409 when there is none.
    pub(crate) async fn uncomp(&self, actor: &Actor, id: &str) -> Result<MemberView> {
        let now = self.now_ms();
        let mut tx = self.store().begin_write().await?;
        let before = account(&mut tx, id).await?;
        if !store::mark_comp_ended(&mut tx, id, now).await? {
            return Err(wrong_state(id));
        }
        let standing = self.recompute_in(&mut tx, id, now).await?;
        let details = json!({
            "comped_until": before.comped_until,
            "note": before.comp_note,
            "state": standing.state,
            "tier": standing.tier,
        });
        audit::record(
            &mut tx,
            actor,
            "member.uncomp",
            ("account", id),
            details,
            now,
        )
        .await?;
        tx.commit().await.map_err(StoreError::from)?;
        self.after_change(id, &[], "uncomp").await?;
        self.member_view(id).await
    }
}
