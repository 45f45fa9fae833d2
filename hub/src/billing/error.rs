//! [`Error`]: billing's refusals and failures; the HTTP layer and the pages map it in one place
//! each.

use shared::db::StoreError;

use super::client::StripeError;
use super::signature::SignatureError;

/// Why a billing operation did not happen.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    /// Billing is off: 404 `billing_disabled`.
    #[error("billing is not enabled on this hub")]
    Disabled,
    /// No purchasable plan with that id: 400 `unknown_plan`.
    #[error("no plan {0:?} can be bought here")]
    UnknownPlan(String),
    /// A custom amount outside the plan's range, or an amount for a fixed-price plan: 400
    /// `invalid_amount`.
    #[error("{0}")]
    InvalidAmount(String),
    /// The account already holds a live subscription: 409 `already_subscribed`.
    #[error("the account already has a subscription; manage it in the billing portal")]
    AlreadySubscribed,
    /// No Stripe customer yet: 404 `no_customer`.
    #[error("no payment has been made from this account yet")]
    NoCustomer,
    /// The account's standing does not allow buying (403 with the membership code).
    #[error(transparent)]
    Membership(#[from] crate::membership::Error),
    /// The webhook's signature did not verify: 400 `bad_signature` / `stale_signature`.
    #[error(transparent)]
    Signature(#[from] SignatureError),
    /// A signed webhook body that is not an event: 400 `invalid_json`.
    #[error("invalid event: {0}")]
    InvalidEvent(String),
    /// Stripe failed or timed out: 502 `upstream_error`; nothing was stored.
    #[error(transparent)]
    Stripe(#[from] StripeError),
    /// The database failed: 503/500; the event's transaction rolled back.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for Error {
    fn from(error: sqlx::Error) -> Self {
        Self::Store(StoreError::from(error))
    }
}

/// Result of a billing operation.
pub(crate) type Result<T, E = Error> = std::result::Result<T, E>;
