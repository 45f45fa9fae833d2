//! Administration (hub.md §9): the admin's changes to accounts, bindings, invites and vouchers.
//! Each change and its `admin_audit` row commit in one transaction; then the account goes through
//! [`Membership::apply_account`] so lost rights are revoked at once (§6.6), and the `hub_members`
//! gauge is refreshed. Read-only views live in `admin/views.rs`.

mod views;

use libp2p::PeerId;
use serde_json::json;
use sqlx::AnyConnection;

pub(crate) use views::{
    ApplicationView, AuditView, InviteView, MemberDetail, MemberView, Page, PresencePeer, Stats,
    decode_cursor,
};

use super::join::INVITE_CODE_LEN;
use super::{Error, Membership, Result, codes};
use crate::members::State;
use crate::presence::now_ms;
use crate::store::{self, AccountDetails, AuditEntry, Invite, StoreError};

/// The longest invite lifetime an admin may set: one year (hub.md §9).
pub(crate) const MAX_INVITE_SECS: u64 = 31_536_000;
/// The most uses an invite may allow (hub.md §9).
pub(crate) const MAX_INVITE_USES: i64 = 10_000;
/// Attempts at drawing an unused invite code before giving up.
const INVITE_CODE_ATTEMPTS: usize = 5;

/// Who makes an admin change and from where: the audit row's actor and IP (hub.md §9).
#[derive(Debug, Clone)]
pub(crate) struct Actor {
    /// `X-Goop-Admin-Actor`, or `admin`.
    pub(crate) name: String,
    /// The client IP.
    pub(crate) ip: String,
}

/// A change's audit row, written inside the change's transaction.
async fn audit(
    conn: &mut AnyConnection,
    actor: &Actor,
    action: &str,
    target: (&str, &str),
    details: serde_json::Value,
    now: i64,
) -> Result<(), StoreError> {
    let entry = AuditEntry {
        id: uuid::Uuid::now_v7().to_string(),
        at: now,
        actor: actor.name.clone(),
        action: action.to_owned(),
        target_type: target.0.to_owned(),
        target_id: target.1.to_owned(),
        details: details.to_string(),
        ip: Some(actor.ip.clone()),
    };
    store::insert_audit(conn, &entry).await
}

/// The account `id` inside the transaction, or [`Error::NotFound`].
async fn account(conn: &mut AnyConnection, id: &str) -> Result<AccountDetails> {
    match store::account_details(conn, id).await {
        Err(StoreError::NotFound) => Err(Error::NotFound {
            what: "account",
            id: id.to_owned(),
        }),
        other => Ok(other?),
    }
}

/// The account `id` is not in a state the change applies to.
fn wrong_state(id: &str) -> Error {
    Error::WrongState {
        what: "account",
        id: id.to_owned(),
    }
}

impl Membership {
    /// `POST …/members/{id}/approve`: only from `pending_approval`; the account becomes active and
    /// is recomputed, its pending application `approved`.
    pub(crate) async fn approve(
        &self,
        actor: &Actor,
        id: &str,
        note: Option<&str>,
    ) -> Result<MemberView> {
        let now = now_ms();
        let mut tx = self.store().begin_write().await?;
        account(&mut tx, id).await?;
        // The recompute keeps pending states, so the account leaves them first.
        if !store::move_state(&mut tx, id, State::PendingApproval, State::Active, now).await? {
            return Err(wrong_state(id));
        }
        let standing = self.recompute_in(&mut tx, id, now).await?;
        store::decide_applications(&mut tx, id, "approved", &actor.name, note, now).await?;
        let details = json!({"note": note, "state": standing.state, "tier": standing.tier});
        audit(
            &mut tx,
            actor,
            "member.approve",
            ("account", id),
            details,
            now,
        )
        .await?;
        tx.commit().await.map_err(StoreError::from)?;
        self.after_change(id, &[], "approved").await?;
        self.member_view(id).await
    }

    /// `POST …/members/{id}/reject`: only from `pending_approval`; the application becomes
    /// `rejected` and the account is deleted with its bindings, sessions and tokens.
    pub(crate) async fn reject(&self, actor: &Actor, id: &str, reason: &str) -> Result<()> {
        let now = now_ms();
        let mut tx = self.store().begin_write().await?;
        let before = account(&mut tx, id).await?;
        if before.state != State::PendingApproval {
            return Err(wrong_state(id));
        }
        let gone: Vec<String> = store::bindings_of(&mut tx, id)
            .await?
            .into_iter()
            .map(|b| b.peer_id)
            .collect();
        store::decide_applications(&mut tx, id, "rejected", &actor.name, Some(reason), now).await?;
        if !store::delete_pending_account(&mut tx, id).await? {
            return Err(wrong_state(id));
        }
        let details = json!({"reason": reason, "email": before.email, "peers": gone});
        audit(
            &mut tx,
            actor,
            "member.reject",
            ("account", id),
            details,
            now,
        )
        .await?;
        tx.commit().await.map_err(StoreError::from)?;
        self.after_change(id, &gone, "rejected").await
    }

