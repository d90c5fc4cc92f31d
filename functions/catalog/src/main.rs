//! The `catalog` function: see `shared::api::catalog`.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    shared::hosting::run(&[shared::api::catalog::handler], shared::hosting::Uses::StoreOnly).await
}
