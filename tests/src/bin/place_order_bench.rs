//! Place-order under contention: many shoppers at once on a few hot SKUs, through the HTTP
//! API, on the embedded store and on DynamoDB Local. Reports orders per second, p50/p99
//! latency and the stock equation (units that left stock = units ordered; oversold must be
//! 0), and appends a row to the file `--out` names. Run by `scripts/bench.sh`.
//!
//! Flags (defaults in brackets): `--buyers` [64], `--attempts` [1600], `--skus` [4],
//! `--units` per SKU [300], `--warehouses` [2] (the units split over them), `--shards` [1]
//! (each warehouse's units split over that many stock items of the SKU), `--store`
//! embedded|dynamodb|both [both], `--members` (every order of one unit pays 100 points and
//! gets a 5% member price), `--out` [place-order-bench.md].
//! "1,000 buyers on 100 units of one SKU" is
//! `place_order_bench --buyers 1000 --attempts 1000 --skus 1 --units 100 --warehouses 1`.
//! The same SKU's stock spread over 8 items, as a merchant does for a flash sale past one
//! DynamoDB partition's write rate: `--skus 1 --units 800 --warehouses 1 --shards 8`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use e2e::shop::{adjust_shard, product_with_stock, rid, stock, warehouse};
use e2e::{Backend, Shop};
use serde_json::json;

#[derive(Clone, Debug)]
struct Flags {
    buyers: usize,
    attempts: usize,
    skus: usize,
    units: i64,
    warehouses: usize,
    shards: usize,
    stores: Vec<Backend>,
    members: bool,
    out: String,
}