    /// `POST …/members/{id}/ban`: state `banned`; every bound peer's vouchers are revoked and its
    /// rights end within this call (hub.md §6.6, §7.4).
    pub(crate) async fn ban(
        &self,
        actor: &Actor,
        id: &str,
        reason: &str,
        cancel_subscription: bool,
    ) -> Result<MemberView> {
        let now = now_ms();
        let mut tx = self.store().begin_write().await?;
        let before = account(&mut tx, id).await?;
        if !store::mark_banned(&mut tx, id, reason, now).await? {
            return Err(wrong_state(id));
        }
        self.recompute_in(&mut tx, id, now).await?;
        let peers: Vec<String> = store::bindings_of(&mut tx, id)
            .await?
            .into_iter()
            .map(|b| b.peer_id)
            .collect();
        // Every voucher goes, also those of peers that had no relay right to lose (tier guest).
        for peer in &peers {
            store::insert_revocation(&mut tx, peer, "banned", now).await?;
        }
        // Billing (hub.md §8) does not exist yet: the request to cancel the Stripe subscription is
        // accepted and recorded here, and is to be carried out once billing lands.
        let details = json!({
            "reason": reason,
            "cancel_subscription": cancel_subscription,
            "previous_state": before.state,
            "peers": peers,
        });
        audit(&mut tx, actor, "member.ban", ("account", id), details, now).await?;
        tx.commit().await.map_err(StoreError::from)?;
        for peer in peers.iter().filter_map(|p| p.parse::<PeerId>().ok()) {
            self.inner.enforcer.entitlements.revoke_vouchers(peer, now);
        }
        self.after_change(id, &[], "banned").await?;
        self.member_view(id).await
    }

