//! The hub record and tombstone payloads (hub.md §11.3), carried in signed envelopes
//! ([`crate::envelope`]): what a hub says about itself to super hubs, and how it leaves. The
//! rules here are the ones a hub's config is checked against at load, so a hub cannot sign a
//! record a super hub would refuse.

#[cfg(test)]
mod proptests;

use serde::{Deserialize, Serialize};

use crate::api::{PlanSummary, RelaySummary, Software};
use crate::config::{is_http_url, looks_like_email};
use crate::envelope::{EnvelopeType, Verified};
use crate::ids::Slug;

/// The largest `seq` (2⁵³ − 1, exact in every JSON implementation).
pub const MAX_SEQ: u64 = (1 << 53) - 1;
/// Plans a record lists at most.
pub const MAX_PLANS: usize = 8;
/// Multiaddrs a record lists at most.
pub const MAX_MULTIADDRS: usize = 8;

/// Why a payload was refused: the field at fault and the rule it broke.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {rule}")]
pub struct InvalidRecord {
    /// The payload field (`json` when the text does not parse).
    pub field: &'static str,
    /// What it must be.
    pub rule: String,
}

fn invalid(field: &'static str, rule: impl Into<String>) -> InvalidRecord {
    InvalidRecord {
        field,
        rule: rule.into(),
    }
}

/// A hub record (type `hub-record`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HubRecord {
    /// `1`.
    pub v: u64,
    /// The hub id; equals the envelope's signer.
    pub id: String,
    /// Increases with every record the hub issues.
    pub seq: u64,
    /// Issued (ms).
    pub issued_at: i64,
    /// Expires (ms).
    pub expires_at: i64,
    /// 1–64 characters.
    pub name: String,
    /// The community slug.
    pub slug: String,
    /// At most 1000 characters.
    #[serde(default)]
    pub description: String,
    /// `""` or an http(s) URL of at most 512 bytes.
    #[serde(default)]
    pub icon_url: String,
    /// At most 10 tags `^[a-z0-9][a-z0-9-]{0,31}$`.
    #[serde(default)]
    pub tags: Vec<String>,
    /// At most 5 BCP 47 tags of at most 16 characters.
    #[serde(default)]
    pub languages: Vec<String>,
    /// `""` or a lower-case ISO 3166-1 alpha-2 code.
    #[serde(default)]
    pub region: String,
    /// `""` or an email address.
    #[serde(default)]
    pub contact_email: String,
    /// `open`, `email`, `invite` or `application`.
    pub join_mode: String,
    /// `free` or `paid`.
    pub access: String,
    /// At most 8 plans.
    #[serde(default)]
    pub plans: Vec<PlanSummary>,
    /// The relay as in the info document.
    pub relay: RelaySummary,
    /// 1–8 addresses, each ending in `/p2p/<id>`.
    pub multiaddrs: Vec<String>,
    /// The normalized external URL.
    pub http_url: String,
    /// `{"name":"goop-hub","version"}`.
    pub software: Software,
    /// Members, when the hub publishes the count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member_count: Option<u64>,
}

/// A hub's tombstone (type `hub-tombstone`): it left the directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tombstone {
    /// `1`.
    pub v: u64,
    /// The hub id; equals the envelope's signer.
    pub id: String,
    /// Greater than every record's `seq` before it.
    pub seq: u64,
    /// Issued (ms).
    pub issued_at: i64,
    /// At most 200 characters.
    #[serde(default)]
    pub reason: String,
}

impl HubRecord {
    /// The record in a verified envelope: type `hub-record`, payload parsed, every rule of
    /// §11.3 checked, `id` equal to the signer.
    ///
    /// # Errors
    /// [`InvalidRecord`] naming the field.
    pub fn from_verified(verified: &Verified<'_>) -> Result<Self, InvalidRecord> {
        if verified.kind != EnvelopeType::HubRecord {
            return Err(invalid("type", "hub-record"));
        }
        let record: Self =
            serde_json::from_str(verified.payload).map_err(|e| invalid("json", e.to_string()))?;
        if record.id != verified.signer.to_string() {
            return Err(invalid("id", "must equal the envelope's signer"));
        }
        record.validate()?;
        Ok(record)
    }

