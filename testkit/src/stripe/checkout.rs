//! `POST /v1/checkout/sessions`: what Stripe requires of the form (mode, success_url, one line
//! item with a price or price_data and a quantity, known customer, metadata limits), read from the
//! form's bracketed keys.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::error::StripeFailure;
use super::objects::{Price, new_id};

/// Top-level parameters the double accepts; Stripe refuses any other with 400.
const KNOWN_PARAMS: [&str; 16] = [
    "mode",
    "success_url",
    "cancel_url",
    "line_items",
    "client_reference_id",
    "metadata",
    "subscription_data",
    "payment_intent_data",
    "customer",
    "customer_email",
    "submit_type",
    "allow_promotion_codes",
    "billing_address_collection",
    "customer_creation",
    "locale",
    "expand",
];
/// Stripe's metadata limits: keys, key length, value length.
const MAX_METADATA_KEYS: usize = 50;
const MAX_METADATA_KEY_CHARS: usize = 40;
const MAX_METADATA_VALUE_CHARS: usize = 500;
/// Stripe's limit on `client_reference_id`.
const MAX_REFERENCE_CHARS: usize = 200;

/// A validated session request.
#[derive(Debug, Clone)]
pub(super) struct NewSession {
    pub(super) mode: String,
    pub(super) success_url: String,
    pub(super) cancel_url: Option<String>,
    pub(super) price: Price,
    pub(super) quantity: i64,
    pub(super) customer: Option<String>,
    pub(super) customer_email: Option<String>,
    pub(super) client_reference_id: Option<String>,
    pub(super) submit_type: Option<String>,
    pub(super) metadata: Map<String, Value>,
    pub(super) subscription_metadata: Map<String, Value>,
}

/// The first value of `key`.
pub(super) fn param<'a>(form: &'a [(String, String)], key: &str) -> Option<&'a str> {
    form.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

fn required<'a>(form: &'a [(String, String)], key: &str) -> Result<&'a str, StripeFailure> {
    param(form, key)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| StripeFailure::missing(key))
}

fn integer(form: &[(String, String)], key: &str) -> Result<Option<i64>, StripeFailure> {
    param(form, key)
        .map(|v| {
            v.parse::<i64>()
                .ok()
                .filter(|n| *n >= 0)
                .ok_or_else(|| StripeFailure::invalid(key, format!("Invalid integer: {v}")))
        })
        .transpose()
}

/// The map `prefix[key]=value` (no deeper brackets), checked against Stripe's metadata limits.
fn metadata(form: &[(String, String)], prefix: &str) -> Result<Map<String, Value>, StripeFailure> {
    let mut map = Map::new();
    for (key, value) in form {
        let Some(name) = key
            .strip_prefix(prefix)
            .and_then(|rest| rest.strip_prefix('['))
            .and_then(|rest| rest.strip_suffix(']'))
        else {
            continue;
        };
        if name.is_empty()
            || name.contains(['[', ']'])
            || name.chars().count() > MAX_METADATA_KEY_CHARS
        {
            return Err(StripeFailure::invalid(
                key,
                format!("Invalid metadata key: {name}"),
            ));
        }
        if value.chars().count() > MAX_METADATA_VALUE_CHARS {
            return Err(StripeFailure::invalid(
                key,
                "Metadata values can have up to 500 characters",
            ));
        }
        map.insert(name.to_owned(), value.clone().into());
    }
    if map.len() > MAX_METADATA_KEYS {
        return Err(StripeFailure::invalid(
            prefix,
            "Metadata can have up to 50 keys",
        ));
    }
    Ok(map)
}

