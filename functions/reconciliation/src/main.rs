//! The scheduled `reconciliation` function: yesterday's trade bill (or the day an event
//! names) against local payments and refunds.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    hosting::run_job(hosting::routes::jobs::reconcile_day, hosting::Uses::WeChatPay).await
}
