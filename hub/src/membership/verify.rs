//! Email links (hub.md §6.8): their purposes, sending one with its outbox mail, inspecting and
//! consuming one (which opens a session), and resending a join link.

use super::{Error, Membership, Result, codes};
use crate::email::messages::{self, Device};
use crate::members::{State, Tier};
use crate::store::{self, EmailToken, NewEmail, StoreError};
use crate::utc::millis;

/// What an email link does when it is opened (the `purpose` of its stored row).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum TokenPurpose {
    /// Confirms a join (and binds the joining peer).
    Join,
    /// Signs in to a verified account.
    Login,
    /// Moves an account to a new address.
    ChangeEmail,
}

/// A stored purpose this hub does not know.
#[derive(Debug, thiserror::Error)]
#[error("unknown email token purpose {0:?}")]
pub(crate) struct UnknownPurpose(String);

impl TokenPurpose {
    /// Every purpose.
    pub(crate) const ALL: [Self; 3] = [Self::Join, Self::Login, Self::ChangeEmail];

    /// The stored word.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Join => "join",
            Self::Login => "login",
            Self::ChangeEmail => "change_email",
        }
    }

    /// The purpose a stored word names.
    pub(crate) fn parse(text: &str) -> std::result::Result<Self, UnknownPurpose> {
        Self::ALL
            .into_iter()
            .find(|purpose| purpose.as_str() == text)
            .ok_or_else(|| UnknownPurpose(text.to_owned()))
    }
}

/// What `GET /api/v1/verify` shows about a token.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct TokenInfo {
    pub(crate) purpose: TokenPurpose,
    pub(crate) email_hint: String,
    pub(crate) expires_at: i64,
    pub(crate) consumed: bool,
    /// The device a join link binds when confirmed (shown so nobody adds a stranger's device).
    pub(crate) peer_id: Option<String>,
    /// Its label.
    pub(crate) peer_label: Option<String>,
    /// Whether the link's account has a verified address already: then confirming adds the device
    /// only when asked (`bind: true`, hub.md §6.8 rule 8), since anyone can start a join for an
    /// address.
    pub(crate) account_verified: bool,
}

/// What consuming a token did.
#[derive(Debug, Clone)]
pub(crate) struct Verified {
    pub(crate) purpose: TokenPurpose,
    pub(crate) account_id: String,
    pub(crate) state: State,
    pub(crate) tier: Tier,
    pub(crate) bound_peer: Option<String>,
    /// The new session's cookie value.
    pub(crate) session: String,
}

impl Membership {
    /// Creates the token row and its outbox mail in the caller's transaction (§6.8 rule 5a).
    pub(super) async fn send_token(
        &self,
        tx: &mut sqlx::AnyConnection,
        token: EmailToken,
    ) -> Result<String> {
        let purpose = TokenPurpose::parse(&token.purpose)?;
        let hub_name = self.config().hub.name.clone();
        let peer_id = token.peer_id.clone();
        let peer_label = token.peer_label.clone();
        self.send_token_with(tx, token, |link, expires_at| {
            let device = peer_id.as_deref().map(|peer_id| Device {
                peer_id,
                label: peer_label.as_deref(),
            });
            messages::email_link(&hub_name, purpose, link, expires_at, device)
        })
        .await
    }

    /// Creates `token` (its hash set from a fresh secret) and queues `text(link, expires_at)` to
    /// its address, in the caller's transaction. Returns the token's hash.
    pub(super) async fn send_token_with(
        &self,
        tx: &mut sqlx::AnyConnection,
        mut token: EmailToken,
        text: impl FnOnce(&str, i64) -> messages::Text,
    ) -> Result<String> {
        let secret = codes::new_secret();
        token.token_hash = codes::hash(&secret);
        store::insert_email_token(tx, &token).await?;
        let link = format!("{}/verify?token={secret}", self.external_url());
        let text = text(&link, token.expires_at);
        self.queue_mail(tx, &token, text).await?;
        Ok(token.token_hash)
    }

    /// Queues the outbox mail of `token` (§6.8 rule 5a).
    async fn queue_mail(
        &self,
        tx: &mut sqlx::AnyConnection,
        token: &EmailToken,
        text: messages::Text,
    ) -> Result<()> {
        let id = uuid::Uuid::now_v7().to_string();
        let mail = NewEmail {
            message_id: messages::message_id(&id, self.external_url()),
            id,
            purpose: token.purpose.clone(),
            to_addr: token.email.clone(),
            subject: text.subject,
            body: text.body,
        };
        store::insert_email(tx, &mail, token.created_at).await?;
        Ok(())
    }

    /// Sends a link without join context (sign-in, address change) for `account_id` and commits
    /// `tx` with it.
    pub(super) async fn send_link(
        &self,
        mut tx: sqlx::Transaction<'static, sqlx::Any>,
        purpose: TokenPurpose,
        email: &str,
        account_id: String,
        ip: &str,
        now: i64,
    ) -> Result<()> {
        let ttl = self.config().email.token_ttl;
        let token = plain_token(purpose, email, Some(account_id), ip, now, ttl);
        self.send_token(&mut tx, token).await?;
        tx.commit().await.map_err(StoreError::from)?;
        self.wake_outbox();
        Ok(())
    }

