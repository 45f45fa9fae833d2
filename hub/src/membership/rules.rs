//! Membership domain rules (hub.md §6.3–§6.5): account states and tiers, the one pure recompute
//! function that derives an account's standing from its facts, and what a standing entitles. The
//! account store and the join flows build on these; nothing here touches I/O.

use serde::{Deserialize, Serialize};
use shared::error_code::ErrorCode;

/// Milliseconds per day.
const DAY_MS: i64 = 86_400_000;

/// Account state (hub.md §6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// The address is not verified yet.
    PendingEmail,
    /// An application or exhausted invite waits for an admin.
    PendingApproval,
    /// In good standing.
    Active,
    /// Subscription `past_due`/`unpaid`, inside the grace period.
    Grace,
    /// Paid or comped access ended.
    Lapsed,
    /// Blocked by an admin.
    Banned,
}

/// Account tier (hub.md §6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    /// No paid entitlement (paid communities).
    Guest,
    /// Member of a free community.
    Member,
    /// Paying (or in grace).
    Paid,
    /// Admin-granted access without payment.
    Comped,
}

impl Tier {
    /// The snake_case name (metric labels, JSON).
    pub fn label(self) -> &'static str {
        match self {
            Self::Guest => "guest",
            Self::Member => "member",
            Self::Paid => "paid",
            Self::Comped => "comped",
        }
    }
}

impl State {
    /// Whether an account in this state has verified its address (every state after
    /// `pending_email`).
    pub fn is_verified(self) -> bool {
        self != Self::PendingEmail
    }

    /// The snake_case name (metric labels, JSON).
    pub fn label(self) -> &'static str {
        match self {
            Self::PendingEmail => "pending_email",
            Self::PendingApproval => "pending_approval",
            Self::Active => "active",
            Self::Grace => "grace",
            Self::Lapsed => "lapsed",
            Self::Banned => "banned",
        }
    }
}

/// `membership.access`: whether membership itself is paid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Access {
    /// Verified members are `member`s.
    Free,
    /// Only subscribers (or comped accounts) get a paid tier.
    Paid,
}

/// One subscription of an account, as far as recompute needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionFacts {
    /// Stripe status (`active`, `trialing`, `past_due`, `unpaid`, `canceled`, …).
    pub status: String,
    /// When it became `past_due`/`unpaid` (ms).
    pub past_due_since: Option<i64>,
}

/// What recompute reads about an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    /// The stored state.
    pub state: State,
    /// Comp granted at (ms).
    pub comped_at: Option<i64>,
    /// Comp ends at (ms); `None` = open-ended.
    pub comped_until: Option<i64>,
    /// The account ever had a paid subscription or comp.
    pub ever_paid_at: Option<i64>,
    /// Its subscriptions.
    pub subscriptions: Vec<SubscriptionFacts>,
}

/// The derived standing of an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Standing {
    /// State.
    pub state: State,
    /// Tier.
    pub tier: Tier,
    /// End of the grace period, when in grace (ms).
    pub grace_until: Option<i64>,
}

/// The recompute of hub.md §6.4: pending and banned accounts keep their state; for the others the
/// first matching rule wins.
pub fn recompute(facts: &Facts, access: Access, grace_days: u64, now_ms: i64) -> Standing {
    let keep = |tier| Standing {
        state: facts.state,
        tier,
        grace_until: None,
    };
    match facts.state {
        State::PendingEmail | State::PendingApproval => return keep(Tier::Member),
        State::Banned => return keep(Tier::Guest),
        State::Active | State::Grace | State::Lapsed => {}
    }
    let standing = |state, tier| Standing {
        state,
        tier,
        grace_until: None,
    };
    let comp_active =
        facts.comped_at.is_some() && facts.comped_until.is_none_or(|until| until > now_ms);
    if comp_active {
        return standing(State::Active, Tier::Comped);
    }
    if facts
        .subscriptions
        .iter()
        .any(|s| matches!(s.status.as_str(), "active" | "trialing"))
    {
        return standing(State::Active, Tier::Paid);
    }
    let grace_ms = i64::try_from(grace_days)
        .unwrap_or(i64::MAX / DAY_MS)
        .saturating_mul(DAY_MS);
    let grace_until = facts
        .subscriptions
        .iter()
        .filter(|s| matches!(s.status.as_str(), "past_due" | "unpaid"))
        .filter_map(|s| s.past_due_since.map(|since| since.saturating_add(grace_ms)))
        .filter(|until| now_ms < *until)
        .max();
    if let Some(until) = grace_until {
        return Standing {
            state: State::Grace,
            tier: Tier::Paid,
            grace_until: Some(until),
        };
    }
    match access {
        Access::Free => standing(State::Active, Tier::Member),
        Access::Paid if facts.ever_paid_at.is_some() => standing(State::Lapsed, Tier::Guest),
        Access::Paid => standing(State::Active, Tier::Guest),
    }
}

