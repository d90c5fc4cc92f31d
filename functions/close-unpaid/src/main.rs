//! The scheduled `close-unpaid` function: closes expired unpaid orders (stock and coupons
//! come back) and retries refunds left in flight.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    hosting::run_job(hosting::routes::jobs::close_unpaid, hosting::Uses::WeChatPay).await
}
