//! WeChat Pay's webhook end to end: signed, encrypted TRANSACTION.SUCCESS notifies over HTTP to
//! the real `shop-local` binary (pinned to one core by `scripts/bench.sh`), first deliveries
//! (each marks an order paid) and then the same notifies again (duplicates, answered 204 from
//! the payment record). Reports notifies per second of wall time and the server's CPU time per
//! notify, read from `/proc/<pid>/stat`, and appends a row per phase to `--out`.
//!
//! Flags (defaults in brackets): `--binary` [target/server/shop-local], `--orders` [2000],
//! `--concurrency` [16], `--store` embedded|dynamodb [embedded], `--cpu` (the core to pin the
//! server to) [0], `--duplicates` (times each notify is sent again) [1], `--out`
//! [notify-http-bench.md]. Many duplicate rounds give a profiler a steady stretch to sample:
//! `--orders 2000 --duplicates 50` runs about ten seconds of duplicates.

use std::sync::Arc;
use std::time::{Duration, Instant};

use e2e::binary::{self, ADMIN, APIV3, APPID, Client, KEY_ID, MCHID, cpu_secs, resident_kb};
use serde_json::json;
use wechat::pay::ApiV3Key;
use wechat::pay::keys::MerchantKey;
use wechat::pay::sign::response_message;

struct Flags {
    binary: String,
    orders: usize,
    concurrency: usize,
    store: String,
    cpu: String,
    duplicates: usize,
    out: String,
}

fn flags() -> Result<Flags, String> {
    let mut f = Flags {
        binary: "target/server/shop-local".into(),
        orders: 2_000,
        concurrency: 16,
        store: "embedded".into(),
        cpu: "0".into(),
        duplicates: 1,
        out: "notify-http-bench.md".into(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number = || value.parse::<usize>().map_err(|_| format!("{flag} takes a whole number, not {value}"));
        match flag.as_str() {
            "--binary" => f.binary = value,
            "--orders" => f.orders = number()?.max(1),
            "--concurrency" => f.concurrency = number()?.max(1),
            "--store" if value == "embedded" || value == "dynamodb" => f.store = value,
            "--cpu" => f.cpu = value,
            "--duplicates" => f.duplicates = number()?.max(1),
            "--out" => f.out = value,
            _ => return Err(format!("unknown flag or value: {flag} {value}")),
        }
    }
    Ok(f)
}

/// A signed, encrypted notify of `order_no` paid `total`, as WeChat Pay sends it.
fn notify(
    platform: &MerchantKey,
    key: &ApiV3Key,
    order_no: &str,
    total: i64,
    i: usize,
) -> (Vec<(String, String)>, String) {
    let tx = json!({
        "transaction_id": format!("42000023602026120{i:011}"), "out_trade_no": order_no, "mchid": MCHID, "appid": APPID,
        "trade_state": "SUCCESS", "trade_state_desc": "支付成功", "trade_type": "JSAPI", "bank_type": "OTHERS", "attach": "",
        "success_time": "2026-12-01T10:34:56+08:00", "payer": {"openid": "oBenchPayer000000000000000001"},
        "amount": {"total": total, "payer_total": total, "currency": "CNY", "payer_currency": "CNY"},
    });
    let nonce = format!("{i:012}");
    let body = json!({
        "id": format!("EV-{i:020}"), "create_time": "2026-12-01T10:34:56+08:00", "resource_type": "encrypt-resource",
        "event_type": "TRANSACTION.SUCCESS", "summary": "支付成功",
        "resource": {"original_type": "transaction", "algorithm": wechat::pay::notify::ALGORITHM, "associated_data": "transaction",
            "nonce": nonce, "ciphertext": key.encrypt(&nonce, "transaction", tx.to_string().as_bytes()).expect("encrypt")},
    })
    .to_string();
    let ts = domain::clock::now().to_string();
    let sig = platform.sign(&response_message(&ts, "BENCHNONCE", body.as_bytes())).expect("sign");
    let headers = vec![
        ("Wechatpay-Timestamp".to_owned(), ts),
        ("Wechatpay-Nonce".to_owned(), "BENCHNONCE".to_owned()),
        ("Wechatpay-Signature".to_owned(), sig),
        ("Wechatpay-Serial".to_owned(), KEY_ID.to_owned()),
        ("Wechatpay-Signature-Type".to_owned(), "WECHATPAY2-SHA256-RSA2048".to_owned()),
    ];
    (headers, body)
}

/// A notify's headers and body, as sent.
type Signed = (Vec<(String, String)>, String);

struct Phase {
    name: &'static str,
    n: usize,
    wall: f64,
    cpu: f64,
    ok: usize,
    rss_kb: u64,
}

async fn deliver(
    client: &Arc<Client>,
    pid: u32,
    notifies: &Arc<Vec<Signed>>,
    concurrency: usize,
    times: usize,
    name: &'static str,
) -> Phase {
    let n = notifies.len() * times;
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let (cpu0, t0) = (cpu_secs(pid), Instant::now());
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let (client, notifies, next) = (client.clone(), notifies.clone(), next.clone());
            tokio::spawn(async move {
                let mut ok = 0;
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if i >= n {
                        return ok;
                    }
                    let (headers, body) = &notifies[i % notifies.len()];
                    let mut r = client.http.post(format!("{}/pay/notify", client.base)).body(body.clone());
                    for (k, v) in headers {
                        r = r.header(k, v);
                    }
                    if r.send().await.is_ok_and(|a| a.status().as_u16() == 204) {
                        ok += 1;
                    }
                }
            })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        ok += t.await.expect("sender");
    }
    let wall = t0.elapsed().as_secs_f64();
    // Let the last answers' bookkeeping settle before reading the CPU figure.
    tokio::time::sleep(Duration::from_millis(50)).await;
    Phase { name, n, wall, cpu: cpu_secs(pid) - cpu0, ok, rss_kb: resident_kb(pid) }
}

