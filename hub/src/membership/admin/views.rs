//! What the administration API shows (hub.md §9): members with their peers, one member in full,
//! invites, applications, the audit trail, live presence and the stats document. Lists are
//! newest first in keyset pages whose opaque cursor is `b64u("<time>:<id>")`.

use std::collections::HashMap;

use libp2p::PeerId;
use serde::Serialize;
use serde_json::json;

use super::super::Membership;
use super::super::{Error, Result, codes};
use crate::members::{State, Tier};
use crate::metrics::TierLabel;
use crate::presence::now_ms;
use crate::store::{
    self, AccountDetails, Application, AuditEntry, Cursor, Invite, MemberQuery, StoreError,
    SubscriptionRow,
};

/// Every state, in the order of hub.md §6.3 (stats list them all, zeros included).
const STATES: [State; 6] = [
    State::PendingEmail,
    State::PendingApproval,
    State::Active,
    State::Grace,
    State::Lapsed,
    State::Banned,
];
/// Every tier.
const TIERS: [Tier; 4] = [Tier::Guest, Tier::Member, Tier::Paid, Tier::Comped];
/// Audit rows shown with one member.
const MEMBER_AUDIT_ROWS: i64 = 20;
/// Invites listed at most (the list has no pages).
const MAX_INVITES: i64 = 1000;
/// Tier labels of `hub_relay_reservations`.
const RESERVATION_TIERS: [&str; 5] = ["none", "guest", "member", "paid", "comped"];

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
    /// Donations and other payments: the `payments` table arrives with billing (hub.md §8).
    payments: Vec<serde_json::Value>,
    application: Option<ApplicationView>,
    audit: Vec<AuditView>,
}

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

/// A live peer in `GET …/presence`.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct PresencePeer {
    peer_id: String,
    /// The account the peer is bound to.
    account_id: Option<String>,
    /// That account's address, else the one its messages carry.
    email: Option<String>,
    /// Seen signed within the signature lock (hub.md §5.2).
    signed: bool,
    /// `ws`/`sse` subscribers speaking for it; empty for HTTP-only publishers.
    transports: Vec<&'static str>,
    /// Last message or heartbeat (ms).
    last_seen: i64,
    /// Multiaddrs it announced.
    addrs: Vec<String>,
}

/// The stats document of hub.md §9.
pub(crate) type Stats = serde_json::Value;

/// A page of items and the cursor of the next page.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Page<T> {
    pub(crate) items: Vec<T>,
    pub(crate) next: Option<String>,
}

/// The opaque form of a cursor.
pub(crate) fn encode_cursor(cursor: &Cursor) -> String {
    shared::signing::b64u_encode(format!("{}:{}", cursor.at, cursor.id).as_bytes())
}

/// Reads a cursor made by [`encode_cursor`]; [`Error::InvalidCursor`] otherwise.
pub(crate) fn decode_cursor(text: &str) -> Result<Cursor> {
    let invalid = || Error::InvalidCursor;
    let bytes = shared::signing::b64u_decode(text).map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    let (at, id) = text.split_once(':').ok_or_else(invalid)?;
    Ok(Cursor {
        at: at.parse().map_err(|_| invalid())?,
        id: id.to_owned(),
    })
}

