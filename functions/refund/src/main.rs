//! The `refund` function: see `shared::api::refunds`.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    shared::hosting::run(&[shared::api::refunds::handler], shared::hosting::Uses::WeChatPay).await
}
