//! Refunds end to end on both stores: requests, approval, partial refunds, the notify's
//! results, and the invariant that refunds never exceed what was paid.

use e2e::shop::*;
use e2e::{Backend, Shop, on_both_stores};
use serde_json::{Value, json};

fn no(a: &e2e::Answer) -> String {
    a.body["order_no"].as_str().unwrap_or_else(|| panic!("no order in {}", a.body)).to_owned()
}

async fn paid_order(shop: &Shop, token: &str, sku: &str, qty: i64, coupon: Option<&str>) -> String {
    let mut body = json!({"request_id": rid(), "items": [{"sku_id": sku, "quantity": qty}]});
    if let Some(c) = coupon {
        body["coupon_id"] = json!(c);
    }
    let o = shop.call("POST", "/orders", Some(token), Some(body)).await;
    assert_eq!(o.status, 201, "{}", o.body);
    pay_and_wait(shop, token, &no(&o)).await;
    no(&o)
}

async fn refund_req(shop: &Shop, token: &str, order: &str, body: Value) -> e2e::Answer {
    shop.call("POST", &format!("/orders/{order}/refunds"), Some(token), Some(body)).await
}

async fn wait_refund(shop: &Shop, order: &str, state: &str) -> Value {
    wait_order(shop, order, |v| {
        v["refunds"].as_array().is_some_and(|r| r.iter().all(|x| x["state"] == state))
            && !v["refunds"].as_array().unwrap().is_empty()
    })
    .await
}

async fn shopper_refund_approved_returns_stock_and_coupon(b: Backend) {
    let shop = Shop::start(b).await;
    let (_, sku) = product_with_stock(&shop, 1000, &[("SH01", 5)]).await;
    let t = coupon_template(&shop, "满20减5", json!({"kind": "threshold", "min_spend": 2000, "amount_off": 500}), 5, 1)
        .await;
    let token = shop.login("returner").await;
    let c = shop.call("POST", &format!("/coupons/{t}/claim"), Some(&token), None).await;
    let coupon = c.body["coupon_id"].as_str().unwrap().to_owned();
    let order = paid_order(&shop, &token, &sku, 2, Some(&coupon)).await;
    assert_eq!(stock(&shop, &sku).await, 3);
    let r =
        refund_req(&shop, &token, &order, json!({"request_id": "refund-all-1", "full": true, "reason": "不想要了"}))
            .await;
    assert_eq!(r.status, 202, "{}", r.body);
    assert_eq!(r.body["state"], json!("requested"));
    assert_eq!(r.body["amount"], json!(1500), "what was paid, after the coupon");
    assert!(r.body["arrival_note"].as_str().unwrap().contains("T+1"));
    let queue = shop.admin("GET", "/admin/refunds?state=requested", None).await;
    assert!(queue.body["items"].as_array().unwrap().iter().any(|x| x["order_no"] == json!(order)));
    let out_refund_no = r.body["out_refund_no"].as_str().unwrap();
    let ok = shop.admin("POST", &format!("/admin/refunds/{order}/{out_refund_no}/approve"), None).await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    let done = wait_refund(&shop, &order, "success").await;
    assert_eq!(done["order"]["refunded"], json!(1500));
    assert_eq!(stock(&shop, &sku).await, 5, "both unshipped units came back");
    let mine = shop.call("GET", "/me/coupons", Some(&token), None).await;
    assert_eq!(mine.body["items"][0]["state"], json!("available"), "a full refund returns the coupon");
    let more = refund_req(&shop, &token, &order, json!({"request_id": "refund-all-2", "amount_fen": 1})).await;
    assert_eq!((more.status, more.code()), (409, "REFUND_EXCEEDS_PAID"));
    let again = shop.admin("POST", &format!("/admin/refunds/{order}/{out_refund_no}/approve"), None).await;
    assert_eq!(again.code(), "INVALID_TRANSITION");
}

