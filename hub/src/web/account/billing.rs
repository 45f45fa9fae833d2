//! The billing part of `/account` (hub.md §10, §8.2): the subscription (plan, status, renewal or
//! grace end, a scheduled cancellation), the payments, a form per plan for sale, "Manage billing"
//! and the `?checkout=success|cancel` messages. The forms post here; each passes the CSRF rule of
//! §6.9 and the `billing_account` bucket, then answers 303 to Stripe.

use std::fmt::Write as _;
use std::time::Instant;

use axum::Router;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse as _, Response};
use axum::routing::post;
use serde::Deserialize;
use serde_json::Value;

use super::{signed_in, text};
use crate::billing::{self, Billing, LIVE_STATUSES, Ledger};
use crate::config::{Plan, PlanKind};
use crate::http::ApiError;
use crate::http::body::form_body;
use crate::http::extract::Caller;
use crate::state::AppState;
use crate::utc;
use crate::web::forms::{WebError, WebResult};
use crate::web::html::esc;
use crate::web::words;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/account/checkout", post(start_checkout))
        .route("/account/billing-portal", post(open_portal))
}

/// The checkout form: a plan, and an amount for custom donations (in major units, as typed).
#[derive(Debug, Default, Deserialize)]
struct CheckoutForm {
    #[serde(default)]
    plan: String,
    #[serde(default)]
    amount: String,
}

/// The billing section of the account page; empty when billing is off. `checkout` is the
/// `?checkout=` of Stripe's return.
pub(super) async fn section(
    state: &AppState,
    account_id: &str,
    document: &Value,
    checkout: Option<&str>,
) -> WebResult<String> {
    let Some(billing) = &state.billing else {
        return Ok(String::new());
    };
    let ledger = billing.ledger(account_id).await?;
    let mut html = String::from(
        "<section class=\"card\" aria-labelledby=\"billing\"><h2 id=\"billing\">Billing</h2>",
    );
    match checkout {
        Some("success") => html.push_str(
            "<p class=\"notice\" id=\"checkout-result\" data-checkout=\"success\">Thank you! Stripe \
             is confirming your payment; it shows here within moments.</p>",
        ),
        Some("cancel") => html.push_str(
            "<p class=\"notice\" id=\"checkout-result\" data-checkout=\"cancel\">Checkout was \
             cancelled; nothing was charged.</p>",
        ),
        _ => {}
    }
    let live = subscription(&mut html, state, document);
    payments(&mut html, &ledger);
    offers(&mut html, &state.config.plans, live);
    if ledger.customer {
        html.push_str(
            "<form method=\"post\" action=\"/account/billing-portal\">\
             <button type=\"submit\" class=\"secondary\">Manage billing</button></form>",
        );
    }
    html.push_str("</section>");
    Ok(html)
}

/// The subscription facts; whether it still runs (no second subscription is offered then).
fn subscription(html: &mut String, state: &AppState, document: &Value) -> bool {
    let grace_until = document
        .pointer("/account/grace_until")
        .and_then(Value::as_i64);
    let Some(subscription) = document.get("subscription").filter(|s| !s.is_null()) else {
        html.push_str("<p>No subscription.</p>");
        return false;
    };
    let plan_id = text(subscription, "/plan");
    let plan = state
        .config
        .plans
        .iter()
        .find(|p| p.id == plan_id)
        .map_or(plan_id, |p| p.name.as_str());
    let status = text(subscription, "/status");
    let _ = write!(
        html,
        "<dl class=\"facts\" id=\"subscription\"><dt>Plan</dt><dd>{}</dd>\
         <dt>Status</dt><dd data-status=\"{}\">{}</dd>",
        esc(plan),
        esc(status),
        words::subscription_status(status),
    );
    let ends = subscription
        .pointer("/cancel_at_period_end")
        .and_then(Value::as_bool)
        == Some(true);
    if let Some(end) = subscription
        .pointer("/current_period_end")
        .and_then(Value::as_i64)
    {
        let _ = write!(
            html,
            "<dt>{}</dt><dd>{} UTC</dd>",
            if ends { "Ends" } else { "Renews" },
            utc::format(end)
        );
    }
    if let Some(until) = grace_until {
        let _ = write!(
            html,
            "<dt>Grace period ends</dt><dd>{} UTC</dd>",
            utc::format(until)
        );
    }
    html.push_str("</dl>");
    if ends {
        html.push_str(
            "<p class=\"notice\">This subscription is cancelled and ends with its period.</p>",
        );
    }
    LIVE_STATUSES.contains(&status)
}

