//! The money controls tried as a dishonest operator would: split a refund into small ones,
//! refund a little on many orders or to one shopper, make a second account to be the second
//! person, keep counting an approval after the account is disabled, grant points, make
//! coupons and write stock off without limit. On both stores.

use e2e::shop::*;
use e2e::{ADMIN_TOKEN, Backend, Shop, on_both_stores};
use serde_json::{Value, json};

/// Thresholds small enough to reach with a few orders.
fn policy(s: &mut hosting::config::Settings) {
    s.rules.refund_policy = domain::operator::RefundPolicy {
        finance_over: domain::Fen::new(1_000),
        two_person_over: domain::Fen::new(2_000),
        shopper_daily: domain::Fen::new(100_000),
        operator_daily: domain::Fen::new(100_000),
    };
}

async fn paid_order(shop: &Shop, token: &str, sku: &str) -> String {
    let o = place(shop, token, json!([{"sku_id": sku, "quantity": 1}])).await;
    assert_eq!(o.status, 201, "{}", o.body);
    let no = o.body["order_no"].as_str().unwrap().to_owned();
    pay_and_wait(shop, token, &no).await;
    no
}

/// An operator refunds on their own: `(status, state)`.
async fn operator_refund(shop: &Shop, who: &str, order: &str, id: &str, amount: i64) -> (u16, Value) {
    let body = json!({"request_id": id, "amount_fen": amount});
    let a = shop.call("POST", &format!("/admin/orders/{order}/refunds"), Some(who), Some(body)).await;
    (a.status, a.body["state"].clone())
}

async fn approve(shop: &Shop, who: &str, order: &str, refund: &Value) -> e2e::Answer {
    let no = refund["out_refund_no"].as_str().unwrap();
    shop.call("POST", &format!("/admin/refunds/{order}/{no}/approve"), Some(who), None).await
}

/// Finding: an operator refunded a 4,790-fen order in full as five refunds of at most 1,000
/// fen, and no finance approval was ever asked. What the order's refunds come to decides.
async fn a_split_refund_needs_what_the_whole_needs(b: Backend) {
    let shop = Shop::start_tuned(b, policy).await;
    let clerk = shop.operator("clerk", "operator").await;
    let (_, sku) = product_with_stock(&shop, 4_790, &[("SH01", 5)]).await;
    let token = shop.login("split").await;
    let order = paid_order(&shop, &token, &sku).await;
    let mut states = Vec::new();
    for (i, amount) in [1_000, 1_000, 1_000, 1_000, 790].into_iter().enumerate() {
        let (status, state) = operator_refund(&shop, &clerk, &order, &format!("split-part-{i}"), amount).await;
        assert_eq!(status, 202);
        states.push(state);
    }
    assert_eq!(states[0], json!("processing"), "the first 1,000 is within the operator's reach");
    assert!(states[1..].iter().all(|s| s == "requested"), "the rest wait for finance: {states:?}");
    // The operator cannot approve what the whole needs finance for.
    let refunds = order_refunds(&shop, &order).await;
    let waiting = refunds.iter().find(|r| r["state"] == "requested").unwrap();
    let no = approve(&shop, &clerk, &order, waiting).await;
    assert_eq!((no.status, no.code()), (403, "FORBIDDEN"), "{}", no.body);
    let done = wait_order(&shop, &order, |v| v["order"]["refunded"] == json!(1_000)).await;
    assert_eq!(done["order"]["refunded"], json!(1_000), "only the first part was paid back");
    // A shopper's requests in parts are judged the same way.
    let other = paid_order(&shop, &token, &sku).await;
    for i in 0..3 {
        let body = json!({"request_id": format!("ask-part-{i}"), "amount_fen": 600});
        let a = shop.call("POST", &format!("/orders/{other}/refunds"), Some(&token), Some(body)).await;
        assert_eq!(a.status, 202, "{}", a.body);
    }
    // All three are reserved on the order: 1,800 together needs finance for each of them.
    let asked = order_refunds(&shop, &other).await;
    let first = approve(&shop, &clerk, &other, &asked[0]).await;
    assert_eq!((first.status, first.code()), (403, "FORBIDDEN"), "{}", first.body);
    let by_finance = approve(&shop, &shop.finance_token, &other, &asked[0]).await;
    assert_eq!((by_finance.status, by_finance.body["state"].clone()), (200, json!("processing")));
}