/// What a peer may do (hub.md §6.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Rights {
    /// Publish and subscribe presence; use rendezvous.
    pub presence: bool,
    /// Reserve on the relay and open circuits.
    pub relay: bool,
}

impl Rights {
    /// Every right.
    pub const ALL: Self = Self {
        presence: true,
        relay: true,
    };
    /// No right.
    pub const NONE: Self = Self {
        presence: false,
        relay: false,
    };
}

/// What a standing entitles (hub.md §6.5).
pub fn rights(standing: &Standing, guest_presence: bool) -> Rights {
    match (standing.state, standing.tier) {
        (State::Active | State::Grace, Tier::Member | Tier::Paid | Tier::Comped) => Rights::ALL,
        (State::Active | State::Lapsed, Tier::Guest) => Rights {
            presence: guest_presence,
            relay: false,
        },
        _ => Rights::NONE,
    }
}

/// The tier a voucher may carry, or `None` when no voucher is issued (hub.md §6.5).
pub fn voucher_tier(standing: &Standing) -> Option<Tier> {
    match standing.state {
        State::Active | State::Grace | State::Lapsed => Some(standing.tier),
        State::PendingEmail | State::PendingApproval | State::Banned => None,
    }
}

/// The membership code of a refusal (hub.md §6.5); `None` for an unbound peer means `not_member`.
pub fn refusal_code(standing: Option<&Standing>, guest_presence: bool) -> ErrorCode {
    match standing {
        None => ErrorCode::NotMember,
        Some(s) => match s.state {
            State::PendingEmail | State::PendingApproval => ErrorCode::MembershipPending,
            State::Banned => ErrorCode::Banned,
            State::Lapsed => ErrorCode::MembershipLapsed,
            State::Active | State::Grace if s.tier == Tier::Guest && !guest_presence => {
                ErrorCode::MembershipLapsed
            }
            State::Active | State::Grace => ErrorCode::NotMember,
        },
    }
}

