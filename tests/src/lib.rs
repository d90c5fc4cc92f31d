//! Helpers of the end-to-end suites: a fresh store of either kind, and a whole shop (the
//! HTTP server on a free port, wired to a running WeChat simulator).
//!
//! DynamoDB cases need `DYNAMODB_ENDPOINT` (scripts/test.sh starts DynamoDB Local and sets
//! it); without it they fail with that message rather than skip.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use app::App;
use app::config::{Settings, StoreKind};
use serde_json::Value;
use store::{SharedStore, dynamo::DynamoStore, embedded::EmbeddedStore};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Embedded,
    Dynamo,
}

pub fn dynamodb_endpoint() -> String {
    std::env::var("DYNAMODB_ENDPOINT").unwrap_or_else(|_| {
        panic!("DYNAMODB_ENDPOINT is not set: run the suites with scripts/test.sh, which starts DynamoDB Local")
    })
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

/// A store of its own for one test: a new SQLite file, or a new DynamoDB Local table.
pub async fn store(backend: Backend) -> SharedStore {
    match backend {
        Backend::Embedded => {
            let path = std::env::temp_dir().join("shop-tests").join(format!("{}.db", unique("t")));
            Arc::new(EmbeddedStore::open(&path).expect("temp store opens"))
        }
        Backend::Dynamo => {
            // DynamoDB Local accepts any credentials; set them so the SDK finds some.
            // SAFETY: tests set the same constant values; no thread reads them differently.
            unsafe {
                std::env::set_var("AWS_ACCESS_KEY_ID", "local");
                std::env::set_var("AWS_SECRET_ACCESS_KEY", "local");
                std::env::set_var("AWS_REGION", "ap-shanghai-local");
            }
            let s = DynamoStore::connect(&unique("t"), Some(&dynamodb_endpoint())).await;
            s.create_table().await.expect("DynamoDB Local creates the test table");
            Arc::new(s)
        }
    }
}

pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789";

pub fn settings(wechat_base: &str, trust_wx_context: bool) -> Settings {
    let base = wechat_base.to_owned();
    Settings::from_lookup(
        move |k| {
            Some(
                match k {
                    "WECHAT_APPID" => "wx0000000000000001",
                    "WECHAT_APP_SECRET" => "sim-app-secret",
                    "SESSION_SECRET" => "test-session-secret-0123456789abcdef",
                    "ADMIN_TOKEN" => ADMIN_TOKEN,
                    "WECHAT_API_BASE" => base.as_str(),
                    "TRUST_WX_CONTEXT" if trust_wx_context => "1",
                    _ => return None,
                }
                .to_owned(),
            )
        },
        hosting::Uses::WeChat,
    )
    .expect("test settings are complete")
}

/// A running shop: every function on one local port, a simulator behind it.
pub struct Shop {
    pub base: String,
    pub http: reqwest::Client,
    pub sim: simulator::Running,
    pub app: App,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Shop {
    fn drop(&mut self) {
        self.server.abort();
    }
}

pub struct Answer {
    pub status: u16,
    pub body: Value,
}

impl Answer {
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
}

impl Shop {
    pub async fn start(backend: Backend) -> Shop {
        Self::start_with(backend, false).await
    }

    pub async fn start_with(backend: Backend, trust_wx_context: bool) -> Shop {
        Self::start_full(backend, trust_wx_context, None).await
    }

    /// As [`Shop::start_with`], trusting `platform_key` (id, PEM) as WeChat Pay's public key
    /// instead of the simulator's, so a test can sign notifies of its own making.
    pub async fn start_full(backend: Backend, trust_wx_context: bool, platform_key: Option<(String, String)>) -> Shop {
        let shop = Self::start_without_worker(backend, trust_wx_context, platform_key).await;
        hosting::worker::spawn(shop.app.clone());
        shop
    }

    /// A shop whose process delivers no outbox events by itself, as one that dies right
    /// after each commit: only [`app::outbox::drain`] (the sweep) delivers them.
    pub async fn start_without_worker(
        backend: Backend,
        trust_wx_context: bool,
        platform_key: Option<(String, String)>,
    ) -> Shop {
        let local = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
        let listener = tokio::net::TcpListener::bind(local).await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (key_pem, public_pem) = pay::merchant_key();
        let sim = simulator::start(
            simulator::SimConfig {
                merchant: Some(simulator::MerchantConfig {
                    mchid: pay::MCHID.into(),
                    appid: pay::APPID.into(),
                    apiv3_key: pay::APIV3_KEY.into(),
                    serial: pay::SERIAL.into(),
                    public_key_pem: public_pem.clone(),
                }),
                ..simulator::SimConfig::default()
            },
            local,
        )
        .await
        .expect("simulator starts");
        // WeChat's notify retry schedule, 1,000 times faster.
        sim.sim.set_faults(simulator::Faults { time_scale: 0.001, ..Default::default() });
        let mut settings = settings(&sim.base_url(), trust_wx_context);
        settings.store.kind = match backend {
            Backend::Embedded => StoreKind::Embedded,
            Backend::Dynamo => StoreKind::Dynamodb,
        };
        let mut pay_settings =
            pay::Rig::settings(&sim, key_pem, &format!("http://{addr}/pay/notify"), pay::Trust::PublicKey);
        if platform_key.is_some() {
            pay_settings.public_key = platform_key;
        }
        settings.pay = Some(pay_settings);
        settings.order_ttl_secs = 120;
        let app = App::new(store(backend).await, settings).expect("app builds");
        let router = hosting::server::router(app.clone(), hosting::routes::ALL.to_vec());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Shop { base: format!("http://{addr}"), http: reqwest::Client::new(), sim, app, server }
    }

    /// A call as the shopper `openid`, through WeChat Cloud Hosting's identity header (the
    /// shop must be started trusting it).
    pub async fn call_as(&self, openid: &str, method: &str, path: &str, body: Option<Value>) -> Answer {
        self.send(method, path, ("X-WX-OPENID", openid.to_owned()), body).await
    }

    pub async fn call(&self, method: &str, path: &str, token: Option<&str>, body: Option<Value>) -> Answer {
        let auth = token.map(|t| format!("Bearer {t}")).unwrap_or_default();
        self.send(method, path, ("Authorization", auth), body).await
    }

    async fn send(&self, method: &str, path: &str, header: (&str, String), body: Option<Value>) -> Answer {
        let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self.http.request(m, format!("{}{path}", self.base));
        if !header.1.is_empty() {
            req = req.header(header.0, header.1);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("shop answers");
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await.expect("body");
        let body = if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes).expect("JSON body") };
        Answer { status, body }
    }

    pub async fn admin(&self, method: &str, path: &str, body: Option<Value>) -> Answer {
        self.call(method, path, Some(ADMIN_TOKEN), body).await
    }

    /// Logs `user` in with a fresh code and returns the session token.
    pub async fn login(&self, user: &str) -> String {
        let code = format!("{user}.{}", uuid::Uuid::new_v4().simple());
        let a = self.call("POST", "/login", None, Some(serde_json::json!({ "code": code }))).await;
        assert_eq!(a.status, 200, "login of {user}: {}", a.body);
        a.body["token"].as_str().expect("token").to_owned()
    }
}

/// Declares one async test per backend for each listed function `f(Backend)`.
#[macro_export]
macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {
        mod embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() { super::$name($crate::Backend::Embedded).await }
            )*
        }
        mod dynamodb {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() { super::$name($crate::Backend::Dynamo).await }
            )*
        }
    };
}

