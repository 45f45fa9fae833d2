//! The hub's storage: one [`Store`] over SQLite or Postgres with the portable SQL of
//! `migrations/README.md`. All of the hub's SQL lives in this module and its children; callers see
//! domain types only.
//!
//! Rules: placeholders `$1…$n`; times are unix-ms `bigint`; booleans are nullable `*_at`; ids and
//! JSON are `text`; write transactions come from [`Database::begin_write`].

mod accounts;
mod admin;
mod email_outbox;
mod hub_state;
mod invites;
mod revocations;
mod tokens;

use std::path::Path;

use shared::db::{ConnectError, Database, DatabaseConfig, DbKind, Migrations};

pub use accounts::{
    Account, AccountDetails, Binding, BoundPeer, SubscriptionSummary, account_by_email,
    account_details, binding_of, bindings_of, count_bindings, insert_account, insert_binding,
    latest_subscription, lock_account, mark_verified, remove_account, remove_binding, set_email,
    set_standing, subscription_facts,
};
pub use admin::{
    AuditEntry, Cursor, MemberQuery, MemberRow, PeerOwner, SubscriptionRow, clear_ban, clear_comp,
    count_emails, count_subscriptions, decide_applications, delete_pending_account, insert_audit,
    list_applications, list_audit, list_audit_of, list_invites, list_members, list_owners,
    list_peers_of, list_subscriptions_of, mark_banned, mark_invite_revoked, move_state, set_comp,
};
pub use email_outbox::{DueEmail, NewEmail, insert_email};
pub use invites::{
    Application, Invite, application_of, insert_application, insert_invite, invite_by_code,
    use_invite,
};
pub use revocations::{Revocation, insert_revocation};
pub use shared::db::StoreError;
pub use tokens::{
    BindCode, EmailToken, Session, consume_bind_code, consume_token, delete_account_tokens_except,
    delete_join_tokens_except, insert_session, insert_token, newest_join_token, token_by_hash,
};

static MIGRATIONS: Migrations = Migrations {
    sqlite: &sqlx::migrate!("../migrations/hub/sqlite"),
    postgres: &sqlx::migrate!("../migrations/hub/postgres"),
};

/// The hub's database. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    db: Database,
}

impl Store {
    /// Connects (retrying while the database is unreachable) and, unless disabled, migrates.
    ///
    /// # Errors
    /// [`ConnectError`] naming the database.
    pub async fn open(config: &DatabaseConfig, data_dir: &Path) -> Result<Self, ConnectError> {
        Ok(Self {
            db: Database::open(config, data_dir, &MIGRATIONS).await?,
        })
    }

    /// Begins a write transaction for the multi-statement functions of this module
    /// (`insert_account`, `insert_binding`, `insert_email`, …).
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>, StoreError> {
        Ok(self.db.begin_write().await?)
    }

    /// A pooled connection for reads through the free functions of this module.
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn acquire(&self) -> Result<sqlx::pool::PoolConnection<sqlx::Any>, StoreError> {
        Ok(self.db.pool().acquire().await?)
    }

    /// Whether `select 1` answers within a second.
    pub async fn is_reachable(&self) -> bool {
        self.db.ping().await.is_ok()
    }

    /// The dialect in use.
    pub fn kind(&self) -> DbKind {
        self.db.kind()
    }

    /// The database URL without its password.
    pub fn display_url(&self) -> &str {
        self.db.display_url()
    }

    /// Closes the pool.
    pub async fn close(&self) {
        self.db.close().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migration_versions_match_when_comparing_dialects() {
        let [sqlite, postgres] = MIGRATIONS.versions();

        assert_eq!(sqlite, postgres);
        assert!(!sqlite.is_empty());
    }
}
