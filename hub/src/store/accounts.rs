//! `accounts` (hub.md §6.1, §6.3): insert, read, the derived standing, address changes, the sweep's
//! queries and the counts per state and tier. Admin changes are in [`moderation`], the member
//! search in [`search`], billing's customer lookups in [`stripe`].

mod moderation;
mod search;
mod stripe;

use sqlx::AnyConnection;

use super::{Store, StoreError};
use crate::members::{Standing, State, Tier};

pub use moderation::{
    delete_pending_account, mark_banned, mark_comp_ended, mark_unbanned, update_comp, update_state,
};
pub use search::{MemberQuery, MemberRow, list_members};
pub use stripe::{find_account_id_by_customer, mark_ever_paid, update_stripe_customer};

/// An account as inserted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// UUIDv7.
    pub id: String,
    /// Normalized address; `None` for accounts made by open autojoin.
    pub email: Option<String>,
    /// When the address was verified (ms).
    pub email_verified_at: Option<i64>,
    /// State.
    pub state: State,
    /// Tier.
    pub tier: Tier,
    /// Created (ms).
    pub created_at: i64,
}

/// Every column of an account (the account document, the admin views, the recompute).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountDetails {
    /// UUIDv7.
    pub id: String,
    /// Normalized address.
    pub email: Option<String>,
    /// When the address was verified (ms).
    pub email_verified_at: Option<i64>,
    /// State.
    pub state: State,
    /// Tier.
    pub tier: Tier,
    /// The invite code the account joined with.
    pub joined_via_invite: Option<String>,
    /// Comp granted at (ms).
    pub comped_at: Option<i64>,
    /// Comp ends at (ms); `None` with `comped_at` set = open-ended.
    pub comped_until: Option<i64>,
    /// The admin's note on the comp.
    pub comp_note: Option<String>,
    /// End of the grace period (ms).
    pub grace_until: Option<i64>,
    /// First paid subscription or comp (ms).
    pub ever_paid_at: Option<i64>,
    /// Banned at (ms).
    pub banned_at: Option<i64>,
    /// Why.
    pub ban_reason: Option<String>,
    /// Created (ms).
    pub created_at: i64,
    /// Last change (ms).
    pub updated_at: i64,
}

#[derive(sqlx::FromRow)]
struct DetailsRow {
    id: String,
    email: Option<String>,
    email_verified_at: Option<i64>,
    state: String,
    tier: String,
    joined_via_invite: Option<String>,
    comped_at: Option<i64>,
    comped_until: Option<i64>,
    comp_note: Option<String>,
    grace_until: Option<i64>,
    ever_paid_at: Option<i64>,
    banned_at: Option<i64>,
    ban_reason: Option<String>,
    created_at: i64,
    updated_at: i64,
}

impl TryFrom<DetailsRow> for AccountDetails {
    type Error = StoreError;