/// WeChat Pay test rig: a simulator with a merchant, a notify receiver that verifies with
/// the shop's own client, and that client.
pub mod pay {
    use std::net::{Ipv4Addr, SocketAddr};
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use app::config::PaySettings;
    use axum::body::Bytes;
    use axum::extract::State;
    use axum::http::HeaderMap;
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
            self.sim.sim.set_faults(simulator::Faults {
                time_scale: if f.time_scale == 1.0 { 0.001 } else { f.time_scale },
                ..f
            });
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
}

/// Shop helpers for the order, payment and refund suites.
pub mod shop {
    use std::time::Duration;

    use serde_json::{Value, json};

    use super::{Answer, Shop};

    /// A published product with one main SKU holding `stock` units in warehouse `wh`.
    pub async fn product_with_stock(shop: &Shop, price_fen: i64, stock: &[(&str, i64)]) -> (String, String) {
        let p = shop.admin("POST", "/admin/products", Some(json!({"title": "测试商品", "category": "test"}))).await;
        assert_eq!(p.status, 201, "{}", p.body);
        let pid = p.body["id"].as_str().unwrap().to_owned();
        let s = shop
            .admin(
                "POST",
                &format!("/admin/products/{pid}/skus"),
                Some(json!({"name": "标准", "kind": "main", "price_fen": price_fen})),
            )
            .await;
        assert_eq!(s.status, 201, "{}", s.body);
        let sku = s.body["id"].as_str().unwrap().to_owned();
        for (wh, n) in stock {
            warehouse(shop, wh).await;
            let a = shop
                .admin("POST", "/admin/stock/adjust", Some(json!({"sku_id": sku, "warehouse_id": wh, "delta": n})))
                .await;
            assert_eq!(a.status, 200, "{}", a.body);
        }
        let pubd = shop.admin("POST", &format!("/admin/products/{pid}/publish"), None).await;
        assert_eq!(pubd.status, 200, "{}", pubd.body);
        (pid, sku)
    }

