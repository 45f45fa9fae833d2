//! What the sweep deletes across tables (hub.md §6.7): expired secrets and history nobody needs
//! any more. Each unit is one write transaction over the per-table deletes.

use super::{Store, StoreError, bind_codes, email_outbox, email_tokens, revocations, sessions};

impl Store {
    /// Deletes tokens, bind codes and sessions that expired before `now_ms` (the sweep, §6.7);
    /// returns how many rows went.
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn delete_expired_secrets(&self, now_ms: i64) -> Result<u64, StoreError> {
        let mut tx = self.db.begin_write().await?;
        let tokens = email_tokens::delete_expired_email_tokens(&mut tx, now_ms).await?;
        let codes = bind_codes::delete_expired_bind_codes(&mut tx, now_ms).await?;
        let sessions = sessions::delete_expired_sessions(&mut tx, now_ms).await?;
        tx.commit().await?;
        Ok(tokens + codes + sessions)
    }

    /// Deletes revocations recorded before `revocations_before` (every voucher they revoke has
    /// expired) and outbox rows sent or abandoned before `mail_before`; how many rows went.
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn delete_old_history(
        &self,
        revocations_before: i64,
        mail_before: i64,
    ) -> Result<u64, StoreError> {
        let mut tx = self.db.begin_write().await?;
        let revocations =
            revocations::delete_revocations_before(&mut tx, revocations_before).await?;
        let mail = email_outbox::delete_finished_emails(&mut tx, mail_before).await?;
        tx.commit().await?;
        Ok(revocations + mail)
    }
}