    /// Checks every rule of §11.3.
    ///
    /// # Errors
    /// [`InvalidRecord`] naming the first field at fault.
    pub fn validate(&self) -> Result<(), InvalidRecord> {
        check_common(self.v, self.seq, self.issued_at)?;
        if self.expires_at <= self.issued_at {
            return Err(invalid("expires_at", "after issued_at"));
        }
        check_profile(&Profile {
            name: &self.name,
            description: &self.description,
            icon_url: &self.icon_url,
            tags: &self.tags,
            languages: &self.languages,
            region: &self.region,
            contact_email: &self.contact_email,
        })?;
        if Slug::parse(&self.slug).is_err() {
            return Err(invalid("slug", "a slug"));
        }
        if !matches!(
            self.join_mode.as_str(),
            "open" | "email" | "invite" | "application"
        ) {
            return Err(invalid("join_mode", "open, email, invite or application"));
        }
        if !matches!(self.access.as_str(), "free" | "paid") {
            return Err(invalid("access", "free or paid"));
        }
        if self.plans.len() > MAX_PLANS {
            return Err(invalid("plans", format!("at most {MAX_PLANS}")));
        }
        let suffix = format!("/p2p/{}", self.id);
        let addrs_ok = (1..=MAX_MULTIADDRS).contains(&self.multiaddrs.len())
            && self.multiaddrs.iter().all(|a| {
                a.len() <= 256 && a.ends_with(&suffix) && a.parse::<libp2p::Multiaddr>().is_ok()
            });
        if !addrs_ok {
            return Err(invalid(
                "multiaddrs",
                format!(
                    "1–{MAX_MULTIADDRS} multiaddrs of at most 256 characters ending in {suffix}"
                ),
            ));
        }
        if !is_http_url(&self.http_url, 512) {
            return Err(invalid("http_url", "an http(s) URL of at most 512 bytes"));
        }
        Ok(())
    }
}

impl Tombstone {
    /// The tombstone in a verified envelope: type `hub-tombstone`, rules checked, `id` equal to
    /// the signer.
    ///
    /// # Errors
    /// [`InvalidRecord`] naming the field.
    pub fn from_verified(verified: &Verified<'_>) -> Result<Self, InvalidRecord> {
        if verified.kind != EnvelopeType::HubTombstone {
            return Err(invalid("type", "hub-tombstone"));
        }
        let tombstone: Self =
            serde_json::from_str(verified.payload).map_err(|e| invalid("json", e.to_string()))?;
        if tombstone.id != verified.signer.to_string() {
            return Err(invalid("id", "must equal the envelope's signer"));
        }
        check_common(tombstone.v, tombstone.seq, tombstone.issued_at)?;
        if tombstone.reason.chars().count() > 200 {
            return Err(invalid("reason", "at most 200 characters"));
        }
        Ok(tombstone)
    }
}

fn check_common(v: u64, seq: u64, issued_at: i64) -> Result<(), InvalidRecord> {
    if v != 1 {
        return Err(invalid("v", "1"));
    }
    if seq > MAX_SEQ {
        return Err(invalid("seq", "at most 2^53 - 1"));
    }
    if issued_at < 0 {
        return Err(invalid("issued_at", "unix milliseconds"));
    }
    Ok(())
}

/// The community description a hub's config and its record share (hub.md §11.3).
#[derive(Debug, Clone, Copy)]
pub struct Profile<'a> {
    /// 1–64 characters.
    pub name: &'a str,
    /// At most 1000 characters.
    pub description: &'a str,
    /// `""` or an http(s) URL of at most 512 bytes.
    pub icon_url: &'a str,
    /// At most 10 tags.
    pub tags: &'a [String],
    /// At most 5 language tags.
    pub languages: &'a [String],
    /// `""` or ISO 3166-1 alpha-2, lower-case.
    pub region: &'a str,
    /// `""` or an email address.
    pub contact_email: &'a str,
}