fn flags() -> Result<Flags, String> {
    let mut f = Flags {
        buyers: 64,
        attempts: 1600,
        skus: 4,
        units: 300,
        warehouses: 2,
        shards: 1,
        stores: vec![Backend::Embedded, Backend::Dynamo],
        members: false,
        out: "place-order-bench.md".into(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "--members" {
            f.members = true;
            continue;
        }
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number = || value.parse::<usize>().map_err(|_| format!("{flag} takes a whole number, not {value}"));
        match flag.as_str() {
            "--buyers" => f.buyers = number()?.max(1),
            "--attempts" => f.attempts = number()?,
            "--skus" => f.skus = number()?.max(1),
            "--units" => f.units = number()? as i64,
            "--warehouses" => f.warehouses = number()?.clamp(1, 8),
            "--shards" => f.shards = number()?.clamp(1, 64),
            "--store" => {
                f.stores = match value.as_str() {
                    "embedded" => vec![Backend::Embedded],
                    "dynamodb" => vec![Backend::Dynamo],
                    "mysql" => vec![Backend::Mysql],
                    "both" => vec![Backend::Embedded, Backend::Dynamo],
                    "all" => vec![Backend::Embedded, Backend::Dynamo, Backend::Mysql],
                    _ => return Err(format!("--store is embedded, dynamodb, mysql, both or all, not {value}")),
                }
            }
            "--out" => f.out = value,
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    Ok(f)
}

struct Outcome {
    placed: usize,
    out_of_stock: usize,
    other: usize,
    secs: f64,
    p50: Duration,
    p99: Duration,
    left: i64,
    oversold: i64,
}

fn buyer(b: usize) -> String {
    format!("oBench{b:05}xxxxxxxxxxxxxxxxxxxx")
}

async fn run(backend: Backend, f: &Flags) -> Outcome {
    // Contention is measured with a few shoppers placing many orders: lift the per-shopper
    // limits that would otherwise (rightly) refuse them.
    // SAFETY: set before any other thread reads the environment.
    #[allow(unsafe_code)]
    unsafe {
        std::env::set_var("MAX_OPEN_ORDERS", "1000");
        // The members run grants every buyer the points its orders spend.
        std::env::set_var("POINTS_GRANT_FINANCE_DAILY", "100000000");
        for k in ["MAX_HELD_UNITS", "PLACE_ORDERS_PER_MINUTE"] {
            std::env::set_var(k, "100000");
        }
    }
    let shop = Arc::new(Shop::start_with(backend, true).await);
    let whs: Vec<String> = (0..f.warehouses).map(|i| format!("WH{i:02}")).collect();
    // The units split as evenly as they go over every (warehouse, shard) stock item.
    let places = f.warehouses * f.shards;
    let mut skus = Vec::new();
    for _ in 0..f.skus {
        let sku = product_with_stock(&shop, 990, &[]).await.1;
        for (i, w) in whs.iter().enumerate() {
            warehouse(&shop, w).await;
            for shard in 0..f.shards {
                let place = i * f.shards + shard;
                let n = f.units / places as i64 + i64::from(place < (f.units % places as i64) as usize);
                if n == 0 {
                    continue;
                }
                adjust_shard(&shop, &sku, w, shard, n).await;
            }
        }
        skus.push(sku);
    }
    // Every buyer has an address (and, for the members run, points and a member price).
    if f.members {
        let ladder = json!({"levels": [{"name": "普通", "min_growth": 0, "perks": {"member_discount_pct": 5}}]});
        assert_eq!(shop.admin("PUT", "/admin/members/levels", Some(ladder)).await.status, 200);
    }
    for b in 0..f.buyers {
        let a = shop.call_as(&buyer(b), "POST", "/me/addresses", Some(Shop::address("上海市"))).await;
        assert_eq!(a.status, 201, "{}", a.body);
        if f.members {
            let g = json!({"request_id": format!("bench-grant-{b:05}"), "points": 1_000_000, "reason": "bench"});
            let a = shop.admin("POST", &format!("/admin/members/{}/points", buyer(b)), Some(g)).await;
            assert_eq!(a.status, 200, "{}", a.body);
        }
    }
    let skus = Arc::new(skus);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let tasks: Vec<_> = (0..f.buyers)
        .map(|b| {
            let (shop, skus, next, f) = (shop.clone(), skus.clone(), next.clone(), f.clone());
            tokio::spawn(async move {
                let mut results = Vec::new();
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if i >= f.attempts {
                        return results;
                    }
                    let sku = &skus[i % skus.len()];
                    let mut body = json!({"request_id": rid(), "items": [{"sku_id": sku, "quantity": 1}]});
                    if f.members {
                        body["points"] = json!(100);
                    }
                    let t = Instant::now();
                    let a = shop.call_as(&buyer(b), "POST", "/orders", Some(body)).await;
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
    let initial = f.skus as i64 * f.units;
    let sold = placed as i64;
    // Units sold beyond stock, and units that left stock without an order (or came back
    // without one): both must be zero.
    let oversold = (sold - initial).max(0) + (-left).max(0);
    assert_eq!(initial - left, sold, "every unit that left stock belongs to an order");
    let other = all.len() - placed - out_of_stock;
    if let Some(r) = all.iter().find(|r| r.1 != 201 && r.2 != "OUT_OF_STOCK") {
        eprintln!("first other answer: {} {}", r.1, r.2);
    }
    Outcome { placed, out_of_stock, other, secs, p50: pct(0.5), p99: pct(0.99), left, oversold }
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let f = match flags() {
        Ok(f) => f,
        Err(e) => {
            eprintln!("place_order_bench: {e}");
            std::process::exit(2);
        }
    };
    let header = "| store | order | buyers | attempts | SKUs × units | stock items per SKU | placed | out of stock | other | orders/s | p50 | p99 | units left | oversold |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n";
    let mut md = match std::fs::read_to_string(&f.out) {
        Ok(s) if s.starts_with(header) => s,
        _ => header.to_owned(),
    };
    let mut bad = false;
    for b in f.stores.clone() {
        let name = match b {
            Backend::Embedded => "embedded (SQLite)",
            Backend::Dynamo => "DynamoDB Local",
            Backend::Mysql => "MariaDB 10.11",
        };
        let o = run(b, &f).await;
        let kind = if f.members { "100 points, member price" } else { "plain" };
        let row = format!(
            "| {name} | {kind} | {} | {} | {} × {} | {} | {} | {} | {} | {:.0} | {:.1} ms | {:.1} ms | {} | {} |\n",
            f.buyers,
            f.attempts,
            f.skus,
            f.units,
            f.warehouses * f.shards,
            o.placed,
            o.out_of_stock,
            o.other,
            o.placed as f64 / o.secs,
            o.p50.as_secs_f64() * 1000.0,
            o.p99.as_secs_f64() * 1000.0,
            o.left,
            o.oversold
        );
        eprint!("{row}");
        md.push_str(&row);
        bad |= o.oversold != 0;
    }
    std::fs::write(&f.out, md).expect("results file");
    assert!(!bad, "oversold");
}
