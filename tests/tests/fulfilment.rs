//! Fulfilment end to end on both stores: an order with an address and freight is paid, ships
//! from two warehouses in three parcels, WeChat's shipping service receives what its
//! documentation asks for, the carrier's delivery prompts its reminder, the shopper confirms
//! and the order completes after the refund window; receipt is confirmed for a shopper who
//! does not; uploads that fail are retried or handed to a person.

use std::time::Duration;

use e2e::shop::*;
use e2e::{Answer, Backend, Shop, on_both_stores};
use serde_json::{Value, json};

/// The default freight template (the suites' shop starts with free delivery).
async fn default_freight(shop: &Shop) {
    let t = shop
        .admin(
            "PUT",
            "/admin/freight",
            Some(json!({"base_fen": 800, "free_over_fen": 8800, "remote": {"新疆维吾尔自治区": 1500}})),
        )
        .await;
    assert_eq!(t.status, 200, "{}", t.body);
}

fn no(a: &Answer) -> String {
    a.body["order_no"].as_str().unwrap_or_else(|| panic!("no order in {}", a.body)).to_owned()
}

/// Waits until WeChat's shipping service holds `n` uploads for the payment.
async fn uploads(shop: &Shop, tid: &str, n: usize) -> simulator::shipping::Shipping {
    for _ in 0..200 {
        if let Some(s) = shop.sim.sim.shipping_of(tid).filter(|s| s.uploads.len() >= n) {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("WeChat never received {n} shipping uploads for {tid}: {:?}", shop.sim.sim.shipping_of(tid));
}

async fn ship(shop: &Shop, order: &str, wh: &str, packages: Value) -> Answer {
    shop.admin("POST", &format!("/admin/orders/{order}/shipments/{wh}"), Some(json!({ "packages": packages }))).await
}

/// Address → freight → pay → two warehouses, three parcels → both uploads as WeChat asks →
/// delivered → the shopper confirms → completed once the refund window passed.
async fn an_order_goes_from_address_to_completed(b: Backend) {
    let shop = Shop::start(b).await;
    default_freight(&shop).await;
    let (_, sku) = product_with_stock(&shop, 1000, &[("SH01", 2), ("BJ01", 2)]).await;
    let token = shop.login("traveller").await;
    let chosen = json!({"wx_address": {"errMsg": "chooseAddress:ok", "userName": "李四", "telNumber": "13912345678",
        "provinceName": "新疆维吾尔自治区", "cityName": "乌鲁木齐市", "countyName": "天山区", "detailInfo": "解放北路1号",
        "postalCode": "830000", "nationalCode": "650102"}, "default": false});
    let book = shop.call("POST", "/me/addresses", Some(&token), Some(chosen)).await;
    assert_eq!(book.status, 201, "{}", book.body);
    let remote = book.body["addresses"].as_array().unwrap().iter().find(|a| a["address"]["name"] == "李四").unwrap();
    let address_id = remote["id"].as_str().unwrap().to_owned();
    let o = shop
        .call(
            "POST",
            "/orders",
            Some(&token),
            Some(json!({"request_id": rid(), "items": [{"sku_id": sku, "quantity": 3}], "address_id": address_id})),
        )
        .await;
    assert_eq!(o.status, 201, "{}", o.body);
    // 30 yuan of goods: the base 8 yuan, and Xinjiang's 15.
    assert_eq!(
        (o.body["subtotal"].clone(), o.body["freight"].clone(), o.body["payable"].clone()),
        (json!(3000), json!(2300), json!(5300))
    );
    assert_eq!(o.body["address"]["district"], json!("天山区"));
    let order = no(&o);
    let paid = pay_and_wait(&shop, &token, &order).await;
    let tid = paid["order"]["transaction_id"].as_str().unwrap().to_owned();
    // Operators' list masks the address; the order itself shows it in full to ship by.
    let queue = shop.admin("GET", "/admin/orders?state=paid", None).await;
    let listed =
        queue.body["items"].as_array().unwrap().iter().find(|x| x["order_no"] == json!(order)).unwrap().clone();
    assert_eq!(
        (listed["address"]["phone"].clone(), listed["address"]["detail"].clone()),
        (json!("139****5678"), json!("***"))
    );
    // Two warehouses: SH01 in two parcels, then BJ01 in one.
    let first = ship(&shop, &order, "SH01", json!([{"express_company": "SF", "tracking_no": "SF1001"}, {"express_company": "yto", "tracking_no": "YT2002"}])).await;
    assert_eq!((first.status, first.body["fulfilment"].clone()), (200, json!("partly_shipped")), "{}", first.body);
    let one = uploads(&shop, &tid, 1).await;
    let u = &one.uploads[0];
    assert_eq!(u["order_key"], json!({"order_number_type": 2, "transaction_id": tid}));
    assert_eq!(
        (u["logistics_type"].clone(), u["delivery_mode"].clone(), u["is_all_delivered"].clone()),
        (json!(1), json!(2), json!(false))
    );
    assert_eq!(u["shipping_list"].as_array().unwrap().len(), 2);
    assert_eq!(
        u["shipping_list"][0]["contact"]["receiver_contact"],
        json!("139****5678"),
        "SF needs the receiver, masked"
    );
    assert_eq!(u["shipping_list"][1]["express_company"], json!("YTO"));
    assert!(u["upload_time"].as_str().unwrap().ends_with("+08:00"));
    assert_eq!(u["payer"]["openid"], json!(shop.sim.sim.openid_for("traveller")));
    assert!(!one.all_delivered);
    let second = ship(&shop, &order, "BJ01", json!([{"express_company": "JD", "tracking_no": "JD3003"}])).await;
    assert_eq!((second.status, second.body["fulfilment"].clone()), (200, json!("shipped")));
    let both = uploads(&shop, &tid, 2).await;
    assert_eq!(both.uploads[1]["is_all_delivered"], json!(true), "the last upload completes the delivery");
    assert!(both.all_delivered);
    let shipped = wait_order(&shop, &order, |v| {
        v["order"]["sub_orders"].as_array().unwrap().iter().all(|s| !s["shipment"]["uploaded_at"].is_null())
    })
    .await;
    assert_eq!(shipped["order"]["fulfilment"], json!("shipped"));
    // The carrier delivers; WeChat reminds the shopper; the shopper confirms (twice is once).
    let delivered = shop.admin("POST", &format!("/admin/orders/{order}/delivered"), None).await;
    assert_eq!(delivered.status, 200, "{}", delivered.body);
    for _ in 0..200 {
        if shop.sim.sim.shipping_of(&tid).and_then(|s| s.reminded).is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(shop.sim.sim.shipping_of(&tid).unwrap().reminded.is_some(), "WeChat was asked to remind the shopper");
    let got = shop.call("POST", &format!("/orders/{order}/receive"), Some(&token), None).await;
    assert_eq!(
        (got.status, got.body["fulfilment"].clone(), got.body["received_by"].clone()),
        (200, json!("received"), json!("shopper"))
    );
    let again = shop.call("POST", &format!("/orders/{order}/receive"), Some(&token), None).await;
    assert_eq!(
        (again.status, again.body["version"].clone()),
        (200, got.body["version"].clone()),
        "confirming twice changes nothing"
    );
    // The refund window: still open after 6 days, closed after 7.
    indexed_in_phase(&shop, domain::order::Phase::Received, &order).await;
    let now = domain::clock::now();
    let early = app::fulfilment::advance(&shop.app, now + 6 * 86_400).await.unwrap();
    assert_eq!(early.completed, 0);
    let late = app::fulfilment::advance(&shop.app, now + 7 * 86_400 + 60).await.unwrap();
    assert_eq!(late.completed, 1);
    let done = order_of(&shop, &order).await;
    assert_eq!(done["fulfilment"], json!("completed"));
    let completed = shop.admin("GET", "/admin/orders?state=completed", None).await;
    assert!(completed.body["items"].as_array().unwrap().iter().any(|x| x["order_no"] == json!(order)));
}

async fn order_of(shop: &Shop, no: &str) -> Value {
    order(shop, no).await["order"].clone()
}

/// Nobody confirms: the shop does after 15 days. An upload WeChat answers "busy" twice goes
/// through on the third try; one it refuses for good becomes a case.
async fn receipt_is_confirmed_for_the_shopper_and_uploads_retry(b: Backend) {
    let shop = Shop::start(b).await;
    let (_, sku) = product_with_stock(&shop, 500, &[("SH01", 5)]).await;
    let token = shop.login("silent").await;
    let o = place(&shop, &token, json!([{"sku_id": sku, "quantity": 1}])).await;
    let order = no(&o);
    let paid = pay_and_wait(&shop, &token, &order).await;
    let tid = paid["order"]["transaction_id"].as_str().unwrap().to_owned();
    shop.sim.sim.fail_shipping_uploads(2, -1);
    let s = shop
        .admin(
            "POST",
            &format!("/admin/orders/{order}/shipments/SH01"),
            Some(json!({"carrier": "ZTO", "tracking_no": "ZT1"})),
        )
        .await;
    assert_eq!(s.status, 200, "{}", s.body);
    let up = uploads(&shop, &tid, 1).await;
    assert_eq!(
        (up.uploads[0]["delivery_mode"].clone(), up.uploads[0].get("is_all_delivered")),
        (json!(1), None),
        "one parcel: a unified delivery"
    );
    assert!(up.all_delivered);
    indexed_in_phase(&shop, domain::order::Phase::Shipped, &order).await;
    let now = domain::clock::now();
    let before = app::fulfilment::advance(&shop.app, now + 14 * 86_400).await.unwrap();
    assert_eq!(before.received, 0);
    let after = app::fulfilment::advance(&shop.app, now + 15 * 86_400 + 60).await.unwrap();
    assert_eq!(after.received, 1);
    let o2 = order_of(&shop, &order).await;
    assert_eq!((o2["fulfilment"].clone(), o2["received_by"].clone()), (json!("received"), json!("auto")));
    // WeChat refuses a shipment for good: a case, and the order is not marked uploaded.
    let next = place(&shop, &token, json!([{"sku_id": sku, "quantity": 1}])).await;
    let next = no(&next);
    pay_and_wait(&shop, &token, &next).await;
    shop.sim.sim.fail_shipping_uploads(1, 47001);
    let s = shop
        .admin(
            "POST",
            &format!("/admin/orders/{next}/shipments/SH01"),
            Some(json!({"carrier": "ZTO", "tracking_no": "ZT2"})),
        )
        .await;
    assert_eq!(s.status, 200);
    let mut case = None;
    for _ in 0..200 {
        let cases = shop.admin("GET", "/admin/cases", None).await;
        case = cases.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["kind"] == "shipping_upload_refused" && c["order_no"] == json!(next))
            .cloned();
        if case.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(case.is_some(), "a refused upload is a case for a person");
    assert!(order_of(&shop, &next).await["sub_orders"][0]["shipment"]["uploaded_at"].is_null());
}

/// A paid order shipped in one parcel, its payment's id at WeChat.
async fn shipped_order(shop: &Shop, token: &str, sku: &str, tracking: &str) -> (String, String) {
    let o = place(shop, token, json!([{"sku_id": sku, "quantity": 1}])).await;
    let order = no(&o);
    let paid = pay_and_wait(shop, token, &order).await;
    let tid = paid["order"]["transaction_id"].as_str().unwrap().to_owned();
    let s = ship(shop, &order, "SH01", json!([{"express_company": "ZTO", "tracking_no": tracking}])).await;
    assert_eq!(s.status, 200, "{}", s.body);
    (order, tid)
}

/// Waits until the order reads its shipment uploaded.
async fn uploaded(shop: &Shop, order: &str) -> Value {
    for _ in 0..200 {
        let o = order_of(shop, order).await;
        if !o["sub_orders"][0]["shipment"]["uploaded_at"].is_null() {
            return o;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the shipment of {order} was never marked uploaded: {}", order_of(shop, order).await);
}

async fn cases_of(shop: &Shop, order: &str) -> Vec<Value> {
    let cases = shop.admin("GET", "/admin/cases", None).await;
    cases.body["items"].as_array().unwrap().iter().filter(|c| c["order_no"] == json!(order)).cloned().collect()
}

/// WeChat's shipping service as its documentation answers: its system errors 10060012 and
/// 10060019 are retried like -1 (no case, the upload lands); an upload whose answer is lost
/// is sent again and WeChat's 10060023 (it already has it) counts as accepted, without a
/// case and without spending the one re-shipment; a mistyped tracking number is corrected
/// once (WeChat takes one re-upload per payment) and a second correction is refused; a
/// receipt the shopper confirms inside WeChat is read and received at once.
async fn wechat_shipping_answers_as_documented(b: Backend) {
    let shop = Shop::start(b).await;
    let (_, sku) = product_with_stock(&shop, 500, &[("SH01", 20)]).await;
    let token = shop.login("shipping").await;
    for code in [10060012, 10060019] {
        shop.sim.sim.fail_shipping_uploads(2, code);
        let (order, tid) = shipped_order(&shop, &token, &sku, &format!("ZT{code}")).await;
        uploaded(&shop, &order).await;
        assert_eq!(uploads(&shop, &tid, 1).await.uploads.len(), 1);
        assert!(cases_of(&shop, &order).await.is_empty(), "{code} is WeChat busy, not a refusal");
    }

    shop.sim.sim.lose_shipping_answers(1);
    let (order, tid) = shipped_order(&shop, &token, &sku, "ZTLOST1").await;
    uploaded(&shop, &order).await;
    let held = uploads(&shop, &tid, 1).await;
    assert_eq!(held.uploads.len(), 1, "the retry changed nothing at WeChat");
    assert!(!held.reshipped, "the retry did not spend the re-shipment");
    assert!(cases_of(&shop, &order).await.is_empty(), "an unchanged upload is no refusal");

    // The tracking number was mistyped: corrected once, sent again.
    let path = format!("/admin/orders/{order}/shipments/SH01");
    let fixed = shop.admin("PUT", &path, Some(json!({"carrier": "ZTO", "tracking_no": "ZTLOST2"}))).await;
    assert_eq!(fixed.status, 200, "{}", fixed.body);
    let held = uploads(&shop, &tid, 2).await;
    assert_eq!(held.uploads[1]["shipping_list"][0]["tracking_no"], json!("ZTLOST2"));
    assert!(held.reshipped);
    let o = uploaded(&shop, &order).await;
    assert_eq!(o["sub_orders"][0]["shipment"]["packages"][0]["tracking_no"], json!("ZTLOST2"));
    let again = shop.admin("PUT", &path, Some(json!({"carrier": "ZTO", "tracking_no": "ZTLOST3"}))).await;
    assert_eq!((again.status, again.code()), (409, "CORRECTION_USED"), "{}", again.body);
    let o = order_of(&shop, &order).await;
    assert_eq!(o["sub_orders"][0]["shipment"]["packages"][0]["tracking_no"], json!("ZTLOST2"), "nothing changed");
    let unshipped = place(&shop, &token, json!([{"sku_id": sku, "quantity": 1}])).await;
    let unshipped = no(&unshipped);
    pay_and_wait(&shop, &token, &unshipped).await;
    let early = shop
        .admin(
            "PUT",
            &format!("/admin/orders/{unshipped}/shipments/SH01"),
            Some(json!({"carrier": "ZTO", "tracking_no": "X1"})),
        )
        .await;
    assert_eq!((early.status, early.code()), (409, "NOT_SHIPPABLE"), "only a shipped sub-order is corrected");

    // The shopper confirms receipt inside WeChat; the next read finds it.
    let now = domain::clock::now();
    let before = app::fulfilment::read_receipts(&shop.app, now, 1).await.unwrap();
    assert_eq!((before.received, before.failed), (0, 0), "{before:?}");
    assert!(before.asked >= 3, "every shipped order WeChat holds is asked about: {before:?}");
    simulator::shipping::confirm_receipt(&shop.sim.sim, &tid).unwrap();
    let after = app::fulfilment::read_receipts(&shop.app, now, 1).await.unwrap();
    assert_eq!((after.received, after.failed), (1, 0), "{after:?}");
    let o = order_of(&shop, &order).await;
    assert_eq!((o["fulfilment"].clone(), o["received_by"].clone()), (json!("received"), json!("in_wechat")));
    let fixed_late = shop.admin("PUT", &path, Some(json!({"carrier": "ZTO", "tracking_no": "ZTLOST4"}))).await;
    assert_eq!(fixed_late.status, 409, "a received order is not corrected");
}

/// Freight is once per order, free from the threshold, never discounted, and a full refund
/// returns it.
async fn freight_is_charged_once_and_returned_in_full(b: Backend) {
    let shop = Shop::start(b).await;
    default_freight(&shop).await;
    let (_, sku) = product_with_stock(&shop, 2000, &[("SH01", 10)]).await;
    let token = shop.login("payer").await;
    let t =
        coupon_template(&shop, "满40减10", json!({"kind": "threshold", "min_spend": 4000, "amount_off": 1000}), 5, 1)
            .await;
    let c = shop.call("POST", &format!("/coupons/{t}/claim"), Some(&token), None).await;
    let coupon = c.body["coupon_id"].as_str().unwrap().to_owned();
    // 80 yuan of goods less 10 is 70, under the 88 threshold: freight is due after the coupon.
    let o = shop
        .call(
            "POST",
            "/orders",
            Some(&token),
            Some(json!({"request_id": rid(), "items": [{"sku_id": sku, "quantity": 4}], "coupon_id": coupon})),
        )
        .await;
    assert_eq!(o.status, 201, "{}", o.body);
    assert_eq!(
        (o.body["discount"].clone(), o.body["freight"].clone(), o.body["payable"].clone()),
        (json!(1000), json!(800), json!(7800))
    );
    let order = no(&o);
    pay_and_wait(&shop, &token, &order).await;
    // A refund by lines returns the goods' share, never the freight.
    let part = shop
        .call(
            "POST",
            &format!("/orders/{order}/refunds"),
            Some(&token),
            Some(json!({"request_id": "line-000001", "lines": {sku.clone(): 1}})),
        )
        .await;
    assert_eq!((part.status, part.body["amount"].clone()), (202, json!(1750)), "{}", part.body);
    // Everything left, freight included, when the shopper asks for all.
    let rest = shop
        .call(
            "POST",
            &format!("/orders/{order}/refunds"),
            Some(&token),
            Some(json!({"request_id": "all-0000001", "full": true})),
        )
        .await;
    assert_eq!((rest.status, rest.body["amount"].clone()), (202, json!(7800 - 1750)), "{}", rest.body);
    // 90 yuan of goods: free.
    let free = shop
        .call(
            "POST",
            "/orders",
            Some(&token),
            Some(json!({"request_id": rid(), "items": [{"sku_id": sku, "quantity": 5}]})),
        )
        .await;
    assert_eq!((free.body["freight"].clone(), free.body["payable"].clone()), (json!(0), json!(10000)));
}

/// (scenario, shopper token or operator, method, path, body, status, code)
type Row<'a> = (&'a str, Option<&'a str>, &'a str, String, Option<Value>, u16, &'a str);

/// What fulfilment refuses, and that a refusal changes nothing.
async fn fulfilment_refuses_what_cannot_be(b: Backend) {
    let shop = Shop::start(b).await;
    let (_, sku) = product_with_stock(&shop, 500, &[("SH01", 5)]).await;
    let token = shop.login("careful").await;
    let other = shop.login("nosy").await;
    let unpaid = no(&place(&shop, &token, json!([{"sku_id": sku, "quantity": 1}])).await);
    let paid = no(&place(&shop, &token, json!([{"sku_id": sku, "quantity": 1}])).await);
    pay_and_wait(&shop, &token, &paid).await;
    let ship_path = format!("/admin/orders/{paid}/shipments/SH01");
    let book = shop.call("GET", "/me/addresses", Some(&token), None).await;
    let first_id = book.body["addresses"][0]["id"].as_str().unwrap().to_owned();
    let rows: Vec<Row> = vec![
        (
            "shipping with an express company WeChat does not know",
            None,
            "POST",
            ship_path.clone(),
            Some(json!({"packages": [{"express_company": "ACME", "tracking_no": "A1"}]})),
            400,
            "INVALID_INPUT",
        ),
        (
            "shipping with no parcels",
            None,
            "POST",
            ship_path.clone(),
            Some(json!({"packages": []})),
            400,
            "INVALID_INPUT",
        ),
        (
            "shipping sixteen parcels",
            None,
            "POST",
            ship_path.clone(),
            Some(
                json!({"packages": (0..16).map(|i| json!({"express_company": "SF", "tracking_no": format!("SF{i}")})).collect::<Vec<_>>()}),
            ),
            400,
            "INVALID_INPUT",
        ),
        (
            "shipping with parcels and a carrier at once",
            None,
            "POST",
            ship_path.clone(),
            Some(
                json!({"packages": [{"express_company": "SF", "tracking_no": "S1"}], "carrier": "SF", "tracking_no": "S2"}),
            ),
            400,
            "INVALID_INPUT",
        ),
        (
            "a tracking number with spaces",
            None,
            "POST",
            ship_path.clone(),
            Some(json!({"carrier": "SF", "tracking_no": "SF 1"})),
            400,
            "INVALID_INPUT",
        ),
        (
            "confirming receipt before anything shipped",
            Some(&token),
            "POST",
            format!("/orders/{paid}/receive"),
            None,
            409,
            "INVALID_TRANSITION",
        ),
        (
            "confirming receipt of an unpaid order",
            Some(&token),
            "POST",
            format!("/orders/{unpaid}/receive"),
            None,
            409,
            "INVALID_TRANSITION",
        ),
        (
            "confirming receipt of another shopper's order",
            Some(&other),
            "POST",
            format!("/orders/{paid}/receive"),
            None,
            404,
            "NOT_FOUND",
        ),
        (
            "marking delivered before shipping",
            None,
            "POST",
            format!("/admin/orders/{paid}/delivered"),
            None,
            409,
            "INVALID_TRANSITION",
        ),
        (
            "an address given in both shapes",
            Some(&token),
            "POST",
            "/me/addresses".into(),
            Some(json!({"address": Shop::address("上海市")["address"], "wx_address": {"userName": "x"}})),
            400,
            "INVALID_INPUT",
        ),
        (
            "an address with a phone that is no number",
            Some(&token),
            "POST",
            "/me/addresses".into(),
            Some(
                json!({"address": {"name": "王五", "phone": "call me", "province": "北京市", "city": "北京市", "district": "东城区", "detail": "1号"}}),
            ),
            400,
            "INVALID_INPUT",
        ),
        (
            "an address without a street",
            Some(&token),
            "POST",
            "/me/addresses".into(),
            Some(
                json!({"address": {"name": "王五", "phone": "13800000000", "province": "北京市", "city": "北京市", "district": "东城区"}}),
            ),
            400,
            "INVALID_INPUT",
        ),
        (
            "removing an address that is not in the book",
            Some(&token),
            "DELETE",
            "/me/addresses/Anope".into(),
            None,
            404,
            "NOT_FOUND",
        ),
        (
            "making an unknown address the default",
            Some(&token),
            "POST",
            "/me/addresses/Anope/default".into(),
            None,
            404,
            "NOT_FOUND",
        ),
        (
            "ordering to an address id not in the book",
            Some(&token),
            "POST",
            "/orders".into(),
            Some(json!({"request_id": rid(), "items": [{"sku_id": sku, "quantity": 1}], "address_id": "Anope"})),
            400,
            "INVALID_INPUT",
        ),
        (
            "ordering to someone else's address id",
            Some(&other),
            "POST",
            "/orders".into(),
            Some(json!({"request_id": rid(), "items": [{"sku_id": sku, "quantity": 1}], "address_id": first_id})),
            400,
            "INVALID_INPUT",
        ),
        (
            "a freight template with a negative base",
            None,
            "PUT",
            "/admin/freight".into(),
            Some(json!({"base_fen": -1})),
            400,
            "INVALID_INPUT",
        ),
        (
            "a freight template with a field it does not have",
            None,
            "PUT",
            "/admin/freight".into(),
            Some(json!({"base_fen": 1, "per_kg": 2})),
            400,
            "INVALID_INPUT",
        ),
    ];
    let before = (
        stock(&shop, &sku).await,
        order(&shop, &paid).await,
        shop.call("GET", "/me/addresses", Some(&token), None).await.body,
    );
    for (name, who, method, path, body, status, code) in rows {
        let a = match who {
            Some(t) => shop.call(method, &path, Some(t), body).await,
            None => shop.admin(method, &path, body).await,
        };
        assert_eq!((a.status, a.code()), (status, code), "{name}: {}", a.body);
    }
    let after = (
        stock(&shop, &sku).await,
        order(&shop, &paid).await,
        shop.call("GET", "/me/addresses", Some(&token), None).await.body,
    );
    assert_eq!(after, before, "refusals changed nothing");
    // With the book emptied, an order names no address and is refused.
    assert_eq!(shop.call("DELETE", &format!("/me/addresses/{first_id}"), Some(&token), None).await.status, 200);
    let none = shop
        .call(
            "POST",
            "/orders",
            Some(&token),
            Some(json!({"request_id": rid(), "items": [{"sku_id": sku, "quantity": 1}]})),
        )
        .await;
    assert_eq!((none.status, none.code()), (422, "ADDRESS_REQUIRED"));
    // Shipping twice, and delivered twice, once shipped.
    assert_eq!(shop.admin("POST", &ship_path, Some(json!({"carrier": "SF", "tracking_no": "SF77"}))).await.status, 200);
    let twice = shop.admin("POST", &ship_path, Some(json!({"carrier": "SF", "tracking_no": "SF78"}))).await;
    assert_eq!((twice.status, twice.code()), (409, "ALREADY_SHIPPED"));
    assert_eq!(shop.admin("POST", &format!("/admin/orders/{paid}/delivered"), None).await.status, 200);
    let again = shop.admin("POST", &format!("/admin/orders/{paid}/delivered"), None).await;
    assert_eq!((again.status, again.code()), (409, "INVALID_TRANSITION"), "marking delivered twice");
}

/// A return with goods: asked, approved with the return address, sent, received (the refund
/// of those lines goes through), and back in stock only once marked sellable; one never sent
/// lapses; nothing comes back after the order completed.
async fn a_return_goes_from_request_to_restock(b: Backend) {
    let shop = Shop::start(b).await;
    let (_, sku) = product_with_stock(&shop, 1200, &[("SH01", 5)]).await;
    let token = shop.login("returner").await;
    let other = shop.login("stranger").await;
    let order = no(&place(&shop, &token, json!([{"sku_id": sku, "quantity": 2}])).await);
    pay_and_wait(&shop, &token, &order).await;
    let early = shop
        .call(
            "POST",
            &format!("/orders/{order}/returns"),
            Some(&token),
            Some(json!({"request_id": "early-00001", "lines": {sku.clone(): 1}})),
        )
        .await;
    assert_eq!((early.status, early.code()), (409, "NOT_RETURNABLE"), "nothing shipped yet");
    assert_eq!(
        shop.admin(
            "POST",
            &format!("/admin/orders/{order}/shipments/SH01"),
            Some(json!({"carrier": "YTO", "tracking_no": "YT9"}))
        )
        .await
        .status,
        200
    );
    assert_eq!(stock(&shop, &sku).await, 3);
    let asked = shop
        .call(
            "POST",
            &format!("/orders/{order}/returns"),
            Some(&token),
            Some(json!({"request_id": "back-000001", "lines": {sku.clone(): 1}, "reason": "尺码不合适"})),
        )
        .await;
    assert_eq!((asked.status, asked.body["state"].clone()), (201, json!("requested")), "{}", asked.body);
    let again = shop
        .call(
            "POST",
            &format!("/orders/{order}/returns"),
            Some(&token),
            Some(json!({"request_id": "back-000001", "lines": {sku.clone(): 1}})),
        )
        .await;
    assert_eq!(again.body["id"], asked.body["id"], "the same request is the same return");
    let id = asked.body["id"].as_str().unwrap().to_owned();
    let path = |a: &str| format!("/admin/returns/{order}/{id}/{a}");
    let parcel = format!("/orders/{order}/returns/{id}/parcel");
    let refused_early =
        shop.call("POST", &parcel, Some(&token), Some(json!({"express_company": "SF", "tracking_no": "SF5"}))).await;
    assert_eq!((refused_early.status, refused_early.code()), (409, "INVALID_TRANSITION"), "not approved yet");
    let queue = shop.admin("GET", "/admin/returns?state=requested", None).await;
    assert!(queue.body["items"].as_array().unwrap().iter().any(|r| r["id"] == json!(id)));
    let approved = shop.admin("POST", &path("approve"), Some(json!({"return_address": {"name": "退货组", "phone": "021-55556666", "province": "上海市", "city": "上海市", "district": "浦东新区", "detail": "仓库路1号"}}))).await;
    assert_eq!((approved.status, approved.body["state"].clone()), (200, json!("approved")), "{}", approved.body);
    let nosy =
        shop.call("POST", &parcel, Some(&other), Some(json!({"express_company": "SF", "tracking_no": "SF5"}))).await;
    assert_eq!((nosy.status, nosy.code()), (404, "NOT_FOUND"), "someone else's return");
    let bad =
        shop.call("POST", &parcel, Some(&token), Some(json!({"express_company": "PIGEON", "tracking_no": "1"}))).await;
    assert_eq!((bad.status, bad.code()), (400, "INVALID_INPUT"));
    let sent =
        shop.call("POST", &parcel, Some(&token), Some(json!({"express_company": "SF", "tracking_no": "SF5"}))).await;
    assert_eq!((sent.status, sent.body["state"].clone()), (200, json!("sent")));
    let got = shop.admin("POST", &path("received"), None).await;
    assert_eq!((got.status, got.body["state"].clone()), (200, json!("received")), "{}", got.body);
    let done = wait_order(&shop, &order, |v| v["order"]["refunded"] == json!(1200)).await;
    assert_eq!(done["refunds"][0]["lines"], json!({sku.clone(): 1}));
    assert_eq!(stock(&shop, &sku).await, 3, "a returned unit waits for its check");
    let sellable = shop.admin("POST", &path("sellable"), None).await;
    assert_eq!((sellable.status, sellable.body["state"].clone()), (200, json!("restocked")), "{}", sellable.body);
    assert_eq!(stock(&shop, &sku).await, 4);
    let twice = shop.admin("POST", &path("sellable"), None).await;
    assert_eq!((twice.status, twice.code()), (409, "INVALID_TRANSITION"));
    assert_eq!(stock(&shop, &sku).await, 4, "never restocked twice");
    // Another, approved and never sent: it lapses after RETURN_SEND_DAYS.
    let idle = shop
        .call(
            "POST",
            &format!("/orders/{order}/returns"),
            Some(&token),
            Some(json!({"request_id": "idle-000001", "lines": {sku.clone(): 1}})),
        )
        .await;
    let idle_id = idle.body["id"].as_str().unwrap().to_owned();
    shop.admin("POST", &format!("/admin/returns/{order}/{idle_id}/approve"), Some(json!({"return_address": {"name": "退货组", "phone": "021-55556666", "province": "上海市", "city": "上海市", "district": "浦东新区", "detail": "仓库路1号"}}))).await;
    // The job lists approved returns through gsi1, which trails the write on DynamoDB.
    until_listed(&shop, &idle_id).await;
    let now = domain::clock::now();
    assert_eq!(app::returns::lapse_overdue(&shop.app, now + 6 * 86_400).await.unwrap(), 0);
    assert_eq!(app::returns::lapse_overdue(&shop.app, now + 7 * 86_400 + 60).await.unwrap(), 1);
    let lapsed = app::returns::get(&shop.app, &e2e::id(&order), &idle_id).await.unwrap();
    assert_eq!(lapsed.state, domain::returns::ReturnState::Lapsed);
    // After completion nothing comes back, and no refund starts.
    shop.call("POST", &format!("/orders/{order}/receive"), Some(&token), None).await;
    indexed_in_phase(&shop, domain::order::Phase::Received, &order).await;
    let completed = app::fulfilment::advance(&shop.app, now + 8 * 86_400).await.unwrap();
    assert_eq!(completed.completed, 1);
    let late = shop
        .call(
            "POST",
            &format!("/orders/{order}/returns"),
            Some(&token),
            Some(json!({"request_id": "late-000001", "lines": {sku.clone(): 1}})),
        )
        .await;
    assert_eq!((late.status, late.code()), (409, "NOT_RETURNABLE"), "return after the window");
    let late_refund = shop
        .call(
            "POST",
            &format!("/orders/{order}/refunds"),
            Some(&token),
            Some(json!({"request_id": "late-000002", "amount_fen": 100})),
        )
        .await;
    assert_eq!((late_refund.status, late_refund.code()), (409, "NOT_REFUNDABLE"), "refund after the window");
}

async fn robot_says(shop: &Shop, n: usize) -> Vec<Value> {
    for _ in 0..200 {
        let m = shop.sim.sim.robot_messages();
        if m.len() >= n {
            return m;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the operators' robot got {:?}, not {n} messages", shop.sim.sim.robot_messages());
}

/// A purchase that takes a SKU below its safety stock raises one alert, told to the
/// operators' robot; it fires again only after stock recovered and fell again.
async fn a_stock_alert_fires_once_per_episode(b: Backend) {
    let shop = Shop::start_tuned(b, |s| {
        s.operator_webhook = Some(format!("{}/cgi-bin/webhook/send?key=ops-room", s.wechat.api_base));
    })
    .await;
    let (_, sku) = product_with_stock(&shop, 300, &[("SH01", 10)]).await;
    // 5 a day for 1 day of replenishment: safety stock 6. Its name, as someone typed it, tries
    // the robot's markdown: a link, a mention of everyone, a heading.
    let typed = "[点我](http://evil.example) <@all>\n### 抢";
    let patch = shop
        .admin(
            "PATCH",
            &format!("/admin/skus/{sku}"),
            Some(json!({"daily_sales": 5, "replenish_days": 1, "name": typed})),
        )
        .await;
    assert_eq!(patch.status, 200, "{}", patch.body);
    let token = shop.login("stockpiler").await;
    let buy = |n: i64| {
        let shop = &shop;
        let token = token.clone();
        let sku = sku.clone();
        async move {
            let o = place(shop, &token, json!([{"sku_id": sku, "quantity": n}])).await;
            pay_and_wait(shop, &token, &no(&o)).await;
        }
    };
    buy(3).await; // 7 left: above 6
    buy(2).await; // 5 left: below
    let said = robot_says(&shop, 1).await;
    let content = said[0]["markdown"]["content"].as_str().unwrap();
    assert!(content.contains(&sku) && content.contains("库存预警") && content.contains('5'), "{content}");
    assert!(content.contains("点我") && content.contains("evil.example"), "the name is shown: {content}");
    for markup in ["](", "<@", "[点我", "\n###"] {
        assert!(!content.contains(markup), "{markup:?} reached the robot as markdown: {content}");
    }
    let open = shop.admin("GET", "/admin/stock-alerts", None).await;
    assert_eq!(open.body["items"][0]["sku_id"], json!(sku));
    buy(1).await; // 4 left: still the same episode
    // Wait for that payment's consumer to finish (its units counted, nothing left pending)
    // rather than sleeping and hoping.
    let mut counted = 0;
    for _ in 0..200 {
        let days = store::repo::stock_alerts::sales_since(shop.app.store.as_ref(), &e2e::id(&sku), "2000-01-01")
            .await
            .unwrap();
        counted = days.iter().sum::<i64>();
        let pending = store::repo::outbox::pending(shop.app.store.as_ref(), 10).await.unwrap();
        if counted == 6 && pending.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(counted, 6, "every unit paid is counted once");
    assert_eq!(shop.sim.sim.robot_messages().len(), 1, "one alert per episode");
    // Replenished: the sweep ends the episode; the next fall alerts again.
    adjust(&shop, &sku, "SH01", 10).await;
    assert_eq!(app::stock_alerts::sweep(&shop.app, domain::clock::now()).await.unwrap(), 1);
    assert!(shop.admin("GET", "/admin/stock-alerts", None).await.body["items"].as_array().unwrap().is_empty());
    buy(9).await; // 5 left
    let again = robot_says(&shop, 2).await;
    assert_eq!(again.len(), 2, "a new episode, a new alert");
}

/// Stock an operator (or an ERP) takes down is checked like a sale: one alert per episode.
/// A SKU without its own replenishment days takes the shop's default (7): 1 a day × 7 × 1.2
/// is a safety stock of 9. A message the robot refuses is not lost: it stays listed for
/// operators and goes out on a later attempt; the shop keeps under the robot's 20 a minute.
async fn stock_taken_down_by_hand_alerts_and_refused_alerts_are_retried(b: Backend) {
    let shop = Shop::start_tuned(b, |s| {
        s.operator_webhook = Some(format!("{}/cgi-bin/webhook/send?key=ops-room", s.wechat.api_base));
    })
    .await;
    let (_, sku) = product_with_stock(&shop, 300, &[("SH01", 10)]).await;
    let patch = shop.admin("PATCH", &format!("/admin/skus/{sku}"), Some(json!({"daily_sales": 1}))).await;
    assert_eq!(patch.status, 200, "{}", patch.body);
    let report = shop.admin("GET", "/admin/safety-stock", None).await;
    assert!(report.body["items"].as_array().unwrap().is_empty(), "10 is above 9: {}", report.body);
    shop.sim.sim.refuse_robot_messages(1);
    adjust(&shop, &sku, "SH01", -2).await; // 8 left: below 9
    let mut listed = Value::Null;
    for _ in 0..200 {
        let u = shop.admin("GET", "/admin/alerts/undelivered", None).await;
        // Claimed (its attempt counted) and then refused (its error noted).
        if u.body["items"][0]["last_error"].is_string() {
            listed = u.body["items"][0].clone();
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(listed["about"], json!(sku), "the refused alert is listed: {listed}");
    assert!(listed["last_error"].as_str().unwrap().contains("93000"), "{listed}");
    let wait = listed["next_attempt_at"].as_i64().unwrap() - domain::clock::now();
    assert!((20..=31).contains(&wait), "retried after about 30 s, not at once: {wait}");
    assert!(shop.sim.sim.robot_messages().is_empty());
    let report = shop.admin("GET", "/admin/safety-stock", None).await;
    assert_eq!(report.body["items"][0]["safety_stock"], json!(9), "{}", report.body);
    assert_eq!(report.body["items"][0]["replenish_days"], json!(7));
    // Thirty seconds on: the retry is due, and goes out.
    let id = listed["id"].as_str().unwrap();
    store::repo::outbox::failed(shop.app.store.as_ref(), id, "as if 30 s passed", 0).await.unwrap();
    let drained = app::outbox::drain(&shop.app, 100).await.unwrap();
    assert!(drained.delivered >= 1, "{drained:?}");
    let said = robot_says(&shop, 1).await;
    assert!(said[0]["markdown"]["content"].as_str().unwrap().contains(&sku));
    assert!(shop.admin("GET", "/admin/alerts/undelivered", None).await.body["items"].as_array().unwrap().is_empty());
    // Further removals in the same episode say nothing more.
    adjust(&shop, &sku, "SH01", -1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    app::outbox::drain(&shop.app, 100).await.unwrap();
    assert_eq!(shop.sim.sim.robot_messages().len(), 1, "one alert per episode");
    // The robot's 20 a minute: the shop sends at most that many in a minute (the alerts
    // above count too), the rest wait, and the robot never answers 45009.
    for _ in 0..3 {
        let before = shop.sim.sim.robot_messages().len();
        let minute = domain::clock::now() / 60;
        let (mut sent, mut held) = (0, 0);
        for i in 0..25 {
            match app::alerts::tell(&shop.app, &format!("测试 {i}")).await {
                Ok(()) => sent += 1,
                Err(e) => {
                    assert_eq!(e.code.as_str(), "BUSY", "{e:?}");
                    held += 1;
                }
            }
        }
        assert_eq!(shop.sim.sim.robot_messages().len() - before, sent, "every message sent was taken");
        if domain::clock::now() / 60 == minute {
            assert!(sent <= 20 && held >= 5, "{sent} sent, {held} held in one minute");
            return;
        }
    }
    panic!("three runs crossed a minute");
}

/// Units already on their way back in one return cannot be asked for in another, one after
/// the other or both at once; a refused return frees its units.
async fn units_come_back_in_one_return_only(b: Backend) {
    let shop = Shop::start(b).await;
    let (_, sku) = product_with_stock(&shop, 1200, &[("SH01", 10)]).await;
    let token = shop.login("twice-returner").await;
    let order = no(&place(&shop, &token, json!([{"sku_id": sku, "quantity": 3}])).await);
    pay_and_wait(&shop, &token, &order).await;
    let ship = shop
        .admin(
            "POST",
            &format!("/admin/orders/{order}/shipments/SH01"),
            Some(json!({"carrier": "YTO", "tracking_no": "YT7"})),
        )
        .await;
    assert_eq!(ship.status, 200, "{}", ship.body);
    let ask = |id: &'static str, n: i64| {
        let (shop, token, order, sku) = (&shop, token.clone(), order.clone(), sku.clone());
        async move {
            let body = json!({"request_id": id, "lines": {sku: n}});
            shop.call("POST", &format!("/orders/{order}/returns"), Some(&token), Some(body)).await
        }
    };
    let first = ask("all-three-01", 3).await;
    assert_eq!(first.status, 201, "{}", first.body);
    let second = ask("all-three-02", 3).await;
    assert_eq!((second.status, second.code()), (400, "INVALID_INPUT"), "the three are in a return: {}", second.body);
    let one_more = ask("one-more-001", 1).await;
    assert_eq!(one_more.status, 400, "{}", one_more.body);
    // Refused: its units are free again, for one return at a time.
    let id = first.body["id"].as_str().unwrap();
    let refused = shop.admin("POST", &format!("/admin/returns/{order}/{id}/refuse"), None).await;
    assert_eq!(refused.status, 200, "{}", refused.body);
    let (a, c) = tokio::join!(ask("at-once-0001", 2), ask("at-once-0002", 2));
    let mut statuses = [a.status, c.status];
    statuses.sort_unstable();
    assert_eq!(statuses, [201, 400], "{} / {}", a.body, c.body);
    let rest = ask("the-last-001", 1).await;
    assert_eq!(rest.status, 201, "one unit is left: {}", rest.body);
}

/// The closer's stages run whatever the others do: an open alert whose SKU no longer reads
/// fails the alert sweep, and the later stages (the outbox sweep, the refund retry) still run;
/// the error names the stage that failed and carries what the others did.
async fn a_failing_stage_of_the_closer_stops_no_other(b: Backend) {
    let shop = Shop::start(b).await;
    let ghost: domain::ids::SkuId = e2e::id("S0000000000000000000000000000dead");
    let alert = domain::stock_alert::StockAlert {
        sku_id: ghost,
        episode: "e1".into(),
        name: "已删除".into(),
        available: 0,
        safety_stock: 1,
        raised_at: 0,
    };
    shop.app.store.transact(vec![store::repo::stock_alerts::raise(&alert).unwrap()]).await.unwrap();
    let run = shop.admin("POST", "/admin/jobs/close-unpaid", None).await;
    assert_eq!(run.status, 503, "{}", run.body);
    let details = &run.body["error"]["details"];
    let failed: Vec<&String> = details["failed"].as_object().unwrap().keys().collect();
    assert_eq!(failed, ["alerts_cleared"], "{}", run.body);
    for stage in ["closer", "fulfilment", "returns_lapsed", "outbox", "refunds_retried"] {
        assert!(details["done"].get(stage).is_some(), "{stage} ran: {}", run.body);
    }
}

/// A full-reduction campaign, a coupon scoped to a category and a gift by threshold, priced
/// together on one order; the scoped discount comes back with its lines; the operator's
/// stacking setting; gifts while they last; and what promotions refuse.
async fn promotions_price_together(b: Backend) {
    let shop = Shop::start(b).await;
    warehouse(&shop, "SH01").await;
    let fruit =
        shop.admin("POST", "/admin/products", Some(json!({"title": "苹果", "category": "fruit"}))).await.body["id"]
            .as_str()
            .unwrap()
            .to_owned();
    let tea = shop.admin("POST", "/admin/products", Some(json!({"title": "龙井", "category": "tea"}))).await.body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let apple = add_sku(&shop, &fruit, json!({"name": "一箱", "kind": "main", "price_fen": 6000})).await;
    let leaves = add_sku(&shop, &tea, json!({"name": "一罐", "kind": "main", "price_fen": 5000})).await;
    // The gift sits on a product of its own, so only the threshold rule brings it.
    let giveaways =
        shop.admin("POST", "/admin/products", Some(json!({"title": "赠品库", "category": "gifts"}))).await.body["id"]
            .as_str()
            .unwrap()
            .to_owned();
    let cup = add_sku(&shop, &giveaways, json!({"name": "茶杯", "kind": "gift", "price_fen": 0})).await;
    for (sku, n) in [(&apple, 10), (&leaves, 10), (&cup, 1)] {
        adjust(&shop, sku, "SH01", n).await;
    }
    for p in [&fruit, &tea] {
        assert_eq!(shop.admin("POST", &format!("/admin/products/{p}/publish"), None).await.status, 200);
    }
    let promos = |stacking: &str| {
        json!({
            "full_reduction": {"name": "满100减10，满200减30", "tiers": [{"min_fen": 10000, "off_fen": 1000}, {"min_fen": 20000, "off_fen": 3000}], "valid_from": 0, "valid_to": 4_000_000_000i64},
            "gifts": [{"name": "满140赠茶杯", "min_fen": 14000, "gift_sku": cup, "valid_from": 0, "valid_to": 4_000_000_000i64}],
            "stacking": stacking,
        })
    };
    let set = shop.admin("PUT", "/admin/promotions", Some(promos("both"))).await;
    assert_eq!(set.status, 200, "{}", set.body);
    let scoped = shop
        .admin(
            "POST",
            "/admin/coupons",
            Some(json!({"name": "茶叶满40减5", "rule": {"kind": "threshold", "min_spend": 4000, "amount_off": 500},
        "total": 10, "per_user": 3, "valid_from": 0, "valid_to": 4_000_000_000i64, "scope": {"categories": ["tea"]}})),
        )
        .await;
    assert_eq!(scoped.status, 201, "{}", scoped.body);
    let template = scoped.body["id"].as_str().unwrap().to_owned();
    let token = shop.login("bargain").await;
    let claim_path = format!("/coupons/{template}/claim");
    let claim = || shop.call("POST", &claim_path, Some(&token), None);
    let coupon = claim().await.body["coupon_id"].as_str().unwrap().to_owned();
    let o = shop
        .call(
            "POST",
            "/orders",
            Some(&token),
            Some(json!({"request_id": rid(),
        "items": [{"sku_id": apple, "quantity": 1}, {"sku_id": leaves, "quantity": 2}], "coupon_id": coupon})),
        )
        .await;
    assert_eq!(o.status, 201, "{}", o.body);
    // 160 yuan: the campaign's 10 split 60:100, then 5 off the tea line only.
    assert_eq!(
        (
            o.body["subtotal"].clone(),
            o.body["campaign_discount"].clone(),
            o.body["discount"].clone(),
            o.body["payable"].clone()
        ),
        (json!(16000), json!(1000), json!(1500), json!(14500))
    );
    let line = |sku: &str| {
        o.body["lines"].as_array().unwrap().iter().find(|l| l["sku_id"] == json!(sku)).unwrap()["discount"].clone()
    };
    assert_eq!((line(&apple), line(&leaves)), (json!(375), json!(1125)));
    assert!(o.body["gifts"].as_array().unwrap().iter().any(|g| g["sku_id"] == json!(cup)), "145 yuan reaches the gift");
    assert_eq!(stock(&shop, &cup).await, 0);
    let order = no(&o);
    pay_and_wait(&shop, &token, &order).await;
    // One tin back: its amount less its share of both discounts, pro rata.
    let r = shop
        .call(
            "POST",
            &format!("/orders/{order}/refunds"),
            Some(&token),
            Some(json!({"request_id": "tin-0000001", "lines": {leaves.clone(): 1}})),
        )
        .await;
    assert_eq!((r.status, r.body["amount"].clone()), (202, json!((10000 - 1125) / 2)), "{}", r.body);
    // The gift ran out: the next order comes without it.
    let next = shop
        .call(
            "POST",
            "/orders",
            Some(&token),
            Some(json!({"request_id": rid(), "items": [{"sku_id": leaves, "quantity": 3}]})),
        )
        .await;
    assert_eq!(next.status, 201, "{}", next.body);
    assert!(next.body["gifts"].as_array().unwrap().is_empty(), "gifts while they last");
    assert_eq!(next.body["campaign_discount"], json!(1000));
    // Exclusive: an order with a coupon gets no campaign.
    assert_eq!(shop.admin("PUT", "/admin/promotions", Some(promos("exclusive"))).await.status, 200);
    let second = claim().await.body["coupon_id"].as_str().unwrap().to_owned();
    let excl = shop
        .call(
            "POST",
            "/orders",
            Some(&token),
            Some(json!({"request_id": rid(), "items": [{"sku_id": leaves, "quantity": 2}], "coupon_id": second})),
        )
        .await;
    assert_eq!(
        (excl.body["campaign_discount"].clone(), excl.body["discount"].clone()),
        (json!(0), json!(500)),
        "{}",
        excl.body
    );
    // Refusals.
    let third = claim().await.body["coupon_id"].as_str().unwrap().to_owned();
    let fruit_only = shop
        .call(
            "POST",
            "/orders",
            Some(&token),
            Some(json!({"request_id": rid(), "items": [{"sku_id": apple, "quantity": 1}], "coupon_id": third})),
        )
        .await;
    assert_eq!((fruit_only.status, fruit_only.code()), (422, "COUPON_NOT_APPLICABLE"), "a tea coupon on fruit");
    let bad: Vec<(&str, &str, &str, Value)> = vec![
        (
            "a campaign tier taking off more than its threshold",
            "PUT",
            "/admin/promotions",
            json!({"full_reduction": {"name": "x", "tiers": [{"min_fen": 100, "off_fen": 200}], "valid_from": 0, "valid_to": 10}}),
        ),
        (
            "a gift rule naming a SKU that is no gift",
            "PUT",
            "/admin/promotions",
            json!({"gifts": [{"name": "x", "min_fen": 100, "gift_sku": apple, "valid_from": 0, "valid_to": 10}]}),
        ),
        (
            "a gift rule naming no SKU of the catalog",
            "PUT",
            "/admin/promotions",
            json!({"gifts": [{"name": "x", "min_fen": 100, "gift_sku": "Snope", "valid_from": 0, "valid_to": 10}]}),
        ),
        ("a stacking rule the shop does not have", "PUT", "/admin/promotions", json!({"stacking": "sometimes"})),
        (
            "a coupon scope that names nothing",
            "POST",
            "/admin/coupons",
            json!({"name": "x", "rule": {"kind": "no_threshold", "amount_off": 1}, "total": 1, "per_user": 1, "valid_from": 0, "valid_to": 10, "scope": {}}),
        ),
    ];
    for (name, m, path, body) in bad {
        let a = shop.admin(m, path, Some(body)).await;
        assert_eq!((a.status, a.code()), (400, "INVALID_INPUT"), "{name}: {}", a.body);
    }
}

on_both_stores!(
    a_failing_stage_of_the_closer_stops_no_other,
    units_come_back_in_one_return_only,
    promotions_price_together,
    a_stock_alert_fires_once_per_episode,
    stock_taken_down_by_hand_alerts_and_refused_alerts_are_retried,
    a_return_goes_from_request_to_restock,
    an_order_goes_from_address_to_completed,
    receipt_is_confirmed_for_the_shopper_and_uploads_retry,
    wechat_shipping_answers_as_documented,
    freight_is_charged_once_and_returned_in_full,
    fulfilment_refuses_what_cannot_be,
);

async fn until_listed(shop: &Shop, return_id: &str) {
    for _ in 0..200 {
        let (approved, _) =
            store::repo::returns::in_state(shop.app.store.as_ref(), domain::returns::ReturnState::Approved, 500, None)
                .await
                .unwrap();
        if approved.iter().any(|r| r.id == return_id) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("return {return_id} never listed as approved");
}
