//! Operator accounts on both stores: the bootstrap token makes the first finance account and
//! nothing else, roles bound what each account may do, refunds above the thresholds need
//! finance and then two people, and every operator action lands in the audit trail.

use e2e::shop::*;
use e2e::{ADMIN_TOKEN, Backend, Shop, on_both_stores};
use serde_json::{Value, json};

fn account(id: &str, role: &str) -> Value {
    json!({"id": id, "name": id, "role": role})
}

/// The bootstrap token makes one finance account, once (even when two try at the same
/// time), and is refused everywhere else.
async fn bootstrap_token_makes_only_the_first_finance_account(b: Backend) {
    let fresh = e2e::settings("http://127.0.0.1:9", false).service(e2e::store(b).await).unwrap();
    let parse = |v: Value| serde_json::from_value::<app::operators::NewAccount>(v).unwrap();
    let not_finance = app::operators::bootstrap(&fresh, parse(account("ops-1", "operator"))).await;
    assert_eq!(not_finance.unwrap_err().code.as_str(), "INVALID_INPUT", "the first must be finance");
    let (a, c) = tokio::join!(
        app::operators::bootstrap(&fresh, parse(account("first-a", "finance"))),
        app::operators::bootstrap(&fresh, parse(account("first-b", "finance"))),
    );
    assert_eq!(a.is_ok() as u8 + c.is_ok() as u8, 1, "exactly one first account: {a:?} {c:?}");
    let loser = if a.is_ok() { c } else { a };
    assert_eq!(loser.unwrap_err().code.as_str(), "ALREADY_BOOTSTRAPPED");
    assert_eq!(app::operators::list(&fresh).await.unwrap().len(), 1);
    // A function holding no bootstrap token (every one but `admin` on AWS) matches no token,
    // not even an empty one.
    let mut settings = e2e::settings("http://127.0.0.1:9", false);
    settings.admin_token = String::new();
    let without = settings.service(e2e::store(b).await).unwrap();
    assert!(!hosting::auth::is_bootstrap(&without, "") && !hosting::auth::is_bootstrap(&without, ADMIN_TOKEN));

    // Over HTTP (the shop made its first account at start).
    let shop = Shop::start(b).await;
    let again = shop.call("POST", "/admin/operators", Some(ADMIN_TOKEN), Some(account("second", "finance"))).await;
    assert_eq!((again.status, again.code()), (409, "ALREADY_BOOTSTRAPPED"), "{}", again.body);
    for (m, path) in [("GET", "/admin/orders"), ("GET", "/admin/audit"), ("POST", "/admin/jobs/outbox")] {
        let a = shop.call(m, path, Some(ADMIN_TOKEN), None).await;
        assert_eq!((a.status, a.code()), (403, "BOOTSTRAP_ONLY"), "{m} {path}: {}", a.body);
    }
}

/// Tokens are kept as hashes, refused when altered or disabled, and never listed.
async fn operator_tokens_are_hashed_and_can_be_revoked(b: Backend) {
    let shop = Shop::start(b).await;
    let token = shop.operator("clerk", "operator").await;
    assert!(token.starts_with("op.clerk.") && token.len() == "op.clerk.".len() + 64, "{token}");
    let stored = store::repo::operators::get(shop.app.store.as_ref(), "clerk").await.unwrap().unwrap();
    let secret = token.rsplit('.').next().unwrap();
    assert!(!stored.token_sha256.contains(secret) && stored.token_sha256.len() == 64);
    let me = shop.call("GET", "/admin/me", Some(&token), None).await;
    assert_eq!((me.status, me.body["role"].clone()), (200, json!("operator")));
    let mut altered = token.clone();
    altered.pop();
    altered.push(if token.ends_with('0') { '1' } else { '0' });
    for (name, bad) in [
        ("operator token with one digit changed", altered.as_str()),
        ("operator token of an account that does not exist", "op.nobody.00"),
        ("operator token with no id", "op.."),
        ("operator token that is only the scheme word", "Bearer"),
        ("operator token without its secret", "op.clerk"),
    ] {
        let a = shop.call("GET", "/admin/me", Some(bad), None).await;
        assert_eq!((a.status, a.code()), (401, "UNAUTHORIZED"), "{name}");
    }
    let list = shop.admin("GET", "/admin/operators", None).await;
    assert_eq!(list.status, 200);
    let text = list.body.to_string();
    assert!(text.contains("clerk") && !text.contains("token") && !text.contains(&stored.token_sha256), "{text}");
    let dup = shop.call("POST", "/admin/operators", Some(&shop.finance_token), Some(account("clerk", "viewer"))).await;
    assert_eq!((dup.status, dup.code()), (409, "CONFLICT"));
    let bad_id =
        shop.call("POST", "/admin/operators", Some(&shop.finance_token), Some(account("Bad Id", "viewer"))).await;
    assert_eq!((bad_id.status, bad_id.code()), (400, "INVALID_INPUT"));
    let bad_role =
        shop.call("POST", "/admin/operators", Some(&shop.finance_token), Some(account("boss", "admin"))).await;
    assert_eq!((bad_role.status, bad_role.code()), (400, "INVALID_INPUT"));
    let by_clerk = shop.call("POST", "/admin/operators", Some(&token), Some(account("mate", "finance"))).await;
    assert_eq!((by_clerk.status, by_clerk.code()), (403, "FORBIDDEN"), "an operator makes no accounts");
    let own = shop.admin("POST", "/admin/operators/finance/disable", None).await;
    assert_eq!((own.status, own.code()), (403, "FORBIDDEN"), "nobody disables themselves");
    let off = shop.admin("POST", "/admin/operators/clerk/disable", None).await;
    assert_eq!((off.status, off.body["disabled"].clone()), (200, json!(true)));
    let after = shop.call("GET", "/admin/me", Some(&token), None).await;
    assert_eq!(after.status, 401, "a disabled token stops working at once");
}

