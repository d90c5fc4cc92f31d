//! Coupon limits under parallel claims, the new-customer window and the redemption rate;
//! and the daily reconciliation against the trade bill. Both stores.

use std::sync::Arc;

use e2e::shop::*;
use e2e::{Backend, Shop, on_both_stores};
use serde_json::json;
use store::{Update, keys};

async fn claim_as(shop: &Shop, openid: &str, t: &str) -> (u16, String) {
    let a = shop.call_as(openid, "POST", &format!("/coupons/{t}/claim"), None).await;
    (a.status, a.code().to_owned())
}

async fn many_shoppers_never_exceed_the_total(b: Backend) {
    let shop = Arc::new(Shop::start_with(b, true).await);
    let t = coupon_template(&shop, "券", json!({"kind": "no_threshold", "amount_off": 100}), 10, 1).await;
    let tasks: Vec<_> = (0..40)
        .map(|i| {
            let (shop, t) = (shop.clone(), t.clone());
            tokio::spawn(async move { claim_as(&shop, &format!("oClaimer{i:04}xxxxxxxxxxxxxxxxx"), &t).await })
        })
        .collect();
    let mut ok = 0;
    for task in tasks {
        match task.await.unwrap() {
            (201, _) => ok += 1,
            (409, c) => assert!(c == "COUPON_EXHAUSTED" || c == "CONFLICT", "{c}"),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(ok, 10);
    let stats = shop.admin("GET", "/admin/coupons", None).await;
    assert_eq!(stats.body["items"][0]["claimed"], json!(10));
}

async fn one_shopper_on_several_phones_gets_their_share(b: Backend) {
    let shop = Arc::new(Shop::start_with(b, true).await);
    let t = coupon_template(&shop, "券", json!({"kind": "percent", "percent_off": 10}), 100, 2).await;
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (shop, t) = (shop.clone(), t.clone());
            tokio::spawn(async move { claim_as(&shop, "oSamePersonxxxxxxxxxxxxxxxxx", &t).await })
        })
        .collect();
    let mut ok = 0;
    for task in tasks {
        match task.await.unwrap() {
            (201, _) => ok += 1,
            (409, c) => assert!(c == "COUPON_LIMIT_REACHED" || c == "CONFLICT", "{c}"),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(ok, 2);
    let mine = shop.call_as("oSamePersonxxxxxxxxxxxxxxxxx", "GET", "/me/coupons", None).await;
    assert_eq!(mine.body["items"].as_array().unwrap().len(), 2);
}

async fn new_customer_coupons_are_for_three_days(b: Backend) {
    let shop = Shop::start_with(b, true).await;
    let t = coupon_template(&shop, "券", json!({"kind": "new_customer", "amount_off": 300}), 100, 1).await;
    let (status, _) = claim_as(&shop, "oNewcomerxxxxxxxxxxxxxxxxxxx", &t).await;
    assert_eq!(status, 201);
    let mine = shop.call_as("oNewcomerxxxxxxxxxxxxxxxxxxx", "GET", "/me/coupons", None).await;
    let valid_to = mine.body["items"][0]["valid_to"].as_i64().unwrap();
    assert!(valid_to <= domain::clock::now() + 3 * 86_400, "the coupon ends with the new-customer window");
    // A shopper who joined four days ago is no longer new.
    shop.call_as("oVeteranxxxxxxxxxxxxxxxxxxxx", "GET", "/me", None).await;
    shop.app
        .store
        .update(
            &keys::user(&e2e::id("oVeteranxxxxxxxxxxxxxxxxxxxx")),
            Update::new().set("created_at", domain::clock::now() - 4 * 86_400),
            None,
        )
        .await
        .unwrap();
    assert_eq!(claim_as(&shop, "oVeteranxxxxxxxxxxxxxxxxxxxx", &t).await, (403, "NOT_NEW_CUSTOMER".into()));
}

async fn thresholds_templates_and_redemption_rate(b: Backend) {
    let shop = Shop::start(b).await;
    let (_, sku) = product_with_stock(&shop, 1000, &[("SH01", 10)]).await;
    let t =
        coupon_template(&shop, "券", json!({"kind": "threshold", "min_spend": 3000, "amount_off": 500}), 10, 2).await;
    let token = shop.login("saver").await;
    let c1 = shop.call("POST", &format!("/coupons/{t}/claim"), Some(&token), None).await.body["coupon_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let c2 = shop.call("POST", &format!("/coupons/{t}/claim"), Some(&token), None).await.body["coupon_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let small = shop
        .call(
            "POST",
            "/orders",
            Some(&token),
            Some(json!({"request_id": rid(), "items": [{"sku_id": sku, "quantity": 2}], "coupon_id": c1})),
        )
        .await;
    assert_eq!((small.status, small.code()), (422, "COUPON_NOT_APPLICABLE"), "20 yuan does not reach 30");
    let big = shop
        .call(
            "POST",
            "/orders",
            Some(&token),
            Some(json!({"request_id": rid(), "items": [{"sku_id": sku, "quantity": 3}], "coupon_id": c1})),
        )
        .await;
    assert_eq!(big.body["payable"], json!(2500));
    pay_and_wait(&shop, &token, big.body["order_no"].as_str().unwrap()).await;
    let stats = shop.admin("GET", "/admin/coupons", None).await;
    let s = &stats.body["items"][0];
    assert_eq!((s["claimed"].clone(), s["used"].clone()), (json!(2), json!(1)));
    assert_eq!(s["redemption_rate_pct"], json!(50.0));
    let _ = c2;
    let bad = [
        (
            "percent coupon taking everything off",
            json!({"name": "x", "rule": {"kind": "percent", "percent_off": 100}, "total": 1, "per_user": 1, "valid_from": 0, "valid_to": 10}),
        ),
        (
            "threshold coupon worth more than its threshold",
            json!({"name": "x", "rule": {"kind": "threshold", "min_spend": 100, "amount_off": 200}, "total": 1, "per_user": 1, "valid_from": 0, "valid_to": 10}),
        ),
        (
            "coupon worth nothing",
            json!({"name": "x", "rule": {"kind": "no_threshold", "amount_off": 0}, "total": 1, "per_user": 1, "valid_from": 0, "valid_to": 10}),
        ),
        (
            "coupon template with no coupons to give",
            json!({"name": "x", "rule": {"kind": "no_threshold", "amount_off": 1}, "total": 0, "per_user": 1, "valid_from": 0, "valid_to": 10}),
        ),
        (
            "more per shopper than in total",
            json!({"name": "x", "rule": {"kind": "no_threshold", "amount_off": 1}, "total": 1, "per_user": 2, "valid_from": 0, "valid_to": 10}),
        ),
        (
            "coupon window that ends when it starts",
            json!({"name": "x", "rule": {"kind": "no_threshold", "amount_off": 1}, "total": 1, "per_user": 1, "valid_from": 10, "valid_to": 10}),
        ),
        (
            "coupon without a name",
            json!({"name": "", "rule": {"kind": "no_threshold", "amount_off": 1}, "total": 1, "per_user": 1, "valid_from": 0, "valid_to": 10}),
        ),
        (
            "coupon rule of an unknown kind",
            json!({"name": "x", "rule": {"kind": "cashback", "amount_off": 1}, "total": 1, "per_user": 1, "valid_from": 0, "valid_to": 10}),
        ),
    ];
    for (name, body) in bad {
        let a = shop.admin("POST", "/admin/coupons", Some(body.clone())).await;
        assert_eq!((a.status, a.code()), (400, "INVALID_INPUT"), "{name}: {body}");
    }
    assert_eq!(shop.call("POST", "/coupons/Cnope/claim", Some(&token), None).await.status, 404);
}

/// A payment of yesterday whose notify was lost: only the trade bill knows. Reconciliation
/// finds it, asks WeChat Pay, applies it as a notify would, and a re-run finds nothing left.
async fn reconciliation_repairs_a_lost_notify(b: Backend) {
    let shop = Shop::start(b).await;
    let (_, sku) = product_with_stock(&shop, 1234, &[("SH01", 5)]).await;
    let token = shop.login("lost").await;
    let o = place(&shop, &token, json!([{"sku_id": sku, "quantity": 1}])).await;
    let order_no = o.body["order_no"].as_str().unwrap().to_owned();
    assert_eq!(shop.call("POST", &format!("/orders/{order_no}/pay"), Some(&token), None).await.status, 200);
    shop.sim.sim.set_faults(simulator::Faults { lose: true, time_scale: 0.001, ..Default::default() });
    let yesterday = domain::clock::now() - 86_400;
    sim_post(&shop, "/sim/pay", json!({"out_trade_no": order_no, "success_time": yesterday})).await;
    wait_deliveries(&shop, &order_no, 1, |d| d.signed_by == "lost").await;
    assert_eq!(order(&shop, &order_no).await["order"]["state"], json!("unpaid"), "the notify was lost");
    // And a payment the shop recorded that WeChat's bill does not have.
    let day = domain::clock::business_day(yesterday).unwrap().to_string();
    let ghost = json!({"transaction_id": "4200GHOST", "order_no": "2000ghost", "openid": "oGhostShopper01", "amount": 99, "success_time": yesterday,
        "day": day, "source": "notify", "outcome": "applied", "recorded_at": yesterday});
    shop.app
        .store
        .put(
            store::to_item(
                &keys::payment(&e2e::id("4200GHOST")),
                Some(keys::payment_gsi1(&day, &e2e::id("4200GHOST"))),
                &ghost,
            )
            .unwrap(),
            None,
        )
        .await
        .unwrap();

    let r = shop.admin("POST", &format!("/admin/reconciliation/{day}"), None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["wechat"]["payments"], json!(1));
    assert_eq!(r.body["wechat"]["payment_fen"], json!(1234));
    let diffs = r.body["differences"].as_array().unwrap();
    assert_eq!(diffs.len(), 2, "{diffs:?}");
    assert!(diffs.iter().any(|d| d["kind"] == "missing_locally"
        && d["order_no"] == json!(order_no)
        && d["action"].as_str().unwrap().starts_with("repaired")));
    assert!(diffs.iter().any(|d| d["kind"] == "missing_at_wechat" && d["reference"] == "4200GHOST"));
    assert_eq!(order(&shop, &order_no).await["order"]["state"], json!("paid"), "repaired as a notify would");
    let again = shop.admin("POST", &format!("/admin/reconciliation/{day}"), None).await;
    let diffs = again.body["differences"].as_array().unwrap();
    assert_eq!(diffs.len(), 1, "only the unrepairable difference remains: {diffs:?}");
    let stored = shop.admin("GET", &format!("/admin/reconciliation/{day}"), None).await;
    assert_eq!(stored.body["differences"], again.body["differences"], "the report is stored per day");
    let today = domain::clock::business_day(domain::clock::now()).unwrap().to_string();
    let early = shop.admin("POST", &format!("/admin/reconciliation/{today}"), None).await;
    assert_eq!((early.status, early.code()), (409, "BILL_NOT_READY"));
    assert_eq!(shop.admin("POST", "/admin/reconciliation/yesterday", None).await.status, 400);
}

/// A refund WeChat completed yesterday whose notify never came: the bill shows it, and
/// reconciliation completes it here (stock, totals) on WeChat's day.
async fn reconciliation_completes_a_refund_whose_notify_was_lost(b: Backend) {
    let shop = Shop::start(b).await;
    let (_, sku) = product_with_stock(&shop, 800, &[("SH01", 5)]).await;
    let token = shop.login("refundlost").await;
    let o = place(&shop, &token, json!([{"sku_id": sku, "quantity": 1}])).await;
    let order_no = o.body["order_no"].as_str().unwrap().to_owned();
    assert_eq!(shop.call("POST", &format!("/orders/{order_no}/pay"), Some(&token), None).await.status, 200);
    let yesterday = domain::clock::now() - 86_400;
    sim_post(&shop, "/sim/pay", json!({"out_trade_no": order_no, "success_time": yesterday})).await;
    wait_order(&shop, &order_no, |o| o["order"]["state"] == "paid").await;
    shop.sim.sim.set_faults(simulator::Faults {
        lose: true,
        refund_time_shift: -86_400,
        time_scale: 0.001,
        ..Default::default()
    });
    let r = shop
        .admin(
            "POST",
            &format!("/admin/orders/{order_no}/refunds"),
            Some(json!({"request_id": "lost-refund-1", "full": true})),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    let rno = r.body["out_refund_no"].as_str().unwrap().to_owned();
    wait_deliveries(&shop, &rno, 1, |d| d.signed_by == "lost").await;
    assert_eq!(order(&shop, &order_no).await["refunds"][0]["state"], json!("processing"), "the notify was lost");
    let day = domain::clock::business_day(yesterday).unwrap().to_string();
    let report = shop.admin("POST", &format!("/admin/reconciliation/{day}"), None).await;
    assert_eq!(report.status, 200, "{}", report.body);
    assert_eq!(report.body["wechat"]["refunds"], json!(1));
    let diffs = report.body["differences"].as_array().unwrap();
    assert_eq!(diffs.len(), 1, "{diffs:?}");
    assert_eq!(diffs[0]["kind"], json!("refund_missing_locally"));
    assert_eq!(diffs[0]["action"], json!("repaired: refund completed"));
    let done = order(&shop, &order_no).await;
    assert_eq!(done["order"]["refunded"], json!(800));
    assert_eq!(stock(&shop, &sku).await, 5, "the unit came back");
    let again = shop.admin("POST", &format!("/admin/reconciliation/{day}"), None).await;
    assert!(again.body["differences"].as_array().unwrap().is_empty(), "booked on WeChat's day: {}", again.body);
}

/// A day without a trade has no bill at WeChat Pay ("no statement"): once the bill is due it
/// reconciles to an empty report, unless the shop itself took money that day (a difference).
/// A day still to come is refused before WeChat is asked.
async fn quiet_days_reconcile_and_future_days_are_refused(b: Backend) {
    let shop = Shop::start(b).await;
    let quiet = domain::clock::business_day(domain::clock::now() - 3 * 86_400).unwrap().to_string();
    let r = shop.admin("POST", &format!("/admin/reconciliation/{quiet}"), None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["wechat"]["payments"], json!(0));
    assert_eq!(r.body["local"]["payments"], json!(0));
    assert!(r.body["differences"].as_array().unwrap().is_empty(), "{}", r.body);
    let stored = shop.admin("GET", &format!("/admin/reconciliation/{quiet}"), None).await;
    assert_eq!((stored.status, &stored.body["day"]), (200, &json!(quiet)));
    // The schedule's event names no day: it reconciles yesterday, Shanghai time.
    let yesterday = domain::clock::business_day(domain::clock::now() - 86_400).unwrap().to_string();
    // Before 10:00 in Shanghai WeChat Pay has not published yesterday's bill yet: the job
    // says so, naming the day it was asked for.
    match hosting::routes::jobs::reconcile_day(&shop.service, &json!({})).await {
        Ok(report) => assert_eq!(report["day"], json!(yesterday), "{report}"),
        Err(e) => {
            assert_eq!(e.code, app::Code::BillNotReady, "{e:?}");
            assert!(e.message.contains(&yesterday), "{e:?}");
        }
    }
    let named = hosting::routes::jobs::reconcile_day(&shop.service, &json!({"day": quiet})).await.unwrap();
    assert_eq!(named["day"], json!(quiet));
    let bad = hosting::routes::jobs::reconcile_day(&shop.service, &json!({"day": "2026-13-01"})).await.unwrap_err();
    assert_eq!(bad.code, app::Code::InvalidInput);

    // The shop recorded a payment on a day WeChat Pay has no trade: that is a difference.
    let at = domain::clock::now() - 4 * 86_400;
    let day = domain::clock::business_day(at).unwrap().to_string();
    let ghost = json!({"transaction_id": "4200QUIET", "order_no": "2000quiet", "openid": "oQuietShopper01", "amount": 500,
        "success_time": at, "day": day, "source": "notify", "outcome": "applied", "recorded_at": at});
    let item = store::to_item(
        &keys::payment(&e2e::id("4200QUIET")),
        Some(keys::payment_gsi1(&day, &e2e::id("4200QUIET"))),
        &ghost,
    )
    .unwrap();
    shop.app.store.put(item, None).await.unwrap();
    let r = shop.admin("POST", &format!("/admin/reconciliation/{day}"), None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let diffs = r.body["differences"].as_array().unwrap();
    assert_eq!(diffs.len(), 1, "{diffs:?}");
    assert_eq!((&diffs[0]["kind"], &diffs[0]["local_fen"]), (&json!("missing_at_wechat"), &json!(500)));

    let future = domain::clock::business_day(domain::clock::now() + 2 * 86_400).unwrap().to_string();
    let f = shop.admin("POST", &format!("/admin/reconciliation/{future}"), None).await;
    assert_eq!((f.status, f.code()), (400, "INVALID_INPUT"), "{}", f.body);
    let none = shop.admin("GET", &format!("/admin/reconciliation/{future}"), None).await;
    assert_eq!(none.status, 404, "no report is stored for a refused day");
}

/// A payment the shop received and refused to apply (its amount did not match the order) is
/// in WeChat's bill: reconciliation reports it as rejected, every run, and never applies it
/// (the order closed when the payment was refused).
async fn reconciliation_reports_a_rejected_payment_as_rejected(b: Backend) {
    let shop = Shop::start(b).await;
    let (_, sku) = product_with_stock(&shop, 1500, &[("SH01", 5)]).await;
    let token = shop.login("mismatch").await;
    let o = place(&shop, &token, json!([{"sku_id": sku, "quantity": 1}])).await;
    let order_no = o.body["order_no"].as_str().unwrap().to_owned();
    assert_eq!(shop.call("POST", &format!("/orders/{order_no}/pay"), Some(&token), None).await.status, 200);
    shop.sim.sim.set_faults(simulator::Faults { lose: true, time_scale: 0.001, ..Default::default() });
    let yesterday = domain::clock::now() - 86_400;
    sim_post(&shop, "/sim/pay", json!({"out_trade_no": order_no, "success_time": yesterday})).await;
    wait_deliveries(&shop, &order_no, 1, |d| d.signed_by == "lost").await;
    // The payment as WeChat reports it, with its amount altered on the way: refused.
    let mut tx = shop.app.pay.as_ref().unwrap().query(&order_no).await.unwrap().expect("WeChat has the payment");
    tx.amount.as_mut().unwrap().total -= 1;
    let outcome = app::payments::apply(&shop.app, &tx, domain::payment::PaymentSource::Notify).await.unwrap();
    assert_eq!(outcome, app::payments::Outcome::Rejected);
    let day = domain::clock::business_day(yesterday).unwrap().to_string();
    for run in 0..2 {
        let r = shop.admin("POST", &format!("/admin/reconciliation/{day}"), None).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let diffs = r.body["differences"].as_array().unwrap();
        assert_eq!(diffs.len(), 1, "run {run}: {diffs:?}");
        assert_eq!(diffs[0]["kind"], json!("rejected_payment"));
        assert_eq!((diffs[0]["wechat_fen"].clone(), diffs[0]["local_fen"].clone()), (json!(1500), json!(1499)));
        let action = diffs[0]["action"].as_str().unwrap();
        assert!(action.starts_with("reported") && !action.contains("repaired"), "{action}");
        assert_eq!(order(&shop, &order_no).await["order"]["state"], json!("closed"), "never applied");
    }
    let cases = shop.admin("GET", "/admin/cases", None).await;
    assert!(cases.body["items"].as_array().unwrap().iter().any(|c| c["kind"] == "amount_mismatch"));
}

/// The shop's own books altered after the fact (as an insider or a bad migration would): a
/// payment booked for another amount, a refund booked for another amount, and a refund booked
/// done that WeChat Pay never made. Each is a difference of its kind, reported, and nothing is
/// "repaired" from the altered side.
async fn reconciliation_finds_books_that_disagree_with_the_bill(b: Backend) {
    let shop = Shop::start(b).await;
    let (_, sku) = product_with_stock(&shop, 1000, &[("SH01", 5)]).await;
    let token = shop.login("altered").await;
    let o = place(&shop, &token, json!([{"sku_id": sku, "quantity": 1}])).await;
    let order_no = o.body["order_no"].as_str().unwrap().to_owned();
    assert_eq!(shop.call("POST", &format!("/orders/{order_no}/pay"), Some(&token), None).await.status, 200);
    let yesterday = domain::clock::now() - 86_400;
    sim_post(&shop, "/sim/pay", json!({"out_trade_no": order_no, "success_time": yesterday})).await;
    let paid = wait_order(&shop, &order_no, |o| o["order"]["state"] == "paid").await;
    shop.sim.sim.set_faults(simulator::Faults { refund_time_shift: -86_400, time_scale: 0.001, ..Default::default() });
    let r = shop
        .admin(
            "POST",
            &format!("/admin/orders/{order_no}/refunds"),
            Some(json!({"request_id": "altered-refund-1", "amount_fen": 300, "reason": "少发"})),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    let rno = r.body["out_refund_no"].as_str().unwrap().to_owned();
    wait_order(&shop, &order_no, |o| o["refunds"][0]["state"] == "success").await;
    let day = domain::clock::business_day(yesterday).unwrap().to_string();
    let clean = shop.admin("POST", &format!("/admin/reconciliation/{day}"), None).await;
    assert!(clean.body["differences"].as_array().unwrap().is_empty(), "the books agree at first: {}", clean.body);

    let store = shop.app.store.clone();
    let tid: domain::ids::TransactionId = e2e::id(paid["order"]["transaction_id"].as_str().unwrap());
    let mut payment = store::repo::payments::get(store.as_ref(), &tid).await.unwrap().unwrap();
    payment.amount = domain::money::Fen::new(999);
    let item = store::to_item(&keys::payment(&tid), Some(keys::payment_gsi1(&payment.day, &tid)), &payment).unwrap();
    store.put(item, None).await.unwrap();
    let refund = store::repo::refunds::get(store.as_ref(), &e2e::id(&order_no), &e2e::id(&rno)).await.unwrap().unwrap();
    let mut altered = serde_json::to_value(&refund).unwrap();
    altered["amount"] = json!(299);
    let altered: domain::refund::RefundRecord = serde_json::from_value(altered).unwrap();
    store.put(store::repo::refunds::item(&altered).unwrap(), None).await.unwrap();
    let mut ghost = serde_json::to_value(&refund).unwrap();
    ghost["out_refund_no"] = json!("RGHOST0000000001");
    ghost["amount"] = json!(100);
    let ghost: domain::refund::RefundRecord = serde_json::from_value(ghost).unwrap();
    store.put(store::repo::refunds::item(&ghost).unwrap(), None).await.unwrap();

    let report = shop.admin("POST", &format!("/admin/reconciliation/{day}"), None).await;
    assert_eq!(report.status, 200, "{}", report.body);
    let found: Vec<(String, serde_json::Value, serde_json::Value, String)> = report.body["differences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["kind"].as_str().unwrap().to_owned(),
                d["wechat_fen"].clone(),
                d["local_fen"].clone(),
                d["action"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        found,
        vec![
            ("amount_mismatch".into(), json!(1000), json!(999), "reported".into()),
            ("refund_amount_mismatch".into(), json!(300), json!(299), "reported".into()),
            ("refund_missing_at_wechat".into(), json!(null), json!(100), "reported".into()),
        ],
        "{}",
        report.body
    );
}

on_both_stores!(
    reconciliation_finds_books_that_disagree_with_the_bill,
    reconciliation_reports_a_rejected_payment_as_rejected,
    quiet_days_reconcile_and_future_days_are_refused,
    reconciliation_completes_a_refund_whose_notify_was_lost,
    many_shoppers_never_exceed_the_total,
    one_shopper_on_several_phones_gets_their_share,
    new_customer_coupons_are_for_three_days,
    thresholds_templates_and_redemption_rate,
    reconciliation_repairs_a_lost_notify,
);
