//! The `admin` function: see `hosting::routes::admin`.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    hosting::run_function(env!("CARGO_BIN_NAME"), &hosting::routes::ADMIN).await
}
