//! Billing end to end (hub.md §8, §18 checks 14–16), against the Stripe test double of the test
//! kit: checkout, donations and the portal with the pages and admin views that show billing; the
//! webhook and reconciliation; and the paid membership's lifecycle through grace to a lapse.

mod checkout;
mod lifecycle;
mod outage;
mod ownership;
mod paid_hub;
mod paid_membership;
mod reconcile;
mod webhook;