#[tokio::main]
async fn main() {
    let f = match flags() {
        Ok(f) => f,
        Err(e) => {
            eprintln!("notify_http_bench: {e}");
            std::process::exit(2);
        }
    };
    let (platform, _) = MerchantKey::generate().expect("platform key");
    let (_, merchant_pem) = MerchantKey::generate().expect("merchant key");
    let how = binary::Flags { binary: f.binary.clone(), store: f.store.clone(), cpu: f.cpu.clone() };
    let server = binary::start(&how, &platform.public_key_pem().expect("pem"), &merchant_pem);
    let pid = server.child.id();
    let http = reqwest::Client::builder().pool_max_idle_per_host(f.concurrency).build().expect("client");
    let mut client = Client { http, base: server.base.clone(), token: ADMIN.into() };
    client.ready().await;
    let sku = client.product(f.orders).await;
    let address = binary::address();
    let key = ApiV3Key::new(APIV3).expect("key");
    let mut notifies = Vec::new();
    for i in 0..f.orders {
        let buyer = format!("oBenchBuyer{:05}xxxxxxxxxxxxx", i / 900);
        let body = json!({"request_id": format!("bench-order-{i:08}"), "items": [{"sku_id": sku, "quantity": 1}], "address": address});
        let (s, o) = client.call("POST", "/orders", Some(&buyer), Some(body)).await;
        assert_eq!(s, 201, "{o}");
        let no = o["order_no"].as_str().expect("order_no");
        notifies.push(notify(&platform, &key, no, o["payable"].as_i64().expect("payable"), i));
    }
    let client = Arc::new(client);
    let notifies = Arc::new(notifies);
    let rss_before = resident_kb(pid);
    let first = deliver(&client, pid, &notifies, f.concurrency, 1, "first delivery (marks the order paid)").await;
    let again = deliver(&client, pid, &notifies, f.concurrency, f.duplicates, "duplicate (already recorded)").await;
    let header = "| store | phase | notifies | answered 204 | concurrency | notifies/s | server CPU per notify | server RSS |\n|---|---|---|---|---|---|---|---|\n";
    let mut md = match std::fs::read_to_string(&f.out) {
        Ok(s) if s.starts_with(header) => s,
        _ => header.to_owned(),
    };
    eprintln!("server resident before the notifies: {} kB", rss_before);
    for p in [&first, &again] {
        let row = format!(
            "| {} | {} | {} | {} | {} | {:.0} | {:.1} µs | {:.1} MB |\n",
            f.store,
            p.name,
            p.n,
            p.ok,
            f.concurrency,
            p.n as f64 / p.wall,
            p.cpu * 1e6 / p.n as f64,
            p.rss_kb as f64 / 1024.0
        );
        eprint!("{row}");
        md.push_str(&row);
    }
    std::fs::write(&f.out, md).expect("results file");
    assert!(first.ok == first.n && again.ok == again.n, "every notify is answered 204");
}