async fn order_refunds(shop: &Shop, no: &str) -> Vec<Value> {
    order(shop, no).await["refunds"].as_array().unwrap().clone()
}

/// Refunds within each order's threshold still add up: an operator's refunds of a day, and a
/// shopper's refunds of a day over all their orders, need finance past their limits.
async fn refunds_of_a_day_add_up(b: Backend) {
    let shop = Shop::start_tuned(b, |s| {
        policy(s);
        s.rules.refund_policy.operator_daily = domain::Fen::new(1_500);
        s.rules.refund_policy.shopper_daily = domain::Fen::new(2_000);
    })
    .await;
    let clerk = shop.operator("clerk", "operator").await;
    let mate = shop.operator("mate", "operator").await;
    let (_, sku) = product_with_stock(&shop, 800, &[("SH01", 20)]).await;
    // Three shoppers, one order each: the operator's third refund of the day passes their 1,500.
    let mut orders = Vec::new();
    for who in ["day-a", "day-b", "day-c"] {
        let token = shop.login(who).await;
        orders.push(paid_order(&shop, &token, &sku).await);
    }
    assert_eq!(operator_refund(&shop, &clerk, &orders[0], "day-ref-0", 800).await.1, json!("processing"));
    assert_eq!(operator_refund(&shop, &clerk, &orders[1], "day-ref-1", 800).await.1, json!("requested"));
    // Another operator has an allowance of their own.
    assert_eq!(operator_refund(&shop, &mate, &orders[2], "day-ref-2", 800).await.1, json!("processing"));
    // One shopper, three orders: the third refund of the day passes the shopper's 2,000.
    let token = shop.login("one-shopper").await;
    let mut theirs = Vec::new();
    for _ in 0..3 {
        theirs.push(paid_order(&shop, &token, &sku).await);
    }
    let ask = |o: &str, id: &str| {
        let body = json!({"request_id": id, "amount_fen": 800});
        let path = format!("/orders/{o}/refunds");
        let shop = &shop;
        let token = token.clone();
        async move { shop.call("POST", &path, Some(&token), Some(body)).await.body }
    };
    let r0 = ask(&theirs[0], "shopper-day-0").await;
    let r1 = ask(&theirs[1], "shopper-day-1").await;
    let r2 = ask(&theirs[2], "shopper-day-2").await;
    assert_eq!(approve(&shop, &mate, &theirs[0], &r0).await.status, 403, "mate's 1,500 is spent on 800 + 800");
    assert_eq!(approve(&shop, &shop.finance_token, &theirs[0], &r0).await.status, 200);
    assert_eq!(approve(&shop, &shop.finance_token, &theirs[1], &r1).await.status, 200);
    let third = approve(&shop, &clerk, &theirs[2], &r2).await;
    assert_eq!((third.status, third.code()), (403, "FORBIDDEN"), "2,400 to one shopper today: {}", third.body);
    assert!(third.body["error"]["message"].as_str().unwrap().contains("shopper"), "{}", third.body);
}