/// What each role may do, route by route.
async fn roles_bound_what_each_operator_may_do(b: Backend) {
    let shop = Shop::start(b).await;
    let viewer = shop.operator("watcher", "viewer").await;
    let clerk = shop.operator("clerk", "operator").await;
    let product = json!({"title": "角色测试", "category": "test"});
    let day = "2026-11-30";
    // (who, method, path, body, status expected)
    let table = [
        ("viewer lists orders", &viewer, "GET", "/admin/orders".into(), None, 200),
        ("viewer reads the audit trail", &viewer, "GET", "/admin/audit".into(), None, 200),
        ("viewer lists refunds", &viewer, "GET", "/admin/refunds".into(), None, 200),
        ("viewer lists operators", &viewer, "GET", "/admin/operators".into(), None, 200),
        ("viewer may not edit the catalog", &viewer, "POST", "/admin/products".into(), Some(product.clone()), 403),
        ("viewer may not run jobs", &viewer, "POST", "/admin/jobs/close-unpaid".into(), None, 403),
        ("viewer may not make coupons", &viewer, "POST", "/admin/coupons".into(), Some(json!({})), 403),
        (
            "viewer may not make accounts",
            &viewer,
            "POST",
            "/admin/operators".into(),
            Some(account("x-1", "viewer")),
            403,
        ),
        ("operator edits the catalog", &clerk, "POST", "/admin/products".into(), Some(product.clone()), 201),
        ("operator runs jobs", &clerk, "POST", "/admin/jobs/outbox".into(), None, 200),
        ("operator may not reconcile", &clerk, "POST", format!("/admin/reconciliation/{day}"), None, 403),
        ("operator reads a report", &clerk, "GET", format!("/admin/reconciliation/{day}"), None, 404),
        ("operator may not disable accounts", &clerk, "POST", "/admin/operators/watcher/disable".into(), None, 403),
    ];
    for (name, who, m, path, body, status) in table {
        let a = shop.call(m, &path, Some(who), body).await;
        assert_eq!(a.status, status, "{name}: {}", a.body);
        if status == 403 {
            assert_eq!(a.code(), "FORBIDDEN", "{name}");
        }
    }
}

async fn ask(shop: &Shop, token: &str, order: &str, id: &str, amount: i64) -> e2e::Answer {
    let body = json!({"request_id": id, "amount_fen": amount});
    let a = shop.call("POST", &format!("/orders/{order}/refunds"), Some(token), Some(body)).await;
    assert_eq!(a.status, 202, "refund {id}: {}", a.body);
    a
}

async fn approve(shop: &Shop, order: &str, who: String, out_refund_no: String) -> e2e::Answer {
    shop.call("POST", &format!("/admin/refunds/{order}/{out_refund_no}/approve"), Some(&who), None).await
}

