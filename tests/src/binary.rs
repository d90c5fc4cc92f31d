//! The real `shop-local` binary started as a process for the benchmarks (pinned to a core,
//! configured by environment as a merchant would), a client for its HTTP API, and the
//! process figures read from `/proc`: CPU time, resident memory, threads.

use std::process::{Child, Command, Stdio};

use serde_json::Value;

pub const APPID: &str = "wx0000000000000001";
pub const MCHID: &str = "1900000001";
pub const APIV3: &str = "bench-apiv3-key-0123456789abcdef";
pub const KEY_ID: &str = "PUB_KEY_ID_0114232099752025112500000000000001";
pub const ADMIN: &str = "bench-admin-token-0123456789";

/// How to start the binary.
pub struct Flags {
    pub binary: String,
    pub store: String,
    pub cpu: String,
}

/// Seconds of CPU the process and all its threads used (utime + stime, in clock ticks of
/// 1/100 s, the Linux user-space ABI).
pub fn cpu_secs(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of the whole line: 11 and 12 after the name.
    (tick(11) + tick(12)) / 100.0
}

pub fn resident_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

pub struct Server {
    pub child: Child,
    pub base: String,
    /// The run's own folder (its SQLite store): removed with the server, also when the run
    /// fails (a panic unwinds through this drop).
    dir: std::path::PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub fn start(f: &Flags, platform_pem: &str, merchant_pem: &str) -> Server {
    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
    let dir = std::env::temp_dir().join(format!("notify-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let base = format!("http://127.0.0.1:{port}");
    let child = Command::new("taskset")
        .args(["-c", &f.cpu, &f.binary])
        .env("PORT", port.to_string())
        .env("STORE", &f.store)
        .env("STORE_PATH", dir.join("shop.db"))
        // A table of its own on a DynamoDB that earlier runs used.
        .env("TABLE_NAME", format!("bench{}_{port}", std::process::id()))
        .env("WECHAT_APPID", APPID)
        .env("WECHAT_APP_SECRET", "bench-app-secret")
        .env("WECHAT_API_BASE", "http://127.0.0.1:9")
        .env("SESSION_SECRET", "bench-session-secret-0123456789abcdef")
        .env("ADMIN_TOKEN", ADMIN)
        .env("TRUST_WX_CONTEXT", "1")
        .env("MAX_OPEN_ORDERS", "1000")
        .env("MAX_HELD_UNITS", "100000")
        .env("PLACE_ORDERS_PER_MINUTE", "100000")
        .env("WECHATPAY_API_BASE", "http://127.0.0.1:9")
        .env("WECHATPAY_MCHID", MCHID)
        .env("WECHATPAY_MCH_SERIAL", "5157F09EFDC096DE15EBE81A47057A7200000001")
        .env("WECHATPAY_MCH_KEY", merchant_pem)
        .env("WECHATPAY_APIV3_KEY", APIV3)
        .env("WECHATPAY_PUBLIC_KEY_ID", KEY_ID)
        .env("WECHATPAY_PUBLIC_KEY", platform_pem)
        .env("WECHATPAY_NOTIFY_URL", format!("{base}/pay/notify"))
        .env("RUST_LOG", std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the shop binary starts (build it: cargo build --profile server -p local)");
    Server { child, base, dir }
}

pub struct Client {
    pub http: reqwest::Client,
    pub base: String,
    pub token: String,
}

impl Client {
    pub async fn call(&self, method: &str, path: &str, openid: Option<&str>, body: Option<Value>) -> (u16, Value) {
        let mut r = self.http.request(method.parse().expect("method"), format!("{}{path}", self.base));
        r = match openid {
            Some(o) => r.header("x-wx-source", "bench").header("x-wx-appid", APPID).header("x-wx-openid", o),
            None => r.bearer_auth(&self.token),
        };
        if let Some(b) = body {
            r = r.json(&b);
        }
        let resp = r.send().await.expect("the shop answers");
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }
}

/// Threads of the process.
pub fn threads(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status.lines().find_map(|l| l.strip_prefix("Threads:")).and_then(|v| v.trim().parse().ok()).unwrap_or(0)
}

impl Client {
    /// Waits for the shop to answer, makes the operator account and sets freight to zero.
    pub async fn ready(&mut self) {
        let mut up = false;
        for _ in 0..400 {
            if self.http.get(format!("{}/products", self.base)).send().await.is_ok() {
                up = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert!(up, "the shop did not start");
        let body = serde_json::json!({"id": "bench", "name": "bench", "role": "finance"});
        let (s, b) = self.call("POST", "/admin/operators", None, Some(body)).await;
        assert_eq!(s, 201, "{b}");
        self.token = b["token"].as_str().expect("token").to_owned();
        assert_eq!(self.call("PUT", "/admin/freight", None, Some(serde_json::json!({"base_fen": 0}))).await.0, 200);
    }

    /// A published product of one SKU at 9.90 yuan with `units` in one warehouse; its SKU id.
    pub async fn product(&self, units: usize) -> String {
        use serde_json::json;
        let (_, p) =
            self.call("POST", "/admin/products", None, Some(json!({"title": "压测商品", "category": "bench"}))).await;
        let pid = p["id"].as_str().expect("product").to_owned();
        let body = json!({"name": "标准", "kind": "main", "price_fen": 990});
        let (_, sku) = self.call("POST", &format!("/admin/products/{pid}/skus"), None, Some(body)).await;
        let sku = sku["id"].as_str().expect("sku").to_owned();
        let w = self.call("PUT", "/admin/warehouses/WH01", None, Some(json!({"name": "WH01", "region": "华东"}))).await;
        assert_eq!(w.0, 200, "{}", w.1);
        let adjust = json!({"sku_id": sku, "warehouse_id": "WH01", "delta": units});
        let (s, b) = self.call("POST", "/admin/stock/adjust", None, Some(adjust)).await;
        assert_eq!(s, 200, "{b}");
        assert_eq!(self.call("POST", &format!("/admin/products/{pid}/publish"), None, None).await.0, 200);
        sku
    }
}

/// A delivery address given with an order.
pub fn address() -> Value {
    serde_json::json!({"name": "测试用户", "phone": "13800138000", "province": "上海市", "city": "市辖区",
        "district": "黄浦区", "detail": "南京东路1号"})
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A bench run leaves nothing in the temporary directory, also when it fails midway.
    #[test]
    fn a_server_takes_its_folder_with_it() {
        let dir = std::env::temp_dir().join(format!("notify-bench-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("shop.db"), b"rows").unwrap();
        let child = Command::new("sleep").arg("30").spawn().unwrap();
        let failed = std::panic::catch_unwind(move || {
            let _server = Server { child, base: String::new(), dir };
            panic!("the run failed");
        });
        assert!(failed.is_err());
        let dir = std::env::temp_dir().join(format!("notify-bench-test-{}", std::process::id()));
        assert!(!dir.exists(), "{} left behind", dir.display());
    }
}
