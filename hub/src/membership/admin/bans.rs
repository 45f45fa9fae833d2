//! Bans (hub.md §9, §6.6): banning revokes every voucher and right of the account's peers within
//! the call; unbanning returns the account to the state its facts give.

use serde_json::json;

use super::members::MemberView;
use super::{Actor, Membership, Result, account, audit, wrong_state};
use crate::members::State;
use crate::membership::enforce::entry_for;
use crate::store::{self, StoreError};

/// A committed ban: the member as it is now, and its audit row, which the cancellation of the
/// account's Stripe subscriptions (after the commit) completes with its outcome.
#[derive(Debug)]
pub(crate) struct Ban {
    /// The banned member.
    pub(crate) member: MemberView,
    audit_id: String,
    details: serde_json::Value,
}

impl Membership {
    /// `POST …/members/{id}/ban`: state `banned`; every bound peer's vouchers are revoked and its
    /// rights end within this call (hub.md §6.6, §7.4). `cancel_subscription` is recorded; the
    /// caller cancels at Stripe after this commit and reports with [`Self::record_ban_cancellation`].
    pub(crate) async fn ban(
        &self,
        actor: &Actor,
        id: &str,
        reason: &str,
        cancel_subscription: bool,
    ) -> Result<Ban> {
        let now = self.now_ms();
        let mut tx = self.store().begin_write().await?;
        let before = account(&mut tx, id).await?;
        if !store::mark_banned(&mut tx, id, reason, now).await? {
            return Err(wrong_state(id));
        }
        let standing = self.recompute_in(&mut tx, id, now).await?;
        let peers: Vec<String> = store::list_bindings(&mut tx, id)
            .await?
            .into_iter()
            .map(|b| b.peer_id)
            .collect();
        // Every voucher goes, also those of peers that had no relay right to lose (tier guest);
        // the table changes before the commit, so a failure after it cannot leave a right.
        let entry = entry_for(&standing, self.config().membership.guest_presence);
        self.revoke_in(&mut tx, &peers, Some(entry), "banned", now)
            .await?;
        store::delete_account_sessions(&mut tx, id).await?;
        let details = json!({
            "reason": reason,
            "cancel_subscription": cancel_subscription,
            "previous_state": before.state,
            "peers": peers,
        });
        let audit_id = audit::record(
            &mut tx,
            actor,
            "member.ban",
            ("account", id),
            details.clone(),
            now,
        )
        .await?;
        tx.commit().await.map_err(StoreError::from)?;
        self.after_change(id, &[], "banned").await?;
        Ok(Ban {
            member: self.member_view(id).await?,
            audit_id,
            details,
        })
    }

    /// Adds what became of the ban's Stripe cancellations (`stripe_cancel`: one entry per
    /// subscription) to its audit row. The ban stands whatever Stripe answered.
    pub(crate) async fn record_ban_cancellation(
        &self,
        ban: &Ban,
        outcomes: Vec<serde_json::Value>,
    ) -> Result<()> {
        let mut details = ban.details.clone();
        details["stripe_cancel"] = outcomes.into();
        let mut tx = self.store().begin_write().await?;
        store::update_audit_details(&mut tx, &ban.audit_id, &details.to_string()).await?;
        tx.commit().await.map_err(StoreError::from)?;
        Ok(())
    }

    /// `POST …/members/{id}/unban`: only from `banned`. The account returns to the state its facts
    /// give: `pending_email` while its address is unverified, `pending_approval` while an
    /// application is pending, else the recompute from `active`.
    pub(crate) async fn unban(&self, actor: &Actor, id: &str) -> Result<MemberView> {
        let now = self.now_ms();
        let mut tx = self.store().begin_write().await?;
        let before = account(&mut tx, id).await?;
        if before.state != State::Banned {
            return Err(wrong_state(id));
        }
        let pending_application = store::find_latest_application(&mut tx, id)
            .await?
            .is_some_and(|a| a.status == "pending");
        let base = if before.email.is_some() && before.email_verified_at.is_none() {
            State::PendingEmail
        } else if pending_application {
            State::PendingApproval
        } else {
            State::Active
        };
        if !store::mark_unbanned(&mut tx, id, base, now).await? {
            return Err(wrong_state(id));
        }
        let standing = self.recompute_in(&mut tx, id, now).await?;
        let details = json!({"ban_reason": before.ban_reason, "state": standing.state, "tier": standing.tier});
        audit::record(
            &mut tx,
            actor,
            "member.unban",
            ("account", id),
            details,
            now,
        )
        .await?;
        tx.commit().await.map_err(StoreError::from)?;
        self.after_change(id, &[], "unbanned").await?;
        self.member_view(id).await
    }
}
