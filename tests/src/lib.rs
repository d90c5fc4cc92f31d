//! Helpers of the end-to-end suites: a fresh store of either kind, and a whole shop (the
//! HTTP server on a free port, wired to a running WeChat simulator).
//!
//! DynamoDB cases need `DYNAMODB_ENDPOINT` (scripts/test.sh starts DynamoDB Local and sets
//! it); without it they fail with that message rather than skip.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use app::App;
use hosting::Service;
use hosting::config::{Settings, StoreKind};
use serde_json::Value;
use store::{SharedStore, dynamo::DynamoStore, embedded::EmbeddedStore};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Embedded,
    Dynamo,
    Mysql,
}

pub fn dynamodb_endpoint() -> String {
    std::env::var("DYNAMODB_ENDPOINT").unwrap_or_else(|_| {
        panic!("DYNAMODB_ENDPOINT is not set: run the suites with scripts/test.sh, which starts DynamoDB Local")
    })
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

/// The MySQL (MariaDB) server the suites use, without a database: scripts/test.sh starts one.
pub fn mysql_test_url() -> String {
    std::env::var("MYSQL_TEST_URL").unwrap_or_else(|_| {
        panic!("MYSQL_TEST_URL is not set: run the suites with scripts/test.sh, which starts MariaDB")
    })
}

/// The settings of a new database of its own on the test server (the store makes it).
pub fn mysql_settings() -> store::MySqlSettings {
    store::MySqlSettings {
        url: Some(format!("{}/t_{}", mysql_test_url(), uuid::Uuid::new_v4().simple())),
        max_connections: 10,
        ..Default::default()
    }
}

/// A new MySQL database with the shop's schema.
pub async fn mysql_store(settings: &store::MySqlSettings) -> SharedStore {
    Arc::new(store::mysql::MySqlStore::connect(settings).await.expect("the test MySQL server takes a new database"))
}

/// DynamoDB Local and moto accept any credentials; set them so the AWS SDK finds some.
pub fn local_aws_credentials() {
    // SAFETY: tests set the same constant values; no thread reads them differently.
    #[allow(unsafe_code)]
    unsafe {
        std::env::set_var("AWS_ACCESS_KEY_ID", "local");
        std::env::set_var("AWS_SECRET_ACCESS_KEY", "local");
        std::env::set_var("AWS_REGION", "ap-east-1");
    }
}

/// The local AWS Secrets Manager (moto) scripts/test.sh starts.
pub fn secrets_endpoint() -> String {
    std::env::var("SECRETS_ENDPOINT").unwrap_or_else(|_| {
        panic!("SECRETS_ENDPOINT is not set: run the suites with scripts/test.sh, which starts moto")
    })
}

/// A store of its own for one test: a new SQLite file, or a new DynamoDB Local table.
pub async fn store(backend: Backend) -> SharedStore {
    match backend {
        Backend::Embedded => {
            let path = std::env::temp_dir().join("shop-tests").join(format!("{}.db", unique("t")));
            Arc::new(EmbeddedStore::open(&path).expect("temp store opens"))
        }
        Backend::Dynamo => dynamo_store(&unique("t")).await,
        Backend::Mysql => mysql_store(&mysql_settings()).await,
    }
}

/// A new DynamoDB Local table named `table`.
pub async fn dynamo_store(table: &str) -> SharedStore {
    local_aws_credentials();
    let s = DynamoStore::connect(table, Some(&dynamodb_endpoint())).await;
    s.create_table().await.expect("DynamoDB Local creates the test table");
    Arc::new(s)
}

pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789";

/// The message push token of test shops (the console's 令牌).
pub const PUSH_TOKEN: &str = "shopPushToken2026";

pub fn settings(wechat_base: &str, trust_wx_context: bool) -> Settings {
    let base = wechat_base.to_owned();
    Settings::from_lookup(
        move |k| {
            Some(
                match k {
                    "WECHAT_APPID" => pay::APPID,
                    "WECHAT_APP_SECRET" => "sim-app-secret",
                    "SESSION_SECRET" => "test-session-secret-0123456789abcdef",
                    "ADMIN_TOKEN" => ADMIN_TOKEN,
                    "WECHAT_API_BASE" => base.as_str(),
                    "TRUST_WX_CONTEXT" if trust_wx_context => "1",
                    // What WeChat Cloud Hosting sets in the container (and [`Shop::cloud_hosting`]
                    // sends as X-WX-ENV).
                    "CBR_ENV_ID" if trust_wx_context => "prod-shop",
                    // A load run (the benchmarks) lifts the per-shopper limits this way.
                    "MAX_OPEN_ORDERS" | "MAX_HELD_UNITS" | "PLACE_ORDERS_PER_MINUTE" | "POINTS_GRANT_FINANCE_DAILY" => {
                        return std::env::var(k).ok();
                    }
                    _ => return None,
                }
                .to_owned(),
            )
        },
        hosting::Uses::STORE_ONLY.wechat().sessions().bootstrap(),
    )
    .expect("test settings are complete")
}

/// A running shop: every function on one local port, a simulator behind it.
pub struct Shop {
    pub base: String,
    pub http: reqwest::Client,
    pub sim: simulator::Running,
    pub app: App,
    /// The application with the edge's settings, as the server serves it.
    pub service: Service,
    /// The settings it was built from.
    pub settings: Settings,
    /// The token of the finance account made with the bootstrap token at start, which
    /// [`Shop::admin`] calls with.
    pub finance_token: String,
    /// A viewer account's token, for following orders: a viewer reads an order's address
    /// masked, so following one writes no audit entry (reading it in full does).
    pub reader_token: String,
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
        Self::start_inner(backend, trust_wx_context, platform_key, |_| {}).await
    }

    /// A shop (with its outbox worker) whose settings `tune` changes first.
    pub async fn start_tuned(backend: Backend, tune: impl FnOnce(&mut Settings)) -> Shop {
        let shop = Self::start_inner(backend, false, None, tune).await;
        hosting::worker::spawn(shop.app.clone());
        shop
    }

    async fn start_inner(
        backend: Backend,
        trust_wx_context: bool,
        platform_key: Option<(String, String)>,
        tune: impl FnOnce(&mut Settings),
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
            Backend::Mysql => StoreKind::Mysql,
        };
        let mut pay_settings =
            pay::Rig::settings(&sim, key_pem, &format!("http://{addr}/pay/notify"), pay::Trust::PublicKey);
        if platform_key.is_some() {
            pay_settings.public_key = platform_key;
        }
        settings.pay = Some(pay_settings);
        settings.rules.order_ttl_secs = 120;
        // Images go to moto's S3 (beside its Secrets Manager), one bucket per shop.
        if let Ok(endpoint) = std::env::var("SECRETS_ENDPOINT") {
            let bucket = unique("media");
            settings.media = Some(store::objects::ObjectSettings {
                public_base: format!("{endpoint}/{bucket}"),
                bucket,
                endpoint: Some(endpoint),
                region: Some("us-east-1".into()),
                path_style: true,
                credentials: Some(("local".into(), "local".into())),
            });
        }
        settings.push =
            Some(wechat::push::PushSettings { token: PUSH_TOKEN.into(), aes_key: None, appid: pay::APPID.into() });
        // The suites call faster than any shopper; the allowance has its own test.
        settings.client_rate = 1_000_000.0;
        tune(&mut settings);
        // The table is named in the settings, so function binaries started beside this shop
        // (the runtime tests) can be pointed at it.
        let store = match backend {
            Backend::Embedded => store(backend).await,
            Backend::Dynamo => {
                settings.store.table = unique("t");
                settings.store.endpoint = Some(dynamodb_endpoint());
                dynamo_store(&settings.store.table).await
            }
            Backend::Mysql => {
                let m = mysql_settings();
                settings.store.mysql = Some(m.clone());
                mysql_store(&m).await
            }
        };
        let service = settings.service(store).expect("app builds");
        let kept = settings.clone();
        let app = service.app.clone();
        let server =
            tokio::spawn(hosting::server::serve_listener(listener, service.clone(), hosting::routes::ALL.to_vec()));
        let mut shop = Shop {
            base: format!("http://{addr}"),
            http: reqwest::Client::new(),
            sim,
            app,
            service,
            settings: kept,
            finance_token: String::new(),
            reader_token: String::new(),
            server,
        };
        let first = shop
            .call(
                "POST",
                "/admin/operators",
                Some(ADMIN_TOKEN),
                Some(serde_json::json!({"id": "finance", "name": "财务", "role": "finance"})),
            )
            .await;
        assert_eq!(first.status, 201, "the bootstrap token makes the first account: {}", first.body);
        shop.finance_token = first.body["token"].as_str().expect("token").to_owned();
        shop.bind(&shop.finance_token.clone(), "finance").await;
        let reader = shop
            .admin(
                "POST",
                "/admin/operators",
                Some(serde_json::json!({"id": "reader", "name": "reader", "role": "viewer"})),
            )
            .await;
        assert_eq!(reader.status, 201, "{}", reader.body);
        shop.reader_token = reader.body["token"].as_str().expect("token").to_owned();
        // Suites that predate freight price without it; the fulfilment suite sets its own.
        let free = shop.admin("PUT", "/admin/freight", Some(serde_json::json!({"base_fen": 0}))).await;
        assert_eq!(free.status, 200, "{}", free.body);
        shop
    }

    /// A new operator account with `role` (made by the finance account; a second finance
    /// account approved with the bootstrap token), bound to a WeChat identity of its own; its
    /// token.
    pub async fn operator(&self, id: &str, role: &str) -> String {
        let a = self
            .call(
                "POST",
                "/admin/operators",
                Some(&self.finance_token),
                Some(serde_json::json!({"id": id, "name": id, "role": role})),
            )
            .await;
        assert_eq!(a.status, 201, "operator {id}: {}", a.body);
        let token = a.body["token"].as_str().expect("token").to_owned();
        if role == "finance" {
            let ok = self.call("POST", &format!("/admin/operators/{id}/approve"), Some(ADMIN_TOKEN), None).await;
            assert_eq!(ok.status, 200, "approving finance {id}: {}", ok.body);
        }
        self.bind(&token, id).await;
        token
    }

    /// Makes the shop's bucket (public reads stand in for the CDN) and points the simulator's
    /// message push at the shop, as a merchant does in WeChat's console (which checks the URL).
    pub async fn media_ready(&self) {
        let objects =
            self.app.objects.as_deref().expect("media tests need SECRETS_ENDPOINT (moto): run scripts/test.sh");
        objects.create_bucket_if_missing().await.expect("moto makes the bucket");
        objects.allow_public_reads().await.expect("moto takes the bucket policy");
        self.push_config(None).await;
    }

    /// Sets the simulator's message push to this shop, in safe mode with `aes_key`.
    pub async fn push_config(&self, aes_key: Option<&str>) {
        let body =
            serde_json::json!({ "url": format!("{}/wechat/push", self.base), "token": PUSH_TOKEN, "aes_key": aes_key });
        let r =
            self.http.post(format!("{}/sim/push-config", self.sim.base_url())).json(&body).send().await.expect("sim");
        assert!(r.status().is_success(), "the console's URL check: {}", r.text().await.unwrap_or_default());
    }

    /// Binds the operator `token` to the WeChat identity of the simulator's user `person`.
    pub async fn bind(&self, token: &str, person: &str) {
        let code = format!("op-{person}.{}", uuid::Uuid::new_v4().simple());
        let b = self.call("POST", "/admin/me/identity", Some(token), Some(serde_json::json!({"code": code}))).await;
        assert_eq!((b.status, b.body["bound"].clone()), (200, serde_json::json!(true)), "binding {person}: {}", b.body);
    }

    /// A call as the shopper `openid`, through WeChat Cloud Hosting's identity header (the
    /// shop must be started trusting it).
    pub async fn call_as(&self, openid: &str, method: &str, path: &str, body: Option<Value>) -> Answer {
        self.send(method, path, &Self::cloud_hosting(openid), body).await
    }

    /// The headers WeChat Cloud Hosting puts on a `wx.cloud.callContainer` request.
    pub fn cloud_hosting(openid: &str) -> Vec<(&'static str, String)> {
        vec![
            ("X-WX-OPENID", openid.to_owned()),
            ("X-WX-APPID", pay::APPID.to_owned()),
            ("X-WX-SOURCE", "callContainer".to_owned()),
            ("X-WX-ENV", "prod-shop".to_owned()),
        ]
    }

    pub async fn call(&self, method: &str, path: &str, token: Option<&str>, body: Option<Value>) -> Answer {
        let auth = token.map(|t| format!("Bearer {t}")).unwrap_or_default();
        self.send(method, path, &[("Authorization", auth)], body).await
    }

    pub async fn send(&self, method: &str, path: &str, headers: &[(&str, String)], body: Option<Value>) -> Answer {
        let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self.http.request(m, format!("{}{path}", self.base));
        for (name, value) in headers.iter().filter(|(_, v)| !v.is_empty()) {
            req = req.header(*name, value);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("shop answers");
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await.expect("body");
        let body = if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes).expect("JSON body") };
        answers::check(method, path, status, &body);
        Answer { status, body }
    }

    /// A call as the finance operator made at start.
    pub async fn admin(&self, method: &str, path: &str, body: Option<Value>) -> Answer {
        self.call(method, path, Some(&self.finance_token), body).await
    }

    /// Logs `user` in with a fresh code and returns the session token. A shopper logging in
    /// for the first time gets a default delivery address, so orders can be placed.
    pub async fn login(&self, user: &str) -> String {
        let code = format!("{user}.{}", uuid::Uuid::new_v4().simple());
        let a = self.call("POST", "/login", None, Some(serde_json::json!({ "code": code }))).await;
        assert_eq!(a.status, 200, "login of {user}: {}", a.body);
        let token = a.body["token"].as_str().expect("token").to_owned();
        if a.body["new_user"] == serde_json::json!(true) {
            let book = self.call("POST", "/me/addresses", Some(&token), Some(Self::address("上海市"))).await;
            assert_eq!(book.status, 201, "address of {user}: {}", book.body);
        }
        token
    }

    /// A delivery address in `province`, as the address book takes it.
    pub fn address(province: &str) -> Value {
        serde_json::json!({"address": {"name": "测试用户", "phone": "13800138000", "province": province,
            "city": "市辖区", "district": "黄浦区", "detail": "南京东路1号"}})
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
        mod mysql {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() { super::$name($crate::Backend::Mysql).await }
            )*
        }
    };
}

/// WeChat Pay test rig: a simulator with a merchant, a notify receiver that verifies with
/// the shop's own client, and that client.
pub mod answers;
pub mod binary;
pub mod counting;
pub mod docs;
pub mod pay;
pub mod runtimes;

/// Shop helpers for the order, payment and refund suites.
pub mod shop;

/// A typed id (an openid, an order number, a SKU, …) from text a test holds; panics on one
/// that is not valid, which is the test's mistake.
pub fn id<T: TryFrom<String, Error = domain::DomainError>>(s: &str) -> T {
    match T::try_from(s.to_owned()) {
        Ok(v) => v,
        Err(e) => panic!("test id {s}: {e}"),
    }
}
