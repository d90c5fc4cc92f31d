//! Cold start and warm latency of every function binary, in both hosting modes:
//!
//! - Lambda: the binary under the local Runtime API stand-in (`e2e::runtimes`), the first
//!   event already waiting, as Lambda starts a function for a request;
//! - HTTP server: the binary on a free port, the first request sent until it connects.
//!
//! For each: start → ready (first `next`, or the port answering), start → first answer,
//! then `--requests` [1000] answers one after another (p50, p99) and the resident memory
//! after them. Each function answers a request it serves: a shopper's read with a token
//! (`catalog`, `cart`, `orders`, …), or, where that needs an operator or WeChat (`admin`, the
//! scheduled functions, `pay-notify`), the refusal of an unsigned request, which still goes
//! through routing and authentication. On DynamoDB Local (`DYNAMODB_ENDPOINT`) with the
//! sample catalog; binaries from `--bin-dir` [target/release]; a table to `--out`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use e2e::binary::resident_kb;
use e2e::runtimes::{Platform, RuntimeApi, apigw_v2_event, spawn};

const SESSION_SECRET: &str = "bench-session-secret-0123456789abcdef";
const SAMPLE: &str = include_str!("../../../scripts/sample-catalog.json");

struct Probe {
    method: &'static str,
    path: &'static str,
    shopper: bool,
    body: Option<&'static str>,
}

