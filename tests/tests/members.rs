//! Members on both stores: growth from what is paid (once per payment, back by the goods
//! refunded), levels climbed with their free-shipping perk in the next order's price, and the
//! daily check-in across Shanghai's midnight and under twenty parallel taps.

use domain::ids::OpenId;
use std::time::Duration;

use e2e::shop::*;
use e2e::{Backend, Shop, on_both_stores};
use serde_json::{Value, json};

async fn member(shop: &Shop, token: &str) -> Value {
    shop.call("GET", "/me/member", Some(token), None).await.body
}

/// Waits until the member's growth is `growth` (the payment and refund consumers run after).
async fn wait_growth(shop: &Shop, token: &str, growth: i64) -> Value {
    for _ in 0..200 {
        let m = member(shop, token).await;
        if m["growth"] == json!(growth) {
            return m;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("growth never reached {growth}: {}", member(shop, token).await);
}

async fn growth_and_levels_follow_money(b: Backend) {
    let shop = Shop::start(b).await;
    let t = shop.admin("PUT", "/admin/freight", Some(json!({"base_fen": 800, "free_over_fen": 8800}))).await;
    assert_eq!(t.status, 200);
    let ladder = json!({"levels": [
        {"name": "普通", "min_growth": 0},
        {"name": "白银", "min_growth": 100},
        {"name": "黄金", "min_growth": 200, "perks": {"free_shipping": true}},
    ]});
    assert_eq!(shop.admin("PUT", "/admin/members/levels", Some(ladder)).await.status, 200);
    let (_, sku) = product_with_stock(&shop, 6_000, &[("SH01", 10)]).await;
    let token = shop.login("climber").await;
    let first = place(&shop, &token, json!([{"sku_id": sku, "quantity": 1}])).await;
    assert_eq!(first.body["freight"], json!(800), "普通 pays freight");
    let first_no = first.body["order_no"].as_str().unwrap().to_owned();
    pay_and_wait(&shop, &token, &first_no).await;
    let m = wait_growth(&shop, &token, 120).await; // 60 yuan of goods, freight not counted
    assert_eq!(m["level"]["name"], json!("白银"));
    assert_eq!(m["next_level"], json!(["黄金", 80]));
    let second = place(&shop, &token, json!([{"sku_id": sku, "quantity": 1}])).await;
    let second_no = second.body["order_no"].as_str().unwrap().to_owned();
    pay_and_wait(&shop, &token, &second_no).await;
    let m = wait_growth(&shop, &token, 240).await;
    assert_eq!(m["level"]["name"], json!("黄金"));
    let third = place(&shop, &token, json!([{"sku_id": sku, "quantity": 1}])).await;
    assert_eq!(
        (third.body["freight"].clone(), third.body["payable"].clone()),
        (json!(0), json!(6_000)),
        "黄金 ships free"
    );
    // Half of the second order back: half its growth back.
    let r = shop
        .call(
            "POST",
            &format!("/orders/{second_no}/refunds"),
            Some(&token),
            Some(json!({"request_id": "half-000001", "amount_fen": 3_000})),
        )
        .await;
    assert_eq!(r.status, 202);
    let approve = shop
        .admin(
            "POST",
            &format!("/admin/refunds/{second_no}/{}/approve", r.body["out_refund_no"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(approve.status, 200, "{}", approve.body);
    // 3,000 of the 6,000 of goods (the refund counts against the goods, not the freight):
    // the 60 yuan of goods kept earn 120 of the 240.
    let m = wait_growth(&shop, &token, 180).await;
    assert_eq!(m["level"]["name"], json!("白银"), "the refund took the level back");
    // A payment's growth is credited once however often its event comes.
    app::members::on_payment(&shop.app, &e2e::id(&first_no)).await.unwrap();
    assert_eq!(member(&shop, &token).await["growth"], json!(180));
    let ledger = shop.call("GET", "/me/ledger", Some(&token), None).await.body;
    let sources: Vec<&str> =
        ledger["items"].as_array().unwrap().iter().map(|e| e["source"].as_str().unwrap()).collect();
    assert_eq!(sources.len(), 3, "{sources:?}");
    assert!(sources.iter().any(|s| s.starts_with("refund-")));
    let notes = ledger.to_string();
    assert!(notes.contains("白银 → 黄金") && notes.contains("黄金 → 白银"), "level changes say why: {notes}");
    let bad =
        shop.admin("PUT", "/admin/members/levels", Some(json!({"levels": [{"name": "普通", "min_growth": 10}]}))).await;
    assert_eq!((bad.status, bad.code()), (400, "INVALID_INPUT"), "the first level starts at 0");
}

/// 2025-12-01 23:59:59 in Shanghai, as unix seconds (a day in the past, so "today" stays free).
const BEFORE_MIDNIGHT: i64 = 1_764_604_799;

async fn check_ins_count_shanghai_days_once(b: Backend) {
    let shop = Shop::start(b).await;
    let openid: OpenId = e2e::id(&shop.sim.sim.openid_for("early-bird"));
    let token = shop.login("early-bird").await;
    let a = app::members::check_in(&shop.app, &openid, BEFORE_MIDNIGHT).await.unwrap();
    let b2 = app::members::check_in(&shop.app, &openid, BEFORE_MIDNIGHT + 2).await.unwrap();
    assert_eq!((a.day.as_str(), b2.day.as_str()), ("2025-12-01", "2025-12-02"), "two sides of Shanghai's midnight");
    assert_eq!(b2.streak, 2);
    let again = app::members::check_in(&shop.app, &openid, BEFORE_MIDNIGHT + 3_600).await.unwrap_err();
    assert_eq!(again.code.as_str(), "ALREADY_CHECKED_IN");
    // Five more days: the seventh gives the streak bonus.
    let mut last = b2;
    for d in 1..=5 {
        last = app::members::check_in(&shop.app, &openid, BEFORE_MIDNIGHT + 2 + d * 86_400).await.unwrap();
    }
    assert_eq!((last.streak, last.points), (7, 25));
    let m = member(&shop, &token).await;
    assert_eq!(m["growth"], json!(7 * 5));
    assert_eq!(m["points_available"], json!(6 * 5 + 25));
    // Twenty taps at once on one day: one reward.
    let other: OpenId = e2e::id(&shop.sim.sim.openid_for("tapper"));
    let shop = std::sync::Arc::new(shop);
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let (shop, other) = (shop.clone(), other.clone());
            tokio::spawn(async move { app::members::check_in(&shop.app, &other, BEFORE_MIDNIGHT + 100).await.is_ok() })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        ok += usize::from(t.await.unwrap());
    }
    assert_eq!(ok, 1, "one check-in a day, however many taps");
    let m = store::repo::members::get(shop.app.store.as_ref(), &other).await.unwrap();
    assert_eq!((m.growth, m.points_available), (5, 5));
    // Over HTTP: today, then refused.
    let now = shop.call("POST", "/me/checkin", Some(&token), None).await;
    assert_eq!(now.status, 201, "{}", now.body);
    let twice = shop.call("POST", "/me/checkin", Some(&token), None).await;
    assert_eq!((twice.status, twice.code()), (409, "ALREADY_CHECKED_IN"));
    assert_eq!(shop.call("POST", "/me/checkin", None, None).await.status, 401);
}

/// Points: earned frozen on payment, available once the order completes, spent at checkout in
/// the placing transaction, back when the order closes unpaid and in proportion on a refund.
async fn points_are_earned_frozen_spent_and_returned(b: Backend) {
    let shop = Shop::start(b).await;
    let (_, sku) = product_with_stock(&shop, 10_000, &[("SH01", 20)]).await;
    let token = shop.login("saver").await;
    let pts = |m: &Value| (m["points_available"].as_i64().unwrap(), m["points_frozen"].as_i64().unwrap());
    let first = place(&shop, &token, json!([{"sku_id": sku, "quantity": 2}])).await;
    let first_no = first.body["order_no"].as_str().unwrap().to_owned();
    pay_and_wait(&shop, &token, &first_no).await;
    let m = wait_growth(&shop, &token, 400).await;
    assert_eq!(pts(&m), (0, 200), "200 yuan earn 200 points, frozen");
    // Shipped, received, and the refund window passes: the points unfreeze.
    shop.admin(
        "POST",
        &format!("/admin/orders/{first_no}/shipments/SH01"),
        Some(json!({"carrier": "SF", "tracking_no": "SF1"})),
    )
    .await;
    let got = shop.call("POST", &format!("/orders/{first_no}/receive"), Some(&token), None).await;
    assert_eq!(got.status, 200, "{}", got.body);
    indexed_in_phase(&shop, domain::order::Phase::Received, &first_no).await;
    let done = app::fulfilment::advance(&shop.app, domain::clock::now() + 8 * 86_400).await.unwrap();
    assert_eq!(done.completed, 1);
    let mut m = member(&shop, &token).await;
    for _ in 0..200 {
        if pts(&m) == (200, 0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        m = member(&shop, &token).await;
    }
    assert_eq!(pts(&m), (200, 0), "available once the order completed");
    // Refusals: not in hundreds, more than half the goods, more than the balance.
    let with_points = |n: i64| json!({"request_id": rid(), "items": [{"sku_id": sku, "quantity": 1}], "points": n});
    let odd = shop.call("POST", "/orders", Some(&token), Some(with_points(150))).await;
    assert_eq!((odd.status, odd.code()), (400, "INVALID_INPUT"));
    let greedy = shop.call("POST", "/orders", Some(&token), Some(with_points(6_000))).await;
    assert_eq!((greedy.status, greedy.code()), (400, "INVALID_INPUT"), "at most half the goods: {}", greedy.body);
    let short = shop.call("POST", "/orders", Some(&token), Some(with_points(300))).await;
    assert_eq!((short.status, short.code()), (409, "INSUFFICIENT_POINTS"));
    // Spent with the order; back when it closes unpaid.
    let spent = shop.call("POST", "/orders", Some(&token), Some(with_points(200))).await;
    assert_eq!(
        (spent.status, spent.body["points_value"].clone(), spent.body["payable"].clone()),
        (201, json!(200), json!(9_800)),
        "{}",
        spent.body
    );
    assert_eq!(pts(&member(&shop, &token).await), (0, 0), "taken in the placing transaction");
    let spent_no = spent.body["order_no"].as_str().unwrap().to_owned();
    assert_eq!(shop.call("POST", &format!("/orders/{spent_no}/cancel"), Some(&token), None).await.status, 200);
    assert_eq!(pts(&member(&shop, &token).await), (200, 0), "back when the order closed unpaid");
    // Spent again and paid; half refunded: half the points spent come back, half the points
    // earned are cancelled.
    let paid = shop.call("POST", "/orders", Some(&token), Some(with_points(200))).await;
    let paid_no = paid.body["order_no"].as_str().unwrap().to_owned();
    pay_and_wait(&shop, &token, &paid_no).await;
    let m = wait_growth(&shop, &token, 400 + 196).await;
    assert_eq!(pts(&m), (0, 98), "98 yuan paid in money earn 98 frozen points");
    let r = shop
        .admin(
            "POST",
            &format!("/admin/orders/{paid_no}/refunds"),
            Some(json!({"request_id": "half-points-1", "amount_fen": 4_900})),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    let m = wait_growth(&shop, &token, 400 + 196 - 98).await;
    assert_eq!(pts(&m), (100, 49));
    flows_explain_the_balance(&shop, &e2e::id(&shop.sim.sim.openid_for("saver"))).await;
}

/// Fifty spends of one balance at once: never below zero, and what succeeded is exactly what
/// the balance gave.
async fn parallel_spends_never_overdraw(b: Backend) {
    let shop = std::sync::Arc::new(Shop::start(b).await);
    let spender: OpenId = e2e::id("oSpender000000000000000000001");
    let openid = &spender;
    let ops = domain::operator::Caller {
        id: "ops".into(),
        role: domain::operator::Role::Operator,
        identity: None,
        recent_openid: None,
    };
    let granted = app::members::grant(&shop.app, openid, &e2e::id("grant-0001"), 1_000, "补偿", &ops).await.unwrap();
    assert_eq!(granted.points_available, 1_000);
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let (shop, openid) = (shop.clone(), openid.clone());
            tokio::spawn(async move {
                let e = domain::member::LedgerEntry {
                    source: source(&format!("spend-test-{i}")),
                    growth: 0,
                    points: -100,
                    frozen: 0,
                    at: 0,
                    note: String::new(),
                };
                shop.app.store.transact(store::repo::members::spend_ops(&openid, &e).unwrap()).await.is_ok()
            })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        ok += i64::from(t.await.unwrap());
    }
    let m = store::repo::members::get(shop.app.store.as_ref(), openid).await.unwrap();
    assert_eq!(ok, 10, "1,000 points pay for ten spends of 100");
    assert_eq!(m.points_available, 0, "never below zero");
}

/// A seeded population with one member per segment: the daily scoring finds each where it
/// belongs, reports the counts, and exports a segment without full openids.
async fn rfm_segments_for_a_known_population(b: Backend) {
    let shop = Shop::start(b).await;
    let store = shop.app.store.clone();
    let now = domain::clock::now();
    let day = 86_400;
    let month = |t: i64| {
        let d = domain::clock::business_day(t).unwrap();
        format!("{:04}-{:02}", d.year(), u8::from(d.month()))
    };
    // (member, days since the last payment, orders, paid fen, expected segment)
    let population = [
        ("oRfmImportantValue0000000001", 1, 3, 60_000, "important_value"),
        ("oRfmImportantDevelop00000001", 1, 1, 60_000, "important_develop"),
        ("oRfmImportantKeep00000000001", 100, 3, 60_000, "important_keep"),
        ("oRfmImportantRetain000000001", 200, 1, 60_000, "important_retain"),
        ("oRfmNormalValue0000000000001", 1, 3, 3_000, "normal_value"),
        ("oRfmNormalDevelop00000000001", 1, 1, 3_000, "normal_develop"),
        ("oRfmNormalKeep00000000000001", 100, 3, 3_000, "normal_keep"),
        ("oRfmNormalRetain000000000001", 400, 1, 60_000, "normal_retain"),
    ];
    for (openid, days, orders, paid, _) in population {
        let openid: &OpenId = &e2e::id(openid);
        let at = now - days * day;
        let entry = domain::member::LedgerEntry {
            source: source("grant-seed-0001"),
            growth: 0,
            points: 0,
            frozen: 0,
            at,
            note: "seed".into(),
        };
        let months = vec![store::repo::members::month_op(openid, &month(at), orders, paid)];
        let last_paid = domain::member::Also { paid_at: Some(at), ..Default::default() };
        let none = domain::member::PointsFlow::default();
        assert!(store::repo::members::apply(store.as_ref(), openid, &entry, none, last_paid, months).await.unwrap());
    }
    let run = shop.admin("POST", "/admin/jobs/members-daily", None).await;
    assert_eq!(run.status, 200, "{}", run.body);
    let report = shop.admin("GET", "/admin/members/segments", None).await;
    for s in report.body["segments"].as_array().unwrap() {
        assert_eq!(s["members"], json!(1), "{s}");
    }
    for (openid, _, _, _, want) in population {
        let m = shop.admin("GET", &format!("/admin/members/{openid}"), None).await;
        assert_eq!(m.body["member"]["segment"], json!(want), "{openid}");
    }
    let csv = shop
        .http
        .get(format!("{}/admin/members/segments/important_value/export", shop.base))
        .bearer_auth(&shop.finance_token)
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status(), 200);
    let text = csv.text().await.unwrap();
    assert!(text.starts_with("member,phone,level") && text.contains("重要价值") && text.contains("…0001"), "{text}");
    assert!(!text.contains("oRfmImportantValue"), "openids are shortened: {text}");
    let unknown = shop.admin("GET", "/admin/members/segments/vip/export", None).await;
    assert_eq!(unknown.status, 404);
    // Quantile thresholds: the medians of the seven who paid within the year.
    assert_eq!(shop.admin("PUT", "/admin/members/rules", Some(json!({"rfm": "quantile"}))).await.status, 200);
    assert_eq!(shop.admin("POST", "/admin/jobs/members-daily", None).await.status, 200);
    let report = shop.admin("GET", "/admin/members/segments", None).await.body;
    assert_eq!(report["mode"], json!("quantile"));
    assert_eq!(report["thresholds"], json!({"recent_days": 1, "frequent_orders": 3, "monetary_fen": 60_000}));
}

/// An operator's refund of `amount` fen, waited for until the order shows it refunded.
async fn refund_and_wait(shop: &Shop, no: &str, id: &str, amount: i64) {
    let before = order(shop, no).await["order"]["refunded"].as_i64().unwrap();
    let r = shop
        .admin("POST", &format!("/admin/orders/{no}/refunds"), Some(json!({"request_id": id, "amount_fen": amount})))
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    wait_order(shop, no, |v| v["order"]["refunded"] == json!(before + amount)).await;
}

/// Growth and points were earned on goods, not freight: refunding all the goods takes all of
/// it back. What the order's refunds come to in all decides, so small refunds round nothing
/// away. The refund of a second payment of a paid order takes nothing back and leaves the
/// order's refunds as they were.
async fn refunds_take_back_what_the_goods_earned(b: Backend) {
    let shop = Shop::start(b).await;
    let t = shop.admin("PUT", "/admin/freight", Some(json!({"base_fen": 800, "free_over_fen": 100_000}))).await;
    assert_eq!(t.status, 200);
    let (_, sku) = product_with_stock(&shop, 6_000, &[("SH01", 10)]).await;
    let (_, small) = product_with_stock(&shop, 1_000, &[("SH01", 10)]).await;
    let token = shop.login("goods-back").await;
    // 60 yuan of goods and 8 of freight: 120 growth; all the goods refunded takes all 120.
    let o = place(&shop, &token, json!([{"sku_id": sku, "quantity": 1}])).await;
    assert_eq!(o.body["payable"], json!(6_800), "{}", o.body);
    let no = o.body["order_no"].as_str().unwrap().to_owned();
    pay_and_wait(&shop, &token, &no).await;
    wait_growth(&shop, &token, 120).await;
    refund_and_wait(&shop, &no, "goods-all-01", 6_000).await;
    wait_growth(&shop, &token, 0).await;
    // 10 yuan of goods, 20 growth, refunded in thirds: nothing left once all is back.
    let o = place(&shop, &token, json!([{"sku_id": small, "quantity": 1}])).await;
    let no = o.body["order_no"].as_str().unwrap().to_owned();
    pay_and_wait(&shop, &token, &no).await;
    wait_growth(&shop, &token, 20).await;
    for (i, amount) in [333, 333, 334].into_iter().enumerate() {
        refund_and_wait(&shop, &no, &format!("thirds-{i:04}"), amount).await;
    }
    let m = wait_growth(&shop, &token, 0).await;
    assert_eq!((m["points_frozen"].clone(), m["points_available"].clone()), (json!(0), json!(0)), "{m}");
    // The freight alone back: no growth was earned on it.
    refund_and_wait(&shop, &no, "freight-0001", 800).await;
    outbox_idle(&shop).await;
    assert_eq!(member(&shop, &token).await["growth"], json!(0));

    // Paid, then paid again under another transaction: the second payment goes back in full.
    let o = place(&shop, &token, json!([{"sku_id": small, "quantity": 1}])).await;
    let no = o.body["order_no"].as_str().unwrap().to_owned();
    pay_and_wait(&shop, &token, &no).await;
    let kept = wait_growth(&shop, &token, 20).await;
    sim_post(&shop, "/sim/pay", json!({"out_trade_no": no, "again": true})).await;
    let done = wait_order(&shop, &no, |v| {
        v["refunds"]
            .as_array()
            .is_some_and(|r| r.iter().any(|x| x["state"] == "success" && x["initiated_by"] == "system"))
    })
    .await;
    assert_eq!(
        (done["order"]["refunded"].clone(), done["order"]["refund_reserved"].clone()),
        (json!(0), json!(0)),
        "the order's own payment is untouched: {done}"
    );
    outbox_idle(&shop).await;
    let m = member(&shop, &token).await;
    assert_eq!(
        (m["growth"].clone(), m["points_frozen"].clone()),
        (kept["growth"].clone(), kept["points_frozen"].clone()),
        "{m}"
    );
}

const LEVEL_UP: &str = "TPLlevelUp000000000000000001";

/// Waits until nothing is left for the outbox to deliver.
async fn outbox_idle(shop: &Shop) {
    for _ in 0..200 {
        if store::repo::outbox::pending(shop.app.store.as_ref(), 10).await.unwrap().is_empty() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the outbox never emptied");
}

/// A level-up is told by subscribe message, spending the permission the shopper gave; with
/// none left the shop does not call WeChat; WeChat's 43101 zeroes the shop's count.
async fn a_level_up_is_told_only_with_permission(b: Backend) {
    let shop = Shop::start_tuned(b, |s| s.rules.subscribe_level_up = Some(LEVEL_UP.into())).await;
    shop.sim.sim.add_subscribe_template(LEVEL_UP, "会员升级通知", "会员等级:{{thing1.DATA}}\n升级日期:{{date2.DATA}}");
    let ladder = json!({"levels": [{"name": "普通", "min_growth": 0}, {"name": "白银", "min_growth": 100}, {"name": "黄金", "min_growth": 200}]});
    assert_eq!(shop.admin("PUT", "/admin/members/levels", Some(ladder)).await.status, 200);
    let (_, sku) = product_with_stock(&shop, 6_000, &[("SH01", 10)]).await;
    let buy = |token: String| {
        let (shop, sku) = (&shop, sku.clone());
        async move {
            let o = place(shop, &token, json!([{"sku_id": sku, "quantity": 1}])).await;
            pay_and_wait(shop, &token, o.body["order_no"].as_str().unwrap()).await;
        }
    };
    let token = shop.login("notified").await;
    let openid: OpenId = e2e::id(&shop.sim.sim.openid_for("notified"));
    shop.sim.sim.grant_subscription(&openid, LEVEL_UP);
    let reported = shop.call("POST", "/me/subscriptions", Some(&token),
        Some(json!({"errMsg": "requestSubscribeMessage:ok", LEVEL_UP: "accept", "TPLrefused0000000000000001": "reject"}))).await;
    assert_eq!((reported.status, reported.body["accepted"].clone()), (200, json!([LEVEL_UP])), "{}", reported.body);
    buy(token.clone()).await;
    wait_growth(&shop, &token, 120).await;
    outbox_idle(&shop).await;
    let sent = shop.sim.sim.subscribe_messages();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!((sent[0]["touser"].clone(), sent[0]["data"]["thing1"]["value"].clone()), (json!(openid), json!("白银")));
    // The one permission is spent: the next level-up makes no call.
    buy(token.clone()).await;
    wait_growth(&shop, &token, 240).await;
    outbox_idle(&shop).await;
    assert_eq!(shop.sim.sim.subscribe_messages().len(), 1, "no permission, no call");
    // A count the shop holds but WeChat does not: 43101 zeroes it.
    let other = shop.login("forgetful").await;
    let other_id: OpenId = e2e::id(&shop.sim.sim.openid_for("forgetful"));
    shop.call("POST", "/me/subscriptions", Some(&other), Some(json!({LEVEL_UP: "accept"}))).await;
    assert_eq!(store::repo::members::permissions(shop.app.store.as_ref(), &other_id, LEVEL_UP).await.unwrap(), 1);
    buy(other.clone()).await;
    wait_growth(&shop, &other, 120).await;
    outbox_idle(&shop).await;
    assert_eq!(store::repo::members::permissions(shop.app.store.as_ref(), &other_id, LEVEL_UP).await.unwrap(), 0);
    assert_eq!(shop.sim.sim.subscribe_messages().len(), 1);
    let bad = shop.call("POST", "/me/subscriptions", Some(&other), Some(json!({"bad id!": "accept"}))).await;
    assert_eq!((bad.status, bad.code()), (400, "INVALID_INPUT"));

    // The merchant picks another template, whose keywords are its own: the operator maps the
    // notice's values to them (checked against WeChat's keyword list) and chooses the page.
    const PHRASED: &str = "TPLlevelUpPhrase0000000002";
    shop.sim.sim.add_subscribe_template(
        PHRASED,
        "等级变更提醒",
        "新等级:{{phrase3.DATA}}\n生效时间:{{time5.DATA}}\n说明:{{thing6.DATA}}",
    );
    let mapping = |level: &str, day: &str, fixed: Value| json!({"template_id": PHRASED, "page": "pages/member/level?from=notice", "fields": {"level": level, "day": day}, "fixed": fixed});
    for (body, why) in [
        (mapping("time5", "phrase3", json!({"thing6": "会员权益已更新"})), "a level in a time keyword"),
        (mapping("phrase3", "time5", json!({})), "thing6 left empty"),
        (mapping("thing9", "time5", json!({"thing6": "x"})), "a keyword the template does not have"),
        (
            json!({"template_id": "TPLnotAddedToTheApp00000009", "page": "pages/me/index", "fields": {"level": "thing1", "day": "date2"}}),
            "a template the mini-program does not have",
        ),
        (
            json!({"template_id": PHRASED, "page": "https://evil.example", "fields": {"level": "phrase3", "day": "time5"}, "fixed": {"thing6": "x"}}),
            "a page outside the mini-program",
        ),
    ] {
        let r = shop.admin("PUT", "/admin/notices/level_up", Some(body)).await;
        assert_eq!((r.status, r.code()), (400, "INVALID_INPUT"), "{why}: {}", r.body);
    }
    let set = shop
        .admin("PUT", "/admin/notices/level_up", Some(mapping("phrase3", "time5", json!({"thing6": "会员权益已更新"}))))
        .await;
    assert_eq!(set.status, 200, "{}", set.body);
    let listed = shop.admin("GET", "/admin/notices", None).await;
    assert_eq!(listed.body["items"][0]["template"]["template_id"], json!(PHRASED), "{}", listed.body);
    let third = shop.login("mapped").await;
    let third_id: OpenId = e2e::id(&shop.sim.sim.openid_for("mapped"));
    shop.sim.sim.grant_subscription(&third_id, PHRASED);
    shop.call("POST", "/me/subscriptions", Some(&third), Some(json!({PHRASED: "accept"}))).await;
    buy(third.clone()).await;
    wait_growth(&shop, &third, 120).await;
    outbox_idle(&shop).await;
    let sent = shop.sim.sim.subscribe_messages();
    assert_eq!(sent.len(), 2, "{sent:?}");
    let m = &sent[1];
    assert_eq!(
        (m["template_id"].clone(), m["page"].clone()),
        (json!(PHRASED), json!("pages/member/level?from=notice"))
    );
    assert_eq!(
        (m["data"]["phrase3"]["value"].clone(), m["data"]["thing6"]["value"].clone()),
        (json!("白银"), json!("会员权益已更新"))
    );
    assert!(m["data"]["time5"]["value"].as_str().unwrap().starts_with("20"), "{m}");
}

/// The available balance is exactly what the months' flows add up to: every movement of
/// points was recorded with why it moved.
async fn flows_explain_the_balance(shop: &Shop, openid: &OpenId) {
    let store = shop.app.store.as_ref();
    let m = store::repo::members::get(store, openid).await.unwrap();
    let months = store::repo::members::points_months(store, openid).await.unwrap();
    let net: i64 = months.iter().map(|(_, f)| f.net()).sum();
    assert_eq!(net, m.points_available, "{months:?}");
}

/// The daily job's report, run by an operator.
async fn daily_report(shop: &Shop) -> Value {
    let r = shop.admin("POST", "/admin/jobs/members-daily", None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["report"].clone()
}

/// The redemption rate after a run of the daily job.
async fn rerun_and_rate(shop: &Shop) -> Value {
    daily_report(shop).await;
    shop.admin("GET", "/admin/members/points-rate", None).await.body
}

/// A level's member price, points and freight priced in one pass, the order showing each
/// part; a full refund returns the points spent and cancels those earned.
async fn member_price_points_and_freight_in_one_order(b: Backend) {
    let shop = Shop::start(b).await;
    let t = shop.admin("PUT", "/admin/freight", Some(json!({"base_fen": 800, "free_over_fen": 100_000}))).await;
    assert_eq!(t.status, 200);
    let ladder = json!({"levels": [{"name": "普通", "min_growth": 0, "perks": {"member_discount_pct": 10}}]});
    assert_eq!(shop.admin("PUT", "/admin/members/levels", Some(ladder)).await.status, 200);
    let (_, sku) = product_with_stock(&shop, 10_000, &[("SH01", 10)]).await;
    let token = shop.login("member-price").await;
    let openid: OpenId = e2e::id(&shop.sim.sim.openid_for("member-price"));
    let g = shop
        .admin(
            "POST",
            &format!("/admin/members/{openid}/points"),
            Some(json!({"request_id": "welcome-0001", "points": 1_000, "reason": "开卡礼"})),
        )
        .await;
    assert_eq!((g.status, g.body["points_available"].clone()), (200, json!(1_000)), "{}", g.body);
    let o = shop
        .call(
            "POST",
            "/orders",
            Some(&token),
            Some(json!({"request_id": rid(), "items": [{"sku_id": sku, "quantity": 2}], "points": 1_000})),
        )
        .await;
    assert_eq!(o.status, 201, "{}", o.body);
    let parts =
        ["subtotal", "member_discount", "discount", "points_value", "freight", "payable"].map(|k| o.body[k].clone());
    assert_eq!(parts, [20_000, 2_000, 2_000, 1_000, 800, 17_800].map(|n| json!(n)), "{}", o.body);
    assert_eq!(o.body["lines"][0]["discount"], json!(3_000), "the line carries its member price and points");
    let no = o.body["order_no"].as_str().unwrap().to_owned();
    pay_and_wait(&shop, &token, &no).await;
    let m = wait_growth(&shop, &token, 340).await; // 170 yuan of goods paid in money
    assert_eq!((m["points_available"].clone(), m["points_frozen"].clone()), (json!(0), json!(170)));
    let r = shop
        .admin(
            "POST",
            &format!("/admin/orders/{no}/refunds"),
            Some(json!({"request_id": "all-back-01", "amount_fen": 17_800})),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    let m = wait_growth(&shop, &token, 0).await;
    assert_eq!((m["points_available"].clone(), m["points_frozen"].clone()), (json!(1_000), json!(0)));
    flows_explain_the_balance(&shop, &openid).await;
}

/// Operators grant and deduct points once per request, within the balance and their role;
/// the daily job reports the redemption rate against the 7-12% band.
async fn operators_grant_points_and_watch_the_redemption_rate(b: Backend) {
    let shop = Shop::start_tuned(b, |s| {
        s.operator_webhook = Some(format!("{}/cgi-bin/webhook/send?key=ops-room", s.wechat.api_base));
    })
    .await;
    let token = shop.login("granted").await;
    let openid: OpenId = e2e::id(&shop.sim.sim.openid_for("granted"));
    let path = format!("/admin/members/{openid}/points");
    let grant = |id: &str, points: i64, reason: &str| json!({"request_id": id, "points": points, "reason": reason});
    let a = shop.admin("POST", &path, Some(grant("grant-a1", 1_000, "活动奖励"))).await;
    assert_eq!((a.status, a.body["points_available"].clone()), (200, json!(1_000)), "{}", a.body);
    let again = shop.admin("POST", &path, Some(grant("grant-a1", 1_000, "活动奖励"))).await;
    assert_eq!(again.body["points_available"], json!(1_000), "a replayed grant counts once");
    let over = shop.admin("POST", &path, Some(grant("grant-a2", -5_000, "更正"))).await;
    assert_eq!((over.status, over.code()), (409, "INSUFFICIENT_POINTS"));
    let fix = shop.admin("POST", &path, Some(grant("grant-a3", -100, "更正"))).await;
    assert_eq!(fix.body["points_available"], json!(900));
    for (bad, why) in [(grant("grant-a4", 0, "零"), "no points"), (grant("grant-a5", 10, " "), "no reason")] {
        let r = shop.admin("POST", &path, Some(bad)).await;
        assert_eq!((r.status, r.code()), (400, "INVALID_INPUT"), "{why}");
    }
    let viewer = shop.operator("viewer-one", "viewer").await;
    let refused = shop.call("POST", &path, Some(&viewer), Some(grant("grant-a6", 10, "x"))).await;
    assert_eq!(refused.status, 403);
    let ledger = shop.call("GET", "/me/ledger", Some(&token), None).await.body;
    assert!(ledger.to_string().contains("活动奖励"), "{ledger}");
    // 100 of the 1,000 issued spent (the 100 taken back count as issued and returned).
    let (_, sku) = product_with_stock(&shop, 10_000, &[("SH01", 10)]).await;
    let spend = shop
        .call(
            "POST",
            "/orders",
            Some(&token),
            Some(json!({"request_id": rid(), "items": [{"sku_id": sku, "quantity": 1}], "points": 100})),
        )
        .await;
    assert_eq!(spend.status, 201, "{}", spend.body);
    let r = rerun_and_rate(&shop).await;
    assert_eq!(r["period"]["points"]["earned"], json!(1_000), "{r}");
    assert_eq!(r["period"]["points"]["spent"], json!(100));
    assert_eq!(
        (r["period"]["points"]["redemption_pct"].clone(), r["period"]["alert"].clone()),
        (json!(10.0), json!(false))
    );
    outbox_idle(&shop).await;
    assert!(shop.sim.sim.robot_messages().is_empty(), "10% is inside the band");
    let no = spend.body["order_no"].as_str().unwrap();
    assert_eq!(shop.call("POST", &format!("/orders/{no}/cancel"), Some(&token), None).await.status, 200);
    let r = rerun_and_rate(&shop).await;
    assert_eq!(
        (r["period"]["points"]["redemption_pct"].clone(), r["period"]["alert"].clone()),
        (json!(0.0), json!(true)),
        "{r}"
    );
    // Outside the band: the operators' robot is told once for the episode.
    rerun_and_rate(&shop).await;
    outbox_idle(&shop).await;
    let said = shop.sim.sim.robot_messages();
    assert_eq!(said.len(), 1, "once per episode: {said:?}");
    let content = said[0]["markdown"]["content"].as_str().unwrap();
    assert!(content.contains("积分兑换率") && content.contains("0.0%") && content.contains("7%–12%"), "{content}");
    let bad = shop.admin("GET", "/admin/members/points-rate?from=2025-13", None).await;
    assert_eq!((bad.status, bad.code()), (400, "INVALID_INPUT"));
    flows_explain_the_balance(&shop, &openid).await;
    // Twenty coupons claimed and none used: under the 65% target, told once.
    let t = coupon_template(
        &shop,
        "满100减10",
        json!({"kind": "threshold", "min_spend": 10_000, "amount_off": 1_000}),
        100,
        1,
    )
    .await;
    for i in 0..20 {
        let who = shop.login(&format!("claimer{i}")).await;
        let c = shop.call("POST", &format!("/coupons/{t}/claim"), Some(&who), None).await;
        assert!(c.status < 300, "{}", c.body);
    }
    rerun_and_rate(&shop).await;
    rerun_and_rate(&shop).await;
    outbox_idle(&shop).await;
    let said = shop.sim.sim.robot_messages();
    assert_eq!(said.len(), 2, "{said:?}");
    let content = said[1]["markdown"]["content"].as_str().unwrap();
    assert!(content.contains("优惠券核销率") && content.contains("0.0%") && content.contains("65%"), "{content}");
    let open = shop.admin("GET", "/admin/targets", None).await;
    let metrics: Vec<&str> =
        open.body["items"].as_array().unwrap().iter().filter_map(|a| a["metric"].as_str()).collect();
    assert_eq!(metrics, ["points_redemption", "coupon_redemption"], "{}", open.body);
}

/// The keep rule drops an idle member a level once per stretch and says why; the next payment
/// gives it back with the level's upgrade coupon (once); the birthday coupon comes on the day,
/// once a year, and a birthday is set once.
async fn idle_members_drop_a_level_and_perks_bring_coupons(b: Backend) {
    let shop = Shop::start(b).await;
    let up = coupon_template(&shop, "升级礼", json!({"kind": "no_threshold", "amount_off": 500}), 100, 1).await;
    let bday = coupon_template(&shop, "生日礼", json!({"kind": "no_threshold", "amount_off": 800}), 100, 1).await;
    let ladder = json!({"levels": [
        {"name": "普通", "min_growth": 0},
        {"name": "白银", "min_growth": 100, "perks": {"upgrade_coupon": up, "birthday_coupon": bday}},
    ]});
    assert_eq!(shop.admin("PUT", "/admin/members/levels", Some(ladder)).await.status, 200, "ladder");
    let rules = shop
        .admin("PUT", "/admin/members/rules", Some(json!({"keep": {"inactive_days": 365, "drop_levels": 1}})))
        .await;
    assert_eq!(rules.status, 200, "{}", rules.body);
    let bad =
        shop.admin("PUT", "/admin/members/rules", Some(json!({"keep": {"inactive_days": 1, "drop_levels": 1}}))).await;
    assert_eq!((bad.status, bad.code()), (400, "INVALID_INPUT"));
    let token = shop.login("idle").await;
    let openid: OpenId = e2e::id(&shop.sim.sim.openid_for("idle"));
    let now = domain::clock::now();
    let seed = domain::member::LedgerEntry {
        source: source("grant-seed-0001"),
        growth: 150,
        points: 0,
        frozen: 0,
        at: now - 400 * 86_400,
        note: "seed".into(),
    };
    let last_paid = domain::member::Also { paid_at: Some(now - 400 * 86_400), ..Default::default() };
    let none = domain::member::PointsFlow::default();
    assert!(
        store::repo::members::apply(shop.app.store.as_ref(), &openid, &seed, none, last_paid, vec![]).await.unwrap()
    );
    assert_eq!(member(&shop, &token).await["level"]["name"], json!("白银"));
    assert_eq!(daily_report(&shop).await["demoted"], json!(1));
    let m = member(&shop, &token).await;
    assert_eq!((m["level"]["name"].clone(), m["demoted"].clone()), (json!("普通"), json!(1)));
    let ledger = shop.call("GET", "/me/ledger", Some(&token), None).await.body;
    assert!(ledger.to_string().contains("保级未达成"), "the drop is recorded with its reason: {ledger}");
    assert_eq!(daily_report(&shop).await["demoted"], json!(0), "once per stretch");
    // A birthday, set once.
    let today = domain::clock::business_day(now).unwrap();
    let mmdd = format!("{:02}-{:02}", u8::from(today.month()), today.day());
    let set = shop.call("PUT", "/me/member/birthday", Some(&token), Some(json!({"birthday": mmdd}))).await;
    assert_eq!((set.status, set.body["birthday"].clone()), (200, json!(mmdd)), "{}", set.body);
    let moved = shop.call("PUT", "/me/member/birthday", Some(&token), Some(json!({"birthday": "01-01"}))).await;
    assert_eq!((moved.status, moved.code()), (409, "CONFLICT"));
    let other = shop.login("no-such-day").await;
    let nonsense = shop.call("PUT", "/me/member/birthday", Some(&other), Some(json!({"birthday": "02-30"}))).await;
    assert_eq!((nonsense.status, nonsense.code()), (400, "INVALID_INPUT"));
    assert_eq!(daily_report(&shop).await["birthday_coupons"], json!(0), "普通 has no birthday coupon");
    // A payment: the level is back, with its upgrade coupon.
    let (_, sku) = product_with_stock(&shop, 10_000, &[("SH01", 10)]).await;
    let o = place(&shop, &token, json!([{"sku_id": sku, "quantity": 1}])).await;
    pay_and_wait(&shop, &token, o.body["order_no"].as_str().unwrap()).await;
    let m = wait_growth(&shop, &token, 350).await;
    assert_eq!((m["level"]["name"].clone(), m["demoted"].clone()), (json!("白银"), json!(0)));
    outbox_idle(&shop).await;
    assert_eq!(daily_report(&shop).await["birthday_coupons"], json!(1));
    assert_eq!(daily_report(&shop).await["birthday_coupons"], json!(0), "once a year");
    // The level-up's consumer runs again: the upgrade coupon stays one.
    let again = domain::events::Event::LevelUp {
        openid: openid.clone(),
        level: "白银".into(),
        source: source("grant-replay-01"),
    };
    app::consumers::consume(&shop.app, &again).await.unwrap();
    let coupons = shop.call("GET", "/me/coupons", Some(&token), None).await.body;
    let of = |t: &str| coupons["items"].as_array().unwrap().iter().filter(|c| c["template_id"] == json!(t)).count();
    assert_eq!((of(&up), of(&bday)), (1, 1), "{coupons}");
}

const EXPIRY: &str = "TPLpointsExpiry0000000000001";
/// 2025-01-15 12:00 and 2025-03-15 12:00 in Shanghai.
const JAN_2025: i64 = 1_736_913_600;
const MAR_2025: i64 = 1_742_011_200;
/// 2026-01-27 12:00 and 2026-02-01 10:00 in Shanghai.
const LATE_JAN_2026: i64 = 1_769_486_400;
const FEB_2026: i64 = 1_769_911_200;

/// Points earned in January 2025 expire when January 2026 ends, first in first out; a week
/// before, the member who allowed it is reminded through WeChat, once; one who did not is not.
async fn points_expire_after_twelve_months_with_a_reminder(b: Backend) {
    let shop = Shop::start_tuned(b, |s| s.rules.subscribe_points_expiry = Some(EXPIRY.into())).await;
    shop.sim.sim.add_subscribe_template(
        EXPIRY,
        "积分过期提醒",
        "即将过期积分:{{number1.DATA}}\n过期日期:{{date2.DATA}}",
    );
    let store = shop.app.store.clone();
    let told = shop.login("reminded").await;
    let told_id: OpenId = e2e::id(&shop.sim.sim.openid_for("reminded"));
    shop.sim.sim.grant_subscription(&told_id, EXPIRY);
    let r = shop.call("POST", "/me/subscriptions", Some(&told), Some(json!({EXPIRY: "accept"}))).await;
    assert_eq!(r.status, 200);
    shop.login("silent").await;
    let silent_id: OpenId = e2e::id(&shop.sim.sim.openid_for("silent"));
    let entry = |from: &str, points: i64, at: i64| domain::member::LedgerEntry {
        source: source(from),
        growth: 0,
        points,
        frozen: 0,
        at,
        note: from.into(),
    };
    let earned = domain::member::PointsFlow { earned: 300, ..Default::default() };
    let spent = domain::member::PointsFlow { spent: 100, ..Default::default() };
    for id in [&told_id, &silent_id] {
        let e = entry("grant-seed-checkin", 300, JAN_2025);
        assert!(
            store::repo::members::apply(store.as_ref(), id, &e, earned, domain::member::Also::default(), vec![])
                .await
                .unwrap()
        );
    }
    let e = entry("spend-seed-spend", -100, MAR_2025);
    assert!(
        store::repo::members::apply(store.as_ref(), &told_id, &e, spent, domain::member::Also::default(), vec![])
            .await
            .unwrap()
    );
    let run = |at: i64| {
        let shop = &shop;
        async move { app::workflows::members_daily::run(&shop.app, at).await.unwrap()["report"].clone() }
    };
    let r = run(LATE_JAN_2026).await;
    assert_eq!((r["reminders_queued"].clone(), r["points_expired"].clone()), (json!(2), json!(0)), "{r}");
    outbox_idle(&shop).await;
    let sent = shop.sim.sim.subscribe_messages();
    assert_eq!(sent.len(), 1, "no permission, no message: {sent:?}");
    assert_eq!(sent[0]["touser"], json!(told_id));
    // 100 of January's 300 were spent: 200 run out.
    assert_eq!(
        (sent[0]["data"]["number1"]["value"].clone(), sent[0]["data"]["date2"]["value"].clone()),
        (json!("200"), json!("2026-01-31"))
    );
    assert_eq!(run(LATE_JAN_2026).await["reminders_queued"], json!(0), "reminded once");
    let r = run(FEB_2026).await;
    assert_eq!(r["points_expired"], json!(500), "{r}");
    assert_eq!(run(FEB_2026).await["points_expired"], json!(0), "expired once");
    for id in [&told_id, &silent_id] {
        assert_eq!(store::repo::members::get(store.as_ref(), id).await.unwrap().points_available, 0);
        flows_explain_the_balance(&shop, id).await;
    }
    let ledger = store::repo::members::ledger(store.as_ref(), &told_id, 10).await.unwrap();
    assert!(ledger.iter().any(|e| e.source == source("expire-2025-01") && e.points == -200), "{ledger:?}");
    assert_eq!(shop.sim.sim.subscribe_messages().len(), 1);
}

on_both_stores!(
    refunds_take_back_what_the_goods_earned,
    member_price_points_and_freight_in_one_order,
    operators_grant_points_and_watch_the_redemption_rate,
    idle_members_drop_a_level_and_perks_bring_coupons,
    points_expire_after_twelve_months_with_a_reminder,
    growth_and_levels_follow_money,
    check_ins_count_shanghai_days_once,
    a_level_up_is_told_only_with_permission,
    points_are_earned_frozen_spent_and_returned,
    parallel_spends_never_overdraw,
    rfm_segments_for_a_known_population,
);

/// A ledger source from its stored name.
fn source(name: &str) -> domain::member::LedgerSource {
    name.parse().unwrap_or_else(|e| panic!("ledger source {name}: {e}"))
}