/// Finding: a finance account made a second finance account and approved its own large refund
/// with it; an approval by an account later disabled still counted. Two people are two bound
/// WeChat identities, a finance grant needs another finance person, a disabled approver's
/// approval is void, and whoever asked for a refund does not approve it.
async fn two_people_are_not_two_accounts(b: Backend) {
    let shop = Shop::start_tuned(b, policy).await;
    let (_, sku) = product_with_stock(&shop, 5_000, &[("SH01", 5)]).await;
    let token = shop.login("two-people").await;
    let order = paid_order(&shop, &token, &sku).await;
    // The finance account makes itself a second finance account: it waits, and it does not
    // approve anything meanwhile.
    let made = shop
        .call(
            "POST",
            "/admin/operators",
            Some(&shop.finance_token),
            Some(json!({"id": "alt", "name": "alt", "role": "finance"})),
        )
        .await;
    assert_eq!((made.status, made.body["account"]["pending"].clone()), (201, json!(true)), "{}", made.body);
    let alt = made.body["token"].as_str().unwrap().to_owned();
    let big = json!({"request_id": "two-people-1", "amount_fen": 2_500});
    let asked = shop.call("POST", &format!("/orders/{order}/refunds"), Some(&token), Some(big)).await.body;
    let first = approve(&shop, &shop.finance_token, &order, &asked).await;
    assert_eq!((first.status, first.body["state"].clone()), (200, json!("requested")), "{}", first.body);
    let by_alt = approve(&shop, &alt, &order, &asked).await;
    assert_eq!(by_alt.status, 403, "a pending finance account approves nothing: {}", by_alt.body);
    let own = shop.call("POST", "/admin/operators/alt/approve", Some(&shop.finance_token), None).await;
    assert_eq!((own.status, own.code()), (403, "FORBIDDEN"), "the grantor does not approve its own grant");
    // Approved (here by the bootstrap token, the shop having one finance account), it still
    // cannot bind the grantor's own WeChat identity: one identity, one account.
    let ok = shop.call("POST", "/admin/operators/alt/approve", Some(ADMIN_TOKEN), None).await;
    assert_eq!((ok.status, ok.body["pending"].clone()), (200, json!(false)), "{}", ok.body);
    let same = shop.call("POST", "/admin/me/identity", Some(&alt), Some(json!({"code": "op-finance.again"}))).await;
    assert_eq!((same.status, same.code()), (409, "CONFLICT"), "{}", same.body);
    let unbound = approve(&shop, &alt, &order, &asked).await;
    assert_eq!(unbound.status, 403, "a two-person approval needs a bound identity: {}", unbound.body);
    // With another bound identity it is a second person, as far as software can tell.
    shop.bind(&alt, "alt-person").await;
    // A third finance person, granted by the first and approved by the second.
    let made = shop
        .call(
            "POST",
            "/admin/operators",
            Some(&shop.finance_token),
            Some(json!({"id": "third", "name": "third", "role": "finance"})),
        )
        .await;
    let third = made.body["token"].as_str().unwrap().to_owned();
    let by_boot = shop.call("POST", "/admin/operators/third/approve", Some(ADMIN_TOKEN), None).await;
    assert_eq!(by_boot.status, 403, "the bootstrap token approves the second finance account only");
    assert_eq!(shop.call("POST", "/admin/operators/third/approve", Some(&alt), None).await.status, 200);
    shop.bind(&third, "third-person").await;
    // The first approver is disabled before the refund starts: their approval is void.
    assert_eq!(shop.call("POST", "/admin/operators/finance/disable", Some(&alt), None).await.status, 200);
    let after = approve(&shop, &third, &order, &asked).await;
    assert_eq!((after.status, after.body["state"].clone()), (200, json!("requested")), "{}", after.body);
    let approvers: Vec<&Value> =
        after.body["approvals"].as_array().unwrap().iter().map(|a| &a["operator_id"]).collect();
    assert_eq!(approvers, vec![&json!("third")], "the disabled account's approval no longer counts");
    let second = approve(&shop, &alt, &order, &asked).await;
    assert_eq!((second.status, second.body["state"].clone()), (200, json!("processing")), "{}", second.body);
    // Whoever asks for a refund does not approve it.
    let started = shop
        .call(
            "POST",
            &format!("/admin/orders/{order}/refunds"),
            Some(&third),
            Some(json!({"request_id": "asked-by-third", "amount_fen": 500})),
        )
        .await;
    assert_eq!((started.status, started.body["state"].clone()), (202, json!("requested")), "{}", started.body);
    let self_approval = approve(&shop, &third, &order, &started.body).await;
    assert_eq!((self_approval.status, self_approval.code()), (403, "FORBIDDEN"), "{}", self_approval.body);
}

