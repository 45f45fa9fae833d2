//! Taking a pulled feed item (superhub.md §7.2 rule 3): records and tombstones pass §3.1 rows
//! 2–10 and are stored through [`Directory::store_checked_in`], the registration path, which
//! orders them by `seq` (so duplicates and cycles stop) and re-exports them; slug claims are
//! checked by §5.4 rule 1(b). Every item of a page is taken in the page's write transaction. A
//! bad item is skipped and counted, never failing its page; only a database error does.

use serde_json::Value;
use shared::envelope::{Envelope, EnvelopeType};
use shared::error_code::ErrorCode;
use shared::ids::Ed25519PeerId;
use shared::record::HubRecord;
use sqlx::AnyConnection;

use super::feed::{ClaimItem, FeedItem, Relayed};
use crate::config::DirectoryConfig;
use crate::directory::{Directory, RegisterError, check_envelope};
use crate::store::{Claim, Provenance, Store, StoreError};

/// What became of an item (the `outcome` label of `superhub_federation_items_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemOutcome {
    /// Stored (and re-exported).
    Stored,
    /// Not newer than what is stored, or a duplicate.
    Stale,
    /// The record has expired.
    Expired,
    /// Does not verify or parse.
    Invalid,
    /// Violates local policy (e.g. `require_https`), or claims from an untrusted peer.
    Policy,
}

impl ItemOutcome {
    /// The label text.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stored => "stored",
            Self::Stale => "stale",
            Self::Expired => "expired",
            Self::Invalid => "invalid",
            Self::Policy => "policy",
        }
    }
}

/// Where pulled items come from.
#[derive(Debug, Clone)]
pub struct Source<'a> {
    /// The peer's super hub id (or its key when unknown): `received_from` and claim `source`.
    pub peer_id: &'a str,
    /// Whether the peer's slug-claim evidence counts.
    pub trust_claims: bool,
    /// This super hub's policy (§3.1).
    pub policy: &'a DirectoryConfig,
}

/// The `kind` label of a raw item (bounded to the known kinds).
pub fn kind_label(raw: &Value) -> &'static str {
    match raw.get("kind").and_then(Value::as_str) {
        Some("hub-record") => "hub-record",
        Some("hub-tombstone") => "hub-tombstone",
        Some("slug-claim") => "slug-claim",
        Some("moderation-note") => "moderation-note",
        _ => "unknown",
    }
}

/// Takes one raw item in `conn`, the page's write transaction (holding the directory lock);
/// `None` for kinds this version does not take yet (moderation notes).
///
/// # Errors
/// [`StoreError`] only: the database failed; the page must be rolled back and retried.
pub async fn take(
    directory: &Directory,
    conn: &mut AnyConnection,
    source: &Source<'_>,
    raw: Value,
    now_ms: i64,
) -> Result<Option<ItemOutcome>, StoreError> {
    if kind_label(&raw) == "moderation-note" {
        return Ok(None);
    }
    let Ok(item) = serde_json::from_value::<FeedItem>(raw) else {
        return Ok(Some(ItemOutcome::Invalid));
    };
    let outcome = match item {
        FeedItem::HubRecord(relayed) | FeedItem::HubTombstone(relayed) => {
            take_relayed(directory, conn, source, relayed, now_ms).await?
        }
        FeedItem::SlugClaim(claim) if source.trust_claims => {
            take_claim(conn, source, &claim, now_ms).await?
        }
        FeedItem::SlugClaim(_) => ItemOutcome::Policy,
    };
    Ok(Some(outcome))
}

fn envelope_of(value: &Value) -> Option<Envelope> {
    let bytes = serde_json::to_vec(value).ok()?;
    Envelope::parse(&bytes).ok()
}

async fn take_relayed(
    directory: &Directory,
    conn: &mut AnyConnection,
    source: &Source<'_>,
    relayed: Relayed,
    now_ms: i64,
) -> Result<ItemOutcome, StoreError> {
    let Some(envelope) = envelope_of(&relayed.envelope) else {
        return Ok(ItemOutcome::Invalid);
    };
    let checked = match check_envelope(envelope, source.policy, now_ms) {
        Ok(checked) => checked,
        Err(refusal) => {
            return Ok(match refusal.code {
                ErrorCode::Expired => ItemOutcome::Expired,
                ErrorCode::HttpsRequired => ItemOutcome::Policy,
                _ => ItemOutcome::Invalid,
            });
        }
    };
    let origin = if relayed.origin.parse::<Ed25519PeerId>().is_ok() {
        relayed.origin
    } else {
        source.peer_id.to_owned()
    };
    let provenance = Provenance {
        origin,
        received_from: source.peer_id.to_owned(),
    };
    match directory
        .store_checked_in(conn, &checked, &provenance, now_ms)
        .await
    {
        Ok(registered) if registered.stored => Ok(ItemOutcome::Stored),
        Ok(_) | Err(RegisterError::Conflict(_)) => Ok(ItemOutcome::Stale),
        Err(RegisterError::Store(error)) => Err(error),
        Err(RegisterError::Refused(_) | RegisterError::RateLimited(_)) => Ok(ItemOutcome::Invalid),
    }
}

/// §5.4 rule 1(b): the envelope verifies (it may have expired), is a record of `hub_id` carrying
/// `slug`, and `witnessed_at` lies within its lifetime.
async fn take_claim(
    conn: &mut AnyConnection,
    source: &Source<'_>,
    item: &ClaimItem,
    now_ms: i64,
) -> Result<ItemOutcome, StoreError> {
    let Some(envelope) = envelope_of(&item.envelope) else {
        return Ok(ItemOutcome::Invalid);
    };
    let Ok(verified) = envelope.verify() else {
        return Ok(ItemOutcome::Invalid);
    };
    if verified.kind != EnvelopeType::HubRecord {
        return Ok(ItemOutcome::Invalid);
    }
    let Ok(record) = HubRecord::from_verified(&verified) else {
        return Ok(ItemOutcome::Invalid);
    };
    if record.id != item.hub_id
        || record.slug != item.slug
        || !(record.issued_at..=record.expires_at).contains(&item.witnessed_at)
    {
        return Ok(ItemOutcome::Invalid);
    }
    let envelope_json = serde_json::to_string(&envelope).unwrap_or_default();
    let claim = Claim {
        slug: &record.slug,
        hub_id: &record.id,
        claimed_at: record.issued_at,
        witnessed_at: item.witnessed_at,
        envelope: &envelope_json,
        source: source.peer_id,
    };
    let record_seq = i64::try_from(record.seq).unwrap_or(i64::MAX);
    let improved = Store::witness_federated_claim_in(conn, &claim, record_seq, now_ms).await?;
    Ok(if improved {
        ItemOutcome::Stored
    } else {
        ItemOutcome::Stale
    })
}
