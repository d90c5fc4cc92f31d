//! The scheduled `reconciliation` function: yesterday's trade bill against local payments
//! and refunds.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    shared::hosting::run_job(shared::api::jobs::reconcile_yesterday, shared::hosting::Uses::WeChatPay).await
}
