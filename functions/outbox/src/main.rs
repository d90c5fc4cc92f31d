//! The `outbox` function: delivers outbox events to the contexts that act on them. On AWS it
//! is triggered by the table's DynamoDB stream; elsewhere operators (or a timer) run it.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    hosting::run_job(env!("CARGO_BIN_NAME"), &hosting::routes::OUTBOX, hosting::routes::jobs::deliver_outbox).await
}
