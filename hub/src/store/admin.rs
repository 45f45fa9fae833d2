//! What the administration API reads and writes (hub.md §9): the `admin_audit` trail, account
//! search with keyset pages, admin changes to accounts, invites and applications, and the counts
//! behind `GET /api/v1/admin/stats` and the `hub_members` gauge.
//!
//! Pages are newest first and keyed by `(created_at, id)` (`(at, id)` for the audit): a [`Cursor`]
//! names the last row of the previous page, so a page never skips or repeats a row that was there
//! when the listing began.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row as _};

use super::StoreError;
use super::accounts::{AccountDetails, DETAILS_COLUMNS, DetailsRow, text};
use super::invites::{APPLICATION_COLUMNS, Application, INVITE_COLUMNS, Invite};
use crate::members::{State, Tier};

/// One `admin_audit` row (hub.md §9 "Audit").
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AuditEntry {
    /// UUIDv7.
    pub id: String,
    /// When (ms).
    pub at: i64,
    /// `X-Goop-Admin-Actor`, or `admin`.
    pub actor: String,
    /// `member.ban`, `invite.create`, …
    pub action: String,
    /// `account`, `peer`, `invite`.
    pub target_type: String,
    /// The account id, PeerId or invite code.
    pub target_id: String,
    /// JSON object with the request's parameters.
    pub details: String,
    /// The client IP.
    pub ip: Option<String>,
}

/// The position after the last row of a page: its time and id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    /// `created_at` (or `at`) of the last row.
    pub at: i64,
    /// Its id.
    pub id: String,
}

/// Filters of the member list; `None` = any.
#[derive(Debug, Clone, Default)]
pub struct MemberQuery {
    /// Email substring, or account id / PeerId prefix.
    pub q: Option<String>,
    /// Only this state.
    pub state: Option<State>,
    /// Only this tier.
    pub tier: Option<Tier>,
    /// Rows after this position.
    pub after: Option<Cursor>,
    /// At most this many rows.
    pub limit: i64,
}

/// An account with the status of its newest subscription, as the member list shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberRow {
    /// Every column of the account.
    pub account: AccountDetails,
    /// Stripe status of the newest subscription, if any.
    pub subscription_status: Option<String>,
}