    /// `POST …/members/{id}/unban`: only from `banned`. The account returns to the state its facts
    /// give: `pending_email` while its address is unverified, `pending_approval` while an
    /// application is pending, else the recompute from `active`.
    pub(crate) async fn unban(&self, actor: &Actor, id: &str) -> Result<MemberView> {
        let now = now_ms();
        let mut tx = self.store().begin_write().await?;
        let before = account(&mut tx, id).await?;
        if before.state != State::Banned {
            return Err(wrong_state(id));
        }
        let pending_application = store::application_of(&mut tx, id)
            .await?
            .is_some_and(|a| a.status == "pending");
        let base = if before.email.is_some() && before.email_verified_at.is_none() {
            State::PendingEmail
        } else if pending_application {
            State::PendingApproval
        } else {
            State::Active
        };
        if !store::clear_ban(&mut tx, id, base, now).await? {
            return Err(wrong_state(id));
        }
        let standing = self.recompute_in(&mut tx, id, now).await?;
        let details = json!({"ban_reason": before.ban_reason, "state": standing.state, "tier": standing.tier});
        audit(
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

    /// `POST …/members/{id}/comp`: access without payment until `until` (`None` = open-ended).
    pub(crate) async fn comp(
        &self,
        actor: &Actor,
        id: &str,
        until: Option<i64>,
        note: Option<&str>,
    ) -> Result<MemberView> {
        let now = now_ms();
        if until.is_some_and(|until| until <= now) {
            return Err(Error::CompEndsInPast);
        }
        let mut tx = self.store().begin_write().await?;
        let before = account(&mut tx, id).await?;
        store::set_comp(&mut tx, id, until, note, now).await?;
        let standing = self.recompute_in(&mut tx, id, now).await?;
        let details = json!({
            "until": until,
            "note": note,
            "previous_until": before.comped_until,
            "state": standing.state,
            "tier": standing.tier,
        });
        audit(&mut tx, actor, "member.comp", ("account", id), details, now).await?;
        tx.commit().await.map_err(StoreError::from)?;
        self.after_change(id, &[], "comp").await?;
        self.member_view(id).await
    }

    /// `DELETE …/members/{id}/comp`: ends a comp; 409 when there is none.
    pub(crate) async fn uncomp(&self, actor: &Actor, id: &str) -> Result<MemberView> {
        let now = now_ms();
        let mut tx = self.store().begin_write().await?;
        let before = account(&mut tx, id).await?;
        if !store::clear_comp(&mut tx, id, now).await? {
            return Err(wrong_state(id));
        }
        let standing = self.recompute_in(&mut tx, id, now).await?;
        let details = json!({
            "comped_until": before.comped_until,
            "note": before.comp_note,
            "state": standing.state,
            "tier": standing.tier,
        });
        audit(
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

    /// `DELETE …/members/{id}/peers/{peer_id}`: unbinds the peer; its rights end and its vouchers
    /// are revoked.
    pub(crate) async fn admin_unbind(&self, actor: &Actor, id: &str, peer: &str) -> Result<()> {
        let now = now_ms();
        let mut tx = self.store().begin_write().await?;
        account(&mut tx, id).await?;
        if !store::remove_binding(&mut tx, id, peer).await? {
            return Err(Error::NotFound {
                what: "binding",
                id: peer.to_owned(),
            });
        }
        audit(
            &mut tx,
            actor,
            "peer.unbind",
            ("peer", peer),
            json!({"account_id": id}),
            now,
        )
        .await?;
        tx.commit().await.map_err(StoreError::from)?;
        self.after_change(id, &[peer.to_owned()], "unbind").await
    }

    /// `POST …/invites`: a fresh code for `max_uses` uses, expiring after `expires_in_secs`
    /// (`None` = never). The caller has checked the bounds.
    pub(crate) async fn create_invite(
        &self,
        actor: &Actor,
        max_uses: i64,
        expires_in_secs: Option<u64>,
        note: Option<&str>,
    ) -> Result<Invite> {
        let now = now_ms();
        let expires_at = expires_in_secs.map(|secs| now + i64::try_from(secs).unwrap_or(0) * 1000);
        for _ in 0..INVITE_CODE_ATTEMPTS {
            let invite = Invite {
                code: codes::new_code(INVITE_CODE_LEN),
                note: note.map(str::to_owned),
                max_uses,
                uses: 0,
                created_by: actor.name.clone(),
                created_at: now,
                expires_at,
                revoked_at: None,
            };
            let mut tx = self.store().begin_write().await?;
            match store::insert_invite(&mut tx, &invite).await {
                // 60 random bits: a collision is astronomically rare, but costs only a retry.
                Err(StoreError::Conflict) => continue,
                other => other?,
            }
            let details = json!({"max_uses": max_uses, "expires_at": expires_at, "note": note});
            audit(
                &mut tx,
                actor,
                "invite.create",
                ("invite", &invite.code),
                details,
                now,
            )
            .await?;
            tx.commit().await.map_err(StoreError::from)?;
            return Ok(invite);
        }
        Err(Error::InviteCodesExhausted)
    }

    /// `DELETE …/invites/{code}`: revokes an invite; 404 for an unknown code, 409 when revoked.
    pub(crate) async fn revoke_invite(&self, actor: &Actor, input: &str) -> Result<()> {
        let not_found = || Error::NotFound {
            what: "invite",
            id: input.to_owned(),
        };
        let code = codes::normalize_code(input, INVITE_CODE_LEN).ok_or_else(not_found)?;
        let now = now_ms();
        let mut tx = self.store().begin_write().await?;
        let invite = store::invite_by_code(&mut tx, &code)
            .await?
            .ok_or_else(not_found)?;
        if !store::mark_invite_revoked(&mut tx, &code, now).await? {
            return Err(Error::WrongState {
                what: "invite",
                id: code,
            });
        }
        let details = json!({"uses": invite.uses, "max_uses": invite.max_uses});
        audit(
            &mut tx,
            actor,
            "invite.revoke",
            ("invite", &code),
            details,
            now,
        )
        .await?;
        tx.commit().await.map_err(StoreError::from)?;
        Ok(())
    }

    /// `POST …/vouchers/revoke`: every voucher of `peer` issued until now is void (hub.md §7.4);
    /// its rights stay as they are.
    pub(crate) async fn admin_revoke_vouchers(&self, actor: &Actor, peer: PeerId) -> Result<()> {
        let now = now_ms();
        let peer_id = peer.to_string();
        let mut tx = self.store().begin_write().await?;
        store::insert_revocation(&mut tx, &peer_id, "admin", now).await?;
        let owner = store::binding_of(&mut tx, &peer_id)
            .await?
            .map(|b| b.account_id);
        let details = json!({"account_id": owner});
        audit(
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

    /// After a committed change: entitlements (and revocations) for the account; the
    /// `hub_members` gauge is refreshed on the way (hub.md §15).
    async fn after_change(
        &self,
        id: &str,
        gone_peers: &[String],
        reason: &'static str,
    ) -> Result<()> {
        self.apply_account(id, gone_peers, reason).await
    }
}
