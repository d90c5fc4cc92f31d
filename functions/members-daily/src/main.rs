//! The `members-daily` function: scores every member's RFM segment once a day (see
//! `hosting::routes::jobs::members_daily`).

#[tokio::main]
async fn main() -> std::process::ExitCode {
    hosting::run_job(env!("CARGO_BIN_NAME"), &hosting::routes::MEMBERS_DAILY, hosting::routes::jobs::members_daily)
        .await
}