async fn partial_refunds_never_exceed_what_was_paid(b: Backend) {
    let shop = Shop::start(b).await;
    let (_, sku) = product_with_stock(&shop, 1000, &[("SH01", 5)]).await;
    let token = shop.login("partial").await;
    let order = paid_order(&shop, &token, &sku, 3, None).await;
    let by_amount = shop
        .admin(
            "POST",
            &format!("/admin/orders/{order}/refunds"),
            Some(json!({"request_id": "part-amount-1", "amount_fen": 500})),
        )
        .await;
    assert_eq!(by_amount.status, 202, "{}", by_amount.body);
    let by_line = shop
        .admin(
            "POST",
            &format!("/admin/orders/{order}/refunds"),
            Some(json!({"request_id": "part-lines-1", "lines": {sku.clone(): 1}})),
        )
        .await;
    assert_eq!(by_line.body["amount"], json!(1000));
    wait_refund(&shop, &order, "success").await;
    assert_eq!(stock(&shop, &sku).await, 2 + 1, "the refunded line's unit came back; an amount refund moves no stock");
    let too_much = shop
        .admin(
            "POST",
            &format!("/admin/orders/{order}/refunds"),
            Some(json!({"request_id": "part-amount-2", "amount_fen": 1501})),
        )
        .await;
    assert_eq!((too_much.status, too_much.code()), (409, "REFUND_EXCEEDS_PAID"));
    let too_many = shop
        .admin(
            "POST",
            &format!("/admin/orders/{order}/refunds"),
            Some(json!({"request_id": "part-lines-2", "lines": {sku.clone(): 3}})),
        )
        .await;
    assert_eq!((too_many.status, too_many.code()), (400, "INVALID_INPUT"), "only 2 units are left to return");
    let rest = shop
        .admin(
            "POST",
            &format!("/admin/orders/{order}/refunds"),
            Some(json!({"request_id": "part-amount-3", "amount_fen": 1500})),
        )
        .await;
    assert_eq!(rest.status, 202);
    let done = wait_refund(&shop, &order, "success").await;
    assert_eq!(done["order"]["refunded"], json!(3000));
    let bad = [
        ("refund naming neither amount, lines nor full", json!({"request_id": "bad-0001"}), 400, "INVALID_INPUT"),
        (
            "refund of an amount and everything at once",
            json!({"request_id": "bad-0002", "amount_fen": 1, "full": true}),
            400,
            "INVALID_INPUT",
        ),
        ("refund of zero fen", json!({"request_id": "bad-0003", "amount_fen": 0}), 400, "INVALID_INPUT"),
        ("refund request id too short", json!({"request_id": "x", "amount_fen": 1}), 400, "INVALID_INPUT"),
        (
            "refund of a line not in the order",
            json!({"request_id": "bad-0004", "lines": {"Snope": 1}}),
            400,
            "INVALID_INPUT",
        ),
        (
            "refund with a field the API does not have",
            json!({"request_id": "bad-0005", "amount_fen": 1, "surprise": true}),
            400,
            "INVALID_INPUT",
        ),
        (
            "refund of a fully refunded order",
            json!({"request_id": "bad-0006", "amount_fen": 1}),
            409,
            "REFUND_EXCEEDS_PAID",
        ),
    ];
    for (name, body, status, code) in bad {
        let a = shop.admin("POST", &format!("/admin/orders/{order}/refunds"), Some(body.clone())).await;
        assert_eq!((a.status, a.code()), (status, code), "{name}: {body}: {}", a.body);
    }
}

async fn parallel_refunds_stop_at_the_paid_amount(b: Backend) {
    let shop = std::sync::Arc::new(Shop::start(b).await);
    let (_, sku) = product_with_stock(&shop, 1000, &[("SH01", 5)]).await;
    let token = shop.login("rush").await;
    let order = paid_order(&shop, &token, &sku, 3, None).await;
    let tasks: Vec<_> = (0..6)
        .map(|i| {
            let (shop, token, order) = (shop.clone(), token.clone(), order.clone());
            tokio::spawn(async move {
                refund_req(&shop, &token, &order, json!({"request_id": format!("rush-{i:04}"), "amount_fen": 1000}))
                    .await
                    .status
            })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            202 => ok += 1,
            409 => {}
            s => panic!("unexpected status {s}"),
        }
    }
    assert_eq!(ok, 3, "3 × 10 yuan fit in 30 yuan paid");
    assert_eq!(order_of(&shop, &order).await["refund_reserved"], json!(3000));
}

async fn order_of(shop: &Shop, no: &str) -> Value {
    shop.admin("GET", &format!("/admin/orders/{no}"), None).await.body["order"].clone()
}

