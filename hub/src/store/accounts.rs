//! `accounts` and `peer_bindings` (hub.md §6.1, §14).

use sqlx::AnyConnection;

use super::{Store, StoreError};
use crate::members::{State, Tier};

/// An account as stored.
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

#[derive(sqlx::FromRow)]
struct AccountRow {
    id: String,
    email: Option<String>,
    email_verified_at: Option<i64>,
    state: String,
    tier: String,
    created_at: i64,
}

impl TryFrom<AccountRow> for Account {
    type Error = StoreError;

    fn try_from(row: AccountRow) -> Result<Self, StoreError> {
        Ok(Self {
            id: row.id,
            email: row.email,
            email_verified_at: row.email_verified_at,
            state: parse_enum(row.state, "accounts.state")?,
            tier: parse_enum(row.tier, "accounts.tier")?,
            created_at: row.created_at,
        })
    }
}

/// A proven bind of a PeerId to an account.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Binding {
    /// The PeerId.
    pub peer_id: String,
    /// The account.
    pub account_id: String,
    /// A device label.
    pub label: Option<String>,
    /// `join`, `bind_code` or `autojoin`.
    pub bound_via: String,
    /// The PeerSig timestamp of the proof (ms).
    pub proof_ts: i64,
    /// The PeerSig signature of the proof (b64u).
    pub proof_sig: String,
    /// When (ms).
    pub bound_at: i64,
}

/// A bound peer with its account's standing, to fill the entitlement table at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoundPeer {
    /// The PeerId.
    pub peer_id: String,
    /// The account.
    pub account_id: String,
    /// The account's state.
    pub state: State,
    /// The account's tier.
    pub tier: Tier,
}

/// A `text` column holding a snake_case enumeration value.
fn parse_enum<T: serde::de::DeserializeOwned>(
    text: String,
    column: &'static str,
) -> Result<T, StoreError> {
    serde_json::from_value(serde_json::Value::String(text)).map_err(|_| StoreError::Corrupt(column))
}

