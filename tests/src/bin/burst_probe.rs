//! A stampede on the real `shop-local` binary: `--buyers` shoppers [1000] press "buy" at the
//! same moment on one SKU of `--units` [100], each over its own connection. Samples the
//! server's resident memory and threads every 5 ms during the burst, checks the stock equation
//! (exactly `units` orders, none oversold; every other answer OUT_OF_STOCK or OVERLOADED), and
//! appends a row to `--out`. `--store` embedded|dynamodb [embedded] (DynamoDB needs
//! `DYNAMODB_ENDPOINT`), `--cpu` [0], `--binary` [target/server/shop-local].

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use e2e::binary::{self, ADMIN, Client, resident_kb, threads};
use serde_json::json;
use wechat::pay::keys::MerchantKey;

#[tokio::main]
async fn main() {
    let mut how =
        binary::Flags { binary: "target/server/shop-local".into(), store: "embedded".into(), cpu: "0".into() };
    let (mut buyers, mut units, mut out) = (1_000usize, 100usize, "burst-probe.md".to_owned());
    let mut args = std::env::args().skip(1);
    while let (Some(flag), Some(value)) = (args.next(), args.next()) {
        let number = || value.parse::<usize>().unwrap_or_else(|_| panic!("{flag} takes a whole number"));
        match flag.as_str() {
            "--buyers" => buyers = number(),
            "--units" => units = number(),
            "--store" => how.store = value,
            "--cpu" => how.cpu = value,
            "--binary" => how.binary = value,
            "--out" => out = value,
            _ => panic!("unknown flag {flag}"),
        }
    }
    let (platform, _) = MerchantKey::generate().expect("key");
    let (_, merchant_pem) = MerchantKey::generate().expect("key");
    let server = binary::start(&how, &platform.public_key_pem().expect("pem"), &merchant_pem);
    let pid = server.child.id();
    let mut client = Client { http: reqwest::Client::new(), base: server.base.clone(), token: ADMIN.into() };
    client.ready().await;
    let sku = client.product(units).await;
    let (rss_idle, threads_idle) = (resident_kb(pid), threads(pid));
    // The sampler: peak memory and threads while the burst runs.
    let (peak_rss, peak_threads, running) =
        (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)), Arc::new(AtomicBool::new(true)));
    let sampler = {
        let (peak_rss, peak_threads, running) = (peak_rss.clone(), peak_threads.clone(), running.clone());
        tokio::spawn(async move {
            while running.load(Ordering::Relaxed) {
                peak_rss.fetch_max(resident_kb(pid), Ordering::Relaxed);
                peak_threads.fetch_max(threads(pid), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };
    let gate = Arc::new(tokio::sync::Barrier::new(buyers));
    let base = Arc::new(server.base.clone());
    let started = Instant::now();
    let tasks: Vec<_> = (0..buyers)
        .map(|b| {
            let (gate, base, sku) = (gate.clone(), base.clone(), sku.clone());
            tokio::spawn(async move {
                // One connection per shopper, as a thousand phones would open.
                let http = reqwest::Client::builder().pool_max_idle_per_host(0).build().expect("client");
                let body = json!({"request_id": format!("burst-{b:08}"), "items": [{"sku_id": sku, "quantity": 1}], "address": binary::address()});
                gate.wait().await;
                let r = http
                    .post(format!("{base}/orders"))
                    .header("x-wx-source", "bench")
                    .header("x-wx-appid", binary::APPID)
                    .header("x-wx-openid", format!("oBurst{b:06}xxxxxxxxxxxxxxxxxx"))
                    .json(&body)
                    .send()
                    .await;
                match r {
                    Ok(r) => {
                        let status = r.status().as_u16();
                        let v: serde_json::Value = r.json().await.unwrap_or_default();
                        (status, v["error"]["code"].as_str().unwrap_or("").to_owned())
                    }
                    Err(e) => {
                        // The whole chain: "error sending request" alone does not say why.
                        let mut why = e.to_string();
                        let mut source = std::error::Error::source(&e);
                        while let Some(s) = source {
                            why = format!("{why}: {s}");
                            source = s.source();
                        }
                        (0, why)
                    }
                }
            })
        })
        .collect();
    let mut answers = Vec::new();
    for t in tasks {
        answers.push(t.await.expect("buyer"));
    }
    let secs = started.elapsed().as_secs_f64();
    running.store(false, Ordering::Relaxed);
    let _ = sampler.await;
    let placed = answers.iter().filter(|a| a.0 == 201).count();
    let sold_out = answers.iter().filter(|a| a.1 == "OUT_OF_STOCK").count();
    let busy = answers.iter().filter(|a| a.1 == "OVERLOADED").count();
    let other: Vec<_> = answers.iter().filter(|a| a.0 != 201 && a.1 != "OUT_OF_STOCK" && a.1 != "OVERLOADED").collect();
    let (_, level) = client.call("GET", &format!("/admin/skus/{sku}/stock"), None, None).await;
    let left: i64 =
        level["stock"].as_array().map(|v| v.iter().filter_map(|l| l["available"].as_i64()).sum()).unwrap_or(-1);
    let header = "| store | buyers | units | placed | sold out | overloaded | other | seconds | RSS idle → peak | threads idle → peak | units left |\n|---|---|---|---|---|---|---|---|---|---|---|\n";
    let mut md = match std::fs::read_to_string(&out) {
        Ok(s) if s.starts_with(header) => s,
        _ => header.to_owned(),
    };
    let row = format!(
        "| {} | {buyers} | {units} | {placed} | {sold_out} | {busy} | {} | {secs:.2} | {:.1} → {:.1} MB | {threads_idle} → {} | {left} |\n",
        how.store,
        other.len(),
        rss_idle as f64 / 1024.0,
        peak_rss.load(Ordering::Relaxed) as f64 / 1024.0,
        peak_threads.load(Ordering::Relaxed),
    );
    eprint!("{row}");
    if let Some(o) = other.first() {
        eprintln!("first other answer: {o:?}");
    }
    md.push_str(&row);
    std::fs::write(&out, md).expect("results file");
    assert_eq!(placed as i64 + left, units as i64, "every unit that left stock belongs to an order");
    assert!(placed <= units, "oversold");
}