/// Refunds above the finance threshold need finance; above the second, two finance people;
/// each approval is in the audit trail with the state before and after.
async fn large_refunds_need_finance_then_two_people(b: Backend) {
    let shop = Shop::start_tuned(b, |s| {
        s.rules.refund_policy = domain::operator::RefundPolicy {
            finance_over: domain::Fen::new(1_000),
            two_person_over: domain::Fen::new(2_500),
            ..Default::default()
        }
    })
    .await;
    let clerk = shop.operator("clerk", "operator").await;
    let second = shop.operator("cfo", "finance").await;
    let (_, sku) = product_with_stock(&shop, 800, &[("SH01", 20)]).await;
    let token = shop.login("big-spender").await;
    let o = place(&shop, &token, json!([{"sku_id": sku, "quantity": 10}])).await;
    let order = o.body["order_no"].as_str().unwrap().to_owned();
    pay_and_wait(&shop, &token, &order).await;
    let ask = |id: &'static str, amount: i64| ask(&shop, &token, &order, id, amount);
    let approve = |who: String, r: &Value| approve(&shop, &order, who, r["out_refund_no"].as_str().unwrap().to_owned());
    // Small: the operator approves.
    let small = ask("small-0001", 1_000).await.body;
    let ok = approve(clerk.clone(), &small).await;
    assert_eq!((ok.status, ok.body["state"].clone()), (200, json!("processing")), "{}", ok.body);
    // Above the first threshold: the operator may not; finance may.
    let mid = ask("middle-0001", 1_001).await.body;
    let no = approve(clerk.clone(), &mid).await;
    assert_eq!((no.status, no.code()), (403, "FORBIDDEN"), "{}", no.body);
    let yes = approve(shop.finance_token.clone(), &mid).await;
    assert_eq!((yes.status, yes.body["state"].clone()), (200, json!("processing")));
    // Above the second: the first finance approval waits for another person.
    let big = ask("large-0001", 2_501).await.body;
    let first = approve(shop.finance_token.clone(), &big).await;
    assert_eq!((first.status, first.body["state"].clone()), (200, json!("requested")), "{}", first.body);
    assert_eq!(first.body["approvals"].as_array().unwrap().len(), 1);
    let twice = approve(shop.finance_token.clone(), &big).await;
    assert_eq!((twice.status, twice.code()), (403, "FORBIDDEN"), "the same person twice");
    let by_clerk = approve(clerk.clone(), &big).await;
    assert_eq!((by_clerk.status, by_clerk.code()), (403, "FORBIDDEN"), "an operator as second");
    let both = approve(second.clone(), &big).await;
    assert_eq!((both.status, both.body["state"].clone()), (200, json!("processing")), "{}", both.body);
    let done = wait_order(&shop, &order, |v| v["order"]["refunded"] == json!(1_000 + 1_001 + 2_501)).await;
    assert_eq!(done["refunds"].as_array().unwrap().len(), 3);
    // An operator starting a refund above their limit leaves it for finance.
    let started = shop
        .call(
            "POST",
            &format!("/admin/orders/{order}/refunds"),
            Some(&clerk),
            Some(json!({"request_id": "by-clerk-0001", "amount_fen": 1_100})),
        )
        .await;
    assert_eq!((started.status, started.body["state"].clone()), (202, json!("requested")), "{}", started.body);
    assert!(started.body["approvals"].as_array().unwrap().is_empty());
    // The trail: each approval with who, before and after; no openid anywhere.
    let trail = shop.admin("GET", "/admin/audit?limit=100", None).await;
    let items = trail.body["items"].as_array().unwrap();
    let approvals: Vec<&Value> = items.iter().filter(|e| e["action"] == "refund.approve").collect();
    assert_eq!(approvals.len(), 4, "{}", trail.body);
    let waiting =
        approvals.iter().find(|e| e["after"]["state"] == "requested").expect("the first approval of the large refund");
    assert_eq!((waiting["operator_id"].clone(), waiting["before"]["approvals"].clone()), (json!("finance"), json!([])));
    assert!(approvals.iter().any(|e| e["operator_id"] == "cfo" && e["after"]["state"] == "processing"));
    assert!(items.iter().any(|e| e["action"] == "refund.create" && e["operator_id"] == "clerk"));
    assert!(items.iter().any(|e| e["action"] == "operator.create" && e["target"] == "cfo"));
    assert!(!trail.body.to_string().contains("big-spender"), "no shopper identity in the trail");
    // Newest first.
    let at: Vec<i64> = items.iter().map(|e| e["at"].as_i64().unwrap()).collect();
    assert!(at.windows(2).all(|w| w[0] >= w[1]), "{at:?}");
}

