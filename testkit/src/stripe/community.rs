//! A hub config selling one yearly plan through a Stripe API: the paid community of the billing,
//! peer and end-to-end tests.

use hub::config::{JoinMode, Plan, PlanInterval, PlanKind};
use hub::members::Access;

/// The Stripe account a paid community bills through.
#[derive(Debug, Clone, Copy)]
pub struct StripeAccount<'a> {
    /// The API base: the double's [`StripeMock::url`](crate::StripeMock::url).
    pub api_base: &'a str,
    /// The secret key the hub and the double share.
    pub secret_key: &'a str,
    /// The webhook signing secret.
    pub webhook_secret: &'a str,
    /// The price of plan `yearly` (9.99 USD a year; add it to the double).
    pub price: &'a str,
}

/// Makes `c` a paid community (`access = "paid"`, open join: signed joins bind without mail)
/// billing through `account` and selling its price as plan `yearly`.
pub fn sell_yearly_plan(c: &mut hub::Config, account: StripeAccount<'_>) {
    c.billing.enabled = true;
    c.billing.api_base = account.api_base.to_owned();
    c.billing.secret_key = Some(account.secret_key.to_owned().into());
    c.billing.webhook_secret = Some(account.webhook_secret.to_owned().into());
    c.membership.access = Access::Paid;
    c.membership.join_mode = JoinMode::Open;
    c.plans.push(Plan {
        id: "yearly".to_owned(),
        kind: PlanKind::Subscription,
        name: "Member".to_owned(),
        description: String::new(),
        amount: Some(999),
        currency: Some("usd".to_owned()),
        interval: Some(PlanInterval::Year),
        stripe_price_id: Some(account.price.to_owned()),
        min_amount: None,
        max_amount: None,
    });
}