    /// Counts a message not sent because its address is banned.
    pub(super) fn count_suppressed(&self, purpose: &'static str) {
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
    pub(crate) async fn inspect_token(&self, secret: &str) -> Result<TokenInfo> {
        let token = self.usable_token(secret, self.now_ms()).await?;
        let account_verified = match &token.account_id {
            Some(id) => {
                let mut conn = self.store().acquire().await?;
                match store::get_account(&mut conn, id).await {
                    Ok(account) => account.state.is_verified(),
                    Err(StoreError::NotFound) => false,
                    Err(other) => return Err(other.into()),
                }
            }
            None => false,
        };
        Ok(TokenInfo {
            purpose: TokenPurpose::parse(&token.purpose)?,
            email_hint: codes::email_hint(&token.email),
            expires_at: token.expires_at,
            consumed: false,
            peer_id: token.peer_id,
            peer_label: token.peer_label,
            account_verified,
        })
    }

    async fn usable_token(&self, secret: &str, now: i64) -> Result<EmailToken> {
        if !codes::is_secret_shaped(secret) {
            return Err(Error::InvalidToken);
        }
        let mut conn = self.store().acquire().await?;
        let token = store::find_email_token(&mut conn, &codes::hash(secret))
            .await?
            .ok_or(Error::InvalidToken)?;
        check_token(&token, now)?;
        Ok(token)
    }

    /// `POST /api/v1/verify`: consumes a token in one transaction — activation per join mode,
    /// the bind of the token's peer, a new session — then applies the entitlements. `bind` says
    /// whether a join link adds its device; `None` adds it only to an account whose address this
    /// link verifies for the first time (hub.md §6.8 rule 8).
    pub(crate) async fn verify(
        &self,
        secret: &str,
        ip: &str,
        user_agent: Option<&str>,
        bind: Option<bool>,
    ) -> Result<Verified> {
        if !codes::is_secret_shaped(secret) {
            return Err(Error::InvalidToken);
        }
        let now = self.now_ms();
        let hash = codes::hash(secret);
        let mut tx = self.store().begin_write().await?;
        let token = store::find_email_token(&mut tx, &hash)
            .await?
            .ok_or(Error::InvalidToken)?;
        check_token(&token, now)?;
        let purpose = TokenPurpose::parse(&token.purpose)?;
        if !store::mark_email_token_consumed(&mut tx, &hash, now).await? {
            return Err(Error::TokenUsed);
        }
        let (account_id, bound_peer) = match purpose {
            TokenPurpose::Join => self.consume_join(&mut tx, &token, bind, now).await?,
            TokenPurpose::Login => {
                let account = store::find_account_by_email(&mut tx, &token.email)
                    .await?
                    .filter(|a| a.state.is_verified())
                    .ok_or(Error::InvalidToken)?;
                (account.id, None)
            }
            TokenPurpose::ChangeEmail => {
                (self.consume_change_email(&mut tx, &token, now).await?, None)
            }
        };
        let account = store::get_account(&mut tx, &account_id).await?;
        if account.state == State::Banned {
            return Err(Error::Banned { account_id });
        }
        let session = self
            .open_session(&mut tx, &account_id, ip, user_agent, now)
            .await?;
        tx.commit().await.map_err(StoreError::from)?;
        if purpose == TokenPurpose::ChangeEmail {
            // The former address's notice with its undo link.
            self.wake_outbox();
        }
        self.apply_account(&account_id, &[], "verify").await?;
        tracing::info!(account = %account_id, purpose = purpose.as_str(), bound = ?bound_peer, "email token consumed");
        Ok(Verified {
            purpose,
            account_id,
            state: account.state,
            tier: account.tier,
            bound_peer,
            session,
        })
    }

    /// `POST /api/v1/verify/resend` (§6.8 rule 7): a new token with the context of the newest
    /// unconsumed join token; older ones are deleted. Unknown addresses change nothing.
    pub(crate) async fn resend(&self, email: &str) -> Result<()> {
        let now = self.now_ms();
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
}

fn check_token(token: &EmailToken, now: i64) -> Result<()> {
    if token.consumed_at.is_some() {
        return Err(Error::TokenUsed);
    }
    if token.expires_at <= now {
        return Err(Error::TokenExpired);
    }
    Ok(())
}

pub(super) fn plain_token(
    purpose: TokenPurpose,
    email: &str,
    account_id: Option<String>,
    ip: &str,
    now: i64,
    ttl: std::time::Duration,
) -> EmailToken {
    EmailToken {
        token_hash: String::new(),
        purpose: purpose.as_str().to_owned(),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_purpose_parse_refuses_unknown_words() {
        for purpose in [
            TokenPurpose::Join,
            TokenPurpose::Login,
            TokenPurpose::ChangeEmail,
        ] {
            assert_eq!(TokenPurpose::parse(purpose.as_str()).unwrap(), purpose);
        }
        assert_eq!(TokenPurpose::ChangeEmail.as_str(), "change_email");
        assert!(TokenPurpose::parse("reset_password").is_err());
    }
}
