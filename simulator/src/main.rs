//! `wechat-sim`: serves the simulator on `SIM_PORT` (default 9100).

use std::net::{Ipv4Addr, SocketAddr};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .init();
    let mut cfg = simulator::SimConfig::default();
    if let Ok(a) = std::env::var("WECHAT_APPID") {
        cfg.appid = a;
    }
    if let Ok(s) = std::env::var("WECHAT_APP_SECRET") {
        cfg.app_secret = s;
    }
    let port = match std::env::var("SIM_PORT").map(|p| p.parse::<u16>()) {
        Err(_) => 9100,
        Ok(Ok(p)) => p,
        Ok(Err(_)) => {
            eprintln!("SIM_PORT must be a port number");
            return std::process::ExitCode::from(2);
        }
    };
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    match simulator::start(cfg, addr).await {
        Ok(running) => {
            eprintln!("wechat-sim listening on {}", running.base_url());
            let _ = tokio::signal::ctrl_c().await;
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("wechat-sim cannot listen on {addr}: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
