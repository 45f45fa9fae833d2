//! The hub record payload (hub.md §11.3), built from the info document so the two never disagree.

use std::time::Duration;

use shared::api::HubInfo;
use shared::record::{HubRecord, InvalidRecord, MAX_MULTIADDRS};

/// The longest multiaddr a record carries.
const MAX_MULTIADDR_CHARS: usize = 256;

/// The record of the hub `info` describes, numbered `seq`, living `ttl` from `issued_at`. Only
/// the first [`MAX_MULTIADDRS`] addresses that fit the record's length rule are listed.
///
/// # Errors
/// [`InvalidRecord`] when the info document lacks its relay summary.
pub(crate) fn build(
    info: &HubInfo,
    member_count: Option<u64>,
    seq: u64,
    issued_at: i64,
    ttl: Duration,
) -> Result<HubRecord, InvalidRecord> {
    let relay = info.relay.clone().ok_or_else(|| InvalidRecord {
        field: "relay",
        rule: "the relay summary of the info document".to_owned(),
    })?;
    let ttl_ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
    Ok(HubRecord {
        v: 1,
        id: info.id.clone(),
        seq,
        issued_at,
        expires_at: issued_at.saturating_add(ttl_ms),
        name: info.name.clone(),
        slug: info.slug.clone(),
        description: info.description.clone(),
        icon_url: info.icon_url.clone(),
        tags: info.tags.clone(),
        languages: info.languages.clone(),
        region: info.region.clone(),
        contact_email: info.contact_email.clone(),
        join_mode: info.join_mode.clone(),
        access: info.access.clone(),
        plans: info.plans.clone(),
        relay,
        multiaddrs: info
            .multiaddrs
            .iter()
            .filter(|a| a.len() <= MAX_MULTIADDR_CHARS)
            .take(MAX_MULTIADDRS)
            .cloned()
            .collect(),
        http_url: shared::voucher::normalize_hub_url(&info.http_url),
        software: info.software.clone(),
        member_count,
    })
}