/// A subscription as the member view shows it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, serde::Serialize)]
pub struct SubscriptionRow {
    /// Stripe subscription id.
    pub id: String,
    /// Plan id, when known.
    pub plan_id: Option<String>,
    /// Stripe status.
    pub status: String,
    /// End of the current period (ms).
    pub current_period_end: Option<i64>,
    /// Cancellation scheduled at (ms).
    pub cancel_scheduled_at: Option<i64>,
    /// Became `past_due` at (ms).
    pub past_due_since: Option<i64>,
    /// Created (ms).
    pub created_at: i64,
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

/// Escapes `%`, `_` and `\` for a `like … escape '\'` pattern.
fn like_escaped(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Rows decoded as `T`.
fn rows_as<T: for<'r> sqlx::FromRow<'r, AnyRow>>(rows: &[AnyRow]) -> Result<Vec<T>, StoreError> {
    rows.iter().map(|row| Ok(T::from_row(row)?)).collect()
}

/// A bind value of a query built at run time.
enum Value {
    Text(String),
    Int(i64),
}

/// `where` clauses with their numbered placeholders.
#[derive(Default)]
struct Clauses {
    sql: Vec<String>,
    values: Vec<Value>,
}

impl Clauses {
    /// The placeholder of a new value.
    fn push(&mut self, value: Value) -> String {
        self.values.push(value);
        format!("${}", self.values.len())
    }

    /// `where a and b …`, or nothing.
    fn where_sql(&self) -> String {
        if self.sql.is_empty() {
            String::new()
        } else {
            format!(" where {}", self.sql.join(" and "))
        }
    }

    /// Rows strictly after `cursor` in `(time desc, id desc)` order.
    fn after(&mut self, time: &str, cursor: Option<&Cursor>) {
        if let Some(cursor) = cursor {
            let at = self.push(Value::Int(cursor.at));
            let id = self.push(Value::Text(cursor.id.clone()));
            self.sql
                .push(format!("({time} < {at} or ({time} = {at} and id < {id}))"));
        }
    }

    /// Runs `<select_from><where> order by <time> desc, id desc limit <limit>` for the page after
    /// `after` (keyset pagination, newest first).
    async fn page(
        mut self,
        conn: &mut AnyConnection,
        select_from: &str,
        time: &str,
        after: Option<&Cursor>,
        limit: i64,
    ) -> Result<Vec<AnyRow>, StoreError> {
        self.after(time, after);
        let limit = self.push(Value::Int(limit));
        let sql = format!(
            "{select_from}{} order by {time} desc, id desc limit {limit}",
            self.where_sql()
        );
        Ok(self
            .bind(sqlx::query(sqlx::AssertSqlSafe(sql)))
            .fetch_all(conn)
            .await?)
    }

    fn bind<'q>(
        &self,
        mut query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
    ) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments> {
        for value in &self.values {
            query = match value {
                Value::Text(text) => query.bind(text.clone()),
                Value::Int(n) => query.bind(*n),
            };
        }
        query
    }
}

/// Writes one audit row inside the caller's transaction (the one making the change).
///
/// # Errors
/// [`StoreError`].
pub async fn insert_audit(conn: &mut AnyConnection, entry: &AuditEntry) -> Result<(), StoreError> {
    sqlx::query(
        "insert into admin_audit (id, at, actor, action, target_type, target_id, details, ip) \
         values ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&entry.id)
    .bind(entry.at)
    .bind(&entry.actor)
    .bind(&entry.action)
    .bind(&entry.target_type)
    .bind(&entry.target_id)
    .bind(&entry.details)
    .bind(&entry.ip)
    .execute(conn)
    .await?;
    Ok(())
}

const AUDIT_COLUMNS: &str = "id, at, actor, action, target_type, target_id, details, ip";

/// Audit rows, newest first, after `after`.
///
/// # Errors
/// [`StoreError`].
pub async fn list_audit(
    conn: &mut AnyConnection,
    after: Option<&Cursor>,
    limit: i64,
) -> Result<Vec<AuditEntry>, StoreError> {
    let select = format!("select {AUDIT_COLUMNS} from admin_audit");
    let rows = Clauses::default()
        .page(conn, &select, "at", after, limit)
        .await?;
    rows_as(&rows)
}

/// The newest audit rows about `target_id`.
///
/// # Errors
/// [`StoreError`].
pub async fn list_audit_of(
    conn: &mut AnyConnection,
    target_id: &str,
    limit: i64,
) -> Result<Vec<AuditEntry>, StoreError> {
    let sql = format!(
        "select {AUDIT_COLUMNS} from admin_audit where target_id = $1 order by at desc, id desc limit $2"
    );
    Ok(sqlx::query_as::<_, AuditEntry>(sqlx::AssertSqlSafe(sql))
        .bind(target_id)
        .bind(limit)
        .fetch_all(conn)
        .await?)
}

/// Accounts matching `query`, newest first.
///
/// `q` matches an email substring (addresses are stored lower-case, so `q` is lowered for it),
/// an account id prefix, or a prefix of a bound PeerId (case-sensitive, base58).
///
/// # Errors
/// [`StoreError`].
pub async fn list_members(
    conn: &mut AnyConnection,
    query: &MemberQuery,
) -> Result<Vec<MemberRow>, StoreError> {
    let mut clauses = Clauses::default();
    if let Some(state) = query.state {
        let p = clauses.push(Value::Text(text(state)));
        clauses.sql.push(format!("state = {p}"));
    }
    if let Some(tier) = query.tier {
        let p = clauses.push(Value::Text(text(tier)));
        clauses.sql.push(format!("tier = {p}"));
    }
    if let Some(q) = query.q.as_deref().filter(|q| !q.is_empty()) {
        let lowered = like_escaped(&q.to_ascii_lowercase());
        let email = clauses.push(Value::Text(format!("%{lowered}%")));
        let id = clauses.push(Value::Text(format!("{lowered}%")));
        let peer = clauses.push(Value::Text(q.to_owned()));
        clauses.sql.push(format!(
            "(email like {email} escape '\\' or id like {id} escape '\\' or exists (select 1 from \
             peer_bindings b where b.account_id = accounts.id and substr(b.peer_id, 1, length({peer})) = {peer}))"
        ));
    }
    let select = format!(
        "select {DETAILS_COLUMNS}, (select s.status from subscriptions s where s.account_id = accounts.id \
         order by s.updated_at desc, s.id desc limit 1) as subscription_status from accounts"
    );
    let rows = clauses
        .page(
            conn,
            &select,
            "created_at",
            query.after.as_ref(),
            query.limit,
        )
        .await?;
    rows.iter()
        .map(|row| {
            let details: DetailsRow = sqlx::FromRow::from_row(row)?;
            Ok(MemberRow {
                account: AccountDetails::try_from(details)?,
                subscription_status: row.try_get("subscription_status")?,
            })
        })
        .collect()
}

/// The PeerIds bound to each of `account_ids`, as `(account_id, peer_id)` pairs.
///
/// # Errors
/// [`StoreError`].
pub async fn list_peers_of(
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
pub async fn list_owners(
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

/// The subscriptions of an account, newest first.
///
/// # Errors
/// [`StoreError`].
pub async fn list_subscriptions_of(
    conn: &mut AnyConnection,
    account_id: &str,
) -> Result<Vec<SubscriptionRow>, StoreError> {
    Ok(sqlx::query_as::<_, SubscriptionRow>(
        "select id, plan_id, status, current_period_end, cancel_scheduled_at, past_due_since, created_at \
         from subscriptions where account_id = $1 order by created_at desc, id desc",
    )
    .bind(account_id)
    .fetch_all(conn)
    .await?)
}

/// Moves an account from state `from` to `to` (before a recompute, which keeps pending and
/// banned states). Whether it was in `from`: the condition is part of the `update`, so of two
/// concurrent admin calls only one makes the transition on either database.
///
/// # Errors
/// [`StoreError`].
pub async fn move_state(
    conn: &mut AnyConnection,
    id: &str,
    from: State,
    to: State,
    now_ms: i64,
) -> Result<bool, StoreError> {
    let done =
        sqlx::query("update accounts set state = $3, updated_at = $4 where id = $1 and state = $2")
            .bind(id)
            .bind(text(from))
            .bind(text(to))
            .bind(now_ms)
            .execute(conn)
            .await?;
    Ok(done.rows_affected() == 1)
}

/// Bans an account that is not banned: state `banned`, `banned_at`, `ban_reason`. Whether it did.
///
/// # Errors
/// [`StoreError`].
pub async fn mark_banned(
    conn: &mut AnyConnection,
    id: &str,
    reason: &str,
    now_ms: i64,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "update accounts set state = 'banned', banned_at = $2, ban_reason = $3, updated_at = $2 \
         where id = $1 and state <> 'banned'",
    )
    .bind(id)
    .bind(now_ms)
    .bind(reason)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Lifts the ban of a banned account: clears `banned_at` and `ban_reason` and sets the state to
/// recompute from. Whether it was banned.
///
/// # Errors
/// [`StoreError`].
pub async fn clear_ban(
    conn: &mut AnyConnection,
    id: &str,
    state: State,
    now_ms: i64,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "update accounts set state = $2, banned_at = null, ban_reason = null, updated_at = $3 \
         where id = $1 and state = 'banned'",
    )
    .bind(id)
    .bind(text(state))
    .bind(now_ms)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Deletes an account still waiting for approval (bindings, sessions and tokens cascade; its
/// application keeps its row). Whether it did.
///
/// # Errors
/// [`StoreError`].
pub async fn delete_pending_account(
    conn: &mut AnyConnection,
    id: &str,
) -> Result<bool, StoreError> {
    let done = sqlx::query("delete from accounts where id = $1 and state = 'pending_approval'")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Grants a comp from now until `until` (`None` = open-ended); the account counts as having had
/// paid access from then on (`ever_paid_at`, hub.md §6.4 rule 5).
///
/// # Errors
/// [`StoreError`].
pub async fn set_comp(
    conn: &mut AnyConnection,
    id: &str,
    until: Option<i64>,
    note: Option<&str>,
    now_ms: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "update accounts set comped_at = $2, comped_until = $3, comp_note = $4, \
         ever_paid_at = coalesce(ever_paid_at, $2), updated_at = $2 where id = $1",
    )
    .bind(id)
    .bind(now_ms)
    .bind(until)
    .bind(note)
    .execute(conn)
    .await?;
    Ok(())
}

/// Ends the comp of a comped account; whether there was one.
///
/// # Errors
/// [`StoreError`].
pub async fn clear_comp(
    conn: &mut AnyConnection,
    id: &str,
    now_ms: i64,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "update accounts set comped_at = null, comped_until = null, comp_note = null, updated_at = $2 \
         where id = $1 and comped_at is not null",
    )
    .bind(id)
    .bind(now_ms)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Records the decision on an account's pending applications; how many there were.
///
/// # Errors
/// [`StoreError`].
pub async fn decide_applications(
    conn: &mut AnyConnection,
    account_id: &str,
    status: &str,
    actor: &str,
    reason: Option<&str>,
    now_ms: i64,
) -> Result<u64, StoreError> {
    let done = sqlx::query(
        "update applications set status = $2, decided_at = $3, decided_by = $4, decision_reason = $5 \
         where account_id = $1 and status = 'pending'",
    )
    .bind(account_id)
    .bind(status)
    .bind(now_ms)
    .bind(actor)
    .bind(reason)
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// Applications with `status`, newest first, after `after`.
///
/// # Errors
/// [`StoreError`].
pub async fn list_applications(
    conn: &mut AnyConnection,
    status: &str,
    after: Option<&Cursor>,
    limit: i64,
) -> Result<Vec<Application>, StoreError> {
    let mut clauses = Clauses::default();
    let p = clauses.push(Value::Text(status.to_owned()));
    clauses.sql.push(format!("status = {p}"));
    let select = format!("select {APPLICATION_COLUMNS} from applications");
    let rows = clauses
        .page(conn, &select, "created_at", after, limit)
        .await?;
    rows_as(&rows)
}

/// Invites, newest first (at most `limit`); revoked ones only when asked.
///
/// # Errors
/// [`StoreError`].
pub async fn list_invites(
    conn: &mut AnyConnection,
    include_revoked: bool,
    limit: i64,
) -> Result<Vec<Invite>, StoreError> {
    let filter = if include_revoked {
        ""
    } else {
        " where revoked_at is null"
    };
    let sql = format!(
        "select {INVITE_COLUMNS} from invites{filter} order by created_at desc, code desc limit $1"
    );
    Ok(sqlx::query_as::<_, Invite>(sqlx::AssertSqlSafe(sql))
        .bind(limit)
        .fetch_all(conn)
        .await?)
}

/// Marks an unrevoked invite revoked; whether it did.
///
/// # Errors
/// [`StoreError`].
pub async fn mark_invite_revoked(
    conn: &mut AnyConnection,
    code: &str,
    now_ms: i64,
) -> Result<bool, StoreError> {
    let done =
        sqlx::query("update invites set revoked_at = $2 where code = $1 and revoked_at is null")
            .bind(code)
            .bind(now_ms)
            .execute(conn)
            .await?;
    Ok(done.rows_affected() == 1)
}

/// Subscriptions per Stripe status.
///
/// # Errors
/// [`StoreError`].
pub async fn count_subscriptions(
    conn: &mut AnyConnection,
) -> Result<Vec<(String, i64)>, StoreError> {
    Ok(sqlx::query_as(
        "select status, cast(count(*) as bigint) from subscriptions group by status order by status",
    )
    .fetch_all(conn)
    .await?)
}

/// Messages sent since `since_ms`, and messages created since then that are unsent and failed at
/// least once.
///
/// # Errors
/// [`StoreError`].
pub async fn count_emails(
    conn: &mut AnyConnection,
    since_ms: i64,
) -> Result<(i64, i64), StoreError> {
    let sent: i64 =
        sqlx::query_scalar("select cast(count(*) as bigint) from email_outbox where sent_at >= $1")
            .bind(since_ms)
            .fetch_one(&mut *conn)
            .await?;
    let failed: i64 = sqlx::query_scalar(
        "select cast(count(*) as bigint) from email_outbox where created_at >= $1 and sent_at is null \
         and last_error is not null",
    )
    .bind(since_ms)
    .fetch_one(conn)
    .await?;
    Ok((sent, failed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(like_escaped("a_b%c\\d"), "a\\_b\\%c\\\\d");
        assert_eq!(like_escaped("ann@example.org"), "ann@example.org");
    }
}
