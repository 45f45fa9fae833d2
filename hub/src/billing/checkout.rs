//! Checkout, donations and the customer portal for an account (hub.md §8.2, §8.3): who may buy
//! what, and the exact Checkout Session parameters. Nothing is stored here; the webhook records
//! what Stripe reports once the member has paid.

use super::objects::SessionLink;
use super::{Billing, Error, Result};
use crate::config::{Plan, PlanKind};
use crate::members::{self, Standing, State};
use crate::membership;
use crate::store::{self, StoreError};

/// Stripe statuses of a subscription that still runs: a second checkout would charge twice, and a
/// ban cancels them (hub.md §9).
pub(crate) const LIVE_STATUSES: [&str; 4] = ["active", "trialing", "past_due", "unpaid"];

/// Payments shown on the account page.
const LEDGER_PAYMENTS: i64 = 20;

/// What the account page shows of an account's billing besides its subscription.
#[derive(Debug, Clone)]
pub(crate) struct Ledger {
    /// A Stripe customer exists (the portal can open).
    pub(crate) customer: bool,
    /// Donations, newest first.
    pub(crate) payments: Vec<store::Payment>,
}

/// The account facts a checkout needs.
#[derive(Debug)]
struct Buyer {
    email: Option<String>,
    customer: Option<String>,
    subscribed: bool,
}

/// What a Checkout Session charges: a Stripe price, or an amount in the plan's currency.
#[derive(Debug, PartialEq, Eq)]
enum Price<'a> {
    Stripe(&'a str),
    Amount { currency: &'a str, amount: i64 },
}

impl Billing {
    /// A Checkout Session for `plan_id` (hub.md §8.2): the account must be `active`, `grace` or
    /// `lapsed`; the plan a subscription or a donation; `amount` given exactly for custom
    /// donations, within their range; a subscription only without a live one.
    ///
    /// # Errors
    /// [`Error::Membership`] (403 codes), [`Error::UnknownPlan`], [`Error::InvalidAmount`],
    /// [`Error::AlreadySubscribed`], [`Error::Stripe`], [`Error::Store`].
    pub(crate) async fn checkout(
        &self,
        account_id: &str,
        plan_id: &str,
        amount: Option<i64>,
    ) -> Result<SessionLink> {
        let buyer = self.buyer(account_id).await?;
        let plan = self
            .membership()
            .config()
            .plans
            .iter()
            .find(|p| p.id == plan_id && p.kind != PlanKind::Free)
            // The id is echoed in the error: only its start.
            .ok_or_else(|| Error::UnknownPlan(plan_id.chars().take(64).collect()))?;
        let price = price_of(plan, amount)?;
        if plan.kind == PlanKind::Subscription && buyer.subscribed {
            return Err(Error::AlreadySubscribed);
        }
        let form = self.checkout_form(account_id, plan, &price, &buyer);
        Ok(self.client().create_checkout_session(&form).await?)
    }

    /// A customer portal session (hub.md §8.2), returning to the account page.
    ///
    /// # Errors
    /// [`Error::NoCustomer`] before the account's first completed checkout; [`Error::Stripe`],
    /// [`Error::Store`].
    pub(crate) async fn portal(&self, account_id: &str) -> Result<SessionLink> {
        let mut conn = self.membership().store().acquire().await?;
        let customer = store::find_stripe_customer(&mut conn, account_id)
            .await
            .map_err(|e| gone_as_not_bound(e, account_id))?
            .ok_or(Error::NoCustomer)?;
        drop(conn);
        let return_url = format!("{}/account", self.membership().external_url());
        Ok(self
            .client()
            .create_portal_session(&customer, &return_url)
            .await?)
    }

    /// The account's customer and newest payments, for its account page.
    ///
    /// # Errors
    /// [`Error::Store`].
    pub(crate) async fn ledger(&self, account_id: &str) -> Result<Ledger> {
        let mut conn = self.membership().store().acquire().await?;
        let customer = store::find_stripe_customer(&mut conn, account_id)
            .await
            .map_err(|e| gone_as_not_bound(e, account_id))?;
        let payments = store::list_payments(&mut conn, account_id, LEDGER_PAYMENTS).await?;
        Ok(Ledger {
            customer: customer.is_some(),
            payments,
        })
    }

    /// The account's address, customer and whether a subscription runs; refuses accounts that
    /// may not buy with their membership code.
    async fn buyer(&self, account_id: &str) -> Result<Buyer> {
        let mut conn = self.membership().store().acquire().await?;
        let account = store::get_account(&mut conn, account_id)
            .await
            .map_err(|e| gone_as_not_bound(e, account_id))?;
        if !matches!(account.state, State::Active | State::Grace | State::Lapsed) {
            let standing = Standing {
                state: account.state,
                tier: account.tier,
                grace_until: account.grace_until,
            };
            let guest_presence = self.membership().config().membership.guest_presence;
            return Err(membership::Error::Refused {
                code: members::refusal_code(Some(&standing), guest_presence),
            }
            .into());
        }
        let customer = store::find_stripe_customer(&mut conn, account_id).await?;
        let subscribed = store::list_subscriptions(&mut conn, account_id)
            .await?
            .iter()
            .any(|s| LIVE_STATUSES.contains(&s.status.as_str()));
        Ok(Buyer {
            email: account.email,
            customer,
            subscribed,
        })
    }

    /// The form of `POST /v1/checkout/sessions`, in the order of hub.md §8.3.
    fn checkout_form(
        &self,
        account_id: &str,
        plan: &Plan,
        price: &Price<'_>,
        buyer: &Buyer,
    ) -> Vec<(String, String)> {
        let membership = self.membership();
        let base = membership.external_url();
        let mut form: Vec<(&str, String)> = Vec::with_capacity(16);
        if plan.kind == PlanKind::Subscription {
            form.push(("mode", "subscription".to_owned()));
        } else {
            form.extend([
                ("mode", "payment".to_owned()),
                ("submit_type", "donate".to_owned()),
            ]);
        }
        match price {
            Price::Stripe(id) => form.push(("line_items[0][price]", (*id).to_owned())),
            Price::Amount { currency, amount } => form.extend([
                (
                    "line_items[0][price_data][currency]",
                    (*currency).to_owned(),
                ),
                ("line_items[0][price_data][unit_amount]", amount.to_string()),
                (
                    "line_items[0][price_data][product_data][name]",
                    format!("Donation to {}", membership.config().hub.name),
                ),
            ]),
        }
        form.push(("line_items[0][quantity]", "1".to_owned()));
        if plan.kind == PlanKind::Donation {
            form.push((
                "payment_intent_data[metadata][account_id]",
                account_id.to_owned(),
            ));
        }
        form.extend([
            ("success_url", format!("{base}/account?checkout=success")),
            ("cancel_url", format!("{base}/account?checkout=cancel")),
            ("client_reference_id", account_id.to_owned()),
            ("metadata[account_id]", account_id.to_owned()),
            ("metadata[hub_id]", membership.hub_id().to_string()),
            ("metadata[plan]", plan.id.clone()),
        ]);
        if plan.kind == PlanKind::Subscription {
            form.extend([
                (
                    "subscription_data[metadata][account_id]",
                    account_id.to_owned(),
                ),
                ("subscription_data[metadata][plan]", plan.id.clone()),
            ]);
        }
        if let Some(customer) = &buyer.customer {
            form.push(("customer", customer.clone()));
        } else if let Some(email) = &buyer.email {
            form.push(("customer_email", email.clone()));
        }
        form.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
    }
}

/// What `plan` charges with the member's `amount`: only a custom donation takes (and needs) one,
/// within its range.
fn price_of(plan: &Plan, amount: Option<i64>) -> Result<Price<'_>> {
    let currency = plan.currency.as_deref().unwrap_or_default();
    if plan.is_custom_donation() {
        let range = plan.amount_range();
        return match amount {
            Some(amount) if range.contains(&amount) => Ok(Price::Amount { currency, amount }),
            Some(_) => Err(Error::InvalidAmount(format!(
                "amount: between {} and {} (minor units of {currency})",
                range.start(),
                range.end()
            ))),
            None => Err(Error::InvalidAmount(
                "amount: required for this plan".to_owned(),
            )),
        };
    }
    if amount.is_some() {
        return Err(Error::InvalidAmount(format!(
            "amount: plan {:?} has a fixed price",
            plan.id
        )));
    }
    match (&plan.stripe_price_id, plan.amount) {
        (Some(price), _) => Ok(Price::Stripe(price)),
        (None, Some(amount)) => Ok(Price::Amount { currency, amount }),
        // Config validation gives every paid plan a price or an amount.
        (None, None) => Err(Error::UnknownPlan(plan.id.clone())),
    }
}

