//! The `reviews` function: see `hosting::routes::reviews`.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    hosting::run_function(env!("CARGO_BIN_NAME"), &hosting::routes::REVIEWS).await
}
