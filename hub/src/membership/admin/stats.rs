//! The stats document of hub.md §9: members by state and tier, presence, relay, billing, mail.

use serde_json::json;

use super::{Membership, Result};
use crate::metrics::{
    MEMBER_STATES as STATES, MEMBER_TIERS as TIERS, RELAY_TIERS as RESERVATION_TIERS, TierLabel,
};
use crate::store;

/// The window of `billing.donations_30d`.
const DONATION_WINDOW_MS: i64 = 30 * 86_400_000;

/// The stats document of hub.md §9.
pub(crate) type Stats = serde_json::Value;

impl Membership {
    /// `GET …/stats` (hub.md §9). `donations_30d` counts the paid donations of the last 30 days
    /// in the currency with the most of them (zeros and a null currency when there are none).
    pub(crate) async fn stats(&self) -> Result<Stats> {
        let counts = self.store().count_members().await?;
        let mut conn = self.store().acquire().await?;
        let subscriptions = store::count_subscriptions(&mut conn).await?;
        let donations = store::sum_donations_since(&mut conn, self.now_ms() - DONATION_WINDOW_MS)
            .await?
            .into_iter()
            .next();
        let (sent, failed) =
            store::count_emails_since(&mut conn, self.now_ms() - 86_400_000).await?;
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
                "donations_30d": donations.map_or_else(
                    || json!({"count": 0, "amount": 0, "currency": null}),
                    |(currency, count, amount)| {
                        json!({"count": count, "amount": amount, "currency": currency})
                    },
                ),
            },
            "email": {"sent_24h": sent, "failed_24h": failed},
        }))
    }
}
