//! Join, email verification, resend and login (hub.md §6.2, §6.8, §6.10).

use libp2p::PeerId;
use shared::ids::Ed25519PeerId;

use super::codes;
use super::{Membership, is_verified};
use crate::config::JoinMode;
use crate::http::{ApiError, ApiResult};
use crate::members::{State, Tier};
use crate::store::{self, Account, Binding, EmailToken, NewEmail, Session, StoreError};
use crate::utc::{millis, now_ms};

/// Labels are shown to the account holder; keep them short.
const MAX_LABEL_CHARS: usize = 64;
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

/// A PeerSig that proved a peer's key on the request.
#[derive(Debug, Clone)]
pub(crate) struct Proof {
    pub(crate) peer: Ed25519PeerId,
    pub(crate) ts: i64,
    pub(crate) sig: String,
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

/// What `GET /api/v1/verify` shows about a token.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct TokenInfo {
    pub(crate) purpose: String,
    pub(crate) email_hint: String,
    pub(crate) expires_at: i64,
    pub(crate) consumed: bool,
    /// The device a join link binds when confirmed (shown so nobody adds a stranger's device).
    pub(crate) peer_id: Option<String>,
    /// Its label.
    pub(crate) peer_label: Option<String>,
}

/// What consuming a token did.
#[derive(Debug, Clone)]
pub(crate) struct Verified {
    pub(crate) purpose: String,
    pub(crate) account_id: String,
    pub(crate) state: State,
    pub(crate) tier: Tier,
    pub(crate) bound_peer: Option<String>,
    /// The new session's cookie value.
    pub(crate) session: String,
}

fn bad(code: &'static str, field: &'static str, message: &str) -> ApiError {
    ApiError::BadRequest {
        code,
        field: Some(field),
        message: message.to_owned(),
    }
}

/// Checks and trims an optional device label.
pub(crate) fn label(label: Option<&str>) -> ApiResult<Option<String>> {
    match label.map(str::trim) {
        None | Some("") => Ok(None),
        Some(l) if l.chars().count() > MAX_LABEL_CHARS || l.chars().any(char::is_control) => {
            Err(bad(
                "invalid_field",
                "label",
                "label: at most 64 characters, no control characters",
            ))
        }
        Some(l) => Ok(Some(l.to_owned())),
    }
}

