//! The effects of one event inside its transaction (hub.md §8.5 rules 2–5 and the event table):
//! the account lookup, the order rule for subscription events, and the subscription row written
//! from a Stripe object.

use sqlx::AnyConnection;

use super::Fetched;
use crate::billing::objects::{CheckoutSession, Subscription};
use crate::billing::{Billing, Outcome, Result};
use crate::config::Plan;
use crate::store::{self, Payment, SubscriptionRecord, SubscriptionUpsert};

/// What an event did inside its transaction.
#[derive(Debug)]
pub(super) struct Applied {
    pub(super) outcome: Outcome,
    /// The account whose standing must be recomputed and enforced.
    pub(super) changed: Option<String>,
}

impl Applied {
    pub(super) fn ignored() -> Self {
        Self::without(Outcome::Ignored)
    }

    fn without(outcome: Outcome) -> Self {
        Self {
            outcome,
            changed: None,
        }
    }

    fn processed(account: String) -> Self {
        Self {
            outcome: Outcome::Processed,
            changed: Some(account),
        }
    }
}

impl Billing {
    /// `checkout.session.completed`: the customer goes on the account; a subscription session
    /// upserts the re-fetched subscription, a paid payment session records a donation. `None`:
    /// the subscription row moved since the re-fetch, which must be repeated.
    pub(super) async fn apply_checkout(
        &self,
        conn: &mut AnyConnection,
        session: &CheckoutSession,
        current: Option<&Fetched>,
        created: i64,
        now: i64,
    ) -> Result<Option<Applied>> {
        let metadata_account = session
            .metadata
            .as_ref()
            .and_then(|m| m.get("account_id"))
            .map(String::as_str);
        let candidates = [metadata_account, session.client_reference_id.as_deref()];
        let customer = session.customer.as_deref();
        let Some(account) = find_account(conn, candidates, customer, now).await? else {
            return Ok(Some(Applied::without(Outcome::Unmatched)));
        };
        if let Some(customer) = customer {
            store::update_stripe_customer(conn, &account, customer, now).await?;
        }
        match (session.mode.as_str(), current) {
            ("subscription", Some(fetched)) => {
                let stored = store::find_subscription(conn, &fetched.current.id).await?;
                if stored != fetched.seen {
                    return Ok(None);
                }
                let last = stored
                    .as_ref()
                    .map_or(created, |s| s.last_event_created.max(created));
                let object = &fetched.current;
                self.write_subscription(
                    conn,
                    object,
                    &account,
                    stored.as_ref(),
                    (last, created),
                    now,
                )
                .await?;
            }
            ("payment", _) if session.payment_status.as_deref() == Some("paid") => {
                let payment = Payment {
                    id: session.id.clone(),
                    account_id: Some(account.clone()),
                    kind: "donation".to_owned(),
                    amount: session.amount_total.unwrap_or(0),
                    currency: session.currency.clone().unwrap_or_default(),
                    status: "paid".to_owned(),
                    created_at: now,
                };
                store::insert_payment(conn, &payment).await?;
            }
            _ => {}
        }
        Ok(Some(Applied::processed(account)))
    }

    /// `customer.subscription.*` (rule 2): newer than the row → the embedded object; as old →
    /// the current object (`None` asks the caller to fetch it, again when the row moved since
    /// the fetch); older → `stale`.
    pub(super) async fn apply_subscription_event(
        &self,
        conn: &mut AnyConnection,
        embedded: &Subscription,
        current: Option<&Fetched>,
        created: i64,
        now: i64,
    ) -> Result<Option<Applied>> {
        let Some((account, stored)) = locate(conn, embedded, now).await? else {
            return Ok(Some(Applied::without(Outcome::Unmatched)));
        };
        let object = match stored.as_ref().map(|s| s.last_event_created) {
            Some(last) if created < last => return Ok(Some(Applied::without(Outcome::Stale))),
            Some(last) if created == last => match current {
                Some(fetched) if fetched.seen == stored => &fetched.current,
                _ => return Ok(None),
            },
            _ => embedded,
        };
        self.write_subscription(
            conn,
            object,
            &account,
            stored.as_ref(),
            (created, created),
            now,
        )
        .await?;
        Ok(Some(Applied::processed(account)))
    }

