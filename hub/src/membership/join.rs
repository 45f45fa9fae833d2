//! Joining (hub.md §6.2): the join request in every join mode, open-mode accounts (also made by
//! autojoin), and what confirming a join link does to the account — activation per join mode and
//! the bind of the joining device.

use shared::ids::Ed25519PeerId;

use super::bindings::{Proof, binding_for, insert_binding_checked, label};
use super::verify::TokenPurpose;
use super::{Error, Membership, Result, codes};
use crate::config::JoinMode;
use crate::members::{Standing, State, Tier};
use crate::store::{self, Account, EmailToken, StoreError};
use crate::utc::millis;

/// Invite codes: 12 Crockford base32 characters (hub.md §9).
pub(crate) const INVITE_CODE_LEN: usize = 12;

/// The body of `POST /api/v1/join`.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub(crate) struct JoinRequest {
    pub(crate) email: Option<String>,
    pub(crate) invite_code: Option<String>,
    pub(crate) message: Option<String>,
    pub(crate) label: Option<String>,
}

/// What a join did.
#[derive(Debug, Clone)]
pub(crate) enum JoinOutcome {
    /// A link is on its way (or, to prevent enumeration, looks as if it were).
    CheckEmail { expires_at: i64 },
    /// Open mode, signed, no email: the account exists and is active.
    Active {
        account_id: String,
        state: State,
        tier: Tier,
    },
}

/// Checks an email field; the normalized address.
pub(crate) fn email_field(email: &str) -> Result<String> {
    codes::normalize_email(email).ok_or(Error::InvalidEmail)
}

impl Membership {
    /// `POST /api/v1/join` (hub.md §6.2). `email` is already normalized by the caller (which
    /// rate-limits by it).
    pub(crate) async fn join(
        &self,
        request: &JoinRequest,
        email: Option<&str>,
        proof: Option<&Proof>,
        ip: &str,
    ) -> Result<JoinOutcome> {
        let config = self.config();
        let mode = config.membership.join_mode;
        let label = label(request.label.as_deref())?;
        if let Some(proof) = proof {
            let mut conn = self.store().acquire().await?;
            let peer = proof.peer.to_string();
            if store::find_binding(&mut conn, &peer).await?.is_some() {
                return Err(Error::PeerAlreadyBound { peer });
            }
        }
        let Some(email) = email else {
            return match (mode, proof) {
                (JoinMode::Open, Some(proof)) => {
                    let (account_id, standing) =
                        self.create_open_account(proof, label, "join").await?;
                    Ok(JoinOutcome::Active {
                        account_id,
                        state: standing.state,
                        tier: standing.tier,
                    })
                }
                _ => Err(Error::EmailRequired),
            };
        };
        let invite_code = match mode {
            JoinMode::Invite => {
                let code = request
                    .invite_code
                    .as_deref()
                    .filter(|c| !c.trim().is_empty())
                    .ok_or(Error::InviteRequired)?;
                let code =
                    codes::normalize_code(code, INVITE_CODE_LEN).ok_or(Error::InvalidInvite)?;
                let mut conn = self.store().acquire().await?;
                let usable = store::find_invite(&mut conn, &code)
                    .await?
                    .is_some_and(|invite| invite.is_usable(self.now_ms()));
                if !usable {
                    return Err(Error::InvalidInvite);
                }
                Some(code)
            }
            _ => None,
        };
        let message = match mode {
            JoinMode::Application => {
                let message = request.message.as_deref().map(str::trim).unwrap_or("");
                if message.is_empty() {
                    return Err(Error::MessageRequired);
                }
                if message.chars().count() > config.membership.application_max_chars {
                    return Err(Error::MessageTooLong);
                }
                Some(message.to_owned())
            }
            _ => None,
        };
        let now = self.now_ms();
        let expires_at = now + millis(config.email.token_ttl);
        let mut tx = self.store().begin_write().await?;
        let account = match store::find_account_by_email(&mut tx, email).await? {
            Some(account) if account.state == State::Banned => {
                // Same answer as for everyone else; banned addresses get no mail (§6.8 rule 6).
                self.count_suppressed("join");
                return Ok(JoinOutcome::CheckEmail { expires_at });
            }
            Some(account) => account.id,
            None => {
                let id = uuid::Uuid::now_v7().to_string();
                let account = Account {
                    id: id.clone(),
                    email: Some(email.to_owned()),
                    email_verified_at: None,
                    state: State::PendingEmail,
                    tier: Tier::Member,
                    created_at: now,
                };
                store::insert_account(&mut tx, &account, now).await?;
                id
            }
        };
        let token = EmailToken {
            token_hash: String::new(),
            purpose: TokenPurpose::Join.as_str().to_owned(),
            email: email.to_owned(),
            account_id: Some(account),
            peer_id: proof.map(|p| p.peer.to_string()),
            peer_label: label,
            peer_proof_ts: proof.map(|p| p.ts),
            peer_proof_sig: proof.map(|p| p.sig.clone()),
            invite_code,
            message,
            request_ip: Some(ip.to_owned()),
            created_at: now,
            expires_at,
            consumed_at: None,
        };
        self.send_token(&mut tx, token).await?;
        tx.commit().await.map_err(StoreError::from)?;
        self.wake_outbox();
        Ok(JoinOutcome::CheckEmail { expires_at })
    }