/// The snake_case text of an enumeration value.
pub(super) fn text<T: serde::Serialize>(value: T) -> String {
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

/// Binds a peer inside the caller's transaction.
///
/// # Errors
/// [`StoreError::Conflict`] when the PeerId is bound already.
pub async fn insert_binding(conn: &mut AnyConnection, binding: &Binding) -> Result<(), StoreError> {
    sqlx::query(
        "insert into peer_bindings (peer_id, account_id, label, bound_via, proof_ts, proof_sig, bound_at) \
         values ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&binding.peer_id)
    .bind(&binding.account_id)
    .bind(&binding.label)
    .bind(&binding.bound_via)
    .bind(binding.proof_ts)
    .bind(&binding.proof_sig)
    .bind(binding.bound_at)
    .execute(conn)
    .await?;
    Ok(())
}

const ACCOUNT_COLUMNS: &str = "id, email, email_verified_at, state, tier, created_at";

impl Store {
    /// The account with `email`, if any.
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn find_account_by_email(&self, email: &str) -> Result<Option<Account>, StoreError> {
        let sql = format!("select {ACCOUNT_COLUMNS} from accounts where email = $1");
        let row = sqlx::query_as::<_, AccountRow>(sqlx::AssertSqlSafe(sql))
            .bind(email)
            .fetch_optional(self.db.pool())
            .await?;
        row.map(Account::try_from).transpose()
    }

    /// The account `id`.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when there is none.
    pub async fn get_account(&self, id: &str) -> Result<Account, StoreError> {
        let sql = format!("select {ACCOUNT_COLUMNS} from accounts where id = $1");
        let row = sqlx::query_as::<_, AccountRow>(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_one(self.db.pool())
            .await?;
        Account::try_from(row)
    }

    /// Deletes an account; its bindings go with it.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when there is none.
    pub async fn delete_account(&self, id: &str) -> Result<(), StoreError> {
        let done = sqlx::query("delete from accounts where id = $1")
            .bind(id)
            .execute(self.db.pool())
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// The peers bound to an account, oldest first.
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn list_bindings(&self, account_id: &str) -> Result<Vec<Binding>, StoreError> {
        let rows = sqlx::query_as::<_, Binding>(
            "select peer_id, account_id, label, bound_via, proof_ts, proof_sig, bound_at from peer_bindings \
             where account_id = $1 order by bound_at, peer_id",
        )
        .bind(account_id)
        .fetch_all(self.db.pool())
        .await?;
        Ok(rows)
    }

    /// Every bound peer with its account's standing (hub.md §6.6: loaded at start).
    ///
    /// # Errors
    /// [`StoreError`], or [`StoreError::Corrupt`] for an unknown state or tier.
    pub async fn list_bound_peers(&self) -> Result<Vec<BoundPeer>, StoreError> {
        #[derive(sqlx::FromRow)]
        struct Row {
            peer_id: String,
            account_id: String,
            state: String,
            tier: String,
        }
        let rows = sqlx::query_as::<_, Row>(
            "select b.peer_id, b.account_id, a.state, a.tier from peer_bindings b \
             join accounts a on a.id = b.account_id order by b.peer_id",
        )
        .fetch_all(self.db.pool())
        .await?;
        rows.into_iter()
            .map(|r| {
                Ok(BoundPeer {
                    peer_id: r.peer_id,
                    account_id: r.account_id,
                    state: parse_enum(r.state, "accounts.state")?,
                    tier: parse_enum(r.tier, "accounts.tier")?,
                })
            })
            .collect()
    }
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
pub(crate) struct DetailsRow {
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

/// The columns of [`AccountDetails`], for `select` lists (optionally prefixed by a table alias).
pub(crate) const DETAILS_COLUMNS: &str = "id, email, email_verified_at, state, tier, joined_via_invite, comped_at, \
     comped_until, comp_note, grace_until, ever_paid_at, banned_at, ban_reason, created_at, updated_at";

/// The account `id` with every column, inside the caller's transaction or on a pooled connection.
///
/// # Errors
/// [`StoreError::NotFound`] when there is none.
pub async fn account_details(
    conn: &mut AnyConnection,
    id: &str,
) -> Result<AccountDetails, StoreError> {
    let sql = format!("select {DETAILS_COLUMNS} from accounts where id = $1");
    let row = sqlx::query_as::<_, DetailsRow>(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_one(conn)
        .await?;
    AccountDetails::try_from(row)
}

/// The account holding `email` (normalized), inside the caller's transaction.
///
/// # Errors
/// [`StoreError`].
pub async fn account_by_email(
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

/// The subscriptions of an account as the recompute reads them.
///
/// # Errors
/// [`StoreError`].
pub async fn subscription_facts(
    conn: &mut AnyConnection,
    account_id: &str,
) -> Result<Vec<crate::members::SubscriptionFacts>, StoreError> {
    let rows: Vec<(String, Option<i64>)> =
        sqlx::query_as("select status, past_due_since from subscriptions where account_id = $1")
            .bind(account_id)
            .fetch_all(conn)
            .await?;
    Ok(rows
        .into_iter()
        .map(
            |(status, past_due_since)| crate::members::SubscriptionFacts {
                status,
                past_due_since,
            },
        )
        .collect())
}

/// The newest subscription of an account, as the account document shows it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SubscriptionSummary {
    /// The plan (`[[plans]]` id).
    pub plan_id: Option<String>,
    /// Stripe status.
    pub status: String,
    /// End of the paid period (ms).
    pub current_period_end: Option<i64>,
    /// Set when the subscription ends at the period end (ms).
    pub cancel_scheduled_at: Option<i64>,
}

/// The newest subscription of an account.
///
/// # Errors
/// [`StoreError`].
pub async fn latest_subscription(
    conn: &mut AnyConnection,
    account_id: &str,
) -> Result<Option<SubscriptionSummary>, StoreError> {
    Ok(sqlx::query_as::<_, SubscriptionSummary>(
        "select plan_id, status, current_period_end, cancel_scheduled_at from subscriptions \
         where account_id = $1 order by updated_at desc, id limit 1",
    )
    .bind(account_id)
    .fetch_optional(conn)
    .await?)
}

/// Stores a derived standing (state, tier, grace end).
///
/// # Errors
/// [`StoreError::NotFound`] when the account is gone.
pub async fn set_standing(
    conn: &mut AnyConnection,
    id: &str,
    standing: &crate::members::Standing,
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
pub async fn mark_verified(
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

/// Moves an account to another address.
///
/// # Errors
/// [`StoreError::Conflict`] when the address is taken.
pub async fn set_email(
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

/// Deletes an account inside the caller's transaction (bindings, sessions and tokens cascade).
///
/// # Errors
/// [`StoreError`].
pub async fn remove_account(conn: &mut AnyConnection, id: &str) -> Result<bool, StoreError> {
    let done = sqlx::query("delete from accounts where id = $1")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// The bindings of an account inside the caller's transaction.
///
/// # Errors
/// [`StoreError`].
pub async fn bindings_of(
    conn: &mut AnyConnection,
    account_id: &str,
) -> Result<Vec<Binding>, StoreError> {
    let rows = sqlx::query_as::<_, Binding>(
        "select peer_id, account_id, label, bound_via, proof_ts, proof_sig, bound_at from peer_bindings \
         where account_id = $1 order by bound_at, peer_id",
    )
    .bind(account_id)
    .fetch_all(conn)
    .await?;
    Ok(rows)
}

/// The binding of a peer, if any.
///
/// # Errors
/// [`StoreError`].
pub async fn binding_of(
    conn: &mut AnyConnection,
    peer_id: &str,
) -> Result<Option<Binding>, StoreError> {
    let row = sqlx::query_as::<_, Binding>(
        "select peer_id, account_id, label, bound_via, proof_ts, proof_sig, bound_at from peer_bindings \
         where peer_id = $1",
    )
    .bind(peer_id)
    .fetch_optional(conn)
    .await?;
    Ok(row)
}

/// Removes a peer's binding; whether it existed.
///
/// # Errors
/// [`StoreError`].
pub async fn remove_binding(
    conn: &mut AnyConnection,
    account_id: &str,
    peer_id: &str,
) -> Result<bool, StoreError> {
    let done = sqlx::query("delete from peer_bindings where peer_id = $1 and account_id = $2")
        .bind(peer_id)
        .bind(account_id)
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

/// How many peers an account binds.
///
/// # Errors
/// [`StoreError`].
pub async fn count_bindings(conn: &mut AnyConnection, account_id: &str) -> Result<i64, StoreError> {
    let n: i64 = sqlx::query_scalar(
        "select cast(count(*) as bigint) from peer_bindings where account_id = $1",
    )
    .bind(account_id)
    .fetch_one(conn)
    .await?;
    Ok(n)
}

impl Store {
    /// Accounts whose comp or grace period has ended and whose standing may change (hub.md §6.7).
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn accounts_due_recompute(
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
    pub async fn delete_stale_pending(
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
