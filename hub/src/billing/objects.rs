//! The parts of Stripe's objects the hub reads (hub.md §8.4 rule 5, §8.5 rule 4), decoded
//! leniently: unknown fields are ignored and only what billing uses is required, so a Stripe API
//! version that adds or moves other fields changes nothing here. Both subscription shapes are
//! read: `current_period_end` at the top (API versions before 2025-03-31) or on the first item.

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::Value;

/// An event as the webhook and `GET /v1/events` deliver it; `data.object` stays raw until the
/// event's type says what it is.
#[derive(Debug, Clone, Deserialize)]
pub struct Event {
    /// `evt_…`.
    pub id: String,
    /// E.g. `customer.subscription.updated`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Unix seconds.
    pub created: i64,
    /// `{"object": {…}}`.
    pub data: EventData,
}

/// `event.data`.
#[derive(Debug, Clone, Deserialize)]
pub struct EventData {
    /// The object the event is about.
    pub object: Value,
}

impl Event {
    /// Parses an event body (§8.4 rule 5): `id`, `type`, `created` and `data.object` (an
    /// object) are required.
    ///
    /// # Errors
    /// A description of what is missing or malformed.
    pub fn parse(body: &[u8]) -> Result<Self, serde_json::Error> {
        let event: Self = serde_json::from_slice(body)?;
        if !event.data.object.is_object() || event.id.is_empty() || event.kind.is_empty() {
            return Err(serde::de::Error::custom(
                "an event needs a non-empty id and type and an object in data.object",
            ));
        }
        Ok(event)
    }

    /// `created` in unix milliseconds.
    pub fn created_ms(&self) -> i64 {
        self.created.saturating_mul(1000)
    }
}

/// A subscription (§8.5 rule 4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    /// `sub_…`.
    pub id: String,
    /// `cus_…`.
    pub customer: String,
    /// Stripe status.
    pub status: String,
    /// Ends at the period end.
    pub cancel_at_period_end: bool,
    /// End of the current period, unix ms.
    pub current_period_end: Option<i64>,
    /// `items.data[0].price.id`.
    pub price_id: Option<String>,
    /// `metadata`.
    pub metadata: HashMap<String, String>,
}

#[derive(Deserialize)]
struct RawSubscription {
    id: String,
    customer: Expandable,
    status: String,
    #[serde(default)]
    cancel_at_period_end: bool,
    #[serde(default)]
    current_period_end: Option<i64>,
    #[serde(default)]
    items: Option<RawItems>,
    #[serde(default)]
    metadata: Option<HashMap<String, String>>,
}

#[derive(Deserialize)]
struct RawItems {
    #[serde(default)]
    data: Vec<RawItem>,
}

#[derive(Deserialize)]
struct RawItem {
    #[serde(default)]
    current_period_end: Option<i64>,
    #[serde(default)]
    price: Option<Expandable>,
}

/// An id, or the expanded object carrying it.
#[derive(Deserialize)]
#[serde(untagged)]
enum Expandable {
    Id(String),
    Object { id: String },
}

impl Expandable {
    fn into_id(self) -> String {
        match self {
            Self::Id(id) | Self::Object { id } => id,
        }
    }
}

impl Subscription {
    /// Reads a subscription object.
    ///
    /// # Errors
    /// When `id`, `customer` or `status` is missing or of the wrong type.
    pub fn from_value(value: &Value) -> Result<Self, serde_json::Error> {
        let raw = RawSubscription::deserialize(value)?;
        let first = raw.items.and_then(|items| items.data.into_iter().next());
        let item_end = first.as_ref().and_then(|item| item.current_period_end);
        let price_id = first.and_then(|item| item.price).map(Expandable::into_id);
        Ok(Self {
            id: raw.id,
            customer: raw.customer.into_id(),
            status: raw.status,
            cancel_at_period_end: raw.cancel_at_period_end,
            current_period_end: raw
                .current_period_end
                .or(item_end)
                .map(|s| s.saturating_mul(1000)),
            price_id,
            metadata: raw.metadata.unwrap_or_default(),
        })
    }

    /// Whether the status entitles to paid access outright.
    pub fn is_paying(&self) -> bool {
        matches!(self.status.as_str(), "active" | "trialing")
    }

    /// Whether the status is a failed payment that keeps access for the grace period.
    pub fn is_past_due(&self) -> bool {
        matches!(self.status.as_str(), "past_due" | "unpaid")
    }
}

