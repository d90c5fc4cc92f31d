//! The `orders` function (orders: place, pay, cancel, read; operators: search, ship,
//! cases): see `hosting::routes::orders`.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    hosting::run(&[hosting::routes::orders::handler], hosting::Uses::WeChatPay).await
}
