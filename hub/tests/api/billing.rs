//! Billing end to end (hub.md §8, §18 checks 14 and 16): the Stripe webhook and reconciliation.

mod lifecycle;
mod outage;
mod paid_hub;
mod reconcile;
mod webhook;
