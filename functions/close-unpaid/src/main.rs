//! The scheduled `close-unpaid` function: closes expired unpaid orders (stock and coupons
//! come back) and retries refunds left in flight.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    hosting::run_job(env!("CARGO_BIN_NAME"), &hosting::routes::CLOSE_UNPAID, hosting::routes::jobs::close_unpaid).await
}
