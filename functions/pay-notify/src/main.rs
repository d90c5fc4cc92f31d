//! The `pay-notify` function, WeChat Pay's webhook: see `hosting::routes::pay_notify`.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    hosting::run(&[hosting::routes::pay_notify::handler], hosting::Uses::WeChatPay).await
}
