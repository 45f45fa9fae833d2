//! Administration (hub.md §9), split by concept: members, applications, bans, comps, bindings,
//! invites, the audit trail, live presence and stats. Each change and its `admin_audit` row
//! commit in one transaction; then the account goes through [`Membership::apply_account`] so lost
//! rights are revoked at once (§6.6), and the `hub_members` gauge is refreshed.

mod applications;
mod audit;
mod bans;
mod bindings;
mod comps;
mod invites;
mod members;
mod page;
mod presence;
mod stats;

use sqlx::AnyConnection;

pub(crate) use applications::ApplicationView;
pub(crate) use audit::AuditView;
pub(crate) use invites::{InviteView, MAX_INVITE_SECS, MAX_INVITE_USES};
pub(crate) use members::{MemberDetail, MemberView};
pub(crate) use page::Page;
pub(crate) use presence::PresencePeer;
pub(crate) use stats::Stats;

use super::{Error, Membership, Result};
use crate::store::{self, AccountDetails, StoreError};

/// Who makes an admin change and from where: the audit row's actor and IP (hub.md §9).
#[derive(Debug, Clone)]
pub(crate) struct Actor {
    /// `X-Goop-Admin-Actor`, or `admin`.
    pub(crate) name: String,
    /// The client IP.
    pub(crate) ip: String,
}

/// The account `id` inside the transaction, or [`Error::NotFound`].
async fn account(conn: &mut AnyConnection, id: &str) -> Result<AccountDetails> {
    match store::get_account(conn, id).await {
        Err(StoreError::NotFound) => Err(Error::NotFound {
            what: "account",
            id: id.to_owned(),
        }),
        other => Ok(other?),
    }
}

/// The account `id` is not in a state the change applies to.
fn wrong_state(id: &str) -> Error {
    Error::WrongState {
        what: "account",
        id: id.to_owned(),
    }
}

impl Membership {
    /// After a committed change: entitlements (and revocations) for the account; the
    /// `hub_members` gauge is refreshed on the way (hub.md §15).
    async fn after_change(
        &self,
        id: &str,
        gone_peers: &[String],
        reason: &'static str,
    ) -> Result<()> {
        self.apply_account(id, gone_peers, reason).await
    }
}
