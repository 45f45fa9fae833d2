//! The admin member list (hub.md §9 "Members"): accounts matching a filter, newest first in keyset
//! pages, each with the status of its newest subscription.

use sqlx::{AnyConnection, Row as _};

use super::{AccountDetails, DETAILS_COLUMNS, DetailsRow, text};
use crate::members::{State, Tier};
use crate::store::Cursor;
use crate::store::StoreError;
use crate::store::page::{Clauses, Value, like_escaped};

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
