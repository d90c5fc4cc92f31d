//! The `login` function: see `hosting::routes::login`.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    hosting::run_function(env!("CARGO_BIN_NAME"), &hosting::routes::LOGIN).await
}
