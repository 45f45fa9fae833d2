//! Members as the admin sees them (hub.md §9): the keyset list, one member as lists show it, and
//! one member in full with peers, subscriptions, application and recent audit rows.

use std::collections::HashMap;

use libp2p::PeerId;
use serde::Serialize;

use super::super::codes;
use super::applications::ApplicationView;
use super::audit::AuditView;
use super::page::{Page, page};
use super::{Membership, Result};
use crate::members::{State, Tier};
use crate::store::{self, AccountDetails, Cursor, MemberQuery, StoreError, SubscriptionRow};

/// Audit rows shown with one member.
const MEMBER_AUDIT_ROWS: i64 = 20;
/// Payments shown with one member.
pub(crate) const MEMBER_PAYMENTS: i64 = 50;

/// One member as lists and admin actions show it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct MemberView {
    /// UUIDv7.
    id: String,
    /// Normalized address; `None` for open-mode accounts.
    email: Option<String>,
    state: State,
    tier: Tier,
    /// Created (ms).
    created_at: i64,
    /// PeerIds bound to the account.
    peers: Vec<String>,
    /// Stripe status of the newest subscription.
    subscription_status: Option<String>,
    /// End of the comp (ms); `None` with `comped_at` = open-ended.
    comped_until: Option<i64>,
    /// Banned at (ms).
    banned_at: Option<i64>,
    /// Address verified at (ms).
    email_verified_at: Option<i64>,
    /// Comp granted at (ms).
    comped_at: Option<i64>,
    /// The admin's note on the comp.
    comp_note: Option<String>,
    /// End of the grace period (ms).
    grace_until: Option<i64>,
    /// First paid subscription or comp (ms).
    ever_paid_at: Option<i64>,
    /// Why it was banned.
    ban_reason: Option<String>,
    /// The invite code used at join.
    joined_via_invite: Option<String>,
    /// Last change (ms).
    updated_at: i64,
}

impl MemberView {
    fn new(a: AccountDetails, peers: Vec<String>, subscription_status: Option<String>) -> Self {
        Self {
            id: a.id,
            email: a.email,
            state: a.state,
            tier: a.tier,
            created_at: a.created_at,
            peers,
            subscription_status,
            comped_until: a.comped_until,
            banned_at: a.banned_at,
            email_verified_at: a.email_verified_at,
            comped_at: a.comped_at,
            comp_note: a.comp_note,
            grace_until: a.grace_until,
            ever_paid_at: a.ever_paid_at,
            ban_reason: a.ban_reason,
            joined_via_invite: a.joined_via_invite,
            updated_at: a.updated_at,
        }
    }
}

/// A bound peer in the member view.
#[derive(Debug, Clone, Serialize)]
struct PeerView {
    peer_id: String,
    label: Option<String>,
    bound_at: i64,
    bound_via: String,
    online: bool,
}

/// `GET …/members/{id}`: the member with peers, subscriptions, payments, application and the
/// newest audit rows about it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct MemberDetail {
    member: MemberView,
    peers: Vec<PeerView>,
    subscriptions: Vec<SubscriptionRow>,
    /// Donations, newest first (at most [`MEMBER_PAYMENTS`]).
    payments: Vec<store::Payment>,
    application: Option<ApplicationView>,
    audit: Vec<AuditView>,
}

impl Membership {
    /// `GET …/members`: accounts matching `query`, newest first, with their PeerIds.
    pub(crate) async fn list_members(&self, mut query: MemberQuery) -> Result<Page<MemberView>> {
        let limit = query.limit;
        query.limit = limit + 1;
        let mut conn = self.store().acquire().await?;
        let rows = store::list_members(&mut conn, &query).await?;
        let ids: Vec<String> = rows.iter().map(|r| r.account.id.clone()).collect();
        let mut peers: HashMap<String, Vec<String>> = HashMap::new();
        for (account, peer) in store::list_peers_of_accounts(&mut conn, &ids).await? {
            peers.entry(account).or_default().push(peer);
        }
        Ok(page(
            rows,
            limit,
            |r| Cursor {
                at: r.account.created_at,
                id: r.account.id.clone(),
            },
            |r| {
                let bound = peers.remove(&r.account.id).unwrap_or_default();
                MemberView::new(r.account, bound, r.subscription_status)
            },
        ))
    }

    /// One member as lists show it.
    pub(crate) async fn member_view(&self, id: &str) -> Result<MemberView> {
        let mut conn = self.store().acquire().await?;
        let account = store::get_account(&mut conn, id).await?;
        let peers = store::list_bindings(&mut conn, id).await?;
        let subscriptions = store::list_subscriptions(&mut conn, id).await?;
        Ok(MemberView::new(
            account,
            peers.into_iter().map(|b| b.peer_id).collect(),
            subscriptions.first().map(|s| s.status.clone()),
        ))
    }

    /// `GET …/members/{id}`; `id_or_email` may also be an address.
    pub(crate) async fn member_detail(&self, id_or_email: &str) -> Result<MemberDetail> {
        let mut conn = self.store().acquire().await?;
        let account = if id_or_email.contains('@') {
            let email = codes::normalize_email(id_or_email).ok_or(StoreError::NotFound)?;
            store::find_account_by_email(&mut conn, &email)
                .await?
                .ok_or(StoreError::NotFound)?
        } else {
            store::get_account(&mut conn, id_or_email).await?
        };
        let id = account.id.clone();
        let bindings = store::list_bindings(&mut conn, &id).await?;
        let subscriptions = store::list_subscriptions(&mut conn, &id).await?;
        let payments = store::list_payments(&mut conn, &id, MEMBER_PAYMENTS).await?;
        let application = store::find_latest_application(&mut conn, &id).await?;
        let audit = store::list_audit_of_target(&mut conn, &id, MEMBER_AUDIT_ROWS).await?;
        let presence = &self.inner.enforcer.presence;
        let peers = bindings
            .iter()
            .map(|b| PeerView {
                peer_id: b.peer_id.clone(),
                label: b.label.clone(),
                bound_at: b.bound_at,
                bound_via: b.bound_via.clone(),
                online: b
                    .peer_id
                    .parse::<PeerId>()
                    .is_ok_and(|p| presence.is_live(&p)),
            })
            .collect();
        Ok(MemberDetail {
            member: MemberView::new(
                account,
                bindings.into_iter().map(|b| b.peer_id).collect(),
                subscriptions.first().map(|s| s.status.clone()),
            ),
            peers,
            subscriptions,
            payments,
            application: application.map(ApplicationView::from),
            audit: audit.into_iter().map(AuditView::from).collect(),
        })
    }
}
