//! Voucher refresh (peer.md §3.6 "Voucher refresh"): each stored voucher is renewed with
//! `POST /api/v1/vouchers` once less than 20 % of its lifetime is left, while the membership
//! allows a voucher (`active`, `grace`, `lapsed`). Failures retry after 1 min doubling to 1 h;
//! 429 waits `Retry-After`; a new voucher whose `exp` is not later than the old one is kept and
//! nothing is asked again before it expires. Times follow the node's clock, looked at every
//! [`TICK`], so tests move the clock instead of waiting.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;
use tokio_util::sync::CancellationToken;

use super::JoinError;
use super::info::{JoinInfo, VoucherAnswer};
use crate::event::{Event, StateChange};
use crate::hub_url::HubUrl;
use crate::hubs::HubCallError;
use crate::hubs::client::{HTTP_TIMEOUT, HubClient};
use crate::node::Node;
use crate::store::MembershipRow;

/// How often the schedule is looked at.
pub const TICK: Duration = Duration::from_secs(1);
/// First retry after a failed renewal.
pub const FIRST_RETRY: Duration = Duration::from_secs(60);
/// Longest retry delay.
pub const MAX_RETRY: Duration = Duration::from_secs(3600);

/// Membership states in which the hub issues vouchers.
const VOUCHER_STATES: [&str; 3] = ["active", "grace", "lapsed"];

/// What the schedule knows of one hub's voucher.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Tracked {
    /// The `exp` (ms) of the voucher this was computed for.
    expires_at: i64,
    /// When renewal is due (ms).
    due_ms: i64,
    /// Failed renewals in a row.
    failures: u32,
    /// Nothing is asked before this (ms): a retry delay, a 429, or a capped `exp`.
    not_before_ms: i64,
}

/// When a voucher issued at `iat_ms` expiring at `exp_ms` is due: 20 % of its lifetime before
/// its end.
pub fn due_ms(iat_ms: i64, exp_ms: i64) -> i64 {
    exp_ms.saturating_sub(exp_ms.saturating_sub(iat_ms).max(0) / 5)
}

/// The delay after `failures` failed renewals in a row: 1 min doubling to 1 h.
pub fn retry_delay(failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(6);
    (FIRST_RETRY * 2u32.pow(doublings)).min(MAX_RETRY)
}

/// Renews the stored vouchers until `token` is cancelled.
pub(super) async fn run(node: Arc<Node>, token: CancellationToken) {
    let mut tracked: HashMap<HubUrl, Tracked> = HashMap::new();
    loop {
        tokio::select! {
            () = token.cancelled() => return,
            () = tokio::time::sleep(TICK) => {}
        }
        let rows = match node.store.list_memberships().await {
            Ok(rows) => rows,
            Err(error) => {
                tracing::warn!(%error, "voucher refresh: memberships unreadable");
                continue;
            }
        };
        let rows: Vec<(HubUrl, MembershipRow)> = rows
            .into_iter()
            .filter(|r| VOUCHER_STATES.contains(&r.state.as_str()))
            .filter_map(|r| Some((HubUrl::parse(&r.hub_url).ok()?, r)))
            .filter(|(_, r)| r.voucher_expires_at.is_some())
            .collect();
        tracked.retain(|url, _| rows.iter().any(|(u, _)| u == url));
        for (url, row) in rows {
            let expires_at = row.voucher_expires_at.unwrap_or_default();
            let entry = tracked.entry(url.clone()).or_default();
            if entry.expires_at != expires_at {
                let Some(due) = schedule(&node, &url).await else {
                    continue;
                };
                *entry = Tracked {
                    expires_at,
                    due_ms: due,
                    ..Tracked::default()
                };
            }
            let now = node.clock.now_ms();
            if now < entry.due_ms || now < entry.not_before_ms {
                continue;
            }
            match renew(&node, &url, &row).await {
                Ok(new_exp) if new_exp > expires_at => *entry = Tracked::default(),
                Ok(new_exp) => {
                    tracing::info!(hub = %url, expires_at = new_exp, "renewed voucher ends no later: kept until it expires");
                    *entry = Tracked {
                        expires_at: new_exp,
                        due_ms: new_exp,
                        not_before_ms: new_exp,
                        failures: 0,
                    };
                }
                Err(JoinError::Hub(HubCallError::RateLimited(wait))) => {
                    entry.not_before_ms = now.saturating_add(ms(wait));
                }
                Err(error) => {
                    entry.failures = entry.failures.saturating_add(1);
                    let delay = retry_delay(entry.failures);
                    entry.not_before_ms = now.saturating_add(ms(delay));
                    tracing::warn!(hub = %url, %error, retry_in = ?delay, "voucher renewal failed");
                }
            }
        }
    }
}