/// Checks a community description against §11.3.
///
/// # Errors
/// [`InvalidRecord`] naming the first field at fault.
pub fn check_profile(profile: &Profile<'_>) -> Result<(), InvalidRecord> {
    if !(1..=64).contains(&profile.name.chars().count()) {
        return Err(invalid("name", "1–64 characters"));
    }
    if profile.description.chars().count() > 1000 {
        return Err(invalid("description", "at most 1000 characters"));
    }
    if !profile.icon_url.is_empty() && !is_http_url(profile.icon_url, 512) {
        return Err(invalid(
            "icon_url",
            "\"\" or an http(s) URL of at most 512 bytes",
        ));
    }
    if profile.tags.len() > 10 || !profile.tags.iter().all(|t| is_tag(t)) {
        return Err(invalid(
            "tags",
            "at most 10 tags of a-z, 0-9 and '-', 1–32 characters",
        ));
    }
    if profile.languages.len() > 5 || !profile.languages.iter().all(|l| is_language(l)) {
        return Err(invalid(
            "languages",
            "at most 5 BCP 47 tags of at most 16 characters",
        ));
    }
    let region_ok = profile.region.is_empty()
        || (profile.region.len() == 2 && profile.region.bytes().all(|b| b.is_ascii_lowercase()));
    if !region_ok {
        return Err(invalid(
            "region",
            "\"\" or a lower-case ISO 3166-1 alpha-2 code",
        ));
    }
    if !profile.contact_email.is_empty() && !looks_like_email(profile.contact_email) {
        return Err(invalid("contact_email", "\"\" or an email address"));
    }
    Ok(())
}

/// `^[a-z0-9][a-z0-9-]{0,31}$`.
pub fn is_tag(tag: &str) -> bool {
    let bytes = tag.as_bytes();
    (1..=32).contains(&bytes.len())
        && (bytes[0].is_ascii_lowercase() || bytes[0].is_ascii_digit())
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
}

