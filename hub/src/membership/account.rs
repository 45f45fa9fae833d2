//! The account as its holder sees it (hub.md §6.10): the membership view for peers, the account
//! document, and moving the account to a new address.

use libp2p::PeerId;
use serde::Serialize;
use serde_json::{Value, json};

use super::enforce::entry_for;
use super::verify::TokenPurpose;
use super::{Error, Membership, Result, enum_text};
use crate::email::messages;
use crate::members::{self, State};
use crate::store::{self, EmailToken, StoreError};

/// `GET /api/v1/membership`.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct MembershipView {
    pub(crate) state: String,
    pub(crate) tier: Option<members::Tier>,
    pub(crate) community: String,
    pub(crate) account_id: Option<String>,
    pub(crate) entitlements: ViewRights,
}

/// The entitlements part of [`MembershipView`].
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ViewRights {
    pub(crate) presence: bool,
    pub(crate) relay: bool,
    pub(crate) voucher: bool,
}

impl Membership {
    /// The membership of a peer as it sees it.
    pub(crate) async fn membership_of(&self, peer: &PeerId) -> Result<MembershipView> {
        let community = self.config().hub.slug.to_string();
        let mut conn = self.store().acquire().await?;
        let Some(binding) = store::find_binding(&mut conn, &peer.to_string()).await? else {
            drop(conn);
            let pending = self
                .store()
                .has_pending_join(&peer.to_string(), self.now_ms())
                .await?;
            let rights = self.entitlements().rights(peer);
            return Ok(MembershipView {
                state: if pending { "pending_email" } else { "none" }.to_owned(),
                tier: None,
                community,
                account_id: None,
                entitlements: ViewRights {
                    presence: rights.presence,
                    relay: rights.relay,
                    voucher: false,
                },
            });
        };
        let account = store::get_account(&mut conn, &binding.account_id).await?;
        let standing = members::Standing {
            state: account.state,
            tier: account.tier,
            grace_until: account.grace_until,
        };
        let entry = entry_for(&standing, self.config().membership.guest_presence);
        Ok(MembershipView {
            state: enum_text(&account.state),
            tier: Some(account.tier),
            community,
            account_id: Some(account.id),
            entitlements: ViewRights {
                presence: entry.rights.presence,
                relay: entry.rights.relay,
                voucher: members::voucher_tier(&standing).is_some(),
            },
        })
    }

    /// The account document of `GET /api/v1/me`.
    pub(crate) async fn account_document(
        &self,
        account_id: &str,
        is_online: impl Fn(&str) -> bool,
    ) -> Result<Value> {
        let mut conn = self.store().acquire().await?;
        let account = match store::get_account(&mut conn, account_id).await {
            Err(StoreError::NotFound) => {
                return Err(Error::NotBound {
                    account_id: account_id.to_owned(),
                });
            }
            other => other?,
        };
        let peers = store::list_bindings(&mut conn, account_id).await?;
        let application = store::find_latest_application(&mut conn, account_id).await?;
        let subscription = store::find_latest_subscription(&mut conn, account_id).await?;
        let standing = members::Standing {
            state: account.state,
            tier: account.tier,
            grace_until: account.grace_until,
        };
        let entry = entry_for(&standing, self.config().membership.guest_presence);
        Ok(json!({
            "account": {
                "id": account.id,
                "email": account.email,
                "email_verified": account.email_verified_at.is_some(),
                "state": account.state,
                "tier": account.tier,
                "created_at": account.created_at,
                "grace_until": account.grace_until,
                "comped_until": account.comped_until,
            },
            "peers": peers.iter().map(|b| json!({
                "peer_id": b.peer_id,
                "label": b.label,
                "bound_at": b.bound_at,
                "bound_via": b.bound_via,
                "online": is_online(&b.peer_id),
            })).collect::<Vec<_>>(),
            "subscription": subscription.map(|s| json!({
                "plan": s.plan_id,
                "status": s.status,
                "current_period_end": s.current_period_end,
                "cancel_at_period_end": s.cancel_scheduled_at.is_some(),
            })),
            "application": application.map(|a| json!({
                "id": a.id,
                "status": a.status,
                "created_at": a.created_at,
            })),
            "entitlements": {
                "presence": entry.rights.presence,
                "relay": entry.rights.relay,
                "voucher_tier": members::voucher_tier(&standing),
            },
        }))
    }

