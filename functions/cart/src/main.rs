//! The `cart` function: see `shared::api::cart`.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    shared::hosting::run(&[shared::api::cart::handler], shared::hosting::Uses::StoreOnly).await
}