/// A BCP 47 tag of at most 16 characters (letters, digits, `-`).
pub fn is_language(tag: &str) -> bool {
    (1..=16).contains(&tag.len()) && tag.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

#[cfg(test)]
mod tests {
    use libp2p::identity::ed25519;
    use serde_json::{Value, json};

    use super::*;
    use crate::envelope::Envelope;

    pub(super) fn record(key: &ed25519::Keypair) -> Value {
        let id = crate::ids::Ed25519PeerId::from(key.public()).to_string();
        json!({
            "v": 1, "id": id, "seq": 1_767_225_600_000_u64, "issued_at": 1_767_225_600_000_i64,
            "expires_at": 1_767_229_200_000_i64, "name": "Go Developers", "slug": "go-developers",
            "description": "", "icon_url": "", "tags": ["go"], "languages": ["en"], "region": "nl",
            "contact_email": "", "join_mode": "email", "access": "paid",
            "plans": [{"id": "yearly", "kind": "subscription", "name": "Member", "amount": 999,
                       "currency": "usd", "interval": "year"}],
            "relay": {"enabled": true, "reservations": "members", "circuit_sources": "members",
                      "max_reservations": 128, "max_reservations_per_peer": 4, "reservation_ttl_secs": 3600,
                      "max_circuits": 64, "max_circuits_per_peer": 4, "circuit_max_duration_secs": 1800,
                      "circuit_max_bytes": 16_777_216},
            "multiaddrs": [format!("/dns4/hub.example.org/tcp/4001/p2p/{id}")],
            "http_url": "https://hub.example.org",
            "software": {"name": "goop-hub", "version": "0.1.0"}
        })
    }

    fn open(
        key: &ed25519::Keypair,
        kind: EnvelopeType,
        payload: &Value,
    ) -> Result<HubRecord, InvalidRecord> {
        let envelope = Envelope::sign(key, kind, payload.to_string());
        HubRecord::from_verified(&envelope.verify().expect("signed here"))
    }

    #[test]
    fn record_verifies_with_only_the_hub_id() {
        let key = ed25519::Keypair::generate();

        let record = open(&key, EnvelopeType::HubRecord, &record(&key)).unwrap();

        assert_eq!(record.slug, "go-developers");
        assert_eq!(record.plans[0].amount, Some(999));
    }

    #[test]
    fn record_is_refused_naming_the_field_that_breaks_a_rule() {
        let key = ed25519::Keypair::generate();
        let other =
            crate::ids::Ed25519PeerId::from(ed25519::Keypair::generate().public()).to_string();
        let cases: Vec<(&str, Value, &str)> = vec![
            ("v", json!(2), "v"),
            ("seq", json!(MAX_SEQ + 1), "seq"),
            ("expires_at", json!(1), "expires_at"),
            ("name", json!(""), "name"),
            ("name", json!("x".repeat(65)), "name"),
            ("description", json!("d".repeat(1001)), "description"),
            ("icon_url", json!("ftp://x"), "icon_url"),
            ("tags", json!(["Go"]), "tags"),
            ("tags", json!(vec!["t"; 11]), "tags"),
            ("languages", json!(["en_US!"]), "languages"),
            ("region", json!("NL"), "region"),
            ("contact_email", json!("nobody"), "contact_email"),
            ("slug", json!("Not A Slug"), "slug"),
            ("join_mode", json!("closed"), "join_mode"),
            ("access", json!("cheap"), "access"),
            (
                "plans",
                json!(vec![json!({"id":"p","kind":"free","name":"P"}); 9]),
                "plans",
            ),
            ("multiaddrs", json!([]), "multiaddrs"),
            ("multiaddrs", json!(["/ip4/1.2.3.4/tcp/1"]), "multiaddrs"),
            (
                "multiaddrs",
                json!([format!("/ip4/1.2.3.4/tcp/1/p2p/{other}")]),
                "multiaddrs",
            ),
            ("http_url", json!("hub.example.org"), "http_url"),
            ("id", json!(other), "id"),
            ("relay", json!("yes"), "json"),
        ];
        for (field, value, blamed) in cases {
            let mut payload = record(&key);
            payload[field] = value.clone();
            let error = open(&key, EnvelopeType::HubRecord, &payload).unwrap_err();
            assert_eq!(error.field, blamed, "{field} = {value}: {error}");
        }
        let tomb = open(&key, EnvelopeType::HubTombstone, &record(&key)).unwrap_err();
        assert_eq!(tomb.field, "type");
    }

    #[test]
    fn tombstone_is_read_and_its_reason_bounded() {
        let key = ed25519::Keypair::generate();
        let id = crate::ids::Ed25519PeerId::from(key.public()).to_string();
        let read = |payload: Value| {
            let envelope = Envelope::sign(&key, EnvelopeType::HubTombstone, payload.to_string());
            Tombstone::from_verified(&envelope.verify().unwrap())
        };

        let ok =
            read(json!({"v": 1, "id": id, "seq": 5, "issued_at": 5, "reason": "closing"})).unwrap();
        let long =
            read(json!({"v": 1, "id": id, "seq": 5, "issued_at": 5, "reason": "r".repeat(201)}));
        let extra = read(json!({"v": 1, "id": id, "seq": 5, "issued_at": 5, "name": "x"}));

        assert_eq!(ok.reason, "closing");
        assert_eq!(long.unwrap_err().field, "reason");
        assert_eq!(extra.unwrap_err().field, "json");
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn from_verified_never_panics_on_any_signed_payload(payload in "\\PC{0,400}") {
                let key = ed25519::Keypair::generate();
                for kind in [EnvelopeType::HubRecord, EnvelopeType::HubTombstone] {
                    let envelope = Envelope::sign(&key, kind, payload.clone());
                    let verified = envelope.verify().unwrap();
                    let _ = HubRecord::from_verified(&verified);
                    let _ = Tombstone::from_verified(&verified);
                }
            }

            #[test]
            fn any_valid_profile_change_keeps_a_record_valid(
                name in "[A-Za-z ]{1,64}",
                tags in proptest::collection::vec("[a-z0-9][a-z0-9-]{0,31}", 0..=10),
                region in "([a-z]{2})?",
            ) {
                let key = ed25519::Keypair::generate();
                let mut payload = record(&key);
                payload["name"] = json!(name);
                payload["tags"] = json!(tags);
                payload["region"] = json!(region);
                prop_assert!(open(&key, EnvelopeType::HubRecord, &payload).is_ok());
            }
        }
    }
}
