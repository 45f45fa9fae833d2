//! Membership terms in plain words for the pages: states, tiers, join modes, and times relative to
//! now.

use std::time::Duration;

use crate::config::JoinMode;
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
        Access::Paid => "Membership is paid; paid plans are not offered on these pages yet.",
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
    fn relative_times_read_forward_and_back() {
        assert_eq!(relative(1_000, 0), "just now");
        assert_eq!(relative(3_600_000, 0), "in 60 minutes");
        assert_eq!(relative(0, 300_000), "5 minutes ago");
    }
}
