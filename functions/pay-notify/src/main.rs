//! The `pay-notify` function, WeChat Pay's webhook: see `hosting::routes::pay_notify`.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    hosting::run_function(env!("CARGO_BIN_NAME"), &hosting::routes::PAY_NOTIFY).await
}