    fn try_from(r: DetailsRow) -> Result<Self, StoreError> {
        Ok(Self {
            id: r.id,
            email: r.email,
            email_verified_at: r.email_verified_at,
            state: parse_enum(r.state, "accounts.state")?,
            tier: parse_enum(r.tier, "accounts.tier")?,
            joined_via_invite: r.joined_via_invite,
            comped_at: r.comped_at,
            comped_until: r.comped_until,
            comp_note: r.comp_note,
            grace_until: r.grace_until,
            ever_paid_at: r.ever_paid_at,
            banned_at: r.banned_at,
            ban_reason: r.ban_reason,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

/// The columns of [`AccountDetails`], for `select` lists.
const DETAILS_COLUMNS: &str = "id, email, email_verified_at, state, tier, joined_via_invite, comped_at, \
     comped_until, comp_note, grace_until, ever_paid_at, banned_at, ban_reason, created_at, updated_at";

/// A `text` column holding a snake_case enumeration value.
pub(super) fn parse_enum<T: serde::de::DeserializeOwned>(
    text: String,
    column: &'static str,
) -> Result<T, StoreError> {
    serde_json::from_value(serde_json::Value::String(text)).map_err(|_| StoreError::Corrupt(column))
}

/// The snake_case text of an enumeration value.
fn text<T: serde::Serialize>(value: T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(text)) => text,
        _ => String::new(),
    }
}

/// Inserts an account inside the caller's transaction.
///
/// # Errors
/// [`StoreError::Conflict`] when the address is taken.
pub async fn insert_account(
    conn: &mut AnyConnection,
    account: &Account,
    now_ms: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "insert into accounts (id, email, email_verified_at, state, tier, created_at, updated_at) \
         values ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&account.id)
    .bind(&account.email)
    .bind(account.email_verified_at)
    .bind(text(account.state))
    .bind(text(account.tier))
    .bind(account.created_at)
    .bind(now_ms)
    .execute(conn)
    .await?;
    Ok(())
}

/// The account `id` with every column, inside the caller's transaction or on a pooled connection.
///
/// # Errors
/// [`StoreError::NotFound`] when there is none.
pub async fn get_account(conn: &mut AnyConnection, id: &str) -> Result<AccountDetails, StoreError> {
    let sql = format!("select {DETAILS_COLUMNS} from accounts where id = $1");
    let row = sqlx::query_as::<_, DetailsRow>(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_one(conn)
        .await?;
    AccountDetails::try_from(row)
}

/// The Stripe customer of the account `id` (set by its first completed checkout), if any.
///
/// # Errors
/// [`StoreError::NotFound`] when there is no such account.
pub async fn find_stripe_customer(
    conn: &mut AnyConnection,
    id: &str,
) -> Result<Option<String>, StoreError> {
    let (customer,): (Option<String>,) =
        sqlx::query_as("select stripe_customer_id from accounts where id = $1")
            .bind(id)
            .fetch_one(conn)
            .await?;
    Ok(customer)
}

/// The account holding `email` (normalized), if any.
///
/// # Errors
/// [`StoreError`].
pub async fn find_account_by_email(
    conn: &mut AnyConnection,
    email: &str,
) -> Result<Option<AccountDetails>, StoreError> {
    let sql = format!("select {DETAILS_COLUMNS} from accounts where email = $1");
    let row = sqlx::query_as::<_, DetailsRow>(sqlx::AssertSqlSafe(sql))
        .bind(email)
        .fetch_optional(conn)
        .await?;
    row.map(AccountDetails::try_from).transpose()
}

/// Stores a derived standing (state, tier, grace end).
///
/// # Errors
/// [`StoreError::NotFound`] when the account is gone.
pub async fn update_standing(
    conn: &mut AnyConnection,
    id: &str,
    standing: &Standing,
    now_ms: i64,
) -> Result<(), StoreError> {
    let done = sqlx::query(
        "update accounts set state = $2, tier = $3, grace_until = $4, updated_at = $5 where id = $1",
    )
    .bind(id)
    .bind(text(standing.state))
    .bind(text(standing.tier))
    .bind(standing.grace_until)
    .bind(now_ms)
    .execute(conn)
    .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// Marks the address of an account verified, and optionally records the invite it used; false
/// when it was verified already (the caller must not activate it a second time).
///
/// # Errors
/// [`StoreError`].
pub async fn mark_email_verified(
    conn: &mut AnyConnection,
    id: &str,
    invite: Option<&str>,
    now_ms: i64,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "update accounts set email_verified_at = $2, joined_via_invite = coalesce($3, joined_via_invite), \
         updated_at = $2 where id = $1 and email_verified_at is null",
    )
    .bind(id)
    .bind(now_ms)
    .bind(invite)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Moves an account to another (verified) address.
///
/// # Errors
/// [`StoreError::Conflict`] when the address is taken.
pub async fn update_email(
    conn: &mut AnyConnection,
    id: &str,
    email: &str,
    now_ms: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "update accounts set email = $2, email_verified_at = $3, updated_at = $3 where id = $1",
    )
    .bind(id)
    .bind(email)
    .bind(now_ms)
    .execute(conn)
    .await?;
    Ok(())
}

/// Deletes an account (bindings, sessions and tokens cascade); whether it existed.
///
/// # Errors
/// [`StoreError`].
pub async fn delete_account(conn: &mut AnyConnection, id: &str) -> Result<bool, StoreError> {
    let done = sqlx::query("delete from accounts where id = $1")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// Takes the account row's write lock for the rest of the transaction (Postgres row lock; SQLite
/// transactions are exclusive already), so checks such as the peer count hold until commit.
/// False when the account does not exist.
///
/// # Errors
/// [`StoreError`].
pub async fn lock_account(
    conn: &mut AnyConnection,
    id: &str,
    now_ms: i64,
) -> Result<bool, StoreError> {
    let done = sqlx::query("update accounts set updated_at = $2 where id = $1")
        .bind(id)
        .bind(now_ms)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

impl Store {
    /// Accounts whose comp or grace period has ended and whose standing may change (hub.md §6.7).
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn list_accounts_due_recompute(
        &self,
        now_ms: i64,
        limit: i64,
    ) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar(
            "select id from accounts where state not in ('pending_email', 'pending_approval', 'banned') \
             and ((grace_until is not null and grace_until <= $1) \
             or (tier = 'comped' and comped_until is not null and comped_until <= $1)) \
             order by id limit $2",
        )
        .bind(now_ms)
        .bind(limit)
        .fetch_all(self.db.pool())
        .await?)
    }

    /// Deletes `pending_email` accounts created before `cutoff_ms`; how many.
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn delete_stale_pending_accounts(
        &self,
        cutoff_ms: i64,
        now_ms: i64,
    ) -> Result<u64, StoreError> {
        let mut tx = self.db.begin_write().await?;
        // A pending account with a link still valid stays until that link expires.
        let done = sqlx::query(
            "delete from accounts where state = 'pending_email' and created_at < $1 \
             and not exists (select 1 from email_tokens t where t.account_id = accounts.id and t.expires_at > $2)",
        )
        .bind(cutoff_ms)
        .bind(now_ms)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }

    /// Accounts per state and tier.
    ///
    /// # Errors
    /// [`StoreError`], or [`StoreError::Corrupt`] for an unknown state or tier.
    pub async fn count_members(&self) -> Result<Vec<(State, Tier, i64)>, StoreError> {
        let rows: Vec<(String, String, i64)> = sqlx::query_as(
            "select state, tier, cast(count(*) as bigint) from accounts group by state, tier",
        )
        .fetch_all(self.db.pool())
        .await?;
        rows.into_iter()
            .map(|(s, t, n)| {
                Ok((
                    parse_enum(s, "accounts.state")?,
                    parse_enum(t, "accounts.tier")?,
                    n,
                ))
            })
            .collect()
    }
}
