//! What a member sees and manages (hub.md §6.9, §6.10): the membership view for peers, the account
//! document, bind codes and bound peers.

use libp2p::PeerId;
use serde::Serialize;
use serde_json::{Value, json};

use super::codes;
use super::flows::{Proof, binding_for, insert_binding_checked, label};
use super::{Membership, entry_for, enum_text};
use crate::http::{ApiError, ApiResult};
use crate::members::{self, State};
use crate::store::{self, BindCode, StoreError};
use crate::utc::{millis, now_ms};

/// Bind codes: 10 Crockford base32 characters (hub.md §6.9 rule 3).
pub(crate) const BIND_CODE_LEN: usize = 10;

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
    pub(crate) async fn membership_of(&self, peer: &PeerId) -> ApiResult<MembershipView> {
        let community = self.config().hub.slug.to_string();
        let mut conn = self.store().acquire().await?;
        let Some(binding) = store::find_binding(&mut conn, &peer.to_string()).await? else {
            drop(conn);
            let pending = self
                .store()
                .has_pending_join(&peer.to_string(), now_ms())
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
    ) -> ApiResult<Value> {
        let mut conn = self.store().acquire().await?;
        let account = match store::get_account(&mut conn, account_id).await {
            Err(StoreError::NotFound) => return Err(ApiError::NotFound("not_bound")),
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

    /// `POST /api/v1/me/bind-codes`: a new single-use code shown as `XXXXX-XXXXX`.
    pub(crate) async fn create_bind_code(&self, account_id: &str) -> ApiResult<(String, i64)> {
        let mut conn = self.store().acquire().await?;
        let account = store::get_account(&mut conn, account_id).await?;
        drop(conn);
        if account.state == State::Banned {
            return Err(ApiError::Forbidden("banned"));
        }
        let code = codes::new_code(BIND_CODE_LEN);
        let now = now_ms();
        let expires_at = now + millis(self.config().membership.bind_code_ttl);
        self.store()
            .insert_bind_code(&BindCode {
                code_hash: codes::hash(&code),
                account_id: account_id.to_owned(),
                created_at: now,
                expires_at,
            })
            .await?;
        Ok((codes::grouped(&code, 5), expires_at))
    }

    /// `POST /api/v1/peers`: binds the signing peer with a bind code.
    pub(crate) async fn bind_with_code(
        &self,
        proof: &Proof,
        bind_code: &str,
        peer_label: Option<&str>,
    ) -> ApiResult<(String, members::Standing)> {
        let label = label(peer_label)?;
        let invalid = || ApiError::BadRequest {
            code: "invalid_bind_code",
            field: Some("bind_code"),
            message: "bind_code: not valid or expired".to_owned(),
        };
        let code = codes::normalize_code(bind_code, BIND_CODE_LEN).ok_or_else(invalid)?;
        let now = now_ms();
        let peer = proof.peer.to_string();
        let mut tx = self.store().begin_write().await?;
        if store::find_binding(&mut tx, &peer).await?.is_some() {
            return Err(ApiError::Conflict("peer_already_bound"));
        }
        let account_id = store::mark_bind_code_consumed(&mut tx, &codes::hash(&code), &peer, now)
            .await?
            .ok_or_else(invalid)?;
        // Concurrent binds to one account take turns, so the peer count holds.
        store::lock_account(&mut tx, &account_id, now).await?;
        let account = store::get_account(&mut tx, &account_id).await?;
        if account.state == State::Banned {
            return Err(ApiError::Forbidden("banned"));
        }
        if store::count_bindings(&mut tx, &account_id).await?
            >= i64::from(self.config().membership.max_peers_per_account)
        {
            return Err(ApiError::Conflict("too_many_peers"));
        }
        let binding = binding_for(
            &account_id,
            &peer,
            label,
            proof.ts,
            &proof.sig,
            "bind_code",
            now,
        );
        insert_binding_checked(&mut tx, &binding).await?;
        tx.commit().await.map_err(StoreError::from)?;
        self.apply_account(&account_id, &[], "bind").await?;
        Ok((
            account_id,
            members::Standing {
                state: account.state,
                tier: account.tier,
                grace_until: account.grace_until,
            },
        ))
    }

    /// Unbinds a peer of an account: its rights end and its vouchers are revoked.
    pub(crate) async fn unbind(&self, account_id: &str, peer_id: &str) -> ApiResult<()> {
        let mut tx = self.store().begin_write().await?;
        // A banned account keeps its peers: unbinding one would hand it back the default rights
        // of an open community, or let it join again under another address.
        if store::get_account(&mut tx, account_id).await?.state == State::Banned {
            return Err(ApiError::Forbidden("banned"));
        }
        if !store::delete_binding(&mut tx, account_id, peer_id).await? {
            return Err(ApiError::NotFound("not_found"));
        }
        tx.commit().await.map_err(StoreError::from)?;
        self.apply_account(account_id, &[peer_id.to_owned()], "unbind")
            .await
    }

    /// The bound peers of an account.
    pub(crate) async fn peers_of(&self, account_id: &str) -> ApiResult<Vec<store::Binding>> {
        let mut conn = self.store().acquire().await?;
        Ok(store::list_bindings(&mut conn, account_id).await?)
    }
}
