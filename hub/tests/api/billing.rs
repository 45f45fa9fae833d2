//! Billing (hub.md §8): checkout, donations and the portal, the pages and admin views that show
//! billing, against the Stripe test double of the test kit.

mod checkout;
