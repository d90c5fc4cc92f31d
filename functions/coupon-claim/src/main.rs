//! The `coupon-claim` function: see `hosting::routes::coupons`.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    hosting::run_function(env!("CARGO_BIN_NAME"), &hosting::routes::COUPON_CLAIM).await
}
