//! Sessions (hub.md §6.9 rule 1, §6.10): sign-in links, the session behind a cookie (renewed after
//! half its life) and signing out.

use super::verify::TokenPurpose;
use super::{Membership, Result, codes};
use crate::members::State;
use crate::store::{self, Session};

impl Membership {
    /// Creates a session for `account_id` in the caller's transaction; the cookie value.
    pub(super) async fn open_session(
        &self,
        tx: &mut sqlx::AnyConnection,
        account_id: &str,
        ip: &str,
        user_agent: Option<&str>,
        now: i64,
    ) -> Result<String> {
        let session = codes::new_secret();
        let ttl_days = i64::try_from(self.config().membership.session_ttl_days).unwrap_or(3650);
        store::insert_session(
            tx,
            &Session {
                id_hash: codes::hash(&session),
                account_id: account_id.to_owned(),
                created_at: now,
                expires_at: now + ttl_days * 86_400_000,
                last_used_at: now,
                ip: Some(ip.to_owned()),
                user_agent: user_agent.map(|ua| ua.chars().take(256).collect()),
            },
        )
        .await?;
        Ok(session)
    }

    /// `POST /api/v1/login`: a sign-in link for a verified, unbanned account; nothing otherwise.
    pub(crate) async fn login(&self, email: &str, ip: &str) -> Result<()> {
        let now = self.now_ms();
        let mut tx = self.store().begin_write().await?;
        let Some(account) = store::find_account_by_email(&mut tx, email).await? else {
            return Ok(());
        };
        if account.state == State::Banned {
            self.count_suppressed("login");
            return Ok(());
        }
        if !account.state.is_verified() {
            return Ok(());
        }
        self.send_link(tx, TokenPurpose::Login, email, account.id, ip, now)
            .await
    }

    /// The account of a session cookie value, renewing the session after half its life.
    pub(crate) async fn session_account(&self, cookie: &str) -> Result<Option<String>> {
        Ok(self.session(cookie).await?.map(|(account, _)| account))
    }

    /// The account of a session cookie value and whether the session was renewed by this call
    /// (the caller then re-sends the cookie with the new lifetime).
    pub(crate) async fn session(&self, cookie: &str) -> Result<Option<(String, bool)>> {
        if !codes::is_secret_shaped(cookie) {
            return Ok(None);
        }
        let now = self.now_ms();
        let ttl =
            i64::try_from(self.config().membership.session_ttl_days).unwrap_or(3650) * 86_400_000;
        let renew_before = now + ttl / 2;
        let session = self
            .store()
            .find_and_renew_session(&codes::hash(cookie), now, renew_before, now + ttl)
            .await?;
        Ok(session.map(|s| (s.account_id, s.expires_at < renew_before)))
    }

    /// Ends a session; with `everywhere`, every session of its account (hub.md §6.10 "sign out
    /// everywhere").
    pub(crate) async fn logout(&self, cookie: &str, everywhere: bool) -> Result<()> {
        if !codes::is_secret_shaped(cookie) {
            return Ok(());
        }
        if everywhere && let Some(account_id) = self.session_account(cookie).await? {
            let mut tx = self.store().begin_write().await?;
            let ended = store::delete_account_sessions(&mut tx, &account_id).await?;
            tx.commit().await.map_err(crate::store::StoreError::from)?;
            tracing::info!(account = %account_id, sessions = ended, "signed out everywhere");
            return Ok(());
        }
        self.store().delete_session(&codes::hash(cookie)).await?;
        Ok(())
    }
}
