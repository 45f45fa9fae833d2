//! The state machine of a probed hub (superhub.md §3.4, §4.1 rule 2, §4.2): what a passed or
//! failed HTTP probe does to each state, and when the hub is due next.

use std::time::Duration;

use crate::config::ProbeConfig;
use crate::store::{HubState, Transition};

/// The first retry of a hub that never passed comes this long after the failure; it doubles.
const RETRY_BASE_MS: i64 = 60_000;

/// The new state, failures in a row and next due time after a probe at `now_ms` that passed
/// (`ok`) or not, from `state` with `failures` in a row before it. `jitter_ms` is the random
/// offset (within ± `probe.jitter_secs`) added to periodic re-probes.
pub(crate) fn decide(
    config: &ProbeConfig,
    state: HubState,
    failures: i64,
    ok: bool,
    now_ms: i64,
    jitter_ms: i64,
) -> Transition {
    let periodic = now_ms + millis(config.interval) + jitter_ms;
    if ok {
        return Transition {
            state: HubState::Listed,
            consecutive_failures: 0,
            next_probe_at: periodic,
        };
    }
    let (state, failures) = match state {
        // A new address set starts counting afresh: it has never passed.
        HubState::PendingProbe => (HubState::ProbeFailed, 1),
        HubState::Listed if failures + 1 >= i64::from(config.unreachable_after_failures) => {
            (HubState::Unreachable, failures + 1)
        }
        other => (other, failures + 1),
    };
    let next_probe_at = if state == HubState::ProbeFailed {
        now_ms + retry_delay_ms(failures, config.retry_max)
    } else {
        periodic
    };
    Transition {
        state,
        consecutive_failures: failures,
        next_probe_at,
    }
}

/// 60 s × 2^(failures − 1), capped at `retry_max`.
fn retry_delay_ms(failures: i64, retry_max: Duration) -> i64 {
    let exponent = u32::try_from((failures - 1).clamp(0, 32)).unwrap_or(32);
    RETRY_BASE_MS
        .saturating_mul(1_i64 << exponent)
        .min(millis(retry_max))
}

/// A random offset within ± `jitter`.
pub(crate) fn jitter_ms(jitter: Duration) -> i64 {
    let bound = millis(jitter);
    if bound == 0 {
        0
    } else {
        rand::random_range(-bound..=bound)
    }
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX / 4)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000_000;

    fn after(state: HubState, failures: i64, ok: bool) -> Transition {
        decide(&ProbeConfig::default(), state, failures, ok, NOW, 0)
    }

    #[test]
    fn a_pass_lists_every_probed_state_and_resets_failures() {
        for state in [
            HubState::PendingProbe,
            HubState::Listed,
            HubState::Unreachable,
            HubState::ProbeFailed,
        ] {
            let t = after(state, 5, true);

            assert_eq!(t.state, HubState::Listed, "from {state:?}");
            assert_eq!(t.consecutive_failures, 0);
            assert_eq!(t.next_probe_at, NOW + 600_000);
        }
    }

    #[test]
    fn failures_of_a_hub_that_never_passed_back_off_doubling_up_to_retry_max() {
        let first = after(HubState::PendingProbe, 7, false);
        let second = after(HubState::ProbeFailed, 1, false);
        let third = after(HubState::ProbeFailed, 2, false);
        let late = after(HubState::ProbeFailed, 40, false);

        assert_eq!(
            (first.state, first.consecutive_failures),
            (HubState::ProbeFailed, 1)
        );
        assert_eq!(first.next_probe_at, NOW + 60_000);
        assert_eq!(second.next_probe_at, NOW + 120_000);
        assert_eq!(third.next_probe_at, NOW + 240_000);
        assert_eq!(late.next_probe_at, NOW + 3_600_000);
    }

    #[test]
    fn a_listed_hub_becomes_unreachable_at_the_third_failure_in_a_row() {
        let first = after(HubState::Listed, 0, false);
        let second = after(HubState::Listed, 1, false);
        let third = after(HubState::Listed, 2, false);
        let fourth = after(HubState::Unreachable, 3, false);

        assert_eq!(first.state, HubState::Listed);
        assert_eq!(second.state, HubState::Listed);
        assert_eq!(
            (third.state, third.consecutive_failures),
            (HubState::Unreachable, 3)
        );
        assert_eq!(fourth.state, HubState::Unreachable);
        assert_eq!(fourth.next_probe_at, NOW + 600_000);
    }

    #[test]
    fn jitter_stays_within_its_bound() {
        for _ in 0..100 {
            let j = jitter_ms(Duration::from_secs(60));
            assert!((-60_000..=60_000).contains(&j));
        }
        assert_eq!(jitter_ms(Duration::ZERO), 0);
    }
}