/// Renews the stored voucher of `url` now, as the schedule does when it is due: for a group
/// join refused with `voucher_expired` or `voucher_invalid` (peer.md §8.5) or a hub relay
/// answering `expired` or `revoked` (§3.5 rule 8). Returns the new voucher's `exp` (ms).
///
/// # Errors
/// [`JoinError::Refused`] with the membership state when it allows no voucher (or there is no
/// membership: `none`); otherwise as the renewal failed.
pub async fn renew_now(node: &Node, url: &HubUrl) -> Result<i64, JoinError> {
    let row = node
        .store
        .membership(url)
        .await
        .map_err(super::flow::local)?
        .ok_or_else(|| JoinError::Refused("none".to_owned()))?;
    if !VOUCHER_STATES.contains(&row.state.as_str()) {
        return Err(JoinError::Refused(row.state));
    }
    renew(node, url, &row).await
}

/// When the stored voucher of `url` is due (now when it no longer verifies, e.g. expired).
async fn schedule(node: &Node, url: &HubUrl) -> Option<i64> {
    let token = node.store.voucher(url).await.ok()??;
    match shared::voucher::verify(&token, &shared::voucher::Expected::default()) {
        Ok(claims) => Some(due_ms(secs(claims.iat), secs(claims.exp))),
        Err(_) => Some(i64::MIN),
    }
}

/// One renewal: the hub's info, `POST /api/v1/vouchers`, the new voucher checked and stored;
/// its `exp` in ms. Announces a changed state, tier or expiry.
async fn renew(node: &Node, url: &HubUrl, row: &MembershipRow) -> Result<i64, JoinError> {
    let client = HubClient::new(url.clone(), node.key.clone(), node.clock.clone());
    let info = JoinInfo::read(&client).await.map_err(JoinError::Hub)?;
    let answer = client
        .signed(
            "vouchers",
            Method::POST,
            "/api/v1/vouchers",
            Some(b"{}".to_vec()),
            HTTP_TIMEOUT,
        )
        .await
        .map_err(|error| {
            if matches!(error, HubCallError::Refused(_)) {
                node.hubs.reread_memberships();
            }
            JoinError::Hub(error)
        })?;
    let token = VoucherAnswer::token(&answer).map_err(JoinError::Hub)?;
    let (claims, expires_at) = super::voucher::check_and_store(node, url, &info, &token).await?;
    tracing::info!(hub = %url, tier = claims.tier, state = claims.state, expires_at, "voucher renewed");
    let changed = row.state != claims.state
        || row.tier.as_deref() != Some(claims.tier.as_str())
        || row.voucher_expires_at != Some(expires_at);
    if changed {
        let (state, tier) = (claims.state.clone(), claims.tier.clone());
        let mut announced = false;
        node.hubs.update(url, |v| {
            announced = v.membership.as_deref() != Some(state.as_str());
            v.membership = Some(state);
            v.tier = Some(tier);
        });
        if !announced {
            node.events.emit(Event::MembershipState(StateChange {
                url: url.to_string(),
                state: claims.state,
                detail: None,
            }));
        }
    }
    Ok(expires_at)
}

fn secs(secs: u64) -> i64 {
    i64::try_from(secs).unwrap_or(i64::MAX).saturating_mul(1000)
}

fn ms(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_voucher_is_due_when_a_fifth_of_its_lifetime_is_left() {
        let day = 86_400_000;
        assert_eq!(due_ms(0, day), day - day / 5);
        assert_eq!(due_ms(1000, 1000), 1000);
        assert_eq!(
            due_ms(2000, 1000),
            1000,
            "a backwards voucher is due at its exp"
        );
        assert!(due_ms(i64::MIN, i64::MAX) > 0, "saturates");
    }

    #[test]
    fn retries_wait_one_minute_doubling_to_an_hour() {
        let minutes: Vec<u64> = (1..=9).map(|f| retry_delay(f).as_secs() / 60).collect();
        assert_eq!(minutes, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
        assert_eq!(retry_delay(0), FIRST_RETRY);
        assert_eq!(retry_delay(u32::MAX), MAX_RETRY);
    }
}
