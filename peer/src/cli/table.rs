//! Aligned columns for the listing commands; text from other peers is made printable first.

use std::time::{SystemTime, UNIX_EPOCH};

/// `headers` and `rows` as left-aligned columns two spaces apart, one line each.
pub(super) fn render(headers: &[&str], rows: &[Vec<String>]) -> String {
    let cells: Vec<Vec<String>> =
        std::iter::once(headers.iter().map(|h| (*h).to_owned()).collect())
            .chain(
                rows.iter()
                    .map(|row| row.iter().map(|c| printable(c)).collect()),
            )
            .collect();
    let mut widths = vec![0; headers.len()];
    for row in &cells {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in &cells {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i + 1 == row.len() {
                line.push_str(cell);
            } else {
                let pad = widths[i] - cell.chars().count() + 2;
                line.push_str(cell);
                line.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Control characters (terminal escapes in a remote label) become `?`; empty cells `-`.
fn printable(text: &str) -> String {
    if text.is_empty() {
        return "-".to_owned();
    }
    text.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// Unix ms relative to now: `in 2h05m`, `3m ago`, `expired` is up to the caller.
pub(super) fn relative(ms: i64) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    relative_to(ms, now)
}

/// [`relative`] at `now`; within the current second it is the past (`0s ago`), never `in 0s`.
fn relative_to(ms: i64, now: i64) -> String {
    let delta = (ms - now) / 1000;
    let span = span(delta.unsigned_abs());
    if delta > 0 {
        format!("in {span}")
    } else {
        format!("{span} ago")
    }
}

fn span(secs: u64) -> String {
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m", secs / 60),
        3600..86_400 => format!("{}h{:02}m", secs / 3600, secs % 3600 / 60),
        _ => format!("{}d{:02}h", secs / 86_400, secs % 86_400 / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_names_the_future_and_the_past_and_the_current_second_as_past() {
        let now = 1_000_000_000;
        assert_eq!(relative_to(now + 125 * 60_000, now), "in 2h05m");
        assert_eq!(relative_to(now - 180_000, now), "3m ago");
        assert_eq!(relative_to(now - 400, now), "0s ago");
        assert_eq!(relative_to(now + 400, now), "0s ago");
    }
}