/// An account gone since the caller's session or binding was read: `not_bound`, as `/me` says.
fn gone_as_not_bound(error: StoreError, account_id: &str) -> Error {
    match error {
        StoreError::NotFound => membership::Error::NotBound {
            account_id: account_id.to_owned(),
        }
        .into(),
        other => other.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::PlanInterval;

    fn plan(kind: PlanKind, amount: Option<i64>, price: Option<&str>) -> Plan {
        Plan {
            id: "p".to_owned(),
            kind,
            name: "P".to_owned(),
            description: String::new(),
            amount,
            currency: Some("eur".to_owned()),
            interval: (kind == PlanKind::Subscription).then_some(PlanInterval::Year),
            stripe_price_id: price.map(str::to_owned),
            min_amount: Some(200),
            max_amount: Some(5_000),
        }
    }

    #[test]
    fn price_of_takes_an_amount_only_for_custom_donations_within_range() {
        let custom = plan(PlanKind::Donation, None, None);
        let fixed = plan(PlanKind::Donation, Some(500), None);
        let subscription = plan(PlanKind::Subscription, Some(999), Some("price_1"));

        assert_eq!(
            price_of(&custom, Some(200)).unwrap(),
            Price::Amount {
                currency: "eur",
                amount: 200
            }
        );
        assert!(price_of(&custom, Some(5_000)).is_ok());
        for bad in [None, Some(199), Some(5_001), Some(-1), Some(i64::MAX)] {
            assert!(matches!(
                price_of(&custom, bad),
                Err(Error::InvalidAmount(_))
            ));
        }
        assert_eq!(
            price_of(&fixed, None).unwrap(),
            Price::Amount {
                currency: "eur",
                amount: 500
            }
        );
        assert!(matches!(
            price_of(&fixed, Some(500)),
            Err(Error::InvalidAmount(_))
        ));
        assert_eq!(
            price_of(&subscription, None).unwrap(),
            Price::Stripe("price_1")
        );
        assert!(matches!(
            price_of(&subscription, Some(1)),
            Err(Error::InvalidAmount(_))
        ));
    }
}
