//! The wall clock as the hub stores it: unix milliseconds.

/// Now, in unix milliseconds.
///
/// # Panics
/// When the clock reads before 1970.
pub fn now_ms() -> i64 {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970");
    i64::try_from(since_epoch.as_millis()).expect("unix milliseconds fit in i64")
}
