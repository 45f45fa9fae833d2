//! `peer_bindings` (hub.md §6.1, §14): proven binds of PeerIds to accounts, with the joins to
//! `accounts` that the entitlement table and the admin presence list read.

use sqlx::AnyConnection;

use super::accounts::parse_enum;
use super::{Store, StoreError};
use crate::members::{State, Tier};

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

/// A bound peer with its account's address (the admin presence list).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct PeerOwner {
    /// The PeerId.
    pub peer_id: String,
    /// Its account.
    pub account_id: String,
    /// The account's address.
    pub email: Option<String>,
}

const BINDING_COLUMNS: &str =
    "peer_id, account_id, label, bound_via, proof_ts, proof_sig, bound_at";

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

/// The peers bound to an account, oldest first.
///
/// # Errors
/// [`StoreError`].
pub async fn list_bindings(
    conn: &mut AnyConnection,
    account_id: &str,
) -> Result<Vec<Binding>, StoreError> {
    let sql = format!(
        "select {BINDING_COLUMNS} from peer_bindings where account_id = $1 order by bound_at, peer_id"
    );
    Ok(sqlx::query_as::<_, Binding>(sqlx::AssertSqlSafe(sql))
        .bind(account_id)
        .fetch_all(conn)
        .await?)
}

/// The binding of a peer, if any.
///
/// # Errors
/// [`StoreError`].
pub async fn find_binding(
    conn: &mut AnyConnection,
    peer_id: &str,
) -> Result<Option<Binding>, StoreError> {
    let sql = format!("select {BINDING_COLUMNS} from peer_bindings where peer_id = $1");
    Ok(sqlx::query_as::<_, Binding>(sqlx::AssertSqlSafe(sql))
        .bind(peer_id)
        .fetch_optional(conn)
        .await?)
}

/// Removes a peer's binding; whether it existed.
///
/// # Errors
/// [`StoreError`].
pub async fn delete_binding(
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

/// The PeerIds bound to each of `account_ids`, as `(account_id, peer_id)` pairs.
///
/// # Errors
/// [`StoreError`].
pub async fn list_peers_of_accounts(
    conn: &mut AnyConnection,
    account_ids: &[String],
) -> Result<Vec<(String, String)>, StoreError> {
    if account_ids.is_empty() {
        return Ok(Vec::new());
    }
    let placeholders: Vec<String> = (1..=account_ids.len()).map(|i| format!("${i}")).collect();
    let sql = format!(
        "select account_id, peer_id from peer_bindings where account_id in ({}) order by bound_at, peer_id",
        placeholders.join(", ")
    );
    let mut query = sqlx::query_as::<_, (String, String)>(sqlx::AssertSqlSafe(sql));
    for id in account_ids {
        query = query.bind(id.clone());
    }
    Ok(query.fetch_all(conn).await?)
}

/// The accounts of bound peers among `peer_ids`.
///
/// # Errors
/// [`StoreError`].
pub async fn list_peer_owners(
    conn: &mut AnyConnection,
    peer_ids: &[String],
) -> Result<Vec<PeerOwner>, StoreError> {
    let mut owners = Vec::with_capacity(peer_ids.len());
    // Chunks keep the statement under every backend's parameter limit.
    for chunk in peer_ids.chunks(500) {
        let placeholders: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "select b.peer_id, b.account_id, a.email from peer_bindings b join accounts a on a.id = b.account_id \
             where b.peer_id in ({})",
            placeholders.join(", ")
        );
        let mut query = sqlx::query_as::<_, PeerOwner>(sqlx::AssertSqlSafe(sql));
        for peer in chunk {
            query = query.bind(peer.clone());
        }
        owners.extend(query.fetch_all(&mut *conn).await?);
    }
    Ok(owners)
}

impl Store {
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
