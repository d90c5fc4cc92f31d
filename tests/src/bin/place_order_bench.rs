//! Place-order under contention: many shoppers at once on a few hot SKUs, through the HTTP
//! API, on the embedded store and on DynamoDB Local. Reports orders per second, p50/p99
//! latency and the oversell count (units sold beyond stock; must be 0), and writes them to
//! the file given as the first argument. Run by `scripts/bench.sh`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use e2e::shop::{product_with_stock, rid, stock};
use e2e::{Backend, Shop};
use serde_json::json;

const BUYERS: usize = 64;
const ATTEMPTS: usize = 1600;
const STOCK_PER_SKU: i64 = 300;
const SKUS: usize = 4;

struct Outcome {
    backend: &'static str,
    placed: usize,
    out_of_stock: usize,
    other: usize,
    secs: f64,
    p50: Duration,
    p99: Duration,
    oversold: i64,
}

async fn run(backend: Backend, name: &'static str) -> Outcome {
    // Contention is measured with a few shoppers placing many orders: lift the per-shopper
    // limits that would otherwise (rightly) refuse them.
    // SAFETY: set before any other thread reads the environment.
    #[allow(unsafe_code)]
    unsafe {
        for k in ["MAX_OPEN_ORDERS", "MAX_HELD_UNITS", "PLACE_ORDERS_PER_MINUTE"] {
            std::env::set_var(k, "100000");
        }
    }
    let shop = Arc::new(Shop::start_with(backend, true).await);
    let mut skus = Vec::new();
    for _ in 0..SKUS {
        skus.push(product_with_stock(&shop, 990, &[("SH01", STOCK_PER_SKU / 2), ("GZ01", STOCK_PER_SKU / 2)]).await.1);
    }
    let skus = Arc::new(skus);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let tasks: Vec<_> = (0..BUYERS)
        .map(|b| {
            let (shop, skus, next) = (shop.clone(), skus.clone(), next.clone());
            tokio::spawn(async move {
                let mut results = Vec::new();
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if i >= ATTEMPTS {
                        return results;
                    }
                    let sku = &skus[i % skus.len()];
                    let t = Instant::now();
                    let a = shop
                        .call_as(
                            &format!("oBench{b:03}xxxxxxxxxxxxxxxxxxxxxx"),
                            "POST",
                            "/orders",
                            Some(json!({"request_id": rid(), "items": [{"sku_id": sku, "quantity": 1}]})),
                        )
                        .await;
                    results.push((t.elapsed(), a.status, a.code().to_owned()));
                }
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("buyer task"));
    }
    let secs = started.elapsed().as_secs_f64();
    let placed = all.iter().filter(|r| r.1 == 201).count();
    let out_of_stock = all.iter().filter(|r| r.2 == "OUT_OF_STOCK").count();
    let mut lat: Vec<Duration> = all.iter().filter(|r| r.1 == 201).map(|r| r.0).collect();
    lat.sort();
    let pct = |p: f64| {
        lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1))).copied().unwrap_or_default()
    };
    let mut left = 0;
    for s in skus.iter() {
        left += stock(&shop, s).await;
    }
    let initial = SKUS as i64 * STOCK_PER_SKU;
    // Units sold beyond stock, and units that left stock without an order (or came back
    // without one): both must be zero.
    let oversold = (placed as i64 - initial).max(0) + (-left).max(0);
    assert_eq!(initial - left, placed as i64, "every unit that left stock belongs to an order");
    Outcome {
        backend: name,
        placed,
        out_of_stock,
        other: all.len() - placed - out_of_stock,
        secs,
        p50: pct(0.5),
        p99: pct(0.99),
        oversold,
    }
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let out = std::env::args().nth(1).unwrap_or_else(|| "place-order-bench.md".into());
    let mut rows = Vec::new();
    for (b, name) in [(Backend::Embedded, "embedded (SQLite)"), (Backend::Dynamo, "DynamoDB Local")] {
        let o = run(b, name).await;
        eprintln!(
            "{}: {} placed, {} out of stock, {} other, {:.0} orders/s, p50 {:?}, p99 {:?}, oversold {}",
            o.backend,
            o.placed,
            o.out_of_stock,
            o.other,
            o.placed as f64 / o.secs,
            o.p50,
            o.p99,
            o.oversold
        );
        rows.push(o);
    }
    let mut md = String::from(
        "| store | attempts | placed | out of stock | other | orders/s | p50 | p99 | oversold |\n|---|---|---|---|---|---|---|---|---|\n",
    );
    for o in &rows {
        md.push_str(&format!(
            "| {} | {ATTEMPTS} | {} | {} | {} | {:.0} | {:.1} ms | {:.1} ms | {} |\n",
            o.backend,
            o.placed,
            o.out_of_stock,
            o.other,
            o.placed as f64 / o.secs,
            o.p50.as_secs_f64() * 1000.0,
            o.p99.as_secs_f64() * 1000.0,
            o.oversold
        ));
    }
    std::fs::write(&out, md).expect("results file");
    assert!(rows.iter().all(|o| o.oversold == 0), "oversold");
}
