//! Time: unix seconds in storage; business days in Asia/Shanghai (UTC+8 all year, China has
//! kept no daylight saving since 1991, so a fixed offset is exact).
//!
//! The shop's clock ([`now`]) is the wall clock, unless a local run or a test moved it forward
//! ([`move_forward`], which the host allows only with `MOVABLE_CLOCK=1` and never on Lambda or
//! SCF) to try what takes days: receipt after 15 days, the refund window, points expiry. What
//! WeChat checks against its own clock (request signatures, the freshness of its answers and
//! notifies) reads [`wall`].

use std::sync::atomic::{AtomicI64, Ordering};

use time::{Date, OffsetDateTime, UtcOffset};

pub const SHANGHAI: UtcOffset = match UtcOffset::from_hms(8, 0, 0) {
    Ok(o) => o,
    Err(_) => panic!("UTC+8 is a valid offset"),
};

/// How far the shop's clock was moved ahead of the wall clock, in seconds.
static MOVED: AtomicI64 = AtomicI64::new(0);

/// The shop's clock, in unix seconds.
pub fn now() -> i64 {
    wall() + MOVED.load(Ordering::Relaxed)
}

/// The wall clock, for what WeChat and WeChat Pay check against theirs.
pub fn wall() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

/// How far the shop's clock is ahead of the wall clock.
pub fn moved_by() -> i64 {
    MOVED.load(Ordering::Relaxed)
}

/// Moves the shop's clock `secs` forward (never back: what was recorded stays in the past);
/// answers how far it is ahead now. Whether it may move is the host's decision.
pub fn move_forward(secs: i64) -> i64 {
    MOVED.fetch_add(secs.max(0), Ordering::Relaxed) + secs.max(0)
}

/// A unix time in Shanghai (out-of-range times read as the epoch).
pub fn shanghai(unix: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(unix).unwrap_or(OffsetDateTime::UNIX_EPOCH).to_offset(SHANGHAI)
}

/// The Shanghai business day a unix time falls on.
pub fn business_day(unix: i64) -> Option<Date> {
    OffsetDateTime::from_unix_timestamp(unix).ok().map(|t| t.to_offset(SHANGHAI).date())
}

/// The Shanghai month (`yyyy-mm`) a unix time falls in.
pub fn month_of(unix: i64) -> String {
    let d = shanghai(unix).date();
    format!("{:04}-{:02}", d.year(), u8::from(d.month()))
}

/// The month `n` months after `month` (`yyyy-mm`; before it for a negative `n`), or the
/// input unchanged if it is no month.
pub fn add_months(month: &str, n: i32) -> String {
    let parsed = month.split_once('-').and_then(|(y, m)| Some((y.parse::<i32>().ok()?, m.parse::<i32>().ok()?)));
    match parsed {
        Some((y, m)) if (1..=12).contains(&m) => {
            let total = y * 12 + (m - 1) + n;
            format!("{:04}-{:02}", total.div_euclid(12), total.rem_euclid(12) + 1)
        }
        _ => month.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_in_shanghai() {
        // 2024-07-31 16:00:00 UTC is already August in Shanghai.
        assert_eq!(month_of(1_722_441_600), "2024-08");
        assert_eq!(month_of(1_722_441_599), "2024-07");
        assert_eq!(add_months("2025-01", 12), "2026-01");
        assert_eq!(add_months("2025-01", -1), "2024-12");
        assert_eq!(add_months("2025-12", 1), "2026-01");
        assert_eq!(add_months("nonsense", 1), "nonsense");
    }

    #[test]
    fn business_day_turns_at_shanghai_midnight() {
        // 2024-07-09 15:59:59 UTC = 23:59:59 in Shanghai; one second later is the 10th.
        let t = 1_720_540_799;
        assert_eq!(business_day(t).unwrap().to_string(), "2024-07-09");
        assert_eq!(business_day(t + 1).unwrap().to_string(), "2024-07-10");
    }
}
