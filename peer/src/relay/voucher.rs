//! Presenting our vouchers to hub relays as circuit source (peer.md §3.5 rule 8, hub.md §4.5): at
//! a signed hub whose relay admits only members as sources and where we lack the `relay`
//! entitlement, the stored vouchers of tier `member`, `paid` or `comped` are offered over
//! `/goop/hub/voucher/1.0.0` (that hub's own first, then the others) until one is accepted. An
//! acceptance holds until that voucher's `exp` or until a circuit through the relay fails; a
//! round without one is not repeated for [`REFUSED_HOLD`]. A voucher answered `expired` or
//! `revoked` is renewed and offered once more.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use futures::{AsyncReadExt as _, AsyncWriteExt as _};
use libp2p::PeerId;
use serde_json::Value;

use crate::hub_url::HubUrl;
use crate::hubs::HubView;
use crate::node::Node;

/// Deadline of one presentation (peer.md §13).
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// Largest request: the voucher limit (4 KiB) of the hub.
pub const MAX_REQUEST: usize = 4 * 1024;
/// Largest response read.
pub const MAX_RESPONSE: usize = 1024;
/// After a round in which no voucher was accepted, the relay is not asked again for this long.
pub const REFUSED_HOLD: Duration = Duration::from_secs(60);
/// Voucher tiers a hub relay may accept.
const TIERS: [&str; 3] = ["member", "paid", "comped"];

/// The relay's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Accepted until `expires_at` (unix ms).
    Accepted {
        /// The voucher's tier.
        tier: String,
        /// Its `exp` in ms.
        expires_at: i64,
    },
    /// Refused with this code (`untrusted_issuer`, `expired`, `guest_tier`, …).
    Refused(String),
}

/// Parses `{"ok":true,"tier","expires_at"}` or `{"ok":false,"error"}`; `None` for anything else.
pub fn parse(body: &[u8]) -> Option<Answer> {
    let value: Value = serde_json::from_slice(body).ok()?;
    match value.get("ok")?.as_bool()? {
        true => Some(Answer::Accepted {
            tier: value.get("tier")?.as_str()?.chars().take(32).collect(),
            expires_at: value.get("expires_at")?.as_i64()?,
        }),
        false => Some(Answer::Refused(
            value.get("error")?.as_str()?.chars().take(64).collect(),
        )),
    }
}

/// Where we stand at each relay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Standing {
    Accepted { until_ms: i64 },
    Refused { until_ms: i64 },
}

/// The presentations made, by relay PeerId (at most one per hub of the registry).
#[derive(Debug, Default)]
pub struct Presented {
    by_relay: Mutex<HashMap<PeerId, Standing>>,
}

impl Presented {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<PeerId, Standing>> {
        self.by_relay.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether a voucher accepted by `relay` is still valid at `now_ms`.
    pub fn accepted(&self, relay: &PeerId, now_ms: i64) -> bool {
        matches!(self.lock().get(relay), Some(Standing::Accepted { until_ms }) if *until_ms > now_ms)
    }

    /// Forgets what `relay` said (a circuit through it failed): the next dial presents again.
    pub fn forget(&self, relay: &PeerId) {
        self.lock().remove(relay);
    }