async fn refused_and_closed_refunds_release_their_amount(b: Backend) {
    let shop = Shop::start(b).await;
    let (_, sku) = product_with_stock(&shop, 1000, &[("SH01", 5)]).await;
    let token = shop.login("declined").await;
    let order = paid_order(&shop, &token, &sku, 1, None).await;
    let r = refund_req(&shop, &token, &order, json!({"request_id": "refuse-me-1", "full": true})).await;
    let same = refund_req(&shop, &token, &order, json!({"request_id": "refuse-me-1", "full": true})).await;
    assert_eq!(same.body["out_refund_no"], r.body["out_refund_no"], "the same request id is the same refund");
    let no_ref = r.body["out_refund_no"].as_str().unwrap();
    let refused = shop.admin("POST", &format!("/admin/refunds/{order}/{no_ref}/refuse"), None).await;
    assert_eq!(refused.body["state"], json!("refused"));
    assert_eq!(order_of(&shop, &order).await["refund_reserved"], json!(0));
    // WeChat closes the next one: the amount is released again.
    shop.sim.sim.set_faults(simulator::Faults {
        refund_result: "CLOSED".into(),
        time_scale: 0.001,
        ..Default::default()
    });
    shop.admin(
        "POST",
        &format!("/admin/orders/{order}/refunds"),
        Some(json!({"request_id": "closed-by-wx", "full": true})),
    )
    .await;
    wait_order(&shop, &order, |v| v["refunds"].as_array().unwrap().iter().any(|x| x["state"] == "closed")).await;
    assert_eq!(order_of(&shop, &order).await["refund_reserved"], json!(0));
    assert_eq!(stock(&shop, &sku).await, 4, "no stock moves for a refund that did not happen");
    // ABNORMAL: not final, and a person is told.
    shop.sim.sim.set_faults(simulator::Faults {
        refund_result: "ABNORMAL".into(),
        time_scale: 0.001,
        ..Default::default()
    });
    shop.admin(
        "POST",
        &format!("/admin/orders/{order}/refunds"),
        Some(json!({"request_id": "abnormal-1", "full": true})),
    )
    .await;
    wait_order(&shop, &order, |v| v["refunds"].as_array().unwrap().iter().any(|x| x["state"] == "abnormal")).await;
    let cases = shop.admin("GET", "/admin/cases", None).await;
    assert!(cases.body["items"].as_array().unwrap().iter().any(|c| c["kind"] == "refund_abnormal"));
    // WeChat Pay settles it later and that notify is lost: the sweep asks and completes it.
    let abnormal = e2e::shop::order(&shop, &order).await["refunds"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["state"] == "abnormal")
        .unwrap()["out_refund_no"]
        .as_str()
        .unwrap()
        .to_owned();
    shop.sim.sim.set_faults(simulator::Faults { lose: true, time_scale: 0.001, ..Default::default() });
    let settled = sim_post(&shop, "/sim/settle-refund", json!({"out_refund_no": abnormal, "status": "SUCCESS"})).await;
    assert_eq!(settled.status(), 200);
    wait_deliveries(&shop, &abnormal, 1, |d| d.signed_by == "lost").await;
    let swept = app::refunds::retry_pending(&shop.app, domain::clock::now() + 60).await.unwrap();
    assert!(swept >= 1, "{swept}");
    let done = wait_order(&shop, &order, |v| {
        v["refunds"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["out_refund_no"] == json!(abnormal) && x["state"] == "success")
    })
    .await;
    assert_eq!(done["order"]["refunded"], json!(1000), "the settled refund counts");
}

async fn shipped_units_do_not_return_to_stock(b: Backend) {
    let shop = Shop::start(b).await;
    let (_, sku) = product_with_stock(&shop, 1000, &[("SH01", 5)]).await;
    let token = shop.login("shipped").await;
    let order = paid_order(&shop, &token, &sku, 2, None).await;
    shop.admin(
        "POST",
        &format!("/admin/orders/{order}/shipments/SH01"),
        Some(json!({"carrier": "SF", "tracking_no": "SF1"})),
    )
    .await;
    shop.admin(
        "POST",
        &format!("/admin/orders/{order}/refunds"),
        Some(json!({"request_id": "after-ship", "lines": {sku.clone(): 2}})),
    )
    .await;
    let done = wait_refund(&shop, &order, "success").await;
    assert_eq!(done["order"]["refunded"], json!(2000));
    assert_eq!(stock(&shop, &sku).await, 3, "shipped goods are not stock");
}

async fn refunds_are_for_the_owner_of_a_paid_order(b: Backend) {
    let shop = Shop::start(b).await;
    let (_, sku) = product_with_stock(&shop, 1000, &[("SH01", 5)]).await;
    let alice = shop.login("ra").await;
    let bob = shop.login("rb").await;
    let unpaid = place(&shop, &alice, json!([{"sku_id": sku, "quantity": 1}])).await;
    let a = refund_req(&shop, &alice, &no(&unpaid), json!({"request_id": "unpaid-ref", "full": true})).await;
    assert_eq!((a.status, a.code()), (409, "NOT_REFUNDABLE"));
    let order = paid_order(&shop, &alice, &sku, 1, None).await;
    let theirs = refund_req(&shop, &bob, &order, json!({"request_id": "not-mine-1", "full": true})).await;
    assert_eq!(theirs.status, 404);
    assert_eq!(shop.call("GET", &format!("/orders/{order}/refunds"), Some(&bob), None).await.status, 404);
    assert_eq!(shop.call("GET", &format!("/orders/{order}/refunds"), Some(&alice), None).await.status, 200);
}