    pub async fn warehouse(shop: &Shop, id: &str) {
        let w =
            shop.admin("PUT", &format!("/admin/warehouses/{id}"), Some(json!({"name": id, "region": "华东"}))).await;
        assert_eq!(w.status, 200, "{}", w.body);
    }

    pub async fn add_sku(shop: &Shop, pid: &str, body: Value) -> String {
        let s = shop.admin("POST", &format!("/admin/products/{pid}/skus"), Some(body)).await;
        assert_eq!(s.status, 201, "{}", s.body);
        s.body["id"].as_str().unwrap().to_owned()
    }

    pub async fn adjust(shop: &Shop, sku: &str, wh: &str, delta: i64) {
        let a = shop
            .admin("POST", "/admin/stock/adjust", Some(json!({"sku_id": sku, "warehouse_id": wh, "delta": delta})))
            .await;
        assert_eq!(a.status, 200, "{}", a.body);
    }

    /// Total units of a SKU over every counter.
    pub async fn stock(shop: &Shop, sku: &str) -> i64 {
        let a = shop.admin("GET", &format!("/admin/skus/{sku}/stock"), None).await;
        a.body["stock"].as_array().map(|v| v.iter().map(|l| l["available"].as_i64().unwrap()).sum()).unwrap_or(0)
    }

    /// A coupon template valid from 1970 to 2096.
    pub async fn coupon_template(shop: &Shop, name: &str, rule: Value, total: i64, per_user: i64) -> String {
        let body = json!({"name": name, "rule": rule, "total": total, "per_user": per_user, "valid_from": 0, "valid_to": 4_000_000_000i64});
        let t = shop.admin("POST", "/admin/coupons", Some(body)).await;
        assert_eq!(t.status, 201, "{}", t.body);
        t.body["id"].as_str().unwrap().to_owned()
    }

    pub fn rid() -> String {
        format!("req-{}", &uuid::Uuid::new_v4().simple().to_string()[..16])
    }

    pub async fn place(shop: &Shop, token: &str, items: Value) -> Answer {
        shop.call("POST", "/orders", Some(token), Some(json!({"request_id": rid(), "items": items}))).await
    }

    pub async fn order(shop: &Shop, no: &str) -> Value {
        shop.admin("GET", &format!("/admin/orders/{no}"), None).await.body
    }

    /// Waits until `check` holds for the order (at most 10 s).
    pub async fn wait_order(shop: &Shop, no: &str, check: impl Fn(&Value) -> bool) -> Value {
        for _ in 0..500 {
            let o = order(shop, no).await;
            if check(&o) {
                return o;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("order {no} never reached the expected state: {}", order(shop, no).await);
    }

    /// The shopper pays: `/orders/{no}/pay`, then the simulator's "shopper confirms".
    pub async fn pay(shop: &Shop, token: &str, no: &str) -> Answer {
        let a = shop.call("POST", &format!("/orders/{no}/pay"), Some(token), None).await;
        if a.status == 200 {
            let r = reqwest::Client::new()
                .post(format!("{}/sim/pay", shop.sim.base_url()))
                .json(&json!({"out_trade_no": no}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
        }
        a
    }

    pub async fn pay_and_wait(shop: &Shop, token: &str, no: &str) -> Value {
        let a = pay(shop, token, no).await;
        assert_eq!(a.status, 200, "{}", a.body);
        wait_order(shop, no, |o| o["order"]["state"] == "paid").await
    }

    pub async fn sim_post(shop: &Shop, path: &str, body: Value) -> reqwest::Response {
        reqwest::Client::new().post(format!("{}{path}", shop.sim.base_url())).json(&body).send().await.unwrap()
    }
}