    /// Open mode, signed, no email (or autojoin): an email-less active account bound to the
    /// signer at once.
    pub(crate) async fn create_open_account(
        &self,
        proof: &Proof,
        label: Option<String>,
        via: &str,
    ) -> Result<(String, Standing)> {
        let now = self.now_ms();
        let id = uuid::Uuid::now_v7().to_string();
        let mut tx = self.store().begin_write().await?;
        let account = Account {
            id: id.clone(),
            email: None,
            email_verified_at: None,
            state: State::Active,
            tier: Tier::Member,
            created_at: now,
        };
        store::insert_account(&mut tx, &account, now).await?;
        let binding = binding_for(
            &id,
            &proof.peer.to_string(),
            label,
            proof.ts,
            &proof.sig,
            via,
            now,
        );
        insert_binding_checked(&mut tx, &binding).await?;
        let standing = self.recompute_in(&mut tx, &id, now).await?;
        tx.commit().await.map_err(StoreError::from)?;
        self.apply_account(&id, &[], "join").await?;
        Ok((id, standing))
    }

    /// Open autojoin (hub.md §6.2): in an `open` community with `open_autojoin`, a peer that
    /// proved its key and has no account yet gets an email-less `active` account bound to it.
    /// Cheap when nothing is to be done (one table lookup); a failure is logged, never fatal —
    /// the peer keeps the default rights of an open community.
    /// `admit` is asked last, only when an account would be created: the caller's rate limit
    /// (an account per fresh key must not be free).
    pub(crate) async fn autojoin(
        &self,
        peer: &Ed25519PeerId,
        proof_ts: i64,
        proof_sig: &str,
        admit: impl FnOnce() -> bool,
    ) {
        let membership = &self.inner.config.membership;
        if membership.join_mode != JoinMode::Open
            || !membership.open_autojoin
            || self.entitlements().has_entry(&peer.peer_id())
        {
            return;
        }
        // A peer whose email join waits for its link is bound by that link, not here (binding it
        // now would make the link fail with `peer_already_bound`).
        match self
            .store()
            .has_pending_join(&peer.to_string(), self.now_ms())
            .await
        {
            Ok(false) if admit() => {}
            Ok(_) => return,
            Err(error) => {
                tracing::warn!(%peer, %error, "open autojoin skipped: database unavailable");
                return;
            }
        }
        let proof = Proof {
            peer: *peer,
            ts: proof_ts,
            sig: proof_sig.to_owned(),
        };
        if let Err(error) = self.create_open_account(&proof, None, "autojoin").await {
            tracing::warn!(%peer, %error, "open autojoin failed; the peer keeps the open default rights");
        }
    }