/// Validates a create form against the registered `prices` and `customers`.
pub(super) fn parse(
    form: &[(String, String)],
    prices: &HashMap<String, Price>,
    customer_exists: impl Fn(&str) -> bool,
) -> Result<NewSession, StripeFailure> {
    for (key, _) in form {
        let top = key.split('[').next().unwrap_or_default();
        if !KNOWN_PARAMS.contains(&top) {
            return Err(StripeFailure::invalid(
                top,
                format!("Received unknown parameter: {top}"),
            ));
        }
        if top == "line_items" && !key.starts_with("line_items[0][") {
            return Err(StripeFailure::invalid(
                key,
                "The Stripe double supports one line item, line_items[0]",
            ));
        }
    }
    let mode = required(form, "mode")?;
    if !matches!(mode, "payment" | "subscription") {
        return Err(StripeFailure::invalid(
            "mode",
            format!("Invalid mode: {mode}; the double supports payment and subscription"),
        ));
    }
    let success_url = required(form, "success_url")?;
    if !(success_url.starts_with("http://") || success_url.starts_with("https://")) {
        return Err(StripeFailure::invalid("success_url", "Not a valid URL"));
    }
    let price = line_item_price(form, prices)?;
    match (mode, price.interval.is_some()) {
        ("subscription", false) => {
            return Err(StripeFailure::invalid(
                "line_items[0][price]",
                "You must provide at least one recurring price in `subscription` mode when using prices.",
            ));
        }
        ("payment", true) => {
            return Err(StripeFailure::invalid(
                "line_items[0][price]",
                "You specified `payment` mode but passed a recurring price.",
            ));
        }
        _ => {}
    }
    let quantity = integer(form, "line_items[0][quantity]")?
        .ok_or_else(|| StripeFailure::missing("line_items[0][quantity]"))?;
    if quantity < 1 {
        return Err(StripeFailure::invalid(
            "line_items[0][quantity]",
            "Quantity must be at least 1",
        ));
    }
    let customer = param(form, "customer").map(str::to_owned);
    let customer_email = param(form, "customer_email").map(str::to_owned);
    if customer.is_some() && customer_email.is_some() {
        return Err(StripeFailure::invalid(
            "customer_email",
            "You may only specify one of these parameters: customer, customer_email.",
        ));
    }
    if let Some(id) = customer.as_deref().filter(|id| !customer_exists(id)) {
        return Err(StripeFailure::no_such(400, "customer", id, "customer"));
    }
    let client_reference_id = param(form, "client_reference_id").map(str::to_owned);
    if client_reference_id
        .as_ref()
        .is_some_and(|r| r.chars().count() > MAX_REFERENCE_CHARS)
    {
        return Err(StripeFailure::invalid(
            "client_reference_id",
            "client_reference_id can have up to 200 characters",
        ));
    }
    metadata(form, "payment_intent_data[metadata]")?;
    Ok(NewSession {
        mode: mode.to_owned(),
        success_url: success_url.to_owned(),
        cancel_url: param(form, "cancel_url").map(str::to_owned),
        price,
        quantity,
        customer,
        customer_email,
        client_reference_id,
        submit_type: param(form, "submit_type").map(str::to_owned),
        metadata: metadata(form, "metadata")?,
        subscription_metadata: metadata(form, "subscription_data[metadata]")?,
    })
}

/// `line_items[0][price]` (a registered price) or `line_items[0][price_data]` (inline).
fn line_item_price(
    form: &[(String, String)],
    prices: &HashMap<String, Price>,
) -> Result<Price, StripeFailure> {
    const PRICE: &str = "line_items[0][price]";
    const DATA: &str = "line_items[0][price_data]";
    let has_data = form.iter().any(|(k, _)| k.starts_with(DATA));
    match (param(form, PRICE), has_data) {
        (Some(_), true) => Err(StripeFailure::invalid(
            PRICE,
            "You may only specify one of these parameters: price, price_data.",
        )),
        (Some(id), false) => prices
            .get(id)
            .cloned()
            .ok_or_else(|| StripeFailure::no_such(400, "price", id, PRICE)),
        (None, false) => Err(StripeFailure::missing(PRICE)),
        (None, true) => {
            let currency = required(form, "line_items[0][price_data][currency]")?;
            if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_lowercase()) {
                return Err(StripeFailure::invalid(
                    "line_items[0][price_data][currency]",
                    format!("Invalid currency: {currency}"),
                ));
            }
            let unit_amount = integer(form, "line_items[0][price_data][unit_amount]")?
                .ok_or_else(|| StripeFailure::missing("line_items[0][price_data][unit_amount]"))?;
            if param(form, "line_items[0][price_data][product]").is_none() {
                required(form, "line_items[0][price_data][product_data][name]")?;
            }
            let interval = param(form, "line_items[0][price_data][recurring][interval]");
            if let Some(i) = interval.filter(|i| !matches!(*i, "day" | "week" | "month" | "year")) {
                return Err(StripeFailure::invalid(
                    "line_items[0][price_data][recurring][interval]",
                    format!("Invalid interval: {i}"),
                ));
            }
            Ok(Price {
                id: new_id("price"),
                unit_amount,
                currency: currency.to_owned(),
                interval: interval.map(str::to_owned),
            })
        }
    }
}
