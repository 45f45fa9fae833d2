//! Retry schedules and waits of the reservation workers (peer.md §3.5, §13). Waits follow the
//! node's [`Clock`], checked every [`TICK`], so tests move time instead of sleeping.

use std::time::Duration;

use shared::clock::Clock;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// How often a wait looks at the clock.
const TICK: Duration = Duration::from_millis(100);
/// Recovery delays before exponential growth (rule 4).
const RECOVERY_STEPS: [u64; 4] = [0, 1, 3, 6];
/// Longest recovery delay (rule 4).
const RECOVERY_MAX: Duration = Duration::from_secs(300);
/// First delay after a refused reservation (rule 5).
const DENIED_FIRST: Duration = Duration::from_secs(30);
/// Longest delay after refused reservations (rule 5).
const DENIED_MAX: Duration = Duration::from_secs(600);

/// The delay before recovery attempt `attempt` (0-based): 0, 1, 3, 6 s, then doubling to 5 min.
pub(super) fn recovery_delay(attempt: u32) -> Duration {
    if let Some(secs) = RECOVERY_STEPS.get(attempt as usize) {
        return Duration::from_secs(*secs);
    }
    let doublings = attempt.saturating_sub(3).min(16);
    Duration::from_secs(6u64 << doublings).min(RECOVERY_MAX)
}

/// The delay after refusal number `refusal` (0-based): 30 s doubling to 10 min.
pub(super) fn denied_delay(refusal: u32) -> Duration {
    DENIED_FIRST
        .saturating_mul(1u32 << refusal.min(16))
        .min(DENIED_MAX)
}

/// How a wait ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Woke {
    /// The time passed.
    Elapsed,
    /// `recover` was notified first.
    Recover,
    /// The worker was stopped.
    Stopped,
}

/// Waits `delay` of `clock` time; returns early when stopped or, if given, when `recover` fires.
pub(super) async fn wait(
    clock: &Clock,
    delay: Duration,
    token: &CancellationToken,
    recover: Option<&Notify>,
) -> Woke {
    let until = clock
        .now_ms()
        .saturating_add(i64::try_from(delay.as_millis()).unwrap_or(i64::MAX));
    loop {
        let left = until.saturating_sub(clock.now_ms());
        if left <= 0 {
            return Woke::Elapsed;
        }
        let step = TICK.min(Duration::from_millis(left.unsigned_abs()));
        tokio::select! {
            () = token.cancelled() => return Woke::Stopped,
            () = async { match recover { Some(n) => n.notified().await, None => std::future::pending().await } } => {
                return Woke::Recover;
            }
            () = tokio::time::sleep(step) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovery_delays_follow_the_schedule_and_cap_at_five_minutes() {
        let delays: Vec<u64> = (0..10).map(|a| recovery_delay(a).as_secs()).collect();
        assert_eq!(delays, [0, 1, 3, 6, 12, 24, 48, 96, 192, 300]);
        assert_eq!(recovery_delay(u32::MAX), RECOVERY_MAX);
    }

    #[test]
    fn denied_delays_double_from_thirty_seconds_to_ten_minutes() {
        let delays: Vec<u64> = (0..7).map(|r| denied_delay(r).as_secs()).collect();
        assert_eq!(delays, [30, 60, 120, 240, 480, 600, 600]);
        assert_eq!(denied_delay(u32::MAX), DENIED_MAX);
    }

    #[tokio::test]
    async fn a_wait_ends_when_the_clock_is_moved_past_it() {
        let clock = Clock::system();
        let token = CancellationToken::new();
        let mut waiting = Box::pin(wait(&clock, Duration::from_secs(3600), &token, None));
        assert!(futures::poll!(&mut waiting).is_pending());
        clock.advance(Duration::from_secs(3601));
        assert_eq!(waiting.await, Woke::Elapsed);
    }

    #[tokio::test]
    async fn a_wait_ends_on_recover_or_stop() {
        let (clock, token, recover) = (Clock::system(), CancellationToken::new(), Notify::new());
        recover.notify_one();
        let long = Duration::from_secs(3600);
        assert_eq!(
            wait(&clock, long, &token, Some(&recover)).await,
            Woke::Recover
        );
        token.cancel();
        assert_eq!(wait(&clock, long, &token, None).await, Woke::Stopped);
    }
}
