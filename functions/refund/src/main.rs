//! The `refund` function: see `hosting::routes::refunds`.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    hosting::run_function(env!("CARGO_BIN_NAME"), &hosting::routes::REFUND).await
}