    fn set(&self, relay: PeerId, standing: Standing) {
        let mut map = self.lock();
        // One entry per relay of the registry (≤ 16 hubs); drop stale ones first.
        if map.len() >= 64 {
            map.clear();
        }
        map.insert(relay, standing);
    }
}

/// Whether `hub`'s relay needs a voucher from us to let us open circuits (rule 8).
pub fn needs_voucher(hub: &HubView) -> bool {
    hub.relay.is_some() && !hub.circuit_source_allowed()
}

/// Makes sure `hub`'s relay admits us as circuit source: true at once when it needs no voucher
/// or one is accepted; else presents our vouchers (unless a round failed within
/// [`REFUSED_HOLD`]).
pub async fn ensure(node: &Node, hub: &HubView) -> bool {
    let Some(relay) = hub.relay.as_ref().filter(|_| needs_voucher(hub)) else {
        return true;
    };
    let now = node.clock.now_ms();
    match node.circuit_vouchers.lock().get(&relay.peer_id).copied() {
        Some(Standing::Accepted { until_ms }) if until_ms > now => return true,
        Some(Standing::Refused { until_ms }) if until_ms > now => return false,
        _ => {}
    }
    if let Err(error) = node
        .net
        .dial(relay.peer_id, relay.addrs.clone(), relay.connect_timeout)
        .await
    {
        tracing::debug!(hub = %hub.url, %error, "relay unreachable for a voucher presentation");
        return false;
    }
    for (from, token) in candidates(node, &hub.url, now).await {
        let mut answer = present(node, relay.peer_id, &token).await;
        if let Ok(Answer::Refused(code)) = &answer
            && matches!(code.as_str(), "expired" | "revoked")
        {
            // Refresh that voucher (§3.6) before offering it again, once.
            answer = match crate::membership::refresh::renew_now(node, &from).await {
                Ok(_) => match node.store.voucher(&from).await {
                    Ok(Some(renewed)) => present(node, relay.peer_id, &renewed).await,
                    _ => answer,
                },
                Err(error) => {
                    tracing::info!(hub = %from, %error, "voucher not renewed after a relay refused it");
                    answer
                }
            };
        }
        match answer {
            Ok(Answer::Accepted { tier, expires_at }) => {
                tracing::info!(hub = %hub.url, voucher_of = %from, tier, expires_at, "relay accepted our voucher as circuit source");
                let standing = Standing::Accepted {
                    until_ms: expires_at,
                };
                node.circuit_vouchers.set(relay.peer_id, standing);
                return true;
            }
            Ok(Answer::Refused(code)) => {
                tracing::info!(hub = %hub.url, voucher_of = %from, code, "relay refused our voucher");
            }
            Err(error) => {
                tracing::debug!(hub = %hub.url, voucher_of = %from, %error, "voucher presentation failed");
            }
        }
    }
    let until_ms = now.saturating_add(REFUSED_HOLD.as_millis() as i64);
    node.circuit_vouchers
        .set(relay.peer_id, Standing::Refused { until_ms });
    false
}

/// Our unexpired vouchers of a relay-admitting tier: `hub`'s own first, then the others.
async fn candidates(node: &Node, hub: &HubUrl, now_ms: i64) -> Vec<(HubUrl, String)> {
    let Ok(rows) = node.store.list_memberships().await else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for row in rows {
        let usable = row.tier.as_deref().is_some_and(|t| TIERS.contains(&t))
            && row.voucher_expires_at.is_some_and(|exp| exp > now_ms);
        let Ok(url) = HubUrl::parse(&row.hub_url) else {
            continue;
        };
        if let (true, Ok(Some(token))) = (usable, node.store.voucher(&url).await) {
            found.push((url, token));
        }
    }
    found.sort_by_key(|(url, _)| url != hub);
    found
}

/// One request and one response on a new stream (libp2p `request_response` JSON: each side
/// writes one JSON value and half-closes), within [`TIMEOUT`].
async fn present(node: &Node, relay: PeerId, token: &str) -> Result<Answer, String> {
    let request = serde_json::json!({ "voucher": token }).to_string();
    if request.len() > MAX_REQUEST {
        return Err("voucher too large".to_owned());
    }
    let exchange = async {
        let mut stream = node
            .net
            .streams()
            .open_stream(relay, shared::protocol::VOUCHER)
            .await
            .map_err(|e| e.to_string())?;
        stream
            .write_all(request.as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        stream.close().await.map_err(|e| e.to_string())?;
        let mut body = Vec::new();
        (&mut stream)
            .take(MAX_RESPONSE as u64 + 1)
            .read_to_end(&mut body)
            .await
            .map_err(|e| e.to_string())?;
        if body.len() > MAX_RESPONSE {
            return Err("response too large".to_owned());
        }
        parse(&body).ok_or_else(|| "malformed response".to_owned())
    };
    tokio::time::timeout(TIMEOUT, exchange)
        .await
        .map_err(|_| "timed out".to_owned())?
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn answers_parse_as_accepted_or_refused() {
        assert_eq!(
            parse(br#"{"ok":true,"tier":"member","expires_at":5}"#),
            Some(Answer::Accepted {
                tier: "member".to_owned(),
                expires_at: 5
            })
        );
        assert_eq!(
            parse(br#"{"ok":false,"error":"untrusted_issuer"}"#),
            Some(Answer::Refused("untrusted_issuer".to_owned()))
        );
        for bad in [
            &br#"{"ok":true,"tier":"member"}"#[..],
            br#"{"ok":"yes"}"#,
            br#"{"ok":false}"#,
            b"[]",
            b"",
        ] {
            assert_eq!(parse(bad), None, "{}", String::from_utf8_lossy(bad));
        }
    }

    proptest! {
        #[test]
        fn hostile_answers_never_panic(body in proptest::collection::vec(any::<u8>(), 0..1100),
                                       code in "(?s).{0,300}", exp in any::<i64>()) {
            let _ = parse(&body);
            let refused = serde_json::json!({"ok": false, "error": code}).to_string();
            if let Some(Answer::Refused(code)) = parse(refused.as_bytes()) {
                prop_assert!(code.chars().count() <= 64);
            }
            let accepted = serde_json::json!({"ok": true, "tier": code, "expires_at": exp}).to_string();
            let ok = matches!(parse(accepted.as_bytes()), Some(Answer::Accepted { .. }));
            prop_assert!(ok, "an accepted answer parses");
        }
    }
}