    /// `POST /api/v1/me/email`: a `change_email` link to the new address. An account without an
    /// address adds one by signature; one that has an address changes it only from a browser
    /// session (`by_session`), so a peer key alone cannot take the account (hub.md §6.10).
    pub(crate) async fn request_email_change(
        &self,
        account_id: &str,
        email: &str,
        ip: &str,
        by_session: bool,
    ) -> Result<()> {
        let now = self.now_ms();
        let mut tx = self.store().begin_write().await?;
        let account = store::get_account(&mut tx, account_id).await?;
        if account.state == State::Banned {
            return Err(Error::Banned {
                account_id: account_id.to_owned(),
            });
        }
        if account.email.is_some() && !by_session {
            return Err(Error::SessionRequired);
        }
        self.send_link(
            tx,
            TokenPurpose::ChangeEmail,
            email,
            account_id.to_owned(),
            ip,
            now,
        )
        .await
    }

    /// A `change_email` token: moves the account to the new address (§6.8 rule 8) and ends its
    /// sessions. A change away from an address sends that address a notice with an undo link
    /// (a `change_email` token back to it, marked [`UNDO_MARK`], for [`UNDO_TTL_MS`]); earlier undo
    /// links survive later changes, and consuming one voids every other link of the account.
    pub(super) async fn consume_change_email(
        &self,
        tx: &mut sqlx::AnyConnection,
        token: &EmailToken,
        now: i64,
    ) -> Result<String> {
        let account_id = token.account_id.clone().ok_or(Error::InvalidToken)?;
        if let Some(holder) = store::find_account_by_email(tx, &token.email).await? {
            if holder.id == account_id {
                return Ok(account_id);
            }
            if holder.state.is_verified() {
                return Err(Error::EmailTaken);
            }
            store::delete_account(tx, &holder.id).await?;
        }
        let former = store::get_account(tx, &account_id).await?.email;
        store::update_email(tx, &account_id, &token.email, now).await?;
        let undoing = token.message.as_deref() == Some(UNDO_MARK);
        // Links sent before the change (to this or an earlier address) must not act on the
        // account any more, except the undo links of earlier changes.
        let keep_marked = (!undoing).then_some(UNDO_MARK);
        store::delete_account_tokens_except(tx, &account_id, &token.token_hash, keep_marked)
            .await?;
        // Sessions opened under the old address end too; the link's consumer gets a new one.
        store::delete_account_sessions(tx, &account_id).await?;
        if let Some(former) = former.filter(|f| *f != token.email && !undoing) {
            let ip = token.request_ip.as_deref().unwrap_or("");
            let mut undo = super::verify::plain_token(
                TokenPurpose::ChangeEmail,
                &former,
                Some(account_id.clone()),
                ip,
                now,
                std::time::Duration::from_millis(UNDO_TTL_MS.unsigned_abs()),
            );
            undo.message = Some(UNDO_MARK.to_owned());
            let community = self.config().hub.name.clone();
            let new_hint = super::codes::email_hint(&token.email);
            self.send_token_with(tx, undo, |link, expires_at| {
                messages::address_changed(&community, &new_hint, link, expires_at)
            })
            .await?;
        }
        Ok(account_id)
    }
}

/// The `message` of an undo link's token (hub.md §6.10): it moves the account back to a former
/// address and is kept when later changes void the account's other links.
pub(crate) const UNDO_MARK: &str = "undo_email_change";
/// How long an undo link works: 7 days.
pub(crate) const UNDO_TTL_MS: i64 = 7 * 86_400_000;
