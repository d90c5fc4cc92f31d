//! Time: unix seconds in storage; business days in Asia/Shanghai (UTC+8 all year, China has
//! kept no daylight saving since 1991, so a fixed offset is exact).

use time::{Date, OffsetDateTime, UtcOffset};

pub const SHANGHAI: UtcOffset = match UtcOffset::from_hms(8, 0, 0) {
    Ok(o) => o,
    Err(_) => panic!("UTC+8 is a valid offset"),
};

pub fn now() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

/// A unix time in Shanghai (out-of-range times read as the epoch).
pub fn shanghai(unix: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(unix).unwrap_or(OffsetDateTime::UNIX_EPOCH).to_offset(SHANGHAI)
}

/// The Shanghai business day a unix time falls on.
pub fn business_day(unix: i64) -> Option<Date> {
    OffsetDateTime::from_unix_timestamp(unix).ok().map(|t| t.to_offset(SHANGHAI).date())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn business_day_turns_at_shanghai_midnight() {
        // 2024-07-09 15:59:59 UTC = 23:59:59 in Shanghai; one second later is the 10th.
        let t = 1_720_540_799;
        assert_eq!(business_day(t).unwrap().to_string(), "2024-07-09");
        assert_eq!(business_day(t + 1).unwrap().to_string(), "2024-07-10");
    }
}
