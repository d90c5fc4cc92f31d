//! The webhook, table-driven: every way a notify can be wrong, each posted to `/pay/notify`
//! with the status WeChat must see and what must (not) change. The shop trusts a platform key
//! this test holds, so the test can sign anything it likes, as WeChat (or a forger) would.

use std::sync::OnceLock;

use e2e::pay::{APIV3_KEY, APPID, MCHID};
use e2e::shop::*;
use e2e::{Backend, Shop, on_both_stores};
use serde_json::{Value, json};
use wechat::pay::ApiV3Key;
use wechat::pay::keys::MerchantKey;
use wechat::pay::sign::response_message;

const KEY_ID: &str = "PUB_KEY_ID_0000000000000000000000000000TEST";

fn platform() -> &'static (MerchantKey, String) {
    static K: OnceLock<(MerchantKey, String)> = OnceLock::new();
    K.get_or_init(|| {
        let (k, _) = MerchantKey::generate().unwrap();
        let pem = k.public_key_pem().unwrap();
        (k, pem)
    })
}

fn other_key() -> &'static MerchantKey {
    static K: OnceLock<MerchantKey> = OnceLock::new();
    K.get_or_init(|| MerchantKey::generate().unwrap().0)
}

/// A notify envelope around `resource` (encrypted with `key`, with `algorithm`).
fn envelope(event_type: &str, resource: &[u8], key: &str, algorithm: &str) -> String {
    let nonce = "0123456789ab";
    let aad = if event_type.starts_with("REFUND") { "refund" } else { "transaction" };
    let ct = ApiV3Key::new(key).unwrap().encrypt(nonce, aad, resource).unwrap();
    json!({"id": uuid::Uuid::new_v4().to_string(), "create_time": "2026-11-25T10:00:00+08:00", "resource_type": "encrypt-resource",
        "event_type": event_type, "summary": "x",
        "resource": {"original_type": aad, "algorithm": algorithm, "ciphertext": ct, "associated_data": aad, "nonce": nonce}})
    .to_string()
}