/// Every operator write is on the trail before it changes anything (its attempt, with who and
/// what was asked) and after (its outcome), refused ones included; reads of lists are not;
/// an entry is never overwritten by the shop's own writes.
async fn operator_writes_are_audited_and_entries_append_only(b: Backend) {
    let shop = Shop::start(b).await;
    let clerk = shop.operator("clerk", "operator").await;
    let viewer = shop.operator("watcher", "viewer").await;
    let made =
        shop.call("POST", "/admin/products", Some(&clerk), Some(json!({"title": "审计", "category": "t"}))).await;
    assert_eq!(made.status, 201);
    let refused = shop.call("POST", "/admin/products", Some(&clerk), Some(json!({"title": ""}))).await;
    assert_eq!(refused.status, 400);
    let not_theirs = shop.call("POST", "/admin/products", Some(&viewer), Some(json!({"title": "看看"}))).await;
    assert_eq!(not_theirs.status, 403);
    shop.call("GET", "/admin/orders", Some(&clerk), None).await;
    let trail = shop.admin("GET", "/admin/audit?limit=100", None).await.body;
    let items = trail["items"].as_array().unwrap();
    // Besides binding their WeChat identity when the account was made.
    let of = |who: &str| -> Vec<&Value> {
        let mut v: Vec<&Value> = items
            .iter()
            .filter(|e| e["operator_id"] == who && e["action"] != "operator.bind_identity")
            .filter(|e| !e["action"].as_str().unwrap().starts_with("POST /admin/me/identity"))
            .collect();
        v.reverse();
        v
    };
    let by_clerk = of("clerk");
    let phases: Vec<(&str, Value)> =
        by_clerk.iter().map(|e| (e["after"]["phase"].as_str().unwrap(), e["after"]["status"].clone())).collect();
    assert_eq!(
        phases,
        [("attempt", Value::Null), ("outcome", json!(201)), ("attempt", Value::Null), ("outcome", json!(400))],
        "two writes, each attempt then outcome; no read: {trail}"
    );
    assert!(by_clerk.iter().all(|e| e["action"] == "POST /admin/products" && e["role"] == "operator"));
    assert_eq!(by_clerk[0]["after"]["input"]["title"], json!("审计"));
    assert_eq!(by_clerk[1]["after"]["attempt"], by_clerk[0]["seq"], "an outcome names its attempt");
    let by_viewer = of("watcher");
    assert_eq!(by_viewer.len(), 2, "a refused try is on the trail: {trail}");
    assert_eq!(
        (by_viewer[1]["after"]["status"].clone(), by_viewer[0]["after"]["input"]["title"].clone()),
        (json!(403), json!("看看"))
    );
    // A wx.login code sent to bind an identity is a credential: not kept.
    assert!(!trail.to_string().contains("clerk.") && !trail.to_string().contains("watcher."), "{trail}");
    // The store refuses a second write under an entry's key.
    let entry: app::audit::Entry = serde_json::from_value(by_clerk[0].clone()).unwrap();
    let again = store::repo::operators::audit(entry.at, &entry.id, &entry).unwrap();
    assert!(shop.app.store.transact(vec![again]).await.is_err(), "an audit entry is never overwritten");
    let verified = shop.admin("GET", "/admin/audit/verify", None).await;
    assert_eq!(verified.status, 200, "{}", verified.body);
    assert_eq!(
        (verified.body["intact"].clone(), verified.body["attempts_without_outcome"].clone()),
        (json!(true), json!([])),
        "{}",
        verified.body
    );
    assert_eq!(verified.body["head_seq"], verified.body["entries"]);
    assert!(verified.body["entries"].as_u64().unwrap() >= 8);
    let by_clerk = shop.call("GET", "/admin/audit/verify", Some(&clerk), None).await;
    assert_eq!(by_clerk.status, 403, "verifying is finance's");
}

