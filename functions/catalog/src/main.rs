//! The `catalog` function: see `hosting::routes::catalog`.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    hosting::run(&[hosting::routes::catalog::handler], hosting::Uses::StoreOnly).await
}