/// An order stored before holds and adjustments were data (its item in that shape:
/// `reservations`, `coupon_id` and `coupon_template`, the discounts as fields, `holds: true`)
/// reads, pays and refunds as it did: the coupon is used and then returned, its places under
/// the shopper's limits free up on payment, and its stock comes back with the full refund.
async fn an_order_stored_in_the_earlier_shape_pays_and_refunds(b: Backend) {
    let shop = Shop::start(b).await;
    let (_, sku) = product_with_stock(&shop, 1000, &[("SH01", 5)]).await;
    let t = coupon_template(&shop, "满20减5", json!({"kind": "threshold", "min_spend": 2000, "amount_off": 500}), 5, 1)
        .await;
    let token = shop.login("earlier").await;
    let c = shop.call("POST", &format!("/coupons/{t}/claim"), Some(&token), None).await;
    let coupon = c.body["coupon_id"].as_str().unwrap().to_owned();
    let body = json!({"request_id": rid(), "items": [{"sku_id": sku, "quantity": 2}], "coupon_id": coupon});
    let placed = shop.call("POST", "/orders", Some(&token), Some(body)).await;
    assert_eq!(placed.status, 201, "{}", placed.body);
    let order_no = no(&placed);
    // The item rewritten in the earlier shape, which is the shape the API answers with.
    let key = store::keys::order(&e2e::id(&order_no));
    let stored = shop.app.store.get(&key).await.unwrap().unwrap();
    let answered = order(&shop, &order_no).await["order"].clone();
    let mut earlier = answered.as_object().unwrap().clone();
    for k in [store::table::PK, store::table::SK, store::table::GSI1_PK, store::table::GSI1_SK] {
        earlier.insert(k.into(), stored[k].clone());
    }
    assert!(stored.contains_key("adjustments") && !earlier.contains_key("adjustments"));
    assert_eq!((earlier["holds"].clone(), earlier["coupon_id"].clone()), (json!(true), json!(coupon)));
    shop.app.store.put(earlier, None).await.unwrap();
    assert_eq!(order(&shop, &order_no).await["order"], answered, "it reads as it was");
    pay_and_wait(&shop, &token, &order_no).await;
    let coupons = shop.call("GET", "/me/coupons", Some(&token), None).await;
    assert_eq!(coupons.body["items"][0]["state"], json!("used"));
    // Its place among the three unpaid orders a shopper may hold came back with the payment.
    let mut unpaid = Vec::new();
    for _ in 0..3 {
        let o = place(&shop, &token, json!([{"sku_id": sku, "quantity": 1}])).await;
        assert_eq!(o.status, 201, "{}", o.body);
        unpaid.push(no(&o));
    }
    for o in unpaid {
        let cancelled = shop.call("POST", &format!("/orders/{o}/cancel"), Some(&token), None).await;
        assert_eq!(cancelled.status, 200, "{}", cancelled.body);
    }
    let r = refund_req(&shop, &token, &order_no, json!({"request_id": "earlier-all-1", "full": true})).await;
    assert_eq!((r.status, r.body["amount"].clone()), (202, json!(1500)), "{}", r.body);
    let out_refund_no = r.body["out_refund_no"].as_str().unwrap();
    let ok = shop.admin("POST", &format!("/admin/refunds/{order_no}/{out_refund_no}/approve"), None).await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    let done = wait_refund(&shop, &order_no, "success").await;
    assert_eq!(done["order"]["refunded"], json!(1500));
    assert_eq!(stock(&shop, &sku).await, 5, "both units came back");
    let coupons = shop.call("GET", "/me/coupons", Some(&token), None).await;
    assert_eq!(coupons.body["items"][0]["state"], json!("available"), "a full refund returns the coupon");
}

on_both_stores!(
    an_order_stored_in_the_earlier_shape_pays_and_refunds,
    shopper_refund_approved_returns_stock_and_coupon,
    partial_refunds_never_exceed_what_was_paid,
    parallel_refunds_stop_at_the_paid_amount,
    refused_and_closed_refunds_release_their_amount,
    shipped_units_do_not_return_to_stock,
    refunds_are_for_the_owner_of_a_paid_order,
);