fn payments(html: &mut String, ledger: &Ledger) {
    if ledger.payments.is_empty() {
        return;
    }
    html.push_str(
        "<div class=\"table-wrap\"><table id=\"payments\"><caption>Payments</caption>\
         <thead><tr><th scope=\"col\">Date (UTC)</th><th scope=\"col\">Kind</th>\
         <th scope=\"col\">Amount</th><th scope=\"col\">Status</th></tr></thead><tbody>",
    );
    for payment in &ledger.payments {
        let _ = write!(
            html,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            utc::format(payment.created_at),
            esc(&payment.kind),
            esc(&words::money(payment.amount, &payment.currency)),
            esc(&payment.status),
        );
    }
    html.push_str("</tbody></table></div>");
}

/// A form per plan for sale: subscriptions (unless one runs) and donations.
fn offers(html: &mut String, plans: &[Plan], subscribed: bool) {
    for plan in plans {
        let button = match plan.kind {
            PlanKind::Free => continue,
            PlanKind::Subscription if subscribed => continue,
            PlanKind::Subscription => "Subscribe",
            PlanKind::Donation => "Donate",
        };
        let _ = write!(
            html,
            "<form method=\"post\" action=\"/account/checkout\" class=\"plan\">\
             <h3>{name}</h3><p>{price}</p>{description}\
             <input type=\"hidden\" name=\"plan\" value=\"{id}\">",
            name = esc(&plan.name),
            price = esc(&words::price(plan)),
            description = if plan.description.is_empty() {
                String::new()
            } else {
                format!("<p>{}</p>", esc(&plan.description))
            },
            id = esc(&plan.id),
        );
        if plan.is_custom_donation() {
            let currency = plan.currency.as_deref().unwrap_or_default();
            let _ = write!(
                html,
                "<label for=\"amount-{id}\">Amount ({code})</label>\
                 <input id=\"amount-{id}\" name=\"amount\" inputmode=\"decimal\" required \
                 maxlength=\"16\" autocomplete=\"off\">",
                id = esc(&plan.id),
                code = esc(&currency.to_ascii_uppercase()),
            );
        }
        let _ = write!(html, "<button type=\"submit\">{button}</button></form>");
    }
}

/// `POST /account/checkout`: 303 to Stripe Checkout.
async fn start_checkout(
    State(state): State<AppState>,
    caller: Caller,
    form: Result<Form<CheckoutForm>, FormRejection>,
) -> WebResult<Response> {
    caller.check_form_origin(&state)?;
    let form = form_body(form)?;
    let (billing, account_id) = match billing_account(&state, &caller).await? {
        Ok(found) => found,
        Err(redirect) => return Ok(redirect),
    };
    let plan = form.plan.trim();
    let amount = amount_of(&state.config.plans, plan, &form.amount)?;
    let link = billing.checkout(&account_id, plan, amount).await?;
    to_stripe(&link.url)
}

/// `POST /account/billing-portal`: 303 to Stripe's customer portal.
async fn open_portal(State(state): State<AppState>, caller: Caller) -> WebResult<Response> {
    caller.check_form_origin(&state)?;
    let (billing, account_id) = match billing_account(&state, &caller).await? {
        Ok(found) => found,
        Err(redirect) => return Ok(redirect),
    };
    let link = billing.portal(&account_id).await?;
    to_stripe(&link.url)
}

/// Billing (else 404 `billing_disabled`) and the signed-in account once its `billing_account`
/// bucket allows, or the redirect to `/login`.
async fn billing_account<'s>(
    state: &'s AppState,
    caller: &Caller,
) -> WebResult<Result<(&'s Billing, String), Response>> {
    let account_id = match signed_in(state, caller).await? {
        Ok(id) => id,
        Err(redirect) => return Ok(Err(redirect)),
    };
    let billing = state.billing.as_ref().ok_or(billing::Error::Disabled)?;
    state
        .limits
        .billing_account
        .check(account_id.clone(), Instant::now())?;
    Ok(Ok((billing, account_id)))
}

/// The typed amount in minor units of the plan's currency; `None` when the field is empty (billing
/// then says whether the plan needs one).
fn amount_of(plans: &[Plan], plan_id: &str, typed: &str) -> Result<Option<i64>, WebError> {
    if typed.trim().is_empty() {
        return Ok(None);
    }
    let currency = plans
        .iter()
        .find(|p| p.id == plan_id)
        .and_then(|p| p.currency.as_deref())
        .unwrap_or_default();
    words::parse_money(typed, currency)
        .map(Some)
        .ok_or_else(|| {
            WebError::new(
                StatusCode::BAD_REQUEST,
                "Please check your input",
                "Enter the amount as a number, like 5 or 5.50.",
            )
        })
}

/// 303 to a Stripe page.
fn to_stripe(url: &str) -> WebResult<Response> {
    let location = HeaderValue::from_str(url)
        .map_err(|_| ApiError::Upstream("Stripe answered an unusable URL"))?;
    Ok((StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response())
}
