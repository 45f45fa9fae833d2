//! Applications (hub.md §6.2, §9): the pending joins an admin approves or rejects.

use serde::Serialize;
use serde_json::json;

use super::members::MemberView;
use super::page::{Page, page};
use super::{Actor, Membership, Result, account, audit, wrong_state};
use crate::members::State;
use crate::store::{self, Application, Cursor, StoreError};

/// An application as the admin sees it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ApplicationView {
    id: String,
    account_id: Option<String>,
    email: String,
    message: String,
    status: String,
    created_at: i64,
    decided_at: Option<i64>,
    decided_by: Option<String>,
    decision_reason: Option<String>,
}

impl From<Application> for ApplicationView {
    fn from(a: Application) -> Self {
        Self {
            id: a.id,
            account_id: a.account_id,
            email: a.email,
            message: a.message,
            status: a.status,
            created_at: a.created_at,
            decided_at: a.decided_at,
            decided_by: a.decided_by,
            decision_reason: a.decision_reason,
        }
    }
}

impl Membership {
    /// `POST …/members/{id}/approve`: only from `pending_approval`; the account becomes active and
    /// is recomputed, its pending application `approved`.
    pub(crate) async fn approve(
        &self,
        actor: &Actor,
        id: &str,
        note: Option<&str>,
    ) -> Result<MemberView> {
        let now = self.now_ms();
        let mut tx = self.store().begin_write().await?;
        account(&mut tx, id).await?;
        // The recompute keeps pending states, so the account leaves them first.
        if !store::update_state(&mut tx, id, State::PendingApproval, State::Active, now).await? {
            return Err(wrong_state(id));
        }
        let standing = self.recompute_in(&mut tx, id, now).await?;
        store::mark_applications_decided(&mut tx, id, "approved", &actor.name, note, now).await?;
        let details = json!({"note": note, "state": standing.state, "tier": standing.tier});
        audit::record(
            &mut tx,
            actor,
            "member.approve",
            ("account", id),
            details,
            now,
        )
        .await?;
        tx.commit().await.map_err(StoreError::from)?;
        self.after_change(id, &[], "approved").await?;
        self.member_view(id).await
    }

    /// `POST …/members/{id}/reject`: only from `pending_approval`; the application becomes
    /// `rejected` and the account is deleted with its bindings, sessions and tokens.
    pub(crate) async fn reject(&self, actor: &Actor, id: &str, reason: &str) -> Result<()> {
        let now = self.now_ms();
        let mut tx = self.store().begin_write().await?;
        let before = account(&mut tx, id).await?;
        if before.state != State::PendingApproval {
            return Err(wrong_state(id));
        }
        let gone: Vec<String> = store::list_bindings(&mut tx, id)
            .await?
            .into_iter()
            .map(|b| b.peer_id)
            .collect();
        store::mark_applications_decided(&mut tx, id, "rejected", &actor.name, Some(reason), now)
            .await?;
        if !store::delete_pending_account(&mut tx, id).await? {
            return Err(wrong_state(id));
        }
        let details = json!({"reason": reason, "email": before.email, "peers": gone});
        audit::record(
            &mut tx,
            actor,
            "member.reject",
            ("account", id),
            details,
            now,
        )
        .await?;
        tx.commit().await.map_err(StoreError::from)?;
        self.after_change(id, &gone, "rejected").await
    }

    /// `GET …/applications`, newest first.
    pub(crate) async fn list_applications(
        &self,
        status: &str,
        after: Option<&Cursor>,
        limit: i64,
    ) -> Result<Page<ApplicationView>> {
        let mut conn = self.store().acquire().await?;
        let rows = store::list_applications(&mut conn, status, after, limit + 1).await?;
        Ok(page(
            rows,
            limit,
            |a| Cursor {
                at: a.created_at,
                id: a.id.clone(),
            },
            ApplicationView::from,
        ))
    }
}
