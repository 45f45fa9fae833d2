//! Invites (hub.md §9): codes an admin creates for invite-mode joins, lists and revokes.

use serde::Serialize;
use serde_json::json;

use super::super::codes;
use super::super::join::INVITE_CODE_LEN;
use super::{Actor, Error, Membership, Result, audit};
use crate::store::{self, Invite, StoreError};

/// The longest invite lifetime an admin may set: one year (hub.md §9).
pub(crate) const MAX_INVITE_SECS: u64 = 31_536_000;
/// The most uses an invite may allow (hub.md §9).
pub(crate) const MAX_INVITE_USES: i64 = 10_000;
/// Attempts at drawing an unused invite code before giving up.
const INVITE_CODE_ATTEMPTS: usize = 5;
/// Invites listed at most (the list has no pages).
const MAX_INVITES: i64 = 1000;

/// An invite with its code as shown to people: `XXXX-XXXX-XXXX`.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct InviteView {
    /// `XXXX-XXXX-XXXX`.
    code: String,
    note: Option<String>,
    max_uses: i64,
    uses: i64,
    /// The admin actor that made it.
    created_by: String,
    created_at: i64,
    /// `None` = never.
    expires_at: Option<i64>,
    /// Revoked at (ms).
    revoked_at: Option<i64>,
}

impl From<Invite> for InviteView {
    fn from(i: Invite) -> Self {
        Self {
            code: codes::grouped(&i.code, 4),
            note: i.note,
            max_uses: i.max_uses,
            uses: i.uses,
            created_by: i.created_by,
            created_at: i.created_at,
            expires_at: i.expires_at,
            revoked_at: i.revoked_at,
        }
    }
}

impl Membership {
    /// `POST …/invites`: a fresh code for `max_uses` uses, expiring after `expires_in_secs`
    /// (`None` = never). The caller has checked the bounds.
    pub(crate) async fn create_invite(
        &self,
        actor: &Actor,
        max_uses: i64,
        expires_in_secs: Option<u64>,
        note: Option<&str>,
    ) -> Result<Invite> {
        let now = self.now_ms();
        let expires_at = expires_in_secs.map(|secs| now + i64::try_from(secs).unwrap_or(0) * 1000);
        for _ in 0..INVITE_CODE_ATTEMPTS {
            let invite = Invite {
                code: codes::new_code(INVITE_CODE_LEN),
                note: note.map(str::to_owned),
                max_uses,
                uses: 0,
                created_by: actor.name.clone(),
                created_at: now,
                expires_at,
                revoked_at: None,
            };
            let mut tx = self.store().begin_write().await?;
            match store::insert_invite(&mut tx, &invite).await {
                // 60 random bits: a collision is astronomically rare, but costs only a retry.
                Err(StoreError::Conflict) => continue,
                other => other?,
            }
            let details = json!({"max_uses": max_uses, "expires_at": expires_at, "note": note});
            audit::record(
                &mut tx,
                actor,
                "invite.create",
                ("invite", &invite.code),
                details,
                now,
            )
            .await?;
            tx.commit().await.map_err(StoreError::from)?;
            return Ok(invite);
        }
        Err(Error::InviteCodesExhausted)
    }

    /// `DELETE …/invites/{code}`: revokes an invite; 404 for an unknown code, 409 when revoked.
    pub(crate) async fn revoke_invite(&self, actor: &Actor, input: &str) -> Result<()> {
        let not_found = || Error::NotFound {
            what: "invite",
            id: input.to_owned(),
        };
        let code = codes::normalize_code(input, INVITE_CODE_LEN).ok_or_else(not_found)?;
        let now = self.now_ms();
        let mut tx = self.store().begin_write().await?;
        let invite = store::find_invite(&mut tx, &code)
            .await?
            .ok_or_else(not_found)?;
        if !store::mark_invite_revoked(&mut tx, &code, now).await? {
            return Err(Error::WrongState {
                what: "invite",
                id: code,
            });
        }
        let details = json!({"uses": invite.uses, "max_uses": invite.max_uses});
        audit::record(
            &mut tx,
            actor,
            "invite.revoke",
            ("invite", &code),
            details,
            now,
        )
        .await?;
        tx.commit().await.map_err(StoreError::from)?;
        Ok(())
    }

    /// `GET …/invites`, newest first.
    pub(crate) async fn list_invites(&self, include_revoked: bool) -> Result<Vec<InviteView>> {
        let mut conn = self.store().acquire().await?;
        let invites = store::list_invites(&mut conn, include_revoked, MAX_INVITES).await?;
        Ok(invites.into_iter().map(InviteView::from).collect())
    }
}
