//! The audit trail (hub.md §9): the row each admin change writes inside its transaction, and the
//! trail as the admin reads it.

use serde::Serialize;
use sqlx::AnyConnection;

use super::page::{Page, page};
use super::{Actor, Membership, Result};
use crate::store::{self, AuditEntry, Cursor, StoreError};

/// An audit row with its details as JSON.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct AuditView {
    id: String,
    at: i64,
    actor: String,
    action: String,
    target_type: String,
    target_id: String,
    /// The JSON object stored with the row.
    details: serde_json::Value,
    /// Client IP of the admin call.
    ip: Option<String>,
}

impl From<AuditEntry> for AuditView {
    fn from(e: AuditEntry) -> Self {
        Self {
            details: serde_json::from_str(&e.details).unwrap_or(serde_json::Value::Null),
            id: e.id,
            at: e.at,
            actor: e.actor,
            action: e.action,
            target_type: e.target_type,
            target_id: e.target_id,
            ip: e.ip,
        }
    }
}

/// Writes a change's audit row inside the change's transaction; the row's id.
pub(super) async fn record(
    conn: &mut AnyConnection,
    actor: &Actor,
    action: &str,
    target: (&str, &str),
    details: serde_json::Value,
    now: i64,
) -> Result<String, StoreError> {
    let entry = AuditEntry {
        id: uuid::Uuid::now_v7().to_string(),
        at: now,
        actor: actor.name.clone(),
        action: action.to_owned(),
        target_type: target.0.to_owned(),
        target_id: target.1.to_owned(),
        details: details.to_string(),
        ip: Some(actor.ip.clone()),
    };
    store::insert_audit(conn, &entry).await?;
    Ok(entry.id)
}

impl Membership {
    /// `GET …/audit`, newest first.
    pub(crate) async fn list_audit(
        &self,
        after: Option<&Cursor>,
        limit: i64,
    ) -> Result<Page<AuditView>> {
        let mut conn = self.store().acquire().await?;
        let rows = store::list_audit(&mut conn, after, limit + 1).await?;
        Ok(page(
            rows,
            limit,
            |e| Cursor {
                at: e.at,
                id: e.id.clone(),
            },
            AuditView::from,
        ))
    }
}
