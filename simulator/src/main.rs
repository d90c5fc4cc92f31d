//! `wechat-sim`: serves the simulator on `SIM_PORT` (default 9100). WeChat Pay keys live in
//! `SIM_KEY_DIR` (default `.local/wechatpay`): the merchant key is made on first start
//! (`apiclient_key.pem`), and WeChat Pay's public key is written as
//! `wechatpay_public_key.pem` at every start, for the local shop to read.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;

use simulator::MerchantConfig;

fn env(k: &str, default: &str) -> String {
    std::env::var(k).ok().filter(|v| !v.is_empty()).unwrap_or_else(|| default.to_owned())
}

fn merchant(dir: &std::path::Path, appid: &str) -> Result<MerchantConfig, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let key = dir.join("apiclient_key.pem");
    let public = dir.join("apiclient_public_key.pem");
    if !key.exists() || !public.exists() {
        let (private_pem, public_pem) = simulator::pay::merchant_key_pem()?;
        std::fs::write(&key, private_pem).map_err(|e| format!("{}: {e}", key.display()))?;
        std::fs::write(&public, public_pem).map_err(|e| format!("{}: {e}", public.display()))?;
    }
    Ok(MerchantConfig {
        mchid: env("WECHATPAY_MCHID", "1900000001"),
        appid: appid.to_owned(),
        apiv3_key: env("WECHATPAY_APIV3_KEY", "local-apiv3-key-0123456789abcdef"),
        serial: env("WECHATPAY_MCH_SERIAL", "5157F09EFDC096DE15EBE81A47057A7200000001"),
        public_key_pem: std::fs::read_to_string(&public).map_err(|e| format!("{}: {e}", public.display()))?,
    })
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt().with_writer(std::io::stderr).init();
    let mut cfg = simulator::SimConfig::default();
    cfg.appid = env("WECHAT_APPID", &cfg.appid);
    cfg.app_secret = env("WECHAT_APP_SECRET", &cfg.app_secret);
    let dir = PathBuf::from(env("SIM_KEY_DIR", ".local/wechatpay"));
    match merchant(&dir, &cfg.appid) {
        Ok(m) => cfg.merchant = Some(m),
        Err(e) => {
            eprintln!("wechat-sim: merchant keys: {e}");
            return ExitCode::from(2);
        }
    }
    let Ok(port) = env("SIM_PORT", "9100").parse::<u16>() else {
        eprintln!("SIM_PORT must be a port number");
        return ExitCode::from(2);
    };
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let running = match simulator::start(cfg, addr).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("wechat-sim cannot listen on {addr}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let pem = running.sim.pay.platform.read().map(|p| p.public_key_pem.clone()).unwrap_or_default();
    let file = dir.join("wechatpay_public_key.pem");
    if let Err(e) = std::fs::write(&file, pem) {
        eprintln!("wechat-sim: {}: {e}", file.display());
        return ExitCode::FAILURE;
    }
    eprintln!("wechat-sim listening on {} (WeChat Pay public key: {})", running.base_url(), file.display());
    let _ = tokio::signal::ctrl_c().await;
    ExitCode::SUCCESS
}
