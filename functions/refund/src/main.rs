//! The `refund` function: see `hosting::routes::refunds`.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    hosting::run(&[hosting::routes::refunds::handler], hosting::Uses::WeChatPay).await
}
