//! Stripe's objects as the double renders them: `id`, `object`, `created` (unix seconds),
//! `livemode: false` and the fields the hub reads (hub.md §8.5 rule 4), in the current API shape
//! or, with legacy shapes on, the shape of API versions before 2025-03-31.

use rand::Rng as _;
use rand::distr::Alphanumeric;
use serde_json::{Map, Value, json};

/// The `api_version` of events in the current shape.
pub(super) const API_VERSION: &str = "2025-03-31.basil";
/// The `api_version` of events in the legacy shape.
pub(super) const LEGACY_API_VERSION: &str = "2024-12-18.acacia";

/// A fresh id: `prefix` + `_` + 24 random alphanumerics, like Stripe's.
pub(super) fn new_id(prefix: &str) -> String {
    let tail: String = rand::rng()
        .sample_iter(Alphanumeric)
        .take(24)
        .map(char::from)
        .collect();
    format!("{prefix}_{tail}")
}

/// A price the test registered or a checkout's `price_data` made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Price {
    pub(super) id: String,
    pub(super) unit_amount: i64,
    pub(super) currency: String,
    /// `day`, `week`, `month` or `year`; `None` for a one-time price.
    pub(super) interval: Option<String>,
}

impl Price {
    pub(super) fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "object": "price",
            "livemode": false,
            "active": true,
            "unit_amount": self.unit_amount,
            "currency": self.currency,
            "type": if self.interval.is_some() { "recurring" } else { "one_time" },
            "recurring": self.interval.as_ref().map(|i| json!({"interval": i, "interval_count": 1})),
        })
    }

    /// The length of one period in seconds (a month is 30 days, a year 365).
    pub(super) fn period_secs(&self) -> i64 {
        match self.interval.as_deref() {
            Some("day") => 86_400,
            Some("week") => 7 * 86_400,
            Some("year") => 365 * 86_400,
            _ => 30 * 86_400,
        }
    }
}

/// A subscription as the double keeps it.
#[derive(Debug, Clone)]
pub(super) struct Subscription {
    pub(super) id: String,
    pub(super) item_id: String,
    pub(super) customer: String,
    pub(super) status: String,
    pub(super) cancel_at_period_end: bool,
    pub(super) created: i64,
    pub(super) current_period_start: i64,
    pub(super) current_period_end: i64,
    pub(super) canceled_at: Option<i64>,
    pub(super) price: Price,
    pub(super) quantity: i64,
    pub(super) metadata: Map<String, Value>,
}

impl Subscription {
    /// The subscription object; `legacy` puts the period at the top level instead of on the item.
    pub(super) fn to_json(&self, legacy: bool) -> Value {
        let mut item = json!({
            "id": self.item_id,
            "object": "subscription_item",
            "created": self.created,
            "price": self.price.to_json(),
            "quantity": self.quantity,
            "subscription": self.id,
        });
        let mut sub = json!({
            "id": self.id,
            "object": "subscription",
            "created": self.created,
            "livemode": false,
            "customer": self.customer,
            "status": self.status,
            "cancel_at_period_end": self.cancel_at_period_end,
            "canceled_at": self.canceled_at,
            "ended_at": if self.status == "canceled" { self.canceled_at } else { None },
            "currency": self.price.currency,
            "metadata": self.metadata,
        });
        let period = if legacy { &mut sub } else { &mut item };
        period["current_period_start"] = self.current_period_start.into();
        period["current_period_end"] = self.current_period_end.into();
        sub["items"] = json!({
            "object": "list",
            "data": [item],
            "has_more": false,
            "url": format!("/v1/subscription_items?subscription={}", self.id),
        });
        sub
    }

    /// An invoice of this subscription for one period, `paid` or `open` (a failed payment);
    /// `first` for the invoice of its creation (`billing_reason` `subscription_create`).
    pub(super) fn invoice(&self, paid: bool, first: bool, created: i64, legacy: bool) -> Value {
        let amount = self.price.unit_amount.saturating_mul(self.quantity);
        let mut invoice = json!({
            "id": new_id("in"),
            "object": "invoice",
            "created": created,
            "livemode": false,
            "customer": self.customer,
            "status": if paid { "paid" } else { "open" },
            "paid": paid,
            "amount_due": amount,
            "amount_paid": if paid { amount } else { 0 },
            "amount_remaining": if paid { 0 } else { amount },
            "currency": self.price.currency,
            "billing_reason": if first { "subscription_create" } else { "subscription_cycle" },
            "period_start": self.current_period_start,
            "period_end": self.current_period_end,
        });
        if legacy {
            invoice["subscription"] = self.id.clone().into();
        } else {
            invoice["parent"] = json!({
                "type": "subscription_details",
                "quote_details": null,
                "subscription_details": {"subscription": self.id, "metadata": self.metadata},
            });
        }
        invoice
    }
}

/// An event about `object`.
pub(super) fn event(kind: &str, object: Value, created: i64, legacy: bool) -> Value {
    json!({
        "id": new_id("evt"),
        "object": "event",
        "type": kind,
        "created": created,
        "livemode": false,
        "pending_webhooks": 1,
        "api_version": if legacy { LEGACY_API_VERSION } else { API_VERSION },
        "request": {"id": null, "idempotency_key": null},
        "data": {"object": object},
    })
}

/// A customer.
pub(super) fn customer(email: Option<&str>, created: i64) -> Value {
    json!({
        "id": new_id("cus"),
        "object": "customer",
        "created": created,
        "livemode": false,
        "email": email,
        "metadata": {},
    })
}
