//! WeChat Pay test rig: a simulator with a merchant, a notify receiver that verifies with
//! the shop's own client, and that client.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use hosting::config::PaySettings;
use simulator::{MerchantConfig, SimConfig};
use wechat::pay::keys::MerchantKey;
use wechat::pay::notify::Verified;
use wechat::pay::{PayClient, SignedHeaders};

pub const MCHID: &str = "1900000001";
pub const APPID: &str = "wx0000000000000001";
pub const APIV3_KEY: &str = "test-apiv3-key-0123456789abcdefg";
pub const SERIAL: &str = "5157F09EFDC096DE15EBE81A47057A7200000001";

/// One merchant key for the whole test process (RSA key generation is slow-ish).
pub fn merchant_key() -> &'static (String, String) {
    static KEY: std::sync::OnceLock<(String, String)> = std::sync::OnceLock::new();
    KEY.get_or_init(|| {
        let (k, pem) = MerchantKey::generate().unwrap();
        (pem, k.public_key_pem().unwrap())
    })
}

#[derive(Default)]
pub struct Received {
    pub verified: Vec<Verified>,
    pub refused: Vec<String>,
    /// Answer 500 to this many more notifies before accepting.
    pub fail_next: u32,
}

pub struct Rig {
    pub sim: simulator::Running,
    pub client: Arc<PayClient>,
    pub received: Arc<Mutex<Received>>,
    pub merchant_key_pem: String,
    pub notify_url: String,
    receiver: tokio::task::JoinHandle<()>,
}

impl Drop for Rig {
    fn drop(&mut self) {
        self.receiver.abort();
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trust {
    PublicKey,
    Certificates,
    Both,
}

async fn receive(
    State((client, received)): State<(Arc<PayClient>, Arc<Mutex<Received>>)>,
    headers: HeaderMap,
    body: Bytes,
) -> (axum::http::StatusCode, String) {
    {
        let mut r = received.lock().unwrap();
        if r.fail_next > 0 {
            r.fail_next -= 1;
            return (axum::http::StatusCode::INTERNAL_SERVER_ERROR, r#"{"code":"FAIL","message":"busy"}"#.into());
        }
    }
    let h = SignedHeaders::from_lookup(|n| headers.get(n).and_then(|v| v.to_str().ok()));
    let opened = match h {
        Ok(h) => client.open_notify(&h, &body).await.map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    let mut r = received.lock().unwrap();
    match opened {
        Ok(v) => {
            r.verified.push(v);
            (axum::http::StatusCode::NO_CONTENT, String::new())
        }
        Err(e) => {
            r.refused.push(e);
            (axum::http::StatusCode::UNAUTHORIZED, r#"{"code":"FAIL","message":"签名错误"}"#.into())
        }
    }
}

impl Rig {
    pub async fn start(trust: Trust) -> Rig {
        let (key, key_pem) = MerchantKey::generate().unwrap();
        let local = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
        let listener = tokio::net::TcpListener::bind(local).await.unwrap();
        let notify_url = format!("http://{}/pay/notify", listener.local_addr().unwrap());
        let sim = simulator::start(
            SimConfig {
                merchant: Some(MerchantConfig {
                    mchid: MCHID.into(),
                    appid: APPID.into(),
                    apiv3_key: APIV3_KEY.into(),
                    serial: SERIAL.into(),
                    public_key_pem: key.public_key_pem().unwrap(),
                }),
                ..SimConfig::default()
            },
            local,
        )
        .await
        .unwrap();
        let client = Arc::new(Self::client_for(&sim, &key_pem, &notify_url, trust));
        // Notifies retry on a schedule 1,000 times faster than WeChat's.
        sim.sim.set_faults(simulator::Faults { time_scale: 0.001, ..Default::default() });
        let received = Arc::new(Mutex::new(Received::default()));
        let router = axum::Router::new()
            .route("/pay/notify", axum::routing::post(receive))
            .with_state((client.clone(), received.clone()));
        let receiver = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Rig { sim, client, received, merchant_key_pem: key_pem, notify_url, receiver }
    }

    pub fn settings(sim: &simulator::Running, key_pem: &str, notify_url: &str, trust: Trust) -> PaySettings {
        let p = sim.sim.pay.platform.read().unwrap();
        PaySettings {
            api_base: sim.base_url(),
            mchid: MCHID.into(),
            mch_serial: SERIAL.into(),
            mch_key_pem: key_pem.into(),
            apiv3_key: APIV3_KEY.into(),
            public_key: match trust {
                Trust::Certificates => None,
                _ => Some((p.public_key_id.clone(), p.public_key_pem.clone())),
            },
            notify_url: notify_url.into(),
        }
    }

    pub fn client_for(sim: &simulator::Running, key_pem: &str, notify_url: &str, trust: Trust) -> PayClient {
        PayClient::new(reqwest::Client::new(), APPID, &Self::settings(sim, key_pem, notify_url, trust))
            .unwrap()
            .with_timing(Duration::from_millis(20), Duration::from_secs(3))
    }

    pub fn faults(&self, f: simulator::Faults) {
        self.sim
            .sim
            .set_faults(simulator::Faults { time_scale: if f.time_scale == 1.0 { 0.001 } else { f.time_scale }, ..f });
    }

    /// Waits until `n` notifies were verified (or refused, with `refused`), at most 10 s.
    pub async fn wait_for(&self, n: usize, refused: bool) -> bool {
        for _ in 0..1000 {
            let got = {
                let r = self.received.lock().unwrap();
                if refused { r.refused.len() } else { r.verified.len() }
            };
            if got >= n {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        false
    }

    /// "The shopper pays" at the simulator.
    pub async fn pay(&self, out_trade_no: &str, success_time: Option<i64>) -> reqwest::Response {
        reqwest::Client::new()
            .post(format!("{}/sim/pay", self.sim.base_url()))
            .json(&serde_json::json!({ "out_trade_no": out_trade_no, "success_time": success_time }))
            .send()
            .await
            .unwrap()
    }
}
