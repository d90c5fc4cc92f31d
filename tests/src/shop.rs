//! Shop helpers for the order, payment and refund suites.

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
    let w = shop.admin("PUT", &format!("/admin/warehouses/{id}"), Some(json!({"name": id, "region": "华东"}))).await;
    assert_eq!(w.status, 200, "{}", w.body);
}

pub async fn add_sku(shop: &Shop, pid: &str, body: Value) -> String {
    let s = shop.admin("POST", &format!("/admin/products/{pid}/skus"), Some(body)).await;
    assert_eq!(s.status, 201, "{}", s.body);
    s.body["id"].as_str().unwrap().to_owned()
}

pub async fn adjust(shop: &Shop, sku: &str, wh: &str, delta: i64) {
    adjust_shard(shop, sku, wh, 0, delta).await;
}

/// Adjusts one shard of a SKU's stock in a warehouse.
pub async fn adjust_shard(shop: &Shop, sku: &str, wh: &str, shard: usize, delta: i64) {
    let body = json!({"sku_id": sku, "warehouse_id": wh, "shard": shard, "delta": delta});
    let a = shop.admin("POST", "/admin/stock/adjust", Some(body)).await;
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
    shop.call("GET", &format!("/admin/orders/{no}"), Some(&shop.reader_token), None).await.body
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

/// Waits until the simulator's delivery log holds `n` notifies for `key` (an order number,
/// or a refund number) that `check` accepts, and returns them. What a test asserts after this
/// is what WeChat Pay's deliveries did, not what a pause happened to allow.
pub async fn wait_deliveries(
    shop: &Shop,
    key: &str,
    n: usize,
    check: impl Fn(&simulator::pay::Delivery) -> bool,
) -> Vec<simulator::pay::Delivery> {
    let mut seen = Vec::new();
    for _ in 0..500 {
        seen = shop.sim.sim.deliveries().into_iter().filter(|d| d.key == key && check(d)).collect();
        if seen.len() >= n {
            return seen;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{key}: {} of {n} deliveries: {seen:?}", seen.len());
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

/// Signs an upload, then PUTs `bytes` to it over HTTP as an operator's browser would; the key.
pub async fn upload_image(shop: &Shop, content_type: &str, bytes: &[u8]) -> String {
    let body = json!({"purpose": "product", "content_type": content_type, "size": bytes.len()});
    let a = shop.admin("POST", "/admin/uploads", Some(body)).await;
    assert_eq!(a.status, 201, "{}", a.body);
    put_upload(shop, &a.body, bytes).await
}

/// Signs a review's image upload for the shopper `token`, then PUTs `bytes` to it; the key.
pub async fn upload_review_image(shop: &Shop, token: &str, content_type: &str, bytes: &[u8]) -> String {
    let body = json!({"content_type": content_type, "size": bytes.len()});
    let a = shop.call("POST", "/me/uploads", Some(token), Some(body)).await;
    assert_eq!(a.status, 201, "{}", a.body);
    put_upload(shop, &a.body, bytes).await
}

async fn put_upload(shop: &Shop, u: &Value, bytes: &[u8]) -> String {
    assert_eq!(u["method"], json!("PUT"));
    let mut put = shop.http.put(u["url"].as_str().unwrap()).body(bytes.to_vec());
    for (k, v) in u["headers"].as_object().unwrap() {
        put = put.header(k.as_str(), v.as_str().unwrap());
    }
    let r = put.send().await.unwrap();
    assert!(r.status().is_success(), "the upload: {}", r.text().await.unwrap());
    u["key"].as_str().unwrap().to_owned()
}

/// The product as operators see it, once WeChat's verdicts on its images are all in.
pub async fn media_settled(shop: &Shop, pid: &str) -> Value {
    for _ in 0..200 {
        let p = shop.admin("GET", &format!("/admin/products/{pid}"), None).await.body;
        let checks = p["checks"].as_object().cloned().unwrap_or_default();
        if checks.values().all(|c| c["state"] != json!("pending")) {
            return p;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("WeChat's verdicts did not arrive");
}

/// Asks `GET path` (no session) until `done` holds of the answer, for what shows within
/// seconds rather than at once (search, which the outbox feeds); the last answer.
pub async fn until(shop: &Shop, path: &str, done: impl Fn(&Value) -> bool) -> Value {
    let mut last = Value::Null;
    for _ in 0..200 {
        let a = shop.call("GET", path, None, None).await;
        assert_eq!(a.status, 200, "{path}: {}", a.body);
        if done(&a.body) {
            return a.body;
        }
        last = a.body;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{path} did not come to what was awaited: {last}");
}

/// Waits until order `no` shows in `phase` on the index the scheduled jobs read: DynamoDB
/// updates `gsi1` a moment after the write, so a job run at once may not see the order yet.
pub async fn indexed_in_phase(shop: &Shop, phase: domain::order::Phase, no: &str) {
    for _ in 0..200 {
        let (due, _) =
            store::repo::orders::in_phase(shop.app.store.as_ref(), phase, 1_000, None).await.unwrap_or_default();
        if due.iter().any(|(n, _)| n.as_str() == no) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("order {no} never showed in {phase:?} on the index");
}