    /// Invoice events and the sweep's re-fetch: the current object is authoritative whatever
    /// the arrival order; `last_event_created` becomes the max. `None`: the row moved since the
    /// fetch (another event committed meanwhile), so this snapshot may be older than what is
    /// stored and the fetch must be repeated.
    pub(super) async fn apply_current(
        &self,
        conn: &mut AnyConnection,
        fetched: &Fetched,
        created: i64,
        now: i64,
    ) -> Result<Option<Applied>> {
        let current = &fetched.current;
        let Some((account, stored)) = locate(conn, current, now).await? else {
            return Ok(Some(Applied::without(Outcome::Unmatched)));
        };
        if stored != fetched.seen {
            return Ok(None);
        }
        let last = stored
            .as_ref()
            .map_or(created, |s| s.last_event_created.max(created));
        self.write_subscription(
            conn,
            current,
            &account,
            stored.as_ref(),
            (last, created),
            now,
        )
        .await?;
        Ok(Some(Applied::processed(account)))
    }

    /// Writes `object` as the account's subscription (rules 4–5) and stores its customer on
    /// the account when the account has none.
    async fn write_subscription(
        &self,
        conn: &mut AnyConnection,
        object: &Subscription,
        account: &str,
        stored: Option<&SubscriptionRecord>,
        (last_event_created, created): (i64, i64),
        now: i64,
    ) -> Result<()> {
        let plan = plan_of(object, &self.membership().config().plans);
        // Events report when a status arose; the sweep's re-fetch (created 0) only knows now.
        let observed_at = if created > 0 { created.min(now) } else { now };
        let times = (last_event_created, observed_at);
        let row = subscription_row(object, account, plan, stored, times, now);
        store::upsert_subscription(conn, &row, now).await?;
        store::update_stripe_customer(conn, account, &object.customer, now).await?;
        if object.is_paying() {
            store::mark_ever_paid(conn, account, now).await?;
        }
        Ok(())
    }
}

/// A subscription's plan: its `plan` metadata, else the plan selling its price.
fn plan_of(object: &Subscription, plans: &[Plan]) -> Option<String> {
    object
        .metadata
        .get("plan")
        .filter(|plan| !plan.is_empty())
        .cloned()
        .or_else(|| {
            let price = object.price_id.as_deref()?;
            plans
                .iter()
                .find(|plan| plan.stripe_price_id.as_deref() == Some(price))
                .map(|plan| plan.id.clone())
        })
}

/// The row of `object` (rules 4–5): `past_due_since` set the first time the status is
/// `past_due`/`unpaid` (to when that was observed: the event's time, not when a late delivery
/// or reconciliation got to it) and cleared by `active`/`trialing`; `cancel_scheduled_at` kept
/// from the first time `cancel_at_period_end` was seen.
fn subscription_row(
    object: &Subscription,
    account: &str,
    plan_id: Option<String>,
    stored: Option<&SubscriptionRecord>,
    (last_event_created, observed_at): (i64, i64),
    now: i64,
) -> SubscriptionUpsert {
    let past_due_since = if object.is_past_due() {
        stored.and_then(|s| s.past_due_since).or(Some(observed_at))
    } else if object.is_paying() {
        None
    } else {
        stored.and_then(|s| s.past_due_since)
    };
    let cancel_scheduled_at = object
        .cancel_at_period_end
        .then(|| stored.and_then(|s| s.cancel_scheduled_at).unwrap_or(now));
    SubscriptionUpsert {
        id: object.id.clone(),
        account_id: account.to_owned(),
        customer_id: object.customer.clone(),
        plan_id,
        price_id: object.price_id.clone(),
        status: object.status.clone(),
        cancel_scheduled_at,
        current_period_end: object.current_period_end,
        past_due_since,
        last_event_created,
        created_at: stored.map_or(now, |s| s.created_at),
    }
}

/// Rule 3: the first candidate account id that exists, else the account holding `customer`.
/// The account found is locked for the rest of the transaction, so two events of one account
/// decide one after the other.
async fn find_account(
    conn: &mut AnyConnection,
    candidates: [Option<&str>; 2],
    customer: Option<&str>,
    now: i64,
) -> Result<Option<String>> {
    for id in candidates.into_iter().flatten() {
        if store::lock_account(conn, id, now).await? {
            return Ok(Some(id.to_owned()));
        }
    }
    let Some(customer) = customer else {
        return Ok(None);
    };
    let Some(id) = store::find_account_id_by_customer(conn, customer).await? else {
        return Ok(None);
    };
    store::lock_account(conn, &id, now).await?;
    Ok(Some(id))
}

