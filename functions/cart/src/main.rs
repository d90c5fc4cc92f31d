//! The `cart` function: see `hosting::routes::cart`.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    hosting::run(&[hosting::routes::cart::handler], hosting::Uses::StoreOnly).await
}
