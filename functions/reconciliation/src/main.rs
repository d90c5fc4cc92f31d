//! The scheduled `reconciliation` function: yesterday's trade bill (or the day an event
//! names) against local payments and refunds.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    hosting::run_job(env!("CARGO_BIN_NAME"), &hosting::routes::RECONCILIATION, hosting::routes::jobs::reconcile_day)
        .await
}