    /// A join token: verify a pending account per the join mode (§6.2) or, for a verified one,
    /// add the device (§6.8 rule 8); then bind the token's peer.
    pub(super) async fn consume_join(
        &self,
        tx: &mut sqlx::AnyConnection,
        token: &EmailToken,
        bind: Option<bool>,
        now: i64,
    ) -> Result<(String, Option<String>)> {
        let Some(account_id) = &token.account_id else {
            return Err(Error::InvalidToken);
        };
        // Concurrent links of one account (activation, the peer count) take turns.
        store::lock_account(tx, account_id, now).await?;
        let account = store::get_account(tx, account_id).await?;
        if account.state == State::Banned {
            return Err(Error::Banned {
                account_id: account.id,
            });
        }
        // An address verified already may receive a join anyone started: its device is added
        // only when the owner asked for it (hub.md §6.8 rule 8).
        let first_verification = !account.state.is_verified();
        let bind = bind.unwrap_or(first_verification);
        if first_verification {
            self.activate(tx, &account.id, token, now).await?;
        }
        let bound = match (&token.peer_id, token.peer_proof_ts, &token.peer_proof_sig) {
            (Some(peer), Some(ts), Some(sig)) if bind => {
                if store::count_bindings(tx, &account.id).await?
                    >= i64::from(self.config().membership.max_peers_per_account)
                {
                    return Err(Error::TooManyPeers {
                        account_id: account.id,
                    });
                }
                let binding = binding_for(
                    &account.id,
                    peer,
                    token.peer_label.clone(),
                    ts,
                    sig,
                    "join",
                    now,
                );
                insert_binding_checked(tx, &binding).await?;
                Some(peer.clone())
            }
            _ => None,
        };
        Ok((account.id, bound))
    }

    /// The first verification of an address: `active`, or `pending_approval` for applications and
    /// exhausted invites.
    async fn activate(
        &self,
        tx: &mut sqlx::AnyConnection,
        account_id: &str,
        token: &EmailToken,
        now: i64,
    ) -> Result<()> {
        let mode = self.config().membership.join_mode;
        let invite = match (&token.invite_code, mode) {
            (Some(code), JoinMode::Invite) => Some(code.as_str()),
            _ => None,
        };
        if !store::mark_email_verified(tx, account_id, invite, now).await? {
            // Another link of this account verified it concurrently; that one activated it.
            return Ok(());
        }
        let approved = match mode {
            JoinMode::Application => false,
            JoinMode::Invite => match invite {
                Some(code) => store::mark_invite_used(tx, code, now).await?,
                None => false,
            },
            JoinMode::Open | JoinMode::Email => true,
        };
        let state = if approved {
            State::Active
        } else {
            State::PendingApproval
        };
        let pending = Standing {
            state,
            tier: Tier::Member,
            grace_until: None,
        };
        store::update_standing(tx, account_id, &pending, now).await?;
        if approved {
            self.recompute_in(tx, account_id, now).await?;
        } else {
            // Applications, and invites whose uses ran out: an admin decides (§9); the row also
            // tells unban which state to return to.
            store::insert_application(
                tx,
                &store::Application {
                    id: uuid::Uuid::now_v7().to_string(),
                    account_id: Some(account_id.to_owned()),
                    email: token.email.clone(),
                    message: token.message.clone().unwrap_or_else(|| {
                        "(joined with an invite that had no use left)".to_owned()
                    }),
                    status: "pending".to_owned(),
                    created_at: now,
                    decided_at: None,
                    decided_by: None,
                    decision_reason: None,
                },
            )
            .await?;
        }
        Ok(())
    }
}