/// Finding: an operator granted 1,000,000 points in one call, and coupons and write-offs had
/// no limit. Each is bounded per use and per day for operators; more is finance's.
async fn money_powers_have_allowances(b: Backend) {
    let shop = Shop::start_tuned(b, |s| {
        s.rules.allowances = domain::operator::Allowances {
            points_grant: 1_000,
            points_daily: 2_500,
            points_daily_finance: 100_000,
            coupon_exposure: domain::Fen::new(100_000),
            write_off: domain::Fen::new(30_000),
            write_off_daily: domain::Fen::new(50_000),
        }
    })
    .await;
    let clerk = shop.operator("clerk", "operator").await;
    shop.login("lucky").await;
    let lucky = shop.sim.sim.openid_for("lucky");
    let grant = |who: String, id: &str, points: i64| {
        let shop = &shop;
        let path = format!("/admin/members/{lucky}/points");
        let body = json!({"request_id": id, "points": points, "reason": "补偿"});
        async move { shop.call("POST", &path, Some(&who), Some(body)).await }
    };
    let huge = grant(clerk.clone(), "grant-huge-1", 1_000_000).await;
    assert_eq!((huge.status, huge.code()), (403, "FORBIDDEN"), "{}", huge.body);
    assert_eq!(grant(clerk.clone(), "grant-ok-0001", 1_000).await.status, 200);
    assert_eq!(grant(clerk.clone(), "grant-ok-0002", 1_000).await.status, 200);
    let third = grant(clerk.clone(), "grant-ok-0003", 1_000).await;
    assert_eq!((third.status, third.code()), (403, "ALLOWANCE_EXCEEDED"), "{}", third.body);
    assert_eq!(grant(shop.finance_token.clone(), "grant-fin-001", 50_000).await.status, 200, "finance may");
    // Coupon templates: what they may take off in all.
    let template = |rule: Value, total: i64| json!({"name": "补偿券", "rule": rule, "total": total, "per_user": 1, "valid_from": 0, "valid_to": 4_000_000_000i64});
    let big = template(json!({"kind": "no_threshold", "amount_off": 10_000}), 1_000);
    let no = shop.call("POST", "/admin/coupons", Some(&clerk), Some(big.clone())).await;
    assert_eq!((no.status, no.code()), (403, "FORBIDDEN"), "{}", no.body);
    let open_ended = template(json!({"kind": "percent", "percent_off": 50}), 10);
    assert_eq!(shop.call("POST", "/admin/coupons", Some(&clerk), Some(open_ended)).await.status, 403);
    let small = template(json!({"kind": "no_threshold", "amount_off": 500}), 100);
    assert_eq!(shop.call("POST", "/admin/coupons", Some(&clerk), Some(small)).await.status, 201);
    assert_eq!(shop.call("POST", "/admin/coupons", Some(&shop.finance_token), Some(big)).await.status, 201);
    // Write-offs, valued at the SKU's price (10,000 fen).
    let (_, sku) = product_with_stock(&shop, 10_000, &[("SH01", 20)]).await;
    let write_off = |who: String, units: i64| {
        let shop = &shop;
        let body = json!({"sku_id": sku, "warehouse_id": "SH01", "delta": -units});
        async move { shop.call("POST", "/admin/stock/adjust", Some(&who), Some(body)).await }
    };
    let four = write_off(clerk.clone(), 4).await;
    assert_eq!((four.status, four.code()), (403, "FORBIDDEN"), "40,000 at once: {}", four.body);
    assert_eq!(write_off(clerk.clone(), 3).await.status, 200);
    let more = write_off(clerk.clone(), 3).await;
    assert_eq!((more.status, more.code()), (403, "ALLOWANCE_EXCEEDED"), "60,000 in a day: {}", more.body);
    assert_eq!(write_off(shop.finance_token.clone(), 10).await.status, 200, "finance may");
    assert_eq!(stock(&shop, &sku).await, 20 - 3 - 10);
    // Stock coming in is no money out: any operator adds it.
    let add = shop
        .call(
            "POST",
            "/admin/stock/adjust",
            Some(&clerk),
            Some(json!({"sku_id": sku, "warehouse_id": "SH01", "delta": 50})),
        )
        .await;
    assert_eq!(add.status, 200);
}

on_both_stores!(
    a_split_refund_needs_what_the_whole_needs,
    refunds_of_a_day_add_up,
    two_people_are_not_two_accounts,
    money_powers_have_allowances,
);
