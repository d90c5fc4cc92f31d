//! The `orders` function (orders: place, pay, cancel, read; operators: search, ship,
//! cases): see `hosting::routes::orders`.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    hosting::run_function(env!("CARGO_BIN_NAME"), &hosting::routes::ORDERS).await
}
