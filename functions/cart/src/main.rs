//! The `cart` function: see `hosting::routes::cart`.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    hosting::run_function(env!("CARGO_BIN_NAME"), &hosting::routes::CART).await
}
