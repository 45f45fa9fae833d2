//! Signed hub records and tombstones for directory tests: a valid record with sensible defaults
//! ([`hub_record`]) that a test edits before signing ([`sign_record`], [`sign_tombstone`]).

use libp2p::identity::ed25519::Keypair;
use shared::api::{RelaySummary, Software};
use shared::envelope::{Envelope, EnvelopeType};
use shared::ids::Ed25519PeerId;
use shared::record::{HubRecord, Tombstone};

/// The id of the hub holding `key`.
pub fn hub_id(key: &Keypair) -> String {
    Ed25519PeerId::from(key.public()).to_string()
}

/// A valid record for the hub holding `key` at `http_url`, issued at `now_ms` (`seq` = `now_ms`),
/// living one hour, slug `community`, open and free.
pub fn hub_record(key: &Keypair, http_url: &str, now_ms: i64) -> HubRecord {
    let id = hub_id(key);
    HubRecord {
        v: 1,
        seq: u64::try_from(now_ms).unwrap_or(0),
        issued_at: now_ms,
        expires_at: now_ms + 3_600_000,
        name: "Test community".to_owned(),
        slug: "community".to_owned(),
        description: String::new(),
        icon_url: String::new(),
        tags: Vec::new(),
        languages: Vec::new(),
        region: String::new(),
        contact_email: String::new(),
        join_mode: "open".to_owned(),
        access: "free".to_owned(),
        plans: Vec::new(),
        relay: RelaySummary {
            enabled: true,
            reservations: "members".to_owned(),
            circuit_sources: "members".to_owned(),
            max_reservations: 128,
            max_reservations_per_peer: 4,
            reservation_ttl_secs: 3600,
            max_circuits: 64,
            max_circuits_per_peer: 4,
            circuit_max_duration_secs: 1800,
            circuit_max_bytes: 16 << 20,
        },
        multiaddrs: vec![format!("/ip4/127.0.0.1/tcp/4001/p2p/{id}")],
        http_url: http_url.to_owned(),
        software: Software {
            name: "goop-hub".to_owned(),
            version: "0.1.0".to_owned(),
        },
        member_count: None,
        id,
    }
}

/// `record` serialized once and signed by `key` as a `hub-record` envelope.
pub fn sign_record(key: &Keypair, record: &HubRecord) -> Envelope {
    let payload = serde_json::to_string(record).expect("a record serializes");
    Envelope::sign(key, EnvelopeType::HubRecord, payload)
}

/// A tombstone for the hub holding `key` with `seq`, signed as a `hub-tombstone` envelope.
pub fn sign_tombstone(key: &Keypair, seq: u64, issued_at: i64, reason: &str) -> Envelope {
    let tombstone = Tombstone {
        v: 1,
        id: hub_id(key),
        seq,
        issued_at,
        reason: reason.to_owned(),
    };
    let payload = serde_json::to_string(&tombstone).expect("a tombstone serializes");
    Envelope::sign(key, EnvelopeType::HubTombstone, payload)
}

/// The JSON bytes of an envelope, as a hub POSTs them.
pub fn envelope_bytes(envelope: &Envelope) -> Vec<u8> {
    serde_json::to_vec(envelope).expect("an envelope serializes")
}