/// The published member count (hub.md §11.1) of `(state, tier, accounts)` rows: accounts in
/// `active` or `grace` with a tier other than `guest`.
pub fn published_member_count(counts: &[(State, Tier, i64)]) -> i64 {
    counts
        .iter()
        .filter(|(state, tier, _)| {
            matches!(state, State::Active | State::Grace) && *tier != Tier::Guest
        })
        .map(|(_, _, n)| n)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_767_225_600_000;

    fn facts(state: State) -> Facts {
        Facts {
            state,
            comped_at: None,
            comped_until: None,
            ever_paid_at: None,
            subscriptions: Vec::new(),
        }
    }

    fn sub(status: &str, past_due_since: Option<i64>) -> SubscriptionFacts {
        SubscriptionFacts {
            status: status.to_owned(),
            past_due_since,
        }
    }

    fn st(state: State, tier: Tier) -> Standing {
        Standing {
            state,
            tier,
            grace_until: None,
        }
    }

    #[test]
    fn pending_and_banned_accounts_keep_their_state() {
        for state in [State::PendingEmail, State::PendingApproval, State::Banned] {
            assert_eq!(recompute(&facts(state), Access::Free, 7, NOW).state, state);
        }
    }

    #[test]
    fn active_comp_wins_over_everything_else() {
        let mut f = facts(State::Lapsed);
        f.comped_at = Some(NOW - 1);
        f.subscriptions.push(sub("active", None));

        assert_eq!(
            recompute(&f, Access::Paid, 7, NOW),
            st(State::Active, Tier::Comped)
        );
    }

    #[test]
    fn ended_comp_no_longer_counts() {
        let mut f = facts(State::Active);
        f.comped_at = Some(NOW - 10);
        f.comped_until = Some(NOW);
        f.ever_paid_at = Some(NOW - 10);

        assert_eq!(
            recompute(&f, Access::Paid, 7, NOW),
            st(State::Lapsed, Tier::Guest)
        );
    }

    #[test]
    fn active_or_trialing_subscription_is_paid() {
        for status in ["active", "trialing"] {
            let mut f = facts(State::Active);
            f.subscriptions.push(sub(status, None));

            assert_eq!(
                recompute(&f, Access::Paid, 7, NOW),
                st(State::Active, Tier::Paid)
            );
        }
    }

    #[test]
    fn past_due_keeps_paid_access_in_grace_until_grace_days_pass() {
        let since = NOW - 6 * DAY_MS;
        let mut f = facts(State::Active);
        f.ever_paid_at = Some(since);
        f.subscriptions.push(sub("past_due", Some(since)));

        let inside = recompute(&f, Access::Paid, 7, NOW);
        let after = recompute(&f, Access::Paid, 7, since + 7 * DAY_MS);

        assert_eq!(
            inside,
            Standing {
                state: State::Grace,
                tier: Tier::Paid,
                grace_until: Some(since + 7 * DAY_MS)
            }
        );
        assert_eq!(after, st(State::Lapsed, Tier::Guest));
    }

    #[test]
    fn free_community_makes_verified_accounts_members() {
        assert_eq!(
            recompute(&facts(State::Active), Access::Free, 7, NOW),
            st(State::Active, Tier::Member)
        );
    }

    #[test]
    fn paid_community_without_payment_is_guest_or_lapsed() {
        let mut former = facts(State::Active);
        former.ever_paid_at = Some(NOW - DAY_MS);

        assert_eq!(
            recompute(&facts(State::Active), Access::Paid, 7, NOW),
            st(State::Active, Tier::Guest)
        );
        assert_eq!(
            recompute(&former, Access::Paid, 7, NOW),
            st(State::Lapsed, Tier::Guest)
        );
    }

    #[test]
    fn rights_follow_the_entitlement_table() {
        assert_eq!(rights(&st(State::Grace, Tier::Paid), false), Rights::ALL);
        assert_eq!(rights(&st(State::Active, Tier::Guest), false), Rights::NONE);
        assert_eq!(
            rights(&st(State::Lapsed, Tier::Guest), true),
            Rights {
                presence: true,
                relay: false
            }
        );
        assert_eq!(rights(&st(State::Banned, Tier::Member), true), Rights::NONE);
        assert_eq!(
            rights(&st(State::PendingEmail, Tier::Member), true),
            Rights::NONE
        );
    }

    #[test]
    fn refusal_codes_name_the_membership_problem() {
        assert_eq!(refusal_code(None, false).as_str(), "not_member");
        assert_eq!(
            refusal_code(Some(&st(State::PendingApproval, Tier::Member)), false).as_str(),
            "membership_pending"
        );
        assert_eq!(
            refusal_code(Some(&st(State::Lapsed, Tier::Guest)), false).as_str(),
            "membership_lapsed"
        );
        assert_eq!(
            refusal_code(Some(&st(State::Active, Tier::Guest)), false).as_str(),
            "membership_lapsed"
        );
        assert_eq!(
            refusal_code(Some(&st(State::Banned, Tier::Paid)), false).as_str(),
            "banned"
        );
    }

    #[test]
    fn vouchers_are_issued_only_to_standing_accounts() {
        assert_eq!(
            voucher_tier(&st(State::Lapsed, Tier::Guest)),
            Some(Tier::Guest)
        );
        assert_eq!(
            voucher_tier(&st(State::Active, Tier::Comped)),
            Some(Tier::Comped)
        );
        assert_eq!(voucher_tier(&st(State::PendingEmail, Tier::Member)), None);
        assert_eq!(voucher_tier(&st(State::Banned, Tier::Member)), None);
    }

    #[test]
    fn published_member_count_skips_guests_and_pending_accounts() {
        let counts = [
            (State::Active, Tier::Member, 3),
            (State::Grace, Tier::Paid, 2),
            (State::Active, Tier::Guest, 5),
            (State::PendingEmail, Tier::Member, 7),
            (State::Lapsed, Tier::Guest, 1),
        ];

        assert_eq!(published_member_count(&counts), 5);
    }
}