fn probe(function: &str) -> Probe {
    let p = |method, path, shopper| Probe { method, path, shopper, body: None };
    match function {
        "login" => p("GET", "/me/addresses", true),
        "catalog" => p("GET", "/products", false),
        "admin" => p("GET", "/admin/products", false),
        "cart" => p("GET", "/cart", true),
        "orders" => p("GET", "/orders", true),
        "refund" => p("GET", "/orders/20990101000000000001/refunds", true),
        "pay-notify" => Probe { method: "POST", path: "/pay/notify", shopper: false, body: Some(r#"{"id":"x"}"#) },
        "coupon-claim" => p("GET", "/me/coupons", true),
        "members" => p("GET", "/me/member", true),
        "close-unpaid" => p("POST", "/admin/jobs/close-unpaid", false),
        "outbox" => p("POST", "/admin/jobs/outbox", false),
        "members-daily" => p("POST", "/admin/jobs/members-daily", false),
        "reconciliation" => p("GET", "/admin/reconciliation/2026-11-30", false),
        other => panic!("no probe for {other}"),
    }
}

struct Row {
    function: String,
    mode: &'static str,
    ready_ms: f64,
    first_ms: f64,
    p50_us: u128,
    p99_us: u128,
    rss_mb: f64,
    status: u16,
}

fn env_for(table: &str) -> Vec<(String, String)> {
    let (key, public) = e2e::pay::merchant_key();
    let endpoint = e2e::dynamodb_endpoint();
    [
        ("STORE", "dynamodb"),
        ("TABLE_NAME", table),
        ("DYNAMODB_ENDPOINT", endpoint.as_str()),
        ("AWS_ACCESS_KEY_ID", "local"),
        ("AWS_SECRET_ACCESS_KEY", "local"),
        ("AWS_REGION", "ap-east-1"),
        ("WECHAT_APPID", e2e::pay::APPID),
        ("WECHAT_APP_SECRET", "bench-app-secret"),
        ("WECHAT_API_BASE", "http://127.0.0.1:9"),
        ("SESSION_SECRET", SESSION_SECRET),
        ("ADMIN_TOKEN", "bench-admin-token-0123456789"),
        ("WECHATPAY_API_BASE", "http://127.0.0.1:9"),
        ("WECHATPAY_MCHID", e2e::pay::MCHID),
        ("WECHATPAY_MCH_SERIAL", e2e::pay::SERIAL),
        ("WECHATPAY_MCH_KEY", key.as_str()),
        ("WECHATPAY_APIV3_KEY", e2e::pay::APIV3_KEY),
        ("WECHATPAY_PUBLIC_KEY_ID", "PUB_KEY_ID_0114232099752025112500000000000001"),
        ("WECHATPAY_PUBLIC_KEY", public.as_str()),
        ("WECHATPAY_NOTIFY_URL", "https://shop.example.com/pay/notify"),
        ("RUST_LOG", "warn"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

fn percentile(sorted: &[Duration], p: f64) -> u128 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).map(|d| d.as_micros()).unwrap_or(0)
}

async fn lambda(bin: &Path, name: &str, env: &[(String, String)], token: &str, n: usize) -> Row {
    let pr = probe(name);
    let auth = format!("Bearer {token}");
    let headers: Vec<(&str, &str)> = if pr.shopper { vec![("authorization", auth.as_str())] } else { vec![] };
    let event = apigw_v2_event(pr.method, pr.path, "", &headers, pr.body);
    let api = RuntimeApi::start(Platform::Lambda).await;
    let mut env = env.to_vec();
    env.extend(api.env(name));
    let started = Instant::now();
    let process = spawn(bin, &env);
    // Lambda starts the function for a waiting request: the event is there at once.
    let first = api.invoke(event.clone(), Duration::from_secs(30)).await.answer();
    let first_ms = started.elapsed().as_secs_f64() * 1e3;
    let ready_ms = api.first_next().map(|t| (t - started).as_secs_f64() * 1e3).unwrap_or(f64::NAN);
    let mut lat = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        let a = api.invoke(event.clone(), Duration::from_secs(30)).await.answer();
        lat.push(t.elapsed());
        assert_eq!(a["statusCode"], first["statusCode"], "{name}: {a}");
    }
    lat.sort();
    let rss_mb = resident_kb(process.0.id()) as f64 / 1024.0;
    Row {
        function: name.into(),
        mode: "Lambda",
        ready_ms,
        first_ms,
        p50_us: percentile(&lat, 0.5),
        p99_us: percentile(&lat, 0.99),
        rss_mb,
        status: first["statusCode"].as_u64().unwrap_or(0) as u16,
    }
}

async fn http(bin: &Path, name: &str, env: &[(String, String)], token: &str, n: usize) -> Row {
    let pr = probe(name);
    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
    let mut env = env.to_vec();
    env.push(("PORT".into(), port.to_string()));
    let url = format!("http://127.0.0.1:{port}{}", pr.path);
    let client = reqwest::Client::builder().no_proxy().build().expect("client");
    let send = || {
        let mut r = client.request(pr.method.parse().expect("method"), &url);
        if pr.shopper {
            r = r.bearer_auth(token);
        }
        if let Some(b) = pr.body {
            r = r.header("content-type", "application/json").body(b);
        }
        r.send()
    };
    let started = Instant::now();
    let process = spawn(bin, &env);
    let status = loop {
        match send().await {
            Ok(r) => break r.status().as_u16(),
            Err(_) if started.elapsed() < Duration::from_secs(30) => {
                tokio::time::sleep(Duration::from_micros(200)).await
            }
            Err(e) => panic!("{name} never answered: {e}"),
        }
    };
    let first_ms = started.elapsed().as_secs_f64() * 1e3;
    let mut lat = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        let r = send().await.expect("answer");
        let s = r.status().as_u16();
        let _ = r.bytes().await;
        lat.push(t.elapsed());
        assert_eq!(s, status, "{name}");
    }
    lat.sort();
    let rss_mb = resident_kb(process.0.id()) as f64 / 1024.0;
    Row {
        function: name.into(),
        mode: "HTTP",
        ready_ms: first_ms,
        first_ms,
        p50_us: percentile(&lat, 0.5),
        p99_us: percentile(&lat, 0.99),
        rss_mb,
        status,
    }
}

#[tokio::main]
async fn main() {
    let (mut dir, mut n, mut out) = ("target/release".to_owned(), 1_000usize, "cold-start.md".to_owned());
    let mut args = std::env::args().skip(1);
    while let (Some(flag), Some(value)) = (args.next(), args.next()) {
        match flag.as_str() {
            "--bin-dir" => dir = value,
            "--requests" => n = value.parse().expect("--requests takes a number"),
            "--out" => out = value,
            _ => panic!("unknown flag {flag}"),
        }
    }
    let table = format!("coldstart{}", std::process::id());
    let store = e2e::dynamo_store(&table).await;
    let app = e2e::settings("http://127.0.0.1:9", false).app(store).expect("the application builds");
    hosting::sample::load_if_empty(&app, SAMPLE).await.expect("the sample catalog loads");
    let now = domain::clock::now();
    let (token, _) =
        hosting::session::issue(SESSION_SECRET.as_bytes(), &e2e::id("oBenchShopper000000000000001"), now, 3600);
    let env = env_for(&table);
    let mut rows = Vec::new();
    for f in hosting::routes::FUNCTIONS {
        let bin = PathBuf::from(&dir).join(f.name);
        let size_mb = std::fs::metadata(&bin).map(|m| m.len() as f64 / 1_048_576.0).unwrap_or(f64::NAN);
        for row in [lambda(&bin, f.name, &env, &token, n).await, http(&bin, f.name, &env, &token, n).await] {
            eprintln!(
                "{:<15} {:<6} ready {:>6.1} ms  first {:>6.1} ms  p50 {:>5} µs  p99 {:>6} µs  rss {:>5.1} MB  ({})",
                row.function, row.mode, row.ready_ms, row.first_ms, row.p50_us, row.p99_us, row.rss_mb, row.status
            );
            rows.push((row, size_mb));
        }
    }
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let mut md = format!(
        "| function | host | size MB | start → ready ms | start → first answer ms | warm p50 µs | warm p99 µs | RSS after {n} MB | answer |\n|---|---|---|---|---|---|---|---|---|\n"
    );
    for (r, size) in &rows {
        md += &format!(
            "| {} | {} | {:.1} | {:.1} | {:.1} | {} | {} | {:.1} | {} |\n",
            r.function, r.mode, size, r.ready_ms, r.first_ms, r.p50_us, r.p99_us, r.rss_mb, r.status
        );
    }
    let header = format!(
        "\n## {} · {cores} cores · binaries from {dir} · DynamoDB Local\n\n",
        domain::clock::shanghai(domain::clock::now()).date()
    );
    let mut file = std::fs::OpenOptions::new().create(true).append(true).open(&out).expect("out file");
    std::io::Write::write_all(&mut file, (header + &md).as_bytes()).expect("write");
}