/// Checks an email field; the normalized address.
pub(crate) fn email_field(email: &str) -> ApiResult<String> {
    codes::normalize_email(email)
        .ok_or_else(|| bad("invalid_field", "email", "email: not a valid address"))
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
    ) -> ApiResult<JoinOutcome> {
        let config = self.config();
        let mode = config.membership.join_mode;
        let label = label(request.label.as_deref())?;
        if let Some(proof) = proof {
            let mut conn = self.store().acquire().await?;
            if store::find_binding(&mut conn, &proof.peer.to_string())
                .await?
                .is_some()
            {
                return Err(ApiError::Conflict("peer_already_bound"));
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
                _ => Err(bad("email_required", "email", "email: required to join")),
            };
        };
        let invite_code = match mode {
            JoinMode::Invite => {
                let code = request
                    .invite_code
                    .as_deref()
                    .filter(|c| !c.trim().is_empty())
                    .ok_or_else(|| {
                        bad("invite_required", "invite_code", "invite_code: required")
                    })?;
                let code = codes::normalize_code(code, INVITE_CODE_LEN).ok_or_else(|| {
                    bad("invalid_invite", "invite_code", "invite_code: not valid")
                })?;
                let mut conn = self.store().acquire().await?;
                let usable = store::find_invite(&mut conn, &code)
                    .await?
                    .is_some_and(|invite| invite.is_usable(now_ms()));
                if !usable {
                    return Err(bad(
                        "invalid_invite",
                        "invite_code",
                        "invite_code: not valid",
                    ));
                }
                Some(code)
            }
            _ => None,
        };
        let message = match mode {
            JoinMode::Application => {
                let message = request.message.as_deref().map(str::trim).unwrap_or("");
                if message.is_empty() {
                    return Err(bad("message_required", "message", "message: required"));
                }
                if message.chars().count() > config.membership.application_max_chars {
                    return Err(bad(
                        "invalid_field",
                        "message",
                        "message: longer than this community accepts",
                    ));
                }
                Some(message.to_owned())
            }
            _ => None,
        };
        let now = now_ms();
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
            purpose: "join".to_owned(),
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
    ) -> ApiResult<(String, crate::members::Standing)> {
        let now = now_ms();
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

    /// Creates the token row and its outbox mail in the caller's transaction (§6.8 rule 5a).
    async fn send_token(
        &self,
        tx: &mut sqlx::AnyConnection,
        mut token: EmailToken,
    ) -> ApiResult<String> {
        let secret = codes::new_secret();
        token.token_hash = codes::hash(&secret);
        store::insert_email_token(tx, &token).await?;
        let community = &self.config().hub.name;
        let (subject, intro) = match token.purpose.as_str() {
            "login" => (
                format!("Sign in to {community}"),
                format!("Open this link to sign in to {community}:"),
            ),
            "change_email" => (
                format!("Confirm your email for {community}"),
                format!("Open this link to use this address for your {community} account:"),
            ),
            _ => (
                format!("Confirm your email for {community}"),
                format!("Open this link to confirm your email address for {community}:"),
            ),
        };
        let link = format!("{}/verify?token={secret}", self.external_url());
        let device = match (&token.peer_id, &token.peer_label) {
            (Some(peer), Some(label)) => {
                format!(
                    "\nConfirming also adds the device \"{label}\" ({peer}) to your account; the page lets you confirm without it.\n"
                )
            }
            (Some(peer), None) => format!(
                "\nConfirming also adds the device {peer} to your account; the page lets you confirm without it.\n"
            ),
            _ => String::new(),
        };
        let body = format!(
            "{intro}\n\n{link}\n\nThe link expires at {} UTC.\n{device}\nIf you did not ask for this, ignore this message.\n",
            crate::utc::format(token.expires_at)
        );
        let id = uuid::Uuid::now_v7().to_string();
        let mail = NewEmail {
            message_id: format!("<{id}@{}>", mail_host(self.external_url())),
            id,
            purpose: token.purpose.clone(),
            to_addr: token.email.clone(),
            subject,
            body,
        };
        store::insert_email(tx, &mail, token.created_at).await?;
        Ok(token.token_hash)
    }

    /// Counts a message not sent because its address is banned.
    fn count_suppressed(&self, purpose: &'static str) {
        self.inner
            .metrics
            .email_sent
            .get_or_create(&crate::metrics::EmailLabels {
                purpose,
                outcome: "suppressed",
            })
            .inc();
    }

    /// `GET /api/v1/verify`: what a token is for, without consuming it (§6.8 rule 2).
    pub(crate) async fn inspect_token(&self, secret: &str) -> ApiResult<TokenInfo> {
        let token = self.usable_token(secret, now_ms()).await?;
        Ok(TokenInfo {
            purpose: token.purpose,
            email_hint: codes::email_hint(&token.email),
            expires_at: token.expires_at,
            consumed: false,
            peer_id: token.peer_id,
            peer_label: token.peer_label,
        })
    }

    async fn usable_token(&self, secret: &str, now: i64) -> ApiResult<EmailToken> {
        if !codes::is_secret_shaped(secret) {
            return Err(ApiError::NotFound("invalid_token"));
        }
        let mut conn = self.store().acquire().await?;
        let token = store::find_email_token(&mut conn, &codes::hash(secret))
            .await?
            .ok_or(ApiError::NotFound("invalid_token"))?;
        check_token(&token, now)?;
        Ok(token)
    }

    /// `POST /api/v1/verify`: consumes a token in one transaction — activation per join mode,
    /// the bind of the token's peer, a new session — then applies the entitlements.
    pub(crate) async fn verify(
        &self,
        secret: &str,
        ip: &str,
        user_agent: Option<&str>,
        bind: bool,
    ) -> ApiResult<Verified> {
        if !codes::is_secret_shaped(secret) {
            return Err(ApiError::NotFound("invalid_token"));
        }
        let now = now_ms();
        let hash = codes::hash(secret);
        let mut tx = self.store().begin_write().await?;
        let token = store::find_email_token(&mut tx, &hash)
            .await?
            .ok_or(ApiError::NotFound("invalid_token"))?;
        check_token(&token, now)?;
        if !store::mark_email_token_consumed(&mut tx, &hash, now).await? {
            return Err(ApiError::Conflict("token_used"));
        }
        let (account_id, bound_peer) = match token.purpose.as_str() {
            "join" => self.consume_join(&mut tx, &token, bind, now).await?,
            "login" => {
                let account = store::find_account_by_email(&mut tx, &token.email)
                    .await?
                    .filter(|a| is_verified(a.state))
                    .ok_or(ApiError::NotFound("invalid_token"))?;
                (account.id, None)
            }
            _ => (self.consume_change_email(&mut tx, &token, now).await?, None),
        };
        let account = store::get_account(&mut tx, &account_id).await?;
        if account.state == State::Banned {
            return Err(ApiError::Forbidden("banned"));
        }
        let session = codes::new_secret();
        let ttl_days = i64::try_from(self.config().membership.session_ttl_days).unwrap_or(3650);
        store::insert_session(
            &mut tx,
            &Session {
                id_hash: codes::hash(&session),
                account_id: account_id.clone(),
                created_at: now,
                expires_at: now + ttl_days * 86_400_000,
                last_used_at: now,
                ip: Some(ip.to_owned()),
                user_agent: user_agent.map(|ua| ua.chars().take(256).collect()),
            },
        )
        .await?;
        tx.commit().await.map_err(StoreError::from)?;
        self.apply_account(&account_id, &[], "verify").await?;
        tracing::info!(account = %account_id, purpose = %token.purpose, bound = ?bound_peer, "email token consumed");
        Ok(Verified {
            purpose: token.purpose,
            account_id,
            state: account.state,
            tier: account.tier,
            bound_peer,
            session,
        })
    }

    /// A join token: verify a pending account per the join mode (§6.2) or, for a verified one,
    /// add the device (§6.8 rule 8); then bind the token's peer.
    async fn consume_join(
        &self,
        tx: &mut sqlx::AnyConnection,
        token: &EmailToken,
        bind: bool,
        now: i64,
    ) -> ApiResult<(String, Option<String>)> {
        let Some(account_id) = &token.account_id else {
            return Err(ApiError::NotFound("invalid_token"));
        };
        // Concurrent links of one account (activation, the peer count) take turns.
        store::lock_account(tx, account_id, now).await?;
        let account = store::get_account(tx, account_id).await?;
        if account.state == State::Banned {
            return Err(ApiError::Forbidden("banned"));
        }
        if account.state == State::PendingEmail {
            self.activate(tx, &account.id, token, now).await?;
        }
        let bound = match (&token.peer_id, token.peer_proof_ts, &token.peer_proof_sig) {
            (Some(peer), Some(ts), Some(sig)) if bind => {
                if store::count_bindings(tx, &account.id).await?
                    >= i64::from(self.config().membership.max_peers_per_account)
                {
                    return Err(ApiError::Conflict("too_many_peers"));
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
    ) -> ApiResult<()> {
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
        let pending = crate::members::Standing {
            state,
            tier: crate::members::Tier::Member,
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

    /// A `change_email` token: moves the account to the new address (§6.8 rule 8).
    async fn consume_change_email(
        &self,
        tx: &mut sqlx::AnyConnection,
        token: &EmailToken,
        now: i64,
    ) -> ApiResult<String> {
        let account_id = token
            .account_id
            .clone()
            .ok_or(ApiError::NotFound("invalid_token"))?;
        if let Some(holder) = store::find_account_by_email(tx, &token.email).await? {
            if holder.id == account_id {
                return Ok(account_id);
            }
            if is_verified(holder.state) {
                return Err(ApiError::Conflict("email_taken"));
            }
            store::delete_account(tx, &holder.id).await?;
        }
        store::update_email(tx, &account_id, &token.email, now).await?;
        // Links sent before the change (to this or an earlier address) must not act on the
        // account any more.
        store::delete_account_tokens_except(tx, &account_id, &token.token_hash).await?;
        Ok(account_id)
    }

    /// `POST /api/v1/verify/resend` (§6.8 rule 7): a new token with the context of the newest
    /// unconsumed join token; older ones are deleted. Unknown addresses change nothing.
    pub(crate) async fn resend(&self, email: &str) -> ApiResult<()> {
        let now = now_ms();
        let mut tx = self.store().begin_write().await?;
        let Some(newest) = store::find_newest_join_token(&mut tx, email, now).await? else {
            return Ok(());
        };
        if let Some(account) = store::find_account_by_email(&mut tx, email).await?
            && account.state == State::Banned
        {
            self.count_suppressed("join");
            return Ok(());
        }
        let expires_at = now + millis(self.config().email.token_ttl);
        let token = EmailToken {
            created_at: now,
            expires_at,
            consumed_at: None,
            ..newest
        };
        let kept = self.send_token(&mut tx, token).await?;
        store::delete_join_tokens_except(&mut tx, email, &kept).await?;
        tx.commit().await.map_err(StoreError::from)?;
        self.wake_outbox();
        Ok(())
    }

    /// `POST /api/v1/login`: a sign-in link for a verified, unbanned account; nothing otherwise.
    pub(crate) async fn login(&self, email: &str, ip: &str) -> ApiResult<()> {
        let now = now_ms();
        let mut tx = self.store().begin_write().await?;
        let Some(account) = store::find_account_by_email(&mut tx, email).await? else {
            return Ok(());
        };
        if account.state == State::Banned {
            self.count_suppressed("login");
            return Ok(());
        }
        if !is_verified(account.state) {
            return Ok(());
        }
        let token = plain_token(
            "login",
            email,
            Some(account.id),
            ip,
            now,
            self.config().email.token_ttl,
        );
        self.send_token(&mut tx, token).await?;
        tx.commit().await.map_err(StoreError::from)?;
        self.wake_outbox();
        Ok(())
    }

    /// `POST /api/v1/me/email`: a `change_email` link to the new address.
    pub(crate) async fn request_email_change(
        &self,
        account_id: &str,
        email: &str,
        ip: &str,
    ) -> ApiResult<()> {
        let now = now_ms();
        let mut tx = self.store().begin_write().await?;
        if store::get_account(&mut tx, account_id).await?.state == State::Banned {
            return Err(ApiError::Forbidden("banned"));
        }
        let token = plain_token(
            "change_email",
            email,
            Some(account_id.to_owned()),
            ip,
            now,
            self.config().email.token_ttl,
        );
        self.send_token(&mut tx, token).await?;
        tx.commit().await.map_err(StoreError::from)?;
        self.wake_outbox();
        Ok(())
    }

    /// The account of a session cookie value, renewing the session after half its life.
    pub(crate) async fn session_account(&self, cookie: &str) -> ApiResult<Option<String>> {
        Ok(self.session(cookie).await?.map(|(account, _)| account))
    }

    /// The account of a session cookie value and whether the session was renewed by this call
    /// (the caller then re-sends the cookie with the new lifetime).
    pub(crate) async fn session(&self, cookie: &str) -> ApiResult<Option<(String, bool)>> {
        if !codes::is_secret_shaped(cookie) {
            return Ok(None);
        }
        let now = now_ms();
        let ttl =
            i64::try_from(self.config().membership.session_ttl_days).unwrap_or(3650) * 86_400_000;
        let renew_before = now + ttl / 2;
        let session = self
            .store()
            .find_and_renew_session(&codes::hash(cookie), now, renew_before, now + ttl)
            .await?;
        Ok(session.map(|s| (s.account_id, s.expires_at < renew_before)))
    }

    /// Ends a session.
    pub(crate) async fn logout(&self, cookie: &str) -> ApiResult<()> {
        if codes::is_secret_shaped(cookie) {
            self.store().delete_session(&codes::hash(cookie)).await?;
        }
        Ok(())
    }

    /// The account a peer is bound to.
    pub(crate) async fn account_of_peer(&self, peer: &PeerId) -> ApiResult<Option<String>> {
        let mut conn = self.store().acquire().await?;
        Ok(store::find_binding(&mut conn, &peer.to_string())
            .await?
            .map(|b| b.account_id))
    }
}

fn check_token(token: &EmailToken, now: i64) -> ApiResult<()> {
    if token.consumed_at.is_some() {
        return Err(ApiError::Conflict("token_used"));
    }
    if token.expires_at <= now {
        return Err(ApiError::Gone("token_expired"));
    }
    Ok(())
}

fn plain_token(
    purpose: &str,
    email: &str,
    account_id: Option<String>,
    ip: &str,
    now: i64,
    ttl: std::time::Duration,
) -> EmailToken {
    EmailToken {
        token_hash: String::new(),
        purpose: purpose.to_owned(),
        email: email.to_owned(),
        account_id,
        peer_id: None,
        peer_label: None,
        peer_proof_ts: None,
        peer_proof_sig: None,
        invite_code: None,
        message: None,
        request_ip: Some(ip.to_owned()),
        created_at: now,
        expires_at: now + millis(ttl),
        consumed_at: None,
    }
}

pub(crate) fn binding_for(
    account_id: &str,
    peer: &str,
    label: Option<String>,
    proof_ts: i64,
    proof_sig: &str,
    via: &str,
    now: i64,
) -> Binding {
    Binding {
        peer_id: peer.to_owned(),
        account_id: account_id.to_owned(),
        label,
        bound_via: via.to_owned(),
        proof_ts,
        proof_sig: proof_sig.to_owned(),
        bound_at: now,
    }
}

/// Inserts a binding; a PeerId bound already is 409 `peer_already_bound`.
pub(crate) async fn insert_binding_checked(
    tx: &mut sqlx::AnyConnection,
    binding: &Binding,
) -> ApiResult<()> {
    match store::insert_binding(tx, binding).await {
        Err(StoreError::Conflict) => Err(ApiError::Conflict("peer_already_bound")),
        other => Ok(other?),
    }
}

/// The host of the external URL, for Message-IDs.
fn mail_host(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    match host.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) && !h.is_empty() => h,
        _ if host.is_empty() => "goop-hub",
        _ => host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mail_host_is_the_bare_host() {
        assert_eq!(mail_host("https://hub.example.org/base"), "hub.example.org");
        assert_eq!(mail_host("http://127.0.0.1:8787"), "127.0.0.1");
        assert_eq!(mail_host(""), "goop-hub");
    }

    #[test]
    fn labels_are_trimmed_and_bounded() {
        assert_eq!(label(Some("  laptop ")).unwrap().as_deref(), Some("laptop"));
        assert_eq!(label(Some("")).unwrap(), None);
        assert!(label(Some(&"x".repeat(65))).is_err());
        assert!(label(Some("a\nb")).is_err());
    }
}
