//! The `members` function: see `hosting::routes::members`.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    hosting::run_function(env!("CARGO_BIN_NAME"), &hosting::routes::MEMBERS).await
}
