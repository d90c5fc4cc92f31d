//! Races on the money paths, on both stores: the same request from two phones, one coupon
//! in two orders, two operators on one refund, the closer against a cancel, edits that
//! cross. Each must resolve to exactly one outcome.

use std::sync::Arc;

use e2e::shop::*;
use e2e::{Backend, Shop, on_both_stores};
use serde_json::json;

async fn one_request_id_from_two_phones_is_one_order(b: Backend) {
    let shop = Arc::new(Shop::start(b).await);
    let (_, sku) = product_with_stock(&shop, 100, &[("SH01", 10)]).await;
    let token = shop.login("twophones").await;
    let body = json!({"request_id": "same-request-01", "items": [{"sku_id": sku, "quantity": 2}]});
    let tasks: Vec<_> = (0..6)
        .map(|_| {
            let (shop, token, body) = (shop.clone(), token.clone(), body.clone());
            tokio::spawn(async move { shop.call("POST", "/orders", Some(&token), Some(body)).await })
        })
        .collect();
    let mut numbers = std::collections::HashSet::new();
    for t in tasks {
        let a = t.await.unwrap();
        assert!(a.status == 200 || a.status == 201, "{}", a.body);
        numbers.insert(a.body["order_no"].as_str().unwrap().to_owned());
    }
    assert_eq!(numbers.len(), 1, "one order for one request id");
    assert_eq!(stock(&shop, &sku).await, 8, "reserved once");
}