/// Operators writing at the same moment append one entry after another: every write is on
/// the trail, each sequence number once, the chain intact.
async fn concurrent_operator_writes_chain_in_order(b: Backend) {
    let shop = Shop::start(b).await;
    let clerk = shop.operator("clerk", "operator").await;
    let writes = (0..8).map(|i| {
        let body = json!({"title": format!("并发{i}"), "category": "t"});
        shop.call("POST", "/admin/products", Some(&clerk), Some(body))
    });
    let answers = futures_util::future::join_all(writes).await;
    assert!(answers.iter().all(|a| a.status == 201), "{:?}", answers.iter().map(|a| a.status).collect::<Vec<_>>());
    let all: Vec<app::audit::Entry> = store::repo::operators::audit_all(shop.app.store.as_ref()).await.unwrap();
    let mut seqs: Vec<u64> = all.iter().map(|e| e.seq).collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=all.len() as u64).collect::<Vec<_>>(), "each number once, none missing");
    let products = all.iter().filter(|e| e.action == "POST /admin/products").count();
    assert_eq!(products, 16, "eight attempts and eight outcomes");
    let verified = shop.admin("GET", "/admin/audit/verify", None).await.body;
    assert_eq!(
        (verified["intact"].clone(), verified["attempts_without_outcome"].clone()),
        (json!(true), json!([])),
        "{verified}"
    );
}

/// Whoever can write the table directly (a compromised function, an insider with the keys)
/// and edits, removes or rewrites an entry is found by the verify walk.
async fn a_rewritten_or_removed_audit_entry_is_found(b: Backend) {
    use store::TxOp;
    let shop = Shop::start(b).await;
    let clerk = shop.operator("clerk", "operator").await;
    for title in ["一", "二", "三"] {
        let made =
            shop.call("POST", "/admin/products", Some(&clerk), Some(json!({"title": title, "category": "t"}))).await;
        assert_eq!(made.status, 201);
    }
    let verify = || async { shop.admin("GET", "/admin/audit/verify", None).await.body };
    let clean = verify().await;
    assert_eq!(clean["intact"], json!(true));
    let noted = format!("/admin/audit/verify?seq={}&hash={}", clean["head_seq"], clean["head_hash"].as_str().unwrap());
    let all: Vec<app::audit::Entry> = store::repo::operators::audit_all(shop.app.store.as_ref()).await.unwrap();
    let seq_of = |title: &str| {
        all.iter().find(|e| e.after.as_ref().is_some_and(|a| a["input"]["title"] == title)).unwrap().clone()
    };
    // Put over an entry, bypassing the shop's condition: the amount asked is changed.
    let unconditional = |e: &app::audit::Entry| match store::repo::operators::audit(e.at, &e.id, e).unwrap() {
        TxOp::Put { item, .. } => TxOp::Put { item, cond: None },
        other => other,
    };
    let mut edited = seq_of("一");
    edited.after = Some(json!({"phase": "attempt", "input": {"title": "改"}}));
    shop.app.store.transact(vec![unconditional(&edited)]).await.unwrap();
    let found = verify().await;
    assert_eq!(found["intact"], json!(false));
    assert!(found["problems"].to_string().contains(&format!("entry {} was changed", edited.seq)), "{found}");
    // Its hash computed again: the next entry no longer follows it.
    edited.hash = edited.digest();
    shop.app.store.transact(vec![unconditional(&edited)]).await.unwrap();
    let found = verify().await;
    assert!(found["problems"].to_string().contains(&format!("entry {} does not follow", edited.seq + 1)), "{found}");
    // The whole chain from there on rewritten with fresh hashes, head included: consistent,
    // but no longer the head noted earlier.
    let mut chain: Vec<app::audit::Entry> = store::repo::operators::audit_all(shop.app.store.as_ref()).await.unwrap();
    chain.sort_by_key(|e| e.seq);
    let mut writes = Vec::new();
    let mut prev = String::new();
    for e in chain.iter_mut() {
        e.prev = prev.clone();
        e.hash = e.digest();
        prev = e.hash.clone();
        writes.push(unconditional(e));
    }
    let last = chain.last().unwrap();
    let head = store::repo::operators::audit_chained(None, last.seq, &last.hash, last.at, &last.id, last).unwrap();
    let TxOp::Put { item, .. } = head.into_iter().next().unwrap() else { panic!("the head is a put") };
    writes.push(TxOp::Put { item, cond: None });
    for w in writes {
        shop.app.store.transact(vec![w]).await.unwrap();
    }
    assert_eq!(verify().await["intact"], json!(true), "a rewritten chain is consistent in itself");
    let found = shop.admin("GET", &noted, None).await.body;
    assert_eq!(found["intact"], json!(false), "{found}");
    assert!(found["problems"].to_string().contains("was rewritten"), "{found}");
    // Removed: a gap.
    let gone = seq_of("二");
    let key = store::repo::operators::audit(gone.at, &gone.id, &gone).unwrap().key().unwrap();
    shop.app.store.transact(vec![TxOp::Delete { key, cond: None }]).await.unwrap();
    let found = verify().await;
    assert!(
        found["problems"].to_string().contains(&format!("entries {} to {} are missing", gone.seq, gone.seq)),
        "{found}"
    );
    // An attempt whose process stopped before its outcome is listed.
    let by = app::operators::authenticate(&shop.app, &clerk).await.unwrap();
    let seq = app::audit::append(
        &shop.app,
        &by,
        "POST /admin/products",
        "/admin/products",
        Some(json!({"phase": "attempt"})),
    )
    .await
    .unwrap();
    let found = verify().await;
    assert_eq!(found["attempts_without_outcome"], json!([format!("{seq} POST /admin/products by clerk")]), "{found}");
}

