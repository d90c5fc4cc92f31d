//! The `place-order` function (orders: place, pay, cancel, read; operators: search, ship,
//! cases): see `shared::api::orders`.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    shared::hosting::run(&[shared::api::orders::handler], shared::hosting::Uses::WeChatPay).await
}
