//! The `coupon-claim` function: see `hosting::routes::coupons`.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    hosting::run(&[hosting::routes::coupons::handler], hosting::Uses::StoreOnly).await
}
