//! The `catalog` function: see `hosting::routes::catalog`.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    hosting::run_function(env!("CARGO_BIN_NAME"), &hosting::routes::CATALOG).await
}
