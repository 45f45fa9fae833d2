//! What happens to a subscription after checkout: Stripe's `GET` and `DELETE`, and the changes a
//! test makes as Stripe would (a new status, cancel at period end, a renewal), each emitting the
//! events Stripe emits for it.

use serde_json::Value;

use super::error::StripeFailure;
use super::state::State;

impl State {
    /// A subscription object.
    pub(super) fn subscription(&self, id: &str) -> Option<Value> {
        self.subscriptions.get(id).map(|s| s.to_json(self.legacy))
    }

    /// `DELETE /v1/subscriptions/{id}`: cancels at once.
    pub(super) fn cancel_subscription(&mut self, id: &str) -> Result<Value, StripeFailure> {
        let sub = self
            .subscriptions
            .get(id)
            .ok_or_else(|| StripeFailure::no_such(404, "subscription", id, "id"))?;
        if sub.status == "canceled" {
            return Err(StripeFailure::invalid(
                "id",
                format!("The subscription {id} has already been canceled."),
            ));
        }
        self.set_status(id, "canceled");
        Ok(self.subscription(id).unwrap_or_default())
    }

    /// Moves a subscription to `status` and emits `customer.subscription.updated` (with
    /// `invoice.payment_failed` for `past_due`), or `.deleted` for `canceled`; `false` when unknown.
    pub(super) fn set_status(&mut self, id: &str, status: &str) -> bool {
        let (now, legacy) = (self.now(), self.legacy);
        let Some(sub) = self.subscriptions.get_mut(id) else {
            return false;
        };
        sub.status = status.to_owned();
        if status == "canceled" {
            sub.canceled_at = Some(now);
        }
        let object = sub.to_json(legacy);
        let failed = (status == "past_due").then(|| sub.invoice(false, false, now, legacy));
        if status == "canceled" {
            self.emit("customer.subscription.deleted", object);
        } else {
            self.emit("customer.subscription.updated", object);
        }
        if let Some(invoice) = failed {
            self.emit("invoice.payment_failed", invoice);
        }
        true
    }

    /// Sets `cancel_at_period_end` and emits `customer.subscription.updated`; `false` when unknown.
    pub(super) fn set_cancel_at_period_end(&mut self, id: &str, on: bool) -> bool {
        let legacy = self.legacy;
        let Some(sub) = self.subscriptions.get_mut(id) else {
            return false;
        };
        sub.cancel_at_period_end = on;
        let object = sub.to_json(legacy);
        self.emit("customer.subscription.updated", object);
        true
    }

    /// Starts the next period (the new one begins where the old ended), the subscription
    /// `active`, and emits `customer.subscription.updated` and `invoice.paid`; `false` when unknown.
    pub(super) fn renew(&mut self, id: &str) -> bool {
        let (now, legacy) = (self.now(), self.legacy);
        let Some(sub) = self.subscriptions.get_mut(id) else {
            return false;
        };
        sub.status = "active".to_owned();
        sub.current_period_start = sub.current_period_end;
        sub.current_period_end = sub
            .current_period_end
            .saturating_add(sub.price.period_secs());
        let (object, invoice) = (sub.to_json(legacy), sub.invoice(true, false, now, legacy));
        self.emit("customer.subscription.updated", object);
        self.emit("invoice.paid", invoice);
        true
    }
}
