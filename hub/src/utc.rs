//! The hub's clock in unix milliseconds, and UTC calendar arithmetic without a date library
//! (Howard Hinnant's civil-day algorithms): the expiry times in mails, the dates of `hub admin`.

use std::time::Duration;

/// The hub's clock in unix milliseconds, outside membership and billing (which read
/// `config.clock`, so tests can move them).
pub(crate) fn now_ms() -> i64 {
    shared::clock::unix_ms()
}

/// A configured duration in milliseconds, for arithmetic with unix-ms times; saturates at
/// `i64::MAX / 2` so that `now + millis(…)` cannot overflow.
pub(crate) fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX / 2)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub(crate) fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `(year, month, day)` of days since 1970-01-01.
pub(crate) fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

/// `YYYY-MM-DD HH:MM` (UTC) of a unix-ms time.
pub(crate) fn format(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip_through_day_numbers() {
        for days in [-719_468, -1, 0, 59, 365, 11_016, 19_782, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
        }
        assert_eq!(format(0), "1970-01-01 00:00");
        assert_eq!(format(1_709_251_199_000), "2024-02-29 23:59");
    }

    #[test]
    fn format_reads_known_instants() {
        assert_eq!(format(1_767_225_600_000), "2026-01-01 00:00");
        assert_eq!(format(951_827_696_000), "2000-02-29 12:34");
    }
}
