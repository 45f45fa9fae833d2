//! `federation_peers` (superhub.md §7.2, §11): per configured peer its feed cursor and pull
//! health. Replicas share the rows, so whichever replica holds a peer's lease continues where
//! the last one stopped.

use sqlx::AnyConnection;

use super::{Store, StoreError};

/// A peer's pull health.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerState {
    /// The last pull succeeded (or none failed yet).
    Ok,
    /// The last pull failed; retried after the backoff.
    Backoff,
    /// No success for `dead_after`; still retried.
    Dead,
    /// The last failure was `id_mismatch`.
    Misconfigured,
}

impl PeerState {
    /// The `state` text.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Backoff => "backoff",
            Self::Dead => "dead",
            Self::Misconfigured => "misconfigured",
        }
    }
}

/// A `federation_peers` row.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct PeerRow {
    /// The configured id, else the URL.
    pub id: String,
    /// Base URL.
    pub url: String,
    /// Display name.
    pub name: String,
    /// Where the next pull continues (`c1.<seq>`), `None` from the beginning.
    pub cursor: Option<String>,
    /// [`PeerState`] text.
    pub state: String,
    /// Failures in a row.
    pub consecutive_failures: i64,
    /// The last pull's start.
    pub last_attempt_at: Option<i64>,
    /// The last successful pull's end.
    pub last_success_at: Option<i64>,
    /// When the next pull is due.
    pub next_attempt_at: Option<i64>,
    /// What the last failure was.
    pub last_error: Option<String>,
}

/// The outcome of one pull, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullOutcome<'a> {
    /// The state after it.
    pub state: PeerState,
    /// Failures in a row after it.
    pub consecutive_failures: i64,
    /// When it started.
    pub attempted_at: i64,
    /// When it succeeded, for a success.
    pub succeeded_at: Option<i64>,
    /// When the next pull is due.
    pub next_attempt_at: i64,
    /// The failure, for a failure.
    pub error: Option<&'a str>,
}

const COLUMNS: &str = "id, url, name, cursor, state, consecutive_failures, last_attempt_at, \
                       last_success_at, next_attempt_at, last_error";

impl Store {
    /// Creates the row of a configured peer (state `ok`) or updates its URL and name; returns it.
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn ensure_federation_peer(
        &self,
        id: &str,
        url: &str,
        name: &str,
    ) -> Result<PeerRow, StoreError> {
        sqlx::query(
            "insert into federation_peers (id, url, name, state, consecutive_failures) \
             values ($1, $2, $3, 'ok', 0) on conflict (id) do update set url = $2, name = $3",
        )
        .bind(id)
        .bind(url)
        .bind(name)
        .execute(self.pool())
        .await?;
        self.federation_peer(id).await?.ok_or(StoreError::NotFound)
    }

    /// The row of peer `id`.
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn federation_peer(&self, id: &str) -> Result<Option<PeerRow>, StoreError> {
        let sql = format!("select {COLUMNS} from federation_peers where id = $1");
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(self.pool())
            .await?)
    }

    /// Stores where the next pull of peer `id` continues, in the transaction that stores the
    /// page's items (superhub.md §7.2), so a committed page never leaves its cursor behind.
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn set_federation_cursor_in(
        conn: &mut AnyConnection,
        id: &str,
        cursor: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("update federation_peers set cursor = $2 where id = $1")
            .bind(id)
            .bind(cursor)
            .execute(conn)
            .await?;
        Ok(())
    }

    /// Stores the outcome of a pull of peer `id`.
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn record_pull(&self, id: &str, outcome: &PullOutcome<'_>) -> Result<(), StoreError> {
        sqlx::query(
            "update federation_peers set state = $2, consecutive_failures = $3, last_attempt_at = $4, \
             last_success_at = coalesce($5, last_success_at), next_attempt_at = $6, last_error = $7 \
             where id = $1",
        )
        .bind(id)
        .bind(outcome.state.as_str())
        .bind(outcome.consecutive_failures)
        .bind(outcome.attempted_at)
        .bind(outcome.succeeded_at)
        .bind(outcome.next_attempt_at)
        .bind(outcome.error)
        .execute(self.pool())
        .await?;
        Ok(())
    }
}

impl Store {
    /// Records slug-claim evidence pulled from a peer (§5.4 rule 1(b)) in the caller's write
    /// transaction, which holds the directory lock, unless the hub's stored tombstone is at least
    /// as new as the record (`record_seq`). Returns whether the evidence improved.
    ///
    /// # Errors
    /// [`StoreError`]; the caller's transaction must then be rolled back.
    pub async fn witness_federated_claim_in(
        conn: &mut AnyConnection,
        claim: &super::Claim<'_>,
        record_seq: i64,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        // Evidence only ever improves, so evidence at least as good stays so: no write needed.
        let stored: Option<i64> = sqlx::query_scalar(
            "select claimed_at from slug_claims where slug = $1 and hub_id = $2",
        )
        .bind(claim.slug)
        .bind(claim.hub_id)
        .fetch_optional(&mut *conn)
        .await?;
        if stored.is_some_and(|c| c <= claim.claimed_at) {
            return Ok(false);
        }
        let tombstone_seq: Option<i64> =
            sqlx::query_scalar("select seq from tombstones where hub_id = $1")
                .bind(claim.hub_id)
                .fetch_optional(&mut *conn)
                .await?;
        if tombstone_seq.is_some_and(|t| t >= record_seq) {
            return Ok(false);
        }
        super::witness_claim(conn, claim, now_ms).await
    }
}