/// The page of `rows` asked for with `limit`: the query fetched one row more to learn whether a
/// next page exists.
fn page<R, T>(
    mut rows: Vec<R>,
    limit: i64,
    key: impl Fn(&R) -> Cursor,
    view: impl FnMut(R) -> T,
) -> Page<T> {
    let limit = usize::try_from(limit).unwrap_or(0);
    let next = (rows.len() > limit).then(|| {
        rows.truncate(limit);
        rows.last().map(|r| encode_cursor(&key(r)))
    });
    Page {
        items: rows.into_iter().map(view).collect(),
        next: next.flatten(),
    }
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
        for (account, peer) in store::list_peers_of(&mut conn, &ids).await? {
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
        let account = store::account_details(&mut conn, id).await?;
        let peers = store::bindings_of(&mut conn, id).await?;
        let subscriptions = store::list_subscriptions_of(&mut conn, id).await?;
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
            store::account_by_email(&mut conn, &email)
                .await?
                .ok_or(StoreError::NotFound)?
        } else {
            store::account_details(&mut conn, id_or_email).await?
        };
        let id = account.id.clone();
        let bindings = store::bindings_of(&mut conn, &id).await?;
        let subscriptions = store::list_subscriptions_of(&mut conn, &id).await?;
        let application = store::application_of(&mut conn, &id).await?;
        let audit = store::list_audit_of(&mut conn, &id, MEMBER_AUDIT_ROWS).await?;
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
            payments: Vec::new(),
            application: application.map(ApplicationView::from),
            audit: audit.into_iter().map(AuditView::from).collect(),
        })
    }

    /// `GET …/invites`, newest first.
    pub(crate) async fn list_invites(&self, include_revoked: bool) -> Result<Vec<InviteView>> {
        let mut conn = self.store().acquire().await?;
        let invites = store::list_invites(&mut conn, include_revoked, MAX_INVITES).await?;
        Ok(invites.into_iter().map(InviteView::from).collect())
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

    /// `GET …/presence`: live peers with their accounts, most recently seen first.
    pub(crate) async fn presence_peers(&self) -> Result<Vec<PresencePeer>> {
        let live = self.inner.enforcer.presence.live_peers();
        let ids: Vec<String> = live.iter().map(|p| p.peer_id.to_string()).collect();
        let mut conn = self.store().acquire().await?;
        let owners: HashMap<String, store::PeerOwner> = store::list_owners(&mut conn, &ids)
            .await?
            .into_iter()
            .map(|o| (o.peer_id.clone(), o))
            .collect();
        let mut peers: Vec<PresencePeer> = live
            .into_iter()
            .map(|p| {
                let peer_id = p.peer_id.to_string();
                let owner = owners.get(&peer_id);
                let announced = (!p.email.is_empty()).then_some(p.email);
                PresencePeer {
                    account_id: owner.map(|o| o.account_id.clone()),
                    email: owner.and_then(|o| o.email.clone()).or(announced),
                    signed: p.signed,
                    transports: p.transports,
                    last_seen: p.last_seen,
                    addrs: p.addrs,
                    peer_id,
                }
            })
            .collect();
        peers.sort_by(|a, b| {
            b.last_seen
                .cmp(&a.last_seen)
                .then(a.peer_id.cmp(&b.peer_id))
        });
        Ok(peers)
    }

    /// `GET …/stats` (hub.md §9). Billing does not exist yet: subscriptions are counted from
    /// their table (empty until billing writes it) and donations are zero.
    pub(crate) async fn stats(&self) -> Result<Stats> {
        let counts = self.store().count_members().await?;
        let mut conn = self.store().acquire().await?;
        let subscriptions = store::count_subscriptions(&mut conn).await?;
        let (sent, failed) = store::count_emails(&mut conn, now_ms() - 86_400_000).await?;
        drop(conn);
        let members: serde_json::Map<String, serde_json::Value> = STATES
            .iter()
            .map(|s| {
                let n: i64 = counts.iter().filter(|c| c.0 == *s).map(|c| c.2).sum();
                (s.label().to_owned(), n.into())
            })
            .collect();
        let tiers: serde_json::Map<String, serde_json::Value> = TIERS
            .iter()
            .map(|t| {
                let n: i64 = counts.iter().filter(|c| c.1 == *t).map(|c| c.2).sum();
                (t.label().to_owned(), n.into())
            })
            .collect();
        let by_status: serde_json::Map<String, serde_json::Value> = subscriptions
            .into_iter()
            .map(|(status, n)| (status, n.into()))
            .collect();
        let presence = &self.inner.enforcer.presence;
        let (ws, sse) = presence.subscriber_counts();
        let metrics = &self.inner.metrics;
        let reservations: i64 = RESERVATION_TIERS
            .iter()
            .filter_map(|tier| {
                metrics
                    .relay_reservations
                    .get(&TierLabel { tier })
                    .map(|g| g.get())
            })
            .sum();
        Ok(json!({
            "members": members,
            "tiers": tiers,
            "presence": {"peers": presence.live_count(), "subscribers": {"ws": ws, "sse": sse}},
            "relay": {"reservations": reservations, "circuits": metrics.relay_circuits.get()},
            "billing": {
                "subscriptions": by_status,
                "donations_30d": {"count": 0, "amount": 0, "currency": null},
            },
            "email": {"sent_24h": sent, "failed_24h": failed},
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_and_rejects_garbage() {
        let cursor = Cursor {
            at: 1_700_000_000_000,
            id: "0190-abc".to_owned(),
        };

        assert_eq!(decode_cursor(&encode_cursor(&cursor)).unwrap(), cursor);
        assert!(decode_cursor("not base64!").is_err());
        assert!(decode_cursor(&shared::signing::b64u_encode(b"no-colon")).is_err());
    }

    #[test]
    fn page_has_next_only_when_more_rows_exist() {
        let key = |n: &i64| Cursor {
            at: *n,
            id: n.to_string(),
        };

        let full = page(vec![5, 4, 3], 2, key, |n| n);
        let last = page(vec![2, 1], 2, key, |n| n);

        assert_eq!(full.items, vec![5, 4]);
        assert_eq!(decode_cursor(&full.next.unwrap()).unwrap().at, 4);
        assert_eq!(last.items, vec![2, 1]);
        assert!(last.next.is_none());
    }
}
