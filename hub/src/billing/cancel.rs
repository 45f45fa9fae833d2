//! A ban's cancellation at Stripe (hub.md §9, §8.3): after the ban commits, every live
//! subscription of the account is cancelled at once with `DELETE /v1/subscriptions/{id}`. A
//! failure is logged and reported, never undoes the ban; Stripe's `customer.subscription.deleted`
//! then updates the row through the webhook.

use serde_json::{Value, json};

use super::checkout::LIVE_STATUSES;
use super::{Billing, Result};
use crate::store;

impl Billing {
    /// Cancels the account's live subscriptions; one outcome per subscription,
    /// `{"subscription","status"}` or `{"subscription","error"}`, for the ban's audit row.
    ///
    /// # Errors
    /// [`super::Error::Store`] when the subscriptions cannot be read; Stripe's refusals are
    /// outcomes, not errors.
    pub(crate) async fn cancel_subscriptions(&self, account_id: &str) -> Result<Vec<Value>> {
        let mut conn = self.membership().store().acquire().await?;
        let live: Vec<String> = store::list_subscriptions(&mut conn, account_id)
            .await?
            .into_iter()
            .filter(|s| LIVE_STATUSES.contains(&s.status.as_str()))
            .map(|s| s.id)
            .collect();
        drop(conn);
        let mut outcomes = Vec::with_capacity(live.len());
        for id in live {
            let outcome = match self.client().cancel_subscription(&id).await {
                Ok(subscription) => json!({"subscription": id, "status": subscription.status}),
                Err(error) => {
                    tracing::warn!(account_id, subscription = %id, %error, "cancelling a banned member's subscription at Stripe failed");
                    json!({"subscription": id, "error": error.to_string()})
                }
            };
            outcomes.push(outcome);
        }
        Ok(outcomes)
    }
}
