//! The `coupon-claim` function: see `shared::api::coupons`.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    shared::hosting::run(&[shared::api::coupons::handler], shared::hosting::Uses::StoreOnly).await
}
