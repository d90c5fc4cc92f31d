//! `shop-local`: every function behind one port, for a laptop and for WeChat Cloud Hosting
//! (the Dockerfile; `SCHEDULE_JOBS=1` runs the scheduled jobs in the process). With
//! `SEED_SAMPLE=1` an empty store is filled from `scripts/sample-catalog.json`. With
//! `SERVE=pay-notify` it serves WeChat Pay's notify alone, for a public service beside a shop
//! whose own service the public internet does not reach (README, WeChat Cloud Hosting).

use hosting::routes;

const SAMPLE: &str = include_str!("../../../scripts/sample-catalog.json");

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match std::env::var("SERVE").as_deref() {
        Err(_) | Ok("all") => {}
        Ok("pay-notify") => return hosting::run_function("pay-notify", &routes::PAY_NOTIFY).await,
        Ok(other) => {
            eprintln!("SERVE must be all or pay-notify, not {other:?}");
            return std::process::ExitCode::from(2);
        }
    }
    hosting::init_tracing();
    let app = match hosting::service_from_env(hosting::Uses::STORE_ONLY.wechat().sessions().bootstrap()).await {
        Ok(a) => a,
        Err(code) => return code,
    };
    if std::env::var("SEED_SAMPLE").as_deref() == Ok("1") {
        match hosting::sample::load_if_empty(&app, SAMPLE).await {
            Ok(loaded) => eprintln!("sample catalog {}", if loaded { "loaded" } else { "already present" }),
            Err(e) => {
                eprintln!("sample catalog: {e}");
                return std::process::ExitCode::FAILURE;
            }
        }
    }
    hosting::serve(app, routes::ALL.to_vec()).await
}
