//! The outgoing Stripe calls of hub.md §8.3: a small typed client over `reqwest`. Form-encoded
//! bodies with exactly the spec's parameters, `Authorization: Bearer <secret key>`, a fresh
//! `Idempotency-Key` (UUID v4) on every POST, a 10 s timeout on every call, responses decoded
//! leniently ([`super::objects`]).

use std::time::Duration;

use secrecy::{ExposeSecret as _, SecretString};
use serde_json::Value;

use super::objects::{EventPage, SessionLink, Subscription};

/// Every Stripe call gives up after this.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// The event types the hub handles (hub.md §8.5); reconciliation lists only these.
pub const EVENT_TYPES: [&str; 6] = [
    "checkout.session.completed",
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
    "invoice.paid",
    "invoice.payment_failed",
];
/// The largest response body read from Stripe.
const MAX_RESPONSE_BYTES: usize = 4 * 1024 * 1024;

/// Why a Stripe call failed; the routes answer 502 `upstream_error`.
#[derive(Debug, thiserror::Error)]
pub enum StripeError {
    /// No answer within [`TIMEOUT`].
    #[error("Stripe did not answer within {}s", TIMEOUT.as_secs())]
    Timeout,
    /// The connection failed.
    #[error("Stripe unreachable: {0}")]
    Transport(String),
    /// Stripe answered with an error status.
    #[error("Stripe answered {status}: {message}")]
    Status {
        /// HTTP status.
        status: u16,
        /// `error.message` of Stripe's body, or the start of the body.
        message: String,
    },
    /// The answer was not the expected JSON.
    #[error("unexpected answer from Stripe: {0}")]
    Decode(String),
}

impl StripeError {
    /// The object does not exist at Stripe (404).
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::Status { status: 404, .. })
    }
}

/// A Stripe API client. Cheap to clone.
#[derive(Debug, Clone)]
pub struct StripeClient {
    http: reqwest::Client,
    base: String,
    secret_key: SecretString,
}

impl StripeClient {
    /// A client of the API at `base` (no trailing `/` needed).
    ///
    /// # Panics
    /// When the TLS backend cannot initialise (a broken build).
    pub fn new(base: &str, secret_key: SecretString) -> Self {
        let http =
            shared::http_client::outbound(concat!("goop-hub/", env!("CARGO_PKG_VERSION")), TIMEOUT);
        Self {
            http,
            base: base.trim_end_matches('/').to_owned(),
            secret_key,
        }
    }

    /// `POST /v1/checkout/sessions`.
    ///
    /// # Errors
    /// [`StripeError`].
    pub async fn create_checkout_session(
        &self,
        form: &[(String, String)],
    ) -> Result<SessionLink, StripeError> {
        decode(self.post("/v1/checkout/sessions", form).await?)
    }

    /// `POST /v1/billing_portal/sessions` with `customer` and `return_url`.
    ///
    /// # Errors
    /// [`StripeError`].
    pub async fn create_portal_session(
        &self,
        customer: &str,
        return_url: &str,
    ) -> Result<SessionLink, StripeError> {
        let form = [
            ("customer".to_owned(), customer.to_owned()),
            ("return_url".to_owned(), return_url.to_owned()),
        ];
        decode(self.post("/v1/billing_portal/sessions", &form).await?)
    }

    /// `GET /v1/subscriptions/{id}`.
    ///
    /// # Errors
    /// [`StripeError`].
    pub async fn get_subscription(&self, id: &str) -> Result<Subscription, StripeError> {
        let value = self
            .send(
                self.http
                    .get(self.url(&format!("/v1/subscriptions/{}", path_segment(id)))),
            )
            .await?;
        Subscription::from_value(&value).map_err(|e| StripeError::Decode(e.to_string()))
    }

    /// `DELETE /v1/subscriptions/{id}`: cancels at once.
    ///
    /// # Errors
    /// [`StripeError`].
    pub async fn cancel_subscription(&self, id: &str) -> Result<Subscription, StripeError> {
        let request = self
            .http
            .delete(self.url(&format!("/v1/subscriptions/{}", path_segment(id))));
        let value = self.send(request).await?;
        Subscription::from_value(&value).map_err(|e| StripeError::Decode(e.to_string()))
    }

    /// `GET /v1/events` of the handled types created at or after `created_gte` (and, when given,
    /// at or before `created_lte`; unix seconds), 100 per page, after the event `starting_after`.
    ///
    /// # Errors
    /// [`StripeError`].
    pub async fn list_events(
        &self,
        created_gte: i64,
        created_lte: Option<i64>,
        starting_after: Option<&str>,
    ) -> Result<EventPage, StripeError> {
        let mut query: Vec<(&str, String)> = vec![("created[gte]", created_gte.to_string())];
        if let Some(lte) = created_lte {
            query.push(("created[lte]", lte.to_string()));
        }
        query.push(("limit", "100".to_owned()));
        if let Some(after) = starting_after {
            query.push(("starting_after", after.to_owned()));
        }
        query.extend(EVENT_TYPES.iter().map(|t| ("types[]", (*t).to_owned())));
        let value = self
            .send(self.http.get(self.url("/v1/events")).query(&query))
            .await?;
        serde_json::from_value(value).map_err(|e| StripeError::Decode(e.to_string()))
    }

    async fn post(&self, path: &str, form: &[(String, String)]) -> Result<Value, StripeError> {
        let request = self
            .http
            .post(self.url(path))
            .header("Idempotency-Key", uuid::Uuid::new_v4().to_string())
            .form(form);
        self.send(request).await
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Result<Value, StripeError> {
        let response = request
            .bearer_auth(self.secret_key.expose_secret())
            .send()
            .await
            .map_err(transport)?;
        let status = response.status();
        let body = read_limited(response).await?;
        if !status.is_success() {
            let message = serde_json::from_slice::<Value>(&body)
                .ok()
                .and_then(|v| {
                    v.pointer("/error/message")
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                })
                .unwrap_or_else(|| {
                    String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned()
                });
            return Err(StripeError::Status {
                status: status.as_u16(),
                message,
            });
        }
        serde_json::from_slice(&body).map_err(|e| StripeError::Decode(e.to_string()))
    }
}

fn decode<T: serde::de::DeserializeOwned>(value: Value) -> Result<T, StripeError> {
    serde_json::from_value(value).map_err(|e| StripeError::Decode(e.to_string()))
}

fn transport(error: reqwest::Error) -> StripeError {
    if error.is_timeout() {
        StripeError::Timeout
    } else {
        StripeError::Transport(error.to_string())
    }
}

async fn read_limited(response: reqwest::Response) -> Result<Vec<u8>, StripeError> {
    use shared::http_client::ReadError;
    shared::http_client::read_limited(response, MAX_RESPONSE_BYTES)
        .await
        .map_err(|e| match e {
            ReadError::TooLarge(_) => StripeError::Decode("response larger than 4 MiB".to_owned()),
            ReadError::Transport(e) => transport(e),
        })
}

/// Stripe ids are `[A-Za-z0-9_]`; anything else is percent-encoded so an id cannot change the path.
fn path_segment(id: &str) -> String {
    id.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b == b'_' || b == b'-' {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_segment_keeps_ids_and_encodes_the_rest() {
        assert_eq!(path_segment("sub_1A2b"), "sub_1A2b");
        assert_eq!(path_segment("../x?y"), "%2E%2E%2Fx%3Fy");
    }
}
