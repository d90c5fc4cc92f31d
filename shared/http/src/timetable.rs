//! The scheduled jobs inside a long-running process, for hosts with no timer to call the
//! scheduled functions (WeChat Cloud Hosting, a plain VM): with `SCHEDULE_JOBS=1` the HTTP
//! server runs them itself on the timetable `template.yaml` gives EventBridge (tests hold
//! the two together). Every job is idempotent, and on a shared store (DynamoDB, MySQL) the
//! replicas that run the timetable take each tick with one conditional write, so one of them
//! runs it and the others skip it (a replica that takes a tick and then dies leaves that tick
//! undone: the next one does the work).

use std::time::Duration;

use crate::routes::jobs::{self, Job};
use app::App;
use domain::clock;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Every {
    /// Every n minutes, on the minute (`rate(n minutes)`).
    Minutes(i64),
    /// Once a day at this hour and minute in Shanghai.
    DailyAt(i64, i64),
}

pub const TIMETABLE: &[(&str, Job, Every)] = &[
    ("close-unpaid", jobs::close_unpaid, Every::Minutes(5)),
    // WeChat Pay's trade bill of a day is ready from 10:00 the next day.
    ("reconciliation", jobs::reconcile_day, Every::DailyAt(11, 0)),
    ("members-daily", jobs::members_daily, Every::DailyAt(3, 0)),
];

const SHANGHAI_SECS: i64 = 8 * 3600;

/// The first run strictly after `now` (unix seconds).
pub fn next_run(every: Every, now: i64) -> i64 {
    match every {
        Every::Minutes(n) => {
            let period = n.max(1) * 60;
            (now / period + 1) * period
        }
        Every::DailyAt(h, m) => {
            let local = now + SHANGHAI_SECS;
            let mut at = local - local.rem_euclid(86_400) + h * 3600 + m * 60;
            if at <= local {
                at += 86_400;
            }
            at - SHANGHAI_SECS
        }
    }
}

/// Starts one task per job; each sleeps until its next run, runs it, logs what it did.
pub fn spawn(app: App) {
    for &(name, job, every) in TIMETABLE {
        let app = app.clone();
        tokio::spawn(async move {
            loop {
                let at = next_run(every, clock::now());
                tokio::time::sleep(Duration::from_secs((at - clock::now()).max(1) as u64)).await;
                match store::repo::jobs::take_tick(app.store.as_ref(), name, at).await {
                    Ok(true) => {}
                    Ok(false) => {
                        tracing::debug!(job = name, "another replica took this tick");
                        continue;
                    }
                    Err(e) => {
                        tracing::error!(job = name, error = %e, "taking the tick failed; runs again at its next time");
                        continue;
                    }
                }
                match job(&app, &serde_json::json!({})).await {
                    Ok(report) => tracing::info!(job = name, %report, "scheduled job ran"),
                    Err(e) => {
                        tracing::error!(job = name, error = %e, "scheduled job failed; runs again at its next time")
                    }
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_fall_on_the_timetable() {
        // 2026-12-01 02:59:59 in Shanghai is 2026-11-30 18:59:59 UTC.
        let before_three = 1_796_065_199;
        assert_eq!(next_run(Every::DailyAt(3, 0), before_three), before_three + 1);
        assert_eq!(next_run(Every::DailyAt(3, 0), before_three + 1), before_three + 1 + 86_400, "not twice at 03:00");
        assert_eq!(next_run(Every::Minutes(5), 600), 900);
        assert_eq!(next_run(Every::Minutes(5), 601), 900);
        assert_eq!(next_run(Every::DailyAt(11, 0), before_three) - before_three, 8 * 3600 + 1);
    }
}
