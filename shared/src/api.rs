//! JSON documents that more than one crate reads or writes (snake_case, hub.md §11, superhub.md §2).

use serde::{Deserialize, Serialize};

/// `software` of an info document or hub record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Software {
    /// `goop-hub` or `goop-superhub`.
    pub name: String,
    /// Crate version.
    pub version: String,
}

impl Software {
    /// This build, under `name`.
    pub fn this(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            version: crate::VERSION.to_owned(),
        }
    }
}

/// `GET /api/v1/info` of a hub (hub.md §11.1). Fields of features not yet configured are absent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HubInfo {
    /// Hub id (PeerId of the hub key).
    pub id: String,
    /// Community name.
    pub name: String,
    /// Community slug.
    pub slug: String,
    /// Description.
    pub description: String,
    /// `""` or an icon URL.
    pub icon_url: String,
    /// Topic tags.
    pub tags: Vec<String>,
    /// BCP 47 language tags.
    pub languages: Vec<String>,
    /// `""` or an ISO 3166-1 alpha-2 code.
    pub region: String,
    /// `""` or the operator's contact address.
    pub contact_email: String,
    /// libp2p addresses ending in `/p2p/<id>`.
    pub multiaddrs: Vec<String>,
    /// Public base URL.
    pub http_url: String,
    /// `open`, `email`, `invite` or `application`.
    #[serde(default)]
    pub join_mode: String,
    /// `free` or `paid`.
    #[serde(default)]
    pub access: String,
    /// The plans offered (hub.md §8.1), without their Stripe price ids.
    #[serde(default)]
    pub plans: Vec<PlanSummary>,
    /// The relay's admission and limits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relay: Option<RelaySummary>,
    /// Rendezvous.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rendezvous: Option<RendezvousSummary>,
    /// Presence rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub presence: Option<PresenceSummary>,
    /// How vouchers of this hub are verified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voucher: Option<VoucherSummary>,
    /// The super hubs this hub announces itself to, and how they answered (hub.md §11.4).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub superhubs: Vec<SuperhubStatus>,
    /// Implementation.
    pub software: Software,
    /// Accounts in `active`/`grace` with a tier other than `guest`; absent when not published.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member_count: Option<u64>,
}

/// One entry of `superhubs` in a hub's info document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuperhubStatus {
    /// The super hub's base URL.
    pub url: String,
    /// The `state` it answered last (`pending_probe`, `listed`, …); `null` before any success.
    pub state: Option<String>,
    /// The last accepted announcement (ms); `null` before any.
    pub last_success_at: Option<i64>,
}

/// One entry of `plans` in a hub's info document (hub.md §8.1, §11.1). Amounts are in the
/// currency's minor unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanSummary {
    /// Plan id, sent as `plan` to checkout.
    pub id: String,
    /// `free`, `subscription` or `donation`.
    pub kind: String,
    /// Display name.
    pub name: String,
    /// Display description; absent when empty.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Price of a subscription or fixed donation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<i64>,
    /// ISO 4217, lower-case; absent for free plans.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// `month` or `year` (subscriptions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<String>,
    /// Smallest amount of a custom donation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_amount: Option<i64>,
    /// Largest amount of a custom donation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_amount: Option<i64>,
}

/// `relay` of a hub's info document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelaySummary {
    /// Circuit relay v2 is served.
    pub enabled: bool,
    /// `members` or `any`.
    pub reservations: String,
    /// `members` or `any`.
    pub circuit_sources: String,
    /// Reservation slots in total.
    pub max_reservations: u64,
    /// Reservations per peer.
    pub max_reservations_per_peer: u64,
    /// Reservation lifetime.
    pub reservation_ttl_secs: u64,
    /// Circuits in total.
    pub max_circuits: u64,
    /// Circuits per peer.
    pub max_circuits_per_peer: u64,
    /// Longest circuit.
    pub circuit_max_duration_secs: u64,
    /// Bytes a circuit may carry.
    pub circuit_max_bytes: u64,
}

/// `rendezvous` of a hub's info document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RendezvousSummary {
    /// Rendezvous is served.
    pub enabled: bool,
    /// The namespace peers register under (the community slug).
    pub namespace: String,
}

/// `presence` of a hub's info document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresenceSummary {
    /// Signed presence is accepted.
    pub signed: bool,
    /// Unsigned (goop2) presence is accepted.
    pub allow_unsigned: bool,
    /// Anyone may read presence.
    pub public_read: bool,
    /// Seconds a peer stays live without a heartbeat.
    pub peer_ttl_secs: u64,
}

/// `voucher` of a hub's info document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoucherSummary {
    /// Always `EdDSA`.
    pub alg: String,
    /// Always `goop-membership`.
    pub aud: String,
    /// Voucher lifetime.
    pub ttl_secs: u64,
    /// Where the key is published.
    pub jwks_url: String,
    /// The JWKs (hub.md §2 rule 4).
    pub keys: Vec<serde_json::Value>,
}

/// `GET /api/v1/info` of a super hub (superhub.md §2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuperhubInfo {
    /// Super hub id.
    pub id: String,
    /// Directory name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Public base URL.
    pub http_url: String,
    /// `""` or the operator's contact address.
    pub contact_email: String,
    /// Implementation.
    pub software: Software,
    /// What this directory requires of a listing (absent from documents that predate it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<DirectoryPolicy>,
    /// Hubs listed and known, counted when the document is served.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counts: Option<DirectoryCounts>,
    /// Federation settings and peers (superhub.md §2); filled in per request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub federation: Option<FederationInfo>,
}

/// `policy` of [`SuperhubInfo`] (superhub.md §2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectoryPolicy {
    /// Only `https` hubs are accepted.
    pub require_https: bool,
    /// Longest record lifetime accepted.
    pub record_max_lifetime_secs: u64,
    /// Period of the re-probes of listed hubs.
    pub probe_interval_secs: u64,
    /// How a hub gets listed: `probe_required`.
    pub listing: String,
}

/// `counts` of [`SuperhubInfo`] (superhub.md §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectoryCounts {
    /// Hubs in search: `listed` and not hidden.
    pub listed: i64,
    /// Hubs the public detail shows: not tombstoned and not hidden.
    pub known: i64,
}

/// The `federation` block of a super hub's info (superhub.md §2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FederationInfo {
    /// Whether the feed is served and peers are pulled.
    pub enabled: bool,
    /// The pull interval.
    pub pull_interval_secs: u64,
    /// The configured peers.
    pub peers: Vec<FederationPeerInfo>,
}

/// One peer in [`FederationInfo`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FederationPeerInfo {
    /// Its configured id (`""` when not configured).
    pub id: String,
    /// Its base URL.
    pub url: String,
    /// Its display name.
    pub name: String,
    /// `ok`, `backoff`, `dead` or `misconfigured`.
    pub state: String,
}

/// The error body of every JSON route (hub.md §0.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// `error` of [`ErrorBody`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// Stable snake_case code.
    pub code: String,
    /// Human-readable, at most 200 characters.
    pub message: String,
    /// The offending field, when one is to blame.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}