/// A Checkout Session (`checkout.session.completed`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CheckoutSession {
    /// `cs_…`.
    pub id: String,
    /// `subscription` or `payment`.
    pub mode: String,
    /// `paid`, `unpaid` or `no_payment_required`.
    #[serde(default)]
    pub payment_status: Option<String>,
    /// `cus_…`, when a customer exists.
    #[serde(default, deserialize_with = "expandable_id")]
    pub customer: Option<String>,
    /// `sub_…` for subscription mode.
    #[serde(default, deserialize_with = "expandable_id")]
    pub subscription: Option<String>,
    /// The account id the hub sent.
    #[serde(default)]
    pub client_reference_id: Option<String>,
    /// The metadata the hub sent.
    #[serde(default)]
    pub metadata: Option<HashMap<String, String>>,
    /// Total in minor units.
    #[serde(default)]
    pub amount_total: Option<i64>,
    /// ISO 4217, lower-case.
    #[serde(default)]
    pub currency: Option<String>,
}

/// An invoice: only the subscription it belongs to (§8.5 rule 4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invoice {
    /// `sub_…`, from `subscription` or `parent.subscription_details.subscription`.
    pub subscription: Option<String>,
    /// `cus_…`.
    pub customer: Option<String>,
}

impl Invoice {
    /// Reads an invoice object of either API shape.
    pub fn from_value(value: &Value) -> Self {
        let id_at = |v: Option<&Value>| {
            v.and_then(|v| v.as_str().or_else(|| v.get("id").and_then(Value::as_str)))
                .map(str::to_owned)
        };
        let subscription = id_at(value.get("subscription"))
            .or_else(|| id_at(value.pointer("/parent/subscription_details/subscription")));
        Self {
            subscription,
            customer: id_at(value.get("customer")),
        }
    }
}

fn expandable_id<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(Option::<Expandable>::deserialize(d)?.map(Expandable::into_id))
}

/// A list page of `GET /v1/events`.
#[derive(Debug, Clone, Deserialize)]
pub struct EventPage {
    /// Newest first.
    pub data: Vec<Value>,
    /// More pages follow.
    #[serde(default)]
    pub has_more: bool,
}

/// `{id, url}` of a created Checkout or portal session.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
pub struct SessionLink {
    /// `cs_…` / `bps_…`.
    pub id: String,
    /// Where to send the member.
    pub url: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn subscription_reads_the_period_end_at_the_top_or_on_the_first_item() {
        let old = json!({"id":"sub_1","customer":"cus_1","status":"active","current_period_end":100,
                         "items":{"data":[{"price":{"id":"price_1"}}]},"metadata":{"account_id":"a"}});
        let new = json!({"id":"sub_1","customer":{"id":"cus_1"},"status":"past_due","cancel_at_period_end":true,
                         "items":{"data":[{"current_period_end":200,"price":"price_2"}]}});

        let old = Subscription::from_value(&old).unwrap();
        let new = Subscription::from_value(&new).unwrap();

        assert_eq!(
            (old.current_period_end, old.price_id.as_deref()),
            (Some(100_000), Some("price_1"))
        );
        assert_eq!(
            old.metadata.get("account_id").map(String::as_str),
            Some("a")
        );
        assert_eq!(
            (new.current_period_end, new.price_id.as_deref()),
            (Some(200_000), Some("price_2"))
        );
        assert_eq!(new.customer, "cus_1");
        assert!(new.cancel_at_period_end && new.is_past_due());
    }

    #[test]
    fn subscription_without_id_customer_or_status_is_an_error() {
        for bad in [
            json!({"customer":"c","status":"active"}),
            json!({"id":"s","status":"active"}),
            json!({"id":"s","customer":"c"}),
            json!({"id":5,"customer":"c","status":"active"}),
            json!("sub_1"),
        ] {
            assert!(Subscription::from_value(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn invoice_reads_the_subscription_of_either_shape() {
        let old = Invoice::from_value(&json!({"subscription":"sub_1","customer":"cus_1"}));
        let new = Invoice::from_value(
            &json!({"parent":{"subscription_details":{"subscription":"sub_2"}}}),
        );
        let none = Invoice::from_value(&json!({"subscription":null}));

        assert_eq!(old.subscription.as_deref(), Some("sub_1"));
        assert_eq!(new.subscription.as_deref(), Some("sub_2"));
        assert_eq!(none.subscription, None);
    }

    #[test]
    fn event_parse_requires_id_type_created_and_an_object() {
        let ok = br#"{"id":"evt_1","type":"x","created":5,"data":{"object":{"id":"o"}}}"#;
        assert_eq!(Event::parse(ok).unwrap().created_ms(), 5000);
        for bad in [
            &br#"{"type":"x","created":5,"data":{"object":{}}}"#[..],
            br#"{"id":"evt_1","created":5,"data":{"object":{}}}"#,
            br#"{"id":"evt_1","type":"x","data":{"object":{}}}"#,
            br#"{"id":"evt_1","type":"x","created":5,"data":{}}"#,
            br#"{"id":"evt_1","type":"x","created":5,"data":{"object":"str"}}"#,
            br#"{"id":"","type":"x","created":5,"data":{"object":{}}}"#,
            br#"{"id":"evt_1","type":"x","created":"5","data":{"object":{}}}"#,
            b"not json",
            b"",
        ] {
            assert!(
                Event::parse(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
