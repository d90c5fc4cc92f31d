//! The scheduled `close-unpaid` function: closes expired unpaid orders (stock and coupons
//! come back) and retries refunds left in flight.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    shared::hosting::run_job(shared::api::jobs::close_unpaid, shared::hosting::Uses::WeChatPay).await
}