/// The account of a subscription object (the account of its stored row, its `account_id`
/// metadata, then its customer), locked, with the stored row as read under
/// that lock.
async fn locate(
    conn: &mut AnyConnection,
    object: &Subscription,
    now: i64,
) -> Result<Option<(String, Option<SubscriptionRecord>)>> {
    let owner = store::find_subscription(conn, &object.id)
        .await?
        .map(|s| s.account_id);
    let named = object.metadata.get("account_id").map(String::as_str);
    if let (Some(owner), Some(named)) = (owner.as_deref(), named)
        && owner != named
    {
        tracing::warn!(subscription = %object.id, owner, named, "subscription metadata names another account than its owner; keeping the owner");
    }
    // A stored subscription keeps its account: metadata edited at Stripe cannot move it.
    let candidates = [owner.as_deref(), named];
    let Some(account) = find_account(conn, candidates, Some(&object.customer), now).await? else {
        return Ok(None);
    };
    // Read again: another event of this account may have written the row before the lock.
    let stored = store::find_subscription(conn, &object.id).await?;
    Ok(Some((account, stored)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::PlanKind;

    fn object(status: &str, cancel_at_period_end: bool) -> Subscription {
        Subscription {
            id: "sub_1".to_owned(),
            customer: "cus_1".to_owned(),
            status: status.to_owned(),
            cancel_at_period_end,
            current_period_end: Some(9_000),
            price_id: Some("price_y".to_owned()),
            metadata: Default::default(),
        }
    }

    fn stored(past_due_since: Option<i64>, cancel_scheduled_at: Option<i64>) -> SubscriptionRecord {
        SubscriptionRecord {
            account_id: "a".to_owned(),
            past_due_since,
            cancel_scheduled_at,
            last_event_created: 10,
            created_at: 5,
            status: "active".to_owned(),
            updated_at: 5,
        }
    }

    #[test]
    fn past_due_since_is_when_the_failure_was_observed_not_when_it_was_processed() {
        let late = subscription_row(&object("past_due", false), "a", None, None, (40, 40), 100);

        assert_eq!(late.past_due_since, Some(40));
        assert_eq!(late.last_event_created, 40);
    }

    #[test]
    fn past_due_since_is_set_once_kept_and_cleared_by_payment() {
        let first = subscription_row(&object("past_due", false), "a", None, None, (1, 100), 100);
        let again = stored(Some(100), None);
        let still = subscription_row(
            &object("unpaid", false),
            "a",
            None,
            Some(&again),
            (2, 200),
            200,
        );
        let paid = subscription_row(
            &object("active", false),
            "a",
            None,
            Some(&again),
            (3, 300),
            300,
        );
        let ended = subscription_row(
            &object("canceled", false),
            "a",
            None,
            Some(&again),
            (4, 400),
            400,
        );

        assert_eq!(first.past_due_since, Some(100));
        assert_eq!((still.past_due_since, still.created_at), (Some(100), 5));
        assert_eq!(paid.past_due_since, None);
        assert_eq!(ended.past_due_since, Some(100));
    }

    #[test]
    fn cancel_scheduled_at_follows_cancel_at_period_end() {
        let scheduled = subscription_row(&object("active", true), "a", None, None, (1, 100), 100);
        let kept = stored(None, Some(100));
        let later = subscription_row(
            &object("active", true),
            "a",
            None,
            Some(&kept),
            (2, 200),
            200,
        );
        let undone = subscription_row(
            &object("active", false),
            "a",
            None,
            Some(&kept),
            (3, 300),
            300,
        );

        assert_eq!(scheduled.cancel_scheduled_at, Some(100));
        assert_eq!(later.cancel_scheduled_at, Some(100));
        assert_eq!(undone.cancel_scheduled_at, None);
    }

    #[test]
    fn plan_comes_from_metadata_else_from_the_price() {
        let mut plan = Plan::defaults().remove(0);
        plan.id = "yearly".to_owned();
        plan.kind = PlanKind::Subscription;
        plan.stripe_price_id = Some("price_y".to_owned());
        let plans = [plan];
        let mut tagged = object("active", false);
        tagged
            .metadata
            .insert("plan".to_owned(), "monthly".to_owned());
        let mut unknown = object("active", false);
        unknown.price_id = Some("price_other".to_owned());

        assert_eq!(plan_of(&tagged, &plans).as_deref(), Some("monthly"));
        assert_eq!(
            plan_of(&object("active", false), &plans).as_deref(),
            Some("yearly")
        );
        assert_eq!(plan_of(&unknown, &plans), None);
    }
}
