//! The `login` function: see `shared::api::login`.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    shared::hosting::run(&[shared::api::login::handler], shared::hosting::Uses::WeChat).await
}
