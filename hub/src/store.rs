//! The hub's storage: one [`Store`] over SQLite or Postgres with the portable SQL of
//! `migrations/README.md`. All of the hub's SQL lives in this module and its children; callers see
//! domain types only.
//!
//! Rules: placeholders `$1…$n`; times are unix-ms `bigint`; booleans are nullable `*_at`; ids and
//! JSON are `text`; write transactions come from [`Database::begin_write`].
//!
//! One file per table, one function per query, named by what happens to the data (`find_*` →
//! `Option`, `get_*` → the row or [`StoreError::NotFound`], `list_*`, `count_*`, `insert_*`,
//! `update_*`, `mark_*`, `delete_*`). Single statements that join a caller's transaction are free
//! functions over `&mut AnyConnection`; the others are [`Store`] methods. `page` holds the keyset
//! paging of the admin lists, `retention` the sweep's deletes across tables.

mod accounts;
mod announcements;
mod applications;
mod audit;
mod bind_codes;
mod bindings;
mod email_outbox;
mod email_tokens;
mod hub_state;
mod invites;
mod page;
mod payments;
mod retention;
mod revocations;
mod sessions;
mod stripe_events;
mod subscriptions;

use std::path::Path;

use shared::db::{ConnectError, Database, DatabaseConfig, DbKind, Migrations};

pub use accounts::{
    Account, AccountDetails, MemberQuery, MemberRow, delete_account, delete_pending_account,
    find_account_by_email, find_stripe_customer, get_account, insert_account, list_members,
    lock_account, mark_banned, mark_comp_ended, mark_email_verified, mark_unbanned, update_comp,
    update_email, update_standing, update_state,
};
pub use accounts::{find_account_id_by_customer, mark_ever_paid, update_stripe_customer};
pub use announcements::Announcement;
pub use applications::{
    Application, find_latest_application, insert_application, list_applications,
    mark_applications_decided,
};
pub use audit::{AuditEntry, insert_audit, list_audit, list_audit_of_target, update_audit_details};
pub use bind_codes::{BindCode, mark_bind_code_consumed};
pub use bindings::{
    Binding, BoundPeer, PeerOwner, count_bindings, delete_binding, find_binding, insert_binding,
    list_bindings, list_peer_owners, list_peers_of_accounts,
};
pub use email_outbox::{DueEmail, NewEmail, count_emails_since, insert_email};
pub use email_tokens::{
    EmailToken, delete_account_tokens_except, delete_join_tokens_except, find_email_token,
    find_newest_join_token, insert_email_token, mark_email_token_consumed,
};
pub use invites::{
    Invite, find_invite, insert_invite, list_invites, mark_invite_revoked, mark_invite_used,
};
pub use payments::{Payment, insert_payment, list_payments, sum_donations_since};
pub use revocations::{Revocation, insert_revocation};
pub use sessions::{Session, delete_account_sessions, insert_session};
pub use shared::cursor::Cursor;
pub use shared::db::StoreError;
pub use stripe_events::{StripeEvent, insert_stripe_event, update_stripe_event_outcome};
pub use subscriptions::{
    SubscriptionRecord, SubscriptionRow, SubscriptionSummary, SubscriptionUpsert,
    count_subscriptions, find_latest_subscription, find_subscription, list_subscription_facts,
    list_subscriptions, upsert_subscription,
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

/// Runs a one-parameter statement inside the caller's transaction; how many rows it touched.
async fn rows_affected(
    conn: &mut sqlx::AnyConnection,
    sql: &'static str,
    value: i64,
) -> Result<u64, StoreError> {
    Ok(sqlx::query(sql)
        .bind(value)
        .execute(conn)
        .await?
        .rows_affected())
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