async fn one_coupon_cannot_serve_two_orders(b: Backend) {
    let shop = Arc::new(Shop::start(b).await);
    let (_, sku) = product_with_stock(&shop, 1000, &[("SH01", 10)]).await;
    let t = coupon_template(&shop, "减", json!({"kind": "no_threshold", "amount_off": 300}), 5, 1).await;
    let token = shop.login("couponrace").await;
    let c = shop.call("POST", &format!("/coupons/{t}/claim"), Some(&token), None).await;
    let coupon = c.body["coupon_id"].as_str().unwrap().to_owned();
    let tasks: Vec<_> = (0..5)
        .map(|_| {
            let (shop, token, sku, coupon) = (shop.clone(), token.clone(), sku.clone(), coupon.clone());
            tokio::spawn(async move {
                let a = shop.call("POST", "/orders", Some(&token), Some(json!({"request_id": rid(), "items": [{"sku_id": sku, "quantity": 1}], "coupon_id": coupon}))).await;
                (a.status, a.code().to_owned())
            })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            (201, _) => ok += 1,
            (409, c) => assert_eq!(c, "COUPON_UNAVAILABLE"),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(ok, 1);
    assert_eq!(stock(&shop, &sku).await, 9, "refused orders reserved nothing");
}

async fn two_operators_approving_one_refund_refund_once(b: Backend) {
    let shop = Arc::new(Shop::start(b).await);
    let (_, sku) = product_with_stock(&shop, 1000, &[("SH01", 10)]).await;
    let token = shop.login("doubleapprove").await;
    let o = place(&shop, &token, json!([{"sku_id": sku, "quantity": 1}])).await;
    let no = o.body["order_no"].as_str().unwrap().to_owned();
    pay_and_wait(&shop, &token, &no).await;
    let r = shop
        .call(
            "POST",
            &format!("/orders/{no}/refunds"),
            Some(&token),
            Some(json!({"request_id": "approve-race", "full": true})),
        )
        .await;
    let rno = r.body["out_refund_no"].as_str().unwrap().to_owned();
    let path = format!("/admin/refunds/{no}/{rno}/approve");
    let (a, b2) = tokio::join!(shop.admin("POST", &path, None), shop.admin("POST", &path, None));
    assert_eq!([a.status, b2.status].iter().filter(|s| **s == 200).count(), 1, "{} / {}", a.body, b2.body);
    let done = wait_order(&shop, &no, |v| v["order"]["refunded"] == json!(1000)).await;
    assert_eq!(done["order"]["refund_reserved"], json!(1000));
    // Both approvals have answered, and an approval asks WeChat before it answers: the
    // simulator's log of refund requests is complete now.
    let calls: Vec<String> = shop.sim.sim.refund_calls().into_iter().filter(|c| *c == rno).collect();
    assert_eq!(calls.len(), 1, "WeChat was asked once");
}

async fn cancel_racing_the_closer_releases_once(b: Backend) {
    let shop = Arc::new(Shop::start(b).await);
    let (_, sku) = product_with_stock(&shop, 100, &[("SH01", 10)]).await;
    let token = shop.login("cancelrace").await;
    let o = place(&shop, &token, json!([{"sku_id": sku, "quantity": 4}])).await;
    let no = o.body["order_no"].as_str().unwrap().to_owned();
    assert_eq!(shop.call("POST", &format!("/orders/{no}/pay"), Some(&token), None).await.status, 200);
    let later = domain::clock::now() + 10_000;
    let path = format!("/orders/{no}/cancel");
    let (c, r) = tokio::join!(
        shop.call("POST", &path, Some(&token), None),
        app::workflows::close_order::close_expired(&shop.app, later, 10)
    );
    assert_eq!(c.status, 200, "{}", c.body);
    r.unwrap();
    assert_eq!(stock(&shop, &sku).await, 10, "the four units came back exactly once");
}

async fn an_expired_order_cannot_be_paid(b: Backend) {
    let shop = Shop::start(b).await;
    let (_, sku) = product_with_stock(&shop, 100, &[("SH01", 10)]).await;
    let token = shop.login("expired").await;
    let o = place(&shop, &token, json!([{"sku_id": sku, "quantity": 1}])).await;
    let no = o.body["order_no"].as_str().unwrap().to_owned();
    shop.app
        .store
        .update(
            &store::keys::order(&e2e::id(&no)),
            store::Update::new().set("expires_at", domain::clock::now() - 1),
            None,
        )
        .await
        .unwrap();
    let a = shop.call("POST", &format!("/orders/{no}/pay"), Some(&token), None).await;
    assert_eq!((a.status, a.code()), (409, "ORDER_EXPIRED"));
}

async fn crossing_catalog_edits_lose_nothing_silently(b: Backend) {
    let shop = Arc::new(Shop::start(b).await);
    let p = shop.admin("POST", "/admin/products", Some(json!({"title": "并发编辑", "category": "x"}))).await;
    let id = p.body["id"].as_str().unwrap().to_owned();
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let (shop, id) = (shop.clone(), id.clone());
            tokio::spawn(async move {
                shop.admin("PATCH", &format!("/admin/products/{id}"), Some(json!({"subtitle": format!("版本{i}")})))
                    .await
            })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        let a = t.await.unwrap();
        match a.status {
            200 => ok += 1,
            409 => assert_eq!(a.code(), "CONCURRENT_EDIT"),
            s => panic!("unexpected {s}"),
        }
    }
    let now = shop.admin("GET", &format!("/admin/products/{id}"), None).await;
    assert_eq!(now.body["version"], json!(1 + ok), "every accepted edit is counted; refused ones said so");
}

async fn a_closed_coupon_window_refuses_claims(b: Backend) {
    let shop = Shop::start(b).await;
    let t = shop
        .admin(
            "POST",
            "/admin/coupons",
            Some(json!({"name": "过期", "rule": {"kind": "no_threshold", "amount_off": 100},
        "total": 5, "per_user": 1, "valid_from": 0, "valid_to": 1_000})),
        )
        .await;
    let token = shop.login("late").await;
    let a = shop.call("POST", &format!("/coupons/{}/claim", t.body["id"].as_str().unwrap()), Some(&token), None).await;
    assert_eq!((a.status, a.code()), (409, "COUPON_NOT_ACTIVE"));
    let stats = shop.admin("GET", "/admin/coupons", None).await;
    assert_eq!(stats.body["items"][0]["claimed"], json!(0));
}

on_both_stores!(
    one_request_id_from_two_phones_is_one_order,
    one_coupon_cannot_serve_two_orders,
    two_operators_approving_one_refund_refund_once,
    cancel_racing_the_closer_releases_once,
    an_expired_order_cannot_be_paid,
    crossing_catalog_edits_lose_nothing_silently,
    a_closed_coupon_window_refuses_claims,
    one_replica_runs_each_tick,
);

/// Replicas that each run the timetable (`SCHEDULE_JOBS=1`) take a tick with one conditional
/// write: eight at once, one runs it; a later tick is taken again, an earlier one never.
async fn one_replica_runs_each_tick(b: Backend) {
    let store = e2e::store(b).await;
    let takes: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(
                async move { store::repo::jobs::take_tick(store.as_ref(), "close-unpaid", 900).await.unwrap() },
            )
        })
        .collect();
    let mut taken = 0;
    for t in takes {
        taken += usize::from(t.await.unwrap());
    }
    assert_eq!(taken, 1, "one replica per tick");
    assert!(store::repo::jobs::take_tick(store.as_ref(), "close-unpaid", 1_200).await.unwrap());
    assert!(!store::repo::jobs::take_tick(store.as_ref(), "close-unpaid", 900).await.unwrap(), "never an older tick");
    assert!(store::repo::jobs::take_tick(store.as_ref(), "members-daily", 900).await.unwrap(), "each job its own");
}
