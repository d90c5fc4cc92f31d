//! The `pay-notify` function, WeChat Pay's webhook: see `shared::api::pay_notify`.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    shared::hosting::run(&[shared::api::pay_notify::handler], shared::hosting::Uses::WeChatPay).await
}
