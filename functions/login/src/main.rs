//! The `login` function: see `hosting::routes::login`.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    hosting::run(&[hosting::routes::login::handler], hosting::Uses::WeChat).await
}
