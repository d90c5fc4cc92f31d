//! The scheduled `reconciliation` function: yesterday's trade bill (or the day an event
//! names) against local payments and refunds.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    shared::hosting::run_job(shared::api::jobs::reconcile_day, shared::hosting::Uses::WeChatPay).await
}