/// A viewer reads an order's address masked; whoever reads it in full is on the trail first,
/// as is a members export.
async fn personal_data_reads_are_audited_and_masked_for_viewers(b: Backend) {
    let shop = Shop::start(b).await;
    let viewer = shop.operator("watcher", "viewer").await;
    let clerk = shop.operator("clerk", "operator").await;
    let (_, sku) = product_with_stock(&shop, 500, &[("SH01", 5)]).await;
    let token = shop.login("reader-shopper").await;
    let o = place(&shop, &token, json!([{"sku_id": sku, "quantity": 1}])).await;
    let no = o.body["order_no"].as_str().unwrap().to_owned();
    let full = shop.call("GET", &format!("/admin/orders/{no}"), Some(&clerk), None).await;
    let phone = full.body["order"]["address"]["phone"].as_str().unwrap().to_owned();
    assert!(phone.len() >= 11 && !phone.contains('*'), "{}", full.body);
    let masked = shop.call("GET", &format!("/admin/orders/{no}"), Some(&viewer), None).await;
    assert_eq!(masked.status, 200);
    let seen = masked.body["order"]["address"].to_string();
    assert!(!seen.contains(&phone) && seen.contains('*'), "a viewer sees {seen}");
    assert_eq!(masked.body["order"]["address"]["detail"], json!("***"));
    let export = shop
        .http
        .get(format!("{}/admin/members/segments/important_value/export", shop.base))
        .bearer_auth(&viewer)
        .send()
        .await
        .unwrap();
    assert_eq!(export.status(), 200);
    let trail = shop.admin("GET", "/admin/audit?limit=100", None).await.body;
    let reads: Vec<(Value, Value, Value)> = trail["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"].as_str().unwrap().starts_with("read "))
        .map(|e| (e["operator_id"].clone(), e["action"].clone(), e["target"].clone()))
        .collect();
    assert_eq!(
        reads,
        [
            (json!("watcher"), json!("read members export"), json!("important_value")),
            (json!("clerk"), json!("read order"), json!(no)),
        ],
        "{trail}"
    );
}

/// A shop not started with MOVABLE_CLOCK=1 (every deployed one) keeps the wall clock: an
/// operator's request to move it is refused and moves nothing.
async fn the_clock_stays_put_unless_the_shop_lets_it_move(b: Backend) {
    let shop = Shop::start(b).await;
    let before = shop.admin("GET", "/admin/clock", None).await;
    assert_eq!((before.status, before.body["movable"].clone()), (200, json!(false)), "{}", before.body);
    let moved = shop.admin("POST", "/admin/clock", Some(json!({"advance_days": 16}))).await;
    assert_eq!((moved.status, moved.code()), (403, "FORBIDDEN"), "{}", moved.body);
    let after = shop.admin("GET", "/admin/clock", None).await;
    assert_eq!(after.body["moved_by_secs"], json!(0));
    assert!((after.body["now"].as_i64().unwrap() - domain::clock::wall()).abs() <= 2);
    let viewer = shop.operator("clock-viewer", "viewer").await;
    let refused = shop.call("POST", "/admin/clock", Some(&viewer), Some(json!({"advance_days": 1}))).await;
    assert_eq!(refused.status, 403);
}

on_both_stores!(
    the_clock_stays_put_unless_the_shop_lets_it_move,
    bootstrap_token_makes_only_the_first_finance_account,
    operator_tokens_are_hashed_and_can_be_revoked,
    roles_bound_what_each_operator_may_do,
    large_refunds_need_finance_then_two_people,
    operator_writes_are_audited_and_entries_append_only,
    a_rewritten_or_removed_audit_entry_is_found,
    concurrent_operator_writes_chain_in_order,
    personal_data_reads_are_audited_and_masked_for_viewers,
);
