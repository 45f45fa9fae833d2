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