struct Notify {
    body: Vec<u8>,
    headers: Vec<(&'static str, String)>,
}

fn signed(body: String, signer: &MerchantKey, ts: i64) -> Notify {
    let nonce = "NONCE123";
    let sig = signer.sign(&response_message(&ts.to_string(), nonce, body.as_bytes())).unwrap();
    Notify {
        body: body.into_bytes(),
        headers: vec![
            ("Wechatpay-Timestamp", ts.to_string()),
            ("Wechatpay-Nonce", nonce.into()),
            ("Wechatpay-Signature", sig),
            ("Wechatpay-Serial", KEY_ID.into()),
            ("Wechatpay-Signature-Type", "WECHATPAY2-SHA256-RSA2048".into()),
        ],
    }
}

fn tx(order_no: &str, tid: &str, total: i64) -> Value {
    json!({"appid": APPID, "mchid": MCHID, "out_trade_no": order_no, "transaction_id": tid, "trade_type": "JSAPI",
        "trade_state": "SUCCESS", "trade_state_desc": "支付成功", "success_time": "2026-11-25T10:00:00+08:00",
        "amount": {"total": total, "payer_total": total, "currency": "CNY", "payer_currency": "CNY"}, "payer": {"openid": "o"}})
}

fn with(mut v: Value, path: &str, new: Value) -> Value {
    v[path] = new;
    v
}

fn without(mut v: Value, field: &str) -> Value {
    v.as_object_mut().unwrap().remove(field);
    v
}

async fn post(shop: &Shop, n: &Notify) -> u16 {
    let mut req = shop
        .http
        .post(format!("{}/pay/notify", shop.base))
        .header("Content-Type", "application/json")
        .body(n.body.clone());
    for (k, v) in &n.headers {
        req = req.header(*k, v);
    }
    req.send().await.unwrap().status().as_u16()
}

/// (name, the notify, expected status, whether a case should be opened)
fn cases(order_no: &str, payable: i64, now: i64) -> Vec<(&'static str, Notify, u16, Option<&'static str>)> {
    let (k, _) = platform();
    let good = || tx(order_no, "4200000000000000000000009999", payable).to_string();
    let ok_env = || envelope("TRANSACTION.SUCCESS", good().as_bytes(), APIV3_KEY, "AEAD_AES_256_GCM");
    let mut out: Vec<(&str, Notify, u16, Option<&str>)> = Vec::new();
    for (name, i) in
        [("no timestamp header", 0), ("no nonce header", 1), ("no signature header", 2), ("no serial header", 3)]
    {
        let mut n = signed(ok_env(), k, now);
        n.headers.remove(i);
        out.push((name, n, 400, None));
    }
    let tweak = |f: &dyn Fn(&mut Notify)| {
        let mut n = signed(ok_env(), k, now);
        f(&mut n);
        n
    };
    out.push(("signature not base64", tweak(&|n| n.headers[2].1 = "!!!".into()), 401, None));
    out.push((
        "signature probe",
        tweak(&|n| n.headers[2].1 = format!("WECHATPAY/SIGNTEST/{}", n.headers[2].1)),
        401,
        None,
    ));
    out.push(("signed by another key", signed(ok_env(), other_key(), now), 401, None));
    out.push((
        "unknown serial",
        tweak(&|n| n.headers[3].1 = "5273F570169F776DDA526309D9871F33A89973CC".into()),
        401,
        None,
    ));
    out.push(("six minutes old", signed(ok_env(), k, now - 360), 401, None));
    out.push(("six minutes ahead", signed(ok_env(), k, now + 360), 401, None));
    out.push(("timestamp not a number", tweak(&|n| n.headers[0].1 = "yesterday".into()), 401, None));
    out.push(("nonce changed", tweak(&|n| n.headers[1].1 = "NONCE124".into()), 401, None));
    out.push(("body byte changed", tweak(&|n| *n.body.last_mut().unwrap() = b' '), 401, None));
    out.push(("body extended", tweak(&|n| n.body.extend_from_slice(b" ")), 401, None));
    out.push(("body emptied", tweak(&|n| n.body.clear()), 401, None));
    out.push(("signed but not JSON", signed("not json".into(), k, now), 401, None));
    out.push((
        "unknown algorithm",
        signed(envelope("TRANSACTION.SUCCESS", good().as_bytes(), APIV3_KEY, "AEAD_SM4_GCM"), k, now),
        401,
        None,
    ));
    out.push((
        "another APIv3 key",
        signed(
            envelope("TRANSACTION.SUCCESS", good().as_bytes(), "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz", "AEAD_AES_256_GCM"),
            k,
            now,
        ),
        401,
        None,
    ));
    out.push((
        "resource not JSON",
        signed(envelope("TRANSACTION.SUCCESS", b"garbage", APIV3_KEY, "AEAD_AES_256_GCM"), k, now),
        401,
        None,
    ));
    let env = |v: Value| {
        signed(envelope("TRANSACTION.SUCCESS", v.to_string().as_bytes(), APIV3_KEY, "AEAD_AES_256_GCM"), k, now)
    };
    let base = || tx(order_no, "4200000000000000000000009999", payable);
    out.push(("not paid", env(with(base(), "trade_state", json!("NOTPAY"))), 204, None));
    out.push((
        "one fen short",
        env(with(
            with(base(), "amount", json!({"total": payable - 1, "currency": "CNY"})),
            "transaction_id",
            json!("4200000000000000000000001001"),
        )),
        204,
        Some("amount_mismatch"),
    ));
    out.push((
        "one fen over",
        env(with(
            with(base(), "amount", json!({"total": payable + 1, "currency": "CNY"})),
            "transaction_id",
            json!("4200000000000000000000001002"),
        )),
        204,
        Some("amount_mismatch"),
    ));
    out.push((
        "another merchant",
        env(with(with(base(), "mchid", json!("1999999999")), "transaction_id", json!("4200000000000000000000001003"))),
        204,
        Some("foreign_payment"),
    ));
    out.push((
        "another mini-program",
        env(with(
            with(base(), "appid", json!("wx9999999999999999")),
            "transaction_id",
            json!("4200000000000000000000001004"),
        )),
        204,
        Some("foreign_payment"),
    ));
    out.push((
        "unknown order",
        env(with(
            with(base(), "out_trade_no", json!("20990101000000000000")),
            "transaction_id",
            json!("4200000000000000000000001005"),
        )),
        204,
        Some("unknown_order"),
    ));
    out.push((
        "no transaction id",
        env(without(base(), "transaction_id")),
        204,
        Some("payment_without_transaction_id"),
    ));
    out.push((
        "an event the shop ignores",
        signed(envelope("PAYSCORE.USER_OPEN_SERVICE", b"{}", APIV3_KEY, "AEAD_AES_256_GCM"), k, now),
        204,
        None,
    ));
    let refund = json!({"mchid": MCHID, "out_trade_no": order_no, "transaction_id": "42", "out_refund_no": "Rnope", "refund_id": "503",
        "refund_status": "SUCCESS", "amount": {"total": payable, "refund": 1, "payer_total": payable, "payer_refund": 1}});
    out.push((
        "refund the shop never asked for",
        signed(envelope("REFUND.SUCCESS", refund.to_string().as_bytes(), APIV3_KEY, "AEAD_AES_256_GCM"), k, now),
        204,
        Some("unknown_refund"),
    ));
    out
}

async fn every_wrong_notify_is_refused_or_set_aside(b: Backend) {
    let (_, pem) = platform();
    let shop = Shop::start_full(b, false, Some((KEY_ID.into(), pem.clone()))).await;
    let (_, sku) = product_with_stock(&shop, 2500, &[("SH01", 5)]).await;
    let token = shop.login("webhook").await;
    let o = place(&shop, &token, json!([{"sku_id": sku, "quantity": 1}])).await;
    let order_no = o.body["order_no"].as_str().unwrap().to_owned();
    let mut before = order(&shop, &order_no).await;
    let now = domain::clock::now();
    let mut expected_cases = Vec::new();
    for (name, n, status, case) in cases(&order_no, 2500, now) {
        assert_eq!(post(&shop, &n).await, status, "{name}");
        let after = order(&shop, &order_no).await;
        if case == Some("amount_mismatch") {
            // Money WeChat holds for the order that the order cannot take: the order closes
            // (never paid), its stock comes back, and the payment is sent back.
            assert_eq!(after["order"]["state"], json!("closed"), "{name}");
            assert_eq!(stock(&shop, &sku).await, 5, "{name}");
            before = after;
        } else {
            assert_eq!(after["order"], before["order"], "{name} changed the order");
        }
        if let Some(c) = case {
            expected_cases.push(c);
        }
    }
    let listed = shop.admin("GET", "/admin/cases?limit=100", None).await;
    for c in expected_cases {
        assert!(listed.body["items"].as_array().unwrap().iter().any(|x| x["kind"] == c), "a {c} case is open");
    }
    // The positive control: the same notify, correct, pays an order once.
    let o = place(&shop, &token, json!([{"sku_id": sku, "quantity": 1}])).await;
    let order_no = o.body["order_no"].as_str().unwrap().to_owned();
    let good = signed(
        envelope(
            "TRANSACTION.SUCCESS",
            tx(&order_no, "4200000000000000000000009998", 2500).to_string().as_bytes(),
            APIV3_KEY,
            "AEAD_AES_256_GCM",
        ),
        &platform().0,
        now,
    );
    assert_eq!(post(&shop, &good).await, 204);
    let paid = order(&shop, &order_no).await;
    assert_eq!(paid["order"]["state"], json!("paid"));
    assert_eq!(post(&shop, &good).await, 204, "a duplicate is acknowledged");
    assert_eq!(order(&shop, &order_no).await["order"], paid["order"], "and changes nothing");
    assert_eq!(stock(&shop, &sku).await, 4);
}

on_both_stores!(every_wrong_notify_is_refused_or_set_aside);
