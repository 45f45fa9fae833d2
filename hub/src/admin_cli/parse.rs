//! The arguments of `hub admin` that need more than clap: `--expires 7d` durations and
//! `--until YYYY-MM-DD` dates, converted with the civil-day arithmetic of [`crate::utc`].

/// `--expires`: seconds, or never.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Expiry {
    /// This many seconds from now.
    After(u64),
    /// No end.
    Never,
}

/// `--until YYYY-MM-DD`: the unix-ms midnight (UTC) that ends that day.
pub(super) fn parse_date(input: &str) -> Result<i64, String> {
    let invalid = || format!("{input:?} is not a date YYYY-MM-DD");
    let parts: Vec<&str> = input.trim().split('-').collect();
    let [y, m, d] = parts.as_slice() else {
        return Err(invalid());
    };
    if y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return Err(invalid());
    }
    let number = |s: &str| {
        s.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| s.parse::<i64>().ok())
            .flatten()
            .ok_or_else(invalid)
    };
    let (year, month, day) = (number(y)?, number(m)?, number(d)?);
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let month_days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return Err(invalid()),
    };
    if !(1..=month_days).contains(&day) {
        return Err(invalid());
    }
    Ok((crate::utc::days_from_civil(year, month, day) + 1) * 86_400_000)
}

/// `--expires`: `never`, or a number with an optional unit `s`, `m`, `h`, `d`, `w`.
pub(super) fn parse_expiry(input: &str) -> Result<Expiry, String> {
    let input = input.trim();
    if input.eq_ignore_ascii_case("never") {
        return Ok(Expiry::Never);
    }
    let invalid = || format!("{input:?} is not a duration such as 7d, 12h, 30m, 3600 or never");
    let split = input
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(input.len());
    let (number, unit) = input.split_at(split);
    let n: u64 = number.parse().map_err(|_| invalid())?;
    let scale = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 604_800,
        _ => return Err(invalid()),
    };
    let secs = n.checked_mul(scale).ok_or_else(invalid)?;
    if secs == 0 {
        return Err(invalid());
    }
    Ok(Expiry::After(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_parses_units_and_never() {
        assert_eq!(parse_expiry("7d"), Ok(Expiry::After(604_800)));
        assert_eq!(parse_expiry("12h"), Ok(Expiry::After(43_200)));
        assert_eq!(parse_expiry("30m"), Ok(Expiry::After(1_800)));
        assert_eq!(parse_expiry("2w"), Ok(Expiry::After(1_209_600)));
        assert_eq!(parse_expiry("3600"), Ok(Expiry::After(3_600)));
        assert_eq!(parse_expiry("45s"), Ok(Expiry::After(45)));
        assert_eq!(parse_expiry("never"), Ok(Expiry::Never));
        for bad in [
            "",
            "d",
            "7x",
            "-1d",
            "0",
            "7 d",
            "1.5h",
            "99999999999999999999w",
        ] {
            assert!(parse_expiry(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn until_date_ends_at_the_following_utc_midnight() {
        assert_eq!(parse_date("1970-01-01"), Ok(86_400_000));
        assert_eq!(parse_date("2024-02-29"), Ok(1_709_251_200_000));
        assert_eq!(parse_date("2026-12-31"), Ok(1_798_761_600_000));
        for bad in [
            "2023-02-29",
            "2026-13-01",
            "2026-00-10",
            "2026-04-31",
            "26-01-01",
            "2026/01/01",
            "2026-1-1",
            "+026-01-01",
        ] {
            assert!(parse_date(bad).is_err(), "{bad:?}");
        }
    }
}
