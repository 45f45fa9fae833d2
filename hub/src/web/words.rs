//! Membership terms in plain words for the pages: states, tiers, join modes, plans and their
//! prices, and times relative to now.

use std::time::Duration;

use crate::config::{JoinMode, Plan, PlanInterval, PlanKind};
use crate::members::Access;

/// An account state (its snake_case name, as in the account document) in words.
pub(crate) fn state(state: &str) -> &'static str {
    match state {
        "pending_email" => "Waiting for you to confirm your email address",
        "pending_approval" => "Waiting for approval by an admin",
        "active" => "Active",
        "grace" => "Active, payment overdue (grace period)",
        "lapsed" => "Lapsed",
        "banned" => "Banned",
        _ => "Unknown",
    }
}

/// A tier (snake_case name) in words.
pub(crate) fn tier(tier: &str) -> &'static str {
    match tier {
        "guest" => "Guest",
        "member" => "Member",
        "paid" => "Paying member",
        "comped" => "Member (complimentary)",
        _ => "Unknown",
    }
}

/// How one joins, for the landing page.
pub(crate) fn join_mode(mode: JoinMode) -> &'static str {
    match mode {
        JoinMode::Open => {
            "Anyone can join: the Goop² app joins with your device's key, or join here with your email address."
        }
        JoinMode::Email => "Anyone can join with an email address they confirm.",
        JoinMode::Invite => "Joining needs an invite code from the community.",
        JoinMode::Application => {
            "Joining starts with a short application, which an admin reviews after you confirm your email address."
        }
    }
}

/// What membership costs.
pub(crate) fn access(access: Access) -> &'static str {
    match access {
        Access::Free => "Membership is free.",
        Access::Paid => {
            "Membership is paid: join and confirm your email address, then subscribe to a plan on \
             your account page."
        }
    }
}

/// Currencies Stripe counts in whole units (no minor unit).
const ZERO_DECIMAL: [&str; 16] = [
    "bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv",
    "xaf", "xof", "xpf",
];

/// Digits after the decimal point in `currency`'s amounts.
fn decimals(currency: &str) -> u32 {
    if ZERO_DECIMAL.contains(&currency) {
        0
    } else {
        2
    }
}

/// An amount in minor units as people read it: `9.99 USD`, `500 JPY`.
pub(crate) fn money(amount: i64, currency: &str) -> String {
    let code = currency.to_ascii_uppercase();
    match decimals(currency) {
        0 => format!("{amount} {code}"),
        _ => format!(
            "{}{}.{:02} {code}",
            if amount < 0 { "-" } else { "" },
            amount.unsigned_abs() / 100,
            amount.unsigned_abs() % 100
        ),
    }
}

/// An amount typed into a form (`5`, `5.5`, `5.50`) in minor units of `currency`; `None` when it
/// is not a plain non-negative number with at most the currency's decimals.
pub(crate) fn parse_money(text: &str, currency: &str) -> Option<i64> {
    let text = text.trim();
    let (whole, fraction) = match text.split_once('.') {
        Some((_, "")) => return None,
        Some(parts) => parts,
        None => (text, ""),
    };
    let places = decimals(currency) as usize;
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty()
        || whole.len() > 9
        || !digits(whole)
        || fraction.len() > places
        || !digits(fraction)
    {
        return None;
    }
    let whole: i64 = whole.parse().ok()?;
    let fraction: i64 = format!("{fraction:0<places$}").parse().unwrap_or(0);
    Some(whole * 10_i64.pow(places as u32) + fraction)
}

/// What a plan costs: `9.99 USD a year`, `5.00 USD`, `1.00 to 1000.00 USD, as you choose`, `Free`.
pub(crate) fn price(plan: &Plan) -> String {
    let currency = plan.currency.as_deref().unwrap_or_default();
    match (plan.kind, plan.amount) {
        (PlanKind::Free, _) => "Free".to_owned(),
        (PlanKind::Subscription, Some(amount)) => {
            let per = match plan.interval {
                Some(PlanInterval::Month) => " a month",
                Some(PlanInterval::Year) => " a year",
                None => "",
            };
            format!("{}{per}", money(amount, currency))
        }
        (_, Some(amount)) => money(amount, currency),
        (_, None) if plan.is_custom_donation() => {
            let range = plan.amount_range();
            format!(
                "{} to {}, as you choose",
                money(*range.start(), currency),
                money(*range.end(), currency)
            )
        }
        (_, None) => "Set by Stripe".to_owned(),
    }
}

/// A Stripe subscription status in words.
pub(crate) fn subscription_status(status: &str) -> &'static str {
    match status {
        "active" => "Active",
        "trialing" => "Trial",
        "past_due" => "Payment overdue",
        "unpaid" => "Unpaid",
        "canceled" => "Cancelled",
        "incomplete" => "Waiting for the first payment",
        "incomplete_expired" => "First payment failed",
        "paused" => "Paused",
        _ => "Unknown",
    }
}

/// A duration rounded to the largest sensible unit: "45 seconds", "3 minutes", "23 hours".
pub(crate) fn duration(duration: Duration) -> String {
    let secs = duration.as_secs_f64().ceil().max(1.0) as u64;
    let (n, unit) = match secs {
        0..120 => (secs, "second"),
        120..7_200 => (secs.div_ceil(60), "minute"),
        7_200..172_800 => (secs.div_ceil(3_600), "hour"),
        _ => (secs.div_ceil(86_400), "day"),
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

/// `then` relative to `now` (both unix ms): "in 23 hours" or "5 minutes ago".
pub(crate) fn relative(then: i64, now: i64) -> String {
    let ms = then.abs_diff(now);
    if ms < 60_000 {
        return "just now".to_owned();
    }
    let text = duration(Duration::from_millis(ms));
    if then >= now {
        format!("in {text}")
    } else {
        format!("{text} ago")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_pick_a_readable_unit() {
        assert_eq!(duration(Duration::from_millis(200)), "1 second");
        assert_eq!(duration(Duration::from_secs(59)), "59 seconds");
        assert_eq!(duration(Duration::from_secs(600)), "10 minutes");
        assert_eq!(duration(Duration::from_secs(86_400)), "24 hours");
        assert_eq!(duration(Duration::from_secs(7 * 86_400)), "7 days");
    }

    #[test]
    fn money_reads_and_parses_minor_units() {
        assert_eq!(money(999, "usd"), "9.99 USD");
        assert_eq!(money(100_000, "eur"), "1000.00 EUR");
        assert_eq!(money(500, "jpy"), "500 JPY");
        assert_eq!(parse_money("5", "usd"), Some(500));
        assert_eq!(parse_money(" 5.5 ", "usd"), Some(550));
        assert_eq!(parse_money("5.05", "usd"), Some(505));
        assert_eq!(parse_money("500", "jpy"), Some(500));
        for bad in [
            "",
            "-5",
            "5.",
            "5.555",
            "1e3",
            "5,00",
            ".5",
            "x",
            "9999999999",
            "+5",
            "５",
        ] {
            assert_eq!(parse_money(bad, "usd"), None, "{bad:?}");
        }
        assert_eq!(parse_money("5.5", "jpy"), None);
    }

    #[test]
    fn relative_times_read_forward_and_back() {
        assert_eq!(relative(1_000, 0), "just now");
        assert_eq!(relative(3_600_000, 0), "in 60 minutes");
        assert_eq!(relative(0, 300_000), "5 minutes ago");
    }
}
